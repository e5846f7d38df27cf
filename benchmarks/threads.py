"""Which thread counts to run with: the whole command line per model, with
PARTSCOPE_THREADS 0 (the default: the cores free when the fit starts), 1
and 2, and -1 (the libraries' own pools: every core, threads that spin
while they wait; what PartScope ran with before it chose), quiet and under
a competing 2-process CPU load (-1 on the first model only: under load it
takes minutes).

    python -m benchmarks.threads [--models assets/toy_car.glb,../shared/psb-dev/off/101.off] [--threads 0,1,2,-1]

Writes benchmarks/results/threads.json and .md: wall seconds and seconds per stage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from .firstparts import REPO, CompetingLoad

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODELS = ("assets/toy_car.glb", "../shared/psb-dev/off/101.off", "../shared/psb-dev/off/281.off")
LABELS = {"0": "free cores (default)", "1": "1 thread", "2": "2 threads", "-1": "library defaults"}


def run(path: str, env: dict) -> dict:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "core", "segment", path, "--out", out, "--no-cache"],
                              capture_output=True, text=True, cwd=REPO, env={**os.environ, **env})
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{path}: {proc.stderr.strip()[-800:]}")
        with open(os.path.join(out, "run.json")) as f:
            stages = json.load(f)["seconds"]
    return {"wall": wall, **{k: stages[k] for k in ("masks", "fitting", "clustering") if k in stages}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated mesh paths")
    p.add_argument("--threads", default="0,1,2,-1", help="PARTSCOPE_THREADS values to try")
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    args = p.parse_args(argv)
    settings = [(LABELS.get(n, f"{n} threads"), {"PARTSCOPE_THREADS": n}) for n in args.threads.split(",")]
    rows = []
    for i, path in enumerate(args.models.split(",")):
        path = os.path.normpath(os.path.join(REPO, path))
        for label, env in settings:
            if env["PARTSCOPE_THREADS"] == "-1" and i:
                continue  # spinning pools under load take minutes: the first model shows it
            for load in (False, True):
                if load:
                    with CompetingLoad(2):
                        r = run(path, env)
                else:
                    r = run(path, env)
                rows.append({"model": os.path.basename(path), "setting": label, "load": load, **r})
                print(f"{os.path.basename(path):12s} {label:20s} {'loaded' if load else 'quiet ':6s} "
                      + "  ".join(f"{k} {v:6.1f}" for k, v in r.items()), flush=True)
    lines = [f"# Thread settings ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPU cores)", "",
             "Whole `python -m core segment` (21 scales, no cache), wall seconds and seconds per stage; loaded: "
             "two other processes spinning on the CPU.", "",
             "| model | setting | load | wall | masks | fitting | clustering |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['setting']} | {'loaded' if r['load'] else 'quiet'} | {r['wall']:.1f} | "
                     f"{r.get('masks', 0):.1f} | {r.get('fitting', 0):.1f} | {r.get('clustering', 0):.1f} |")
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "threads.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(args.results, "threads.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
