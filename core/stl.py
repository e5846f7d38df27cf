"""STL files: binary ones whose header's face count their length disagrees
with read as admesh (PrusaSlicer's) and MeshLab read them, and their face
colours, which trimesh leaves out, as Materialise Magics and VisCAM write
them."""

from __future__ import annotations

import io
import os

import numpy as np
import trimesh

from .looks import GREY


def stl_scene(path: str, options: dict) -> tuple[trimesh.Scene, int, int]:
    """The STL as trimesh reads it (``options`` its loader's), read by
    ``_binary_stl`` and coloured by ``_stl_colours``: the scene, the faces it
    holds and the faces its header says (both 0 where they agree, or for an
    ASCII STL). ValueError for a binary STL cut inside a face."""
    source, held, said = _binary_stl(path)
    scene = trimesh.load_scene(source, file_type="stl", **options)
    with open(path, "rb") as f:
        _stl_colours(scene, f.read(80))
    return scene, held, said


def _binary_stl(path: str) -> tuple:
    """(file for trimesh, faces it holds, faces its header says) of an STL:
    a binary STL whose length its header's count disagrees with read as
    admesh (PrusaSlicer's) and MeshLab read it: by its length where that is
    whole faces (a writer that streams its faces leaves the count 0), by its
    count where a few bytes follow its last face; the path as it is (counts
    0) for an ASCII STL, an empty one or one its count fits. ValueError for
    one that ends inside a face (cut short)."""
    with open(path, "rb") as f:
        head = f.read(84)
        body = os.path.getsize(path) - 84
        said = int.from_bytes(head[80:84], "little") if len(head) == 84 else 0
        held = said if 0 < 50 * said <= body < 50 * said + 50 else body // 50 if body > 0 and not body % 50 else 0
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:5].lower() == b"solid"  # ASCII (a binary one so named: trimesh)
        if body <= 0 or body == 50 * said or text:
            return path, 0, 0
        if not held:
            raise ValueError("a binary STL that ends inside a face")
        f.seek(84)
        data = head[:80] + held.to_bytes(4, "little") + f.read(50 * held)
    return io.BytesIO(data), held, said


def _stl_colours(scene: trimesh.Scene, head: bytes) -> None:
    """A binary STL's face colours, where it has them, on its mesh (in
    place): five bits each in a face's two spare bytes, as Materialise Magics
    writes them (its header's 'COLOR=' and three bytes the whole model's
    colour, a face's own where bit 15 is clear, red in the low bits; where
    every face sets bit 15 and they differ, as MeshLab writes them, each
    face's own) or as VisCAM and SolidView do (a face's own where bit 15 is
    set, blue in the low bits; the others grey)."""
    for geom in scene.geometry.values():
        bits = getattr(geom, "face_attributes", {}).get("stl")
        if bits is None or len(bits) != len(geom.faces) or not np.any(bits):
            continue
        bits = np.asarray(bits).astype(np.uint16)
        five = (np.stack([(bits >> shift) & 31 for shift in (0, 5, 10)], axis=1) * 255 + 15) // 31
        at = head.find(b"COLOR=")
        if at >= 0 and len(head) >= at + 9:  # its alpha left out: MeshLab writes a space there
            own = bits < 0x8000
            own |= not own.any() and len(np.unique(bits)) > 1  # MeshLab sets bit 15 on every face it colours
            rgba = np.tile(np.frombuffer(head[at + 6:at + 9] + b"\xff", np.uint8), (len(bits), 1))
        else:
            own, rgba, five = bits >= 0x8000, np.tile(np.array(GREY, np.uint8), (len(bits), 1)), five[:, ::-1]
        if own.any():
            rgba[own, :3] = five[own]
            geom.visual = trimesh.visual.ColorVisuals(geom, face_colors=rgba)
