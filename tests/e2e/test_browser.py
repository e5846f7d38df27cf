"""End to end in a real browser (Debian's chromium driven by Playwright):
upload a model, wait for its parts, orbit, move the slider, hover and click a
part, switch to the original look, download, and a bad file's message; click
to select and grow the selection with the slider, paint a mask on a view and
get its 3D part, rename a part and find the name in the download.

Needs /usr/bin/chromium (``apt-get install -y chromium``); never
``playwright install``. Screenshots go to the test's temp folder, to
/tmp/partscope_e2e.png and (selection and mask panel) /tmp/partscope_interact.png.
"""

import json
import os
import shutil
import struct
import time
from dataclasses import replace

import numpy as np
import pytest

from core.loading import load_asset
from core.rendering import Renderer, reference_cameras
from tests.e2e.launch import ASSETS, running_app, shared_cache_dir
from webapp.editing import PAINT_RESOLUTION

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
TABLE = os.path.join(ASSETS, "table.glb")
SCREENSHOT = "/tmp/partscope_e2e.png"
INTERACT_SCREENSHOT = "/tmp/partscope_interact.png"

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"),
    # gradio's queue calls pandas in ways pandas 3 deprecates; not ours to fix
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    cache = shared_cache_dir(tmp_path_factory)
    with running_app(cache, str(tmp_path_factory.mktemp("sessions"))) as (demo, url):
        yield demo, url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    page.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def viewer_attr(page, name):
    return page.get_attribute(".ps-viewer", f"data-{name}")


def a_point_on_the_model(page):
    """(x, y) in page pixels where the viewer shows a face, and that face."""
    found = page.evaluate("""() => {
        const root = document.querySelector('.ps-viewer');
        const c = root.querySelector('canvas');
        for (let fy = 0.5; fy > 0.05; fy -= 0.02)
          for (const fx of [0.5, 0.45, 0.55, 0.4, 0.6]) {
            const f = root.partscope.pick(c.clientWidth * fx, c.clientHeight * fy);
            if (f >= 0) return [c.clientWidth * fx, c.clientHeight * fy, f];
          }
        return null; }""")
    assert found, "no face visible in the viewer"
    box = page.locator(".ps-canvas").bounding_box()
    return box["x"] + found[0], box["y"] + found[1], found[2]


def camera(page):
    return page.evaluate("document.querySelector('.ps-viewer').partscope.state().camera")


def test_upload_explore_and_download(app, page, tmp_path):
    demo, url = app
    page.goto(url)
    assert "up to" in page.inner_text("#upload")  # the size limit is on the page
    page.set_input_files("#upload input[type=file]", TABLE)
    page.wait_for_selector(".ps-viewer[data-state=parts]", timeout=300_000)
    first = int(viewer_attr(page, "parts"))
    assert int(page.input_value("#n-parts input")) == first
    assert int(viewer_attr(page, "faces")) == load_asset(TABLE).n_faces

    # the ladder fills in behind; pick a scale whose part count differs
    item = demo.partscope.store.get(demo.partscope.engine.cache_key(load_asset(TABLE)))
    deadline = time.time() + 120
    while not item.complete and time.time() < deadline:
        time.sleep(0.2)
    counts = item.counts()
    target = next((s for s in sorted(counts, reverse=True) if counts[s] != first), None)
    assert target is not None, f"the part count is the same at every scale: {counts}"

    # orbit, then move the slider: the parts change, the camera does not
    box = page.locator(".ps-canvas").bounding_box()
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(box["x"] + 360, box["y"] + 280, steps=5)
    page.mouse.up()
    before = camera(page)
    page.locator("#scale input[type=range]").fill(str(target))
    page.wait_for_selector(f".ps-viewer[data-scale='{target:.1f}']", timeout=30_000)
    assert int(viewer_attr(page, "parts")) == counts[target] != first
    page.wait_for_function(f"document.querySelector('#n-parts input').value == '{counts[target]}'")
    assert camera(page) == before

    # hover names a part and its size; a click reaches the server with the face id
    x, y, face = a_point_on_the_model(page)
    page.mouse.move(x, y)
    page.wait_for_selector(".ps-tip:not([hidden])")
    tip = page.inner_text(".ps-tip")
    assert "Part" in tip and "faces" in tip and "% of surface" in tip
    page.mouse.click(x, y)
    page.wait_for_function("document.querySelector('#picked').innerText.includes('Face')", timeout=30_000)
    assert f"Face {face:,}" in page.inner_text("#picked")

    # the original look and back
    page.click(".ps-btn[data-act=look]")
    assert viewer_attr(page, "look") == "original"
    page.locator(".ps-viewer").screenshot(path=str(tmp_path / "original.png"))
    page.click(".ps-btn[data-act=look]")
    assert viewer_attr(page, "look") == "parts"

    # downloads of the shown granularity
    page.click("#export")
    page.wait_for_function("document.querySelectorAll('#downloads a').length >= 4", timeout=60_000)
    link = page.locator("#downloads a[download$='_parts.glb']").first
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.endswith(f"scale{target:.1f}_parts.glb") and saved.read_bytes()[:4] == b"glTF"

    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    shutil.copyfile(tmp_path / "page.png", SCREENSHOT)


def test_a_bad_file_gets_a_message_and_the_page_goes_on(app, page, tmp_path):
    # clearing the upload box clears the view; a refused file's sentence
    # stands where the status is, with no model behind it
    _, url = app
    bad = tmp_path / "broken.glb"
    bad.write_bytes(b"glTF" + bytes(range(200)))
    page.goto(url)
    page.set_input_files("#upload input[type=file]", TABLE)
    page.wait_for_selector(".ps-viewer[data-state=parts]", timeout=300_000)
    page.locator("#upload button[aria-label='Clear']").click()
    page.wait_for_selector(".ps-viewer[data-state=empty]", timeout=60_000)
    page.wait_for_function("document.querySelector('#status').innerText.includes('No model yet.')", timeout=60_000)
    page.set_input_files("#upload input[type=file]", str(bad))
    sentence = "'broken.glb' is not valid GLB: its header is damaged."
    page.wait_for_function(f"document.querySelector('#status').innerText.includes({sentence!r})", timeout=60_000)
    assert viewer_attr(page, "state") == "empty" and page.input_value("#n-parts input") == ""
    assert "Traceback" not in page.inner_text("body")
    page.locator("#upload button[aria-label='Clear']").click()
    page.set_input_files("#upload input[type=file]", TABLE)
    page.wait_for_selector(".ps-viewer[data-state=parts]", timeout=300_000)


def viewer_eval(page, expression):
    return page.evaluate(f"(() => {{ const v = document.querySelector('.ps-viewer').partscope; return {expression}; }})()")


def paint_and_find(page, pixels, attempts=3):
    """Paint ``pixels`` and ask for their part. A stroke drawn while the editor
    was still laying out its view misses the model and the page answers with
    a sentence instead; the brush then goes over the same pixels again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        paint_on_editor(page, pixels)
        page.click("#mask-find")
        try:
            page.wait_for_function(
                "document.querySelector('#mask-status').innerText.includes('The part at scale')", timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise AssertionError("no part came from the painted mask; the page says:\n"
                                     + page.inner_text("body")[-3000:]) from None
            page.wait_for_timeout(1000)


def open_table(demo, page, url):
    page.goto(url)
    page.set_input_files("#upload input[type=file]", TABLE)
    page.wait_for_selector(".ps-viewer[data-state=parts]", timeout=300_000)
    page.wait_for_function("document.querySelector('#mask-status').innerText.includes('view 1')", timeout=60_000)
    handlers = demo.partscope
    return handlers.store.get(handlers.engine.cache_key(load_asset(TABLE)))


def paint_on_editor(page, pixels):
    """Drag the brush through image pixels (row, col) of the mask editor's view."""
    page.locator("#mask-editor").scroll_into_view_if_needed()
    canvas = page.locator("#mask-editor canvas").first.bounding_box()
    zoom = float(page.locator("#mask-editor span[role=button]", has_text="%").first.inner_text().rstrip("%")) / 100
    size = PAINT_RESOLUTION * zoom
    left = canvas["x"] + (canvas["width"] - size) / 2
    top = canvas["y"] + (canvas["height"] - size) / 2
    points = [(left + (c + 0.5) * zoom, top + (r + 0.5) * zoom) for r, c in pixels]
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def test_click_paint_rename_and_download(app, page, tmp_path):
    demo, url = app
    item = open_table(demo, page, url)
    scale = float(viewer_attr(page, "scale"))

    # a click selects the group of the face under the cursor, highlighted with the rest dimmed
    x, y, face = a_point_on_the_model(page)
    page.mouse.click(x, y)
    page.wait_for_selector(".ps-viewer:not([data-selected='0'])[data-selected]", timeout=30_000)
    expected = item.select(face, scale)
    assert viewer_eval(page, "v.selected()") == np.flatnonzero(expected).tolist()
    assert f"Face {face:,} is in" in page.inner_text("#picked")
    picked_part = int(item.result(scale)["labels"][face])
    assert page.inner_text("#targets").splitlines()[-1].startswith(f"{picked_part} (")  # picked for editing

    # the slider grows the selection around the same face
    page.locator("#scale input[type=range]").fill("2")
    page.wait_for_selector(".ps-viewer[data-scale='2.0']", timeout=30_000)
    page.wait_for_function(f"Number(document.querySelector('.ps-viewer').dataset.selected) >= {expected.sum()}")
    grown = np.array(viewer_eval(page, "v.selected()"))
    assert set(np.flatnonzero(expected)) <= set(grown) and face in grown
    page.locator("#scale input[type=range]").fill(str(scale))
    page.wait_for_selector(f".ps-viewer[data-scale='{scale:.1f}']", timeout=30_000)

    # paint over the largest part of view 1, get the 3D part
    cfg = replace(item.field.config.render, resolution=PAINT_RESOLUTION)
    view = Renderer(item.asset).render(reference_cameras(cfg, float(np.linalg.norm(item.asset.mesh.extents)))[0])
    labels = item.result(scale)["labels"]
    seen = np.where(view.face >= 0, labels[np.maximum(view.face, 0)], -1)
    target = int(np.bincount(seen[seen >= 0]).argmax())
    rows, cols = np.nonzero(seen == target)
    r0, c0 = int(np.median(rows)), int(np.median(cols))
    assert seen[r0, c0] == target
    paint_and_find(page, [(r0, c0 - 6), (r0, c0), (r0, c0 + 6)])
    page.wait_for_selector("#mask-result img")
    selected = set(viewer_eval(page, "v.selected()"))
    assert int(view.face[r0, c0]) in selected
    part = np.flatnonzero(labels == target)
    assert len(selected & set(part.tolist())) >= 0.8 * len(part)
    page.screenshot(path=str(tmp_path / "interact.png"), full_page=True)
    shutil.copyfile(tmp_path / "interact.png", INTERACT_SCREENSHOT)

    # "Paint this view" puts the viewer's angle in the mask editor
    page.click(".ps-btn[data-act=paint]")
    page.wait_for_function("document.querySelector('#mask-status').innerText.includes(\"the viewer's angle\")",
                           timeout=30_000)

    # rename the clicked part; the hover, the table and the download carry the name
    page.locator(".ps-viewer").scroll_into_view_if_needed()
    x, y, face = a_point_on_the_model(page)
    box = page.locator(".ps-canvas").bounding_box()
    at = (x - box["x"], y - box["y"])  # where that face is on the canvas
    page.mouse.click(x, y)
    page.wait_for_function(f"document.querySelector('#picked').innerText.includes('Face {face:,} is in')")
    page.fill("#part-name textarea, #part-name input", "table top")
    page.click("#rename")
    page.wait_for_function("document.querySelector('#parts-table').innerText.includes('table top')", timeout=30_000)
    assert viewer_attr(page, "edited") == "true"
    page.locator(".ps-viewer").scroll_into_view_if_needed()
    box = page.locator(".ps-canvas").bounding_box()
    page.mouse.move(box["x"] + at[0] + 1, box["y"] + at[1])
    page.mouse.move(box["x"] + at[0], box["y"] + at[1])
    page.wait_for_function("document.querySelector('.ps-tip').innerText.includes('table top')", timeout=10_000)
    page.click("#export")
    page.wait_for_function("document.querySelectorAll('#downloads a').length >= 4", timeout=60_000)
    with page.expect_download() as download:
        page.locator("#downloads a[download$='_parts.glb']").first.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    data = saved.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    gltf = json.loads(data[20:20 + length])
    roots = [gltf["nodes"][i]["name"] for i in gltf["scenes"][gltf.get("scene", 0)]["nodes"]]
    assert "table_top" in roots and saved.name.endswith("_edited_parts.glb")
