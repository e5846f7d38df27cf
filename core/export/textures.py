"""Texture images in the downloads: each image once, in its original encoding.

The loader hands the exporter the file's images as Pillow decoded them. An
``ImageBank`` gives each of an asset's images one encoded form, made once
and reused by every export of that asset: the bytes the model's own file
held for an image with the same pixels (``source_images``; JPEG or PNG, the
two encodings glTF itself has), else PNG (lossless: a JPEG encoded again,
even with its own quantization tables, drifts). Images with the same pixels
share one encoding, so the GLB stores each image once; the parts ZIP then
stores each image once as a file its part GLBs share (``export.files``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import threading
import zipfile
from urllib.parse import unquote

import PIL.Image

log = logging.getLogger(__name__)

KEPT = ("JPEG", "PNG")
"""Encodings a glTF holds without an extension: kept as the file had them."""
EXTENSION = (("image/jpeg", "jpg"), ("image/png", "png"))
"""File name extension of each image type a glTF holds."""
_IMAGE_FILES = (".jpg", ".jpeg", ".png")


def pixel_digest(image: PIL.Image.Image) -> str:
    """Identity of an image's pixels (mode, size and every byte)."""
    h = hashlib.sha1(f"{image.mode}{image.size}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def source_images(path) -> dict:
    """{pixel digest: (bytes, "JPEG" or "PNG")} of the JPEG and PNG images in
    the model file at ``path`` (a GLB, a glTF with its files beside it, or a
    ZIP of them): what an export writes for a texture with those pixels.
    Empty for other formats, or when the file cannot be read again."""
    out = {}
    try:
        encoded = _encoded_images(str(path))
    except (OSError, ValueError, KeyError, IndexError, TypeError, zipfile.BadZipFile):
        log.debug("no images read back from %s", path, exc_info=True)
        return out
    for data in encoded:
        try:
            image = PIL.Image.open(io.BytesIO(data))
            if image.format in KEPT:
                image.load()
                out[pixel_digest(image)] = (data, image.format)
        except (OSError, ValueError, PIL.Image.DecompressionBombError):
            continue  # not an image PIL reads: exported from its pixels
    return out


def _encoded_images(path: str) -> list:
    """The encoded bytes of every image a model file holds or refers to."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.startswith("__MACOSX/")]
            found = [archive.read(n) for n in names if n.lower().endswith(_IMAGE_FILES)]
            for name in (n for n in names if n.lower().endswith(".glb")):
                found += _glb_images(archive.read(name))
            return found
    if ext == ".glb":
        with open(path, "rb") as f:
            return _glb_images(f.read())
    if ext == ".gltf":
        from ..gltf import read

        tree, buffers = read(path)
        return _tree_images(tree, buffers, os.path.dirname(os.path.abspath(path)))
    return []


def _glb_images(data: bytes) -> list:
    from ..glb import split

    tree, binary = split(data)
    return _tree_images(tree, [binary], None)


def _tree_images(tree: dict, buffers: list, folder: str | None) -> list:
    """Image bytes of a glTF tree: in buffer views, data URIs, or files in ``folder``."""
    out = []
    for image in tree.get("images", []):
        uri = image.get("uri")
        if "bufferView" in image:
            view = tree["bufferViews"][image["bufferView"]]
            start = view.get("byteOffset", 0)
            out.append(bytes(buffers[view.get("buffer", 0)][start:start + view["byteLength"]]))
        elif isinstance(uri, str) and uri.startswith("data:"):
            out.append(base64.b64decode(uri.split(",", 1)[1]))
        elif isinstance(uri, str) and folder is not None:
            path = os.path.normpath(os.path.join(folder, unquote(uri)))
            if path.startswith(os.path.join(folder, "")) and os.path.isfile(path):
                with open(path, "rb") as f:
                    out.append(f.read())
    return out


class EncodedImage(PIL.Image.Image):
    """A view of a texture (the same pixel storage, not a copy) that writes
    one fixed encoding at every save: trimesh's glTF exporter asks for
    ``format`` (JPEG for a JPEG, PNG otherwise) and gets these bytes."""

    def save(self, fp, format=None, **params):
        data = self.__dict__.get("_partscope_bytes")
        if params or data is None or not hasattr(fp, "write"):
            return super().save(fp, format, **params)
        fp.write(data)


class ImageBank:
    """One encoded form per texture image of an asset (see the module docstring).

    sources : ``source_images`` of the asset's file, or None (none known)
    """

    def __init__(self, sources: dict | None = None):
        self.sources = sources or {}
        self._views: dict = {}  # id(image) -> (image, its EncodedImage)
        self._encoded: dict = {}  # pixel digest -> (bytes, format)
        self._lock = threading.Lock()

    def view(self, image: PIL.Image.Image) -> EncodedImage:
        """The encoded view of ``image`` (made on first use; the image is kept
        with it, so its id stays its own)."""
        if isinstance(image, EncodedImage):
            return image
        with self._lock:
            found = self._views.get(id(image))
        if found is not None and found[0] is image:
            return found[1]
        image.load()
        digest = pixel_digest(image)
        data, kind = self._encode(image, digest)
        view = EncodedImage.__new__(EncodedImage)
        view.__dict__.update(image.__dict__)  # shares the pixel storage
        view.info = dict(image.info)
        view.format = kind
        view.__dict__["_partscope_bytes"] = data
        view.__dict__["_partscope_digest"] = digest
        with self._lock:
            self._views[id(image)] = (image, view)
        return view

    def _encode(self, image: PIL.Image.Image, digest: str) -> tuple[bytes, str]:
        """(bytes, format) for ``image`` (``pixel_digest`` ``digest``): its file's own, or made once per pixels."""
        with self._lock:
            done = self._encoded.get(digest) or self.sources.get(digest)
        if done is None:
            buffer = io.BytesIO()
            PIL.Image.Image.save(image, buffer, "PNG", compress_level=1)
            done = (buffer.getvalue(), "PNG")
        with self._lock:
            self._encoded[digest] = done
        return done


def shared_textures(tree: dict, binary: bytes, folder: str = "textures") -> dict:
    """Move the images of a GLB's tree out of its binary chunk into files:
    each image's entry then points at ``{folder}/texture_{n}.{ext}`` (the
    same file for the same bytes). Returns {file name: bytes}. The tree is
    changed in place; the bytes stay in ``binary`` (unreferenced)."""
    files, names = {}, {}
    for image in tree.get("images", []):
        if "bufferView" not in image:
            continue
        view = tree["bufferViews"][image["bufferView"]]
        start = view.get("byteOffset", 0)
        data = binary[start:start + view["byteLength"]]
        key = hashlib.sha1(data).hexdigest()
        if key not in names:
            names[key] = f"{folder}/texture_{len(names)}.{dict(EXTENSION).get(image.get('mimeType'), 'png')}"
            files[names[key]] = data
        del image["bufferView"]
        image["uri"] = names[key]
    return files


def one_entry_per_image(tree: dict) -> None:
    """In a glTF tree, images that hold the same bytes (the same buffer view)
    become one entry, and their textures point at it. In place."""
    images = tree.get("images", [])
    first, index = {}, []
    for image in images:
        key = json.dumps(image, sort_keys=True)
        first.setdefault(key, len(first))
        index.append(first[key])
    if len(first) == len(images):
        return
    kept = {}
    for i, image in enumerate(images):
        kept.setdefault(index[i], image)
    tree["images"] = [kept[k] for k in range(len(kept))]
    for texture in tree.get("textures", []):
        if "source" in texture:
            texture["source"] = index[texture["source"]]
