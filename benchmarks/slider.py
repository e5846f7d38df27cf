"""Web app server speed and memory on a 50k-face model, after fitting.

    python benchmarks/slider.py [--model /work/shared/psb-dev/off/281.off]
                                [--sessions 3] [--moves 200] [--cache DIR]

The slider itself recolours in the page (benchmarks/browser.py times it in
a real browser); what the server does per slider move is learn the scale the
page settled on (the parts table, the picker, a selection's sentence).

1. Starts the app (the default engine) as a server process with its own fit
   cache (a fresh temp folder unless --cache is given), opens the model in
   ``--sessions`` sessions through gradio_client (each session gets its own
   copy of the model, nudged by 1e-6 so that each is fitted and held
   separately: the worst case for memory), waits for their ladders, and
   measures the scale's round trips over HTTP. The server's peak resident
   memory (VmHWM) is read from /proc after that, and the time from each
   fit's end to its parts from the server's log.
2. In this process, over the same disk cache: the scale handler's own time
   (what the server does per move, without the HTTP and queue around it),
   warm (the ladder is cached) and cold (a scale computed on demand), and
   the ladder the page fetches (every scale's labels, deflated): its size.

Prints the figures and writes them to benchmarks/results/slider.json.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

MODEL = os.path.join(os.path.dirname(ROOT), "shared", "psb-dev", "off", "281.off")


def percentile(values, q) -> float:
    return float(np.percentile(np.asarray(values, np.float64), q))


def summary_ms(values) -> dict:
    ms = np.asarray(values, np.float64) * 1000
    return {"n": int(len(ms)), "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "max_ms": round(float(ms.max()), 2)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_memory_mb(pid: int) -> dict:
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


def nudged_copies(model: str, n: int, folder: str, offset: float = 0.0) -> list[str]:
    """n copies of the model, copy i with one vertex moved by (i + offset)/1000
    of the model's size: new content each, the same shape."""
    import trimesh

    from core.loading import load_asset

    mesh = trimesh.load(model, force="mesh", process=False)
    ext = os.path.splitext(model)[1]
    paths = []
    for i in range(n):
        copy = mesh.copy()
        copy.vertices[0] += 1e-3 * (i + offset) * mesh.scale
        path = os.path.join(folder, f"model_{i}{ext}")
        copy.export(path)
        paths.append(path)
    assert len({load_asset(p).digest for p in paths}) == n, "the copies must differ in content"
    return paths


# ------------------------------------------------------------------ server process

def fast_config():
    """--fast: a config for checking this script in seconds, not for figures."""
    from core.config import SegmentConfig

    cfg = SegmentConfig()
    cfg.sample.n_points, cfg.render.n_views, cfg.render.resolution, cfg.field.steps = 2000, 8, 192, 20
    return cfg


def serve(port: int, cache_dir: str, fast: bool) -> None:
    import logging

    from core.pipeline import Engine
    from core.settings import load_settings
    from webapp import build_demo

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings = dataclasses.replace(load_settings(), cache_dir=cache_dir)
    demo = build_demo(Engine(fast_config() if fast else None, settings=settings))
    demo.launch(server_name="127.0.0.1", server_port=port, quiet=True)


def wait_up(url: str, proc, timeout=120) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the server did not come up")


def server_command(port: int, cache_dir: str, fast: bool) -> list[str]:
    return [sys.executable, __file__, "--serve", str(port), "--cache", cache_dir] + (["--fast"] if fast else [])


@contextlib.contextmanager
def server_process(cache_dir: str, fast: bool, log_path: str):
    """Yield (url, process) of the app served by another process, logging to ``log_path``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(server_command(port, cache_dir, fast), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_up(url, proc)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def slider_fn_index(url: str) -> int:
    config = httpx.get(url + "config").json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == "set_scale")


def queue_call(http, url: str, session_hash: str, fn_index: int, data: list, event_data=None) -> None:
    """One event through the queue as the page sends it (join, then read the
    session's event stream to the end of this event). gradio_client adds
    ~70 ms of its own per call, so it is not used for timing."""
    joined = http.post(url + "gradio_api/queue/join", json={
        "data": data, "fn_index": fn_index, "session_hash": session_hash, "event_data": event_data,
        "trigger_id": None}).json()
    with http.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and joined["event_id"] in line and "process_completed" in line:
                if '"success": true' not in line.replace('"success":true', '"success": true'):
                    raise RuntimeError(f"call failed: {line[:300]}")
                return


def bench_server(models: list[str], cache_dir: str, moves: int, log_path: str, fast: bool) -> dict:
    from gradio_client import Client, handle_file

    with server_process(cache_dir, fast, log_path) as (url, proc):
        base = proc_memory_mb(proc.pid)
        clients = [Client(url, verbose=False) for _ in models]
        t0 = time.perf_counter()
        jobs = [c.submit([handle_file(m)], api_name="/open_model") for c, m in zip(clients, models)]
        opened = []
        for job in jobs:
            out = job.result(timeout=3600)
            opened.append({"seconds_from_submit": round(time.perf_counter() - t0, 1), "parts": out[1],
                           "status": out[5]})
        scales = [round(0.1 * i, 1) for i in range(21)]
        for c in clients:  # the whole ladder, computed once (on demand or by the background thread)
            for s in scales:
                c.predict(s, api_name="/set_scale")
        rng = np.random.default_rng(0)
        rtt = []
        fn_index = slider_fn_index(url)
        with httpx.Client(timeout=60) as http:
            for _ in range(moves):
                for c in clients:
                    s = float(rng.choice(scales))
                    t = time.perf_counter()
                    queue_call(http, url, c.session_hash, fn_index, [None, None, s])
                    rtt.append(time.perf_counter() - t)
        memory = proc_memory_mb(proc.pid)
    text = open(log_path).read()
    first = [float(x) for x in re.findall(r"field parts of .* ([\d.]+) s after the fit", text)]
    fits = [float(x) for x in re.findall(r"after the fit \(fit ([\d.]+) s", text)]
    return {"sessions": len(models), "opened": opened, "fit_seconds": fits,
            "fit_end_to_field_parts_s": first, "slider_queue_round_trip": summary_ms(rtt),
            "server_memory_mb": {"at_start": base, "after": memory}}


# ------------------------------------------------------------------ handler timing

def local_app(model: str, cache_dir: str, fast: bool):
    """The app's objects in this process over the model, fitted (or taken
    from the disk cache): (webapp.app.PartScopeApp, Session, Fitted). Close
    with ``close_local``."""
    from core.loading import load_asset
    from core.pipeline import Engine
    from core.settings import load_settings
    from webapp import build_demo
    from webapp.sessions import Session
    from webapp.store import Fitted

    settings = dataclasses.replace(load_settings(), cache_dir=cache_dir)
    engine = Engine(fast_config() if fast else None, settings=settings)
    app = build_demo(engine, session_root=tempfile.mkdtemp(), max_upload_mb=100, memory_slots=2).partscope
    asset = load_asset(model)
    key = engine.cache_key(asset)
    field = app.cache.get(engine, asset)
    if field is None:
        field = engine.fit(asset)
        app.cache.put(engine, field)
    item = app.store.add(Fitted(key, asset, field))
    session = Session(key=key, digest=asset.digest, name=os.path.basename(model), path=model, folder="",
                      n_faces=asset.n_faces)
    return app, session, item


def close_local(app) -> None:
    app.store.close()
    app.cache.close()


def bench_handler(model: str, cache_dir: str, moves: int, fast: bool) -> dict:
    import asyncio

    app, session, item = local_app(model, cache_dir, fast)
    cached_before = len(item.field.cached_scales)
    scales = [round(0.1 * i, 1) for i in range(21)]
    cold, work = [], None
    for s in scales:
        t = time.perf_counter()
        work = app.editing.set_scale(session, work, s)[app.page.work]
        cold.append(time.perf_counter() - t)
    rng = np.random.default_rng(1)
    warm = []
    for _ in range(moves):
        s = float(rng.choice(scales))
        t = time.perf_counter()
        app.editing.set_scale(session, work, s)
        warm.append(time.perf_counter() - t)
    t = time.perf_counter()
    ladder = asyncio.run(app.feeds.ladder({"ladder": item.ladder_id, "have": []}))
    ladder_s = time.perf_counter() - t
    t = time.perf_counter()
    item.field.parts(0.55)  # off the ladder: what computing a scale on demand costs
    on_demand = time.perf_counter() - t
    close_local(app)
    return {"faces": item.asset.n_faces, "warm": summary_ms(warm), "first_touch_of_each_scale": summary_ms(cold),
            "one_scale_computed_on_demand_s": round(on_demand, 3),
            "cached_scales_before_first_touch": cached_before,
            "ladder_to_the_page": {"scales": len(ladder["entries"]),
                                   "json_bytes": len(json.dumps(ladder, separators=(",", ":"))),
                                   "raw_int16_bytes": 2 * item.asset.n_faces * len(ladder["entries"]),
                                   "seconds_encoded_once": round(ladder_s, 3)}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=MODEL)
    p.add_argument("--sessions", type=int, default=3)
    p.add_argument("--moves", type=int, default=100, help="random slider moves per session")
    p.add_argument("--cache", help="fit cache folder (default: a fresh temp folder, so every fit runs)")
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "slider.json"))
    p.add_argument("--fast", action="store_true", help="a tiny engine config, to check the script quickly")
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve(args.serve, args.cache, args.fast)
        return 0

    cache_dir = args.cache or tempfile.mkdtemp(prefix="partscope-bench-cache-")
    work = tempfile.mkdtemp(prefix="partscope-bench-")
    try:
        models = nudged_copies(args.model, args.sessions, work)
        result = {"model": args.model, "machine": {"cpus": os.cpu_count()}, "fast_config": args.fast}
        result["server"] = bench_server(models, cache_dir, args.moves, os.path.join(work, "server.log"), args.fast)
        result["handler"] = bench_handler(models[0], cache_dir, args.moves * 2, args.fast)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.cache:
            shutil.rmtree(cache_dir, ignore_errors=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    h, s = result["handler"], result["server"]
    print(f"\nthe scale reaching the server, handler, warm ladder: p95 {h['warm']['p95_ms']} ms "
          f"(first touch of a scale p95 {h['first_touch_of_each_scale']['p95_ms']} ms)")
    print(f"the scale reaching the server, through the HTTP queue: p95 {s['slider_queue_round_trip']['p95_ms']} ms")
    print(f"fit end -> the field's parts (server): {s['fit_end_to_field_parts_s']} s")
    print(f"server memory with {s['sessions']} fitted sessions: peak {s['server_memory_mb']['after'].get('VmHWM')} MB, "
          f"now {s['server_memory_mb']['after'].get('VmRSS')} MB")
    lad = h["ladder_to_the_page"]
    print(f"the ladder the page fetches: {lad['scales']} scales, {lad['json_bytes'] / 1e6:.2f} MB as sent "
          f"({lad['raw_int16_bytes'] / 1e6:.2f} MB of int16 labels), encoded in {lad['seconds_encoded_once']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
