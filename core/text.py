"""Text model files (OBJ and the .mtl beside it) read in their encoding.

trimesh decodes text as UTF-8, else as whatever charset_normalizer guesses
for each file on its own, so a Latin-1 .obj and its .mtl can be guessed
apart (names garbled, the .mtl's colours lost on the way). Here every text
file is read by one rule and handed to trimesh as UTF-8.
"""

from __future__ import annotations

import codecs
import io

import trimesh


def read_text(data: bytes) -> str:
    """The text of a model file: UTF-8 (a BOM allowed), UTF-16 with its BOM,
    else Windows-1252, the superset of Latin-1 that Windows tools write
    (its five unassigned bytes read as Latin-1). Never a guess that changes
    from file to file, so an .obj and its .mtl agree on every name."""
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="partscope-latin1")


codecs.register_error("partscope-latin1", lambda err: (err.object[err.start:err.end].decode("latin-1"), err.end))


class _TextResolver(trimesh.resolvers.FilePathResolver):
    """Files beside an OBJ, its .mtl files read by ``read_text`` (as UTF-8 for trimesh)."""

    def get(self, name: str) -> bytes:
        data = super().get(name)
        return read_text(data).encode("utf-8") if name.lower().endswith(".mtl") else data


def obj_source(path: str) -> tuple[io.BytesIO, trimesh.resolvers.Resolver, bool]:
    """An OBJ as UTF-8 for trimesh: (file object, a resolver that reads its
    .mtl files the same way, whether it holds lines ('l') and no faces)."""
    with open(path, "rb") as f:
        text = read_text(f.read())
    starts = {line.split(None, 1)[0] for line in text.splitlines() if line.strip()}
    return io.BytesIO(text.encode("utf-8")), _TextResolver(path), "l" in starts and "f" not in starts
