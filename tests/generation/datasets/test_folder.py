import numpy as np
import pytest
import torch

from generation.datasets import DatasetError, ImageFolder
from tests.generation.datasets.helpers import solid, write_image


def test_items_have_the_requested_shape_range_and_dtype(tmp_path):
    write_image(tmp_path / "wide.png", np.random.default_rng(0).integers(0, 256, (20, 40, 3)))
    write_image(tmp_path / "grey.png", np.full((30, 30), 128), "L")
    write_image(tmp_path / "sub" / "photo.jpg", solid(50, 30, (10, 200, 30)))
    dataset = ImageFolder(tmp_path, 16)
    assert len(dataset) == 3
    for index in range(3):
        item = dataset[index]
        assert item.shape == (3, 16, 16) and item.dtype == torch.float32
        assert item.min() >= -1 and item.max() <= 1
    assert dataset.as_tensor().shape == (3, 3, 16, 16)


def test_colours_map_exactly_onto_minus_one_to_one(tmp_path):
    write_image(tmp_path / "red.png", solid(8, 8, (255, 0, 0)))
    item = ImageFolder(tmp_path, 8)[0]
    assert torch.equal(item[:, 0, 0], torch.tensor([1.0, -1.0, -1.0]))


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)  # fully transparent black
    write_image(tmp_path / "clear.png", rgba, "RGBA")
    assert torch.all(ImageFolder(tmp_path, 8)[0] == 1.0)


def test_grey_gives_one_channel_and_grey_images_read_as_equal_rgb(tmp_path):
    write_image(tmp_path / "g.png", np.tile(np.arange(0, 256, 32, dtype=np.uint8), (8, 1)), "L")
    grey = ImageFolder(tmp_path, 8, channels=1)[0]
    rgb = ImageFolder(tmp_path, 8)[0]
    assert grey.shape == (1, 8, 8)
    assert torch.equal(rgb[0], rgb[1]) and torch.equal(rgb[1], rgb[2]) and torch.equal(rgb[0], grey[0])


def test_centre_crop_keeps_the_middle_of_a_wide_image(tmp_path):
    image = solid(20, 60, (255, 0, 0))
    image[:, 20:40] = (0, 0, 255)  # only the middle third is blue
    write_image(tmp_path / "wide.png", image)
    item = ImageFolder(tmp_path, 10)[0]
    assert torch.allclose(item[:, 5, 5], torch.tensor([-1.0, -1.0, 1.0]), atol=0.05)
    squashed = ImageFolder(tmp_path, 10, crop="none")[0]
    assert squashed[0, 5, 0] > 0.9  # a plain resize keeps the red edge


def test_files_are_found_recursively_in_sorted_order_skipping_others(tmp_path):
    for name in ("b.png", "a.PNG", "sub/c.jpg", "sub/a.webp", ".hidden.png", ".cache/x.png"):
        write_image(tmp_path / name, solid(4, 4, (1, 2, 3)))
    (tmp_path / "notes.txt").write_text("not an image")
    dataset = ImageFolder(tmp_path, 4)
    assert dataset.relative_names() == ["a.PNG", "b.png", "sub/a.webp", "sub/c.jpg"]
    assert dataset.labels() == ["", "", "sub", "sub"]


def test_decoded_items_are_cached(tmp_path):
    write_image(tmp_path / "a.png", solid(4, 4, (1, 2, 3)))
    dataset = ImageFolder(tmp_path, 4)
    assert dataset[0] is dataset[0]
    stacked = dataset.as_tensor()
    assert dataset.as_tensor() is stacked and torch.equal(dataset[0], stacked[0])


def test_missing_and_empty_folders_are_refused(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        ImageFolder(tmp_path / "nowhere", 8)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="no images"):
        ImageFolder(tmp_path, 8)


def test_a_corrupt_image_is_named(tmp_path):
    write_image(tmp_path / "good.png", solid(4, 4, (1, 2, 3)))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    dataset = ImageFolder(tmp_path, 4)
    with pytest.raises(DatasetError, match="broken.png"):
        dataset.as_tensor()


@pytest.mark.parametrize("kwargs", [{"channels": 2}, {"crop": "random"}, {"size": 0}])
def test_bad_arguments_are_refused(tmp_path, kwargs):
    write_image(tmp_path / "a.png", solid(4, 4, (1, 2, 3)))
    with pytest.raises(DatasetError):
        ImageFolder(tmp_path, **{"size": 4, **kwargs})
