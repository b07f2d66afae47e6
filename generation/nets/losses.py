"""Adversarial losses shared by the GAN families: non-saturating GAN and WGAN-GP.

Logits have whatever shape the discriminator returns; every loss averages over all of them.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

ADVERSARIAL_LOSSES = ("gan", "wgan-gp")


def _check_kind(kind: str) -> None:
    if kind not in ADVERSARIAL_LOSSES:
        raise ValueError(f"adversarial loss must be one of {ADVERSARIAL_LOSSES}, got {kind!r}")


def discriminator_loss(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator/critic loss; for "wgan-gp" add ``gradient_penalty`` separately."""
    _check_kind(kind)
    if kind == "gan":
        real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        return real + fake
    return fake_logits.mean() - real_logits.mean()


def generator_loss(kind: str, fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator loss: non-saturating BCE (fake -> 1) for "gan", -mean(critic) for "wgan-gp"."""
    _check_kind(kind)
    if kind == "gan":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    return -fake_logits.mean()


def gradient_penalty(
    critic: Callable[..., torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    weight: float = 10.0,
    critic_kwargs: dict | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty weight · mean((‖∇ₓ̂ critic(x̂)‖₂ − 1)²) at per-sample random interpolations x̂."""
    b = real.shape[0]
    alpha = torch.rand((b,) + (1,) * (real.dim() - 1), generator=generator, device="cpu")
    alpha = alpha.to(device=real.device, dtype=real.dtype)  # (b, 1, 1, 1)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat, **(critic_kwargs or {}))
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    # The norm is over all of C×H×W per sample; norm(dim=1) on the 4-D tensor would give per-pixel
    # norms (caogang/wgan-gp#25). The tiny epsilon keeps the sqrt differentiable at a zero gradient.
    norms = (grad.flatten(1).pow(2).sum(dim=1) + 1e-12).sqrt()  # (b,)
    return weight * (norms - 1).pow(2).mean()


def drift_penalty(real_logits: torch.Tensor, weight: float = 1e-3) -> torch.Tensor:
    """PGGAN's drift term weight · mean(D(real)²) that keeps critic outputs near zero."""
    return weight * real_logits.pow(2).mean()
