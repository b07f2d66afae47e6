import numpy as np
import pytest
import torch

from generation.datasets import DatasetError, Unpaired
from tests.generation.datasets.helpers import write_image


def digits_like(root, synthetic=3, real=5):
    for index in range(synthetic):
        write_image(root / "synthetic" / f"{index}.png", np.full((12, 12), 40 * index), "L")
    for index in range(real):
        write_image(root / "real" / str(index % 2) / f"{index}.png", np.full((28, 28), 255), "L")
    return root


def test_two_independent_folders_at_one_size(tmp_path):
    pair = Unpaired.from_root(digits_like(tmp_path), 8)
    assert len(pair.synthetic) == 3 and len(pair.real) == 5
    assert pair.synthetic[0].shape == (1, 8, 8) and pair.real.as_tensor().shape == (5, 1, 8, 8)
    assert Unpaired(tmp_path / "synthetic", tmp_path / "real", 8, channels=3).real[0].shape == (3, 8, 8)


def test_synthetic_at_wraps_around(tmp_path):
    pair = Unpaired.from_root(digits_like(tmp_path), 8)
    assert torch.equal(pair.synthetic_at(4), pair.synthetic[1])
    assert not torch.equal(pair.synthetic_at(1), pair.synthetic_at(2))


def test_missing_sides_are_named(tmp_path):
    (tmp_path / "synthetic").mkdir()
    with pytest.raises(DatasetError, match="missing: real"):
        Unpaired.from_root(tmp_path, 8)
    with pytest.raises(DatasetError, match="no images"):
        Unpaired(tmp_path / "synthetic", tmp_path / "synthetic", 8)
