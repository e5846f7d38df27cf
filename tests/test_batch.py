"""The batch (local processes and a local Ray cluster) and the
PartObjaverse-Tiny harness, on a small dataset built here in that layout:
GLBs of separate boxes and an L-shape, a semantic.json, ground truth per face.
Fits are the real pipeline, shrunk (fewer points, views and steps)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import trimesh

from core.metrics import class_agnostic_miou
from core.partobjaverse import INSTANCE_GT, SEMANTIC_GT, SEMANTIC_JSON, evaluate, layout_from_psb, read_layout
from core.batch import MANIFEST, list_inputs, read_manifest, run_batch
from core.raybatch import RAY_MISSING
from core.config import FieldConfig, RenderConfig, SampleConfig, SegmentConfig
from core.loading import InputError, load_asset
from core.settings import Settings
from meshes import PSB

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALES = [0.0, 1.8, 1.9, 2.0]  # every atom, 3 parts, 2 parts, 1 part


def tiny_config() -> SegmentConfig:
    """The real pipeline, much smaller: these tests check plumbing and exact
    agreement between runs, not quality."""
    return SegmentConfig(sample=SampleConfig(n_points=1500), render=RenderConfig(n_views=8, resolution=128),
                         field=FieldConfig(steps=100, hidden=32, views_per_step=4, points_per_view=64))


def settings(cache_dir, base_url=None) -> Settings:
    return Settings(cache_dir=str(cache_dir), device="cpu", sam_checkpoint=None, openai_base_url=base_url,
                    llm_model="fake-vision", max_upload_mb=50)


def boxes(specs) -> list[trimesh.Trimesh]:
    """specs: [(extents, center)] -> boxes, cut finer so sampling has faces to hit."""
    out = []
    for extents, center in specs:
        box = trimesh.creation.box(extents=extents)
        box.apply_translation(center)
        out.append(trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(box.vertices, box.faces, max_edge=0.15)))
    return out


OBJECTS = {
    # uid: (category, labels, [(box, label index)], fused): separate boxes are
    # separate nodes; the L is two boxes fused into one surface
    "pair": ("Daily-Used", ["Box", "Post"], [(((0.5, 0.5, 0.5), (0, 0, 0)), 0),
                                               (((0.15, 0.9, 0.15), (1.2, 0.2, 0)), 1)], False),
    "trio": ("Buildings&&Outdoor", ["block"], [(((0.4, 0.4, 0.4), (x, 0, 0)), 0) for x in (0, 0.9, 1.8)], False),
    "ell": ("Buildings&&Outdoor", ["foot", "upright"], [(((1.0, 0.2, 0.3), (0, 0, 0)), 0),
                                                        (((0.2, 0.8, 0.3), (-0.4, 0.5, 0)), 1)], True),
}


def write_object(root, uid: str, wrong_gt: bool = False) -> None:
    """Write ``uid``'s GLB and ground truth in the PartObjaverse-Tiny layout:
    the part of each face is the box its center lies in, found on the mesh as
    the dataset defines it (trimesh.load, dumped to one mesh)."""
    _, _, parts, fused = OBJECTS[uid]
    meshes = boxes([spec for spec, _ in parts])
    scene = trimesh.Scene()
    if fused:
        import manifold3d  # noqa: F401 (trimesh's boolean engine)

        union = trimesh.boolean.union(meshes, engine="manifold")
        scene.add_geometry(trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(union.vertices, union.faces, 0.15)))
    else:
        for k, m in enumerate(meshes):
            scene.add_geometry(m, node_name=f"part{k}")
    path = os.path.join(root, "PartObjaverse-Tiny_mesh", f"{uid}.glb")
    scene.export(path)
    centers = trimesh.load(path).to_geometry().triangles_center
    instance = np.full(len(centers), -1)
    for k, ((extents, center), _) in enumerate(parts):
        inside = (np.abs(centers - center) <= np.array(extents) / 2 + 1e-6).all(axis=1)
        instance[inside & (instance < 0)] = k
    semantic = np.where(instance >= 0, np.array([label for _, label in parts])[instance], -1)
    if wrong_gt:
        instance, semantic = instance[:-3], semantic[:-3]
    np.save(os.path.join(root, INSTANCE_GT, f"{uid}.npy"), instance)
    np.save(os.path.join(root, SEMANTIC_GT, f"{uid}.npy"), semantic)


def make_dataset(root, uids, wrong_gt=()) -> str:
    for sub in ("PartObjaverse-Tiny_mesh", INSTANCE_GT, SEMANTIC_GT):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    meta = {}
    for uid in uids:
        category, labels, _, _ = OBJECTS[uid]
        meta.setdefault(category, {})[uid] = labels
        write_object(root, uid, uid in wrong_gt)
    with open(os.path.join(root, SEMANTIC_JSON), "w") as f:
        json.dump(meta, f)
    return str(root)


BROKEN = "'broken.glb' is not a complete GLB: the file is cut short."
"""What a GLB cut short after its header is told (core.loading)."""


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The dataset (the L's ground truth cut short by 3 faces), plus a broken
    GLB, run locally with 2 worker processes."""
    base = tmp_path_factory.mktemp("batch")
    root = make_dataset(base / "data", ["pair", "trio", "ell"], wrong_gt=("ell",))
    meshes = os.path.join(root, "PartObjaverse-Tiny_mesh")
    with open(os.path.join(meshes, "broken.glb"), "wb") as f:
        f.write(b"glTF\x02\x00\x00\x00 cut off here")
    out, cache = str(base / "out"), base / "cache"
    result = run_batch(list_inputs(meshes), out, SCALES, tiny_config(), settings(cache), workers=2,
                       progress=False)
    return {"root": root, "meshes": meshes, "out": out, "cache": cache, "result": result}


def test_list_inputs(tmp_path):
    for name in ("a.glb", "b.OBJ", "notes.txt", "sub/c.ply"):
        os.makedirs(tmp_path / os.path.dirname(name), exist_ok=True)
        (tmp_path / name).write_text("x")
    found = [os.path.relpath(p, tmp_path) for p in list_inputs(str(tmp_path))]
    assert found == ["a.glb", "b.OBJ", "sub/c.ply"]
    assert list_inputs(str(tmp_path / "*.glb")) == [str(tmp_path / "a.glb")]
    (tmp_path / "list.txt").write_text("# models\nsub/c.ply\n\na.glb  # the first\nmissing.off\n")
    listed = [os.path.relpath(p, tmp_path) for p in list_inputs(str(tmp_path / "list.txt"))]
    assert listed == ["a.glb", "missing.off", "sub/c.ply"]
    with pytest.raises(InputError, match="No model files found"):
        list_inputs(str(tmp_path / "*.stl"))


def test_label_sets_from_json(tmp_path):
    from core.cli import read_label_sets

    def read(data):
        (tmp_path / "labels.json").write_text(json.dumps(data))
        return read_label_sets(str(tmp_path / "labels.json"))

    assert read({"Animals": {"u1": ["head", "leg"]}, "Food": {"u2": ["cup"]}}) == {"u1": ["head", "leg"],
                                                                                    "u2": ["cup"]}
    assert read({"u1": ["head"]}) == {"u1": ["head"]}
    assert read(["seat", "leg"]) == ["seat", "leg"]
    for bad in ({"u1": []}, {"u1": "head"}, [1, 2], {"Animals": {"u1": [""]}}):
        with pytest.raises(InputError, match="must hold a list of names"):
            read(bad)
    (tmp_path / "labels.json").write_text("{not json")
    with pytest.raises(InputError, match="could not be read as JSON"):
        read_label_sets(str(tmp_path / "labels.json"))


def test_batch_writes_every_object_and_one_failure_stops_nothing(local_run):
    result, out = local_run["result"], local_run["out"]
    records = read_manifest(out)
    assert len(records) == 4 == len(result.records) and result.skipped == 0
    for uid in ("pair", "trio", "ell"):
        path = os.path.join(local_run["meshes"], f"{uid}.glb")
        record = records[path]
        assert record["status"] == "ok" and record["error"] is None and record["seconds"] > 0
        assert record["digest"] == hashlib.sha256(open(path, "rb").read()).hexdigest()[:32]
        data = np.load(os.path.join(out, uid, "labels.npz"))
        labels = data["face_labels"]
        np.testing.assert_allclose(data["scales"], SCALES, rtol=1e-6)
        assert labels.shape == (len(SCALES), load_asset(path).n_faces) and labels.min() == 0
        assert record["parts"] == [int(l.max()) + 1 for l in labels]
        for s in ("0.00", "1.80", "1.90", "2.00"):
            assert os.path.isfile(os.path.join(out, uid, f"parts_scale_{s}.glb"))
        assert json.load(open(os.path.join(out, uid, "run.json")))["faces"] == labels.shape[1]
    broken = records[os.path.join(local_run["meshes"], "broken.glb")]
    assert broken["status"] == "failed" and broken["parts"] is None
    assert broken["error"] == BROKEN


def test_a_second_run_skips_what_is_done(local_run):
    out = local_run["out"]
    before = open(os.path.join(out, MANIFEST)).read().splitlines()
    again = run_batch(list_inputs(local_run["meshes"]), out, SCALES, tiny_config(), settings(local_run["cache"]),
                      workers=1, progress=False)
    assert again.skipped == 3
    assert [os.path.basename(r["input"]) for r in again.records] == ["broken.glb"], "failures are tried again"
    assert open(os.path.join(out, MANIFEST)).read().splitlines()[:len(before)] == before


@pytest.mark.ray
def test_ray_run_matches_the_local_run(local_run, tmp_path):
    out = str(tmp_path / "ray")
    # a fresh fit cache: every object is fitted again, in Ray's workers
    result = run_batch(list_inputs(local_run["meshes"]), out, SCALES, tiny_config(), settings(tmp_path / "cache"),
                       use_ray=True, workers=2, progress=False)
    records = {os.path.basename(r["input"]): r for r in result.records}
    assert records["broken.glb"]["status"] == "failed" and records["broken.glb"]["error"] == BROKEN
    for uid in ("pair", "trio", "ell"):
        assert records[f"{uid}.glb"]["status"] == "ok"
        ray_labels = np.load(os.path.join(out, uid, "labels.npz"))["face_labels"]
        local_labels = np.load(os.path.join(local_run["out"], uid, "labels.npz"))["face_labels"]
        np.testing.assert_array_equal(ray_labels, local_labels)


def test_harness_scores_the_built_dataset(local_run):
    """The harness resumes the batch (nothing to fit) and scores it; the L,
    whose ground truth is 3 faces short, is left out with a sentence."""
    root, out = local_run["root"], local_run["out"]
    report = evaluate(root, out, config=tiny_config(), settings=settings(local_run["cache"]), scales=SCALES,
                      fixed_scale=1.8, progress=False)
    assert report["ran_now"] == 0 and report["scored"] == 2 and report["objects"] == 3
    assert report["left_out"] == [{"uid": "ell", "why": report["left_out"][0]["why"]}]
    assert "its ground truth has" in report["left_out"][0]["why"]
    rows = {r["uid"]: r for r in report["rows"]}
    for uid in ("pair", "trio"):
        labels = np.load(os.path.join(out, uid, "labels.npz"))["face_labels"]
        gt = np.load(os.path.join(root, INSTANCE_GT, f"{uid}.npy"))
        expected = [class_agnostic_miou(l, gt) for l in labels]
        assert rows[uid]["per_scale"] == expected and rows[uid]["fixed"] == expected[1]
        # separate boxes: some scale cuts exactly the boxes
        assert rows[uid]["best"] == 1.0
    summary = report["summary"]
    assert summary["categories"]["Daily-Used"]["objects"] == 1
    assert summary["overall"]["best"] == pytest.approx(50 * (rows["pair"]["best"] + rows["trio"]["best"]))
    assert "semantic_miou" not in summary["overall"]


@pytest.mark.psb
def test_psb_meshes_in_the_layout_keep_their_faces_and_human_parts(tmp_path):
    """The harness's stand-in dataset: every PSB mesh as a GLB that loads with
    the .off's faces in the .off's order, its first human segmentation as
    ground truth, its category from its id."""
    layout_from_psb(PSB, str(tmp_path))
    items = {item["uid"]: item for item in read_layout(str(tmp_path))}
    assert len(items) == len([n for n in os.listdir(os.path.join(PSB, "off")) if n.endswith(".off")])
    item = items["psb21"]
    assert item["category"] == "cup"
    off = trimesh.load(os.path.join(PSB, "off", "21.off"), process=False)
    glb = trimesh.load(item["mesh"], force="mesh", process=False)
    np.testing.assert_allclose(glb.triangles_center, off.triangles_center, atol=1e-5)
    human = np.loadtxt(os.path.join(PSB, "seg", "21", "21_0.seg"), dtype=np.int64)
    gt = np.load(item["instance_gt"])
    assert len(gt) == load_asset(item["mesh"]).n_faces == len(off.faces)
    assert class_agnostic_miou(human, gt) == 1.0 and len(item["labels"]) == len(np.unique(human))


def test_harness_names_parts_from_the_label_set(local_run, tmp_path):
    """With names, the parts at the fixed scale are named by choosing from
    the object's labels; the fake model names a part only when its highlight
    matches the part, so right names give semantic mIoU and mAP50 of 100."""
    from fake_llm import FakeLLM

    from core.naming_views import CanonicalViews, render_canonical
    from core.rendering import Renderer

    root = make_dataset(tmp_path / "data", ["pair"])
    asset = load_asset(os.path.join(root, "PartObjaverse-Tiny_mesh", "pair.glb"))
    gt_ins = np.load(os.path.join(root, INSTANCE_GT, "pair.npy"))
    views, renderer = CanonicalViews(render_canonical(asset), gt_ins), Renderer(asset)
    masks = {}
    for part, name in ((0, "box"), (1, "post")):
        face = renderer.render(views.camera(part)).face
        masks[name] = (face >= 0) & (gt_ins[np.maximum(face, 0)] == part)
    with FakeLLM(part_masks=masks, object_name="box and post") as fake:
        report = evaluate(root, str(tmp_path / "out"), config=tiny_config(),
                          settings=settings(local_run["cache"], fake.base_url), scales=SCALES, fixed_scale=1.9,
                          name=True, progress=False)
    assert all('"Box", "Post"' in r.texts[1] for r in fake.part_requests())
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "pair" / "semantic.npy"),
                                  np.load(os.path.join(root, SEMANTIC_GT, "pair.npy")))
    assert report["summary"]["overall"]["semantic_miou"] == 100
    assert report["summary"]["overall"]["instance_map50"] == 100


def test_cli_batch_reports_failures_and_a_missing_ray(tmp_path):
    (tmp_path / "broken.stl").write_text("solid x\nendsolid x\n")
    (tmp_path / "list.txt").write_text("broken.stl\nmissing.glb\n")
    env = {**os.environ, "PARTSCOPE_CACHE_DIR": str(tmp_path / "cache")}

    def cli(*args, code=""):
        return subprocess.run([sys.executable, "-c", f"import sys; {code}from core.cli import main; sys.exit(main())",
                               "batch", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)

    proc = cli(str(tmp_path / "list.txt"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = {os.path.basename(r["input"]): r["error"] for r in read_manifest(str(tmp_path / "out")).values()}
    assert "no faces" in errors["broken.stl"] and "There is no file" in errors["missing.glb"]
    assert "0 done, 2 failed" in proc.stderr
    # as if Ray were not installed
    proc = cli(str(tmp_path / "list.txt"), "--out", str(tmp_path / "o2"), "--ray", code="sys.modules['ray'] = None; ")
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {RAY_MISSING}"
    proc = cli(str(tmp_path / "*.off"), "--out", str(tmp_path / "o3"))
    assert proc.returncode == 2 and "No model files found" in proc.stderr
