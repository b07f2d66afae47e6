"""SimGAN trainer and sampler: refine synthetic images until a local discriminator takes them for real.

The run's iterations include the two pretraining phases of the paper, so every step stays short (progress,
cancel and checkpoints work during pretraining too): first ``pretrain_refiner_steps`` refiner steps on the
self-regularisation L1 alone, then ``pretrain_d_steps`` discriminator steps, then adversarial steps
(local adversarial loss + reg_lambda · L1, discriminator batches half from the history buffer).
``images_seen`` counts images drawn from the training data, synthetic and real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from generation.nets.losses import discriminator_loss, generator_loss, gradient_penalty
from generation.nets.simgan import (
    REAL, REFINED, HistoryBuffer, LocalDiscriminator, Refiner, local_adversarial_loss, self_regularisation,
)
from generation.training.options import TrainOptions
from generation.training.sampling import Sampler, seed_generator
from generation.training.trainers.base import BaseTrainer, BatchStream, adam, build_net as _build, set_requires_grad

NET_CLASSES = {"Refiner": Refiner, "LocalDiscriminator": LocalDiscriminator}
# With the bundled digits, the sampler draws each synthetic digit from the simulator by its seed.
BUNDLED_DIGITS = "bundled:digits"


def build_net(spec: dict):
    """Rebuild a SimGAN net from its checkpoint spec."""
    return _build(spec, NET_CLASSES)


def unpaired(options: TrainOptions, dataset_root: Path):
    """The synthetic and real image folders under ``dataset_root`` (synthetic/ and real/)."""
    from generation.datasets.unpaired import Unpaired

    return Unpaired.from_root(dataset_root, options.size, options.family_options["channels"])


def realism_scores(logits_map: torch.Tensor) -> torch.Tensor:
    """Per-patch critic scores for WGAN-GP: the logit margin of "real" over "refined", (b, h', w')."""
    return logits_map[:, REAL] - logits_map[:, REFINED]


def phase(iteration: int, refiner_steps: int, d_steps: int) -> str:
    """"refiner" (L1 pretraining), "discriminator" (D pretraining) or "adversarial" at ``iteration``."""
    if iteration < refiner_steps:
        return "refiner"
    return "discriminator" if iteration < refiner_steps + d_steps else "adversarial"


class SimGANTrainer(BaseTrainer):
    """Refiner and local discriminator trained on unpaired synthetic and real images."""

    family = "simgan"

    def __init__(self, options: TrainOptions, dataset_root: Path, device: torch.device):
        super().__init__(options, dataset_root, device)
        o, fo, arch = options, options.family_options, options.arch
        r_kwargs = {"channels": fo["channels"], "features": arch["features"], "blocks": arch["blocks"]}
        d_kwargs = {"channels": fo["channels"], "width": arch["d_width"]}
        self.refiner = self.add_net("refiner", Refiner(**r_kwargs), r_kwargs)
        self.d = self.add_net("discriminator", LocalDiscriminator(**d_kwargs), d_kwargs)
        self.optimizers = {
            "refiner": adam(self.refiner, o.lr_g, o.betas_g),
            "discriminator": adam(self.d, o.lr_d, o.betas_d),
        }
        data = unpaired(o, self.dataset_root)
        # Different stream seeds so synthetic and real batches are not drawn in the same order.
        self.streams = {
            "synthetic": BatchStream(data.synthetic.as_tensor(), o.batch_size, o.seed, device),
            "real": BatchStream(data.real.as_tensor(), o.batch_size, o.seed + 1, device),
        }
        self.history = HistoryBuffer(fo["history_size"], seed=o.seed)

    def phase(self) -> str:
        fo = self.options.family_options
        return phase(self.iteration, fo["pretrain_refiner_steps"], fo["pretrain_d_steps"])

    def train_step(self) -> dict:
        current = self.phase()
        if current == "refiner":
            self.images_per_step = self.options.batch_size
            return {"reg_loss": self.refiner_update(adversarial=False)["reg_loss"], "phase": 0}
        if current == "discriminator":
            self.images_per_step = 2 * self.options.batch_size
            return {**self.discriminator_update(), "phase": 1}
        terms = self.refiner_update(adversarial=True)
        for _ in range(self.options.d_steps_per_g):
            terms.update(self.discriminator_update())
        self.images_per_step = (1 + 2 * self.options.d_steps_per_g) * self.options.batch_size
        return {**terms, "phase": 2}

    def refiner_update(self, *, adversarial: bool) -> dict[str, torch.Tensor]:
        """One refiner step: self-regularisation L1, plus fooling the frozen discriminator when adversarial."""
        synthetic = self.streams["synthetic"].next()
        set_requires_grad(self.d, False)
        try:
            with self.autocast():
                refined = self.refiner(synthetic).float()
                reg = self_regularisation(refined, synthetic, self.options.family_options["reg_lambda"])
                adv = self.refiner_adversarial_loss(refined) if adversarial else torch.zeros(())
            self._apply(self.optimizers["refiner"], reg + adv)
        finally:
            set_requires_grad(self.d, True)
        return {"reg_loss": reg.detach(), "r_adv_loss": adv.detach()}

    def refiner_adversarial_loss(self, refined: torch.Tensor) -> torch.Tensor:
        logits = self.d(refined).float()
        if self.options.loss == "wgan-gp":
            return generator_loss("wgan-gp", realism_scores(logits))
        return local_adversarial_loss(logits, REAL)

    def discriminator_update(self) -> dict[str, torch.Tensor]:
        """One discriminator step: real patches vs refined ones, half of them from the history buffer."""
        with torch.no_grad(), self.autocast():
            refined = self.refiner(self.streams["synthetic"].next()).float()
        fake = self.history.push_and_sample(refined)
        real = self.streams["real"].next()
        with self.autocast():
            real_logits, fake_logits = self.d(real).float(), self.d(fake).float()
            if self.options.loss == "wgan-gp":
                loss = discriminator_loss("wgan-gp", realism_scores(real_logits), realism_scores(fake_logits))
            else:
                loss = local_adversarial_loss(real_logits, REAL) + local_adversarial_loss(fake_logits, REFINED)
        terms = {"d_loss": loss.detach()}
        if self.options.loss == "wgan-gp":
            gp = gradient_penalty(lambda x: realism_scores(self.d(x)), real, fake, weight=self.options.gp_lambda)
            terms["gp"] = gp.detach()
            loss = loss + gp
        self._apply(self.optimizers["discriminator"], loss)
        return terms

    @staticmethod
    def _apply(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def extra_state(self) -> dict:
        return {"history": self.history.state_dict(), "phase": self.phase()}

    def load_extra_state(self, state: dict) -> None:
        self.history.load_state_dict(state["history"])

    def sampler(self):
        synthetic = self.streams["synthetic"].data
        return SimGANSampler(self.nets, self.options, info={"iteration": self.iteration}, state={},
                             device=self.device, synthetic=synthetic)


class SimGANSampler(Sampler):
    """The seed drives the digit simulator (bundled digits) or picks a synthetic image; the refiner refines it."""

    family = "simgan"
    nets_used = ("refiner",)

    @classmethod
    def needs_dataset(cls, options) -> bool:
        return options.dataset != BUNDLED_DIGITS  # bundled digits come from the simulator itself

    def __init__(self, nets, options, *, synthetic: torch.Tensor | None = None, **kwargs):
        super().__init__(nets, options, **kwargs)
        self.refiner = nets["refiner"]
        self._synthetic = synthetic

    def synthetic(self, seed: int) -> torch.Tensor:
        """(1, c, size, size) synthetic input of ``seed``."""
        if self.options.dataset == BUNDLED_DIGITS:
            from generation.datasets.simulator import simulate_digit

            digit = torch.from_numpy(simulate_digit(seed).astype(np.float32) / 127.5 - 1)[None, None]  # (1, 1, 28, 28)
            if digit.shape[-1] != self.size:
                digit = F.interpolate(digit, size=(self.size, self.size), mode="bilinear", align_corners=False)
            return digit.expand(-1, self.refiner.channels, -1, -1)
        if self._synthetic is None:
            self._synthetic = unpaired(self.options, self.require_dataset()).synthetic.as_tensor()
        index = int(torch.randint(len(self._synthetic), (1,), generator=seed_generator(seed)))
        return self._synthetic[index : index + 1]

    def generate(self, seed: int) -> torch.Tensor:
        return self.refiner(self.synthetic(seed).to(self.device))  # (1, c, size, size)


TRAINER, SAMPLER = SimGANTrainer, SimGANSampler
