"""KTX2 textures as RGBA8 images.

Basis Universal (ETC1S, UASTC) is transcoded by opengl_basisu. The other
formats glTF files carry are read here from the file's first image (level
0, layer 0, face 0), after its supercompression (zlib, or Zstandard with
the ``zstandard`` package): 8-bit and 16-bit normalized integers as stored
(the colour values a PNG holds), 16- and 32-bit floats as linear light
encoded to sRGB, and the BC1-BC5 and BC7 block formats through Pillow.
Formats are named by their Vulkan number (KTX2 ``vkFormat``).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from .colorspace import srgb_bytes
from .gltf import BASISU, GltfError, optional_module

MAGIC = b"\xabKTX 20\xbb\r\n\x1a\n"
BASIS_LZ, ZSTD, ZLIB = 1, 2, 3
#: vkFormat -> (channels, dtype, channel order) for the plain formats.
PLAIN = {
    9: (1, "u1", "R"), 15: (1, "u1", "R"), 16: (2, "u1", "RG"), 22: (2, "u1", "RG"),
    23: (3, "u1", "RGB"), 29: (3, "u1", "RGB"), 30: (3, "u1", "BGR"), 36: (3, "u1", "BGR"),
    37: (4, "u1", "RGBA"), 43: (4, "u1", "RGBA"), 44: (4, "u1", "BGRA"), 50: (4, "u1", "BGRA"),
    70: (1, "<u2", "R"), 77: (2, "<u2", "RG"), 84: (3, "<u2", "RGB"), 91: (4, "<u2", "RGBA"),
    76: (1, "<f2", "R"), 83: (2, "<f2", "RG"), 90: (3, "<f2", "RGB"), 97: (4, "<f2", "RGBA"),
    100: (1, "<f4", "R"), 103: (2, "<f4", "RG"), 106: (3, "<f4", "RGB"), 109: (4, "<f4", "RGBA"),
}
#: vkFormat -> Pillow's BCn decoder number (BC1 RGB/RGBA, BC2, BC3, BC4, BC5, BC7; UNORM and SRGB).
BLOCKS = {131: 1, 132: 1, 133: 1, 134: 1, 135: 2, 136: 2, 137: 3, 138: 3, 139: 4, 141: 5, 145: 7, 146: 7}
#: Most pixels of one KTX2 image (8K): its data may be supercompressed, so
#: that a 1 MB file of zeros once decoded an 8K image of floats in 12 GB.
MAX_PIXELS = 8192 * 8192
#: Rows of an image of plain values turned into bytes at once.
BAND = 256
DAMAGED = "has a KTX2 texture that does not decode: the file is damaged; export it again, or with PNG or JPEG textures"


def rgba(data: bytes) -> np.ndarray:
    """(h, w, 4) uint8 image of a KTX2 file; GltfError when it cannot be
    read, or holds more than MAX_PIXELS."""
    if data[:12] != MAGIC or len(data) < 104:
        raise GltfError(DAMAGED)
    vk_format, _, width, height = struct.unpack_from("<4I", data, 12)
    if pixels(data) > MAX_PIXELS:
        raise GltfError(f"has a KTX2 texture of {width:,} x {height:,} pixels, more than PartScope decodes (8,192 x "
                        "8,192): export it again with smaller textures")
    scheme = struct.unpack_from("<I", data, 44)[0]
    if scheme == BASIS_LZ or vk_format == 0:
        return _basis(data)
    offset, length, full = struct.unpack_from("<3Q", data, 80)  # level 0
    level = data[offset:offset + length]
    if width == 0 or height == 0 or len(level) < length:
        raise GltfError(DAMAGED)
    level = _inflate(level, scheme, full)
    if vk_format in PLAIN:
        return _plain(level, vk_format, width, height)
    if vk_format in BLOCKS:
        return _blocks(level, vk_format, width, height)
    raise GltfError(f"has a KTX2 texture in a format PartScope cannot decode (Vulkan format {vk_format}): "
                    "export it again with PNG, JPEG or Basis Universal textures")


def pixels(data: bytes) -> int:
    """Pixels of a KTX2 file's image, read from its header (0 where it has none)."""
    if len(data) < 28:
        return 0
    width, height = struct.unpack_from("<2I", data, 20)
    return width * height


def _basis(data: bytes) -> np.ndarray:
    opengl_basisu = optional_module("opengl_basisu", BASISU, "KTX2/Basis textures", "opengl-basisu==0.1.0a2")
    try:
        image = np.asarray(opengl_basisu.open(data).transcode(opengl_basisu.Target.RGBA8).data, np.uint8)
    except (ValueError, IndexError):
        raise GltfError(DAMAGED) from None
    return image.reshape(image.shape[0], image.shape[1], 4)


def _inflate(level: bytes, scheme: int, size: int) -> bytes:
    """A mip level without its supercompression."""
    if scheme == 0:
        return level
    if scheme not in (ZLIB, ZSTD):
        raise GltfError(DAMAGED)
    if scheme == ZSTD:
        zstandard = optional_module("zstandard", "KTX2 supercompression", "Zstandard-compressed textures",
                                    "zstandard==0.25.0")
    try:
        if scheme == ZLIB:
            return zlib.decompressobj().decompress(level, size)
        return zstandard.ZstdDecompressor().decompress(level, max_output_size=size)
    except Exception:  # zlib.error, zstandard.ZstdError: the data is damaged
        raise GltfError(DAMAGED) from None


def _plain(level: bytes, vk_format: int, width: int, height: int) -> np.ndarray:
    channels, dtype, order = PLAIN[vk_format]
    dtype = np.dtype(dtype)
    count = width * height * channels
    if len(level) < count * dtype.itemsize:
        raise GltfError(DAMAGED)
    stored = np.frombuffer(level, dtype, count).reshape(height, width, channels)
    out = np.zeros((height, width, 4), np.uint8)
    out[..., 3] = 255
    for top in range(0, height, BAND):  # a band at a time: floats of a whole 8K image would take gigabytes
        values = stored[top:top + BAND].astype(np.float32)
        if dtype.kind == "f":  # linear light: colours take the sRGB curve, alpha does not
            values = np.nan_to_num(values)
            colour, alpha = srgb_bytes(values), np.clip(values, 0.0, 1.0) * 255
        else:
            colour = alpha = values / 257.0 if dtype.itemsize == 2 else values
        for i, name in enumerate(order):
            band = (alpha if name == "A" else colour)[..., i]
            out[top:top + BAND, :, "RGBA".index(name)] = np.clip(np.round(band), 0, 255)
    return out


def _blocks(level: bytes, vk_format: int, width: int, height: int) -> np.ndarray:
    from PIL import Image

    n = BLOCKS[vk_format]
    w4, h4 = -(-width // 4) * 4, -(-height // 4) * 4
    size = (w4 // 4) * (h4 // 4) * (8 if n in (1, 4) else 16)
    if len(level) < size:
        raise GltfError(DAMAGED)
    mode = {4: "L", 5: "RGB"}.get(n, "RGBA")
    image = Image.frombytes(mode, (w4, h4), level[:size], "bcn", n).convert("RGBA")
    out = np.asarray(image)[:height, :width].copy()
    if n == 4:  # one channel: red, as a GPU samples it
        out[..., 1:3] = 0
    elif n == 5:
        out[..., 2] = 0
    return out
