"""The slider and the layout as a person meets them, in a real browser
(Debian's chromium driven by Playwright).

    python -m benchmarks.browser [--model PATH ...] [--moves 60] [--cache DIR] [--fast]

For each model (default: PSB 281, 50,542 faces, and the textured toy car),
opened in the app (a server process with the default engine over a fit
cache) at 1366x768, once the page holds every scale's parts:

1. the slider, moved ``--moves`` times with the keyboard (arrow keys one
   step, Page Up / Page Down and Home / End jumps), quiet and then while
   another session fits a model (a nudged copy of PSB 281, through
   gradio_client). Per move, from the input event's time stamp: to the
   recoloured frame drawn and finished (``gl.finish``), and to the task
   after the next animation frame (the frame painted with the new colours);
2. the layout after the model loaded: the viewer, the slider's track and
   the part count inside the window, and the page's height in windows, at
   1366x768, 1920x1080 and 390x844.

Prints the figures and writes them to benchmarks/results/browser.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.slider import MODEL, nudged_copies, server_process, summary_ms  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
TOY_CAR = os.path.join(ROOT, "assets", "toy_car.glb")
SIZES = ((1366, 768), (1920, 1080), (390, 844))
KEYS = ("ArrowRight", "ArrowLeft", "PageUp", "PageDown", "Home", "End")

WATCH = """() => {
  const root = document.querySelector('.ps-viewer');
  window.__lat = []; window.__t0 = null;
  document.addEventListener('input', (e) => {
    if (e.target.classList.contains('ps-slider')) window.__t0 = e.timeStamp;
  }, true);
  new MutationObserver(() => {
    if (window.__t0 === null) return;
    const t0 = window.__t0;
    window.__t0 = null;
    root.partscope.finish();
    const drawn = performance.now() - t0;
    // the next rendering opportunity, then the task after it: the frame with the new colours painted
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => window.__lat.push([drawn, performance.now() - t0]);
      channel.port2.postMessage(null);
    });
  }).observe(root, { attributes: true, attributeFilter: ['data-scale'] });
}"""


def open_in_page(page, url: str, path: str) -> float:
    """Open ``path`` in a fresh page; seconds until the page holds every scale."""
    from core.loading import load_asset

    page.goto(url)
    page.wait_for_selector(".ps-viewer")
    t0 = time.perf_counter()
    page.set_input_files("#upload input[type=file]", path)
    digest = load_asset(path).digest
    page.wait_for_selector(f".ps-viewer[data-key='{digest}'][data-state=parts]", timeout=1_800_000)
    page.wait_for_selector(".ps-viewer[data-ready='21']", timeout=1_800_000)
    return time.perf_counter() - t0


def move_slider(page, moves: int, rng, until=None) -> list:
    """``moves`` keyboard moves of the slider: [(ms to drawn, ms to on screen), ...];
    stops early once ``until()`` is true."""
    page.evaluate(WATCH)
    page.focus(".ps-slider")
    index, top = int(page.input_value(".ps-slider")), int(page.get_attribute(".ps-slider", "max"))
    done = []
    while len(done) < moves and not (until and until()):
        key = str(rng.choice(KEYS))
        after = {"ArrowRight": min(index + 1, top), "ArrowLeft": max(index - 1, 0), "Home": 0, "End": top,
                 "PageUp": min(index + max(top // 10, 1), top), "PageDown": max(index - max(top // 10, 1), 0)}[key]
        if after == index:
            continue
        page.keyboard.press(key)
        page.wait_for_function(f"window.__lat.length >= {len(done) + 1}", timeout=30_000)
        done = page.evaluate("window.__lat")
        index = int(page.input_value(".ps-slider"))
        page.wait_for_timeout(int(rng.integers(40, 160)))  # a person's pace between moves
    return done


def layout(page) -> dict:
    """Where the viewer, the slider and the part count are at each window size."""
    out = {}
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(400)
        boxes = {name: page.locator(sel).bounding_box() for name, sel in
                 (("viewer", ".ps-viewer"), ("slider", ".ps-slider"), ("count", ".ps-count"))}
        within = {name: bool(b and b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= width
                             and b["y"] + b["height"] <= height) for name, b in boxes.items()}
        page_height = page.evaluate("document.documentElement.scrollHeight")
        out[f"{width}x{height}"] = {"inside_window": within, "page_heights": round(page_height / height, 2),
                                    "sideways_overflow": page.evaluate("document.documentElement.scrollWidth") > width}
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    return out


def fit_meanwhile(url: str, path: str) -> tuple:
    """Start a fit of ``path`` in another session: (thread, box) where box["done"] says when it ends."""
    from gradio_client import Client, handle_file

    box = {"done": False, "seconds": None, "error": None}

    def run():
        t0 = time.perf_counter()
        try:  # the app takes a list of files (a model and the files beside it)
            Client(url, verbose=False).predict([handle_file(path)], api_name="/open_model")
        except Exception as exc:  # the benchmark stops with it: the moves did not run beside a fit
            box["error"] = f"{type(exc).__name__}: {exc}"
        box.update(done=True, seconds=round(time.perf_counter() - t0, 1))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def bench_model(browser, url: str, path: str, busy: str, moves: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    page = browser.new_page(viewport={"width": SIZES[0][0], "height": SIZES[0][1]})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    opened = open_in_page(page, url, path)
    result = {"model": path, "faces": int(page.get_attribute(".ps-viewer", "data-faces")),
              "open_to_every_scale_s": round(opened, 1), "layout": layout(page)}
    quiet = move_slider(page, moves, rng)
    thread, box = fit_meanwhile(url, busy)
    time.sleep(3.0)  # the other session's fit under way (past loading)
    loaded = move_slider(page, moves, rng, until=lambda: box["done"])
    during = not box["done"]
    thread.join(timeout=1800)
    if box["error"]:
        raise RuntimeError(f"the other session's fit of {busy} failed: {box['error']}")
    for name, values in (("quiet", quiet), ("while_another_session_fits", loaded)):
        values = np.asarray(values, np.float64).reshape(-1, 2) / 1000
        result[name] = {"input_to_frame_drawn": summary_ms(values[:, 0]),
                        "input_to_frame_on_screen": summary_ms(values[:, 1])}
    result["while_another_session_fits"].update(all_moves_during_the_fit=during, other_fit_s=box["seconds"])
    result["page_errors"] = errors
    page.close()
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", help="model to open (repeatable; default: PSB 281 and the toy car)")
    p.add_argument("--moves", type=int, default=60, help="slider moves per model and condition")
    p.add_argument("--cache", help="fit cache folder (default: a fresh temp folder)")
    p.add_argument("--fast", action="store_true", help="a tiny engine config, to check the script quickly")
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "browser.json"))
    args = p.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        print(f"needs chromium at {CHROMIUM} (apt-get install -y chromium)")
        return 2
    from playwright.sync_api import sync_playwright

    models = args.model or [MODEL, TOY_CAR]
    cache_dir = args.cache or tempfile.mkdtemp(prefix="partscope-bench-cache-")
    work = tempfile.mkdtemp(prefix="partscope-bench-")
    result = {"machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()},
              "fast_config": args.fast, "models": []}
    try:
        # new content (also for a cache kept from an earlier run): fitted while the slider moves
        busy = nudged_copies(MODEL, len(models), work, offset=1 + time.time() % 1)
        with server_process(cache_dir, args.fast, os.path.join(work, "server.log")) as (url, _):
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                for i, model in enumerate(models):
                    result["models"].append(bench_model(browser, url, model, busy[i], args.moves, seed=i))
                browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.cache:
            shutil.rmtree(cache_dir, ignore_errors=True)
    result["machine"]["load_average_at_end"] = os.getloadavg()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    report(result)
    return 0


def report(result: dict) -> None:
    print(f"\nload average at start {result['machine']['load_average_at_start']}, "
          f"at end {result['machine']['load_average_at_end']} ({result['machine']['cpus']} cpus)")
    for m in result["models"]:
        name = os.path.basename(m["model"])
        for cond in ("quiet", "while_another_session_fits"):
            r = m[cond]
            print(f"{name} ({m['faces']:,} faces), {cond.replace('_', ' ')}: slider input -> frame drawn "
                  f"p50 {r['input_to_frame_drawn']['p50_ms']} / p95 {r['input_to_frame_drawn']['p95_ms']} ms; "
                  f"-> on screen p95 {r['input_to_frame_on_screen']['p95_ms']} ms (n={r['input_to_frame_drawn']['n']})")
        for size, lay in m["layout"].items():
            print(f"  {size}: inside the window {lay['inside_window']}, page {lay['page_heights']} windows tall, "
                  f"sideways overflow {lay['sideways_overflow']}")


if __name__ == "__main__":
    sys.exit(main())
