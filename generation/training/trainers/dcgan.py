"""DCGAN trainer and sampler (loss "gan" or "wgan-gp", d_steps_per_g critic steps per generator step)."""

from __future__ import annotations

from pathlib import Path

import torch

from generation.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from generation.training.options import TrainOptions
from generation.training.sampling import Sampler, seed_generator
from generation.training.trainers.adversarial import critic_update, generator_update
from generation.training.trainers.base import BaseTrainer, BatchStream, adam, build_net as _build, image_tensor

NET_CLASSES = {"DCGANGenerator": DCGANGenerator, "DCGANDiscriminator": DCGANDiscriminator}


def build_net(spec: dict):
    """Rebuild a DCGAN net from its checkpoint spec."""
    return _build(spec, NET_CLASSES)


class DCGANTrainer(BaseTrainer):
    """Generator and discriminator of the DCGAN-family study, trained on an image folder."""

    family = "dcgan"

    def __init__(self, options: TrainOptions, dataset_root: Path, device: torch.device):
        super().__init__(options, dataset_root, device)
        o = options
        g_kwargs = {"size": o.size, "z_dim": o.arch["z_dim"], "width": o.arch["width"]}
        # WGAN-GP's penalty is per sample, which BatchNorm in the critic would break.
        norm = "batch" if o.loss == "gan" else o.family_options["critic_norm"]
        d_kwargs = {"size": o.size, "width": o.arch["width"], "norm": norm}
        self.g = self.add_net("generator", DCGANGenerator(**g_kwargs), g_kwargs)
        self.d = self.add_net("discriminator", DCGANDiscriminator(**d_kwargs), d_kwargs)
        self.optimizers = {
            "generator": adam(self.g, o.lr_g, o.betas_g),
            "discriminator": adam(self.d, o.lr_d, o.betas_d),
        }
        self.streams = {"real": BatchStream(image_tensor(dataset_root, o.size), o.batch_size, o.seed, device)}
        self.images_per_step = o.batch_size * o.d_steps_per_g

    def latents(self, count: int) -> torch.Tensor:
        # Drawn on the CPU so a run's noise is the same whichever device trains it.
        return torch.randn(count, self.g.z_dim).to(self.device)

    def train_step(self) -> dict:
        o, b = self.options, self.options.batch_size
        for _ in range(o.d_steps_per_g):
            real = self.streams["real"].next()
            with torch.no_grad(), self.autocast():
                fake = self.g(self.latents(b))
            terms = critic_update(o, self.d, self.optimizers["discriminator"], real, fake.float(), self.autocast)
        with self.autocast():
            fake = self.g(self.latents(b))
        g_loss = generator_update(o, self.d, self.optimizers["generator"], fake, autocast=self.autocast)
        return {**terms, "g_loss": g_loss}

    def sampler(self):
        info = {"iteration": self.iteration}
        return DCGANSampler(self.nets, self.options, info=info, state={}, device=self.device)


class DCGANSampler(Sampler):
    """z ~ N(0, I) from the seed's own generator -> DCGAN generator."""

    family = "dcgan"
    nets_used = ("generator",)

    def generate(self, seed: int) -> torch.Tensor:
        g = self.nets["generator"]
        z = torch.randn(1, g.z_dim, generator=seed_generator(seed)).to(self.device)  # (1, z_dim)
        return g(z)  # (1, 3, size, size)


TRAINER, SAMPLER = DCGANTrainer, DCGANSampler
