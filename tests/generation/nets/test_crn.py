import warnings

import pytest
import torch

from generation.nets.crn import CRN, CRN_LAYER_WEIGHTS, crn_loss, one_hot_layout, split_images
from generation.nets.vgg import RandomVGGWarning, VGG19Features, layer_indices

from .util import assert_grads_everywhere, same_state


@pytest.fixture(scope="module")
def vgg():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomVGGWarning)
        return VGG19Features(width=0.125)


def layouts(b=4, h=16, w=32, n=5):
    return torch.randint(0, n, (b, h, w), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("size, base", [((16, 32), (4, 8)), ((32, 64), (4, 8)), ((16, 16), (8, 8))])
def test_crn_output_shape(k, size, base):
    torch.manual_seed(0)
    net = CRN(5, *size, *base, channels=8, images_per_layout=k)
    out = net(layouts(h=size[0], w=size[1]))
    assert out.shape == (4, 3 * k, *size) and out.abs().max() <= 1
    assert split_images(out, k).shape == (4, k, 3, *size)
    assert len(net.stages) == 1 + (size[0] // base[0]).bit_length() - 1


def test_split_images_keeps_each_alternatives_rgb_together():
    out = torch.arange(2 * 6).float().view(2, 6, 1, 1).expand(2, 6, 2, 2)
    torch.testing.assert_close(split_images(out, 2)[1, 1, :, 0, 0], torch.tensor([9.0, 10.0, 11.0]))


def test_bad_sizes_and_ids_are_rejected():
    with pytest.raises(ValueError, match="doubled"):
        CRN(5, 24, 64)
    with pytest.raises(ValueError, match="layout ids"):
        CRN(5, 16, 32, channels=4)(layouts(n=6))
    with pytest.raises(ValueError, match="16×32"):
        CRN(5, 16, 32, channels=4)(layouts(h=8, w=16))


def test_one_hot_layout():
    layout = torch.tensor([[[0, 2], [1, 2]]])
    maps = one_hot_layout(layout, 3)
    assert maps.shape == (1, 3, 2, 2)
    torch.testing.assert_close(maps.argmax(dim=1), layout)
    torch.testing.assert_close(maps.sum(dim=1), torch.ones(1, 2, 2))


@pytest.mark.parametrize("with_layout", [False, True])
def test_gradients_reach_every_parameter(vgg, with_layout):
    torch.manual_seed(0)
    net = CRN(5, 16, 32, channels=8, images_per_layout=2)
    layout = layouts()
    fake = split_images(net(layout), 2)
    loss, terms = crn_loss(fake, torch.rand(4, 3, 16, 32) * 2 - 1, vgg, layout if with_layout else None)
    loss.backward()
    assert_grads_everywhere(net)
    assert set(terms) == {"pixel", *vgg.layers} and all(v > 0 for v in terms.values())
    assert all(p.grad is None for p in vgg.parameters())  # frozen


def per_image_losses(fake, real, vgg, layout=None):
    """Loss of every alternative on its own (k = 1): (b, k)."""
    b, k = fake.shape[:2]
    rows = []
    for i in range(b):
        lay = None if layout is None else layout[i : i + 1]
        alternatives = [fake[i : i + 1, j : j + 1] for j in range(k)]
        rows.append([crn_loss(alt, real[i : i + 1], vgg, lay, num_classes=5)[0] for alt in alternatives])
    return torch.tensor(rows)


def test_k1_loss_is_l1_plus_weighted_feature_l1(vgg):
    torch.manual_seed(0)
    fake, real = torch.rand(2, 1, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    loss, _ = crn_loss(fake, real, vgg)
    expected = (fake[:, 0] - real).abs().mean()
    ff, rf = vgg(fake[:, 0]), vgg(real)
    for name, weight in zip(vgg.layers, CRN_LAYER_WEIGHTS):
        expected = expected + weight * (ff[name] - rf[name]).abs().mean()
    torch.testing.assert_close(loss, expected)


def test_diversity_loss_is_0999_min_plus_0001_mean(vgg):
    torch.manual_seed(0)
    fake, real = torch.rand(2, 3, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    fake[0, 1] = real[0] + 0.01  # one alternative nearly right for the first image
    loss, _ = crn_loss(fake, real, vgg)
    each = per_image_losses(fake, real, vgg)  # (b, k)
    expected = (0.999 * each.min(dim=1).values + 0.001 * each.mean(dim=1)).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss.item() < each.mean().item()


def test_layout_loss_takes_min_per_class(vgg):
    torch.manual_seed(0)
    real = torch.rand(1, 3, 16, 16) * 2 - 1
    layout = torch.zeros(1, 16, 16, dtype=torch.long)
    layout[:, :, 8:] = 1  # left half class 0, right half class 1
    fake = torch.rand(1, 2, 3, 16, 16) * 2 - 1
    # Alternative 0 is right on the left half, alternative 1 on the right half.
    fake[0, 0, :, :, :8], fake[0, 1, :, :, 8:] = real[0, :, :, :8], real[0, :, :, 8:]
    with_layout, _ = crn_loss(fake, real, vgg, layout, num_classes=2)
    without, _ = crn_loss(fake, real, vgg)
    assert with_layout.item() < without.item()
    # Summed over classes, the per-class terms of a single alternative equal the plain loss.
    single, _ = crn_loss(fake[:, :1], real, vgg, layout, num_classes=2)
    assert single.item() == pytest.approx(crn_loss(fake[:, :1], real, vgg)[0].item(), rel=1e-5)


def test_vgg_random_weights_warn_and_are_deterministic():
    with pytest.warns(RandomVGGWarning):
        a = VGG19Features(width=0.125)
    torch.manual_seed(123)
    with pytest.warns(RandomVGGWarning):
        b = VGG19Features(width=0.125)
    assert not a.pretrained and same_state(a, b)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert all(torch.equal(a(x)[n], b(x)[n]) for n in a.layers)
    assert all(not p.requires_grad for p in a.parameters())
    torch.nn.Sequential(a).train()
    assert not a.training  # stays frozen in eval mode


def test_vgg_loads_torchvision_layout_state_dict(tmp_path):
    with pytest.warns(RandomVGGWarning):
        source = VGG19Features()
    keys = set(source.state_dict())
    convs = [i - 1 for n, i in layer_indices().items() if n <= "conv5_2"]
    assert keys == {f"features.{i}.{p}" for i in convs for p in ("weight", "bias")}
    state = {k: torch.randn_like(v) for k, v in source.state_dict().items()}
    assert state["features.0.weight"].shape == (64, 3, 3, 3) and state["features.28.weight"].shape == (512, 512, 3, 3)
    state["classifier.0.weight"] = torch.zeros(1)  # a full torchvision state dict loads too
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RandomVGGWarning)
        loaded = VGG19Features(path)
    assert loaded.pretrained
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    normalised = ((x + 1) / 2 - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]
    ).view(1, 3, 1, 1)
    conv = torch.nn.functional.conv2d(normalised, state["features.0.weight"], state["features.0.bias"], padding=1)
    expected = torch.relu(conv)
    # The first layer alone, computed by hand from the file and torchvision's input normalisation.
    torch.testing.assert_close(VGG19Features(path, layers=("conv1_1",))(x)["conv1_1"], expected)
    source.load_state_dict({k: v for k, v in state.items() if k.startswith("features.")})
    assert all(torch.equal(loaded(x)[n], source(x)[n]) for n in loaded.layers)


def test_vgg_rejects_wrong_files(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="missing"):
        VGG19Features(path)
    with pytest.raises(ValueError, match="unknown VGG-19 layers"):
        VGG19Features(path, layers=("conv9_9",))


def test_same_seed_same_init():
    torch.manual_seed(6)
    a = CRN(5, 16, 32, channels=8)
    torch.manual_seed(6)
    assert same_state(a, CRN(5, 16, 32, channels=8))
