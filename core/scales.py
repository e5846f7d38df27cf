"""The granularity scale (method.md §5): 0 for the finest parts up to
COARSEST for the whole object, and the ladder of steps the slider and the
command line show. Every reader of a scale takes it from here."""

from __future__ import annotations

from typing import Protocol

import numpy as np

COARSEST = 2.0
"""The largest scale: a mask's 3D scale reaches it only for the whole object (the paper's bound)."""
STEP = 0.1
"""The ladder's step."""
DEFAULT = 1.3
"""The scale the app opens a model of one piece at (a model of a few
objects at their count: ``hierarchy.opening_scale``) and the command line
names at: the ladder
step whose parts score best over PSB dev as one fixed scale for every
object (part mIoU 0.642, 8 parts where the object has that many; 0.5 gave
0.551 with 16), confirmed on PSB check (0.652 against 0.542), cached fits
of three seeds."""


def default_scales() -> np.ndarray:
    """(21,) float32 ladder: 0, STEP, ..., COARSEST."""
    n = int(round(COARSEST / STEP)) + 1
    return np.round(np.arange(n, dtype=np.float32) * STEP, 2).astype(np.float32)


def key(scale: float) -> float:
    """A scale as a key of caches and tables (to 0.001)."""
    return round(float(scale), 3)


def snap(scale: float, ladder=None) -> float:
    """The step of ``ladder`` (default ``default_scales()``) nearest ``scale``, as a key."""
    ladder = np.asarray(default_scales() if ladder is None else ladder, np.float64)
    return key(ladder[np.abs(ladder - float(scale)).argmin()])


def steps_from_coarse(scale: float) -> int:
    """How many ladder steps ``scale`` (snapped) lies below COARSEST: 0 for the whole object."""
    return int(round((COARSEST - snap(scale)) / STEP))


class Parts(Protocol):
    """Parts at any scale: what a fitted object (``partfield.PartField``) and
    the part tree of the default masks alone (``partfield.FirstParts``, the
    first parts) both answer."""

    def parts(self, scale: float) -> np.ndarray:
        """(F,) int32 face labels at ``scale``, contiguous from 0, largest first."""

    @property
    def cached_scales(self) -> list[float]:
        """The scales whose parts are computed already (cheap to show first)."""

    @property
    def area(self) -> np.ndarray:
        """(F,) the surface each face adds (a back of a surface written twice: none)."""
