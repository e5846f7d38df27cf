"""Handlers of a session's work on its object: the slider, click to select,
mask prompts, and part-list edits with undo and redo (webapp/work.py holds
the state and the rules).

Every edit handler returns the same outputs (``Editing.show``): the work
state, the viewer value, the number of parts, the parts table, the part
picker, the undo and redo buttons and a note. Bad input and refused edits
raise ``gr.Error`` with a sentence; the session's list is left as it was.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import gradio as gr
import numpy as np
from PIL import Image

from core.naming_views import highlight
from core.rendering import reference_cameras

from .panels import parts_table
from .viewer import viewer_camera
from .work import (Workbench, follow, listing, new_workbench, part_choices, split_labels, table_html,
                   view_value)

log = logging.getLogger(__name__)

PAINT_RESOLUTION = 512
"""Side of the views a mask is painted on."""
PROMPT_RESOLUTION = 256
"""Side at which a painted mask is turned into a part (the paint is pooled
down to it): the answer is the same part, in about half the time."""
MAX_NAME = 80
"""Longest part name a person may type."""
_COLOR = re.compile(r"#?([0-9a-fA-F]{6})|rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*[\d.]+\s*)?\)")


def view_choices(render_cfg) -> list[tuple[str, int]]:
    """(label, index) of the fitted reference views, for the mask view picker."""
    choices = []
    for i, cam in enumerate(reference_cameras(render_cfg, 1.0)):
        x, y, z = cam.position / np.linalg.norm(cam.position)
        choices.append((f"View {i + 1}: azimuth {np.degrees(np.arctan2(x, z)) % 360:.0f}°, "
                        f"elevation {np.degrees(np.arcsin(y)):+.0f}°", i))
    return choices


def note(work: Workbench, message: str = "") -> str:
    """What the slider does to the list now, after what just happened."""
    if work.following:
        mode = (f"The list is the automatic parts at scale {work.scale:.1f} and follows the slider "
                "until you edit it.")
    else:
        mode = ("**Edited list:** the slider now only grows or shrinks the selection. **Re-cut at this "
                "scale** replaces the list with the automatic parts (Undo brings your edits back).")
    return f"{message}\n\n{mode}" if message else mode


def selection_text(item, work: Workbench, how: str) -> str:
    if work.selection is None:
        return ""
    n = int(work.selection.sum())
    share = float(item.area[work.selection].sum() / max(item.area.sum(), 1e-300))
    return (f"{how}: **{n:,} faces** ({100 * share:.1f}% of the surface) selected. "
            "**Add selection as part** makes it a part.")


def clicked_text(item, work: Workbench) -> str:
    return selection_text(item, work, f"Around face {work.face:,} at scale {work.scale:.1f} "
                                      "(move the slider to grow or shrink it)")


def parse_ids(targets) -> list[int]:
    """Part ids from the part picker (ints, or text a person typed)."""
    ids = []
    for t in targets or []:
        try:
            ids.append(int(t))
        except (TypeError, ValueError):
            raise gr.Error(f"'{t}' is not a part number: pick parts in the list or click them in the view.",
                           print_exception=False) from None
    return ids


def parse_color(text) -> tuple[int, int, int]:
    m = _COLOR.fullmatch(str(text or "").strip())
    if not m:
        raise gr.Error(f"'{text}' is not a color: pick one with the color picker.", print_exception=False)
    if m.group(1):
        return tuple(int(m.group(1)[i:i + 2], 16) for i in (0, 2, 4))
    return tuple(int(round(min(max(float(v), 0.0), 255.0))) for v in m.groups()[1:])


def _one(ids: list[int], what: str) -> int:
    if len(ids) != 1:
        raise ValueError(f"Pick exactly one part to {what} (click it in the view or choose it in the list).")
    return ids[0]


def _some(ids: list[int], what: str) -> list[int]:
    if not ids:
        raise ValueError(f"Pick the parts to {what} first (click them in the view, shift-click for more, "
                         "or choose them in the list).")
    return ids


def _listed(ids) -> str:
    ids = [str(i) for i in ids]
    return ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]


class Editing:
    """The work handlers over the app's ``Handlers`` (engine, store, sessions)."""

    def __init__(self, app):
        self.app = app

    # ------------------------------------------------------------ state
    def bench(self, session, work, scale=None, required: bool = True):
        """(fitted object, the session's Workbench for it): made on first use
        (the automatic parts at ``scale``), or (None, None) without a model."""
        item = self.app._item(session)
        if item is None:
            if required:
                raise gr.Error("Open a model first: its parts are what you edit.", print_exception=False)
            return None, None
        if not isinstance(work, Workbench) or work.key != item.key:
            work = new_workbench(item, self.app.default_scale if scale is None else float(scale))
        return item, work

    def show(self, item, work: Workbench, message: str = "", targets=()) -> tuple:
        """(work, viewer value, parts, table, picker, undo, redo, note); the
        picker offers the list's parts with ``targets`` picked (None: as it is)."""
        listed = listing(item, work)  # part sizes, once for the viewer, the table and the picker
        picker = (gr.skip() if targets is None else
                  gr.update(choices=part_choices(work, listed["faces"]), value=list(targets)))
        return (work, view_value(item, work, listed), work.parts.n_parts, table_html(work, listed), picker,
                gr.update(interactive=work.parts.can_undo), gr.update(interactive=work.parts.can_redo),
                note(work, message))

    def refresh(self, session, work):
        """The whole work panel as it stands (after a model opens)."""
        item, work = self.bench(session, work, required=False)
        if item is None:  # no model (a refused file, a cleared upload): an empty panel
            return (None, gr.skip(), None, parts_table(None), gr.update(choices=[], value=[]),
                    gr.update(interactive=False), gr.update(interactive=False), "")
        return self.show(item, work)

    # ------------------------------------------------------------ slider and clicks
    def set_scale(self, session, work, scale, request: gr.Request = None):
        """Slider move: a following list becomes the parts at the ladder scale
        nearest ``scale``; a clicked selection grows or shrinks around its face.
        Returns ``show`` + the selection text."""
        item, work = self.bench(session, work, scale, required=False)
        quick = self.app.preview(session) if item is None else None
        if quick is not None and scale is not None:  # first parts from the masks, while the field is fitted
            self.app.want_scale(request, float(scale))
            result = quick.result(float(scale))
            return (gr.skip(), result["value"], len(result["faces"]), parts_table(result)) + (gr.skip(),) * 5
        if item is None or scale is None:
            return (gr.skip(),) * 9
        with work.lock:
            try:
                follow(item, work, float(scale))
            except Exception:
                log.exception("parts of %s at scale %s failed", session.name, scale)
                raise gr.Error(f"Cutting '{session.name}' at scale {float(scale):.1f} failed on the server, "
                               "which logged the details. Try another scale.",
                               print_exception=False) from None
            text = clicked_text(item, work) if work.face is not None else gr.skip()
            return self.show(item, work, targets=() if work.following else None) + (text,)

    def face_click(self, session, work, scale, targets, evt: gr.EventData):
        """A click on the model selects the group of the face under it at the
        slider's scale and picks its part; shift-click adds or removes the
        part in the picker and keeps the selection."""
        data = getattr(evt, "_data", None) or {}
        return self.click(session, work, scale, targets, data.get("face"), bool(data.get("shift")))

    def click(self, session, work, scale, targets, face, shift: bool = False):
        """``face_click`` for a face id: ``show`` + the selection text."""
        item, work = self.bench(session, work, scale, required=False)
        if item is None or face is None or scale is None or not 0 <= int(face) < item.asset.n_faces:
            return (gr.skip(),) * 9  # a face outside this object, or no parts shown yet
        face = int(face)
        with work.lock:
            part = int(work.parts.labels[face])
            picked = parse_ids(targets)
            if shift:
                if part >= 0:
                    picked = [p for p in picked if p != part] if part in picked else picked + [part]
                return self.show(item, work, targets=picked) + (gr.skip(),)
            work.face = face
            follow(item, work, float(scale))  # a following list is the parts at the slider's scale
            part = int(work.parts.labels[face])
            text = (f"Face {face:,} is in **part {part}**. " if part >= 0 else "") + clicked_text(item, work)
            return self.show(item, work, targets=[part] if part >= 0 else []) + (text,)

    def clear_selection(self, session, work, targets):
        item, work = self.bench(session, work)
        with work.lock:
            work.select(None)
            return self.show(item, work, targets=parse_ids(targets)) + ("",)

    # ------------------------------------------------------------ mask prompt
    def paint_reference(self, session, work, index):
        """Show fitted reference view ``index`` to paint on: (work, editor, result, status)."""
        item, work = self.bench(session, work, required=False)
        if item is None:  # no model: nothing to paint on
            return gr.skip(), None, None, ""
        if index is None:
            return (gr.skip(),) * 4
        cfg = replace(item.field.config.render, resolution=PAINT_RESOLUTION)
        cameras = reference_cameras(cfg, float(np.linalg.norm(item.asset.mesh.extents)))
        if not 0 <= int(index) < len(cameras):
            raise gr.Error(f"There is no view {index}: pick one of the {len(cameras)} in the list.",
                           print_exception=False)
        return self._paint_on(item, work, cameras[int(index)], f"view {int(index) + 1}")

    def paint_viewer_angle(self, session, work, evt: gr.EventData):
        """The viewer's "Paint this view": the same angle, to paint on."""
        item, work = self.bench(session, work)
        try:
            camera = viewer_camera((getattr(evt, "_data", None) or {}).get("camera"), PAINT_RESOLUTION)
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return self._paint_on(item, work, camera, "the viewer's angle") + (None,)

    def _paint_on(self, item, work: Workbench, camera, what: str):
        view = item.field.renderer.render(camera)
        with work.lock:
            work.paint = view
        editor = {"background": view.color, "layers": [], "composite": None}
        return (work, editor, None, f"Paint over a part on {what} with the brush, then press **Find the 3D part**.")

    def mask_part(self, session, work, painted):
        """The 3D part a painted mask means (PartField.from_mask), made the
        selection: (work, viewer value, result image, status, selection text)."""
        item, work = self.bench(session, work)
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
            result = highlight(view.color, seen & faces[np.maximum(view.face, 0)], seen)
            text = selection_text(item, work, f"The painted region means a part at scale {scale:.2f}")
            return (work, view_value(item, work), result,
                    f"The part at scale {scale:.2f}: {int(faces.sum()):,} faces, highlighted in the 3D view.", text)

    # ------------------------------------------------------------ edits
    def _edit(self, session, work, action):
        """Run ``action(item, work) -> (message, picked ids)`` on the session's
        list; its ValueError (a refused edit) becomes the page's sentence."""
        item, work = self.bench(session, work)
        with work.lock:
            try:
                message, picked = action(item, work)
            except ValueError as exc:
                raise gr.Error(str(exc), print_exception=False) from None
            return self.show(item, work, message, picked)

    def add_selection(self, session, work):
        def act(item, work):
            if work.selection is None:
                raise ValueError("Nothing is selected: click the model or paint a mask first.")
            faces = work.selection & (work.parts.labels >= 0)
            if not faces.any():
                raise ValueError("The selection lies on deleted parts only: there is nothing to add.")
            part = work.parts.add(faces)
            work.select(None)
            return f"Added the selection as part {part}.", [part]
        return self._edit(session, work, act)

    def merge(self, session, work, targets):
        def act(item, work):
            ids = parse_ids(targets)
            part = work.parts.merge(ids)
            return f"Merged parts {_listed(ids)} into part {part}.", [part]
        return self._edit(session, work, act)

    def split(self, session, work, targets):
        def act(item, work):
            part = _one(parse_ids(targets), "split")
            cut = split_labels(item, work.parts.faces(part))
            if cut is None:
                raise ValueError(f"Part {part} is one piece at every scale: PartScope cannot split it.")
            pieces = work.parts.split(part, cut[0])
            return f"Split part {part} into {len(pieces)} parts (as cut at scale {cut[1]:.1f}).", pieces
        return self._edit(session, work, act)

    def delete(self, session, work, targets):
        def act(item, work):
            ids = _some(parse_ids(targets), "delete")
            work.parts.delete(ids)
            return f"Deleted part{'s' * (len(ids) > 1)} {_listed(ids)}: their faces leave the downloads.", []
        return self._edit(session, work, act)

    def hide(self, session, work, targets):
        def act(item, work):
            ids = _some(parse_ids(targets), "hide or show")
            hidden = work.parts.state.hidden
            hide = not all(0 <= i < len(hidden) and hidden[i] for i in ids)
            work.parts.hide(ids, hidden=hide)  # refuses unknown ids
            return (f"{'Hid' if hide else 'Showed'} part{'s' * (len(ids) > 1)} {_listed(ids)}"
                    f"{' (hidden parts stay in the downloads)' if hide else ''}.", ids)
        return self._edit(session, work, act)

    def isolate(self, session, work, targets):
        def act(item, work):
            part = _one(parse_ids(targets), "isolate")
            work.parts.isolate(part)
            return f"Only part {part} is shown; **Show all** brings the others back.", [part]
        return self._edit(session, work, act)

    def show_all(self, session, work, targets):
        def act(item, work):
            if not work.parts.state.hidden.any():
                return "Every part is shown already.", parse_ids(targets)
            work.parts.show_all()
            return "Every part is shown again.", parse_ids(targets)
        return self._edit(session, work, act)

    def rename(self, session, work, targets, name):
        def act(item, work):
            part = _one(parse_ids(targets), "rename")
            text = " ".join(str(name or "").split())
            if len(text) > MAX_NAME:
                raise ValueError(f"That name has {len(text)} characters; keep it to {MAX_NAME}.")
            work.parts.rename(part, text)
            return (f"Part {part} is now called '{text}'." if text else f"Part {part} has no name now."), [part]
        return self._edit(session, work, act)

    def recolor(self, session, work, targets, color):
        def act(item, work):
            part = _one(parse_ids(targets), "recolor")
            work.parts.recolor(part, parse_color(color))
            return f"Part {part} has a new color.", [part]
        return self._edit(session, work, act)

    def undo(self, session, work):
        def act(item, work):
            return ("Undid the last edit." if work.parts.undo() else "There is nothing to undo."), []
        return self._edit(session, work, act)

    def redo(self, session, work):
        def act(item, work):
            return ("Redid the edit." if work.parts.redo() else "There is nothing to redo."), []
        return self._edit(session, work, act)

    def recut(self, session, work, scale):
        def act(item, work):
            s = item.snap(work.scale if scale is None else float(scale))
            if work.following and s == work.scale:
                return f"The list is the automatic parts at scale {s:.1f} already.", []
            work.recut(item.result(s), undoable=True)
            if work.face is not None:
                work.select(item.select(work.face, s), work.face)
            return f"The list is the automatic parts at scale {s:.1f} again.", []
        return self._edit(session, work, act)


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
