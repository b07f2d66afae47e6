import math

import pytest
import torch
import torch.nn.functional as F

from generation.nets.losses import (
    ADVERSARIAL_LOSSES,
    discriminator_loss,
    drift_penalty,
    generator_loss,
    gradient_penalty,
)

from .util import assert_grads_everywhere


def linear_critic(w):
    """Critic <w, x> over all of C×H×W: its input gradient is w for every sample."""
    return lambda x: (x * w).flatten(1).sum(dim=1)


def test_gan_losses_match_hand_computation():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sp = F.softplus  # -log(sigmoid(x)) = softplus(-x)
    d_expected = sp(-real).mean() + sp(fake).mean()
    torch.testing.assert_close(discriminator_loss("gan", real, fake), d_expected)
    torch.testing.assert_close(generator_loss("gan", fake), sp(-fake).mean())


def test_wgan_losses():
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])
    assert discriminator_loss("wgan-gp", real, fake).item() == pytest.approx(0.0 - 3.0)
    assert generator_loss("wgan-gp", fake).item() == pytest.approx(0.0)
    assert ADVERSARIAL_LOSSES == ("gan", "wgan-gp")


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="wgan-gp"):
        generator_loss("hinge", torch.zeros(2))


def test_gradient_penalty_is_zero_for_unit_gradient_critic():
    torch.manual_seed(0)
    w = torch.randn(3, 8, 8)
    w /= w.norm()  # unit norm over all of C×H×W, not per pixel
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    assert gradient_penalty(linear_critic(w), real, fake).item() == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("scale", [0.5, 2.0, 3.7])
def test_gradient_penalty_is_exact_for_linear_critic(scale):
    torch.manual_seed(1)
    w = torch.randn(3, 8, 8)
    w *= scale / w.norm()
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    penalty = gradient_penalty(linear_critic(w), real, fake, weight=10.0)
    assert penalty.item() == pytest.approx(10.0 * (scale - 1) ** 2, rel=1e-5)


def test_gradient_penalty_is_positive_for_a_nonlinear_critic_and_trains_it():
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    real, fake = torch.randn(4, 3, 4, 4), torch.randn(4, 3, 4, 4)
    penalty = gradient_penalty(lambda x: critic(x).squeeze(1), real, fake)
    assert penalty.item() > 0
    penalty.backward()  # create_graph=True lets the penalty reach the critic's parameters
    # The output bias does not change the input gradient, so only it gets no gradient.
    assert_grads_everywhere(critic, skip=("3.bias",))
    assert critic[3].bias.grad is None or critic[3].bias.grad.abs().sum() == 0


def test_gradient_penalty_passes_critic_kwargs():
    seen = {}

    def critic(x, stage, alpha):
        seen.update(stage=stage, alpha=alpha)
        return x.flatten(1).sum(dim=1)

    gradient_penalty(critic, torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2), critic_kwargs={"stage": 1, "alpha": 0.5})
    assert seen == {"stage": 1, "alpha": 0.5}


def test_gradient_penalty_uses_per_sample_interpolation():
    """x̂ lies between real and fake, with its own alpha per sample."""
    points = []

    def critic(x):
        points.append(x.detach())
        return x.flatten(1).sum(dim=1)

    real, fake = torch.zeros(6, 1, 2, 2), torch.ones(6, 1, 2, 2)
    gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    x_hat = points[0]
    per_sample = x_hat.flatten(1)
    assert torch.all(per_sample == per_sample[:, :1])  # one alpha per sample
    assert per_sample[:, 0].unique().numel() == 6 and 0 <= x_hat.min() and x_hat.max() <= 1


def test_drift_penalty():
    assert drift_penalty(torch.tensor([1.0, 3.0])).item() == pytest.approx(1e-3 * 5.0)
    assert math.isclose(drift_penalty(torch.tensor([2.0]), weight=1.0).item(), 4.0)
