"""Click and mask-prompt speed on a 50k-face model, after fitting.

    python benchmarks/interact.py [--model /work/shared/psb-dev/off/281.off]
                                  [--cache DIR] [--clicks 200] [--masks 48] [--no-server]

1. In this process (the server's own work, without HTTP and the queue), over
   the model fitted once (or taken from the fit cache in --cache) with its
   whole ladder computed:
   - click -> highlight: ``Editing.click`` on random faces at random ladder
     scales, everything the server does for a click (the nested selection,
     the viewer value with the selection, the parts table and picker; the
     page itself draws the selection at once, from the ladder it holds);
   - the scale growing a clicked selection (``Editing.set_scale``);
   - mask prompt -> 3D part: ``Masking.mask_part`` on discs painted on the
     fitted reference views (the part from ``PartField.from_mask``, the
     result image, the viewer value), and showing a view to paint on; the
     same prompts again with torch limited to one intra-op thread, which is
     what decides this figure on a busy 2-core machine.
2. Unless --no-server: a click through the HTTP queue, as the page sends it
   (``face_click`` with its event data), against the app in a server process
   over the same fit cache.

Prints the figures and writes them to benchmarks/results/interact.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import httpx
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from benchmarks.slider import MODEL, close_local, local_app, queue_call, server_process, summary_ms  # noqa: E402

DISC = 14
"""Radius in pixels of the painted discs (on the 512-pixel views)."""


def bench_handlers(model: str, cache_dir: str, clicks: int, masks: int, fast: bool) -> dict:
    import torch

    from webapp.masking import PAINT_RESOLUTION

    app, session, item = local_app(model, cache_dir, fast)
    editing, masking, work_of = app.editing, app.masking, app.page.work
    for s in item.scales:  # the whole ladder, as after the background fill
        item.result(s)
    rng = np.random.default_rng(0)
    scales = [round(float(s), 1) for s in item.scales]
    work = editing.set_scale(session, None, 0.5)[work_of]

    click, grow = [], []
    for face in rng.choice(item.asset.n_faces, clicks, replace=False):
        t = time.perf_counter()
        work = editing.click(session, work, float(rng.choice(scales)), [], int(face))[work_of]
        click.append(time.perf_counter() - t)
        t = time.perf_counter()
        editing.set_scale(session, work, float(rng.choice(scales)))
        grow.append(time.perf_counter() - t)

    show, discs = [], []
    n_views = item.field.config.render.n_views
    yy, xx = np.mgrid[:PAINT_RESOLUTION, :PAINT_RESOLUTION]
    for k in range(masks):
        t = time.perf_counter()
        work = masking.paint_reference(session, work, k % n_views)[work_of]
        show.append(time.perf_counter() - t)
        rows, cols = np.nonzero(work.paint.face >= 0)
        i = rng.integers(len(rows))
        discs.append((k % n_views, (yy - rows[i]) ** 2 + (xx - cols[i]) ** 2 <= DISC ** 2))
    result = {"faces": item.asset.n_faces, "click_to_highlight": summary_ms(click),
              "slider_with_a_selection": summary_ms(grow), "show_a_view_to_paint": summary_ms(show),
              "torch_threads": torch.get_num_threads(), **time_masks(app, session, work, discs)}
    default = torch.get_num_threads()
    torch.set_num_threads(1)  # what one intra-op thread does to the same prompts (see the report)
    try:
        result["with_one_torch_thread"] = time_masks(app, session, work, discs)
    finally:
        torch.set_num_threads(default)
    close_local(app)
    return result


def time_masks(app, session, work, discs) -> dict:
    """Mask prompts on (view index, (H, W) bool disc): the handler, and the engine's part of it."""
    from webapp.masking import prompt_at

    prompt, engine_only, sizes = [], [], []
    for index, disc in discs:
        work = app.masking.paint_reference(session, work, index)[app.page.work]
        layer = np.zeros(disc.shape + (4,), np.uint8)
        layer[disc] = (255, 59, 48, 255)
        t = time.perf_counter()
        out = app.masking.mask_part(session, work, {"background": None, "layers": [layer], "composite": None})
        prompt.append(time.perf_counter() - t)
        sizes.append(int(out[app.page.work].selection.sum()))
        field = app.store.get(session.key).field
        t = time.perf_counter()
        field.from_mask(*prompt_at(work.paint.camera, disc))
        engine_only.append(time.perf_counter() - t)
    return {"mask_prompt_to_3d_part": summary_ms(prompt), "engine_from_mask_alone": summary_ms(engine_only),
            "mask_part_faces_median": int(np.median(sizes))}


def bench_server_click(model: str, cache_dir: str, clicks: int, fast: bool, log_path: str) -> dict:
    """Click round trips through the HTTP queue (the model comes from the fit cache)."""
    from gradio_client import Client, handle_file

    with server_process(cache_dir, fast, log_path) as (url, _):
        client = Client(url, verbose=False)
        out = client.predict([handle_file(model)], api_name="/open_model")
        for s in np.round(np.arange(0, 2.01, 0.1), 1):  # the whole ladder, computed once
            client.predict(float(s), api_name="/set_scale")
        config = httpx.get(url + "config").json()
        viewer = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "viewer")
        fn_index = next(d["id"] for d in config["dependencies"] if [viewer, "face_click"] in d["targets"])
        rng = np.random.default_rng(2)
        rtt = []
        with httpx.Client(timeout=60) as http:
            for face in rng.choice(sum(out[0]["parts"]["faces"]), clicks, replace=False):
                t = time.perf_counter()
                queue_call(http, url, client.session_hash, fn_index, [None, None, []],
                           event_data={"face": int(face), "scale": 1.0, "shift": False})
                rtt.append(time.perf_counter() - t)
    return {"click_queue_round_trip": summary_ms(rtt)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=MODEL)
    p.add_argument("--cache", help="fit cache folder (default: a fresh temp folder, so the model is fitted)")
    p.add_argument("--clicks", type=int, default=200)
    p.add_argument("--masks", type=int, default=48)
    p.add_argument("--no-server", action="store_true", help="skip the round trips through a server process")
    p.add_argument("--fast", action="store_true", help="a tiny engine config, to check the script quickly")
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "interact.json"))
    args = p.parse_args(argv)

    cache_dir = args.cache or tempfile.mkdtemp(prefix="partscope-bench-cache-")
    load = os.getloadavg()
    result = {"model": args.model, "machine": {"cpus": os.cpu_count(), "load_average_at_start": load},
              "fast_config": args.fast}
    result["handlers"] = bench_handlers(args.model, cache_dir, args.clicks, args.masks, args.fast)
    if not args.no_server:
        log_path = os.path.join(tempfile.mkdtemp(prefix="partscope-bench-"), "server.log")
        result["server"] = bench_server_click(args.model, cache_dir, args.clicks, args.fast, log_path)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    h = result["handlers"]
    print(f"\nclick -> highlight, server side: p95 {h['click_to_highlight']['p95_ms']} ms "
          f"(p50 {h['click_to_highlight']['p50_ms']} ms) on {h['faces']:,} faces")
    print(f"mask prompt -> 3D part, server side: p95 {h['mask_prompt_to_3d_part']['p95_ms']} ms "
          f"(p50 {h['mask_prompt_to_3d_part']['p50_ms']} ms; PartField.from_mask alone p95 "
          f"{h['engine_from_mask_alone']['p95_ms']} ms)")
    one = h["with_one_torch_thread"]["mask_prompt_to_3d_part"]
    print(f"  the same prompts with one torch thread instead of {h['torch_threads']}: p95 {one['p95_ms']} ms "
          f"(p50 {one['p50_ms']} ms)")
    if "server" in result:
        print(f"click through the HTTP queue: p95 {result['server']['click_queue_round_trip']['p95_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
