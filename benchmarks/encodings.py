"""Do the parts of a model depend on how its file is encoded?

The plain file and each other encoding of the same model (Draco, meshopt and
quantized by the encoders the corpus uses; the gltfpack and glTF-Transform
files in tests/data) are fitted with seeds 0, 1 and 2. Faces are matched by
their centres, and parts at scales 0.5 and 1.0 compared by the adjusted Rand
index over faces. The plain file's spread is the mean ARI over its pairs of
seeds; an encoding's agreement is the mean ARI of its fits against the plain
file's fits with the other seeds (never the same seed, so a file whose faces
come in the same order does not agree by construction). An encoding should
agree with the plain file as well as the plain file agrees with itself.

    python -m benchmarks.encodings [--models toy_car,chair]   # -> benchmarks/results/encodings.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests import corpus_files as make  # noqa: E402

SCALES = (0.5, 1.0)


def variants(name: str) -> dict:
    """{label: GLB bytes} of one example model: plain, then its encodings."""
    with open(os.path.join(ROOT, "assets", f"{name}.glb"), "rb") as f:
        plain = f.read()
    out = {"plain": plain, "draco": make.draco_glb(_scene(plain)), "meshopt": make.meshopt_glb(plain),
           "quantized": make.quantized_glb(plain), "quantized+meshopt": make.meshopt_glb(make.quantized_glb(plain))}
    for label in ("gltfpack_cc", "gt_draco"):
        path = os.path.join(ROOT, "tests", "data", f"{name}_{label}.glb")
        if os.path.exists(path):
            with open(path, "rb") as f:
                out[label] = f.read()
    return out


def _scene(data: bytes):
    import io

    import trimesh

    return trimesh.load_scene(io.BytesIO(data), file_type="glb")


def parts(path: str, seed: int) -> tuple[np.ndarray, dict]:
    """(face centres (F, 3), {scale: (F,) labels}) of one fit."""
    from core.config import SegmentConfig
    from core.loading import load_asset
    from core.pipeline import Engine

    asset = load_asset(path)
    field = Engine(SegmentConfig(seed=seed)).fit(asset)
    return asset.mesh.triangles_center, {s: field.parts(s) for s in SCALES}


def main() -> None:
    from itertools import permutations

    from scipy.spatial import cKDTree
    from sklearn.metrics import adjusted_rand_score

    from core import threads
    from core.settings import load_settings

    threads.prepare(load_settings().threads)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="toy_car,chair")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "encodings.json"))
    args = parser.parse_args()
    seeds = range(args.seeds)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            t = time.perf_counter()
            fits = {}
            for label, data in variants(name).items():
                path = os.path.join(tmp, f"{name}_{label}.glb")
                with open(path, "wb") as f:
                    f.write(data)
                fits[label] = [parts(path, seed) for seed in seeds]
            tree = cKDTree(fits["plain"][0][0])
            rows = {}
            for label, runs in fits.items():
                pairs = [(i, j) for i, j in permutations(seeds, 2) if label != "plain" or i < j]
                row = {}
                for s in SCALES:
                    ari = []
                    for i, j in pairs:
                        match = tree.query(runs[i][0])[1]
                        ari.append(adjusted_rand_score(fits["plain"][j][1][s][match], runs[i][1][s]))
                    row[f"ari_{s}"] = round(float(np.mean(ari)), 3)
                    row[f"parts_{s}"] = [int(run[1][s].max()) + 1 for run in runs]
                rows[label] = row
                print(f"{name:8s} {label:18s} " + "  ".join(f"{k} {v}" for k, v in row.items()), flush=True)
            results[name] = {"runs": rows, "seconds": round(time.perf_counter() - t, 1)}
    with open(args.out, "w") as f:
        json.dump({"scales": SCALES, "seeds": list(seeds), "models": results}, f, indent=1)


if __name__ == "__main__":
    main()
