"""generation.imaging: pure, so no database."""
import io
import zipfile

import pytest
from PIL import Image, ImageCms, ImageFile, PngImagePlugin

from generation.imaging import (
    BadImage,
    BadSource,
    canonical_png,
    iter_source,
    pool_fingerprint,
)
from tests.generation.helpers import encode, png_chunk_types, png_claiming_size, zip_bytes
from tests.images import image_bytes

MAX = 4096 * 4096
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def reason(data: bytes, name: str = "cat.png", max_pixels: int = MAX) -> str:
    with pytest.raises(BadImage) as caught:
        canonical_png(data, name=name, max_pixels=max_pixels)
    assert caught.value.name == name
    assert str(caught.value).startswith(f"{name}: ")
    return caught.value.reason


def opened(png: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(png))
    im.load()
    return im


# --- bad images --------------------------------------------------------------------------------------


def test_zero_bytes_refused():
    assert reason(b"", "empty.png") == "empty file (0 bytes)"


def test_garbage_named_png_refused():
    assert reason(b"these are my notes\n" * 20, "notes.png") == "not a PNG, JPEG or WebP image"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_image_refused(fmt, keep):
    data = image_bytes(fmt, size=(64, 64), seed=3)
    assert reason(data[: int(len(data) * keep)]) == "truncated image data"


def test_truncated_webp_refused():
    data = image_bytes("WEBP", size=(64, 64), seed=3, lossless=True)
    with pytest.raises(BadImage):
        canonical_png(data[: len(data) // 2], name="cat.webp", max_pixels=MAX)


def test_damaged_png_chunk_refused():
    data = bytearray(image_bytes("PNG", size=(32, 32), seed=1))
    data[50] ^= 0xFF  # inside the IDAT chunk: its CRC no longer matches
    assert reason(bytes(data)).startswith(("damaged image data", "truncated"))


def test_gif_refused():
    assert reason(image_bytes("GIF"), "anim.gif") == "not a PNG, JPEG or WebP image"


def test_animated_png_refused():
    frames = [Image.new("RGB", (4, 4), (i * 60, 0, 0)) for i in range(3)]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    assert reason(data) == "animated images are not supported"


def test_decompression_bomb_refused_before_decoding():
    # The header claims 5000×5000, the data holds one pixel: only a check made before decoding says "pixels".
    assert reason(png_claiming_size(5000, 5000), "huge.png") == (
        "5000×5000 pixels exceeds the limit of 16,777,216 pixels (decompression bomb?)"
    )


def test_decompression_bomb_over_pillows_own_limit_refused():
    message = reason(png_claiming_size(20000, 20000), "huge.png")
    assert "exceeds the limit of 16,777,216 pixels (decompression bomb?)" in message


def test_max_pixels_argument_is_the_limit():
    data = image_bytes("PNG", size=(16, 16))
    assert reason(data, max_pixels=255) == "16×16 pixels exceeds the limit of 255 pixels (decompression bomb?)"
    assert canonical_png(data, name="ok.png", max_pixels=256).width == 16


def test_damaged_colour_profile_refused():
    data = encode(Image.new("RGB", (4, 4)), "PNG", icc_profile=b"not a profile")
    assert reason(data) == "damaged embedded colour (ICC) profile"


def test_refuses_to_run_when_truncated_images_would_load(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        canonical_png(image_bytes("PNG"), name="a.png", max_pixels=MAX)


# --- canonical output ---------------------------------------------------------------------------------


def test_jpeg_with_exif_becomes_bare_rgb_png():
    exif = Image.Exif()
    exif[0x0110] = "GAN camera 3000"  # Model
    exif[0x0131] = "stylegan-export"  # Software
    out = canonical_png(image_bytes("JPEG", size=(8, 8), exif=exif.tobytes()), name="a.jpg", max_pixels=MAX)
    assert png_chunk_types(out.png) == ["IHDR", "IDAT", "IEND"]
    im = opened(out.png)
    assert (im.format, im.mode, im.size) == ("PNG", "RGB", (8, 8))
    assert im.info == {}
    assert not im.getexif()


def test_rgba_png_with_text_icc_and_dpi_becomes_bare_rgb_png():
    text = PngImagePlugin.PngInfo()
    text.add_text("parameters", "model=dcgan epoch=6000")
    rgba = Image.new("RGBA", (8, 8), (10, 20, 30, 128))
    data = encode(rgba, "PNG", pnginfo=text, icc_profile=SRGB_ICC, dpi=(300, 300))
    out = canonical_png(data, name="a.png", max_pixels=MAX)
    assert png_chunk_types(out.png) == ["IHDR", "IDAT", "IEND"]
    im = opened(out.png)
    assert im.mode == "RGB"
    assert im.info == {}  # no text, exif, icc_profile, dpi
    assert out.png == encode(im, "PNG", compress_level=6)  # re-encoding gives the same bytes: nothing hidden


def test_transparent_pixels_land_on_the_fixed_background():
    rgba = Image.new("RGBA", (2, 2), (255, 0, 0, 0))
    assert opened(canonical_png(encode(rgba, "PNG"), name="a.png", max_pixels=MAX).png).getpixel((0, 0)) == (
        255,
        255,
        255,
    )


def test_palette_with_transparency_is_flattened():
    p = Image.new("P", (2, 2), 0)
    p.putpalette([0, 0, 0, 255, 0, 0])
    p.putpixel((1, 1), 1)
    im = opened(canonical_png(encode(p, "PNG", transparency=0), name="p.png", max_pixels=MAX).png)
    assert im.mode == "RGB"
    assert im.getpixel((0, 0)) == (255, 255, 255)
    assert im.getpixel((1, 1)) == (255, 0, 0)


def test_16_bit_greyscale_is_scaled_not_clipped():
    grey = Image.new("I;16", (2, 1))
    grey.putpixel((0, 0), 65535)
    grey.putpixel((1, 0), 32768)
    im = opened(canonical_png(encode(grey, "PNG"), name="g.png", max_pixels=MAX).png)
    assert im.getpixel((0, 0)) == (255, 255, 255)
    assert im.getpixel((1, 0)) == (128, 128, 128)


def test_exif_orientation_is_applied():
    two_by_one = Image.new("RGB", (2, 1), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    out = canonical_png(encode(two_by_one, "JPEG", exif=exif.tobytes()), name="photo.jpg", max_pixels=MAX)
    assert (out.width, out.height) == (1, 2)
    assert opened(out.png).size == (1, 2)


def test_same_pixels_from_png_and_lossless_webp_give_the_same_file():
    from_png = canonical_png(image_bytes("PNG", size=(32, 32), seed=7), name="a.png", max_pixels=MAX)
    from_webp = canonical_png(
        image_bytes("WEBP", size=(32, 32), seed=7, lossless=True), name="a.webp", max_pixels=MAX
    )
    assert from_png.png == from_webp.png
    assert from_png.sha256 == from_webp.sha256


def test_srgb_tagged_image_matches_the_untagged_one():
    img = image_bytes("PNG", size=(16, 16), seed=4)
    tagged = encode(Image.open(io.BytesIO(img)), "PNG", icc_profile=SRGB_ICC)
    plain = canonical_png(img, name="a.png", max_pixels=MAX)
    assert canonical_png(tagged, name="b.png", max_pixels=MAX).sha256 == plain.sha256


def test_sha256_is_of_the_png_bytes():
    import hashlib

    out = canonical_png(image_bytes("JPEG", size=(8, 8)), name="a.jpg", max_pixels=MAX)
    assert out.sha256 == hashlib.sha256(out.png).hexdigest()


def test_pool_fingerprint_ignores_order():
    assert pool_fingerprint(["b" * 64, "a" * 64]) == pool_fingerprint(["a" * 64, "b" * 64])
    assert pool_fingerprint(["a" * 64]) != pool_fingerprint(["b" * 64])


# --- sources ------------------------------------------------------------------------------------------


def entries(source, max_files=100, max_bytes=10**8):
    return list(iter_source(source, max_files=max_files, max_bytes=max_bytes))


def test_folder_is_read_recursively_and_sorted(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.png").write_bytes(image_bytes(seed=1))
    (tmp_path / "a.jpg").write_bytes(image_bytes("JPEG"))
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_bytes(b"ref")
    (tmp_path / "notes.txt").write_text("hello")
    found = entries(tmp_path)
    assert [(e.name, e.ignored, bool(e.problem)) for e in found] == [
        (".DS_Store", True, False),
        (".git/", True, False),
        ("a.jpg", False, False),
        ("b/z.png", False, False),
        ("notes.txt", False, True),
    ]
    assert found[-1].problem.startswith("unsupported file type")
    assert found[3].data == image_bytes(seed=1)
    assert {e.total for e in found} == {5}


def test_single_image_file(tmp_path):
    path = tmp_path / "one.webp"
    path.write_bytes(image_bytes("WEBP"))
    [entry] = entries(path)
    assert (entry.name, entry.data, entry.total) == ("one.webp", path.read_bytes(), 1)


def test_missing_source_refused(tmp_path):
    with pytest.raises(BadSource, match="no such file or folder"):
        entries(tmp_path / "nowhere")


def test_zip_is_read_in_memory(tmp_path):
    path = tmp_path / "pool.zip"
    path.write_bytes(
        zip_bytes(
            {
                "imgs/": b"",
                "imgs/b.png": image_bytes(seed=2),
                "imgs/a.png": image_bytes(seed=1),
                "__MACOSX/imgs/._a.png": b"resource fork",
                "imgs/.DS_Store": b"junk",
            }
        )
    )
    found = entries(path)
    assert [(e.name, e.ignored) for e in found] == [
        ("__MACOSX/imgs/._a.png", True),
        ("imgs/.DS_Store", True),
        ("imgs/a.png", False),
        ("imgs/b.png", False),
    ]
    assert found[2].data == image_bytes(seed=1)
    assert not list(tmp_path.glob("imgs*"))  # nothing extracted


@pytest.mark.parametrize("unsafe", ["../evil.png", "/abs.png", "a/../../evil.png", "C:/win.png", "dir\\evil.png"])
def test_zip_entries_with_unsafe_paths_are_bad_input(tmp_path, unsafe):
    path = tmp_path / "pool.zip"
    path.write_bytes(zip_bytes({unsafe: image_bytes(), "ok.png": image_bytes(seed=1)}))
    found = {e.name: e for e in entries(path)}
    assert found[unsafe].problem.startswith("unsafe path in zip")
    assert found[unsafe].data == b""
    assert found["ok.png"].data


def test_zip_with_unsupported_file_type_is_bad_input(tmp_path):
    path = tmp_path / "pool.zip"
    path.write_bytes(zip_bytes({"a.gif": image_bytes("GIF")}))
    [entry] = entries(path)
    assert entry.problem.startswith("unsupported file type")


def test_zip_bomb_refused_before_reading(tmp_path):
    path = tmp_path / "bomb.zip"
    path.write_bytes(zip_bytes({"big.png": bytes(20_000_000)}))
    assert path.stat().st_size < 100_000
    with pytest.raises(BadSource, match=r"20,000,000 bytes .* exceeds the limit of 1,000,000 bytes \(zip bomb\?\)"):
        entries(path, max_bytes=1_000_000)


def test_too_many_entries_refused(tmp_path):
    path = tmp_path / "many.zip"
    path.write_bytes(zip_bytes({f"{i}.png": b"x" for i in range(11)}))
    with pytest.raises(BadSource, match="11 files exceeds the limit of 10 files"):
        entries(path, max_files=10)


def test_folder_limits_apply_too(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(image_bytes(seed=i))
    with pytest.raises(BadSource, match="3 files exceeds the limit of 2 files"):
        entries(tmp_path, max_files=2)


def test_not_a_zip_refused(tmp_path):
    path = tmp_path / "pool.zip"
    path.write_bytes(b"PK but not really")
    with pytest.raises(BadSource, match="pool.zip: not a valid zip file"):
        entries(path)


def test_damaged_zip_entry_is_bad_input(tmp_path):
    data = bytearray(zip_bytes({"a.png": image_bytes(size=(64, 64), seed=5)}, compression=zipfile.ZIP_STORED))
    data[100] ^= 0xFF  # inside the stored data: the CRC check fails on reading
    path = tmp_path / "pool.zip"
    path.write_bytes(bytes(data))
    [entry] = entries(path)
    assert entry.problem.startswith("damaged zip entry")
