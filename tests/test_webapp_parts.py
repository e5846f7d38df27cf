"""The web app's part work against an app launched here (real engine, fast
config): click to select and the scale growing the selection, mask prompts,
part-list edits with undo and redo reaching the downloads (an edit clears the
selection), and naming through a real chat-completions server on 127.0.0.1
(tests/fake_llm.py)."""

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
from tests.e2e.launch import ASSETS, call, named, parts_labels, running_app, shared_cache_dir
from webapp.masking import PAINT_RESOLUTION
from webapp.names import naming_state
from webapp.viewer import viewer_camera
from webapp.work import new_workbench, rename_by_faces, split_labels

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")

TABLE = os.path.join(ASSETS, "table.glb")
KEY = "sk-test-Zq8HvP3kLm2Wx9TnB4rY"


def decode(b64: str, dtype) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=np.dtype(dtype).newbyteorder("<"))


def selected_of(value, n_faces: int) -> np.ndarray:
    """The viewer value's fixed selection (a painted mask's part)."""
    if value["selection"] is None:
        return np.zeros(n_faces, bool)
    return np.unpackbits(decode(value["selection"]["bits"], "u1"), bitorder="little")[:n_faces].astype(bool)


def glb_roots(path) -> list[str]:
    data = open(path, "rb").read()
    length, _ = struct.unpack_from("<II", data, 12)
    gltf = json.loads(data[20:20 + length])
    return [gltf["nodes"][i]["name"] for i in gltf["scenes"][gltf.get("scene", 0)]["nodes"]]


def export(client, scale) -> dict:
    files = client.predict(scale, api_name="/export")
    return {os.path.splitext(f)[1]: f for f in files}


def api(app, client, name, *args) -> dict:
    return call(app.demo, client, name, *args)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    cache = shared_cache_dir(tmp_path_factory)
    with running_app(cache, str(tmp_path_factory.mktemp("sessions"))) as (demo, url):
        yield types.SimpleNamespace(demo=demo, url=url, parts=demo.partscope, page=demo.partscope.page,
                                    asset=load_asset(TABLE))


@pytest.fixture(scope="module")
def richest(app):
    """The ladder scale with the most parts (the table's legs apart)."""
    client = Client(app.url, verbose=False)
    client.predict([handle_file(TABLE)], api_name="/open_model")
    item = table_item(app)
    counts = {s: len(item.result(s)["faces"]) for s in item.scales}
    best = max(counts, key=lambda s: (counts[s], -s))
    assert counts[best] >= 3, f"the table needs at least three parts at some scale: {counts}"
    return round(float(best), 1)


@pytest.fixture
def client(app, richest):
    """A fresh session with the table open at the richest scale."""
    c = Client(app.url, verbose=False)
    c.predict([handle_file(TABLE)], api_name="/open_model")
    c.predict(richest, api_name="/set_scale")
    return c


def table_item(app):
    return app.parts.store.get(app.parts.engine.cache_key(app.asset))


def open_here(app, path=TABLE):
    """(session, work) of the table opened by the real handler, in this process."""
    *_, last = app.parts.fitting.open_model(path, request=None)
    return last[app.page.session], last[app.page.work]


# ------------------------------------------------------------------ click to select

def test_a_click_selects_and_the_scale_grows_the_selection(app):
    editing, p = app.parts.editing, app.page
    session, work = open_here(app)
    item = table_item(app)
    scales = [round(float(s), 1) for s in item.scales]
    rng = np.random.default_rng(0)
    for face in rng.choice(app.asset.n_faces, 12, replace=False):
        out = editing.click(session, work, scales[0], [], int(face))
        work, value = out[p.work], out[p.view]
        part = int(parts_labels(value)[face])
        assert out[p.targets]["value"] == [part] and f"Face {face:,} is in **part {part}**" in out[p.picked]
        assert value["selection"] == {"face": int(face)}  # the page finds its part at any scale itself
        before = work.selection.copy()
        assert before[face] and np.array_equal(before, parts_labels(value) == part)  # the part itself
        for s in scales[1:]:
            out = editing.set_scale(session, work, s)
            now = work.selection
            assert now[face] and (now | before).sum() == now.sum(), f"face {face}: shrank from {scales[0]} to {s}"
            assert np.array_equal(now, item.result(s)["labels"] == item.result(s)["labels"][face])
            assert f"at scale {s:.1f}" in out[p.picked]
            before = now.copy()
        editing.set_scale(session, work, scales[0])


def test_shift_click_adds_and_removes_parts_to_edit(app):
    editing, p = app.parts.editing, app.page
    session, work = open_here(app)
    labels = work.parts.labels
    a, b = (int(np.flatnonzero(labels == k)[0]) for k in (0, 1))
    out = editing.click(session, work, work.scale, [], a)
    picked = out[p.targets]["value"]
    out = editing.click(session, work, work.scale, picked, b, shift=True)
    assert out[p.targets]["value"] == [0, 1] and out[p.view]["selection"] == {"face": a}  # the selection stays
    out = editing.click(session, work, work.scale, [0, 1], a, shift=True)
    assert out[p.targets]["value"] == [1]


# ------------------------------------------------------------------ mask prompt

def paint_file(folder, mask: np.ndarray) -> str:
    """An ImageEditor layer: red where ``mask`` (H, W) bool, transparent elsewhere."""
    layer = np.zeros(mask.shape + (4,), np.uint8)
    layer[mask] = (255, 59, 48, 255)
    path = os.path.join(folder, "paint.png")
    Image.fromarray(layer).save(path)
    return path


def reference_view(app, index: int):
    item = table_item(app)
    cfg = replace(item.field.config.render, resolution=PAINT_RESOLUTION)
    camera = reference_cameras(cfg, float(np.linalg.norm(app.asset.mesh.extents)))[index]
    return Renderer(app.asset).render(camera)


def paint_a_part(app, client, folder, scale, index=2) -> tuple:
    """Paint a blob on the largest part seen in reference view ``index`` and ask
    for the 3D part it means: (mask_part's outputs, the view, the paint, the
    part's id at ``scale``, its labels)."""
    editor = api(app, client, "mask_view", index)["editor"]
    view = reference_view(app, index)
    seen = view.face >= 0
    api(app, client, "set_scale", scale)
    labels = table_item(app).result(scale)["labels"]
    seen_part = np.where(seen, labels[np.maximum(view.face, 0)], -1)
    target = np.bincount(seen_part[seen]).argmax()
    rows, cols = np.nonzero(seen_part == target)
    r0, c0 = int(np.median(rows)), int(np.median(cols))
    paint = np.zeros_like(seen)
    paint[r0 - 12:r0 + 12, c0 - 12:c0 + 12] = True
    paint &= seen_part == target
    layer = handle_file(paint_file(str(folder), paint))
    out = api(app, client, "mask_part",
              {"background": handle_file(editor["background"]), "layers": [layer], "composite": None, "id": None})
    return out, view, paint, target, labels


def test_a_painted_mask_gives_the_part_under_it(app, client, richest, tmp_path):
    shown = api(app, client, "mask_view", 2)
    editor, status = shown["editor"], shown["mask_status"]
    assert "view 3" in status and shown["mask_result"] is None
    background = np.asarray(Image.open(editor["background"]))
    assert background.shape[:2] == (PAINT_RESOLUTION, PAINT_RESOLUTION)
    view = reference_view(app, 2)
    seen = view.face >= 0
    assert np.array_equal(background[..., :3].min(axis=2) < 250, seen) or (
        np.mean((background[..., :3].min(axis=2) < 250) == seen) > 0.99)  # it is that view

    out, view, paint, target, labels = paint_a_part(app, client, tmp_path, richest)
    value, image, status, picked = out["view"], out["mask_result"], out["mask_status"], out["picked"]
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

    # the selection becomes a part of its own: exactly its faces, one label
    value = api(app, client, "add_selection")["view"]
    after = parts_labels(value)
    assert value["selection"] is None and np.array_equal(after == after[selected][0], selected)


def test_bad_masks_get_sentences(app, client, richest, tmp_path):
    editor = api(app, client, "mask_view", 0)["editor"]
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

def edit(app, client, name, *args) -> tuple:
    """(viewer value, its part count, all outputs) of an edit through the API."""
    out = api(app, client, name, *args)
    return out["view"], out["view"]["parts"]["n_parts"], out


def test_edits_undo_and_redo_reach_the_downloads(app, client, richest, tmp_path):
    start = table_item(app).result(richest)["labels"]
    n = int(start.max()) + 1

    assert paint_a_part(app, client, tmp_path, richest)[0]["view"]["selection"]  # a selection: an edit clears it
    value, merged, out = edit(app, client, "merge", [0, 1])
    assert merged == n - 1 and out["targets"]["value"] == [0] and "Edited list" in out["note"] and value["edited"]
    assert value["selection"] is None and out["picked"] == ""
    merged_labels = parts_labels(value)
    assert np.array_equal(merged_labels == 0, (start == 0) | (start == 1))  # one part now, in one color
    assert len(value["parts"]["colors"]) == n - 1
    files = export(client, richest)
    assert len(glb_roots(files[".glb"])) == n - 1 and "_edited_" in os.path.basename(files[".glb"])

    assert edit(app, client, "undo")[1] == n
    assert len(glb_roots(export(client, richest)[".glb"])) == n
    assert edit(app, client, "redo")[1] == n - 1

    value, count, _ = edit(app, client, "split", [0])
    assert count > n - 1  # the merged part comes apart again
    value, count, _ = edit(app, client, "delete", [count - 1])
    deleted = parts_labels(value) < 0
    assert deleted.any() and count == len(value["parts"]["faces"])
    table = json.load(open(export(client, richest)[".json"]))
    assert table["n_deleted"] == deleted.sum() and (np.array(table["face_labels"]) == -1).sum() == deleted.sum()

    value, *_ = edit(app, client, "rename", [0], "table top")
    value, *_ = edit(app, client, "recolor", [0], "#112233")
    assert value["parts"]["names"][0] == "table top" and value["parts"]["colors"][0] == "#112233"
    value, *_ = edit(app, client, "hide", [1])
    assert value["parts"]["colors"][1] == ""  # hidden in the viewer...
    roots = glb_roots(export(client, richest)[".glb"])
    assert roots[0] == "table_top" and len(roots) == count  # ...but still in the downloads
    value, *_ = edit(app, client, "isolate", [0])
    assert [c == "" for c in value["parts"]["colors"]] == [k != 0 for k in range(count)]
    value, *_ = edit(app, client, "show_all", [])
    assert all(value["parts"]["colors"])

    # the scale leaves an edited list alone; re-cut brings the automatic parts, undo the edits
    other = next(s for s in (0.0, 2.0) if s != richest)
    assert api(app, client, "set_scale", other)["table"].count("<tr data-part=") == count
    value, _, out = edit(app, client, "recut", other)
    assert not value["edited"] and value["parts"]["names"][0] is None and "automatic parts" in out["note"]
    value, back, _ = edit(app, client, "undo")
    assert back == count and value["parts"]["names"][0] == "table top"
    assert not np.array_equal(parts_labels(value), start)


def test_refused_edits_say_why_and_change_nothing(app, client, richest):
    before = table_item(app).result(richest)["labels"]
    for args, name, says in [(([0],), "merge", "at least two"), (([], "lid"), "rename", "exactly one part"),
                             (([0], "blue"), "recolor", "not a color"), (([99],), "delete", "no part 99"),
                             (([],), "delete", "Pick the parts"), ((), "add_selection", "Nothing is selected"),
                             ((["leg"],), "hide", "not a part number"), (([0], "x" * 81), "rename", "keep it to")]:
        with pytest.raises(AppError, match=says):
            client.predict(*args, api_name=f"/{name}")
    value, *_ = edit(app, client, "show_all", [])
    assert np.array_equal(parts_labels(value), before) and not value["edited"]


def test_edits_stay_in_their_session(app, client):
    other = Client(app.url, verbose=False)
    other.predict([handle_file(TABLE)], api_name="/open_model")
    n = api(app, other, "set_scale", 0.0)["table"]
    api(app, client, "set_scale", 0.0)
    api(app, client, "merge", [0, 1])
    assert api(app, other, "set_scale", 0.0)["table"] == n


def test_split_and_rename_follow_the_faces(app):
    session, work = open_here(app)
    item = table_item(app)
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
    session, work = open_here(app)
    item = table_item(app)
    work = new_workbench(item, 0.0)
    assert work.following and work.scale == 0.0
    app.parts.editing.set_scale(session, work, 2.0)
    assert np.array_equal(work.parts.labels, item.result(2.0)["labels"]) and not work.parts.can_undo


def test_the_models_own_names_show_and_reach_the_downloads(app, client):
    """table.glb names its objects (top, leg_1 ... leg_4): at the scale
    whose parts are most of them, each part that is one (nine tenths of its
    area that object's, and of the object's area in it) shows the object's
    name, greyed in the table, in the viewer's tip, and the downloads carry
    it (until 2026-12-06 'part_00' ...)."""
    item = table_item(app)
    node, area = np.array(app.asset.node_names)[app.asset.face_node], app.asset.mesh.area_faces

    def objects(labels) -> list:
        out = []
        for p in range(int(labels.max()) + 1):
            shares = {name: area[(labels == p) & (node == name)].sum() for name in set(app.asset.node_names)}
            top = max(shares, key=shares.get)
            own = shares[top] >= 0.9 * area[labels == p].sum() and shares[top] >= 0.9 * area[node == top].sum()
            out.append(top if own else None)
        return out

    scale = max(item.scales, key=lambda s: sum(map(bool, objects(item.result(s)["labels"]))))
    expected = objects(item.result(scale)["labels"])
    assert sum(map(bool, expected)) >= 2, expected
    table = api(app, client, "set_scale", float(scale))["table"]
    assert [name for name in expected if name and f"'>{name}</span>" in table] == [name for name in expected if name]
    assert item.entry(scale)["names"] == expected
    roots = glb_roots(export(client, float(scale))[".glb"])
    assert roots == [name or f"part_{p:02d}" for p, name in enumerate(expected)]


# ------------------------------------------------------------------ naming

@pytest.fixture
def naming_server(app, client, richest, tmp_path, monkeypatch):
    """A fake LLM that knows the parts of ``client``'s list (by what each part's
    highlight looks like from the view the namer picks), and the app pointed at it."""
    api(app, client, "set_scale", richest)
    item = table_item(app)
    labels = item.result(richest)["labels"]
    views = CanonicalViews(item.naming_views(), labels)
    renderer = Renderer(app.asset)
    names = {}
    for p in range(int(labels.max()) + 1):
        face = renderer.render(views.camera(p)).face
        names[f"piece {chr(97 + p)}"] = (face >= 0) & (labels[np.maximum(face, 0)] == p)
    settings = dataclasses.replace(app.parts.engine.settings, openai_base_url=None,
                                   cache_dir=str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeLLM(part_masks=names, echo_key=KEY) as fake:
        monkeypatch.setattr(app.parts.engine, "settings", replace(settings, openai_base_url=fake.base_url))
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
    out = named(app.demo, "name_parts", job.result(timeout=120))
    value, status, table = out["view"], out["naming_status"], out["table"]
    n = value["parts"]["n_parts"]
    steps = [named(app.demo, "name_parts", step) for step in job.outputs()]
    assert len(steps) >= n + 1, "one update per name as it arrives"
    counts = [sum(bool(x) for x in step["view"]["parts"]["names"]) for step in steps]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == n - 1
    names = value["parts"]["names"]
    assert names[k] is None and "Retry 1 failed part" in status and "refused the API key" in table
    # every other part got the name of a part that looks the same from its view
    assert all(iou(masks[names[i]], masks[expected[i]]) >= 0.9 for i in range(n) if i != k)
    assert KEY not in json.dumps(steps) and KEY[8:14] not in json.dumps(steps)

    # retry asks about the failed part only
    fake.part_modes = {}
    asked = len(fake.part_requests())
    out = api(app, client, "name_parts", [])
    names = out["view"]["parts"]["names"]
    assert len(fake.part_requests()) == asked + 1 and names[k] == expected[k]
    assert out["naming_status"].startswith("Named 1 of 1")
    roots = glb_roots(export(client, richest)[".glb"])
    assert roots == part_names(n, names)  # alike legs share a name: made unique
    assert all(root.startswith(name.replace(" ", "_")) for root, name in zip(roots, names))

    # a name is edited like any other, and undone
    assert edit(app, client, "rename", [0], "lid")[0]["parts"]["names"][0] == "lid"
    assert glb_roots(export(client, richest)[".glb"])[0] == "lid"
    assert edit(app, client, "undo")[0]["parts"]["names"][0] == expected[0]

    # everything named: nothing to ask
    assert "Every part has a name" in api(app, client, "name_parts", [])["naming_status"]


def test_naming_without_a_key_says_how_to_enable_it(app, client, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(app.parts.engine, "settings",
                        replace(app.parts.engine.settings, openai_base_url=None))
    out = api(app, client, "name_parts", [])
    assert "OPENAI_API_KEY" in out["naming_status"] and "OPENAI_BASE_URL" in out["naming_status"]
    assert not any(out["view"]["parts"]["names"]) and not out["view"]["edited"]
    # and the page says so before anyone presses the button
    said = naming_state(app.page, app.parts.engine.settings)
    assert said[app.page.name_parts]["interactive"] is False and "OPENAI_API_KEY" in said[app.page.naming_status]


def test_a_naming_run_that_breaks_leaves_the_parts(app, client, richest, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setattr("webapp.names.name_parts", broken)
    api(app, client, "set_scale", richest)
    out = api(app, client, "name_parts", [])
    assert "Naming failed on the server" in out["naming_status"] and "RuntimeError" not in out["naming_status"]
    assert np.array_equal(parts_labels(out["view"]), table_item(app).result(richest)["labels"])
    assert api(app, client, "set_scale", 1.0)["table"]
