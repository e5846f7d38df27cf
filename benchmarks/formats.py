"""Reading time by format: the same large models written as GLB, OBJ,
Collada (.dae) and 3MF, each loaded (``core.loading.load_asset``) in a
process of its own, its seconds and peak memory printed.

- sphere: one mesh of 1,310,720 faces (an icosphere cut eight times);
- bolts: a 12-face box placed 5,000 times (a GLB's nodes, a Collada
  component's instances, a 3MF's build items), as a CAD assembly or a
  SketchUp model of many components is written;
- large textures, GLB: four balls with an 8K photo-like JPEG each (40 MB),
  one with a 16K JPEG (a photogrammetry scan's), and six balls with an 8K
  PNG of one colour each (1.2 MB in the file, 384 million pixels: refused).

    python -m benchmarks.formats        # -> benchmarks/results/formats.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import trimesh

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
PLACES = 5000


def _bolts_scene() -> trimesh.Scene:
    scene = trimesh.Scene()
    box = trimesh.creation.box()
    for i in range(PLACES):
        scene.add_geometry(box, node_name=f"bolt_{i}", geom_name="bolt",
                           transform=trimesh.transformations.translation_matrix([i % 100 * 2, i // 100 * 2, 0]))
    return scene


def _bolts_dae() -> bytes:
    from tests.corpus_files import _dae_geometry, _matrix, collada

    place = np.eye(4)
    nodes = []
    for i in range(PLACES):
        place[:2, 3] = i % 100 * 2, i // 100 * 2
        nodes.append(f'<node name="bolt">{_matrix(place)}<instance_node url="#bolt"/></node>')
    return collada("<up_axis>Z_UP</up_axis>", f'<node name="model">{"".join(nodes)}</node>',
                   '<library_nodes><node id="bolt" name="bolt"><instance_geometry url="#g"/></node></library_nodes>'
                   f'<library_geometries>{_dae_geometry("g", trimesh.creation.box(), "m")}</library_geometries>')


def _bolts_3mf() -> bytes:
    from tests.corpus_files import mesh_3mf, model_3mf, package_3mf

    items = "".join(f'<item objectid="1" transform="1 0 0 0 1 0 0 0 1 {i % 100 * 2} {i // 100 * 2} 0"/>'
                    for i in range(PLACES))
    resources = f'<object id="1" name="bolt" type="model">{mesh_3mf(trimesh.creation.box())}</object>'
    return package_3mf({"3D/3dmodel.model": model_3mf(resources, items)})


def _textured(sides: list, photo: bool) -> bytes:
    """A GLB of a ball for each of ``sides``, each with a colour texture that
    wide: photo-like JPEG (waves and grain) or a PNG of one colour."""
    import io

    import PIL.Image

    PIL.Image.MAX_IMAGE_PIXELS = None  # this process's own images; the loader's limit is its own
    scene, rng = trimesh.Scene(), np.random.default_rng(0)
    for i, side in enumerate(sides):
        ball = trimesh.creation.icosphere(subdivisions=4, radius=0.3).apply_translation([i * 0.8, 0, 0])
        uv = (ball.vertices[:, :2] + 0.3) / 0.6
        buffer = io.BytesIO()
        if photo:
            y, x = np.ogrid[:side, :side]
            pixels = np.empty((side, side, 3), np.uint8)
            for c, wave in enumerate((np.sin(x / 37 + i), np.sin(y / 53), np.zeros((1, 1)))):
                grain = rng.standard_normal((side, side), np.float32) * 6
                pixels[..., c] = np.clip(127 + 110 * wave.astype(np.float32) + grain, 0, 255)
            PIL.Image.fromarray(pixels).save(buffer, "JPEG", quality=85)
        else:
            PIL.Image.new("RGB", (side, side), (40 * i, 100, 200)).save(buffer, "PNG", optimize=True)
        material = trimesh.visual.material.PBRMaterial(baseColorTexture=PIL.Image.open(buffer))
        ball.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
        scene.add_geometry(ball, geom_name=f"ball_{i}")
    return scene.export(file_type="glb")


def files(folder: str) -> dict:
    """{label: path} of every model written into ``folder``."""
    sphere = trimesh.creation.icosphere(subdivisions=8)
    bolts = _bolts_scene()
    made = {
        "sphere.glb": sphere.export(file_type="glb"), "sphere.obj": sphere.export(file_type="obj").encode(),
        "sphere.dae": trimesh.exchange.dae.export_collada(sphere), "sphere.3mf": sphere.export(file_type="3mf"),
        "bolts.glb": bolts.export(file_type="glb"), "bolts.dae": _bolts_dae(), "bolts.3mf": _bolts_3mf(),
        "photo8k.glb": _textured([8192] * 4, True), "photo16k.glb": _textured([16384], True),
        "flat8k.glb": _textured([8000] * 6, False),
    }
    out = {}
    for name, data in made.items():
        out[name] = os.path.join(folder, name)
        with open(out[name], "wb") as f:
            f.write(data)
    return out


def one(path: str) -> None:
    """Load ``path`` here and print {faces, nodes, texture sizes or the
    sentence refusing it, seconds, peak MB} as JSON (the ``--one`` mode)."""
    import time

    from core.inputs import InputError
    from core.loading import load_asset

    start = time.perf_counter()
    try:
        asset = load_asset(path)
        row = {"faces": asset.n_faces, "nodes": len(asset.node_names),
               "textures": [list(t.shape[:2]) for t in asset.textures]}
    except InputError as exc:
        row = {"refused": str(exc)}
    row["seconds"] = round(time.perf_counter() - start, 2)
    with open("/proc/self/status") as f:  # this process's own peak (ru_maxrss keeps the parent's across exec)
        row["peak_mb"] = round(next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024)
    print(json.dumps(row))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        return one(sys.argv[2])
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, path in files(folder).items():
            proc = subprocess.run([sys.executable, "-m", "benchmarks.formats", "--one", path], capture_output=True,
                                  text=True, cwd=ROOT)
            rows[name] = {"megabytes": round(os.path.getsize(path) / 2**20, 1),
                          **json.loads(proc.stdout.strip().splitlines()[-1])}
            print(f"{name:12s} {rows[name]}", flush=True)
    with open(os.path.join(ROOT, "benchmarks", "results", "formats.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
