"""Checking and canonicalising images from untrusted sources. Pure: Pillow and the standard library only.

Every accepted image leaves here as an RGB PNG without any metadata, encoded the same way, so that
nothing about a stored file (format, EXIF, colour profile, size on disk) tells a participant where it
came from. What a participant's browser receives is re-encoded once more (``served_png``): scaled to
its survey's one size, and stored uncompressed, so that the byte length is the same for every image
of that size however compressible (photo-like or smooth) its pixels are. Reading a source (folder,
zip, single file) is here too, with the limits that keep a hostile zip from exhausting memory.
"""
from __future__ import annotations

import hashlib
import io
import os
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from PIL import Image, ImageCms, ImageFile, ImageOps

FORMATS = ("PNG", "JPEG", "WEBP")
EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp"})
# Transparent pixels are shown on this colour everywhere, so transparency cannot tell sources apart.
ALPHA_BACKGROUND = (255, 255, 255)
PNG_COMPRESS_LEVEL = 6
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Litter that operating systems add to folders and zips; skipped, and reported as ignored.
OS_LITTER = frozenset({"__macosx", "thumbs.db", "desktop.ini"})
_UNSAFE_PATH = "unsafe path in zip (absolute, drive letter, backslash or '..')"
_ICC_SPACE_TO_MODE = {"RGB": "RGB", "GRAY": "L", "CMYK": "CMYK"}


class BadImage(Exception):
    """One input file that cannot become a pool image; the message names the file."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class BadSource(Exception):
    """The source as a whole is unusable (missing, not a zip, over the limits): nothing is read."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class _Unsupported(Exception):
    """Raised inside canonicalisation; its message is the whole reason shown to the researcher."""


class CanonicalImage(NamedTuple):
    png: bytes
    sha256: str
    width: int
    height: int


@dataclass(frozen=True)
class SourceEntry:
    """One file of a source: its bytes, or why it is bad input, or that it is ignored.

    ``total`` is the number of entries the source yields, for progress reports (0: unknown).
    """

    name: str
    total: int = 0
    data: bytes = b""
    problem: str = ""
    ignored: bool = False
    seed: int | None = None  # images sampled by our own models: the seed that reproduces it


# --- one image -------------------------------------------------------------------------------------


def canonical_png(data: bytes, *, name: str, max_pixels: int) -> CanonicalImage:
    """Fully decode ``data`` and re-encode it as a metadata-free RGB PNG; raise ``BadImage`` if it is not a
    complete PNG, JPEG or WebP image of at most ``max_pixels`` pixels."""
    if not data:
        raise BadImage(name, "empty file (0 bytes)")
    _require_truncation_detection()
    with warnings.catch_warnings():
        # Our own max_pixels check below replaces Pillow's warning; Pillow's hard error still applies.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = _open_verified(data, name=name, max_pixels=max_pixels)
        rgb = _decoded(lambda: _canonical_rgb(im), name=name)
    png = _encode_png(rgb)
    return CanonicalImage(png, hashlib.sha256(png).hexdigest(), rgb.width, rgb.height)


def pool_fingerprint(sha256s: Iterable[str]) -> str:
    """Identifies a pool's content, whatever the file names and the order of import."""
    return hashlib.sha256("\n".join(sorted(sha256s)).encode("ascii")).hexdigest()


def _require_truncation_detection() -> None:
    # Some ML code sets this process-wide flag; with it on, a truncated file would load as a partly grey
    # image instead of failing, so refuse to work rather than import damaged images silently.
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on: truncated images cannot be detected")


def _open_verified(data: bytes, *, name: str, max_pixels: int) -> Image.Image:
    """Open twice: ``verify()`` checks the container (chunk CRCs) and leaves the image unusable,
    then a second open whose full ``load()`` decodes every pixel."""
    im = _open(data, name=name, max_pixels=max_pixels)
    _check_pixels(im, name=name, max_pixels=max_pixels)
    # Animated PNG/WebP would show only their first frame; a JPEG's extra MPO frames are mere previews.
    if im.format in ("PNG", "WEBP") and getattr(im, "is_animated", False):
        raise BadImage(name, "animated images are not supported")
    _decoded(im.verify, name=name)
    im = _open(data, name=name, max_pixels=max_pixels)
    _decoded(im.load, name=name)
    return im


def _open(data: bytes, *, name: str, max_pixels: int) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.UnidentifiedImageError:
        raise BadImage(name, "not a PNG, JPEG or WebP image") from None
    except Image.DecompressionBombError:
        # Pillow's own hard limit fired first, before the size was known to us.
        reason = f"over {2 * Image.MAX_IMAGE_PIXELS:,} pixels exceeds the limit of {max_pixels:,} pixels"
        raise BadImage(name, f"{reason} (decompression bomb?)") from None
    except Exception as exc:  # a header Pillow recognised but could not parse
        raise _damaged(name, exc) from None


def _check_pixels(im: Image.Image, *, name: str, max_pixels: int) -> None:
    # Before any decoding: the header alone says how much memory the pixels would take.
    if im.width * im.height > max_pixels:
        raise BadImage(
            name, f"{im.width}×{im.height} pixels exceeds the limit of {max_pixels:,} pixels (decompression bomb?)"
        )


def _decoded(step, *, name: str):
    """Run a Pillow step on untrusted data, turning whatever it raises into ``BadImage``."""
    try:
        return step()
    except BadImage:
        raise
    except _Unsupported as exc:
        raise BadImage(name, str(exc)) from None
    except Image.DecompressionBombError:
        raise BadImage(name, "too many pixels (decompression bomb?)") from None
    # Pillow reports bad data as OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error,
    # ImageCms.PyCMSError...: for untrusted input every one of them means "bad file".
    except Exception as exc:
        raise _damaged(name, exc) from None


def _damaged(name: str, exc: Exception) -> BadImage:
    detail = str(exc) or type(exc).__name__
    if "truncated" in detail.lower() or isinstance(exc, EOFError):
        return BadImage(name, "truncated image data")
    return BadImage(name, f"damaged image data ({detail})")


def _canonical_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    im = ImageOps.exif_transpose(im)
    im = _to_8_bit(im)
    im = _flatten_alpha(im)
    if icc:
        im = _to_srgb(im, icc)
    return im.convert("RGB")


def _to_8_bit(im: Image.Image) -> Image.Image:
    # 16-bit greyscale opens as I;16 / I; convert("L") would clip at 255 instead of scaling.
    if im.mode.startswith("I;16") or im.mode == "I":
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if im.mode == "F":
        return im.point(lambda v: v * 255).convert("L")
    return im


def _flatten_alpha(im: Image.Image) -> Image.Image:
    if "transparency" in im.info or im.mode in ("PA", "LA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode != "RGBA":
        return im
    background = Image.new("RGBA", im.size, (*ALPHA_BACKGROUND, 255))
    return Image.alpha_composite(background, im).convert("RGB")


def _to_srgb(im: Image.Image, icc: bytes) -> Image.Image:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, TypeError):
        raise _Unsupported("damaged embedded colour (ICC) profile") from None
    space = source.profile.xcolor_space.strip()
    mode = _ICC_SPACE_TO_MODE.get(space)
    if mode is None:
        raise _Unsupported(f"unsupported colour profile space {space!r} (expected RGB, grey or CMYK)")
    if im.mode != mode:
        im = im.convert(mode)
    srgb = ImageCms.createProfile("sRGB")
    return ImageCms.profileToProfile(im, source, srgb, outputMode="RGB")


def _encode_png(rgb: Image.Image) -> bytes:
    # A fresh image carries no info dict, so Pillow cannot copy an ICC profile, text or dpi into the file.
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    buf = io.BytesIO()
    clean.save(buf, "PNG", compress_level=PNG_COMPRESS_LEVEL, optimize=False)
    return buf.getvalue()


# --- what participants receive ---------------------------------------------------------------------


def served_png(png: bytes, *, size: tuple[int, int]) -> bytes:
    """A stored pool image as a browser receives it: decoded to pixels, fitted to ``size`` (scaled, and
    centred on the ALPHA_BACKGROUND colour when its aspect ratio differs), and written by
    ``uniform_png``. Everything about the result but the pixels is a function of ``size`` alone."""
    with Image.open(io.BytesIO(png), formats=("PNG",)) as im:
        rgb = im.convert("RGB")
    if rgb.size != tuple(size):
        rgb = ImageOps.pad(rgb, tuple(size), method=Image.Resampling.LANCZOS, color=ALPHA_BACKGROUND)
    return uniform_png(rgb)


def uniform_png(rgb: Image.Image) -> bytes:
    """An 8-bit RGB PNG of exactly three chunks (IHDR, one IDAT, IEND) whose image data is stored, not
    compressed: its length depends on width and height only. Compressed, a photo takes more bytes than
    a smooth generated image of the same size, and Content-Length alone would tell them apart."""
    width, height = rgb.size
    pixels = rgb.convert("RGB").tobytes()
    stride = 3 * width
    # Filter type 0 (none) before every row, as the PNG format requires a filter byte per row.
    raw = b"".join(b"\x00" + pixels[row * stride:(row + 1) * stride] for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit, truecolour, no interlace
    chunks = (_chunk(b"IHDR", header), _chunk(b"IDAT", zlib.compress(raw, 0)), _chunk(b"IEND", b""))
    return PNG_SIGNATURE + b"".join(chunks)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def uniform_png_length(width: int, height: int) -> int:
    """The byte length of every ``uniform_png`` of this size (for tests and the bench)."""
    return len(uniform_png(Image.new("RGB", (width, height))))


# --- sources ---------------------------------------------------------------------------------------


def iter_source(source: Path, *, max_files: int, max_bytes: int) -> Iterator[SourceEntry]:
    """The entries of a folder (recursive, sorted), a .zip (read in memory) or one image file.

    Limits are checked on the listing before any file is read; over them, ``BadSource`` is raised.
    """
    source = Path(source)
    if source.is_dir():
        yield from _iter_folder(source, max_files=max_files, max_bytes=max_bytes)
    elif source.is_file() and source.suffix.lower() == ".zip":
        yield from _iter_zip(source, max_files=max_files, max_bytes=max_bytes)
    elif source.is_file():
        _check_limits(source.name, files=1, size=source.stat().st_size, max_files=max_files, max_bytes=max_bytes)
        yield _file_entry(source.name, source, total=1)
    else:
        raise BadSource(str(source), "no such file or folder")


def _iter_folder(folder: Path, *, max_files: int, max_bytes: int) -> Iterator[SourceEntry]:
    ignored, files = _list_folder(folder)
    size = sum(path.stat().st_size for _, path in files if not _extension_problem(path.name))
    _check_limits(folder.name, files=len(files) + len(ignored), size=size, max_files=max_files, max_bytes=max_bytes)
    total = len(ignored) + len(files)
    for name in ignored:
        yield SourceEntry(name, total=total, ignored=True)
    for name, path in files:
        yield _file_entry(name, path, total=total)


def _list_folder(folder: Path) -> tuple[list[str], list[tuple[str, Path]]]:
    """(ignored names, [(name, path)]) sorted by name; hidden folders are pruned, not descended."""
    ignored, files = [], []
    for root, dirs, filenames in os.walk(folder):
        relative = PurePosixPath(Path(root).relative_to(folder).as_posix())
        for d in [d for d in dirs if _is_litter(d)]:
            dirs.remove(d)
            ignored.append(f"{relative / d}/")
        for filename in filenames:
            name = str(relative / filename)
            if _is_litter(filename):
                ignored.append(name)
            else:
                files.append((name, Path(root) / filename))
    return sorted(ignored), sorted(files)


def _file_entry(name: str, path: Path, *, total: int) -> SourceEntry:
    if problem := _extension_problem(name):
        return SourceEntry(name, total=total, problem=problem)
    try:
        return SourceEntry(name, total=total, data=path.read_bytes())
    except OSError as exc:
        return SourceEntry(name, total=total, problem=f"cannot read the file ({exc.strerror or exc})")


def _iter_zip(path: Path, *, max_files: int, max_bytes: int) -> Iterator[SourceEntry]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadSource(path.name, f"not a valid zip file ({exc})") from None
    with archive:
        infos, size = _zip_listing(archive)
        _check_limits(path.name, files=len(infos), size=size, max_files=max_files, max_bytes=max_bytes)
        for info in infos:
            yield _zip_entry(archive, info, total=len(infos))


def check_zip_limits(file, *, name: str, max_files: int, max_bytes: int) -> None:
    """Raise ``BadSource`` when the zip ``file`` (a path or a seekable file object) lists more files, or more
    bytes of image data, than an import accepts: the upload form refuses such a zip at once, from its
    listing alone, instead of storing it for an import that would refuse it later."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadSource(name, f"not a valid zip file ({exc})") from None
    with archive:
        infos, size = _zip_listing(archive)
    _check_limits(name, files=len(infos), size=size, max_files=max_files, max_bytes=max_bytes)


def _zip_listing(archive: zipfile.ZipFile) -> tuple[list[zipfile.ZipInfo], int]:
    """(the file entries sorted by name, the declared size of those that would be read)."""
    infos = sorted((i for i in archive.infolist() if not i.is_dir()), key=lambda i: i.filename)
    readable = [i for i in infos if not _zip_entry_ignored(i.filename) and not _zip_entry_problem(i)]
    return infos, sum(i.file_size for i in readable)


def _zip_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, total: int) -> SourceEntry:
    name = info.filename
    if _unsafe_zip_path(name):
        return SourceEntry(name, total=total, problem=_UNSAFE_PATH)
    if _zip_entry_ignored(name):
        return SourceEntry(name, total=total, ignored=True)
    if problem := _zip_entry_problem(info):
        return SourceEntry(name, total=total, problem=problem)
    try:
        # zipfile stops at the declared file_size, which the size limit above has already bounded.
        data = archive.read(info)
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, ValueError) as exc:
        return SourceEntry(name, total=total, problem=f"damaged zip entry ({exc})")
    return SourceEntry(name, total=total, data=data)


def _zip_entry_ignored(name: str) -> bool:
    return any(_is_litter(part) for part in name.split("/"))


def _unsafe_zip_path(name: str) -> bool:
    # Never extracted, but such a name is a sign of a crafted archive (zip slip), so refuse it loudly.
    return name.startswith("/") or "\\" in name or name[1:2] == ":" or ".." in name.split("/")


def _zip_entry_problem(info: zipfile.ZipInfo) -> str:
    if _unsafe_zip_path(info.filename):
        return _UNSAFE_PATH
    if info.flag_bits & 0x1:
        return "encrypted zip entry"
    return _extension_problem(info.filename)


def _is_litter(part: str) -> bool:
    return (part.startswith(".") and part not in (".", "..")) or part.lower() in OS_LITTER


def _extension_problem(name: str) -> str:
    if PurePosixPath(name).suffix.lower() in EXTENSIONS:
        return ""
    return "unsupported file type (expected .png, .jpg, .jpeg or .webp)"


def _check_limits(name: str, *, files: int, size: int, max_files: int, max_bytes: int) -> None:
    if files > max_files:
        raise BadSource(name, f"{files:,} files exceeds the limit of {max_files:,} files")
    if size > max_bytes:
        raise BadSource(name, f"{size:,} bytes of image data exceeds the limit of {max_bytes:,} bytes (zip bomb?)")
