import pytest
import torch

from generation.nets.dcgan import DCGANDiscriminator, DCGANGenerator, init_weights
from generation.nets.losses import discriminator_loss, generator_loss

from .util import assert_grads_everywhere, same_state

W = 0.125


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_generator_and_discriminator_shapes(size):
    torch.manual_seed(0)
    g = DCGANGenerator(size=size, z_dim=16, width=W if size < 256 else 0.0625)
    d = DCGANDiscriminator(size=size, width=W if size < 256 else 0.0625)
    images = g(torch.randn(4, 16))
    assert images.shape == (4, 3, size, size)
    assert images.abs().max() <= 1.0
    assert d(images).shape == (4,)


@pytest.mark.parametrize("size", [8, 20, 30])
def test_bad_size_is_rejected(size):
    with pytest.raises(ValueError, match="multiple of 8"):
        DCGANGenerator(size=size)


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
@pytest.mark.parametrize("kind", ["gan", "wgan-gp"])
def test_gradients_reach_every_parameter(norm, kind):
    torch.manual_seed(0)
    g, d = DCGANGenerator(size=32, z_dim=16, width=W), DCGANDiscriminator(size=32, width=W, norm=norm)
    fake = g(torch.randn(4, 16))
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    discriminator_loss(kind, d(real), d(fake.detach())).backward()
    # mean(fake) - mean(real) cancels the critic's output bias: it gets an exactly zero gradient.
    assert_grads_everywhere(d, skip=("head.3.bias",) if kind == "wgan-gp" else ())
    generator_loss(kind, d(fake)).backward()
    assert_grads_everywhere(g)


@pytest.mark.parametrize("norm, layer", [("batch", torch.nn.BatchNorm2d), ("layer", torch.nn.GroupNorm)])
def test_discriminator_norm_option(norm, layer):
    d = DCGANDiscriminator(size=32, width=W, norm=norm)
    assert sum(isinstance(m, layer) for m in d.modules()) == 2
    plain = DCGANDiscriminator(size=32, width=W, norm="none")
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)) for m in plain.modules())


def test_layer_norm_critic_scores_samples_independently():
    torch.manual_seed(0)
    d = DCGANDiscriminator(size=32, width=W, norm="layer")
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(d(x)[:1], d(x[:1]))


def test_unknown_norm_is_rejected():
    with pytest.raises(ValueError, match="norm"):
        DCGANDiscriminator(size=32, norm="instance")


def test_eval_samples_do_not_depend_on_the_rest_of_the_batch():
    torch.manual_seed(0)
    g = DCGANGenerator(size=32, z_dim=16, width=W)
    g(torch.randn(8, 16))  # one training-mode pass updates the running statistics
    g.eval()
    z = torch.randn(4, 16)
    torch.testing.assert_close(g(z)[:1], g(z[:1]))
    torch.testing.assert_close(g(z)[2:], g(torch.cat([torch.randn(3, 16), z[2:]]))[3:])


def test_same_seed_same_init_and_dcgan_statistics():
    torch.manual_seed(3)
    a = DCGANGenerator(size=32, z_dim=16, width=W)
    torch.manual_seed(3)
    b = DCGANGenerator(size=32, z_dim=16, width=W)
    assert same_state(a, b)
    assert not same_state(a, DCGANGenerator(size=32, z_dim=16, width=W))
    torch.manual_seed(0)
    big = DCGANDiscriminator(size=32, width=1.0)
    weight = big.head[1].weight
    assert abs(weight.std().item() - 0.02) < 0.002 and abs(weight.mean().item()) < 0.002
    bn = next(m for m in DCGANGenerator(size=32).modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert abs(bn.weight.mean().item() - 1.0) < 0.01 and bn.bias.abs().sum() == 0


def test_init_weights_resets_conv_and_linear():
    layer = torch.nn.Conv2d(64, 64, 3)
    init_weights(layer)
    assert abs(layer.weight.std().item() - 0.02) < 0.002 and layer.bias.abs().sum() == 0
