"""End to end in a real browser (Debian's chromium driven by Playwright):
upload a model, wait for its parts, orbit, move the slider, hover and click a
part, switch to the original look, download, and a bad file's message.

Needs /usr/bin/chromium (``apt-get install -y chromium``); never
``playwright install``. Screenshots go to the test's temp folder and to
/tmp/partscope_e2e.png.
"""

import os
import shutil
import time

import pytest

from core.loading import load_asset
from tests.e2e.launch import ASSETS, running_app, shared_cache_dir

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
TABLE = os.path.join(ASSETS, "table.glb")
SCREENSHOT = "/tmp/partscope_e2e.png"

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
    _, url = app
    bad = tmp_path / "broken.glb"
    bad.write_bytes(b"glTF" + bytes(range(200)))
    page.goto(url)
    page.set_input_files("#upload input[type=file]", str(bad))
    message = page.get_by_text("could not be read as GLB")
    message.first.wait_for(timeout=60_000)
    assert "Traceback" not in page.inner_text("body")
    page.locator("#upload button[aria-label='Clear']").click()
    page.set_input_files("#upload input[type=file]", TABLE)
    page.wait_for_selector(".ps-viewer[data-state=parts]", timeout=300_000)
