import numpy as np
import pytest
import torch
import torch.nn.functional as F

from generation.nets.losses import discriminator_loss, generator_loss, gradient_penalty
from generation.nets.progressive import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStdDev,
    PixelNorm,
    ProgressiveDiscriminator,
    ProgressiveGenerator,
    fade_reals,
    num_stages,
    stage_channels,
)

from .util import assert_grads_everywhere, same_state

TARGET = 32


@pytest.fixture
def nets():
    torch.manual_seed(0)
    return ProgressiveGenerator(TARGET, z_dim=16, channels=8), ProgressiveDiscriminator(TARGET, channels=8)


def test_num_stages_and_channels():
    assert [num_stages(s) for s in (4, 8, 32, 256)] == [1, 2, 4, 7]
    with pytest.raises(ValueError, match="power of two"):
        num_stages(48)
    assert stage_channels(32, 8, None) == [8, 8, 8, 8]
    assert stage_channels(32, 8, 32) == [32, 32, 16, 8]


@pytest.mark.parametrize("stage", range(num_stages(TARGET)))
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_every_stage_shapes(nets, stage, alpha):
    g, d = nets
    images = g(torch.randn(4, 16), stage, alpha)
    side = 4 * 2**stage
    assert images.shape == (4, 3, side, side)
    assert d(images, stage, alpha).shape == (4,)


def test_bad_stage_is_rejected(nets):
    g, d = nets
    with pytest.raises(ValueError, match="stage"):
        g(torch.randn(4, 16), num_stages(TARGET), 1.0)
    with pytest.raises(ValueError, match="stage"):
        d(torch.randn(4, 3, 4, 4), -1, 1.0)


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_generator_fade_endpoints(nets, stage):
    g, _ = nets
    z = torch.randn(4, 16)
    prev = g.features(z, stage - 1)
    old = F.interpolate(g.to_rgb[stage - 1](prev), scale_factor=2, mode="nearest")
    new = g.to_rgb[stage](g.blocks[stage](prev))
    torch.testing.assert_close(g(z, stage, 0.0), old)
    torch.testing.assert_close(g(z, stage, 0.0), F.interpolate(g(z, stage - 1, 1.0), scale_factor=2))
    torch.testing.assert_close(g(z, stage, 1.0), new)
    torch.testing.assert_close(g(z, stage, 0.25), 0.75 * old + 0.25 * new)
    assert not torch.allclose(old, new)


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_discriminator_fade_endpoints(nets, stage):
    _, d = nets
    x = torch.randn(4, 3, 4 * 2**stage, 4 * 2**stage)
    # alpha 0: only the downsampled image through the previous stage's fromRGB counts.
    torch.testing.assert_close(d(x, stage, 0.0), d(F.avg_pool2d(x, 2), stage - 1, 1.0))
    new = d.blocks[stage](F.leaky_relu(d.from_rgb[stage](x), 0.2))
    old = F.leaky_relu(d.from_rgb[stage - 1](F.avg_pool2d(x, 2)), 0.2)
    torch.testing.assert_close(d.input_features(x, stage, 1.0), new)
    torch.testing.assert_close(d.input_features(x, stage, 0.0), old)
    torch.testing.assert_close(d.input_features(x, stage, 0.5), (old + new) / 2)
    assert not torch.allclose(d(x, stage, 1.0), d(x, stage, 0.0))


def test_fade_reals():
    x = torch.randn(4, 3, 8, 8)
    low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    torch.testing.assert_close(fade_reals(x, 1, 0.0), low)
    torch.testing.assert_close(fade_reals(x, 1, 1.0), x)
    torch.testing.assert_close(fade_reals(x, 1, 0.5), (low + x) / 2)
    torch.testing.assert_close(fade_reals(x, 0, 0.0), x)  # stage 0 has nothing to fade from


@pytest.mark.parametrize("stage, alpha", [(0, 1.0), (2, 0.5), (3, 1.0)])
def test_gradients_reach_the_stage_parameters(nets, stage, alpha):
    """At (stage, alpha) only stage ≤ current blocks train; the previous toRGB/fromRGB only while fading."""
    g, d = nets
    fake = g(torch.randn(4, 16), stage, alpha)
    real = fade_reals(torch.randn(4, 3, fake.shape[-1], fake.shape[-1]), stage, alpha)
    loss = discriminator_loss("gan", d(real, stage, alpha), d(fake.detach(), stage, alpha))
    loss.backward()
    generator_loss("gan", d(fake, stage, alpha)).backward()
    used = {f"blocks.{s}." for s in range(1, stage + 1)} | {f"to_rgb.{stage}.", f"from_rgb.{stage}."}
    if alpha < 1:
        used |= {f"to_rgb.{stage - 1}.", f"from_rgb.{stage - 1}."}
    staged = ("blocks.", "to_rgb.", "from_rgb.")
    for net in (g, d):
        unused = tuple(n for n, _ in net.named_parameters() if n.startswith(staged) and not n.startswith(tuple(used)))
        assert_grads_everywhere(net, skip=unused)
        assert all(p.grad is None for n, p in net.named_parameters() if n.startswith(unused))


def test_gradient_penalty_with_stage_kwargs(nets):
    _, d = nets
    real, fake = torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)
    penalty = gradient_penalty(d, real, fake, critic_kwargs={"stage": 2, "alpha": 0.5})
    assert penalty.item() > 0
    penalty.backward()
    assert d.from_rgb[2].weight.grad.abs().sum() > 0


def test_equalized_conv_scales_on_every_forward():
    torch.manual_seed(0)
    conv = EqualizedConv2d(16, 32, 3)
    w = conv.weight.detach()
    assert abs(w.std().item() - 1) < 0.05 and abs(w.mean().item()) < 0.05  # stored N(0, 1)
    assert conv.scale == pytest.approx(np.sqrt(2) / np.sqrt(16 * 9))
    torch.nn.init.normal_(conv.bias)
    x = torch.randn(2, 16, 5, 5)
    expected = F.conv2d(x, w * np.sqrt(2) / 12, conv.bias, padding=1)
    torch.testing.assert_close(conv(x), expected)
    with torch.no_grad():
        conv.weight.mul_(3)  # a changed stored weight must show up scaled, not be scaled once at init
    torch.testing.assert_close(conv(x) - conv.bias.view(1, -1, 1, 1), 3 * (expected - conv.bias.view(1, -1, 1, 1)))


def test_equalized_linear_scales_on_every_forward():
    torch.manual_seed(0)
    layer = EqualizedLinear(64, 8, gain=1.0)
    x = torch.randn(4, 64)
    torch.testing.assert_close(layer(x), x @ layer.weight.detach().T / 8)
    with torch.no_grad():
        layer.weight.mul_(-2)
    torch.testing.assert_close(layer(x), x @ layer.weight.detach().T / 8)


def test_pixel_norm_unit_rms_per_pixel():
    x = torch.randn(4, 16, 5, 5) * torch.rand(4, 1, 5, 5) * 10
    rms = PixelNorm()(x).pow(2).mean(dim=1).sqrt()
    torch.testing.assert_close(rms, torch.ones(4, 5, 5))


def test_minibatch_stddev_matches_numpy():
    x = torch.randn(4, 6, 3, 3)
    out = MinibatchStdDev(group_size=4)(x)
    assert out.shape == (4, 7, 3, 3)
    torch.testing.assert_close(out[:, :6], x)
    expected = np.std(x.numpy().astype(np.float64), axis=0).mean()
    torch.testing.assert_close(out[:, 6], torch.full((4, 3, 3), float(expected)))


def test_minibatch_stddev_groups_samples_like_pggan():
    x = torch.randn(8, 2, 2, 2)
    out = MinibatchStdDev(group_size=4)(x)[:, -1, 0, 0]
    data = x.numpy().astype(np.float64)
    for i in range(8):  # group of sample i: every second sample with the same parity
        assert out[i].item() == pytest.approx(np.std(data[i % 2 :: 2], axis=0).mean(), rel=1e-5)
    small = MinibatchStdDev(group_size=4)(x[:2])  # group = min(4, b)
    assert small[0, -1, 0, 0].item() == pytest.approx(np.std(data[:2], axis=0).mean(), rel=1e-5)
    with pytest.raises(ValueError, match="divisible"):
        MinibatchStdDev(group_size=4)(x[:6])


def test_same_seed_same_init():
    torch.manual_seed(2)
    g, d = ProgressiveGenerator(16, 8, 8), ProgressiveDiscriminator(16, 8)
    torch.manual_seed(2)
    assert same_state(g, ProgressiveGenerator(16, 8, 8)) and same_state(d, ProgressiveDiscriminator(16, 8))
