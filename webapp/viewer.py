"""The 3D viewer: a WebGL2 renderer of our own inside ``gr.HTML``, and the
payloads it reads.

Why not Model3D or plotly: Model3D takes a whole model file per update, so
every slider move would re-send and re-parse the geometry, and it reports
neither the face under the cursor nor clicks; a plotly Mesh3d re-sends the
figure (all vertices) on every change and slows down past ~100k faces. Here
the geometry goes to the browser once per object, and a slider move sends
only one int16 per face plus a small part table, so the camera stays put and
a 50k-face update is ~130 kB. Hover and clicks pick faces exactly from a GPU
id buffer; a click fires the ``face_click`` event with the face id and the
camera, which is what click selection and mask prompts need; its "Paint this
view" button fires ``paint_view`` with the camera, for a mask prompt on the
angle the person is looking from.

The component's value names the object (``key``, its content digest) and,
once there are parts, carries them. The geometry is not in the value or in
any prop: the browser asks for it once per object through the component's
server function (``viewer_mesh(key)``), so Gradio never re-sends, copies or
compares megabytes of geometry on a slider move.

Payloads (arrays are base64 of little-endian bytes):

mesh  : {"key", "name", "n_faces", "radius", "positions" (V, 3) float32,
         "faces" (F, 3) uint32, "colors" (F, 3, 4) uint8 corner colors or
         None with "color" [r, g, b] when the whole model has one color,
         "uv" (F, 3, 2) float32 or None, "material" (F,) int16 texture index
         (-1 none) or None, "textures" [data URL, ...]}
value : {"key"} for a model without parts yet, or {"key", "scale",
         "n_parts", "labels" (F,) int16 (or int32, see "dtype"), "colors"
         [hex per part, "" hides it], "faces" [int per part], "share" [float
         per part, share of the surface area], "names" [str or None per part],
         "edited" bool (the list was edited, so it is not "the parts at
         scale"), "selected" (F,) bits packed little-endian (uint8) or None:
         the selection, drawn with the rest dimmed, "note" a few words the
         legend adds (the first parts from the masks say so) or None}
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from core.rendering import Camera

STATIC = Path(__file__).with_name("static")
MAX_TEXTURE = 1024
"""Largest texture side sent to the browser (the downloads keep the originals)."""


@lru_cache(maxsize=None)
def _static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


class PartViewer(gr.HTML):
    """The viewer component.

    mesh_source : callable(key: str) -> mesh payload or None; the browser
        calls it (as the server function ``viewer_mesh``) once per object it
        is told to show.

    Set its value to ``{"key": digest}`` to show an object in its own look,
    or to a ``parts_payload`` to color its parts; ``viewer.face_click(fn, ...)``
    receives clicks (``evt._data``: face, part, scale, x, y, button, shift,
    alt, camera) and ``viewer.paint_view(fn, ...)`` the "Paint this view"
    button (``evt._data``: camera; see ``viewer_camera``).
    """

    def __init__(self, value=None, *, mesh_source=None, **kwargs):
        for fixed in ("html_template", "css_template", "js_on_load", "apply_default_css", "server_functions"):
            kwargs.pop(fixed, None)  # gradio may rebuild the component from its args
        functions = []
        if mesh_source is not None:
            def viewer_mesh(key):
                return mesh_source(key)

            functions.append(viewer_mesh)
        super().__init__(value=value, html_template=_static("viewer.html"), css_template=_static("viewer.css"),
                         js_on_load=_static("viewer.js"), apply_default_css=False,
                         server_functions=functions or None, **kwargs)


def b64(array: np.ndarray, dtype) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode("ascii")


def mesh_payload(asset) -> dict:
    """What ``viewer_mesh`` answers for an asset: normalized geometry in the
    contract face order and what the original surface looks like."""
    mesh = asset.mesh
    vertices = np.asarray(mesh.vertices, np.float32)
    corner = asset.corner_color
    uniform = bool((corner == corner[0, 0]).all()) if len(corner) else True
    payload = {
        "key": asset.digest,
        "name": asset.name,
        "n_faces": int(asset.n_faces),
        "radius": float(np.linalg.norm(vertices, axis=1).max()) if len(vertices) else 1.0,
        "positions": b64(vertices, "f4"),
        "faces": b64(mesh.faces, "u4"),
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


def hex_colors(rgb: np.ndarray, hidden=None) -> list[str]:
    """"#rrggbb" per row of (P, 3) uint8 colors; "" where ``hidden`` (P,) bool is set."""
    return ["" if hidden is not None and hidden[k] else "#%02x%02x%02x" % tuple(int(c) for c in row[:3])
            for k, row in enumerate(rgb)]


def parts_payload(key: str, scale: float, labels: np.ndarray, colors: list, faces: np.ndarray,
                  share: np.ndarray, names=None, selected=None, edited: bool = False, note=None) -> dict:
    """The ``value`` for one granularity or one edited part list.

    labels : (F,) int part id per face, -1 for none
    colors : list of P "#rrggbb" strings ("" hides a part)
    faces : (P,) int faces per part; share : (P,) float share of the surface
    names : None or list of P (str or None)
    selected : None or (F,) bool, the selection to highlight
    edited : whether the list was edited (the viewer says so instead of the scale)
    note : None or a few words for the legend
    """
    n_parts = len(colors)
    wide = n_parts > np.iinfo(np.int16).max
    return {
        "key": key,
        "scale": round(float(scale), 3),
        "n_parts": n_parts,
        "labels": b64(labels, "i4" if wide else "i2"),
        "dtype": "i4" if wide else "i2",
        "colors": list(colors),
        "faces": [int(x) for x in faces],
        "share": [round(float(x), 5) for x in share],
        "names": list(names) if names is not None else [None] * n_parts,
        "edited": bool(edited),
        "selected": None if selected is None else b64(np.packbits(selected, bitorder="little"), "u1"),
        "note": note,
    }


def viewer_camera(info, resolution: int) -> Camera:
    """The ``core.rendering.Camera`` of the viewer's camera as its events send
    it ({"eye", "target", "fov_deg", ...}): same eye, same direction, y up,
    the viewer's vertical field of view, square at ``resolution`` pixels (the
    middle square of what the person sees). ValueError for anything else."""
    try:
        eye = np.asarray(info["eye"], np.float64).reshape(3)
        target = np.asarray(info["target"], np.float64).reshape(3)
        fov = float(info["fov_deg"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("The viewer sent no usable camera; reload the page and try again.") from None
    back = eye - target
    if not (np.isfinite(back).all() and np.linalg.norm(back) > 1e-9 and 1.0 < fov < 170.0):
        raise ValueError("The viewer sent no usable camera; reset the view and try again.")
    back /= np.linalg.norm(back)
    right = np.cross([0.0, 1.0, 0.0], back)
    if np.linalg.norm(right) < 1e-6:  # looking straight up or down
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    return Camera(eye, np.stack([right, np.cross(back, right), back], axis=1), fov, int(resolution))
