"""Files a model names, found beside it as exporters write their names.

A model made on Windows may name its textures by an absolute path
(``C:\\Users\\me\\maps\\Wood.PNG``), with backslashes, or in another case
than the file has (Windows' names are not case sensitive); the files were
then copied next to the model, or into a folder below it. ``Beside.find``
finds them there, and never outside the model's folder; ``BesideResolver``
hands them to trimesh's readers.
"""

from __future__ import annotations

import functools
import os
import re
from urllib.parse import unquote

import trimesh

from .inputs import opens_as_image

#: Files under a model's folder that its names are looked for among.
MAX_LISTED = 20000
#: Folders below the model's that are looked in.
MAX_DEPTH = 3


class Beside:
    """The files under one folder (the model's), found by the names a model gives them."""

    def __init__(self, folder: str):
        self.folder = os.path.abspath(folder)
        self._files: dict | None = None

    @staticmethod
    def of(folder: str) -> "Beside":
        """The one ``Beside`` of ``folder`` while the folder's entries stay
        as they are (its modification time): a glTF's buffers and images,
        or the files of a folder of OBJs, are looked for in one listing, not
        one listing each."""
        folder = os.path.abspath(folder)
        stamp = os.stat(folder).st_mtime_ns if os.path.isdir(folder) else 0
        return _of(folder, stamp)

    def find(self, name: str) -> str | None:
        """The path of the file ``name`` names, or None: its folders split
        at slashes or backslashes, then the longest end of that path found
        under the folder (a Windows or absolute path keeps only what lies
        there), in any case, else the same file name in any folder below;
        else all that for the name with its %-escapes decoded."""
        parts = [p for p in re.split(r"[\\/]", name.strip()) if p not in ("", ".", "..")]
        if not parts:
            return None
        tails = [parts[k:] for k in range(len(parts))]
        exact = next((p for p in (os.path.join(self.folder, *t) for t in tails) if os.path.isfile(p)), None)
        if exact is not None:
            return exact
        files = self._listing()  # only where the name is not as written: a dataset's folder may be large
        folded = next((files[key] for key in ("/".join(t).casefold() for t in tails) if key in files), None)
        if folded is not None:
            return folded
        base = parts[-1].casefold()
        same = sorted((rel.count("/"), rel) for rel in files if rel.rsplit("/", 1)[-1] == base)
        if same:
            return files[same[0][1]]
        return self.find(unquote(name)) if unquote(name) != name else None  # written as a URI: wood%20grain.png

    def _listing(self) -> dict:
        """{relative path, case folded: path} of the files under the folder,
        MAX_DEPTH folders deep and MAX_LISTED files at most."""
        if self._files is None:
            self._files = {}
            for folder, subfolders, names in os.walk(self.folder):
                rel = os.path.relpath(folder, self.folder)
                depth = 0 if rel == "." else rel.count(os.sep) + 1
                if depth >= MAX_DEPTH:
                    subfolders[:] = []
                for name in names:
                    key = name if rel == "." else "/".join([*rel.split(os.sep), name])
                    self._files.setdefault(key.casefold(), os.path.join(folder, name))
                if len(self._files) >= MAX_LISTED:
                    break
        return self._files


@functools.lru_cache(maxsize=8)
def _of(folder: str, stamp: int) -> Beside:
    return Beside(folder)


class BesideResolver(trimesh.resolvers.FilePathResolver):
    """trimesh's reader of the files a model names (an OBJ's .mtl and
    textures, a PLY's texture), each found by ``Beside.find``, '<this>' in
    a name standing for the model's own name without its extension (as
    MeshLab writes a PLY's textures: '<this>_A.png'); the names not found
    are kept in ``missing``, the images that do not open in ``unreadable``
    (trimesh gets neither)."""

    def __init__(self, path: str):
        super().__init__(path)
        self.missing: list[str] = []
        self.unreadable: list[str] = []
        self._beside = Beside.of(self.parent)
        self._this = os.path.splitext(os.path.basename(str(path)))[0]

    def get(self, name: str) -> bytes:
        name = name.replace("<this>", self._this)
        found = self._beside.find(name)
        if found is None:
            self.missing += [] if name in self.missing else [name]
            raise FileNotFoundError(name)
        with open(found, "rb") as f:
            data = f.read()
        if not name.lower().endswith(".mtl") and not opens_as_image(data):
            self.unreadable += [] if name in self.unreadable else [name]
            raise OSError(f"{name} does not open as an image")
        return data
