"""An editable part list over one object's faces, with undo and redo.

Labels stay consistent through every edit: ``labels`` is (F,) int32 with
parts numbered 0..P-1 with no gaps and -1 for deleted faces, and names,
colors and visibility have one entry per part.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .clustering import relabel_by_size
from .palette import part_palette


@dataclass(frozen=True)
class PartState:
    """One snapshot of the list.

    labels : (F,) int32, part of every face, -1 deleted
    names : tuple of str or None, one per part
    colors : (P, 3) uint8
    hidden : (P,) bool
    """

    labels: np.ndarray
    names: tuple
    colors: np.ndarray
    hidden: np.ndarray

    @property
    def n_parts(self) -> int:
        return len(self.names)


def _fresh(labels: np.ndarray, colors=None) -> PartState:
    labels = np.asarray(labels, np.int32)
    n = int(labels.max()) + 1 if (labels >= 0).any() else 0
    colors = part_palette(n) if colors is None else np.asarray(colors, np.uint8).reshape(n, 3)
    return PartState(labels, (None,) * n, colors, np.zeros(n, bool))


def _compact(labels: np.ndarray, names, colors, hidden) -> PartState:
    """Renumber parts 0..P-1, keeping their order,
    dropping ids with no faces, carrying names/colors/visibility along."""
    used = np.unique(labels[labels >= 0])
    remap = np.full(max(len(names), int(labels.max()) + 1 if len(used) else 0), -1, np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    new = np.where(labels >= 0, remap[np.maximum(labels, 0)], -1).astype(np.int32)
    return PartState(new, tuple(names[i] for i in used), np.asarray(colors)[used].astype(np.uint8),
                     np.asarray(hidden)[used].astype(bool))


@dataclass
class PartList:
    """Edits over face labels; every edit can be undone and redone."""

    state: PartState
    _undo: list = field(default_factory=list, repr=False)
    _redo: list = field(default_factory=list, repr=False)

    @classmethod
    def from_labels(cls, labels: np.ndarray, colors=None) -> "PartList":
        """Start from (F,) int labels (contiguous from 0, -1 deleted) and
        their (P, 3) uint8 colors (default: the palette in part order)."""
        return cls(_fresh(labels, colors))

    # -- views ---------------------------------------------------------------
    @property
    def labels(self) -> np.ndarray:
        return self.state.labels

    @property
    def names(self) -> tuple:
        return self.state.names

    @property
    def n_parts(self) -> int:
        return self.state.n_parts

    def faces(self, part: int) -> np.ndarray:
        """(F,) bool faces of one part."""
        self._check(part)
        return self.state.labels == part

    def visible_labels(self) -> np.ndarray:
        """(F,) int32 labels with hidden parts shown as -1."""
        s = self.state
        return np.where((s.labels >= 0) & ~s.hidden[np.maximum(s.labels, 0)], s.labels, -1).astype(np.int32)

    # -- history -------------------------------------------------------------
    def _push(self, new: PartState) -> PartState:
        self._undo.append(self.state)
        self._redo.clear()
        self.state = new
        return new

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        return self._step(self._undo, self._redo)

    def redo(self) -> bool:
        return self._step(self._redo, self._undo)

    def _step(self, back: list, forth: list) -> bool:
        """The last state of ``back`` becomes the state; the state goes on ``forth``."""
        if not back:
            return False
        forth.append(self.state)
        self.state = back.pop()
        return True

    def reset(self, labels: np.ndarray, colors=None) -> PartState:
        """Replace the whole list (e.g. the slider moved), as one undoable edit."""
        return self._push(_fresh(labels, colors))

    # -- edits -----------------------------------------------------------------
    def _check(self, *parts):
        for p in parts:
            if not 0 <= int(p) < self.n_parts:
                raise ValueError(f"There is no part {p}: parts are numbered 0 to {self.n_parts - 1}.")

    def add(self, faces: np.ndarray, name: str | None = None) -> int:
        """Make the given faces (F,) bool a new part (taken from the parts that
        held them); returns its id."""
        faces = np.asarray(faces, bool)
        s = self.state
        if faces.shape != s.labels.shape or not faces.any():
            raise ValueError("The selection is empty: select some faces before adding a part.")
        new = s.n_parts
        labels = s.labels.copy()
        labels[faces] = new
        palette = part_palette(new + 1)
        state = _compact(labels, s.names + (name,), np.vstack([s.colors, palette[new:]]),
                         np.append(s.hidden, False))
        self._push(state)
        return int(state.labels[np.argmax(faces)])

    def merge(self, parts) -> int:
        """Merge parts into the first one given; returns the merged part's id."""
        parts = [int(p) for p in parts]
        self._check(*parts)
        if len(set(parts)) < 2:
            raise ValueError("Pick at least two different parts to merge.")
        s = self.state
        keep = parts[0]
        labels = np.where(np.isin(s.labels, parts), keep, s.labels).astype(np.int32)
        state = _compact(labels, s.names, s.colors, s.hidden)
        self._push(state)
        return int(state.labels[np.argmax(labels == keep)])

    def split(self, part: int, finer_labels: np.ndarray) -> list[int]:
        """Split one part by a finer segmentation (F,) int of the whole object
        (e.g. the parts at a smaller scale); returns the new parts' ids."""
        self._check(part)
        s = self.state
        inside = s.labels == part
        pieces = np.unique(np.asarray(finer_labels)[inside])
        if len(pieces) < 2:
            raise ValueError(f"Part {part} is one piece at that granularity: pick a finer scale to split it.")
        local = relabel_by_size(np.asarray(finer_labels)[inside])
        labels = s.labels.copy()
        n = s.n_parts
        labels[inside] = np.where(local == 0, part, n + local - 1)
        extra = len(pieces) - 1
        palette = part_palette(n + extra)
        state = _compact(labels, s.names + (None,) * extra, np.vstack([s.colors, palette[n:]]),
                         np.append(s.hidden, np.zeros(extra, bool)))
        self._push(state)
        return sorted(set(state.labels[inside].tolist()))

    def delete(self, parts) -> None:
        """Drop parts: their faces become -1 and leave every download."""
        parts = [int(p) for p in np.atleast_1d(parts)]
        self._check(*parts)
        s = self.state
        labels = np.where(np.isin(s.labels, parts), -1, s.labels).astype(np.int32)
        self._push(_compact(labels, s.names, s.colors, s.hidden))

    def rename(self, part: int, name: str | None) -> None:
        self._check(part)
        name = (name or "").strip() or None
        names = list(self.state.names)
        names[part] = name
        self._push(replace(self.state, names=tuple(names)))

    def recolor(self, part: int, color) -> None:
        self._check(part)
        rgb = np.asarray(color, dtype=np.int64).ravel()[:3]
        if rgb.size != 3 or (rgb < 0).any() or (rgb > 255).any():
            raise ValueError("A color needs three values from 0 to 255.")
        colors = self.state.colors.copy()
        colors[part] = rgb
        self._push(replace(self.state, colors=colors))

    def hide(self, parts, hidden: bool = True) -> None:
        parts = [int(p) for p in np.atleast_1d(parts)]
        self._check(*parts)
        flags = self.state.hidden.copy()
        flags[parts] = hidden
        self._push(replace(self.state, hidden=flags))

    def isolate(self, part: int) -> None:
        """Hide every part but one."""
        self._check(part)
        flags = np.ones(self.n_parts, bool)
        flags[part] = False
        self._push(replace(self.state, hidden=flags))

    def show_all(self) -> None:
        self._push(replace(self.state, hidden=np.zeros(self.n_parts, bool)))
