"""Progressively grown GAN (PGGAN manner): equalised learning rate, pixel norm, minibatch stddev, fade-in.

Stage s works at resolution 4·2^s (stage 0 = 4×4). While a new stage fades in (0 ≤ alpha < 1) the
output is lerp(nearest-upsampled toRGB of the previous stage, toRGB of the new block, alpha); the
discriminator mirrors it with average pooling, and ``fade_reals`` blends real images the same way.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def num_stages(target_size: int) -> int:
    """Number of stages from 4×4 up to ``target_size`` (a power of two ≥ 4)."""
    if target_size < 4 or target_size & (target_size - 1):
        raise ValueError(f"target_size must be a power of two ≥ 4, got {target_size}")
    return int(math.log2(target_size)) - 1


def stage_size(stage: int) -> int:
    """Image side at ``stage``."""
    return 4 * 2**stage


def stage_channels(target_size: int, channels: int, max_channels: int | None) -> list[int]:
    """Feature maps per stage: ``channels`` everywhere, or doubling towards 4×4 capped by max_channels."""
    n = num_stages(target_size)
    if max_channels is None:
        return [channels] * n
    return [min(channels * 2 ** (n - 1 - s), max_channels) for s in range(n)]


class EqualizedConv2d(nn.Module):
    """Conv with N(0, 1) weights scaled by gain/√fan_in on every forward pass (equalised LR)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain: float = SQRT2):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Scaling here rather than once at init keeps Adam's per-weight step size equal (rosinality#75).
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Module):
    """Linear layer with N(0, 1) weights scaled by gain/√fan_in on every forward pass."""

    def __init__(self, in_features: int, out_features: int, gain: float = SQRT2):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit RMS over channels."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MinibatchStdDev(nn.Module):
    """Append one channel: the mean over (C, H, W) of the per-group std over the batch.

    Groups are of size g = min(group_size, b); sample i belongs to group i mod (b/g), as in PGGAN.
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        self.group_size, self.eps = group_size, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = min(self.group_size, b)
        if b % g:
            raise ValueError(f"batch size {b} must be divisible by the minibatch-stddev group size {g}")
        y = x.reshape(g, b // g, c, h, w)  # (g, m, c, h, w)
        std = (y.var(dim=0, unbiased=False) + self.eps).sqrt()  # (m, c, h, w)
        stat = std.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1)  # (m, 1, 1, 1)
        return torch.cat([x, stat.repeat(g, 1, h, w)], dim=1)  # (b, c + 1, h, w)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class _GBlock(nn.Module):
    """Nearest 2× upsample -> two 3×3 convs, each followed by LeakyReLU and pixel norm."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = EqualizedConv2d(cin, cout, 3)
        self.conv2 = EqualizedConv2d(cout, cout, 3)
        self.norm = PixelNorm()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")  # (b, cin, 2h, 2w)
        x = self.norm(_lrelu(self.conv1(x)))
        return self.norm(_lrelu(self.conv2(x)))  # (b, cout, 2h, 2w)


class ProgressiveGenerator(nn.Module):
    """z (b, z_dim) -> (b, 3, 4·2^stage, 4·2^stage), linear output (clamp to [-1, 1] for display)."""

    def __init__(self, target_size: int = 32, z_dim: int = 128, channels: int = 128, max_channels: int | None = None):
        super().__init__()
        self.target_size, self.z_dim = target_size, z_dim
        self.channels, self.max_channels = channels, max_channels
        ch = stage_channels(target_size, channels, max_channels)
        self.num_stages = len(ch)
        self.norm = PixelNorm()
        # PGGAN's first dense layer uses gain √2/4 so the 4×4 maps start at a sensible scale.
        self.dense = EqualizedLinear(z_dim, ch[0] * 16, gain=SQRT2 / 4)
        self.conv0 = EqualizedConv2d(ch[0], ch[0], 3)
        self.blocks = nn.ModuleList([nn.Identity()] + [_GBlock(ch[s - 1], ch[s]) for s in range(1, len(ch))])
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, 3, 1, gain=1.0) for c in ch)

    def check_stage(self, stage: int) -> None:
        """Raise ValueError for a stage this network does not have."""
        if not 0 <= stage < self.num_stages:
            raise ValueError(f"stage must be in [0, {self.num_stages - 1}], got {stage}")

    def features(self, z: torch.Tensor, stage: int) -> torch.Tensor:
        """Feature maps after the block of ``stage`` (b, c_stage, 4·2^stage, 4·2^stage)."""
        self.check_stage(stage)
        x = self.dense(self.norm(z)).view(z.shape[0], -1, 4, 4)  # (b, c0, 4, 4)
        x = self.norm(_lrelu(self.conv0(self.norm(_lrelu(x)))))
        for s in range(1, stage + 1):
            x = self.blocks[s](x)
        return x

    def forward(self, z: torch.Tensor, stage: int, alpha: float = 1.0) -> torch.Tensor:
        self.check_stage(stage)
        if stage == 0 or alpha >= 1:
            return self.to_rgb[stage](self.features(z, stage))
        prev = self.features(z, stage - 1)  # (b, c, r/2, r/2)
        old = F.interpolate(self.to_rgb[stage - 1](prev), scale_factor=2, mode="nearest")  # (b, 3, r, r)
        new = self.to_rgb[stage](self.blocks[stage](prev))  # (b, 3, r, r)
        return torch.lerp(old, new, alpha)


class _DBlock(nn.Module):
    """Two 3×3 convs with LeakyReLU, then 2× average pooling."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = EqualizedConv2d(cin, cin, 3)
        self.conv2 = EqualizedConv2d(cin, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _lrelu(self.conv2(_lrelu(self.conv1(x))))
        return F.avg_pool2d(x, 2)  # (b, cout, h/2, w/2)


class ProgressiveDiscriminator(nn.Module):
    """image (b, 3, 4·2^stage, 4·2^stage) -> logits (b,); no normalisation layers."""

    def __init__(
        self, target_size: int = 32, channels: int = 128, max_channels: int | None = None, group_size: int = 4
    ):
        super().__init__()
        self.target_size, self.channels, self.max_channels = target_size, channels, max_channels
        self.group_size = group_size
        ch = stage_channels(target_size, channels, max_channels)
        self.num_stages = len(ch)
        self.from_rgb = nn.ModuleList(EqualizedConv2d(3, c, 1) for c in ch)
        self.blocks = nn.ModuleList([nn.Identity()] + [_DBlock(ch[s], ch[s - 1]) for s in range(1, len(ch))])
        self.stddev = MinibatchStdDev(group_size)
        self.conv_last = EqualizedConv2d(ch[0] + 1, ch[0], 3)
        self.dense = EqualizedLinear(ch[0] * 16, ch[0])
        self.out = EqualizedLinear(ch[0], 1, gain=1.0)

    def input_features(self, x: torch.Tensor, stage: int, alpha: float = 1.0) -> torch.Tensor:
        """Features entering the block below ``stage`` (after the fade); (b, c, r/2, r/2) or (b, c0, 4, 4)."""
        if not 0 <= stage < self.num_stages:
            raise ValueError(f"stage must be in [0, {self.num_stages - 1}], got {stage}")
        h = _lrelu(self.from_rgb[stage](x))  # (b, c_stage, r, r)
        if stage == 0:
            return h
        h = self.blocks[stage](h)  # (b, c_{stage-1}, r/2, r/2)
        if alpha >= 1:
            return h
        old = _lrelu(self.from_rgb[stage - 1](F.avg_pool2d(x, 2)))  # (b, c_{stage-1}, r/2, r/2)
        return torch.lerp(old, h, alpha)

    def forward(self, x: torch.Tensor, stage: int, alpha: float = 1.0) -> torch.Tensor:
        h = self.input_features(x, stage, alpha)
        for s in range(stage - 1, 0, -1):
            h = self.blocks[s](h)
        h = _lrelu(self.conv_last(self.stddev(h)))  # (b, c0, 4, 4)
        h = _lrelu(self.dense(h.flatten(1)))  # (b, c0)
        return self.out(h).squeeze(1)  # (b,)


def fade_reals(x: torch.Tensor, stage: int, alpha: float) -> torch.Tensor:
    """Blend reals like the generator's fade: lerp(upsample(avgpool(x)), x, alpha); stage 0 is unchanged."""
    if stage == 0 or alpha >= 1:
        return x
    low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")  # (b, c, r, r)
    return torch.lerp(low, x, alpha)
