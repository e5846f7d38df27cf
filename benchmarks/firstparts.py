"""How soon a person sees parts: per PSB dev mesh and example asset, quiet and
under a competing CPU load.

    python -m benchmarks.firstparts --root ../shared/psb-dev [--ids 1,21] [--no-load] [--no-quiet]

Per model, in a fresh process set up as the web app's (``core.threads``,
imports done before the clock starts, as in a running server):
- first parts: upload to the first parts on screen (load, render, masks, and
  the parts the masks give at the default scale, as the app shows them);
- fitted field: upload to the fitted field;
- field parts: upload to the field's parts at the default scale (what
  replaces the first parts; its colors need the coarser scales too);
and the whole command line (``python -m core segment``, no cache, 21 scales
written), in its own process, start to end.

"Loaded" runs the same with two other processes spinning on the two cores
(a competing 2-process CPU load). Writes benchmarks/results/firstparts.json
and .md.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from core import scales

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
EXAMPLES = ("table", "chair", "mug", "toy_car")


def one(path: str) -> dict:
    """Timings of one model in this process (the ``--one`` mode)."""
    from core import threads
    from core.settings import load_settings

    threads.prepare(load_settings().threads)
    from core.segment import preload
    from core.loading import load_asset
    from core.pipeline import Engine
    from webapp.store import Fitted  # the app's per-scale results: labels, colors, viewer payload

    preload()  # as app.py does

    engine = Engine()
    marks = {}
    start = time.perf_counter()
    asset = load_asset(path)

    def preview(parts):
        Fitted("first", asset, parts).result(scales.DEFAULT)
        marks["first_parts"] = time.perf_counter() - start

    field = engine.fit(asset, preview=preview)
    marks["fitted_field"] = time.perf_counter() - start
    Fitted("field", asset, field).result(scales.DEFAULT)
    marks["field_parts"] = time.perf_counter() - start
    return {"faces": asset.n_faces, **marks, "stages": {k: round(v, 3) for k, v in field.seconds.items()}}


def run_model(path: str) -> dict:
    env = {**os.environ, "PYTHONPATH": REPO}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.firstparts", "--one", path], capture_output=True,
                          text=True, cwd=REPO, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{path}: {proc.stderr.strip()[-800:]}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "core", "segment", path, "--out", out, "--no-cache"],
                              capture_output=True, text=True, cwd=REPO, env=env)
        row["command"] = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{path}: {proc.stderr.strip()[-800:]}")
    return row


class CompetingLoad:
    """``n`` processes spinning on the CPU while the block runs."""

    def __init__(self, n: int = 2):
        self.n, self.procs = n, []

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(self.n)]
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


def models(root: str | None, ids: str | None) -> list[tuple[str, str]]:
    out = [(name, os.path.join(REPO, "assets", f"{name}.glb")) for name in EXAMPLES]
    if root:
        found = sorted(int(os.path.basename(f)[:-4]) for f in glob.glob(os.path.join(root, "off", "*.off")))
        for model in ([int(x) for x in ids.split(",")] if ids else found):
            out.append((f"psb {model}", os.path.join(root, "off", f"{model}.off")))
    return out


def summary(rows: list[dict]) -> dict:
    psb = [r for r in rows if r["name"].startswith("psb")]
    small = [r for r in rows if r["faces"] < 5000]
    med = lambda rs, k: float(np.median([r[k] for r in rs])) if rs else None  # noqa: E731
    return {"psb_first_parts_median": med(psb, "first_parts"), "under_5000_faces_first_parts_median":
            med(small, "first_parts"), "psb_command_median": med(psb, "command"),
            "psb_fitted_field_median": med(psb, "fitted_field"), "psb_field_parts_median": med(psb, "field_parts")}


def markdown(report: dict) -> str:
    lines = [f"# Time to first parts ({report['date']}, {report['machine']})", "",
             "Seconds from upload (imports done) to the first parts from the masks, to the fitted field, to the "
             "field's parts at the default scale, and the whole `python -m core segment` command (21 scales). "
             "Loaded: two other processes spinning on the CPU.", ""]
    modes = [m for m in ("quiet", "loaded") if m in report]
    head = "| model | faces |" + "".join(f" first ({m}) | field ({m}) | field parts ({m}) | command ({m}) |"
                                       for m in modes)
    lines += [head, "|" + "---|" * (2 + 4 * len(modes))]
    for i, row in enumerate(report[modes[0]]["rows"]):
        cells = [row["name"], str(row["faces"])]
        for m in modes:
            r = report[m]["rows"][i]
            cells += [f"{r['first_parts']:.1f}", f"{r['fitted_field']:.1f}", f"{r['field_parts']:.1f}",
                      f"{r['command']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for m in modes:
        s = report[m]["summary"]
        lines.append(f"**{m}**: " + ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in s.items()
                                               if v is not None))
    if len(modes) == 2:
        ratios = {k: report["loaded"]["summary"][k] / report["quiet"]["summary"][k]
                  for k in report["quiet"]["summary"] if report["quiet"]["summary"][k]}
        lines.append("")
        lines.append("**loaded / quiet**: " + ", ".join(f"{k.replace('_', ' ')} {v:.2f}x" for k, v in ratios.items()))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", help="PSB folder with off/ (default: the example assets only)")
    p.add_argument("--ids", help="comma-separated PSB model ids (default: every mesh in off/)")
    p.add_argument("--no-quiet", action="store_true", help="skip the quiet run")
    p.add_argument("--no-load", action="store_true", help="skip the run under a competing load")
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one)))
        return 0
    report = {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPU cores"}
    for mode in ("quiet", "loaded"):
        if (mode == "quiet" and args.no_quiet) or (mode == "loaded" and args.no_load):
            continue
        rows = []
        for name, path in models(args.root, args.ids):
            if mode == "loaded":
                with CompetingLoad(2):
                    row = run_model(path)
            else:
                row = run_model(path)
            rows.append({"name": name, **row})
            print(f"{mode:6s} {name:10s} {row['faces']:6d} faces  first {row['first_parts']:5.1f} s  field "
                  f"{row['fitted_field']:5.1f} s  field parts {row['field_parts']:5.1f} s  command "
                  f"{row['command']:5.1f} s", flush=True)
        report[mode] = {"rows": rows, "summary": summary(rows)}
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "firstparts.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(args.results, "firstparts.md"), "w") as f:
        f.write(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
