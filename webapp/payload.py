"""What the server sends the 3D viewer: the one place its format is written.

The viewer (``webapp/static/viewer/``, decoded by ``payload.js``) gets three
things. Arrays travel as base64 of little-endian bytes; face labels are
deflated (zlib) first, since they repeat a lot.

mesh (the ``viewer_mesh(key)`` server function, once per object):
    {"key", "name", "n_faces", "radius", "positions" (V, 3) float32,
     "faces" (F, 3) uint32, "colors" (F, 3, 4) uint8 corner colors or None
     with "color" [r, g, b] when the whole model has one color, "uv" (F, 3, 2)
     float32 or None, "material" (F,) int16 texture index (-1 none) or None,
     "textures" [data URL, ...]}

parts (one part list: the automatic parts at one scale, or an edited list):
    {"scale" float or None, "n_parts" P, "labels" deflated (F,) int16 (int32
     when "dtype" is "i4"; -1 = no part), "dtype", "colors" [hex per part,
     "" hides it], "faces" [faces per part], "share" [share of the surface per
     part], "names" [str or None per part]}

ladder (the ``viewer_ladder({"ladder", "have"})`` server function: the
scales of one ladder the page does not have yet, as they are computed; it
waits up to ``LADDER_WAIT_S`` for a new one):
    {"ladder" id, "complete" bool, "entries" [parts, ...]}, or None for a
    ladder the server no longer has

value (the viewer component's value, set by the handlers):
    None (no model), or {"key" content digest (what ``viewer_mesh`` takes),
    "name", "ladder" id of the automatic parts' ladder or None, "scales"
    [the ladder's scales], "scale" the scale the server shows, "edited" bool,
    "parts" the parts shown (``edited``: the edited list, which the slider
    leaves alone; else the automatic parts at "scale", the page's first
    frame before its ladder arrives) or None (the model in its own look),
    "selection" None, {"face": f} (the part of face f at the slider's scale,
    worked out in the page from the ladder) or {"bits": (F,) bits packed
    little-endian}, "note" a few words the legend adds, or None}

The page owns the slider: it adopts "scale" only when the ladder changes (a
new object, or the field's parts replacing the first parts), and tells the
server each scale it settles on.
"""

from __future__ import annotations

import base64
import io
import zlib

import numpy as np
from PIL import Image

from core.scales import key as scale_key

MAX_TEXTURE = 1024
"""Largest texture side sent to the browser (the downloads keep the originals)."""
LADDER_WAIT_S = 15.0
"""Longest a ladder request waits for a new scale before it answers with none."""


def b64(array: np.ndarray, dtype) -> str:
    """Base64 of ``array`` as little-endian ``dtype``."""
    data = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
    return base64.b64encode(data).decode("ascii")


def deflated(array: np.ndarray, dtype) -> str:
    """Base64 of ``array`` as little-endian ``dtype``, deflated (zlib)."""
    data = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
    return base64.b64encode(zlib.compress(data, 6)).decode("ascii")


def hex_colors(rgb: np.ndarray, hidden=None) -> list[str]:
    """"#rrggbb" per row of (P, 3) uint8 colors; "" where ``hidden`` (P,) bool is set."""
    return ["" if hidden is not None and hidden[k] else "#%02x%02x%02x" % tuple(int(c) for c in row[:3])
            for k, row in enumerate(rgb)]


def parts_entry(labels: np.ndarray, colors: list, faces, share, scale: float | None = None,
                names=None) -> dict:
    """A "parts" payload.

    labels : (F,) int part of every face, -1 for none
    colors : P "#rrggbb" strings ("" hides a part)
    faces : (P,) int faces per part; share : (P,) float share of the surface
    names : None or P (str or None)
    """
    n_parts = len(colors)
    dtype = "i4" if n_parts > np.iinfo(np.int16).max else "i2"
    return {"scale": None if scale is None else scale_key(scale), "n_parts": n_parts,
            "labels": deflated(labels, dtype), "dtype": dtype, "colors": list(colors),
            "faces": [int(x) for x in faces], "share": [round(float(x), 5) for x in share],
            "names": list(names) if names is not None else [None] * n_parts}


def view_value(key: str, name: str, scales, scale: float, *, ladder: str | None = None, parts: dict | None = None,
               edited: bool = False, selection: dict | None = None, note: str | None = None) -> dict:
    """A viewer value (see the module docstring); ``selection`` from ``selection_of``."""
    return {"key": key, "name": name, "ladder": ladder, "scales": [scale_key(s) for s in scales],
            "scale": scale_key(scale), "edited": bool(edited), "parts": parts, "selection": selection,
            "note": note}


def selection_of(face: int | None, faces: np.ndarray | None) -> dict | None:
    """The value's "selection": around a clicked ``face`` (the page follows the
    slider), else the fixed (F,) bool ``faces``, else None."""
    if face is not None:
        return {"face": int(face)}
    if faces is None:
        return None
    return {"bits": b64(np.packbits(faces, bitorder="little"), "u1")}


def mesh_payload(asset) -> dict:
    """What ``viewer_mesh`` answers for an asset: normalized geometry in the
    contract face order and what the original surface looks like."""
    mesh = asset.mesh
    vertices = np.asarray(mesh.vertices, np.float32)
    corner = asset.corner_color
    uniform = bool((corner == corner[0, 0]).all()) if len(corner) else True
    payload = {
        "key": asset.digest, "name": asset.name, "n_faces": int(asset.n_faces),
        "radius": float(np.linalg.norm(vertices, axis=1).max()) if len(vertices) else 1.0,
        "positions": b64(vertices, "f4"), "faces": b64(mesh.faces, "u4"),
        "colors": None if uniform else b64(corner, "u1"),
        "color": [int(c) for c in corner[0, 0, :3]] if len(corner) else [200, 200, 200],
        "uv": None, "material": None, "textures": [],
    }
    if asset.has_texture:
        payload["uv"] = b64(np.nan_to_num(asset.corner_uv, nan=0.0), "f4")
        payload["material"] = b64(asset.face_material, "i2")
        payload["textures"] = [_data_url(t) for t in asset.textures]
    return payload


def _data_url(texture: np.ndarray) -> str:
    image = Image.fromarray(np.asarray(texture, np.uint8))
    if max(image.size) > MAX_TEXTURE:
        image.thumbnail((MAX_TEXTURE, MAX_TEXTURE), Image.LANCZOS)
    buf = io.BytesIO()
    if image.mode == "RGBA" and image.getextrema()[3][0] < 255:
        image.save(buf, format="PNG", optimize=False)
        kind = "png"
    else:
        image.convert("RGB").save(buf, format="JPEG", quality=88)
        kind = "jpeg"
    return f"data:image/{kind};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"
