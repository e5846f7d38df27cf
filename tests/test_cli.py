import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import trimesh

from core.loading import load_asset
from meshes import PSB

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=600)


@pytest.mark.psb
def test_segment_writes_the_output_contract(tmp_path):
    mesh = os.path.join(PSB, "off", "341.off")
    out = tmp_path / "out"
    proc = cli("segment", mesh, "--out", str(out), "--scales", "0,0.5,2", "--seed", "1",
               env={"PARTSCOPE_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    data = np.load(out / "labels.npz")
    assert data["scales"].dtype == np.float32 and data["scales"].tolist() == [0.0, 0.5, 2.0]
    labels = data["face_labels"]
    asset = load_asset(mesh)
    assert labels.dtype == np.int32 and labels.shape == (3, asset.n_faces)
    for row in labels:  # every face labelled, contiguous from 0
        assert row.min() == 0 and set(np.unique(row)) == set(range(row.max() + 1))
    for s, row in zip(("0.00", "0.50", "2.00"), labels):
        scene = trimesh.load(out / f"parts_scale_{s}.glb")
        assert len(scene.geometry) == row.max() + 1
        assert sum(len(g.faces) for g in scene.geometry.values()) == asset.n_faces
    run = json.loads((out / "run.json").read_text())
    assert {"loading", "rendering", "masks", "fitting", "clustering"} <= set(run["seconds"])
    assert run["device"] == (torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu")
    assert "fitting" in proc.stderr  # the stage timer logs every stage
    # the same object again comes from the fit cache, with the same labels
    again = cli("segment", mesh, "--out", str(tmp_path / "again"), "--scales", "0,0.5,2", "--seed", "1",
                env={"PARTSCOPE_CACHE_DIR": str(tmp_path / "cache")})
    assert again.returncode == 0 and "fit cache hit" in again.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "again" / "labels.npz")["face_labels"], labels)


@pytest.mark.parametrize("name,content,phrase", [
    ("missing.glb", None, "no file"),
    ("notes.txt", "hello", "not a format"),
    ("bad.glb", "glTF\x02\x00\x00\x00 truncated", "not a complete GLB"),
    ("empty.stl", "solid x\nendsolid x\n", "no faces"),
    ("cloud.ply", "ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\n"
                  "property float z\nend_header\n0 0 0\n1 1 1\n", "point cloud"),
    ("nan.off", "OFF\n3 1 0\n0 0 0\nnan 1 0\n0 1 0\n3 0 1 2\n", "NaN"),
])
def test_bad_input_exits_with_one_sentence(tmp_path, name, content, phrase):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    proc = cli("segment", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and phrase.lower() in lines[0].lower()
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["segment", "name"])
def test_a_bad_file_is_refused_before_torch_loads(tmp_path, command):
    """A file the command cannot use is answered before torch and
    scikit-learn load (3-12 s), not after."""
    (tmp_path / "nan.off").write_text("OFF\n3 1 0\n0 0 0\nnan 1 0\n0 1 0\n3 0 1 2\n")
    code = ("import sys; from core.cli import main; "
            f"code = main([{command!r}, {str(tmp_path / 'nan.off')!r}, '--out', {str(tmp_path / 'o')!r}]); "
            "print(code, 'torch' in sys.modules, 'sklearn' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "OPENAI_BASE_URL": "http://127.0.0.1:9"}, timeout=600)
    assert proc.stdout.split() == ["2", "False", "False"], proc.stderr
    assert "NaN" in proc.stderr


def test_bad_scales_exit_with_a_sentence(tmp_path):
    path = tmp_path / "tri.off"
    path.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    proc = cli("segment", str(path), "--out", str(tmp_path / "o"), "--scales", "0,fine")
    assert proc.returncode == 2 and "--scales" in proc.stderr and "Traceback" not in proc.stderr


def test_name_writes_names_and_a_named_glb(tmp_path):
    """`name` reuses the fitted object, asks the chat endpoint about every part
    (the fake server checks each highlight against the part) and writes
    names.json and a GLB whose nodes carry the names; by default at the
    scale the app opens the model at, here its two objects (until
    2026-12-06 at 1.3)."""
    from fake_llm import FakeLLM

    from core.naming_views import CanonicalViews, render_canonical
    from core.rendering import Renderer

    path = tmp_path / "box_and_post.ply"
    box = trimesh.creation.box(extents=[0.5, 0.5, 0.5])
    post = trimesh.creation.box(extents=[0.15, 0.9, 0.15])
    post.apply_translation([2.0, 0.2, 0])
    trimesh.util.concatenate([box, post]).export(path)
    env = {"PARTSCOPE_CACHE_DIR": str(tmp_path / "cache"), "OPENAI_API_KEY": "sk-test-not-a-real-key"}
    first = cli("segment", str(path), "--out", str(tmp_path / "seg"), "--scales", "1.9", env=env)  # two parts
    assert first.returncode == 0, first.stderr
    labels = np.load(tmp_path / "seg" / "labels.npz")["face_labels"][0]
    asset = load_asset(str(path))
    views = CanonicalViews(render_canonical(asset), labels)
    renderer = Renderer(asset)
    names = {0: "box", 1: "post"}
    if asset.mesh.triangles_center[labels == 0, 0].mean() > 0:
        names = {0: "post", 1: "box"}
    masks = {}
    for part, name in names.items():
        face = renderer.render(views.camera(part)).face
        masks[name] = (face >= 0) & (labels[np.maximum(face, 0)] == part)
    with FakeLLM(part_masks=masks, object_name="pair of boxes") as fake:
        proc = cli("name", str(path), "--out", str(tmp_path / "named"),
                   env={**env, "OPENAI_BASE_URL": fake.base_url})
    assert proc.returncode == 0, proc.stderr
    assert "fit cache hit" in proc.stderr
    got = json.loads((tmp_path / "named" / "names.json").read_text())
    assert {int(k): v for k, v in got.items()} == names
    assert all(r.iou > 0.9 for r in fake.part_requests())
    scene = trimesh.load(tmp_path / "named" / "named_parts.glb")
    assert {"box", "post"} <= set(scene.graph.nodes)
    assert "sk-test" not in proc.stderr


def test_name_without_a_key_says_how_to_enable(tmp_path):
    path = tmp_path / "tri.off"
    path.write_text("OFF\n4 2 0\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n3 0 1 2\n3 1 3 2\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    proc = subprocess.run([sys.executable, "-m", "core", "name", str(path), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=ROOT, env={**env, "PARTSCOPE_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 2 and "OPENAI_API_KEY" in proc.stderr and "Traceback" not in proc.stderr
