"""Damaged copies of real files: every model file in tests/data (Blender's,
MeshLab's, Assimp's, gltfpack's and glTF-Transform's exports, USDZ, ZIPs)
and the PSB meshes, each damaged ``--copies`` times at random (cut short,
bytes changed anywhere or in its first 4 KB, a block zeroed) and loaded in
a process of its own with a time limit (every other copy of a ZIP has one of
the files inside it damaged instead, and is zipped again; of a GLB, one
number of its JSON changed: a count, an offset, an index, a type). What a person may meet is a model
or a sentence; anything else is counted:

- loaded / refused: loading gave an asset, or InputError (a sentence);
- error: any other exception (the web app says "something went wrong");
- crash: the process died (a native library's fault, or out of memory);
- hang: no answer within ``--timeout`` seconds.

    python -m benchmarks.damaged      # -> benchmarks/results/damaged.json
    python -m benchmarks.damaged --only '*.fbx' --out /tmp/fbx.json  # some files only
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import glob
import io
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def damaged(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """(how, the bytes damaged so)."""
    out = bytearray(data)
    how = rng.choice(["cut short", "bytes changed", "header bytes changed", "block zeroed"])
    if how == "cut short":
        return how, bytes(out[:rng.randrange(1, len(out))])
    if how == "block zeroed":
        at, size = rng.randrange(len(out)), rng.randint(16, 4096)
        out[at:at + size] = bytes(len(out[at:at + size]))
        return how, bytes(out)
    reach = min(len(out), 4096) if how == "header bytes changed" else len(out)
    for _ in range(rng.randint(1, 20)):
        out[rng.randrange(reach)] = rng.randrange(256)
    return how, bytes(out)


def damaged_member(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """(how, a ZIP with one of its files damaged, zipped again intact)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {m.filename: archive.read(m) for m in archive.infolist() if not m.is_dir()}
    name = rng.choice(sorted(n for n in files if files[n]))
    how, files[name] = damaged(files[name], rng)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member, content in files.items():
            archive.writestr(member, content)
    return f"{os.path.basename(name)} {how}", out.getvalue()


def numbers_changed(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """(how, a GLB with one number of its JSON changed: a count, an offset,
    an index, a type, a mode...)."""
    from core import glb

    tree, binary = glb.split(data)
    places = list(_numbers(tree))
    where = rng.choice(places)
    node = tree
    for key in where[:-1]:
        node = node[key]
    old = node[where[-1]]
    node[where[-1]] = rng.choice([0, 1, -1, 2, 3, 5, 6, 7, 255, 65535, 2**31, 5120, 5121, 5123, 5125, 5126,
                                  old * 2 + 1, old // 2 if isinstance(old, int) else old / 2])
    return f"{'/'.join(map(str, where))} {old} -> {node[where[-1]]}", glb.pack(tree, binary)


def _numbers(node, where=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _numbers(value, where + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _numbers(value, where + (i,))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield where


def _load(path: str, answer) -> None:
    from core.loading import InputError, load_asset

    try:
        answer.put(("loaded", f"{load_asset(path).n_faces} faces"))
    except InputError as exc:
        answer.put(("refused", str(exc)))
    except Exception as exc:
        answer.put(("error", f"{type(exc).__name__}: {exc}"))


def outcome(path: str, timeout: float) -> tuple[str, str]:
    context = mp.get_context("forkserver")  # forked from one that has loading imported: quick
    context.set_forkserver_preload(["core.loading"])
    answer = context.Queue()
    worker = context.Process(target=_load, args=(path, answer))
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        worker.kill()
        worker.join()
        return "hang", f"no answer in {timeout:.0f} s"
    if answer.empty():
        return "crash", f"exit code {worker.exitcode}"
    return answer.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=20, help="damaged copies of each file")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="only the files whose names match this pattern (e.g. '*.fbx')")
    parser.add_argument("--keep", help="a folder to keep the copies that gave neither a model nor a sentence in")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "damaged.json"))
    args = parser.parse_args()
    from core.inputs import FORMATS

    sources = sorted(p for p in glob.glob(os.path.join(ROOT, "tests", "data", "*"))
                     if os.path.splitext(p)[1].lower() in set(FORMATS) | {".zip"})
    sources += sorted(glob.glob(os.path.join(ROOT, "..", "shared", "psb-dev", "off", "*.off")))[:2]
    sources = [p for p in sources if not args.only or fnmatch.fnmatch(os.path.basename(p), args.only)]
    rng = random.Random(args.seed)
    counts, rows = collections.Counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        for source in sources:
            data = open(source, "rb").read()
            for copy in range(args.copies):
                # every other copy of a ZIP (a 3MF is one): a file in it
                inside = source.endswith((".zip", ".3mf")) and copy % 2
                numbers = source.endswith(".glb") and copy % 2  # of a GLB: a number in its JSON
                how, bad = (damaged_member if inside else numbers_changed if numbers else damaged)(data, rng)
                path = os.path.join(tmp, f"{copy}_{os.path.basename(source)}")
                with open(path, "wb") as f:
                    f.write(bad)
                kind, detail = outcome(path, args.timeout)
                if args.keep and kind not in ("loaded", "refused"):
                    os.makedirs(args.keep, exist_ok=True)
                    os.replace(path, os.path.join(args.keep, os.path.basename(path)))
                else:
                    os.remove(path)
                counts[kind] += 1
                rows.append({"file": os.path.basename(source), "copy": copy, "damage": how, "outcome": kind,
                             "detail": detail[:300]})
                if kind not in ("loaded", "refused"):
                    print(f"{kind:8s} {os.path.basename(source)} copy {copy} ({how}): {detail[:200]}", flush=True)
    print(json.dumps(dict(counts)))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"counts": dict(counts), "files": rows}, f, indent=1)


if __name__ == "__main__":
    main()
