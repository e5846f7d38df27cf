"""The web app through its public API (gradio_client) against an app launched
here with the real engine on a fast config: upload, fit, slider, downloads,
bad input, cache across restarts, sessions that do not stall or see each
other's failures. Plus the pieces with no server: the store, the payloads,
the session folders."""

import base64
import json
import os
import shutil
import struct
import threading
import time
import types
import zipfile

import numpy as np
import pytest
import trimesh
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from benchmarks.corpus import zero_area_obj, zipped
from core.config import default_scales
from core.loading import load_asset
from tests.e2e.launch import ASSETS, running_app, shared_cache_dir
from webapp.handlers import Handlers, Session
from webapp.panels import parts_table
from webapp.store import FieldStore, Fitted, ladder_order
from webapp.viewer import mesh_payload

# gradio's queue calls pandas in ways pandas 3 deprecates; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")

TABLE = os.path.join(ASSETS, "table.glb")
MUG = os.path.join(ASSETS, "mug.glb")
LIMIT_MB = 0.25


def decode(b64: str, dtype) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=np.dtype(dtype).newbyteorder("<"))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    cache = shared_cache_dir(tmp_path_factory)
    sessions = tmp_path_factory.mktemp("sessions")
    with running_app(cache, str(sessions), max_upload_mb=LIMIT_MB) as (demo, url):
        yield types.SimpleNamespace(demo=demo, url=url, cache=cache, sessions=sessions)


@pytest.fixture(scope="module")
def fitted(app):
    """A client whose session has the table open (fitted once for the module)."""
    client = Client(app.url, verbose=False)
    t0 = time.perf_counter()
    job = client.submit(handle_file(TABLE), api_name="/open_model")
    out = job.result(timeout=600)
    return types.SimpleNamespace(client=client, out=out, steps=job.outputs(), seconds=time.perf_counter() - t0)


# ------------------------------------------------------------------ upload and fit

def test_open_shows_parts_of_every_face(fitted):
    viewer, n_parts, scale, table, plot, status, downloads = fitted.out
    asset = load_asset(TABLE)
    if "cache" not in status:  # first the model alone (it shows while it is fitted), then its parts
        assert fitted.steps[0][0] == {"key": asset.digest} and "Fitting" in fitted.steps[0][5]
    assert viewer["key"] == asset.digest
    labels = decode(viewer["labels"], viewer["dtype"])
    assert len(labels) == asset.n_faces
    assert labels.min() == 0 and len(np.unique(labels)) == n_parts == viewer["n_parts"]
    assert len(viewer["colors"]) == len(viewer["faces"]) == len(viewer["share"]) == n_parts
    assert sum(viewer["faces"]) == asset.n_faces
    assert sum(viewer["share"]) == pytest.approx(1.0, abs=1e-3)
    assert scale == pytest.approx(0.5)
    assert table.count("<tr data-part=") == n_parts
    assert "table.glb" in status and ("Fitted" in status or "cache" in status)
    assert downloads is None


def test_first_parts_from_the_masks_show_while_the_field_is_fitted(fitted):
    status = fitted.out[5]
    if "cache" in status:
        pytest.skip("the table came from the fit cache: there was no fit to wait for")
    asset = load_asset(TABLE)
    firsts = [i for i, step in enumerate(fitted.steps) if "First parts" in str(step[5])]
    assert firsts and firsts[0] < len(fitted.steps) - 1, [str(s[5])[:60] for s in fitted.steps]
    viewer, n_parts = fitted.steps[firsts[0]][:2]
    labels = decode(viewer["labels"], viewer["dtype"])
    assert viewer["key"] == asset.digest and len(labels) == asset.n_faces
    assert len(np.unique(labels)) == n_parts == viewer["n_parts"] >= 2


def test_the_viewer_gets_the_geometry_by_digest_only(app, fitted):
    handlers = app.demo.partscope
    asset = load_asset(TABLE)
    mesh = handlers.viewer_mesh(asset.digest)
    assert mesh["key"] == asset.digest and mesh["n_faces"] == asset.n_faces
    assert np.array_equal(decode(mesh["faces"], "u4").reshape(-1, 3), asset.mesh.faces)
    assert handlers.viewer_mesh("0" * 32) is None and handlers.viewer_mesh(["../etc"]) is None


def test_slider_recolors_and_part_count_changes(fitted):
    counts = {}
    for s in default_scales():
        viewer, n_parts, table, *_ = fitted.client.predict(float(s), api_name="/set_scale")
        labels = decode(viewer["labels"], viewer["dtype"])
        assert viewer["scale"] == pytest.approx(float(s))
        assert len(np.unique(labels)) == n_parts == viewer["n_parts"]
        counts[round(float(s), 1)] = n_parts
    assert len(set(counts.values())) > 1, f"the part count never changes over the slider: {counts}"
    assert counts[2.0] <= counts[0.0]


def test_slider_snaps_to_the_ladder(fitted):
    a = fitted.client.predict(0.94, api_name="/set_scale")[0]
    b = fitted.client.predict(0.9, api_name="/set_scale")[0]
    assert a["scale"] == pytest.approx(0.9) and a["labels"] == b["labels"]


def test_downloads_hold_the_shown_parts(fitted):
    viewer, n_parts, *_ = fitted.client.predict(0.0, api_name="/set_scale")
    labels = decode(viewer["labels"], viewer["dtype"])
    files = fitted.client.predict(0.0, api_name="/export")
    by_ext = {os.path.splitext(f)[1]: f for f in files}
    assert set(by_ext) == {".glb", ".zip", ".json", ".npy"}
    gltf = _glb_json(by_ext[".glb"])
    roots = [gltf["nodes"][i]["name"] for i in gltf["scenes"][gltf.get("scene", 0)]["nodes"]]
    assert roots == [f"part_{k:02d}" for k in range(n_parts)]
    with zipfile.ZipFile(by_ext[".zip"]) as z:
        assert len([n for n in z.namelist() if n.endswith(".glb")]) == n_parts
    table = json.load(open(by_ext[".json"]))
    assert table["n_parts"] == n_parts and table["face_labels"] == labels.tolist()
    assert np.array_equal(np.load(by_ext[".npy"]), labels)


def _glb_json(path) -> dict:
    data = open(path, "rb").read()
    length, kind = struct.unpack_from("<II", data, 12)
    assert kind == 0x4E4F534A
    return json.loads(data[20:20 + length])


# ------------------------------------------------------------------ cache

def test_same_content_again_is_ready_at_once(app, fitted, tmp_path):
    renamed = tmp_path / "another name.glb"
    shutil.copyfile(TABLE, renamed)
    client = Client(app.url, verbose=False)
    t0 = time.perf_counter()
    viewer, n_parts, *_, status, _ = client.predict(handle_file(str(renamed)), api_name="/open_model")
    assert "cache" in status and time.perf_counter() - t0 < 5
    assert viewer["labels"] == fitted.out[0]["labels"]


def test_cache_survives_a_restart(app, fitted, tmp_path):
    with running_app(app.cache, str(tmp_path)) as (_, url):
        client = Client(url, verbose=False)
        t0 = time.perf_counter()
        viewer, n_parts, *_, status, _ = client.predict(handle_file(TABLE), api_name="/open_model")
        assert "cache" in status and time.perf_counter() - t0 < 5
        assert viewer["labels"] == fitted.out[0]["labels"]


# ------------------------------------------------------------------ bad input

def _bad_files(folder):
    files = {}
    files["corrupt.glb"] = b"glTF" + bytes(range(256)) * 2
    files["model.fbx"] = b"Kaydara FBX Binary  \x00"
    files["empty.gltf"] = b'{"asset": {"version": "2.0"}, "scenes": [{"nodes": []}], "scene": 0}'
    cloud = trimesh.PointCloud(np.random.default_rng(0).random((300, 3)))
    files["points.ply"] = cloud.export(file_type="ply")
    big = trimesh.creation.icosphere(subdivisions=5).export(file_type="off")
    files["big.off"] = big.encode() if isinstance(big, str) else big
    files["flat.obj"] = zero_area_obj()
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    assert os.path.getsize(paths["big.off"]) > LIMIT_MB * 2**20
    return paths


@pytest.mark.parametrize("name, says", [
    ("corrupt.glb", "'corrupt.glb' is not valid GLB: its header is damaged."),
    ("model.fbx", "'model.fbx' is not a format PartScope reads: use GLB, glTF, OBJ, PLY, STL or OFF."),
    ("empty.gltf", "'empty.gltf' holds no faces (no geometry): export a model with its meshes."),
    ("points.ply", "'points.ply' is a point cloud (300 points, no faces): PartScope segments surface meshes; "
                   "export the model with its faces."),
    ("big.off", f"'big.off' is 0.7 MB; PartScope takes files up to {LIMIT_MB:g} MB. Simplify or compress the model "
                "and try again."),
    ("flat.obj", "'flat.obj' has only faces of zero area (flat as a line or a point): it has no surface to "
                 "segment; repair or re-export the mesh."),
])
def test_a_refused_file_clears_the_old_model_and_says_why(app, fitted, tmp_path, name, says):
    """A session showing the table uploads a bad file: the table goes, the
    sentence stands where the status is, and every session goes on."""
    path = _bad_files(tmp_path)[name]
    client = Client(app.url, verbose=False)
    assert client.predict(handle_file(TABLE), api_name="/open_model")[1] >= 1  # the table, from the cache
    view, n_parts, _, _, plot, status, downloads = client.predict(handle_file(str(path)), api_name="/open_model")
    assert (view, n_parts, plot, downloads) == (None,) * 4
    assert status == f"**This file cannot be used.** {says}"
    with pytest.raises(AppError, match="Open a model first"):
        client.predict(1.0, api_name="/export")
    assert fitted.client.predict(1.0, api_name="/set_scale")[1] >= 1


def test_clearing_the_upload_box_clears_the_view(app, fitted):
    client = Client(app.url, verbose=False)
    assert client.predict(handle_file(TABLE), api_name="/open_model")[1] >= 1
    view, n_parts, _, _, plot, status, _ = client.predict(None, api_name="/open_model")
    assert (view, n_parts, plot) == (None,) * 3 and status == "No model yet."


def test_a_zip_of_the_model_opens_like_the_model(app, fitted, tmp_path):
    path = tmp_path / "table.zip"
    with open(TABLE, "rb") as f:
        path.write_bytes(zipped({"table.glb": f.read()}, folder="table/"))
    out = Client(app.url, verbose=False).predict(handle_file(str(path)), api_name="/open_model")
    assert out[1] == fitted.out[1] and "Ready from the cache" in out[5]


# ------------------------------------------------------------------ sessions

def test_a_fit_does_not_stall_other_sessions_sliders(app, fitted, monkeypatch):
    engine = app.demo.partscope.engine
    real_fit = engine.fit

    def slow_fit(asset, **kw):  # a fit that surely outlasts the slider moves below
        time.sleep(4.0)
        return real_fit(asset, **kw)

    monkeypatch.setattr(engine, "fit", slow_fit)
    other = Client(app.url, verbose=False)
    job = other.submit(handle_file(MUG), api_name="/open_model")  # not cached: a real fit
    time.sleep(1.0)
    waits = []
    for s in (0.0, 1.0, 2.0, 0.5, 1.5):
        t0 = time.perf_counter()
        fitted.client.predict(s, api_name="/set_scale")
        waits.append(time.perf_counter() - t0)
    still_fitting = not job.done()
    viewer, n_parts, *_ = job.result(timeout=600)
    assert still_fitting, "the other fit ended before the slider moves; the test proves nothing"
    assert max(waits) < 3.0, waits
    assert viewer["key"] == load_asset(MUG).digest and n_parts >= 1


def test_the_same_new_model_from_two_sessions_is_fitted_once(app, monkeypatch):
    engine = app.demo.partscope.engine
    fits = []
    real_fit = engine.fit
    monkeypatch.setattr(engine, "fit", lambda asset, **kw: fits.append(asset.name) or real_fit(asset, **kw))
    chair = os.path.join(ASSETS, "chair.glb")
    a, b = Client(app.url, verbose=False), Client(app.url, verbose=False)
    jobs = [a.submit(handle_file(chair), api_name="/open_model"), b.submit(handle_file(chair), api_name="/open_model")]
    outs = [job.result(timeout=600) for job in jobs]
    assert fits == ["chair.glb"]
    assert outs[0][0]["labels"] == outs[1][0]["labels"]
    assert any("another session" in out[5] for out in outs)


def test_an_object_dropped_from_memory_comes_back_from_disk(app, fitted):
    handlers = app.demo.partscope
    key = handlers.engine.cache_key(load_asset(TABLE))
    before = fitted.client.predict(1.0, api_name="/set_scale")[0]
    handlers.store.forget(key)
    assert handlers.store.get(key) is None
    after = fitted.client.predict(1.0, api_name="/set_scale")[0]
    assert after["labels"] == before["labels"] and handlers.store.get(key) is not None


def test_sessions_see_their_own_objects(app, fitted):
    other = Client(app.url, verbose=False)
    with pytest.raises(AppError):
        other.predict(0.5, api_name="/export")  # nothing opened in this session
    assert fitted.client.predict(0.5, api_name="/set_scale")[0]["key"] == load_asset(TABLE).digest


# ------------------------------------------------------------------ no server

class _CountingField:
    """Stands in for a PartField: labels = x bands, one per 0.5 of scale below 2."""

    def __init__(self, asset, delay=0.0):
        self.asset, self.delay, self.calls = asset, delay, []
        self.cached_scales = []

    def parts(self, scale):
        self.calls.append(round(scale, 3))
        time.sleep(self.delay)
        x = self.asset.mesh.triangles_center[:, 0]
        n = max(1, 4 - int(scale // 0.5))
        return np.minimum((x - x.min()) / np.ptp(x) * n, n - 1).astype(np.int32)


def test_a_scale_is_computed_once_however_many_ask():
    asset = load_asset(TABLE)
    field = _CountingField(asset, delay=0.2)
    item = Fitted("k", asset, field)
    results = []
    threads = [threading.Thread(target=lambda: results.append(item.result(1.0))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # once, and alone: the first scale asked for anchors the colors
    assert field.calls == [1.0] and all(r is results[0] for r in results)
    assert item.result(1.04)["scale"] == 1.0 and field.calls == [1.0]


def test_colors_start_at_the_first_scale_shown_and_follow_parts_both_ways():
    asset = load_asset(TABLE)
    field = _CountingField(asset)
    item = Fitted("k", asset, field)
    anchor = item.result(1.0)  # 2 bands: the palette in order
    assert anchor["palette"].tolist() == [0, 1]
    finer = item.result(0.9)  # 3 bands: each of the 2 bands' largest piece keeps its color
    assert sorted(field.calls) == [0.9, 1.0] and sorted(finer["palette"].tolist()) == [0, 1, 2]
    coarse = item.result(2.0)  # 1 part: the color of its largest piece, through 1.1 ... 1.9
    assert sorted(field.calls) == [0.9] + [round(float(s), 3) for s in default_scales() if s >= 1.0]
    assert coarse["palette"].tolist()[0] in (0, 1)
    labels = anchor["labels"]
    largest = np.bincount(labels, weights=asset.mesh.area_faces).argmax()
    assert coarse["palette"].tolist() == [anchor["palette"][largest]]


def test_the_ladder_fills_in_behind_the_default_first():
    asset = load_asset(TABLE)
    field = _CountingField(asset)
    done = threading.Event()
    store = FieldStore(capacity=2, on_complete=lambda item: done.set())
    try:
        item = store.add(Fitted("k", asset, field))
        store.fill_ladder(item, 0.5)
        assert done.wait(10) and item.complete
        assert field.calls[0] == 0.5 and sorted(field.calls) == sorted(round(float(s), 3) for s in default_scales())
        assert item.counts()[0.0] == 4 and item.counts()[2.0] == 1
    finally:
        store.close()
    assert ladder_order(default_scales(), 0.5)[:3] == [0.5, 0.4, 0.6]


def test_colors_follow_the_parts_across_the_ladder():
    asset = load_asset(TABLE)
    item = Fitted("k", asset, _CountingField(asset))
    whole = item.result(2.0)
    assert len(whole["faces"]) == 1
    for fine, coarse in zip(item.scales[:-1], item.scales[1:]):
        a, b = item.result(fine), item.result(coarse)
        assert len(set(a["colors"])) == len(a["colors"])  # distinct at every scale
        # a finer part comes from the coarser part holding most of its area; the
        # largest finer part that comes from a coarser part wears its color
        overlap = np.zeros((len(a["faces"]), len(b["faces"])))
        np.add.at(overlap, (a["labels"], b["labels"]), item.area)
        parent = overlap.argmax(axis=1)
        size = overlap.sum(axis=1)
        for part in np.unique(parent):
            children = np.nonzero(parent == part)[0]
            assert a["colors"][children[np.argmax(size[children])]] == b["colors"][part]
    assert item.result(0.0)["colors"][0] == whole["colors"][0]


def test_the_slider_moves_the_first_parts_while_the_field_is_fitted(tmp_path):
    asset = load_asset(TABLE)
    store = FieldStore(capacity=1)
    handlers = Handlers(engine=None, cache=None, store=store, session_root=str(tmp_path), max_upload_mb=1,
                        default_scale=0.5)
    session = Session(key="k", digest=asset.digest, name="table.glb", path=TABLE, folder=str(tmp_path),
                      n_faces=asset.n_faces)
    request = types.SimpleNamespace(session_hash="s1")
    try:
        assert "labels" not in handlers.editing.set_scale(session, None, 0.0, request)[1]  # no parts yet
        handlers._previews["k"] = Fitted("k", asset, _CountingField(asset))
        for scale, parts in ((0.0, 4), (2.0, 1)):
            out = handlers.editing.set_scale(session, None, scale, request)
            viewer, n_parts = out[1], out[2]
            assert viewer["key"] == asset.digest and viewer["scale"] == scale and n_parts == parts
        assert handlers._wanted_scale["s1"] == 2.0  # where the field's parts will open
    finally:
        store.close()


def test_the_store_forgets_the_least_recently_used():
    asset = load_asset(TABLE)
    store = FieldStore(capacity=2)
    try:
        a, b, c = (Fitted(k, asset, _CountingField(asset)) for k in "abc")
        store.add(a), store.add(b)
        store.get("a")
        store.add(c)
        assert store.get("b") is None and b.evicted and store.get("a") is a and len(store) == 2
    finally:
        store.close()


def test_mesh_payload_round_trips():
    asset = load_asset(os.path.join(ASSETS, "toy_car.glb"))
    mesh = mesh_payload(asset)
    assert np.allclose(decode(mesh["positions"], "f4").reshape(-1, 3), asset.mesh.vertices, atol=1e-6)
    assert np.array_equal(decode(mesh["faces"], "u4").reshape(-1, 3), asset.mesh.faces)
    assert np.array_equal(decode(mesh["material"], "i2"), asset.face_material)
    assert decode(mesh["colors"], "u1").size == asset.n_faces * 12
    assert len(mesh["textures"]) == len(asset.textures) and mesh["textures"][0].startswith("data:image/")
    assert mesh["key"] == asset.digest and 0.5 < mesh["radius"] < 0.9


def test_session_folders_come_and_go(tmp_path):
    handlers = Handlers(engine=None, cache=None, store=None, session_root=str(tmp_path),
                        max_upload_mb=1, default_scale=0.5)
    request = types.SimpleNamespace(session_hash="abc/../def")
    handlers.start_session(request)
    folder = handlers.session_folder(request)
    assert os.path.isdir(folder) and os.path.dirname(folder) == str(tmp_path)
    handlers.end_session(request)
    assert not os.path.exists(folder)


def test_parts_table_escapes_names():
    result = {"faces": np.array([3, 1]), "share": np.array([0.75, 0.25]), "colors": ["#ff0000", "#00ff00"]}
    html = parts_table(result, names=["<b>lid</b>", None])
    assert "&lt;b&gt;lid&lt;/b&gt;" in html and html.count("<tr data-part=") == 2
    assert "75.0%" in html


def test_session_state_is_small():
    session = Session(key="k", digest="d", name="m.glb", path="/tmp/x", folder="/tmp", n_faces=3)
    assert len(json.dumps(session.__dict__)) < 200
