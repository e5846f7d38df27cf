"""KTX2 textures for the input corpus: every image of a GLB re-encoded as
KTX2, in Basis Universal (basisu's encoder, through alktx2) or in a plain or
block format written here (its blocks by etcpak's encoder), with the data
format descriptor the KTX2 specification asks for."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

from tests.corpus_files import BASISU, replace_images, require
from core import glb

#: vkFormat -> (KTX2 typeSize, numpy dtype per channel or None for blocks, DFD
#: colour model, transfer function, bytes a texel or block, samples as (channel id, bits, float)).
KTX_FORMATS = {
    23: (1, "u1", 1, 1, 3, [(0, 8, 0), (1, 8, 0), (2, 8, 0)]),                 # R8G8B8_UNORM
    43: (1, "u1", 1, 2, 4, [(0, 8, 0), (1, 8, 0), (2, 8, 0), (15, 8, 0)]),     # R8G8B8A8_SRGB
    91: (2, "<u2", 1, 1, 8, [(0, 16, 0), (1, 16, 0), (2, 16, 0), (15, 16, 0)]),  # R16G16B16A16_UNORM
    97: (2, "<f2", 1, 1, 8, [(0, 16, 1), (1, 16, 1), (2, 16, 1), (15, 16, 1)]),  # R16G16B16A16_SFLOAT
    109: (4, "<f4", 1, 1, 16, [(0, 32, 1), (1, 32, 1), (2, 32, 1), (15, 32, 1)]),  # R32G32B32A32_SFLOAT
    131: (1, None, 128, 1, 8, [(0, 64, 0)]),                                    # BC1_RGB_UNORM_BLOCK
    146: (1, None, 134, 2, 16, [(0, 128, 0)]),                                  # BC7_SRGB_BLOCK
}


def ktx2_bytes(rgba: np.ndarray, vk_format: int, scheme: int = 0) -> bytes:
    """A KTX2 file (one level, one layer, one face) of an (h, w, 4) uint8
    image in a plain or block format, with its data format descriptor;
    ``scheme`` 3 supercompresses with zlib, 2 with Zstandard. Block formats
    are encoded by etcpak; float formats hold linear light."""
    type_size, dtype, model, transfer, texel, samples = KTX_FORMATS[vk_format]
    h, w = rgba.shape[:2]
    if dtype is None:
        data = bc_blocks(rgba, vk_format)
    else:
        values = rgba[..., :len(samples)].astype(np.float64) / 255
        if np.dtype(dtype).kind == "f":
            values[..., :3] = np.where(values[..., :3] <= 0.04045, values[..., :3] / 12.92,
                                       ((values[..., :3] + 0.055) / 1.055) ** 2.4)
        else:
            values *= np.iinfo(np.dtype(dtype)).max
        data = (values if np.dtype(dtype).kind == "f" else np.round(values)).astype(dtype).tobytes()
    level = data
    if scheme == 3:
        import zlib

        level = zlib.compress(data)
    elif scheme == 2:
        import zstandard

        level = zstandard.ZstdCompressor().compress(data)
    dfd = _dfd(model, transfer, texel, samples, block=dtype is None)
    dfd_offset = 80 + 24
    level_offset = dfd_offset + len(dfd)
    level_offset += -level_offset % 16
    header = struct.pack("<12s9I", b"\xabKTX 20\xbb\r\n\x1a\n", vk_format, type_size, w, h, 0, 0, 1, 1, scheme)
    header += struct.pack("<4I2Q", dfd_offset, len(dfd), 0, 0, 0, 0)
    header += struct.pack("<3Q", level_offset, len(level), len(data))
    body = header + dfd
    return body + b"\0" * (level_offset - len(body)) + level


def bc_blocks(rgba: np.ndarray, vk_format: int) -> bytes:
    """The BC1 or BC7 blocks of an (h, w, 4) uint8 image, by etcpak's
    encoder; a side that is not a multiple of 4 is padded by its edge pixels."""
    import etcpak

    rgba = np.ascontiguousarray(np.pad(rgba, ((0, -rgba.shape[0] % 4), (0, -rgba.shape[1] % 4), (0, 0)), "edge"))
    h, w = rgba.shape[:2]
    if KTX_FORMATS[vk_format][2] == 128:
        return etcpak.compress_bc1(rgba.tobytes(), w, h)
    return etcpak.compress_bc7(rgba.tobytes(), w, h, None)


def bc_reference_glb(data: bytes, vk_format: int) -> bytes:
    """The GLB with every image replaced by what its BC1 or BC7 blocks
    decode to (Pillow's decoder, on the encoder's own output): the plain
    sibling of ``ktx2_glb(data, vk_format=...)``, whose format loses detail."""
    def decoded(rgba):
        n = 1 if KTX_FORMATS[vk_format][2] == 128 else 7
        image = Image.frombytes("RGBA", rgba.shape[1::-1], bc_blocks(rgba, vk_format), "bcn", n)
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return buf.getvalue(), "image/png"
    return replace_images(data, decoded)


def _dfd(model: int, transfer: int, texel: int, samples, block: bool) -> bytes:
    """A Khronos basic data format descriptor (the KTX2 dfd block)."""
    size = 24 + 16 * len(samples)
    dims = (3, 3, 0, 0) if block else (0, 0, 0, 0)
    head = struct.pack("<IHH4B4B8B", 0, 2, size, model, 1, transfer, 0, *dims, texel, 0, 0, 0, 0, 0, 0, 0)
    offset, body = 0, b""
    for channel, bits, is_float in samples:
        linear_alpha = 0x10 if channel == 15 and transfer == 2 else 0
        qualifiers = (0x80 | 0x40) if is_float else 0
        lower, upper = (0xBF800000, 0x3F800000) if is_float else (0, (1 << min(bits, 32)) - 1)
        body += struct.pack("<HBB4BII", offset, bits - 1, channel | qualifiers | linear_alpha, 0, 0, 0, 0, lower, upper)
        offset += bits
    return struct.pack("<I", 4 + size) + head + body


def ktx2_glb(data: bytes, damage: bool = False, vk_format: int | None = None, scheme: int = 0) -> bytes:
    """Every texture image re-encoded as KTX2: Basis UASTC (by basisu's
    encoder through alktx2), referenced through KHR_texture_basisu only; or,
    with ``vk_format``, in that plain or block format (``ktx2_bytes``),
    referenced as the texture's own source."""
    def encode(rgba):
        if vk_format is None:
            import alktx2

            ktx = alktx2.encode_raw_rgba_to_ktx2(rgba.tobytes(), rgba.shape[1], rgba.shape[0], True, codec="uastc")
        else:
            ktx = ktx2_bytes(rgba, vk_format, scheme)
        return (ktx[:len(ktx) // 2] if damage else ktx), "image/ktx2"
    data = replace_images(data, encode)
    if vk_format is not None:
        return data
    tree, binary = glb.split(data)
    for texture in tree["textures"]:
        texture["extensions"] = {BASISU: {"source": texture.pop("source")}}
    require(tree, BASISU)
    return glb.pack(tree, binary)
