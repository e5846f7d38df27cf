"""A fitted object (``PartField``): the scale field over its sampled points,
features at any scale, and the parts at any scale as the cuts of one part
tree (``part_tree``), with the interactions of method.md §9: the part
under a click, the part a painted mask implies. Before the fit, the same
tree over the default masks alone gives the first parts (``FirstParts``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

from . import scales, threads
from .clustering import cluster_points, on_own_pieces, split_regions, vote_donors, vote_faces
from .config import SegmentConfig
from .field import ScaleField, ScaleTransform, field_features
from .geometry import concavity, pieces, surface_links
from .geomasks import MaskParts
from .hierarchy import ATOM_CLUSTERS, MergeTree, merge_tree, opening_scale, overlay
from .loading import Asset
from .sampling import Points, node_order
from .scales import default_scales
from .topology import edge_pairs, surface_area


def fragment_share(config: SegmentConfig, points: Points) -> float:
    """Share of the surface under which a region is a fragment: one HDBSCAN cluster's worth of points."""
    return config.cluster.min_cluster_size / len(points)


def part_tree(asset: Asset, points: Points, layers: list[np.ndarray], ensemble: np.ndarray, links: np.ndarray,
              piece: np.ndarray, area: np.ndarray, min_share: float, seed: int, cut_again: bool = True) -> MergeTree:
    """The part hierarchy (``hierarchy``) over the finest parts in ``layers``
    ((F,) labelings: the field's, the default masks' family's): atoms where
    they all agree, each cut again by ``ensemble``'s partition at
    ATOM_CLUSTERS when ``cut_again``; merged by co-association over
    ``ensemble`` ((K, F) partitions) and the concavity of their unions
    (``geometry.concavity``, over ``points``); the last layer's parts (the
    family's, where there is one) group the atoms, and no atom crosses from
    one connected piece (``piece``, (F,) int, ``geometry.pieces``) to
    another. Grouped by the field's parts too, a region of a car's body that
    the field set apart joined the wheel beside it, not the body. ``area``:
    (F,) the surface each face adds (``PartField.area``)."""
    order = node_order(asset)
    coarse = atoms = overlay(layers, links, area, min_share, order, piece)
    if cut_again:  # row k - 2 holds k clusters
        atoms = overlay([coarse, ensemble[min(ATOM_CLUSTERS - 2, len(ensemble) - 1)]], links, area, min_share,
                        order, piece)
    if len(layers) > 1:
        coarse = overlay(layers[-1:], links, area, min_share, order, piece)
    n = atoms.max() + 1
    within = np.zeros((n, coarse.max() + 1))
    np.add.at(within, (atoms, coarse), area)
    # a piece too small to be an atom has joined another: the atom goes with the piece most of it is in
    inside = sp.coo_matrix((area, (atoms, piece))).tocsr()  # sparse: a scene may hold 100,000 pieces
    concave = concavity(asset.mesh, points.xyz, points.normal, atoms[points.face], n, seed, threads.count(),
                        solid=area > 0)
    return merge_tree(atoms, ensemble, area, links, group=within.argmax(axis=1), concave=concave,
                      piece=np.asarray(inside.argmax(axis=1)).ravel())


@dataclass
class FirstParts:
    """Parts before the field is fitted: the part tree over the default
    masks' family alone (``part_tree``), cut as ``PartField.parts`` cuts
    its own. The field is fitted to that family's masks, so its finest parts
    add little to the tree: on PSB the first parts match people's as well as
    the field's do (method.md §8). The field is what clicks, painted masks
    and SAM's masks need."""

    tree: MergeTree
    area: np.ndarray
    """(F,) the surface each face adds (``PartField.area``)."""
    cached_scales: list = field(default_factory=list)  # nothing to compute ahead: a cut is a look-up
    opening: float = scales.DEFAULT
    """The scale the app opens the object at (``hierarchy.opening_scale``)."""

    @classmethod
    def of(cls, asset: Asset, points: Points, family: MaskParts, partitions: np.ndarray, links: np.ndarray,
           piece: np.ndarray, area: np.ndarray, config: SegmentConfig) -> "FirstParts":
        return cls(part_tree(asset, points, [family.finest()], partitions, links, piece, area,
                             fragment_share(config, points), config.seed),
                   area, opening=opening_scale(piece, area))

    def parts(self, scale: float) -> np.ndarray:
        """(F,) int32 face labels at the slider's ``scale``, contiguous from 0, largest first."""
        return self.tree.at_scale(scales.key(scale))


@dataclass
class PartField:
    """A fitted object: features at any scale, parts at any scale.

    asset : Asset
    points : Points, the sampled points the field is defined on
    model, transform : the trained field and its scale transform
    backbone : (N, B) float32 per-point backbone features or None
    config : SegmentConfig it was fitted with
    seconds : dict of stage -> wall seconds of the fit
    family : geomasks.MaskParts, the default masks' nested family, or None (SAM masks)
    partitions : (K, F) int8 k-means partitions of the embedding (``geomasks.kmeans_partitions``)
        or None; the part hierarchy's ensemble
    """

    asset: Asset
    points: Points
    model: ScaleField
    transform: ScaleTransform
    backbone: np.ndarray | None
    config: SegmentConfig
    seconds: dict = field(default_factory=dict)
    family: MaskParts | None = None
    partitions: np.ndarray | None = None
    _labels: dict = field(default_factory=dict, repr=False)
    _cuts: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _renderer: object = field(default=None, repr=False)
    _links: np.ndarray | None = field(default=None, repr=False)
    _piece: np.ndarray | None = field(default=None, repr=False)
    _area: np.ndarray | None = field(default=None, repr=False)
    _opening: float | None = field(default=None, repr=False)
    _donors: np.ndarray | None = field(default=None, repr=False)
    _tree: MergeTree | None = field(default=None, repr=False)

    def features(self, scale: float) -> np.ndarray:
        """(N, D) float32 point features at ``scale``."""
        return field_features(self.model, self.transform, self.points, scale, self.backbone)

    def point_labels(self, scale: float) -> np.ndarray:
        """(N,) int32 cluster of every sampled point at ``scale``."""
        return cluster_points(self.features(scale), self.points.xyz, self.config.cluster)

    def cut(self, scale: float, point_labels: np.ndarray | None = None) -> np.ndarray:
        """(F,) int32 parts of the features at ``scale`` alone: HDBSCAN's
        clusters (``point_labels`` when already clustered), faces voting, a
        part spread over separate regions of one surface split into one part
        per region. The finest of them (scale 0) are atoms of ``tree``.
        Computed once per scale (rounded to 0.001), then cached."""
        key = scales.key(scale)

        def compute():
            mesh = self.asset.mesh
            labels = vote_faces(self.point_labels(key) if point_labels is None else point_labels,
                                self.points.face, self.donors)
            return split_regions(labels, self.links, mesh.triangles_center, self.area, self.min_share)

        return self._once(self._cuts, key, compute)

    @property
    def min_share(self) -> float:
        return fragment_share(self.config, self.points)

    @property
    def tree(self) -> MergeTree:
        """The part hierarchy (``part_tree``), grown once on first use: atoms
        from the field's finest cut and the family's finest parts, merged by
        co-association over ``partitions`` (without them, over the field's
        own cuts at the ladder scales, atoms not cut again)."""
        if self._tree is None:
            mesh = self.asset.mesh
            home = on_own_pieces(self.cut(0.0), self.piece, mesh.triangles_center, self.area)
            layers = [home] + ([self.family.finest()] if self.family is not None else [])
            kmeans = self.partitions is not None and len(self.partitions) > 0
            ensemble = self.partitions if kmeans else np.stack([self.cut(s) for s in default_scales()])
            tree = part_tree(self.asset, self.points, layers, ensemble, self.links, self.piece, self.area,
                             self.min_share, self.config.seed, cut_again=kmeans)
            with self._lock:
                self._tree = self._tree or tree
        return self._tree

    def parts(self, scale: float) -> np.ndarray:
        """(F,) int32 face labels at ``scale``, contiguous from 0, largest
        first: the cut of ``tree`` with ``hierarchy.ladder_count`` parts, so
        the ladder (0, 0.1, ..., 2; other scales snap to its nearest step)
        runs from every atom at 0 to one part at 2, and a coarser scale only
        merges parts. Computed once per scale (rounded to 0.001), then cached."""
        key = scales.key(scale)
        return self._once(self._labels, key, lambda: self.tree.at_scale(key))

    def _once(self, store: dict, key: float, compute) -> np.ndarray:
        """``store[key]``, made by ``compute()`` the first time."""
        with self._lock:
            cached = store.get(key)
        if cached is None:
            cached = compute()
            with self._lock:
                store[key] = cached
        return cached

    def ladder(self, scales=None) -> np.ndarray:
        """(S, F) int32 face labels at every scale (default 0, 0.1, ..., 2),
        cuts of one tree (``tree``)."""
        scales = default_scales() if scales is None else scales
        return np.stack([self.parts(s) for s in scales])

    def select(self, face: int, scale: float) -> np.ndarray:
        """(F,) bool: the part of ``face`` at ``scale`` (SAMPart3D's click plus
        scale); over the ladder's scales it only grows, as the parts nest."""
        if not 0 <= int(face) < self.asset.n_faces:
            raise ValueError(f"Face {face} is not on this object (it has {self.asset.n_faces} faces).")
        labels = self.parts(scale)
        return labels == labels[face]

    def from_mask(self, camera, mask: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, float]:
        """A part from a 2D mask drawn on a view (SAMPart3D's mask prompt).

        camera : rendering.Camera of the view the mask was drawn on
        mask : (H, W) bool, the painted pixels
        returns ((F,) bool faces of the part, the scale the mask implies):
        the scale is the mask-scale formula over the 3D points under the
        paint; the part is every point whose feature at that scale lies
        within ``threshold`` of the painted points' central feature.
        """
        from scipy.spatial import cKDTree

        from .masks import mask_scale, pixel_points

        mask = np.asarray(mask, bool)
        if mask.shape != (camera.resolution, camera.resolution):
            raise ValueError(f"The mask is {mask.shape[1]}x{mask.shape[0]} pixels but the view is "
                             f"{camera.resolution}x{camera.resolution}.")
        view = self.renderer.render(camera, shade=False)
        pix = pixel_points(view, cKDTree(self.points.xyz), self.config.masks.pixel_radius)
        painted = np.unique(pix[mask & (pix >= 0)])
        if len(painted) < 3:
            raise ValueError("The mask covers no visible part of the object: paint over the model itself.")
        scale = float(np.clip(mask_scale(self.points.xyz[painted]), 0.0, scales.COARSEST))
        feats = self.features(scale)
        sample = painted if len(painted) <= 512 else np.random.default_rng(0).choice(painted, 512, replace=False)
        f = feats[sample]
        center = f[np.argmin(np.linalg.norm(f[:, None] - f[None], axis=-1).sum(axis=1))]
        chosen = np.linalg.norm(feats - center, axis=1) < threshold
        votes = np.bincount(self.points.face[chosen], minlength=self.asset.n_faces)
        total = np.bincount(self.points.face, minlength=self.asset.n_faces)
        faces = votes * 2 > total
        # faces without samples follow their nearest sampled face
        empty = total == 0
        if empty.any() and (~empty).any():
            _, nn = cKDTree(self.asset.mesh.triangles_center[~empty]).query(self.asset.mesh.triangles_center[empty])
            faces[empty] = faces[~empty][nn]
        return faces, scale

    @property
    def renderer(self):
        """The ray-casting scene of this object, built once on first use."""
        if self._renderer is None:
            from .rendering import Renderer

            self._renderer = Renderer(self.asset)
        return self._renderer

    @property
    def links(self) -> np.ndarray:
        """(E, 2) faces that touch (``geometry.surface_links``), found once on first use."""
        if self._links is None:
            self._find_surface()
        return self._links

    @property
    def opening(self) -> float:
        """The scale the app opens the object at (``hierarchy.opening_scale``),
        found once (kept in the fit cache: a fit read back need not find its
        pieces, 2.5 s on 1.3M faces, to open)."""
        if self._opening is None:
            self._opening = opening_scale(self.piece, self.area)
        return self._opening

    @property
    def piece(self) -> np.ndarray:
        """(F,) int32 connected piece of every face (``geometry.pieces``), found once on first use."""
        if self._piece is None:
            self._find_surface()
        return self._piece

    @property
    def area(self) -> np.ndarray:
        """(F,) the surface each face adds: its area, none for a face that adds
        no surface (``topology.extra_faces``: the back of a surface written
        twice counts once), found once on first use."""
        if self._area is None:
            self._find_surface()
        return self._area

    def _find_surface(self) -> None:
        """The links, the pieces and the faces' areas from one pass over the
        faces' edges (a fit from the cache has none; a new one is given them
        by the engine)."""
        _, _, pairs, _, host = edge_pairs(self.asset.mesh)
        self._piece = pieces(self.asset.mesh, pairs)
        self._links = surface_links(self.asset.mesh, pairs, self._piece)
        self._area = surface_area(self.asset.mesh, host >= 0)

    @property
    def donors(self) -> np.ndarray:
        """(F,) int face whose vote each face takes (``clustering.vote_donors``), found once."""
        if self._donors is None:
            self._donors = vote_donors(self.points.face, self.asset.mesh.triangles_center)
        return self._donors

    @property
    def cached_scales(self) -> list[float]:
        with self._lock:
            return sorted(self._labels)

    # -- packing, for disk caches and session state ------------------------
    def to_state(self) -> dict:
        """Plain numpy/py state (no tensors); ``PartField.from_state`` rebuilds it."""
        with self._lock:
            labels = dict(self._labels)
        return {
            "points": {k: getattr(self.points, k) for k in ("xyz", "face", "normal", "color")},
            "weights": {k: v.detach().cpu().numpy() for k, v in self.model.state_dict().items()},
            "backbone_dim": 0 if self.backbone is None else int(self.backbone.shape[1]),
            "backbone": self.backbone,
            "quantiles": self.transform.quantiles,
            "config": self.config,
            "seconds": dict(self.seconds),
            "labels": labels,
            "family": None if self.family is None else (self.family.segments, self.family.scales),
            "partitions": self.partitions,
            "opening": self.opening,
            "no_surface": np.flatnonzero(self.area == 0),  # few or none: the area read back without the edges
        }

    @classmethod
    def from_state(cls, asset: Asset, state: dict) -> "PartField":
        cfg = state["config"]
        model = ScaleField(cfg.field, state["backbone_dim"])
        model.load_state_dict({k: torch.as_tensor(v) for k, v in state["weights"].items()}, strict=True)
        family = None if state["family"] is None else MaskParts(*state["family"])
        pf = cls(asset=asset, points=Points(**state["points"]), model=model.eval(),
                 transform=ScaleTransform(state["quantiles"]), backbone=state["backbone"],
                 config=cfg, seconds=dict(state["seconds"]), family=family, partitions=state["partitions"])
        pf._labels.update(state["labels"])
        pf._opening = state.get("opening")  # a fit cached before 2026-12-06 finds it when asked
        extra = np.zeros(asset.n_faces, bool)
        extra[state["no_surface"]] = True
        pf._area = surface_area(asset.mesh, extra)
        return pf
