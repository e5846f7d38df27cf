"""Rays cast against triangles (embree through embreex): the views, the
shape diameter, the convexity segments and the linings all cast theirs here."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from embreex import rtcore_scene
from embreex.mesh_construction import TriangleMesh


def ray_scene(vertices: np.ndarray, faces: np.ndarray) -> rtcore_scene.EmbreeScene:
    """An embree scene of the triangles ``faces`` ((F, 3) int) over
    ``vertices`` ((V, 3)); a hit's ``primID`` is its row of ``faces``."""
    scene = rtcore_scene.EmbreeScene()
    TriangleMesh(scene=scene, vertices=np.asarray(vertices, np.float32), indices=np.asarray(faces, np.int32))
    return scene


def cast(scene: rtcore_scene.EmbreeScene, origins: np.ndarray, dirs: np.ndarray, workers: int = 1) -> dict:
    """``scene.run(origins, dirs, output=1)``, the rays cut into ``workers``
    runs cast side by side on threads (embree lets go of the interpreter
    while it traces). origins, dirs : (n, 3) float32."""
    if workers <= 1 or len(origins) < 20_000:
        return scene.run(origins, dirs, output=1)
    cuts = np.linspace(0, len(origins), workers + 1).astype(int)
    with ThreadPoolExecutor(workers) as pool:
        runs = list(pool.map(lambda a, b: scene.run(origins[a:b], dirs[a:b], output=1), cuts[:-1], cuts[1:]))
    return {key: np.concatenate([r[key] for r in runs]) for key in runs[0]}
