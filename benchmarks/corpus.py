"""A corpus of the files people upload, good and broken: glTF compressed
with Draco, meshopt and KTX2 (by those libraries' own encoders), quantized
and normalized attributes, texture transforms, every primitive mode, a mesh
instanced at four places (EXT_mesh_gpu_instancing), plain
and block-compressed KTX2, a glTF with its .bin and images beside it (and
with a map missing), Latin-1 and Windows-1252 text, files made by gltfpack
and glTF-Transform (tests/data), point clouds, lines, zero-area faces,
truncated and damaged files (the cases: tests/corpus.py).

Each case says what loading it must give: a face count (and, where it has
one, the look of its plain sibling: the same faces, area, connected pieces
and colours at the same surface points; and the warning it must carry), or
the exact sentence a person is told. The tests (tests/test_inputs.py)
assert every case; run as a script, it loads every file in a process of its
own with a time limit and counts the outcomes:

    python -m benchmarks.corpus        # -> benchmarks/results/corpus.json
"""

from __future__ import annotations

import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.corpus import OUTCOMES, Case, build_cases, compare, differences, write_case  # noqa: E402


def outcome(case: Case, path: str, plain_path: str | None = None) -> tuple[str, str]:
    """(one of OUTCOMES but 'hang', detail) of loading ``path``, compared with
    the plain sibling at ``plain_path`` where the case has one."""
    from core.loading import InputError, load_asset

    try:
        asset = load_asset(path)
    except InputError as exc:
        text = str(exc)
        if case.sentence is None:
            return "valid refused", text
        return ("refused" if text == case.sentence else "wrong sentence"), text
    except Exception as exc:  # what the corpus is here to find
        return "crash", repr(exc)
    if case.sentence is not None:
        return "silently wrong", f"loaded {asset.n_faces} faces, expected: {case.sentence}"
    d = compare(asset, load_asset(plain_path)) if plain_path else None
    wrong = differences(case, asset, d)
    if wrong:
        return "silently wrong", "; ".join(wrong)
    if d is None:
        return "loaded", f"{asset.n_faces} faces"
    return "loaded", (f"{asset.n_faces} faces, as {case.sibling}: area within {d['area']:.1e}, median colour "
                      f"difference {d['color']:.0f}/255 (the largest of its nodes')")


def _one(args):
    case, sibling, folder = args
    plain = write_case(sibling, os.path.join(folder, "plain")) if sibling else None
    return outcome(case, write_case(case, folder), plain)


def main() -> None:
    import argparse
    import multiprocessing as mp
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a load counts as a hang")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "corpus.json"))
    args = parser.parse_args()
    cases = build_cases()
    by_name = {case.name: case for case in cases}
    rows, counts = [], dict.fromkeys(OUTCOMES, 0)
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(cases):
            folder = os.path.join(tmp, str(i))
            os.makedirs(os.path.join(folder, "plain"))
            t = time.perf_counter()
            with mp.get_context("spawn").Pool(1) as pool:
                job = pool.apply_async(_one, ((case, by_name.get(case.sibling), folder),))
                try:
                    kind, detail = job.get(args.timeout)
                except mp.TimeoutError:
                    kind, detail = "hang", f"no answer in {args.timeout:.0f} s"
            counts[kind] += 1
            rows.append({"file": case.name, "outcome": kind, "detail": detail,
                         "seconds": round(time.perf_counter() - t, 2)})
            print(f"{kind:14s} {case.name:30s} {detail}")
    print(json.dumps(counts))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"counts": counts, "files": rows}, f, indent=1)


if __name__ == "__main__":
    main()
