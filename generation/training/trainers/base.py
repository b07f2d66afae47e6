"""What every family's trainer shares: the protocol, seeded data streams, net specs and state plumbing."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from generation.training.checkpoints import capture_rng, restore_rng
from generation.training.device import autocast
from generation.training.images import image_grid
from generation.training.options import TrainOptions


class Trainer(Protocol):
    """One family's training: ``build`` it, call ``step`` until done, checkpoint with ``state``."""

    family: str
    iteration: int  # generator steps done
    images_per_step: int  # real training images one step consumes
    notes: list[str]  # warnings worth showing the researcher (e.g. a random-weight VGG)

    @classmethod
    def build(cls, options: TrainOptions, dataset_root: Path, device: torch.device) -> Trainer: ...

    def step(self) -> dict[str, float]: ...

    def state(self) -> dict: ...

    def load_state(self, payload: dict) -> None: ...

    def sample_grid(self, seeds: list[int]) -> np.ndarray: ...

    def evaluate(self) -> dict[str, float]: ...


class BatchStream:
    """Endless seeded batches drawn from in-memory tensors; its position is part of the checkpoint."""

    def __init__(self, data: torch.Tensor | tuple[torch.Tensor, ...], batch_size: int, seed: int, device: torch.device):
        self.paired = isinstance(data, tuple)
        # The whole (small) set lives on the training device: batches are then one indexing op.
        self.data = tuple(t.to(device) for t in data) if self.paired else data.to(device)
        self.length = len(self.data[0]) if self.paired else len(self.data)
        if self.length == 0:
            raise ValueError("the training dataset is empty")
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.epoch, self.position = 0, 0
        self._order = self._permutation()

    def _permutation(self) -> torch.Tensor:
        # Each epoch's order depends only on (seed, epoch): resuming needs just these two numbers.
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(self.length, generator=generator)

    def indices(self, count: int) -> torch.Tensor:
        """The next ``count`` dataset indices, crossing into new epochs as needed."""
        taken = []
        while sum(len(t) for t in taken) < count:
            if self.position == self.length:
                self.epoch, self.position = self.epoch + 1, 0
                self._order = self._permutation()
            end = min(self.length, self.position + count - sum(len(t) for t in taken))
            taken.append(self._order[self.position:end])
            self.position = end
        return torch.cat(taken)

    def next(self, count: int | None = None):
        """The next batch: a tensor, or a tuple of tensors for paired data, on the device."""
        index = self.indices(count or self.batch_size).to(self.device)
        return tuple(t[index] for t in self.data) if self.paired else self.data[index]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = self._permutation()


def image_tensor(root: Path, size: int, channels: int = 3) -> torch.Tensor:
    """Every image of a folder as one (n, c, size, size) tensor in [-1, 1] (decoded once)."""
    from generation.datasets.folder import ImageFolder

    return ImageFolder(root, size, channels).as_tensor()


def net_spec(net: nn.Module, kwargs: dict) -> dict:
    """JSON-able recipe of a net: class name + constructor kwargs (rebuilt with ``Cls(**kwargs)``)."""
    return {"class": type(net).__name__, "kwargs": kwargs}


def build_net(spec: dict, classes: dict[str, type]) -> nn.Module:
    """Rebuild a net from ``net_spec`` output; only classes the family names are allowed."""
    if spec["class"] not in classes:
        raise ValueError(f"unexpected network class {spec['class']!r}; expected one of {', '.join(classes)}")
    return classes[spec["class"]](**spec["kwargs"])


def adam(net: nn.Module, lr: float, betas) -> torch.optim.Adam:
    """Adam over the trainable parameters of ``net``."""
    return torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr, betas=tuple(betas))


def set_requires_grad(net: nn.Module, flag: bool) -> None:
    """Freeze/unfreeze a net so the other player's step does not build its weight gradients."""
    for p in net.parameters():
        p.requires_grad_(flag)


class BaseTrainer:
    """State plumbing shared by the families; subclasses set nets, optimizers, specs and streams."""

    family = ""

    def __init__(self, options: TrainOptions, dataset_root: Path, device: torch.device):
        self.options, self.dataset_root, self.device = options, Path(dataset_root), device
        self.iteration = 0
        self.images_per_step = options.batch_size
        self.notes: list[str] = []
        self.nets: dict[str, nn.Module] = {}
        self.specs: dict[str, dict] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.streams: dict[str, BatchStream] = {}
        # Net initialisation and every later random draw come from the global generator seeded here.
        torch.manual_seed(options.seed)

    @classmethod
    def build(cls, options: TrainOptions, dataset_root: Path, device: torch.device):
        """Make the trainer, recording warnings raised while building (e.g. a random-weight VGG) as notes."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainer = cls(options, dataset_root, device)
        for warning in caught:
            if issubclass(warning.category, UserWarning):
                trainer.notes.append(str(warning.message))
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        return trainer

    def add_net(self, name: str, net: nn.Module, kwargs: dict) -> nn.Module:
        """Register a net (moved to the device) with the kwargs that rebuild it."""
        self.nets[name] = net.to(self.device)
        self.specs[name] = net_spec(net, kwargs)
        return self.nets[name]

    def autocast(self):
        return autocast(self.device, self.options.amp)

    def step(self) -> dict[str, float]:
        """One generator iteration with its discriminator steps; returns the losses as floats."""
        losses = self.train_step()
        self.iteration += 1
        return {name: float(value) for name, value in losses.items()}

    def train_step(self) -> dict[str, torch.Tensor | float]:
        raise NotImplementedError

    def extra_state(self) -> dict:
        """Family state beyond nets and optimizers (schedules, buffers, EMA)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def state(self) -> dict:
        """The checkpoint payload parts this trainer owns."""
        return {
            "family": self.family,
            "arch": self.specs,
            "nets": {name: net.state_dict() for name, net in self.nets.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "state": {
                "streams": {name: s.state_dict() for name, s in self.streams.items()},
                **self.extra_state(),
            },
            "rng": capture_rng(self.device),
            "notes": list(self.notes),
        }

    def load_state(self, payload: dict) -> None:
        """Continue from a checkpoint payload written by ``state`` (plus the loop's counters)."""
        self.iteration = int(payload["iteration"])
        self.load_extra_state(payload["state"])  # first: it may rebuild optimizers (progressive stages)
        for name, net in self.nets.items():
            net.load_state_dict(payload["nets"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(payload["optimizers"][name])
        for name, stream in self.streams.items():
            stream.load_state_dict(payload["state"]["streams"][name])
        restore_rng(payload["rng"], self.device)

    def sampler(self):
        """A sampler over the live nets (same code path as sampling from a checkpoint)."""
        raise NotImplementedError

    def sample_grid(self, seeds: list[int]) -> np.ndarray:
        """uint8 (H, W, 3) grid of one image per seed, sampled in eval mode."""
        return image_grid(self.sampler().images(seeds))

    def evaluate(self) -> dict[str, float]:
        """Held-out metrics logged next to the samples; none by default."""
        return {}
