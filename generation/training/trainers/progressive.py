"""Progressive (PGGAN-style) trainer: grows 4×4 -> target with fade-ins, faded reals, per-stage Adam, EMA G."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F

from generation.nets.progressive import (
    ProgressiveDiscriminator, ProgressiveGenerator, fade_reals, num_stages, stage_size,
)
from generation.training.options import TrainOptions
from generation.training.sampling import Sampler, seed_generator
from generation.training.trainers.adversarial import critic_update, generator_update
from generation.training.trainers.base import BaseTrainer, BatchStream, adam, build_net as _build, image_tensor

NET_CLASSES = {"ProgressiveGenerator": ProgressiveGenerator, "ProgressiveDiscriminator": ProgressiveDiscriminator}


def build_net(spec: dict):
    """Rebuild a progressive net from its checkpoint spec."""
    return _build(spec, NET_CLASSES)


def schedule(iteration: int, target_size: int, fade_iters: int, stable_iters: int) -> tuple[int, float]:
    """(stage, alpha) at ``iteration``: stage 0 stable, then per stage a linear 0->1 fade and a stable phase."""
    remaining = iteration - stable_iters
    if remaining < 0:
        return 0, 1.0
    for stage in range(1, num_stages(target_size)):
        if remaining < fade_iters:
            return stage, remaining / fade_iters
        remaining -= fade_iters + stable_iters
        if remaining < 0:
            return stage, 1.0
    return num_stages(target_size) - 1, 1.0


def ema_decay(iteration: int, decay: float) -> float:
    """EMA decay ramped up from 0 so the average is not dominated by the random initial weights."""
    return min(decay, (1 + iteration) / (10 + iteration))


class ProgressiveTrainer(BaseTrainer):
    """Generator and critic grown one resolution at a time; samples come from an EMA of the generator."""

    family = "progressive"

    def __init__(self, options: TrainOptions, dataset_root: Path, device: torch.device):
        super().__init__(options, dataset_root, device)
        o, arch = options, options.arch
        g_kwargs = {"target_size": o.size, "z_dim": arch["z_dim"], "channels": arch["channels"],
                    "max_channels": arch["max_channels"]}
        d_kwargs = {"target_size": o.size, "channels": arch["channels"], "max_channels": arch["max_channels"]}
        self.g = self.add_net("generator", ProgressiveGenerator(**g_kwargs), g_kwargs)
        self.d = self.add_net("discriminator", ProgressiveDiscriminator(**d_kwargs), d_kwargs)
        self.g_ema = self.add_net("generator_ema", copy.deepcopy(self.g), g_kwargs).requires_grad_(False)
        self.optim_stage = 0
        self._reset_optimizers()
        self.streams = {"real": BatchStream(image_tensor(dataset_root, o.size), o.batch_size, o.seed, device)}
        self.images_per_step = o.batch_size * o.d_steps_per_g

    def _reset_optimizers(self) -> None:
        # PGGAN resets Adam's moments at each new resolution: old statistics do not fit the new layers.
        o = self.options
        self.optimizers = {
            "generator": adam(self.g, o.lr_g, o.betas_g),
            "discriminator": adam(self.d, o.lr_d, o.betas_d),
        }

    def stage_alpha(self, iteration: int | None = None) -> tuple[int, float]:
        fo = self.options.family_options
        it = self.iteration if iteration is None else iteration
        return schedule(it, self.options.size, fo["fade_iters"], fo["stable_iters"])

    def real_batch(self, stage: int, alpha: float) -> torch.Tensor:
        """Reals at the stage's resolution, blended like the generator's output during a fade."""
        real = self.streams["real"].next()
        factor = self.options.size // stage_size(stage)
        if factor > 1:
            real = F.avg_pool2d(real, factor)  # (b, 3, r, r)
        return fade_reals(real, stage, alpha)

    def latents(self, count: int) -> torch.Tensor:
        return torch.randn(count, self.g.z_dim).to(self.device)

    def train_step(self) -> dict:
        o, b = self.options, self.options.batch_size
        stage, alpha = self.stage_alpha()
        if stage != self.optim_stage:
            self.optim_stage = stage
            self._reset_optimizers()
        kwargs = {"stage": stage, "alpha": alpha}
        drift = o.family_options["drift"] if o.loss == "wgan-gp" else 0.0
        for _ in range(o.d_steps_per_g):
            real = self.real_batch(stage, alpha)
            with torch.no_grad(), self.autocast():
                fake = self.g(self.latents(b), **kwargs)
            terms = critic_update(o, self.d, self.optimizers["discriminator"], real, fake.float(), self.autocast,
                                  critic_kwargs=kwargs, drift=drift)
        with self.autocast():
            fake = self.g(self.latents(b), **kwargs)
        g_loss = generator_update(o, self.d, self.optimizers["generator"], fake, critic_kwargs=kwargs,
                                  autocast=self.autocast)
        self._update_ema()
        return {**terms, "g_loss": g_loss, "stage": stage, "alpha": alpha}

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = ema_decay(self.iteration, self.options.family_options["ema_decay"])
        for ema, live in zip(self.g_ema.parameters(), self.g.parameters()):
            ema.lerp_(live, 1 - decay)

    def extra_state(self) -> dict:
        stage, alpha = self.stage_alpha()
        return {"optim_stage": self.optim_stage, "stage": stage, "alpha": alpha}

    def load_extra_state(self, state: dict) -> None:
        self.optim_stage = int(state["optim_stage"])
        self._reset_optimizers()

    def sampler(self):
        stage, alpha = self.stage_alpha()
        info = {"iteration": self.iteration}
        return ProgressiveSampler(self.nets, self.options, info=info, state={"stage": stage, "alpha": alpha},
                                  device=self.device)


class ProgressiveSampler(Sampler):
    """z from the seed -> EMA generator at the checkpoint's stage/alpha, nearest-upsampled to the target size."""

    family = "progressive"
    nets_used = ("generator_ema",)  # samples come from the EMA generator alone

    def generate(self, seed: int) -> torch.Tensor:
        g = self.nets["generator_ema"] if "generator_ema" in self.nets else self.nets["generator"]
        stage, alpha = int(self.state.get("stage", g.num_stages - 1)), float(self.state.get("alpha", 1.0))
        z = torch.randn(1, g.z_dim, generator=seed_generator(seed)).to(self.device)  # (1, z_dim)
        image = g(z, stage, alpha)  # (1, 3, r, r), linear output: clamped when converted to uint8
        if image.shape[-1] != self.size:
            image = F.interpolate(image, size=(self.size, self.size), mode="nearest")
        return image


TRAINER, SAMPLER = ProgressiveTrainer, ProgressiveSampler
