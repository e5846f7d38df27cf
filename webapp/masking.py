"""Mask prompts: paint a part on a view of the model (one of the fitted
reference views, or the angle the viewer shows), get the 3D part it means
(``PartField.from_mask``) as the selection."""

from __future__ import annotations

from dataclasses import replace

import gradio as gr
import numpy as np
from PIL import Image

from core.naming_views import highlight
from core.rendering import reference_cameras

from .editing import selection_text
from .events import event_value
from .viewer import viewer_camera
from .work import Workbench, view_value

PAINT_RESOLUTION = 512
"""Side of the views a mask is painted on."""
PROMPT_RESOLUTION = 256
"""Side at which a painted mask is turned into a part (the paint is pooled
down to it): the answer is the same part, in about half the time."""


def view_choices(render_cfg) -> list[tuple[str, int]]:
    """(label, index) of the fitted reference views, for the mask view picker."""
    choices = []
    for i, cam in enumerate(reference_cameras(render_cfg, 1.0)):
        x, y, z = cam.position / np.linalg.norm(cam.position)
        choices.append((f"View {i + 1}: azimuth {np.degrees(np.arctan2(x, z)) % 360:.0f}°, "
                        f"elevation {np.degrees(np.arcsin(y)):+.0f}°", i))
    return choices


def prompt_at(camera, mask: np.ndarray) -> tuple:
    """(camera, mask) of a mask painted on ``camera``'s view, at PROMPT_RESOLUTION:
    the same view, each pixel painted where any pixel under it was."""
    k = mask.shape[0] // PROMPT_RESOLUTION
    pooled = mask[:k * PROMPT_RESOLUTION, :k * PROMPT_RESOLUTION].reshape(
        PROMPT_RESOLUTION, k, PROMPT_RESOLUTION, k).any(axis=(1, 3))
    return replace(camera, resolution=PROMPT_RESOLUTION), pooled


def painted_mask(painted, shape: tuple) -> np.ndarray:
    """(H, W) bool painted pixels of an ImageEditor value (any layer's alpha),
    at ``shape`` (resized, nearest, if the editor's canvas differs)."""
    layers = painted.get("layers") if isinstance(painted, dict) else None
    mask = np.zeros(shape, bool)
    for layer in layers or []:
        if layer is None:
            continue
        layer = np.asarray(layer)
        if layer.ndim == 3 and layer.shape[2] == 4:
            alpha = layer[..., 3] > 0
        else:
            alpha = layer.reshape(layer.shape[:2] + (-1,)).any(axis=-1)
        if alpha.shape != shape:
            alpha = np.asarray(Image.fromarray(alpha).resize(shape[::-1], Image.NEAREST))
        mask |= alpha
    return mask


class Masking:
    """The mask prompt handlers over the app's ``Editing`` (sessions' work)."""

    def __init__(self, editing, page):
        self.editing = editing
        self.page = page

    def paint_reference(self, session, work, index) -> dict:
        """Show fitted reference view ``index`` to paint on."""
        item, work = self.editing.bench(session, work, required=False)
        if item is None or index is None:  # no model: nothing to paint on
            return {self.page.work: work}
        cfg = replace(item.field.config.render, resolution=PAINT_RESOLUTION)
        cameras = reference_cameras(cfg, float(np.linalg.norm(item.asset.mesh.extents)))
        if not 0 <= int(index) < len(cameras):
            raise gr.Error(f"There is no view {index}: pick one of the {len(cameras)} in the list.",
                           print_exception=False)
        return self._paint_on(item, work, cameras[int(index)], f"view {int(index) + 1}")

    def paint_viewer_angle(self, session, work, evt: gr.EventData) -> dict:
        """The viewer's "Paint this view": the same angle in the painter, whose tab opens."""
        item, work = self.editing.bench(session, work)
        try:
            camera = viewer_camera(event_value(evt, "camera"), PAINT_RESOLUTION)
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        p = self.page
        return self._paint_on(item, work, camera, "the viewer's angle") | {p.mask_view: None,
                                                                           p.tabs: gr.Tabs(selected="paint")}

    def _paint_on(self, item, work: Workbench, camera, what: str) -> dict:
        view = item.field.renderer.render(camera)
        with work.lock:
            work.paint = view
        p = self.page
        return {p.work: work, p.editor: {"background": view.color, "layers": [], "composite": None},
                p.mask_result: None,
                p.mask_status: f"Paint over a part on {what} with the brush, then press **Find the 3D part**."}

    def mask_part(self, session, work, painted) -> dict:
        """The 3D part a painted mask means (PartField.from_mask), made the selection."""
        item, work = self.editing.bench(session, work)
        if work.paint is None:
            raise gr.Error("Pick a view to paint on first.", print_exception=False)
        mask = painted_mask(painted, work.paint.face.shape)
        if not mask.any():
            raise gr.Error("Nothing is painted: paint over a part of the model with the brush first.",
                           print_exception=False)
        try:
            faces, scale = item.field.from_mask(*prompt_at(work.paint.camera, mask))
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        with work.lock:
            work.select(faces)
            view = work.paint
            seen = view.face >= 0
            p = self.page
            return {p.work: work, p.view: view_value(item, work),
                    p.mask_result: highlight(view.color, seen & faces[np.maximum(view.face, 0)], seen),
                    p.mask_status: f"The part at scale {scale:.2f}: {int(faces.sum()):,} faces, highlighted in "
                                   "the 3D view.",
                    p.picked: selection_text(item, work, f"The painted region means a part at scale {scale:.2f}")}
