"""The orchestrator: ``Engine.fit(asset)`` runs the stages once (render, masks,
field) and returns a ``partfield.PartField`` that answers ``parts(scale)``
cheaply. The Engine owns the device, its mask source and the one lock."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import torch

from . import threads
from .config import SegmentConfig, config_key
from .field import fit_field, use_bfloat16
from .geometry import face_graph, spectral_embedding, surface_links
from .geomasks import EMBEDDING_SIZE, MaskParts, kmeans_partitions
from .loading import Asset
from .masks import build_view_masks
from .partfield import FirstParts, PartField
from .rendering import render_views
from .sam import SamMasks
from .sampling import Points, node_order, sample_points
from .settings import Settings, load_settings, pick_device
from .timing import StageTimer
from .topology import surface, surface_area

log = logging.getLogger(__name__)

BACKBONES = ("none", "spectral")
STAGES = ("loading", "rendering", "masks", "fitting", "clustering")
#: Part of every fit's cache key: bump it when a fit changes with no setting
#: changing, so fits cached by an older version are not served.
FIT_VERSION = 20


def warm_device(device: str, cfg) -> None:
    """Start CUDA on ``device`` and load every kernel a fit launches, with a
    fit of a few steps on a few points: the first object's fit then runs at
    full speed (a process's first CUDA call takes seconds)."""
    from dataclasses import replace

    from .masks import ViewMasks

    n = 64
    rng = np.random.default_rng(0)
    points = Points(rng.random((n, 3), dtype=np.float32) - 0.5, np.zeros(n, np.int32),
                    np.tile(np.float32([0, 0, 1]), (n, 1)), np.zeros((n, 3), np.uint8))
    member = np.arange(n)[:, None] // (n // 2) == np.arange(2)[None]
    masks = [ViewMasks(np.arange(n, dtype=np.int32), member, np.float32([0.2, 0.4]))]
    start = time.perf_counter()
    fit_field(points, masks, replace(cfg, steps=4, min_steps=4), np.zeros((n, EMBEDDING_SIZE), np.float32),
              device=device)
    log.info("%s ready in %.1f s", device, time.perf_counter() - start)


class Engine:
    """Owns the device and the models; fits objects one at a time on the
    accelerator (a lock serializes GPU work), returns numpy-backed results."""

    def __init__(self, config: SegmentConfig | None = None, settings: Settings | None = None):
        self.config = config or SegmentConfig()
        self.settings = settings or load_settings()
        self.device = pick_device(self.settings.device)
        self._lock = threading.Lock()
        if self.config.masks.source not in MASK_SOURCES:
            raise ValueError(f"Unknown mask source '{self.config.masks.source}': use one of {', '.join(MASK_SOURCES)}.")
        self.masks = MASK_SOURCES[self.config.masks.source](self.config, self.settings, self.device)
        if self.config.field.backbone not in BACKBONES:
            raise ValueError(f"Unknown backbone '{self.config.field.backbone}': use one of {', '.join(BACKBONES)}.")
        self.half = use_bfloat16(self.config.field.precision, self.device)  # refuses an unknown precision
        self._warm = None
        if torch.device(self.device).type == "cuda":  # made while the first object's masks are cut on the CPU
            self._warm = threading.Thread(target=warm_device, args=(self.device, self.config.field), daemon=True)
            self._warm.start()

    def cache_key(self, asset: Asset) -> str:
        """Identity of a fit: the object's content, every setting and the arithmetic it gets here."""
        import hashlib
        import json

        blob = json.dumps([FIT_VERSION, config_key(self.config), self.half], sort_keys=True, default=str)
        return f"{asset.digest}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    def fit(self, asset: Asset, progress=None, timer: StageTimer | None = None, preview=None) -> PartField:
        """Render, mask, fit.

        progress : callable(stage, fraction) or None
        preview : callable(partfield.FirstParts) or None, called as soon as
            the default masks exist with the parts they give (first parts while
            the field is fitted; SAM masks have no 3D family and give none)
        """
        cfg = self.config
        timer = timer or StageTimer()
        report = progress or (lambda stage, fraction: None)
        with self._lock:
            workers = threads.count()  # as the entry point set them
            log.info("fitting %s on %s thread(s)", asset.name, workers)
            with timer.stage("sampling"):
                merged = surface(asset.mesh)  # found once, for the points and the face graph
                area = surface_area(asset.mesh, merged[2] >= 0)
                points = sample_points(asset, cfg.sample.n_points, cfg.seed, area)
            report("rendering", 0.0)
            with timer.stage("rendering"):
                views = render_views(asset, cfg.render, workers)
            report("masks", 0.0)
            with timer.stage("masks"):
                graph, order = face_graph(asset.mesh, workers, merged), node_order(asset)
                links = surface_links(asset.mesh, graph.pairs, graph.piece)
                embedding = None
                if cfg.masks.source == "default" or cfg.field.backbone == "spectral":
                    embedding = spectral_embedding(asset.mesh, graph, EMBEDDING_SIZE, order=order,
                                                   proximity=links[len(graph.pairs):])
                partitions = None if embedding is None else kmeans_partitions(embedding, graph, cfg.seed, order)
                masks, family = self.masks(asset, views, points, graph, embedding, partitions)
            if preview is not None and family is not None:
                preview(FirstParts.of(asset, points, family, partitions, links, graph.piece, area, cfg))
            backbone = None
            if cfg.field.backbone == "spectral":
                backbone = embedding[points.face]
                backbone = backbone / (np.abs(backbone).max(axis=0, keepdims=True) + 1e-9)
            report("fitting", 0.0)
            if self._warm is not None:
                self._warm.join()
            with timer.stage("fitting"):
                # the fit's two halves sleep while they wait, so they take both
                # cores even under load (field.fit_field)
                lanes = self.settings.threads if self.settings.threads > 0 else threads.cpu_count()
                model, transform = fit_field(points, masks, cfg.field, backbone, cfg.seed, self.device,
                                             progress=lambda f: report("fitting", f), threads=lanes)
            model = model.cpu()
        return PartField(asset, points, model, transform, backbone, cfg, timer.seconds, family, partitions,
                         _links=links, _piece=graph.piece, _area=area)


class GeometryMasks:
    """The ``default`` mask source (``geomasks``): the nested family of parts
    found from the geometry and the asset's structure, drawn into every
    view, plus one view over every sampled point; its family gives the first
    parts (``partfield.FirstParts``). No download, no GPU."""

    def __init__(self, config: SegmentConfig, settings: Settings, device: str = "cpu"):
        self.cfg, self.seed = config.masks, config.seed

    def __call__(self, asset, views, points, graph, embedding, partitions=None) -> tuple[list, object]:
        from .geomasks import default_layers, geometry_segments, object_view, segment_scales

        segments = geometry_segments(asset, self.seed, graph, embedding, partitions)
        scales = segment_scales(segments, points)
        masks = build_view_masks(views, default_layers(views, segments), points, self.cfg, scales)
        return masks + [object_view(segments, scales, points, self.cfg)], MaskParts(segments, scales)


MASK_SOURCES = {"default": GeometryMasks, "sam": SamMasks}
"""Mask sources by name: each is built once by the Engine with
(SegmentConfig, Settings, device), keeps what it loads, and is called as
source(asset, views, points, graph, embedding, partitions) -> (ViewMasks per view,
its nested family (``geomasks.MaskParts``) or None)."""
