"""Area-weighted surface samples with face index, normal and color."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .loading import Asset
from .looks import surface_color


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


def sample_points(asset: Asset, n: int, seed: int = 0) -> Points:
    """Draw ``n`` points uniformly by area (every face with area > 0 may get some)."""
    rng = np.random.default_rng(seed)
    mesh = asset.mesh
    area = np.asarray(mesh.area_faces, dtype=np.float64)
    if not area.sum() > 0:
        area = np.ones_like(area)
    face = rng.choice(len(area), size=n, p=area / area.sum()).astype(np.int32)
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


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) float64 unit normals; degenerate faces get (0, 0, 0)."""
    tri = np.asarray(vertices)[np.asarray(faces)]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, length, out=np.zeros_like(n), where=length > 0)
