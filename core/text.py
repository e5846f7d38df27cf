"""Text model files (OBJ and the .mtl beside it) read in their encoding.

trimesh decodes text as UTF-8, else as whatever charset_normalizer guesses
for each file on its own, so a Latin-1 .obj and its .mtl can be guessed
apart (names garbled, the .mtl's colours lost on the way). Here every text
file is read by one rule and handed to trimesh as UTF-8, and the files an
OBJ names are found as exporters name them (Windows paths, another case).
"""

from __future__ import annotations

import codecs
import io
import os
import re

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


def obj_source(path: str) -> tuple[io.BytesIO, trimesh.resolvers.Resolver, bool]:
    """An OBJ as UTF-8 for trimesh: (file object, a resolver that reads its
    .mtl files the same way, whether it holds lines ('l') and no faces)."""
    with open(path, "rb") as f:
        text = read_text(f.read())
    starts = {line.split(None, 1)[0] for line in text.splitlines() if line.strip()}
    return io.BytesIO(text.encode("utf-8")), _TextResolver(path), "l" in starts and "f" not in starts


class _TextResolver(trimesh.resolvers.FilePathResolver):
    """Files beside an OBJ, its .mtl files read by ``read_text`` (as UTF-8
    for trimesh), each found as exporters write its name (``find``); the
    names not found are kept in ``missing``."""

    def __init__(self, path: str):
        super().__init__(path)
        self.missing: list[str] = []
        self._files: dict | None = None

    def get(self, name: str) -> bytes:
        found = self.find(name)
        if found is None:
            named = _map_file(name)
            self.missing += [] if named in self.missing else [named]
            raise FileNotFoundError(name)
        with open(found, "rb") as f:
            data = f.read()
        return read_text(data).encode("utf-8") if found.lower().endswith(".mtl") else data

    def find(self, name: str) -> str | None:
        """The file an .obj or .mtl names, under the OBJ's folder: the name
        without the map options before it (``-bm 0.5``) or quotes, its
        folders split at slashes or backslashes, then the longest end of
        that path found there (a Windows or absolute path keeps only what
        lies beside the OBJ), in any case (Windows' names are not case
        sensitive), else the same file name in any folder below."""
        parts = [p for p in re.split(r"[\\/]", _map_file(name)) if p not in ("", ".", "..")]
        if not parts:
            return None
        tails = [parts[k:] for k in range(len(parts))]
        exact = next((path for path in (os.path.join(self.parent, *t) for t in tails) if os.path.isfile(path)), None)
        if exact is not None:
            return exact
        files = self._listing()  # only where the name is not as written: a dataset's folder may be large
        folded = next((files[key] for key in ("/".join(t).casefold() for t in tails) if key in files), None)
        if folded is not None:
            return folded
        base = parts[-1].casefold()
        same = sorted((rel.count("/"), rel) for rel in files if rel.rsplit("/", 1)[-1] == base)
        return files[same[0][1]] if same else None

    def _listing(self) -> dict:
        """{relative path, case folded: path} of the files under the OBJ's
        folder, three folders deep and MAX_LISTED files at most."""
        if self._files is None:
            self._files = {}
            for folder, subfolders, names in os.walk(self.parent):
                rel = os.path.relpath(folder, self.parent)
                depth = 0 if rel == "." else rel.count(os.sep) + 1
                if depth >= 3:
                    subfolders[:] = []
                for name in names:
                    key = name if rel == "." else "/".join([*rel.split(os.sep), name])
                    self._files.setdefault(key.casefold(), os.path.join(folder, name))
                if len(self._files) >= MAX_LISTED:
                    break
        return self._files


#: Files under an OBJ's folder that its names are looked for among.
MAX_LISTED = 20000
#: An MTL map's options and how many values each takes (-o, -s, -t: 1 to 3).
_MAP_OPTIONS = {"-blendu": 1, "-blendv": 1, "-bm": 1, "-boost": 1, "-cc": 1, "-clamp": 1, "-imfchan": 1,
                "-mm": 2, "-o": 3, "-s": 3, "-t": 3, "-texres": 1, "-type": 1}


def _map_file(value: str) -> str:
    """The file name in an MTL map statement's value: the options before it
    and quotes around it taken off (``-s 1 1 1 "wood grain.png"``)."""
    tokens = list(re.finditer(r"\S+", value))
    i = 0
    while i < len(tokens) - 1 and tokens[i].group().lower() in _MAP_OPTIONS:
        most, i, taken = _MAP_OPTIONS[tokens[i].group().lower()], i + 1, 0
        while taken < most and i < len(tokens) - 1 and (taken == 0 or _is_number(tokens[i].group())):
            i, taken = i + 1, taken + 1
    return value[tokens[i].start():].strip().strip("\"'") if tokens else ""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
