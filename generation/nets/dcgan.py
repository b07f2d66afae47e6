"""DCGAN generator and discriminator after the DCGAN-family study's tables.

The generator upsamples with nearest-neighbour + 3×3 conv instead of transposed convs, which avoids
checkerboard artifacts. ``width`` scales every channel count so tests and CPU demos can run tiny nets.
"""

from __future__ import annotations

import torch
from torch import nn

DISCRIMINATOR_NORMS = ("batch", "layer", "none")


def scaled(channels: int, width: float) -> int:
    """Channel count ``channels`` scaled by ``width`` (at least 1)."""
    return max(1, round(channels * width))


def check_size(size: int) -> None:
    """Raise ValueError unless ``size`` is a multiple of 8 of at least 16 (three 2× steps)."""
    if size < 16 or size % 8:
        raise ValueError(f"DCGAN size must be a multiple of 8 and at least 16, got {size}")


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv/linear weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z (b, z_dim) -> image (b, 3, size, size) in [-1, 1]."""

    def __init__(self, size: int = 64, z_dim: int = 100, width: float = 1.0):
        super().__init__()
        check_size(size)
        self.size, self.z_dim, self.width = size, z_dim, width
        self.base = size // 8
        c0, c1, c2 = scaled(256, width), scaled(128, width), scaled(64, width)
        # Layers followed by BatchNorm have no bias: BatchNorm would cancel it (its gradient is 0).
        self.dense = nn.Linear(z_dim, c0 * self.base * self.base, bias=False)
        self.dense_norm = nn.BatchNorm2d(c0)
        self.blocks = nn.Sequential(
            self._up_block(c0, c1),
            self._up_block(c1, c2),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c2, 3, 3, padding=1),
            nn.Tanh(),
        )
        init_weights(self)

    @staticmethod
    def _up_block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dense(z).view(z.shape[0], -1, self.base, self.base)  # (b, 256w, s/8, s/8)
        x = torch.relu(self.dense_norm(x))
        return self.blocks(x)  # (b, 3, s, s)


def _norm_layer(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "layer":
        # GroupNorm with one group = LayerNorm over (C, H, W) per sample, per-channel affine.
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class DCGANDiscriminator(nn.Module):
    """image (b, 3, size, size) -> logits (b,). Use norm="layer"/"none" for WGAN-GP critics."""

    def __init__(self, size: int = 64, width: float = 1.0, norm: str = "batch"):
        super().__init__()
        check_size(size)
        if norm not in DISCRIMINATOR_NORMS:
            raise ValueError(f"norm must be one of {DISCRIMINATOR_NORMS}, got {norm!r}")
        self.size, self.width, self.norm = size, width, norm
        c0, c1, c2 = scaled(64, width), scaled(128, width), scaled(256, width)
        self.features = nn.Sequential(
            # As in DCGAN, no normalisation on the first layer (it sees the raw image statistics).
            self._down_block(3, c0, "none"),
            self._down_block(c0, c1, norm),
            self._down_block(c1, c2, norm),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c2 * (size // 8) ** 2, scaled(512, width)),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(scaled(512, width), 1),
        )
        init_weights(self)

    @staticmethod
    def _down_block(cin: int, cout: int, norm: str) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=norm == "none"),
            _norm_layer(norm, cout),
            nn.LeakyReLU(0.2, inplace=True),
            nn.MaxPool2d(2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (b, 256w, s/8, s/8)
        return self.head(h).squeeze(1)  # (b,)
