"""The 3D viewer: a WebGL2 renderer of our own inside ``gr.HTML``, with the
granularity slider and the part count under it.

Why not Model3D or plotly: Model3D takes a whole model file per update and
reports neither the face under the cursor nor clicks; a plotly Mesh3d
re-sends the figure (all vertices) on every change. Here the geometry goes
to the browser once per object, and so does every scale's part labels (the
ladder, as the server computes it), so the slider recolours the model in
the page on its input event, with no server round trip; the page then tells
the server the scale it settled on (for clicks, edits and downloads). Hover
and clicks pick faces exactly from a GPU id buffer.

The browser fetches the geometry and the ladder itself, through the
component's server functions (``viewer_mesh``, ``viewer_ladder``), so
Gradio never re-sends, copies or compares megabytes on a slider move. What
travels, and how, is written once in webapp/payload.py.

Events the page fires (read with ``webapp.events.event_value``):
``scale_change`` {scale}, ``face_click`` {face, part, scale, shift, camera},
``paint_view`` {camera}.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np

from core.rendering import Camera

STATIC = Path(__file__).with_name("static") / "viewer"
SCRIPTS = ("payload.js", "scene.js", "painting.js", "picking.js", "legend.js", "controls.js", "viewer.js")
"""The viewer's script, by concern, in the order they are joined (viewer.js wires the others)."""


def _static(*names: str) -> str:
    return "\n".join((STATIC / name).read_text(encoding="utf-8") for name in names)


class PartViewer(gr.HTML):
    """The viewer component.

    mesh_source : callable(key) -> mesh payload or None (``viewer_mesh``)
    ladder_source : async callable(request dict) -> ladder payload or None (``viewer_ladder``)

    Its value is a viewer value (webapp/payload.py). ``viewer.scale_change``,
    ``viewer.face_click`` and ``viewer.paint_view`` register listeners.
    """

    def __init__(self, value=None, *, mesh_source=None, ladder_source=None, **kwargs):
        for fixed in ("html_template", "css_template", "js_on_load", "apply_default_css", "server_functions"):
            kwargs.pop(fixed, None)  # gradio may rebuild the component from its args
        functions = []
        if mesh_source is not None:
            def viewer_mesh(key):
                return mesh_source(key)

            functions.append(viewer_mesh)
        if ladder_source is not None:
            async def viewer_ladder(query):
                return await ladder_source(query)

            functions.append(viewer_ladder)
        super().__init__(value=value, html_template=_static("viewer.html"), css_template=_static("viewer.css"),
                         js_on_load=_static(*SCRIPTS), apply_default_css=False,
                         server_functions=functions or None, **kwargs)


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
