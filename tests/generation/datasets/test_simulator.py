import numpy as np
import pytest

from generation.datasets import simulate_digit


def test_same_seed_same_image_and_seeds_differ():
    first = simulate_digit(7)
    assert first.dtype == np.uint8 and first.shape == (28, 28)
    assert np.array_equal(first, simulate_digit(7))
    images = [simulate_digit(seed).tobytes() for seed in range(50)]
    assert len(set(images)) == 50


def test_digits_are_white_on_black_and_centred_like_mnist():
    for seed in range(20):
        image = simulate_digit(seed, digit=seed % 10).astype(np.float64)
        assert image.max() > 200
        assert image[0].max() == image[-1].max() == image[:, 0].max() == image[:, -1].max() == 0
        rows, cols = np.indices(image.shape)
        centre = ((rows * image).sum() / image.sum(), (cols * image).sum() / image.sum())
        assert abs(centre[0] - 14) < 2.5 and abs(centre[1] - 14) < 2.5


def test_the_digit_argument_changes_the_glyph_not_the_style():
    drawn = [simulate_digit(3, digit=digit) for digit in range(10)]
    assert len({image.tobytes() for image in drawn}) == 10
    with pytest.raises(ValueError, match="0-9"):
        simulate_digit(3, digit=10)
