"""Sampling images from checkpoints: each image depends only on its own seed.

Why one seed per forward pass: CPU/GPU kernels may pick different algorithms (and summation orders) for
different batch sizes, so an image computed inside a batch can differ in the last float bits from the same
image computed alone; after rounding to uint8 that can flip a pixel. Running every seed as its own batch
of one makes "same seed -> same bytes, whatever else was asked for" hold by construction. The loop over
seeds is the internal batching; it costs little at these network sizes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from generation.training.checkpoints import load_checkpoint
from generation.training.images import from_uint8, to_uint8
from generation.training.options import TrainOptions


def seed_generator(seed: int) -> torch.Generator:
    """A CPU generator owned by one image: its draws cannot depend on any other image."""
    return torch.Generator().manual_seed(int(seed))


@contextlib.contextmanager
def eval_mode(nets):
    """Put nets in eval mode (BatchNorm running statistics) and restore their modes afterwards."""
    modes = [(net, net.training) for net in nets]
    for net, _ in modes:
        net.eval()
    try:
        yield
    finally:
        for net, mode in modes:
            net.train(mode)


def _check_seeds(seeds) -> list[int]:
    seeds = list(seeds)
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seeds must be non-negative integers, got {seed!r}")
    return [int(s) for s in seeds]


class Sampler:
    """Images from one family's trained nets; subclasses implement ``generate`` for one seed."""

    family = ""
    nets_used: tuple[str, ...] = ()  # the nets ``generate`` reads: all a sampling-only checkpoint keeps

    def __init__(
        self, nets: dict[str, nn.Module], options: TrainOptions, *, info: dict, state: dict,
        device: torch.device, dataset_root: Path | None = None,
    ):
        self.nets, self.options, self.state = nets, options, state
        self.device = torch.device(device)
        self.dataset_root = Path(dataset_root) if dataset_root is not None else None
        self.iteration = int(info.get("iteration", 0))
        self.images_seen = int(info.get("images_seen", 0))
        self.training_seconds = float(info.get("training_seconds", 0.0))
        self.size = options.size

    def images(self, seeds) -> np.ndarray:
        """uint8 (n, h, w, 3), one image per seed, each a function of its seed alone."""
        seeds = _check_seeds(seeds)
        with torch.no_grad(), eval_mode(self.nets.values()):
            # One forward pass per seed (see the module docstring for why not bigger batches).
            out = [to_uint8(self.generate(seed))[0] for seed in seeds]
        return np.stack(out) if out else np.zeros((0, *self.image_shape(), 3), dtype=np.uint8)

    @classmethod
    def needs_dataset(cls, options: TrainOptions) -> bool:
        """Whether sampling reads the training folder (CRN's layouts, SimGAN's synthetic images)."""
        return False

    def image_shape(self) -> tuple[int, int]:
        """(height, width) of the images this sampler returns."""
        return self.size, self.size

    def generate(self, seed: int) -> torch.Tensor:
        """(1, c, h, w) in [-1, 1] for one seed."""
        raise NotImplementedError

    def require_dataset(self) -> Path:
        """The dataset folder, which this family needs to sample (a layout, a synthetic image…)."""
        if self.dataset_root is None:
            raise ValueError(f"sampling {self.family} needs dataset_root (the folder it was trained on)")
        return self.dataset_root


def load_sampler(
    checkpoint_path: Path, *, device: str | torch.device = "cpu", dataset_root: Path | None = None
) -> Sampler:
    """Rebuild a family's nets from a checkpoint and return its Sampler."""
    from generation.training.trainers import family_module

    payload = load_checkpoint(checkpoint_path)
    module = family_module(payload["family"])
    device = torch.device(device)
    nets = {}
    for name, spec in payload["arch"].items():
        net = module.build_net(spec)
        net.load_state_dict(payload["nets"][name])
        nets[name] = net.to(device).eval()
    info = {k: payload[k] for k in ("iteration", "images_seen", "training_seconds")}
    options = TrainOptions.from_dict(payload["options"])
    state = payload.get("state", {})
    return module.SAMPLER(nets, options, info=info, state=state, device=device, dataset_root=dataset_root)


class Pipeline:
    """DCGAN (or any generator) followed by SRCNN: generate at h, super-resolve to h·scale."""

    family = "dcgan+srcnn"

    def __init__(self, generator_sampler: Sampler, srcnn_sampler: Sampler):
        if not hasattr(srcnn_sampler, "upscale"):
            raise ValueError("the second sampler of a Pipeline must be an SRCNN sampler (it has no upscale)")
        self.generator, self.srcnn = generator_sampler, srcnn_sampler
        self.scale = srcnn_sampler.scale
        self.size = generator_sampler.size * self.scale
        self.options = generator_sampler.options
        # Provenance of the pool is the generator's: SRCNN is a fixed post-processing step.
        self.iteration = generator_sampler.iteration
        self.images_seen = generator_sampler.images_seen
        self.training_seconds = generator_sampler.training_seconds + srcnn_sampler.training_seconds

    def images(self, seeds) -> np.ndarray:
        """uint8 (n, h·scale, w·scale, 3): the generator's image for each seed, super-resolved."""
        return self.srcnn.upscale(self.generator.images(seeds))


__all__ = ["Pipeline", "Sampler", "eval_mode", "from_uint8", "load_sampler", "seed_generator"]
