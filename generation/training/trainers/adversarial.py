"""The discriminator and generator updates shared by the adversarial families (DCGAN, progressive)."""

from __future__ import annotations

import torch
from torch import nn

from generation.nets.losses import discriminator_loss, drift_penalty, generator_loss, gradient_penalty
from generation.training.options import TrainOptions
from generation.training.trainers.base import set_requires_grad


def critic_update(
    options: TrainOptions, d: nn.Module, optimizer: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor,
    autocast, *, critic_kwargs: dict | None = None, drift: float = 0.0,
) -> dict[str, torch.Tensor]:
    """One discriminator/critic step on a real and a (detached) fake batch; returns its loss terms."""
    kwargs = critic_kwargs or {}
    with autocast():
        real_logits = d(real, **kwargs).float()
        fake_logits = d(fake.detach(), **kwargs).float()
        loss = discriminator_loss(options.loss, real_logits, fake_logits)
    terms = {"d_loss": loss.detach()}
    if options.loss == "wgan-gp":
        # The penalty is computed in float32 outside autocast: its double backward is precision-sensitive.
        gp = gradient_penalty(d, real, fake.detach().to(real.dtype), weight=options.gp_lambda, critic_kwargs=kwargs)
        terms["gp"] = gp.detach()
        terms["wasserstein"] = (real_logits.mean() - fake_logits.mean()).detach()
        loss = loss + gp
    if drift:
        loss = loss + drift_penalty(real_logits, drift)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return terms


def generator_update(
    options: TrainOptions, d: nn.Module, optimizer: torch.optim.Optimizer, fake: torch.Tensor, *,
    critic_kwargs: dict | None = None, autocast,
) -> torch.Tensor:
    """One generator step through a frozen discriminator; ``fake`` must carry the generator's graph."""
    set_requires_grad(d, False)  # no discriminator weight gradients needed for this step
    try:
        with autocast():
            loss = generator_loss(options.loss, d(fake, **(critic_kwargs or {})).float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    finally:
        set_requires_grad(d, True)
    return loss.detach()
