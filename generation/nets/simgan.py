"""SimGAN (Shrivastava et al.): a refiner that makes synthetic images realistic, judged patch by patch.

There is no official code; the layers follow the paper. The refiner never strides or pools, so a
refined image is the synthetic one with local changes, and ``self_regularisation`` keeps it close.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

REFINED, REAL = 0, 1  # class ids of the local discriminator's two output maps


class _ResBlock(nn.Module):
    """Two 3×3 convs with a skip connection."""

    def __init__(self, features: int):
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))


class Refiner(nn.Module):
    """synthetic (b, c, h, w) in [-1, 1] -> refined (b, c, h, w) in [-1, 1]."""

    def __init__(self, channels: int = 1, features: int = 64, blocks: int = 4):
        super().__init__()
        self.channels, self.features, self.blocks = channels, features, blocks
        self.body = nn.Sequential(
            nn.Conv2d(channels, features, 3, padding=1),
            nn.ReLU(inplace=True),
            *[_ResBlock(features) for _ in range(blocks)],
            nn.Conv2d(features, channels, 1),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # (b, c, h, w)


class LocalDiscriminator(nn.Module):
    """image (b, c, h, w) -> logits map (b, 2, ⌈h/4⌉, ⌈w/4⌉); class 0 = refined, 1 = real, per patch."""

    def __init__(self, channels: int = 1, width: float = 1.0):
        super().__init__()
        self.channels, self.width = channels, width
        c96, c64, c32 = (max(1, round(c * width)) for c in (96, 64, 32))
        self.body = nn.Sequential(
            nn.Conv2d(channels, c96, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c96, c64, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=1, padding=1),
            nn.Conv2d(c64, c32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c32, c32, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c32, 2, 1),  # logits: no ReLU here (a known port bug)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # (b, 2, h', w')


def local_adversarial_loss(logits_map: torch.Tensor, target: int) -> torch.Tensor:
    """Per-patch cross-entropy towards class ``target``, summed over patches, averaged over the batch."""
    b, _, h, w = logits_map.shape
    labels = torch.full((b, h, w), target, dtype=torch.long, device=logits_map.device)
    return F.cross_entropy(logits_map, labels, reduction="sum") / b


def self_regularisation(refined: torch.Tensor, synthetic: torch.Tensor, weight: float) -> torch.Tensor:
    """weight · ‖refined − synthetic‖₁ summed over pixels, averaged over the batch."""
    return weight * (refined - synthetic).abs().sum() / refined.shape[0]


class HistoryBuffer:
    """Past refined images, so the discriminator keeps rejecting old refiner artifacts.

    ``push_and_sample`` returns a batch of the same size: the first b − b/2 images are the current
    ones, the last b/2 random past ones (once the buffer holds b/2). The buffer is filled with whole
    batches until ``capacity``; after that b/2 random slots are overwritten with current images per step.
    """

    def __init__(self, capacity: int, seed: int = 0):
        if capacity < 1:
            raise ValueError("history capacity must be positive")
        self.capacity = capacity
        self.images: torch.Tensor | None = None  # (n ≤ capacity, c, h, w), detached
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return 0 if self.images is None else self.images.shape[0]

    def _randperm(self, n: int, k: int) -> torch.Tensor:
        return torch.randperm(n, generator=self.generator)[:k]

    def push_and_sample(self, refined: torch.Tensor) -> torch.Tensor:
        """Discriminator batch (b, c, h, w) mixing current and past refined images; stores current ones."""
        current = refined.detach()
        b, half = current.shape[0], current.shape[0] // 2
        if self.images is not None:
            self.images = self.images.to(current.device)
        if half and len(self) >= half:
            past = self.images[self._randperm(len(self), half).to(current.device)]
            batch = torch.cat([current[: b - half], past])
        else:
            batch = current
        self._store(current, half)
        return batch

    def _store(self, current: torch.Tensor, half: int) -> None:
        if self.images is None:
            self.images = current[: self.capacity].clone()
        elif len(self) < self.capacity:
            self.images = torch.cat([self.images, current[: self.capacity - len(self)]])
        elif half:
            slots = self._randperm(self.capacity, half).to(current.device)
            self.images[slots] = current[self._randperm(current.shape[0], half).to(current.device)]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors only, so the buffer can live in a weights_only checkpoint."""
        state = {"capacity": torch.tensor(self.capacity), "rng": self.generator.get_state()}
        if self.images is not None:
            state["images"] = self.images.cpu()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what ``state_dict`` returned."""
        self.capacity = int(state["capacity"])
        self.generator.set_state(state["rng"])
        self.images = state["images"].clone() if "images" in state else None
