"""SRCNN super-resolution (Dong et al.): bicubic upsampling followed by three convolutions.

Works on all colour channels of [-1, 1] images; ``psnr`` / ``psnr_y`` are the evaluation helpers.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def bicubic(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Bicubic resize of (b, c, h, w) by ``scale`` (antialiased when shrinking); the SR baseline."""
    return F.interpolate(
        x, scale_factor=scale, mode="bicubic", align_corners=False, antialias=scale < 1
    )


class SRCNN(nn.Module):
    """lr (b, c, h, w) -> (b, c, h·scale, w·scale); unclamped, use ``upscale`` for display."""

    def __init__(
        self,
        channels: int = 3,
        features: Sequence[int] = (64, 32),
        middle_kernel: int = 1,
        scale: int = 2,
        residual: bool = False,
    ):
        super().__init__()
        if middle_kernel % 2 == 0:
            raise ValueError("middle_kernel must be odd so the image size is kept")
        f0, f1 = features
        self.channels, self.features = channels, tuple(features)
        self.middle_kernel, self.scale, self.residual = middle_kernel, scale, residual
        self.extract = nn.Conv2d(channels, f0, 9, padding=4)  # patch extraction
        self.map = nn.Conv2d(f0, f1, middle_kernel, padding=middle_kernel // 2)  # non-linear mapping
        self.reconstruct = nn.Conv2d(f1, channels, 5, padding=2)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        up = bicubic(lr, self.scale) if self.scale != 1 else lr  # (b, c, h·s, w·s)
        h = torch.relu(self.extract(up))  # (b, f0, h·s, w·s)
        h = torch.relu(self.map(h))  # (b, f1, h·s, w·s)
        out = self.reconstruct(h)  # (b, c, h·s, w·s)
        return up + out if self.residual else out

    @torch.no_grad()
    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        """Super-resolve for display: forward, clamped to [-1, 1], no gradients."""
        return self(lr).clamp(-1.0, 1.0)


class SRCNNCascade(nn.Module):
    """SRCNN stages applied one after another (e.g. two ×2 stages give ×4)."""

    def __init__(self, stages: Sequence[SRCNN | dict]):
        super().__init__()
        # Plain dicts of SRCNN kwargs are accepted so the cascade can be rebuilt from JSON.
        built = [s if isinstance(s, SRCNN) else SRCNN(**s) for s in stages]
        if not built:
            raise ValueError("SRCNNCascade needs at least one stage")
        self.stages = nn.ModuleList(built)
        self.scale = math.prod(s.scale for s in built)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            lr = stage(lr)
        return lr  # (b, c, h·scale, w·scale)

    @torch.no_grad()
    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        """Super-resolve for display, clamping between stages as displayed images would be."""
        for stage in self.stages:
            lr = stage.upscale(lr)
        return lr


def _crop(x: torch.Tensor, border: int) -> torch.Tensor:
    return x[..., border:-border, border:-border] if border > 0 else x


def _psnr_from(a: torch.Tensor, b: torch.Tensor, max_value: float) -> float:
    """Mean over images of 10·log10(max²/MSE); inputs (b, c, h, w) or (c, h, w)."""
    a, b = a.detach().double(), b.detach().double()
    if a.dim() == 3:
        a, b = a.unsqueeze(0), b.unsqueeze(0)
    mse = (a - b).pow(2).flatten(1).mean(dim=1)  # (b,)
    if (mse == 0).any():
        return math.inf
    return (10 * torch.log10(max_value**2 / mse)).mean().item()


def psnr(a: torch.Tensor, b: torch.Tensor, *, border: int = 0, max_value: float = 2.0) -> float:
    """PSNR in dB of [-1, 1] images (peak-to-peak 2), averaged over the batch, ``border`` px cropped."""
    if a.shape != b.shape:
        raise ValueError(f"psnr needs equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    return _psnr_from(_crop(a, border), _crop(b, border), max_value)


def luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma Y in [16, 235] of [-1, 1] RGB (…, 3, h, w) -> (…, 1, h, w)."""
    rgb = (x.double() + 1) / 2  # [0, 1], as MATLAB's rgb2ycbcr sees doubles
    r, g, b_ = rgb.unbind(dim=-3)
    return (16 + 65.481 * r + 128.553 * g + 24.966 * b_).unsqueeze(-3)


def psnr_y(a: torch.Tensor, b: torch.Tensor, border: int = 0) -> float:
    """PSNR in dB on the BT.601 Y channel (0–255 scale), as SR papers report it."""
    if a.shape != b.shape:
        raise ValueError(f"psnr_y needs equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    return _psnr_from(_crop(luma(a), border), _crop(luma(b), border), 255.0)
