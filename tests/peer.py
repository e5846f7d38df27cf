"""The classical peer every quality report sets beside PartScope: plain
spectral segmentation of the face graph, in the manner of Katz and Tal
("Hierarchical mesh decomposition using fuzzy clustering and cuts", 2003)
for the distances and of normalized cuts (Shi and Malik 2000; Ng, Jordan
and Weiss 2001) for the clustering.

Faces that share an edge are linked with affinity exp(-d), where
d = 0.2 geodesic step / its mean + 0.8 bend / its mean; the geodesic step
runs from one face's centroid through the shared edge's midpoint to the
other's, the bend is 1 - cos of the dihedral angle, counted in full on a
concave edge and a twentieth on a convex one. The first eigenvectors of the
normalized Laplacian (link affinities floored at ``FLOOR``), each row scaled to unit length, are clustered by
k-means weighted by face area into k parts; a connected fragment under
``MIN_SHARE`` of the surface then joins the neighbour it shares the most
boundary with. Seeded: the k-means starts come from ``seed``, so the same
seed gives the same labels.

    python -m tests.peer MESH K [--seed 0]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans

from core.clustering import join_fragments
from core.geometry import dihedral, link_matrix
from core.topology import edge_pairs

GEODESIC_SHARE = 0.2
CONVEX_BEND = 0.05
MIN_SHARE = 0.005
#: Least affinity of a link: a handful of faces fenced in by sharp creases
#: (a fold of a few faces) would otherwise be a component of its own and
#: take an eigenvector, and the k-means clusters with it.
FLOOR = 1e-3
MAX_PARTS = 20


def link_distances(mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(E, 2) int64 faces that share an edge, (E,) their distance d, (E,) the
    edge's length."""
    faces, verts, pairs, shared, _ = edge_pairs(mesh)
    cos, concave, length = dihedral(faces, verts, pairs, shared)
    center = verts[faces].mean(axis=1)
    middle = verts[shared].mean(axis=1)
    step = (np.linalg.norm(center[pairs[:, 0]] - middle, axis=1)
            + np.linalg.norm(center[pairs[:, 1]] - middle, axis=1))
    bend = np.where(concave, 1.0, CONVEX_BEND) * (1.0 - cos)
    d = (GEODESIC_SHARE * step / max(step.mean(), 1e-12)
         + (1 - GEODESIC_SHARE) * bend / max(bend.mean(), 1e-12))
    return pairs, d, length


def spectral_rows(pairs: np.ndarray, d: np.ndarray, n_faces: int, n: int) -> np.ndarray:
    """(F, n) float64 first ``n`` eigenvectors of the normalized Laplacian of
    the affinities exp(-d) (smallest eigenvalues first), unscaled."""
    W = link_matrix(pairs, np.maximum(np.exp(-d), FLOOR), n_faces)
    # separate pieces (none in PSB) get a faint link, so the graph is one
    n_comp, comp = sp.csgraph.connected_components(W, directed=False)
    if n_comp > 1:
        first = np.unique(comp, return_index=True)[1]
        W = W + link_matrix(np.stack([first[:-1], first[1:]], 1), np.full(n_comp - 1, 1e-6), n_faces)
    deg = np.asarray(W.sum(axis=1)).ravel()
    d_inv = sp.diags(1.0 / np.sqrt(np.maximum(deg, 1e-300)))
    L = (sp.eye(n_faces) - d_inv @ W @ d_inv).tocsc()
    v0 = np.random.default_rng(0).random(n_faces)
    vals, vecs = eigsh(L, k=min(n, n_faces - 2), sigma=-1e-3, which="LM", v0=v0)
    return vecs[:, np.argsort(vals)]


def segment(mesh, counts, seed: int = 0) -> np.ndarray:
    """(len(counts), F) int32 face labels, one row per asked part count k
    (the result may hold fewer parts once fragments have joined)."""
    counts = [int(k) for k in counts]
    pairs, d, length = link_distances(mesh)
    area = np.asarray(mesh.area_faces, np.float64)
    vecs = spectral_rows(pairs, d, len(area), max(max(counts), 2))
    out = np.zeros((len(counts), len(area)), np.int32)
    for row, k in enumerate(counts):
        if k <= 1:
            continue
        x = vecs[:, :k]
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        km = KMeans(k, n_init=4, random_state=seed * 1000 + k).fit(x.astype(np.float32), sample_weight=area)
        out[row] = join_fragments(km.labels_.astype(np.int32), pairs, length, area, MIN_SHARE)
    return out


def main(argv=None) -> int:
    import trimesh

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mesh")
    p.add_argument("k", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the (F,) labels here, one per line")
    args = p.parse_args(argv)
    labels = segment(trimesh.load(args.mesh, force="mesh", process=False), [args.k], args.seed)[0]
    print(f"{labels.max() + 1} parts")
    if args.out:
        np.savetxt(args.out, labels, fmt="%d")
    return 0


if __name__ == "__main__":
    sys.exit(main())
