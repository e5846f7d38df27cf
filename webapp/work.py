"""One session's work on one object: its editable part list, its selection
and the view it paints masks on (the page's ``work`` state).

The list follows the granularity slider while it is automatic: a slider
move replaces it with the automatic parts at the new scale, without an undo
step. The first edit detaches it: from then on it stays put and the slider
only grows or shrinks the selection. "Re-cut at this scale" replaces an
edited list with the automatic parts as one undoable edit, after which it
follows the slider again; Undo brings the edited list back. Everything here
is numpy and ``core`` objects; no Gradio.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from core.labels import with_model_names
from core.parts import PartList
from core.rendering import View

from . import payload
from .panels import parts_table

MIN_PIECE = 0.02
"""A split ignores pieces under this share of the part's faces (clustering
noise at a part's border); they join the largest piece."""


@dataclass(eq=False)
class Workbench:
    """What one session is doing with one fitted object.

    key : the object's engine cache key (the ``Fitted`` it works on)
    parts : core.parts.PartList, the list the downloads contain
    scale : the ladder scale the slider shows
    face : the clicked face the selection grows around, or None
    selection : (F,) bool selected faces, or None
    paint : the rendered view a mask is painted on (its camera and colors), or None
    errors : {part id: sentence} naming errors, valid while ``errors_of`` is
        the list's labels array (any edit that moves faces makes them stale)
    auto : the list's state while it is the automatic parts at ``scale``
    """

    key: str
    parts: PartList
    scale: float
    auto: object = None
    face: int | None = None
    selection: np.ndarray | None = None
    paint: View | None = None
    errors: dict = field(default_factory=dict)
    errors_of: np.ndarray | None = None
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    """Held while the list changes: a session's events may run at the same time."""

    @property
    def following(self) -> bool:
        """Whether the list follows the slider (it is the automatic parts, unedited)."""
        return self.parts.state is self.auto

    def recut(self, result: dict, undoable: bool) -> None:
        """Make the list the automatic parts of ``result`` (``Fitted.result``):
        as one undoable edit, or in place of the current automatic list (a
        slider move)."""
        if undoable:
            self.parts.reset(result["labels"], result["rgb"])
        else:
            self.parts.state = PartList.from_labels(result["labels"], result["rgb"]).state
        self.auto, self.scale = self.parts.state, result["scale"]

    def naming_errors(self) -> dict:
        return self.errors if self.errors_of is self.parts.labels else {}

    def select(self, faces: np.ndarray | None, face: int | None = None) -> None:
        self.selection, self.face = faces, face


def new_workbench(item, scale: float) -> Workbench:
    """A fresh list of the automatic parts of ``item`` (a store.Fitted) at ``scale``."""
    result = item.result(scale)
    parts = PartList.from_labels(result["labels"], result["rgb"])
    return Workbench(item.key, parts, result["scale"], auto=parts.state)


def follow(item, work: Workbench, scale: float) -> None:
    """The slider moved to ``scale``: a following list becomes the parts at
    that scale (no history), and a clicked selection grows or shrinks to it."""
    work.scale = item.snap(scale)
    if work.following:
        work.recut(item.result(work.scale), undoable=False)
    if work.face is not None:
        work.selection = item.select(work.face, work.scale)


def listing(item, work: Workbench) -> dict:
    """The list as a ``Fitted.result``-like dict: "faces", "share", "colors"
    (hex, hidden ones too), "names" the name of the model's own object each
    part is, or None (``core.labels.with_model_names``; the automatic
    parts' own while the list follows the slider, found once a scale)."""
    state = work.parts.state
    faces, share = item.sizes(state.labels, state.n_parts)
    names = item.result(work.scale)["names"] if work.following else with_model_names(item.asset, state.labels)
    return {"faces": faces, "share": share, "colors": payload.hex_colors(state.colors), "names": names}


def view_value(item, work: Workbench, listed: dict | None = None) -> dict:
    """The viewer's value (webapp/payload.py): a following list as the ladder's
    parts at its scale, an edited one with its names and hidden parts; the
    selection. listed : ``listing(item, work)`` if the caller has it."""
    state = work.parts.state
    if work.following:
        parts = item.entry(work.scale)
    else:
        listed = listing(item, work) if listed is None else listed
        names = [given or own for given, own in zip(state.names, listed["names"])]
        parts = payload.parts_entry(state.labels, payload.hex_colors(state.colors, state.hidden), listed["faces"],
                                    listed["share"], names=names)
    return payload.view_value(item.asset.digest, item.asset.name, item.scales, work.scale, ladder=item.ladder_id,
                              parts=parts, edited=not work.following, note=item.note,
                              selection=payload.selection_of(work.face, work.selection))


def first_value(item, scale: float) -> dict:
    """The viewer's value of first parts (a ``Fitted`` over the masks) at ``scale``."""
    s = item.snap(scale)
    return payload.view_value(item.asset.digest, item.asset.name, item.scales, s, ladder=item.ladder_id,
                              parts=item.entry(s), note=item.note)


def table_html(work: Workbench, listed: dict) -> str:
    """The parts table of the list; listed : ``listing(item, work)``."""
    state = work.parts.state
    return parts_table(listed, names=state.names, hidden=state.hidden, errors=work.naming_errors(),
                       defaults=listed["names"])


def part_choices(work: Workbench, counts: np.ndarray) -> list[tuple[str, int]]:
    """(label, id) per part for the part picker: "3 · lamp shade (1,204 faces)";
    counts : (P,) faces per part (``listing(...)["faces"]``)."""
    state = work.parts.state
    return [(f"{k}{' · ' + state.names[k] if state.names[k] else ''} ({int(counts[k]):,} faces)"
             f"{' hidden' if state.hidden[k] else ''}", k) for k in range(state.n_parts)]


def split_labels(item, faces: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Finer labels (F,) int32 that cut the part ``faces`` (F,) bool, and
    their scale: the coarsest ladder scale whose parts cut it into at least
    two pieces of ``MIN_PIECE`` of its faces or more (smaller pieces join the
    largest). None when no scale cuts it."""
    total = int(faces.sum())
    for s in sorted(item.scales, reverse=True):
        labels = item.result(s)["labels"]
        ids, counts = np.unique(labels[faces], return_counts=True)
        big = counts >= max(1, MIN_PIECE * total)
        if big.sum() >= 2:
            finer = labels.copy()
            finer[faces & np.isin(labels, ids[~big])] = ids[counts.argmax()]
            return finer, float(s)
    return None


def rename_by_faces(work: Workbench, named: np.ndarray, part: int, name: str) -> int | None:
    """Give ``name`` to the part that holds exactly the faces ``part`` had in
    the labels ``named`` (F,) (the list as it was when naming started), if
    the list still has such a part; returns its id now, or None."""
    faces = named == part
    now = np.unique(work.parts.labels[faces])
    if len(now) != 1 or now[0] < 0 or np.count_nonzero(work.parts.labels == now[0]) != np.count_nonzero(faces):
        return None
    work.parts.rename(int(now[0]), name)
    return int(now[0])
