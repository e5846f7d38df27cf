"""The GLB container, glTF's binary form: a 12-byte header, a JSON chunk and
an optional BIN chunk. Read leniently (a writer that did not pad its
chunks), written as the specification says. Reading files (``gltf``) and
writing them (``export``) share it."""

from __future__ import annotations

import json
import struct

MAGIC, JSON_CHUNK, BIN_CHUNK = b"glTF", 0x4E4F534A, 0x004E4942


class GltfError(ValueError):
    """The glTF cannot be used; the message ends a sentence that starts with the file's name."""


def split(data: bytes) -> tuple[dict, bytes | None]:
    """The JSON tree of a GLB and its BIN chunk (None without one)."""
    if len(data) < 20:
        raise GltfError("is not a complete GLB: the file is cut short")
    version, length = struct.unpack_from("<II", data, 4)
    if version == 1:
        raise GltfError("is GLB version 1 (glTF 1.0); PartScope reads glTF 2.0: export it again as glTF 2.0")
    if version != 2:
        raise GltfError("is not valid GLB: its header is damaged")
    pos, tree, binary = 12, None, None
    end = min(length, len(data))
    while pos + 8 <= end:
        size, kind = struct.unpack_from("<II", data, pos)
        chunk = data[pos + 8:pos + 8 + size]
        if len(chunk) < size:
            raise GltfError("is not a complete GLB: the file is cut short")
        if kind == JSON_CHUNK and tree is None:
            try:
                tree = json.loads(chunk.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise GltfError("is not valid GLB: its JSON part is damaged") from None
        elif kind == BIN_CHUNK and binary is None:
            binary = chunk
        pos = _next_chunk(data, pos + 8 + size)
    if tree is None:
        raise GltfError("is not valid GLB: it has no JSON part")
    return tree, binary


def _next_chunk(data: bytes, pos: int) -> int:
    """Where the chunk after one that ends at ``pos`` starts: at the next
    multiple of 4, as the specification asks, or right at ``pos`` where a
    writer did not pad (trimesh's own cube.glb) and a chunk header is there."""
    padded = pos + (-pos % 4)
    kinds = (struct.pack("<I", JSON_CHUNK), struct.pack("<I", BIN_CHUNK))
    if padded != pos and data[pos + 4:pos + 8] in kinds and data[padded + 4:padded + 8] not in kinds:
        return pos
    return padded


def pack(tree: dict, binary: bytes) -> bytes:
    """A GLB file of a JSON tree and its BIN chunk (buffer 0)."""
    text = json.dumps(tree, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary = binary + b"\0" * (-len(binary) % 4)
    body = struct.pack("<II", len(text), JSON_CHUNK) + text
    if binary:
        body += struct.pack("<II", len(binary), BIN_CHUNK) + binary
    return MAGIC + struct.pack("<II", 2, 12 + len(body)) + body
