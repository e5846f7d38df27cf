"""Handlers of a session's work on its object: the scale the page settled
on, click to select, and part-list edits with undo and redo (webapp/work.py
holds the state and the rules).

Handlers return ``{component: value}`` dicts of what changed. An edit
clears the selection (so the rest is not dimmed and the edited part shows
in its colour); bad input and refused edits raise ``gr.Error`` with a
sentence and leave the session's list as it was.
"""

from __future__ import annotations

import logging
import re

import gradio as gr

from .events import event_value
from .work import Workbench, follow, listing, new_workbench, part_choices, split_labels, table_html, view_value

log = logging.getLogger(__name__)

MAX_NAME = 80
"""Longest part name a person may type."""
_COLOR = re.compile(r"#?([0-9a-fA-F]{6})|rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*[\d.]+\s*)?\)")


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
    """The work handlers over the app's ``Fitting`` (objects in memory) and ``SessionStore``.

    page : webapp.page.Page, whose components key the returned dicts
    """

    def __init__(self, fitting, sessions, page):
        self.fitting = fitting
        self.sessions = sessions
        self.page = page

    # ------------------------------------------------------------ state
    def bench(self, session, work, scale=None, required: bool = True):
        """(fitted object, the session's Workbench for it): made on first use
        (the automatic parts at ``scale``), or (None, None) without a model."""
        item = self.fitting.item(session)
        if item is None:
            if required:
                raise gr.Error("Open a model first: its parts are what you edit.", print_exception=False)
            return None, None
        if not isinstance(work, Workbench) or work.key != item.key:
            work = new_workbench(item, item.opening if scale is None else float(scale))
        return item, work

    def show(self, item, work: Workbench, message: str = "", targets=()) -> dict:
        """The work panel as it stands: work, viewer, table, undo, redo, note and
        the part picker with ``targets`` picked (None: the picker as it is)."""
        p = self.page
        listed = listing(item, work)  # part sizes, once for the viewer, the table and the picker
        out = {p.work: work, p.view: view_value(item, work, listed), p.table: table_html(work, listed),
               p.undo: gr.update(interactive=work.parts.can_undo), p.redo: gr.update(interactive=work.parts.can_redo),
               p.note: note(work, message)}
        if targets is not None:
            out[p.targets] = gr.update(choices=part_choices(work, listed["faces"]), value=list(targets))
        return out

    def refresh(self, session, work) -> dict:
        """The whole work panel once a model is open (nothing without one)."""
        item, work = self.bench(session, work, required=False)
        return {self.page.work: work} if item is None else self.show(item, work)

    # ------------------------------------------------------------ the slider and clicks
    def set_scale(self, session, work, scale, request: gr.Request = None) -> dict:
        """The page settled on ``scale``: a following list becomes the parts at
        the ladder scale nearest it, a clicked selection grows or shrinks
        around its face. The page has recoloured itself already, so the viewer
        is not sent again; the table, picker and selection text are."""
        if scale is None:
            return {self.page.work: work}  # (a dict of nothing new: Gradio needs one output named)
        item, work = self.bench(session, work, scale, required=False)
        if item is None:
            if self.fitting.first_parts(session) is not None:  # the field's parts will open there
                self.sessions.want_scale(request, float(scale))
            return {self.page.work: work}
        with work.lock:
            try:
                follow(item, work, float(scale))
            except Exception:
                log.exception("parts of %s at scale %s failed", session.name, scale)
                raise gr.Error(f"Cutting '{session.name}' at scale {float(scale):.1f} failed on the server, "
                               "which logged the details. Try another scale.", print_exception=False) from None
            p, listed = self.page, listing(item, work)
            out = {p.work: work, p.table: table_html(work, listed), p.note: note(work), p.scale: work.scale}
            if work.following:
                out[p.targets] = gr.update(choices=part_choices(work, listed["faces"]), value=[])
            if work.face is not None:
                out[p.picked] = clicked_text(item, work)
            return out

    def scale_change(self, session, work, evt: gr.EventData, request: gr.Request = None) -> dict:
        """The viewer's ``scale_change`` event: ``set_scale`` with its scale."""
        return self.set_scale(session, work, event_value(evt, "scale"), request)

    def face_click(self, session, work, targets, evt: gr.EventData) -> dict:
        """The viewer's ``face_click`` event: ``click`` with its face, scale and shift key."""
        return self.click(session, work, event_value(evt, "scale"), targets, event_value(evt, "face"),
                          bool(event_value(evt, "shift", False)))

    def click(self, session, work, scale, targets, face, shift: bool = False) -> dict:
        """A click selects the group of ``face`` at ``scale`` and picks its part;
        shift-click adds or removes the part in the picker and keeps the selection."""
        item, work = self.bench(session, work, scale, required=False)
        if item is None or face is None or not 0 <= int(face) < item.asset.n_faces:
            return {self.page.work: work}  # a face outside this object, or no parts shown yet
        face, scale = int(face), work.scale if scale is None else float(scale)
        with work.lock:
            part = int(work.parts.labels[face])
            picked = parse_ids(targets)
            if shift:
                if part >= 0:
                    picked = [p for p in picked if p != part] if part in picked else picked + [part]
                return self.show(item, work, targets=picked)
            work.face = face
            follow(item, work, scale)  # a following list is the parts at the slider's scale
            part = int(work.parts.labels[face])
            text = (f"Face {face:,} is in **part {part}**. " if part >= 0 else "") + clicked_text(item, work)
            return self.show(item, work, targets=[part] if part >= 0 else []) | {self.page.picked: text}

    def clear_selection(self, session, work, targets) -> dict:
        item, work = self.bench(session, work)
        with work.lock:
            work.select(None)
            return self.show(item, work, targets=parse_ids(targets)) | {self.page.picked: ""}

    # ------------------------------------------------------------ edits
    def _edit(self, session, work, action) -> dict:
        """Run ``action(item, work) -> (message, picked ids)`` on the session's
        list and clear the selection; its ValueError (a refused edit) becomes
        the page's sentence."""
        item, work = self.bench(session, work)
        with work.lock:
            try:
                message, picked = action(item, work)
            except ValueError as exc:
                raise gr.Error(str(exc), print_exception=False) from None
            work.select(None)
            return self.show(item, work, message, picked) | {self.page.picked: ""}

    def add_selection(self, session, work) -> dict:
        def act(item, work):
            if work.selection is None:
                raise ValueError("Nothing is selected: click the model or paint a mask first.")
            faces = work.selection & (work.parts.labels >= 0)
            if not faces.any():
                raise ValueError("The selection lies on deleted parts only: there is nothing to add.")
            part = work.parts.add(faces)
            return f"Added the selection as part {part}.", [part]
        return self._edit(session, work, act)

    def merge(self, session, work, targets) -> dict:
        def act(item, work):
            ids = parse_ids(targets)
            part = work.parts.merge(ids)
            return f"Merged parts {_listed(ids)} into part {part}.", [part]
        return self._edit(session, work, act)

    def split(self, session, work, targets) -> dict:
        def act(item, work):
            part = _one(parse_ids(targets), "split")
            cut = split_labels(item, work.parts.faces(part))
            if cut is None:
                raise ValueError(f"Part {part} is one piece at every scale: PartScope cannot split it.")
            pieces = work.parts.split(part, cut[0])
            return f"Split part {part} into {len(pieces)} parts (as cut at scale {cut[1]:.1f}).", pieces
        return self._edit(session, work, act)

    def delete(self, session, work, targets) -> dict:
        def act(item, work):
            ids = _some(parse_ids(targets), "delete")
            work.parts.delete(ids)
            return f"Deleted part{'s' * (len(ids) > 1)} {_listed(ids)}: their faces leave the downloads.", []
        return self._edit(session, work, act)

    def hide(self, session, work, targets) -> dict:
        def act(item, work):
            ids = _some(parse_ids(targets), "hide or show")
            hidden = work.parts.state.hidden
            hide = not all(0 <= i < len(hidden) and hidden[i] for i in ids)
            work.parts.hide(ids, hidden=hide)  # refuses unknown ids
            return (f"{'Hid' if hide else 'Showed'} part{'s' * (len(ids) > 1)} {_listed(ids)}"
                    f"{' (hidden parts stay in the downloads)' if hide else ''}.", ids)
        return self._edit(session, work, act)

    def isolate(self, session, work, targets) -> dict:
        def act(item, work):
            part = _one(parse_ids(targets), "isolate")
            work.parts.isolate(part)
            return f"Only part {part} is shown; **Show all** brings the others back.", [part]
        return self._edit(session, work, act)

    def show_all(self, session, work, targets) -> dict:
        def act(item, work):
            if not work.parts.state.hidden.any():
                return "Every part is shown already.", parse_ids(targets)
            work.parts.show_all()
            return "Every part is shown again.", parse_ids(targets)
        return self._edit(session, work, act)

    def rename(self, session, work, targets, name) -> dict:
        def act(item, work):
            part = _one(parse_ids(targets), "rename")
            text = " ".join(str(name or "").split())
            if len(text) > MAX_NAME:
                raise ValueError(f"That name has {len(text)} characters; keep it to {MAX_NAME}.")
            work.parts.rename(part, text)
            return (f"Part {part} is now called '{text}'." if text else f"Part {part} has no name now."), [part]
        return self._edit(session, work, act)

    def recolor(self, session, work, targets, color) -> dict:
        def act(item, work):
            part = _one(parse_ids(targets), "recolor")
            work.parts.recolor(part, parse_color(color))
            return f"Part {part} has a new color.", [part]
        return self._edit(session, work, act)

    def undo(self, session, work) -> dict:
        def act(item, work):
            return ("Undid the last edit." if work.parts.undo() else "There is nothing to undo."), []
        return self._edit(session, work, act)

    def redo(self, session, work) -> dict:
        def act(item, work):
            return ("Redid the edit." if work.parts.redo() else "There is nothing to redo."), []
        return self._edit(session, work, act)

    def recut(self, session, work, scale) -> dict:
        def act(item, work):
            s = item.snap(work.scale if scale is None else float(scale))
            if work.following and s == work.scale:
                return f"The list is the automatic parts at scale {s:.1f} already.", []
            work.recut(item.result(s), undoable=True)
            return f"The list is the automatic parts at scale {s:.1f} again.", []
        return self._edit(session, work, act)
