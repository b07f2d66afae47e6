"""Byte-level helpers for the generation tests: zips, PNG chunks and forged PNG headers."""
import io
import struct
import zipfile
import zlib

from PIL import Image


def zip_bytes(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buf.getvalue()


def png_chunk_types(png: bytes) -> list[str]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    types, i = [], 8
    while i < len(png):
        (length,) = struct.unpack(">I", png[i : i + 4])
        types.append(png[i + 4 : i + 8].decode("ascii"))
        i += 12 + length
    return types


def png_claiming_size(width: int, height: int) -> bytes:
    """A 1×1 PNG whose IHDR (with a valid CRC) claims ``width``×``height``: a decompression bomb's header."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    png = buf.getvalue()
    ihdr = bytearray(png[8:33])  # length, "IHDR", 13 bytes of data, CRC
    ihdr[8:16] = struct.pack(">II", width, height)
    ihdr[21:25] = struct.pack(">I", zlib.crc32(bytes(ihdr[4:21])))
    return png[:8] + bytes(ihdr) + png[33:]


def encode(im: Image.Image, fmt: str, **save_args) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **save_args)
    return buf.getvalue()
