"""Cascaded Refinement Network (Chen & Koltun 2017): photographs synthesised from semantic layouts.

One refinement module per scale, from the base size doubling up to the final size; each sees the
upsampled features of the previous module and the layout downsampled to its own size. With
``images_per_layout`` = k > 1 the network emits k alternatives and ``crn_loss`` rewards the best one.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .vgg import VGG19Features

# Per-layer weights of the VGG-19 feature-matching terms (conv1_2 … conv5_2) from the reference demo.
CRN_LAYER_WEIGHTS = (1 / 1.6, 1 / 2.3, 1 / 1.8, 1 / 2.8, 10 / 0.8)


def one_hot_layout(layout: torch.Tensor, num_classes: int) -> torch.Tensor:
    """int64 (b, h, w) class ids -> float (b, num_classes, h, w) one-hot maps."""
    if layout.numel() and (layout.min() < 0 or layout.max() >= num_classes):
        raise ValueError(f"layout ids must lie in [0, {num_classes}), got {int(layout.min())}..{int(layout.max())}")
    return F.one_hot(layout, num_classes).permute(0, 3, 1, 2).float()


class _Refine(nn.Module):
    """[3×3 conv -> LayerNorm over (C, H, W) -> LeakyReLU 0.2] ×2."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        # GroupNorm with one group is LayerNorm over (C, H, W) per sample, independent of the image size.
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.GroupNorm(1, cout),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.GroupNorm(1, cout),
            nn.LeakyReLU(0.2, inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class CRN(nn.Module):
    """layout int64 (b, height, width) -> images (b, 3·k, height, width) in [-1, 1] (tanh)."""

    def __init__(
        self,
        num_classes: int,
        height: int = 32,
        width: int = 64,
        base_height: int = 4,
        base_width: int = 8,
        channels: int = 64,
        images_per_layout: int = 1,
    ):
        super().__init__()
        doublings = math.log2(height / base_height)
        if height % base_height or doublings != int(doublings) or width * base_height != height * base_width:
            raise ValueError(
                f"{height}×{width} must be {base_height}×{base_width} doubled a whole number of times"
            )
        self.num_classes, self.height, self.width = num_classes, height, width
        self.base_height, self.base_width = base_height, base_width
        self.channels, self.images_per_layout = channels, images_per_layout
        self.sizes = [(base_height * 2**i, base_width * 2**i) for i in range(int(doublings) + 1)]
        self.stages = nn.ModuleList(
            _Refine(num_classes + (0 if i == 0 else channels), channels) for i in range(len(self.sizes))
        )
        self.to_rgb = nn.Conv2d(channels, 3 * images_per_layout, 1)

    def forward(self, layout: torch.Tensor) -> torch.Tensor:
        if layout.shape[-2:] != (self.height, self.width):
            raise ValueError(f"layout must be {self.height}×{self.width}, got {tuple(layout.shape[-2:])}")
        labels = one_hot_layout(layout, self.num_classes)  # (b, n, H, W)
        features = None
        for size, module in zip(self.sizes, self.stages):
            inputs = F.interpolate(labels, size=size, mode="area")  # (b, n, h, w) class fractions
            if features is not None:
                up = F.interpolate(features, size=size, mode="bilinear", align_corners=False)
                inputs = torch.cat([up, inputs], dim=1)  # (b, c + n, h, w)
            features = module(inputs)  # (b, c, h, w)
        return torch.tanh(self.to_rgb(features))  # (b, 3k, H, W)


def split_images(out: torch.Tensor, k: int) -> torch.Tensor:
    """(b, 3·k, H, W) -> (b, k, 3, H, W)."""
    b, _, h, w = out.shape
    return out.view(b, k, 3, h, w)


def _per_class_l1(a: torch.Tensor, b: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean |a − b| per class region: a, b (n, c, h, w), masks (n, m, H, W) -> (n, m)."""
    error = (a - b).abs().mean(dim=1, keepdim=True)  # (n, 1, h, w)
    if masks.shape[-2:] != error.shape[-2:]:
        masks = F.interpolate(masks, size=error.shape[-2:], mode="area")
    # Summed over classes this is the plain mean L1, since the masks partition the image.
    return (error * masks).mean(dim=(2, 3))  # (n, m)


def crn_loss(
    fake: torch.Tensor,
    real: torch.Tensor,
    vgg: VGG19Features,
    layout: torch.Tensor | None = None,
    weights: Sequence[float] = CRN_LAYER_WEIGHTS,
    num_classes: int | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """CRN's loss: L1 on pixels + weighted L1 on VGG features; with k > 1, 0.999·min_k + 0.001·mean_k.

    fake (b, k, 3, H, W), real (b, 3, H, W). With a layout the terms are per class region and the
    minimum over the k alternatives is taken per class, as in the reference; without one, per image.
    Returns the loss and, for logging, each weighted term's mean over images and alternatives.
    """
    b, k = fake.shape[:2]
    if len(weights) != len(vgg.layers):
        raise ValueError(f"{len(weights)} weights for {len(vgg.layers)} VGG layers")
    flat_fake = fake.reshape(b * k, *fake.shape[2:])  # (b·k, 3, H, W)
    flat_real = real.unsqueeze(1).expand_as(fake).reshape_as(flat_fake)  # (b·k, 3, H, W)
    if layout is None:
        masks = flat_fake.new_ones(b * k, 1, *fake.shape[-2:])  # (b·k, 1, H, W)
    else:
        n = num_classes if num_classes is not None else int(layout.max()) + 1
        masks = one_hot_layout(layout, n).repeat_interleave(k, dim=0)  # (b·k, n, H, W)
    terms = {"pixel": _per_class_l1(flat_fake, flat_real, masks)}
    fake_features = vgg(flat_fake)
    with torch.no_grad():
        real_features = vgg(real)  # the target needs no graph: compute once per real image
    for name, weight in zip(vgg.layers, weights):
        target = real_features[name].repeat_interleave(k, dim=0)
        terms[name] = weight * _per_class_l1(fake_features[name], target, masks)
    content = sum(terms.values()).view(b, k, -1)  # (b, k, classes)
    loss = 0.999 * content.min(dim=1).values.sum(dim=1) + 0.001 * content.mean(dim=1).sum(dim=1)  # (b,)
    logged = {name: term.sum(dim=1).mean().item() for name, term in terms.items()}
    return loss.mean(), logged

