"""Objects per hour of ``python -m core batch``: local processes and Ray, 1 and 2 workers.

    python benchmarks/batch.py [--psb-root ../shared/psb-dev] [--psb 4] [--objects N] [--modes local1,local2,ray1,ray2]

The objects are the example assets plus the first N PSB meshes. Every mode
fits every object afresh (no fit cache) into its own folder, one thread per
object; the figure is objects over the wall time of the whole run (Ray's
includes starting and stopping its local cluster). Checks that every mode
cut every object exactly as the first mode did. Writes
benchmarks/results/batch.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from core.batch import run_batch  # noqa: E402
from core.config import SegmentConfig  # noqa: E402
from core.scales import default_scales  # noqa: E402
from core.settings import load_settings  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--psb-root", default=os.environ.get("PARTSCOPE_PSB", os.path.join(HERE, "..", "..", "shared",
                                                                                       "psb-dev")))
    p.add_argument("--psb", type=int, default=4, help="PSB meshes to add to the 4 example assets")
    p.add_argument("--objects", type=int, help="only the first N of those")
    p.add_argument("--modes", default="local1,local2,ray1,ray2")
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    args = p.parse_args(argv)

    assets = sorted(glob.glob(os.path.join(HERE, "..", "assets", "*.glb")))
    psb = sorted(glob.glob(os.path.join(args.psb_root, "off", "*.off")),
                 key=lambda f: int(os.path.basename(f)[:-4]))[:args.psb]
    paths = [os.path.abspath(f) for f in assets + psb][:args.objects]
    settings = load_settings()
    rows, first = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            workers = int(mode[-1])
            out = os.path.join(tmp, mode)
            start = time.perf_counter()
            result = run_batch(paths, out, default_scales(), SegmentConfig(), settings, use_cache=False,
                               workers=workers, cpus=1, use_ray=mode.startswith("ray"), progress=False)
            wall = time.perf_counter() - start
            ok = [r for r in result.records if r["status"] == "ok"]
            labels = {r["out"]: np.load(os.path.join(out, r["out"], "labels.npz"))["face_labels"] for r in ok}
            first = first or labels
            same = all(k in first and np.array_equal(v, first[k]) for k, v in labels.items())
            row = {"mode": mode, "workers": workers, "objects": len(paths), "ok": len(ok), "wall_seconds": wall,
                   "objects_per_hour": 3600 * len(ok) / wall,
                   "median_object_seconds": float(np.median([r["seconds"] for r in ok])) if ok else None,
                   "same_labels_as_first_mode": same}
            rows.append(row)
            print(f"{mode:7s} {len(ok)}/{len(paths)} objects in {wall:6.1f} s -> {row['objects_per_hour']:5.1f} "
                  f"objects/hour (median {row['median_object_seconds']:.1f} s per object; labels same as "
                  f"{args.modes.split(',')[0]}: {same})", flush=True)
    report = {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPU cores",
              "inputs": [os.path.basename(x) for x in paths], "rows": rows}
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "batch.json"), "w") as f:
        json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
