"""The pictures a multimodal LLM is shown to name parts (method.md §10).

The object is rendered once from a fixed set of canonical orbit views. For
each part, the view where it covers the most pixels is highlighted (the part
tinted orange with a dark outline, the rest greyed out) and composed with two
unhighlighted context views into one picture.

Composed image layout, for a panel size ``R`` (default 384)::

    +-----------+---+---------+
    |           |   |context 1|   x in [0, R): the highlighted view
    | highlight | | +---------+   x in [R + GAP, R + GAP + R/2): two context
    |           |   |context 2|   views of the whole object, R/2 square
    +-----------+---+---------+
"""

from __future__ import annotations

import base64
import io
import logging
import time

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from .loading import Asset
from .rendering import Camera, Renderer, View

log = logging.getLogger(__name__)

RESOLUTION = 384
"""Width and height of each canonical view in pixels."""
FOV_DEG = 39.6
"""Field of view of the canonical views (as in the reference renders)."""
GAP = 8
"""Pixels between the highlight panel and the context column."""
TINT = np.array([255, 140, 0], np.float32)
"""Orange laid over the part in the highlight panel."""
OUTLINE = (20, 20, 20)
"""Color of the outline drawn just outside the part."""
OUTLINE_WIDTH = 2
"""Outline thickness in pixels."""


def canonical_cameras(asset: Asset, resolution: int = RESOLUTION) -> list[Camera]:
    """12 orbit cameras that see the whole normalized object.

    Views 0-7: azimuths 0, 45, ..., 315 deg at elevations alternating 25/40
    deg (the upper ring); views 8-11: azimuths 45, 135, 225, 315 deg at -30
    deg (from below). The distance fits the object's bounding sphere in the
    frame.
    """
    radius = float(np.linalg.norm(asset.mesh.vertices, axis=1).max())
    distance = 1.05 * radius / np.sin(np.radians(FOV_DEG / 2))
    upper = [Camera.orbit(45.0 * k, 25.0 if k % 2 == 0 else 40.0, distance, FOV_DEG, resolution)
             for k in range(8)]
    lower = [Camera.orbit(45.0 + 90.0 * k, -30.0, distance, FOV_DEG, resolution) for k in range(4)]
    return upper + lower


def highlight(color: np.ndarray, part: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Tint a part orange, outline it, and grey out the rest of the object.

    color : (H, W, 3) uint8 shaded render
    part : (H, W) bool pixels of the part
    foreground : (H, W) bool pixels of the object (the background stays as is)
    returns (H, W, 3) uint8. The part keeps its shading and 30% of its color;
    the outline (OUTLINE_WIDTH px, just outside the part) is dark grey, so the
    only saturated pixels are the part's.
    """
    rgb = color.astype(np.float32)
    lum = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    out = rgb.copy()
    rest = foreground & ~part
    out[rest] = (0.35 * lum[rest] + 0.65 * 235.0)[:, None]
    shade = 0.5 + 0.5 * lum[part] / 255.0
    out[part] = 0.3 * rgb[part] + 0.7 * TINT * shade[:, None]
    ring = ndimage.binary_dilation(part, np.ones((3, 3), bool), iterations=OUTLINE_WIDTH) & ~part
    out[ring] = OUTLINE
    return np.clip(out, 0, 255).astype(np.uint8)


def compose(main: np.ndarray, context: list[np.ndarray]) -> Image.Image:
    """Lay out a main panel and up to two context panels (see the module doc).

    main : (R, R, 3) uint8
    context : list of (R, R, 3) uint8, shown at half size, stacked
    returns an RGB image of size (R + GAP + R // 2, R), white background
    """
    size = main.shape[0]
    half = size // 2
    canvas = Image.new("RGB", (size + GAP + half, size), (255, 255, 255))
    canvas.paste(Image.fromarray(main), (0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.line([(size + GAP // 2, 0), (size + GAP // 2, size)], fill=(170, 170, 170), width=2)
    for k, panel in enumerate(context[:2]):
        small = Image.fromarray(panel).resize((half, half), Image.LANCZOS)
        canvas.paste(small, (size + GAP, k * half))
    if len(context) > 1:
        draw.line([(size + GAP, half), (size + GAP + half, half)], fill=(170, 170, 170), width=1)
    return canvas


def context_views(cameras: list[Camera], index: int, n_upper: int = 8) -> list[int]:
    """Two upper-ring views that complement view ``index``: the one looking
    most nearly from the opposite side, then the one most nearly at a right
    angle to it."""
    back = np.stack([c.rotation[:, 2] for c in cameras])
    cos = back[:n_upper] @ back[index]
    candidates = [i for i in range(n_upper) if i != index]
    opposite = min(candidates, key=lambda i: cos[i])
    side = min((i for i in candidates if i != opposite), key=lambda i: abs(cos[i]))
    return [opposite, side]


def image_data_url(image: Image.Image) -> str:
    """A PNG data URL (base64) of ``image``."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def render_canonical(asset: Asset, resolution: int = RESOLUTION) -> list[View]:
    """Render the ``canonical_cameras`` views of an object with one Renderer.

    returns list of 12 View, each (resolution, resolution); they depend on
    the object only, so one set serves every labelling of it.
    """
    start = time.perf_counter()
    renderer = Renderer(asset)
    views = [renderer.render(c) for c in canonical_cameras(asset, resolution)]
    log.info("rendered %d naming views of %s in %.2f s", len(views), asset.name,
             time.perf_counter() - start)
    return views


class CanonicalViews:
    """The canonical renders of one object with its parts, made once and
    reused for every part.

    views : list of View from ``render_canonical``
    labels : (V, H, W) int32, part id per pixel, -1 background or deleted face
    coverage : (V, P) int64, pixels of part p in view v (P = max label + 1)
    """

    OBJECT_VIEW = 1
    """The view (azimuth 45 deg, elevation 40 deg) that leads the object image."""

    def __init__(self, views: list[View], face_labels: np.ndarray):
        face_labels = np.asarray(face_labels)
        self.views = views
        self.cameras = [v.camera for v in views]
        faces = np.stack([v.face for v in views])
        if faces.max() >= len(face_labels):
            raise ValueError("the views show faces beyond face_labels: they are of another object")
        self.labels = np.where(faces >= 0, face_labels[np.maximum(faces, 0)], -1).astype(np.int32)
        n_parts = int(face_labels.max(initial=-1)) + 1
        flat = self.labels.reshape(len(views), -1)
        self.coverage = np.stack([np.bincount(row[row >= 0], minlength=n_parts) for row in flat])

    def best_view(self, part_id: int) -> int | None:
        """Index of the view where the part covers the most pixels (first on a
        tie), or None when no view sees it."""
        if part_id >= self.coverage.shape[1] or self.coverage[:, part_id].max() == 0:
            return None
        return int(self.coverage[:, part_id].argmax())

    def camera(self, part_id: int) -> Camera | None:
        """The camera of the highlight panel for ``part_id`` (None if unseen)."""
        index = self.best_view(part_id)
        return None if index is None else self.cameras[index]

    def part_image(self, part_id: int) -> Image.Image:
        """The composed image for one part; ValueError when no view sees it."""
        index = self.best_view(part_id)
        if index is None:
            raise ValueError(f"part {part_id} is not visible in any canonical view")
        view = self.views[index]
        main = highlight(view.color, self.labels[index] == part_id, view.face >= 0)
        return compose(main, [self.views[i].color for i in context_views(self.cameras, index)])

    def object_image(self) -> Image.Image:
        """The composed image of the whole object, nothing highlighted."""
        index = self.OBJECT_VIEW
        return compose(self.views[index].color,
                       [self.views[i].color for i in context_views(self.cameras, index)])
