"""The web app's part work against an app launched here (real engine, fast
config): click to select and the slider growing the selection, mask prompts,
part-list edits with undo and redo reaching the downloads, and naming through
a real chat-completions server on 127.0.0.1 (tests/fake_llm.py)."""

import base64
import dataclasses
import json
import os
import struct
import types
from dataclasses import replace

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from core.export import part_names
from core.loading import load_asset
from core.naming_views import CanonicalViews
from core.rendering import Camera, Renderer, reference_cameras
from fake_llm import FakeLLM, iou
from tests.e2e.launch import ASSETS, running_app, shared_cache_dir
from webapp.editing import PAINT_RESOLUTION
from webapp.viewer import viewer_camera
from webapp.work import new_workbench, rename_by_faces, split_labels

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")

TABLE = os.path.join(ASSETS, "table.glb")
KEY = "sk-test-Zq8HvP3kLm2Wx9TnB4rY"


def decode(b64: str, dtype) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=np.dtype(dtype).newbyteorder("<"))


def labels_of(value) -> np.ndarray:
    return decode(value["labels"], value["dtype"]).astype(np.int32)


def selected_of(value, n_faces: int) -> np.ndarray:
    if value["selected"] is None:
        return np.zeros(n_faces, bool)
    return np.unpackbits(decode(value["selected"], "u1"), bitorder="little")[:n_faces].astype(bool)


def glb_roots(path) -> list[str]:
    data = open(path, "rb").read()
    length, _ = struct.unpack_from("<II", data, 12)
    gltf = json.loads(data[20:20 + length])
    return [gltf["nodes"][i]["name"] for i in gltf["scenes"][gltf.get("scene", 0)]["nodes"]]


def export(client, scale) -> dict:
    files = client.predict(scale, api_name="/export")
    return {os.path.splitext(f)[1]: f for f in files}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    cache = shared_cache_dir(tmp_path_factory)
    with running_app(cache, str(tmp_path_factory.mktemp("sessions"))) as (demo, url):
        yield types.SimpleNamespace(demo=demo, url=url, handlers=demo.partscope, asset=load_asset(TABLE))


@pytest.fixture(scope="module")
def richest(app):
    """The ladder scale with the most parts (the table's legs apart)."""
    client = Client(app.url, verbose=False)
    client.predict(handle_file(TABLE), api_name="/open_model")
    item = app.handlers.store.get(app.handlers.engine.cache_key(app.asset))
    counts = {s: len(item.result(s)["faces"]) for s in item.scales}
    best = max(counts, key=lambda s: (counts[s], -s))
    assert counts[best] >= 3, f"the table needs at least three parts at some scale: {counts}"
    return round(float(best), 1)


@pytest.fixture
def client(app, richest):
    """A fresh session with the table open at the richest scale."""
    c = Client(app.url, verbose=False)
    c.predict(handle_file(TABLE), api_name="/open_model")
    c.predict(richest, api_name="/set_scale")
    return c


def open_here(handlers, path=TABLE):
    """(session, work) of the table opened by the real handler, in this process."""
    *_, last = handlers.open_model(path, progress=lambda *a, **k: None, request=None)
    return last[0], last[1]


# ------------------------------------------------------------------ click to select

def test_a_click_selects_and_the_slider_grows_the_selection(app):
    handlers, editing = app.handlers, app.handlers.editing
    session, work = open_here(handlers)
    item = handlers.store.get(session.key)
    scales = [round(float(s), 1) for s in item.scales]
    rng = np.random.default_rng(0)
    for face in rng.choice(app.asset.n_faces, 12, replace=False):
        out = editing.click(session, work, scales[0], [], int(face))
        work, value, picked = out[0], out[1], out[-1]
        part = int(labels_of(value)[face])
        assert out[4]["value"] == [part] and f"Face {face:,} is in **part {part}**" in picked
        before = selected_of(value, app.asset.n_faces)
        assert before[face] and np.array_equal(before, labels_of(value) == part)  # the part itself at the finest scale
        for s in scales[1:]:
            out = editing.set_scale(session, work, s)
            now = selected_of(out[1], app.asset.n_faces)
            assert now[face] and (now | before).sum() == now.sum(), f"face {face}: shrank from {scales[0]} to {s}"
            assert f"at scale {s:.1f}" in out[-1]
            before = now
        editing.set_scale(session, work, scales[0])


def test_shift_click_adds_and_removes_parts_to_edit(app):
    editing = app.handlers.editing
    session, work = open_here(app.handlers)
    labels = work.parts.labels
    a, b = (int(np.flatnonzero(labels == p)[0]) for p in (0, 1))
    out = editing.click(session, work, work.scale, [], a)
    picked = out[4]["value"]
    selection = out[1]["selected"]
    out = editing.click(session, work, work.scale, picked, b, shift=True)
    assert out[4]["value"] == [0, 1] and out[1]["selected"] == selection  # the selection stays
    out = editing.click(session, work, work.scale, [0, 1], a, shift=True)
    assert out[4]["value"] == [1]


# ------------------------------------------------------------------ mask prompt

def paint_file(folder, mask: np.ndarray) -> str:
    """An ImageEditor layer: red where ``mask`` (H, W) bool, transparent elsewhere."""
    layer = np.zeros(mask.shape + (4,), np.uint8)
    layer[mask] = (255, 59, 48, 255)
    path = os.path.join(folder, "paint.png")
    Image.fromarray(layer).save(path)
    return path


def reference_view(app, index: int):
    item = app.handlers.store.get(app.handlers.engine.cache_key(app.asset))
    cfg = replace(item.field.config.render, resolution=PAINT_RESOLUTION)
    camera = reference_cameras(cfg, float(np.linalg.norm(app.asset.mesh.extents)))[index]
    return Renderer(app.asset).render(camera)


def test_a_painted_mask_gives_the_part_under_it(app, client, richest, tmp_path):
    editor, result, status = client.predict(2, api_name="/mask_view")
    assert "view 3" in status and result is None
    background = np.asarray(Image.open(editor["background"]))
    assert background.shape[:2] == (PAINT_RESOLUTION, PAINT_RESOLUTION)
    view = reference_view(app, 2)
    seen = view.face >= 0
    assert np.array_equal(background[..., :3].min(axis=2) < 250, seen) or (
        np.mean((background[..., :3].min(axis=2) < 250) == seen) > 0.99)  # it is that view

    # paint a blob in the middle of the largest part seen there
    parts = client.predict(richest, api_name="/set_scale")[0]
    labels = labels_of(parts)
    seen_part = np.where(seen, labels[np.maximum(view.face, 0)], -1)
    target = np.bincount(seen_part[seen]).argmax()
    rows, cols = np.nonzero(seen_part == target)
    r0, c0 = int(np.median(rows)), int(np.median(cols))
    paint = np.zeros_like(seen)
    paint[r0 - 12:r0 + 12, c0 - 12:c0 + 12] = True
    paint &= seen_part == target
    layer = handle_file(paint_file(str(tmp_path), paint))
    value, image, status, picked = client.predict(
        {"background": handle_file(editor["background"]), "layers": [layer], "composite": None, "id": None},
        api_name="/mask_part")
    selected = selected_of(value, app.asset.n_faces)
    under = np.unique(view.face[paint])
    assert selected[under].mean() > 0.9, "the faces under the paint are the part's"
    assert (selected & (labels == target)).sum() >= 0.8 * (labels == target).sum()
    assert "faces" in status and "scale" in status and "Add selection as part" in picked
    # the result image, seen from the same angle: the part tinted, the rest grey
    shown = np.asarray(Image.open(image).convert("RGB")).astype(int)
    orange = (shown[..., 0] - shown[..., 2] > 60) & (shown[..., 0] >= shown[..., 1])
    expected = seen & selected[np.maximum(view.face, 0)]
    assert (orange & expected).sum() >= 0.8 * expected.sum()

    # the selection becomes a part of its own
    value, n_parts, *_ = client.predict(api_name="/add_selection")
    assert n_parts >= len(parts["faces"]) and value["selected"] is None


def test_bad_masks_get_sentences(app, client, richest, tmp_path):
    editor, *_ = client.predict(0, api_name="/mask_view")
    background = handle_file(editor["background"])
    empty = np.zeros((PAINT_RESOLUTION, PAINT_RESOLUTION), bool)
    with pytest.raises(AppError, match="Nothing is painted"):
        client.predict({"background": background, "layers": [], "composite": None, "id": None},
                       api_name="/mask_part")
    corner = empty.copy()
    corner[:20, :20] = True  # the corner of a fitted view is background
    with pytest.raises(AppError, match="paint over the model"):
        client.predict({"background": background, "layers": [handle_file(paint_file(str(tmp_path), corner))],
                        "composite": None, "id": None}, api_name="/mask_part")
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict(99, api_name="/mask_view")
    assert client.predict(richest, api_name="/export")  # the session goes on


def test_the_viewer_camera_becomes_an_engine_camera():
    d = 2.5
    camera = viewer_camera({"eye": [0.0, 0.0, d], "target": [0, 0, 0], "fov_deg": 35.0}, 64)
    expected = Camera.orbit(0.0, 0.0, d, 35.0, 64)
    assert np.allclose(camera.position, expected.position) and np.allclose(camera.rotation, expected.rotation)
    panned = viewer_camera({"eye": [1.0, 0.5, d], "target": [1.0, 0.5, 0.0], "fov_deg": 35.0}, 64)
    assert np.allclose(panned.project(np.array([[1.0, 0.5, 0.0]]))[0], 32.0)  # the target is in the middle
    with pytest.raises(ValueError, match="no usable camera"):
        viewer_camera({"eye": [0, 0, 0], "target": [0, 0, 0], "fov_deg": 35.0}, 64)
    with pytest.raises(ValueError, match="no usable camera"):
        viewer_camera(None, 64)


# ------------------------------------------------------------------ edits

def test_edits_undo_and_redo_reach_the_downloads(app, client, richest):
    value, n, *_ = client.predict(richest, api_name="/set_scale")
    start = labels_of(value)
    assert value["edited"] is False

    value, merged, table, picker, note = client.predict([0, 1], api_name="/merge")
    assert merged == n - 1 and picker["value"] == [0] and "Edited list" in note and value["edited"]
    files = export(client, richest)
    assert len(glb_roots(files[".glb"])) == n - 1 and "_edited_" in os.path.basename(files[".glb"])

    assert client.predict(api_name="/undo")[1] == n
    assert len(glb_roots(export(client, richest)[".glb"])) == n
    assert client.predict(api_name="/redo")[1] == n - 1

    value, count, *_ = client.predict([0], api_name="/split")
    assert count > n - 1  # the merged part comes apart again
    value, count, *_ = client.predict([count - 1], api_name="/delete")
    deleted = labels_of(value) < 0
    assert deleted.any() and count == len(value["faces"])
    table = json.load(open(export(client, richest)[".json"]))
    assert table["n_deleted"] == deleted.sum() and (np.array(table["face_labels"]) == -1).sum() == deleted.sum()

    value, *_ = client.predict([0], "table top", api_name="/rename")
    value, *_ = client.predict([0], "#112233", api_name="/recolor")
    assert value["names"][0] == "table top" and value["colors"][0] == "#112233"
    value, *_ = client.predict([1], api_name="/hide")
    assert value["colors"][1] == ""  # hidden in the viewer...
    roots = glb_roots(export(client, richest)[".glb"])
    assert roots[0] == "table_top" and len(roots) == count  # ...but still in the downloads
    value, *_ = client.predict([0], api_name="/isolate")
    assert [c == "" for c in value["colors"]] == [k != 0 for k in range(count)]
    value, *_ = client.predict([], api_name="/show_all")
    assert all(value["colors"])

    # the slider leaves an edited list alone; re-cut brings the automatic parts, undo the edits
    other = next(s for s in (0.0, 2.0) if s != richest)
    value, still, *_ = client.predict(other, api_name="/set_scale")
    assert still == count and value["names"][0] == "table top"
    value, *_, note = client.predict(other, api_name="/recut")
    assert value["names"][0] is None and not value["edited"] and "automatic parts" in note
    value, back, *_ = client.predict(api_name="/undo")
    assert back == count and value["names"][0] == "table top"
    assert not np.array_equal(labels_of(value), start)


def test_refused_edits_say_why_and_change_nothing(app, client, richest):
    before = client.predict(richest, api_name="/set_scale")[0]
    for args, api, says in [(([0],), "/merge", "at least two"), (([], "lid"), "/rename", "exactly one part"),
                            (([0], "blue"), "/recolor", "not a color"), (([99],), "/delete", "no part 99"),
                            (([],), "/delete", "Pick the parts"), ((), "/add_selection", "Nothing is selected"),
                            ((["leg"],), "/hide", "not a part number"), (([0], "x" * 81), "/rename", "keep it to")]:
        with pytest.raises(AppError, match=says):
            client.predict(*args, api_name=api)
    after = client.predict(richest, api_name="/set_scale")[0]
    assert after["labels"] == before["labels"] and not after["edited"]


def test_edits_stay_in_their_session(app, client):
    other = Client(app.url, verbose=False)
    other.predict(handle_file(TABLE), api_name="/open_model")
    n = other.predict(0.0, api_name="/set_scale")[1]
    client.predict(0.0, api_name="/set_scale")
    client.predict([0, 1], api_name="/merge")
    assert other.predict(0.0, api_name="/set_scale")[1] == n


def test_split_and_rename_follow_the_faces(app):
    session, work = open_here(app.handlers)
    item = app.handlers.store.get(session.key)
    whole = np.ones(app.asset.n_faces, bool)
    finer, scale = split_labels(item, whole)
    assert len(np.unique(finer)) >= 2 and 0 <= scale <= 2
    pieces, counts = np.unique(finer, return_counts=True)
    assert counts.min() >= 0.02 * app.asset.n_faces  # no splinters
    named = work.parts.labels.copy()
    work.parts.delete([0])  # ids move down by one
    assert rename_by_faces(work, named, 1, "leg") == 0 and work.parts.names[0] == "leg"
    work.parts.merge([0, 1])
    assert rename_by_faces(work, named, 2, "gone") is None  # that part is not there any more


def test_a_fresh_list_follows_the_slider(app):
    session, work = open_here(app.handlers)
    item = app.handlers.store.get(session.key)
    work = new_workbench(item, 0.0)
    assert work.following and work.scale == 0.0
    app.handlers.editing.set_scale(session, work, 2.0)
    assert np.array_equal(work.parts.labels, item.result(2.0)["labels"]) and not work.parts.can_undo


# ------------------------------------------------------------------ naming

@pytest.fixture
def naming_server(app, client, richest, tmp_path, monkeypatch):
    """A fake LLM that knows the parts of ``client``'s list (by what each part's
    highlight looks like from the view the namer picks), and the app pointed at it."""
    value = client.predict(richest, api_name="/set_scale")[0]
    labels = labels_of(value)
    item = app.handlers.store.get(app.handlers.engine.cache_key(app.asset))
    views = CanonicalViews(item.naming_views(), labels)
    renderer = Renderer(app.asset)
    names = {}
    for p in range(int(labels.max()) + 1):
        face = renderer.render(views.camera(p)).face
        names[f"piece {chr(97 + p)}"] = (face >= 0) & (labels[np.maximum(face, 0)] == p)
    settings = dataclasses.replace(app.handlers.engine.settings, openai_base_url=None,
                                   cache_dir=str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeLLM(part_masks=names, echo_key=KEY) as fake:
        monkeypatch.setattr(app.handlers.engine, "settings", replace(settings, openai_base_url=fake.base_url))
        yield fake, labels, list(names)


def test_naming_streams_names_into_the_list_and_the_downloads(app, client, richest, naming_server):
    fake, labels, expected = naming_server
    # fail a part whose highlight no other part shares (the legs of a
    # symmetric table look alike from their own best views)
    masks = fake.part_masks
    k = next(i for i, name in enumerate(expected)
             if all(iou(masks[name], masks[other]) < 0.9 for other in expected if other != name))
    fake.part_modes = {expected[k]: "unauthorized"}  # its error echoes part of the key
    job = client.submit([], api_name="/name_parts")
    value, n, table, picker, note, status = job.result(timeout=120)
    steps = job.outputs()
    assert len(steps) >= n + 1, "one update per name as it arrives"
    counts = [sum(bool(x) for x in step[0]["names"]) for step in steps]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == n - 1
    names = value["names"]
    assert names[k] is None and "Retry 1 failed part" in status and "refused the API key" in table
    # every other part got the name of a part that looks the same from its view
    assert all(iou(masks[names[i]], masks[expected[i]]) >= 0.9 for i in range(n) if i != k)
    assert KEY not in json.dumps(steps) and KEY[8:14] not in json.dumps(steps)

    # retry asks about the failed part only
    fake.part_modes = {}
    asked = len(fake.part_requests())
    value, *_, status = client.predict([], api_name="/name_parts")
    assert len(fake.part_requests()) == asked + 1 and value["names"][k] == expected[k]
    assert status.startswith("Named 1 of 1")
    roots = glb_roots(export(client, richest)[".glb"])
    assert roots == part_names(n, value["names"])  # alike legs share a name: made unique
    assert all(root.startswith(name.replace(" ", "_")) for root, name in zip(roots, value["names"]))

    # a name is edited like any other, and undone
    value, *_ = client.predict([0], "lid", api_name="/rename")
    assert value["names"][0] == "lid" and glb_roots(export(client, richest)[".glb"])[0] == "lid"
    assert client.predict(api_name="/undo")[0]["names"][0] == expected[0]

    # everything named: nothing to ask
    *_, status = client.predict([], api_name="/name_parts")
    assert "Every part has a name" in status


def test_naming_without_a_key_says_how_to_enable_it(app, client, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(app.handlers.engine, "settings",
                        replace(app.handlers.engine.settings, openai_base_url=None))
    value, *_, status = client.predict([], api_name="/name_parts")
    assert "OPENAI_API_KEY" in status and "OPENAI_BASE_URL" in status
    assert not any(value["names"]) and not value["edited"]


def test_a_naming_run_that_breaks_leaves_the_parts(app, client, richest, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setattr("webapp.names.name_parts", broken)
    before = client.predict(richest, api_name="/set_scale")[0]
    value, *_, status = client.predict([], api_name="/name_parts")
    assert "Naming failed on the server" in status and "RuntimeError" not in status
    assert value["labels"] == before["labels"]
    assert client.predict(1.0, api_name="/set_scale")[1] >= 1
