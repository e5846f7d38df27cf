"""Which of a model's nodes a game engine draws, by the names exporters and
engines agree on.

A game asset carries more than its drawn surface: collision shapes
(Unreal's ``UCX_``, ``UBX_``, ``UCP_`` and ``USP_`` prefixes; Godot's
``-colonly`` and ``-convcolonly`` suffixes, with ``-``, ``_`` or ``$``, any
case) and coarser copies for the distance (``_LOD1``, ``_LOD2``, ...:
Unreal and Unity read ``_LOD`` and a number at the end of a name). Each is
a piece over or through the model: it would be cut into parts of its own,
and a hull round the model would hide it in the viewer; the engine draws
neither up close, so neither is segmented.
"""

from __future__ import annotations

import re

import numpy as np

COLLISION = re.compile(r"^(UCX|UBX|UCP|USP)_|[-_$](colonly|convcolonly)([._-]?\d+)?$", re.IGNORECASE)
LOD = re.compile(r"^(.*?)[-_ .]LOD(\d+)([._-]?\d+)?$", re.IGNORECASE)
"""A level of detail's stem and number; a trailing ``.001`` or ``_1`` is a
copy's number that Blender or trimesh added to a repeated name."""


def not_drawn(names: list[str]) -> tuple[np.ndarray, str]:
    """(N,) bool, the nodes a game engine does not draw up close: collision
    shapes, and every level of detail coarser than the finest of its stem
    (a name without ``_LOD`` is its stem's level 0); and the warning that
    says what was left out ("" where nothing). Nothing is left out where
    that would leave nothing."""
    stems, levels = [], []
    for name in names:
        match = LOD.match(name)
        stems.append((match[1] if match else name).casefold())
        levels.append(int(match[2]) if match else 0)
    finest = {}
    for stem, level in zip(stems, levels):
        finest[stem] = min(level, finest.get(stem, level))
    collision = np.array([bool(COLLISION.search(name)) for name in names])
    coarser = np.array([level > finest[stem] for stem, level in zip(stems, levels)]) & ~collision
    left = collision | coarser
    if left.all() or not left.any():
        return np.zeros(len(names), bool), ""
    said = [f"{n} {one if n == 1 else more} ({_some(names, mask)})"
            for n, one, more, mask in ((collision.sum(), "collision shape", "collision shapes", collision),
                                       (coarser.sum(), "coarser level of detail", "coarser levels of detail", coarser))
            if n]
    return left, (f"also holds {' and '.join(said)}, which a game engine does not draw up close and PartScope "
                  "leaves out of the parts and the downloads: only the model as drawn is segmented")


def _some(names: list[str], mask: np.ndarray) -> str:
    """The first three names of ``mask``, and how many more."""
    chosen = [f"'{names[i]}'" for i in np.flatnonzero(mask)]
    return ", ".join(chosen[:3]) + (f" and {len(chosen) - 3} more" if len(chosen) > 3 else "")
