import numpy as np
import pytest
import torch
from PIL import Image

from generation.datasets import DatasetError, PairedLayouts
from generation.datasets.paired import CITYSCAPES_CLASSES
from tests.generation.datasets.helpers import solid, write_image


def stripes(height, width, ids):
    """A label map of vertical stripes, one per id, left to right."""
    columns = np.repeat(np.array(ids, dtype=np.uint8), width // len(ids))
    return np.tile(columns, (height, 1))


def plain_folder(root, layouts, photo_suffix=".png"):
    """Form (a): layouts/NAME.png + photos/NAME<suffix>, photos of the layouts' size."""
    for name, layout in layouts.items():
        write_image(root / "layouts" / f"{name}.png", layout, "L")
        write_image(root / "photos" / f"{name}{photo_suffix}", solid(*layout.shape, (200, 100, 50)))
    return root


def cityscapes_folder(root, split, city, stems, layout):
    """Form (b): Cityscapes' gtFine labelIds + leftImg8bit file names."""
    for stem in stems:
        write_image(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", layout, "L")
        write_image(root / "gtFine" / split / city / f"{stem}_gtFine_color.png", solid(*layout.shape, (0, 0, 0)))
        write_image(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", solid(*layout.shape, (9, 9, 9)))
    return root


def test_plain_form_gives_int64_layouts_and_photos(tmp_path):
    plain_folder(tmp_path, {"b": stripes(8, 16, [0, 2]), "a": stripes(8, 16, [1, 4])}, ".jpg")
    dataset = PairedLayouts(tmp_path, 4, 8)
    layout, photo = dataset[0]
    assert len(dataset) == 2 and dataset.names() == ["layouts/a.png", "layouts/b.png"]
    assert layout.shape == (4, 8) and layout.dtype == torch.int64
    assert photo.shape == (3, 4, 8) and photo.dtype == torch.float32 and photo.abs().max() <= 1
    assert dataset.num_classes == 5  # largest id found + 1


def test_nearest_resizing_keeps_ids_down_and_up(tmp_path):
    plain_folder(tmp_path, {"a": stripes(16, 32, [0, 3, 5, 7])})
    for height, width in ((4, 8), (8, 16), (32, 64)):
        layout, _ = PairedLayouts(tmp_path, height, width)[0]
        assert set(layout.unique().tolist()) == {0, 3, 5, 7}
    layout, _ = PairedLayouts(tmp_path, 4, 8)[0]
    assert layout[0].tolist() == [0, 0, 3, 3, 5, 5, 7, 7]


def test_palette_layouts_are_read_as_indices_not_colours(tmp_path):
    layout = Image.fromarray(stripes(8, 16, [0, 1]), "L").convert("P")
    layout.putpalette([255, 255, 255, 10, 20, 30] + [0] * 762)
    (tmp_path / "layouts").mkdir()
    layout.save(tmp_path / "layouts" / "a.png")
    write_image(tmp_path / "photos" / "a.png", solid(8, 16, (1, 2, 3)))
    ids, _ = PairedLayouts(tmp_path, 8, 16)[0]
    assert set(ids.unique().tolist()) == {0, 1}


def test_other_aspects_are_centre_cropped_and_small_layouts_scaled(tmp_path):
    write_image(tmp_path / "layouts" / "a.png", stripes(8, 8, [1, 2, 3, 4]), "L")  # half the photo's resolution
    photo = solid(16, 16, (0, 0, 0))
    photo[:, 4:12] = (255, 255, 255)
    write_image(tmp_path / "photos" / "a.png", photo)
    layout, image = PairedLayouts(tmp_path, 4, 4)[0]  # a square crop of a square: the whole image
    assert layout[0].tolist() == [1, 2, 3, 4]
    layout, image = PairedLayouts(tmp_path, 2, 4)[0]  # 1:2 aspect: full width, middle half of the rows
    assert layout[0].tolist() == [1, 2, 3, 4] and image.shape == (3, 2, 4)


def test_cityscapes_form_defaults_to_34_classes_and_reads_the_split(tmp_path):
    layout = stripes(16, 32, [7, 26])
    cityscapes_folder(tmp_path, "train", "aachen", ["aachen_000000_000019", "aachen_000001_000019"], layout)
    cityscapes_folder(tmp_path, "val", "lindau", ["lindau_000000_000019"], layout)
    train = PairedLayouts(tmp_path, 8, 16)
    assert len(train) == 2 and train.num_classes == CITYSCAPES_CLASSES == 34
    assert train.names()[0] == "gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png"
    val = PairedLayouts(tmp_path, 8, 16, split="val")
    assert len(val) == 1 and set(val[0][0].unique().tolist()) == {7, 26}


def test_ids_beyond_num_classes_name_the_file(tmp_path):
    plain_folder(tmp_path, {"ok": stripes(8, 16, [0, 1]), "bad": stripes(8, 16, [0, 5])})
    with pytest.raises(DatasetError, match=r"bad\.png holds id 5.*num_classes is 3"):
        PairedLayouts(tmp_path, 4, 8, num_classes=3)
    assert PairedLayouts(tmp_path, 4, 8, num_classes=6).num_classes == 6


def test_a_bad_id_lost_by_resizing_is_still_found(tmp_path):
    layout = np.zeros((16, 32), dtype=np.uint8)
    layout[5, 5] = 9  # one pixel that nearest downsampling to 2x4 is likely to skip
    plain_folder(tmp_path, {"a": layout})
    with pytest.raises(DatasetError, match="holds id 9"):
        PairedLayouts(tmp_path, 2, 4, num_classes=4)


def test_colour_layouts_are_refused(tmp_path):
    write_image(tmp_path / "layouts" / "a.png", solid(8, 16, (1, 2, 3)))
    write_image(tmp_path / "photos" / "a.png", solid(8, 16, (1, 2, 3)))
    with pytest.raises(DatasetError, match="not single-channel"):
        PairedLayouts(tmp_path, 4, 8)


def test_missing_partners_and_unknown_folders_are_refused(tmp_path):
    write_image(tmp_path / "plain" / "layouts" / "lonely.png", stripes(8, 16, [0, 1]), "L")
    (tmp_path / "plain" / "photos").mkdir()
    with pytest.raises(DatasetError, match="lonely.png has no photo"):
        PairedLayouts(tmp_path / "plain", 4, 8)
    write_image(tmp_path / "city" / "gtFine" / "train" / "x" / "s_gtFine_labelIds.png", stripes(8, 16, [0, 1]), "L")
    with pytest.raises(DatasetError, match="s_leftImg8bit.png"):
        PairedLayouts(tmp_path / "city", 4, 8)
    (tmp_path / "neither").mkdir()
    with pytest.raises(DatasetError, match="neither layouts/"):
        PairedLayouts(tmp_path / "neither", 4, 8)
    with pytest.raises(DatasetError, match="does not exist"):
        PairedLayouts(tmp_path / "nowhere", 4, 8)
