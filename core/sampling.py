"""Area-weighted surface samples with face index, normal and color."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .loading import Asset
from .looks import surface_color
from .topology import surface, surface_area


@dataclass
class Points:
    """Surface samples of an asset.

    xyz : (n, 3) float32, normalized coordinates
    face : (n,) int32, face each sample lies on
    normal : (n, 3) float32, unit face normal
    color : (n, 3) uint8 RGB
    """

    xyz: np.ndarray
    face: np.ndarray
    normal: np.ndarray
    color: np.ndarray

    def __len__(self) -> int:
        return len(self.xyz)


def sample_points(asset: Asset, n: int, seed: int = 0, area: np.ndarray | None = None) -> Points:
    """Draw ``n`` points uniformly by area (every face with area > 0 may get
    some, but a face that adds no surface, ``topology.extra_faces``: the
    back of a surface written twice gets none), the faces taken in
    ``node_order``. area : (F,) the surface each face adds
    (``topology.surface_area``), when already found."""
    rng = np.random.default_rng(seed)
    mesh = asset.mesh
    if area is None:
        area = surface_area(mesh, surface(mesh)[2] >= 0)
    if not area.sum() > 0:
        area = np.ones_like(area)
    order = node_order(asset)
    face = order[rng.choice(len(area), size=n, p=area[order] / area.sum())].astype(np.int32)
    r1, r2 = rng.random(n), rng.random(n)
    s1 = np.sqrt(r1)
    bary = np.stack([1 - s1, s1 * (1 - r2), s1 * r2], axis=1)
    tri = mesh.vertices[mesh.faces[face]]
    xyz = np.einsum("nk,nkc->nc", bary, tri)
    return Points(
        xyz=xyz.astype(np.float32),
        face=face,
        normal=face_normals(mesh.vertices, mesh.faces)[face].astype(np.float32),
        color=surface_color(asset, face, bary),
    )


def node_order(asset: Asset) -> np.ndarray:
    """(F,) int64 the faces, node by node in an order set by the nodes'
    geometry (face count, then centre on a grid of 1e-3 of the model's size,
    so quantized positions keep it, then name), each node's faces in the
    file's order. Encoders write a scene's nodes in their own orders
    (trimesh's Draco export reverses them), and the fit's random draws and
    starts are handed out in this order: a symmetric model's ties (a car's
    four equal wheels) fall the same way in every encoding of it."""
    node = np.asarray(asset.face_node)
    n_nodes = len(asset.node_names)
    if n_nodes < 2:
        return np.arange(len(node))
    count = np.bincount(node, minlength=n_nodes)
    centres = np.stack([np.bincount(node, asset.mesh.triangles_center[:, c], n_nodes) for c in range(3)], axis=1)
    grid = np.round(centres / np.maximum(count, 1)[:, None] * 1e3).astype(np.int64)
    rank = np.empty(n_nodes, np.int64)
    rank[sorted(range(n_nodes), key=lambda i: (count[i], *grid[i], asset.node_names[i]))] = np.arange(n_nodes)
    return np.lexsort((np.arange(len(node)), rank[node]))


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) float64 unit normals; degenerate faces get (0, 0, 0)."""
    tri = np.asarray(vertices)[np.asarray(faces)]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, length, out=np.zeros_like(n), where=length > 0)
