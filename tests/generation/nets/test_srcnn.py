import math

import numpy as np
import pytest
import torch

from generation.nets.srcnn import SRCNN, SRCNNCascade, bicubic, luma, psnr, psnr_y

from .util import assert_grads_everywhere, same_state


@pytest.mark.parametrize("middle_kernel", [1, 3])
@pytest.mark.parametrize("residual", [False, True])
def test_srcnn_x2_shape_and_gradients(middle_kernel, residual):
    torch.manual_seed(0)
    net = SRCNN(features=(8, 4), middle_kernel=middle_kernel, residual=residual)
    out = net(torch.rand(4, 3, 12, 10) * 2 - 1)
    assert out.shape == (4, 3, 24, 20)
    out.pow(2).mean().backward()
    assert_grads_everywhere(net)


def test_cascade_x4_shape_and_json_stages():
    torch.manual_seed(0)
    cascade = SRCNNCascade([SRCNN(features=(8, 4)), {"features": [8, 4], "scale": 2}])
    assert cascade.scale == 4
    assert cascade(torch.zeros(4, 3, 8, 8)).shape == (4, 3, 32, 32)
    lr = torch.rand(4, 3, 8, 8) * 2 - 1
    torch.testing.assert_close(cascade(lr), cascade.stages[1](cascade.stages[0](lr)))


def test_residual_with_zero_reconstruction_is_bicubic():
    net = SRCNN(features=(8, 4), residual=True)
    torch.nn.init.zeros_(net.reconstruct.weight)
    torch.nn.init.zeros_(net.reconstruct.bias)
    lr = torch.rand(2, 3, 8, 8) * 2 - 1
    torch.testing.assert_close(net(lr), bicubic(lr, 2))


def test_upscale_clamps_but_forward_does_not():
    net = SRCNN(features=(8, 4))
    torch.nn.init.constant_(net.reconstruct.bias, 5.0)
    lr = torch.zeros(1, 3, 4, 4)
    assert net(lr).max() > 1
    up = net.upscale(lr)
    assert up.max() == 1.0 and not up.requires_grad


def test_bicubic_matches_interpolate_and_downscale_antialiases():
    x = torch.rand(1, 3, 8, 8)
    expected = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    torch.testing.assert_close(bicubic(x, 2), expected)
    small = torch.nn.functional.interpolate(x, scale_factor=0.5, mode="bicubic", antialias=True)
    torch.testing.assert_close(bicubic(x, 0.5), small)


def test_psnr_hand_computation():
    a = torch.zeros(1, 3, 4, 4)
    b = a + 0.1
    assert psnr(a, b) == pytest.approx(10 * math.log10(4 / 0.01))
    assert psnr(a, b, max_value=1.0) == pytest.approx(10 * math.log10(1 / 0.01))
    assert psnr(a, a) == math.inf
    # Two images: the mean of per-image PSNRs (20 dB at MSE 0.04, 26.02 dB at MSE 0.01).
    pair_a, pair_b = torch.zeros(2, 1, 2, 2), torch.stack([torch.full((1, 2, 2), 0.2), torch.full((1, 2, 2), 0.1)])
    expected = (10 * math.log10(4 / 0.04) + 10 * math.log10(4 / 0.01)) / 2
    assert psnr(pair_a, pair_b) == pytest.approx(expected)


def test_psnr_border_crop():
    a = torch.zeros(1, 3, 6, 6)
    b = a.clone()
    b[..., 0, :] = 1.0  # an error only in the first row
    assert psnr(a, b) == pytest.approx(10 * math.log10(4 / (6 / 36)))
    assert psnr(a, b, border=1) == math.inf


def test_psnr_y_hand_computation():
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (1, 3, 5, 5))
    b = np.clip(a + rng.normal(0, 0.05, a.shape), -1, 1)

    def y(img):  # BT.601 on 0-255 RGB
        r, g, bl = ((img[0] + 1) / 2 * 255)
        return 16 + (65.481 * r + 128.553 * g + 24.966 * bl) / 255

    mse = np.mean((y(a)[1:-1, 1:-1] - y(b)[1:-1, 1:-1]) ** 2)
    expected = 10 * np.log10(255**2 / mse)
    assert psnr_y(torch.tensor(a), torch.tensor(b), border=1) == pytest.approx(expected)
    white = luma(torch.ones(1, 3, 1, 1)).item()
    assert white == pytest.approx(235.0) and luma(-torch.ones(3, 1, 1)).item() == pytest.approx(16.0)


def test_psnr_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="equal shapes"):
        psnr(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))


def test_same_seed_same_init():
    torch.manual_seed(5)
    a = SRCNN(features=(8, 4))
    torch.manual_seed(5)
    assert same_state(a, SRCNN(features=(8, 4)))
