"""Models built as modellers build them: parts as separate pieces that touch
or overlap without sharing an edge (a figure, a four-legged animal, two
chairs, one of them also as a triangle soup, a table, a lamp, an airplane, a
mug), each labelled by its pieces;
and a figure welded into one surface, labelled head, torso, arms and legs,
with small separate pieces that are not parts (two eyes, three buttons) or
with a jacket modelled over its torso.

    python -m benchmarks.pieces     # needs requirements-test.txt (manifold3d, for the welded figure)
    python -m benchmarks.pieces --field   # the field's parts too (each model fitted: minutes)

Per model, the first parts (the part tree before the field is fitted, as the
app shows it first) cut at the number of parts, with ``--field`` the
field's parts (the command line's) too, and the classical peer
(``tests/peer.py``) at the same k, scored by part mIoU; and the first
parts where the app opens the model (``hierarchy.opening_scale``: its
objects' count) beside those at ``scales.DEFAULT`` (8 parts), as a person
first sees them.
Writes benchmarks/results/pieces.json.
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import trimesh
from trimesh import creation

HERE = os.path.dirname(os.path.abspath(__file__))


def _limb(radius: float, length: float, xyz, axis=(0, 0, 1)) -> trimesh.Trimesh:
    """A capsule along ``axis`` centred at ``xyz``."""
    mesh = creation.capsule(height=length, radius=radius, count=[16, 16])
    mesh.apply_transform(trimesh.geometry.align_vectors([0, 0, 1], axis))
    return mesh.apply_translation(xyz)


def _figure() -> list:
    """A figure's six pieces: torso, head, two arms, two legs."""
    return [_limb(0.25, 0.6, (0, 0, 1.2)), creation.icosphere(2, 0.18).apply_translation((0, 0, 1.75)),
            _limb(0.07, 0.6, (0.45, 0, 1.35), (1, 0, 0)), _limb(0.07, 0.6, (-0.45, 0, 1.35), (1, 0, 0)),
            _limb(0.09, 0.7, (0.12, 0, 0.55)), _limb(0.09, 0.7, (-0.12, 0, 0.55))]


def _models() -> dict:
    """name -> list of trimesh pieces, z up, about 2 units tall (the chairs
    and the mug are ``tests.meshes``')."""
    def box(extents, xyz):
        return creation.box(extents).apply_translation(xyz)

    return {
        "figure": _figure(),
        "four-legged animal": [_limb(0.22, 0.9, (0, 0, 0.8), (1, 0, 0)),
                               creation.icosphere(2, 0.17).apply_translation((0.85, 0, 1.0)),
                               _limb(0.04, 0.4, (-0.8, 0, 0.95), (1, 0, 0.6))]
                              + [_limb(0.06, 0.5, (x, y, 0.4)) for x in (-0.45, 0.45) for y in (-0.13, 0.13)],
        "table": [box((1.6, 0.9, 0.06), (0, 0, 0.75))]
                 + [box((0.07, 0.07, 0.75), (x, y, 0.37)) for x in (-0.7, 0.7) for y in (-0.38, 0.38)],
        "lamp": [creation.cylinder(0.3, 0.06, sections=32).apply_translation((0, 0, 0.03)),
                 creation.cylinder(0.03, 1.2, sections=12).apply_translation((0, 0, 0.6)),
                 creation.cone(0.35, 0.4, sections=32).apply_translation((0, 0, 1.15))],
        "airplane": [_limb(0.12, 2.0, (0, 0, 0), (1, 0, 0)), box((0.4, 2.2, 0.04), (0.1, 0, 0)),
                     box((0.25, 0.8, 0.03), (-1.0, 0, 0.05)), box((0.25, 0.03, 0.35), (-1.0, 0, 0.2))],
    }


def _welded_figures() -> dict:
    """name -> (mesh, (F,) int people's part): ``_figure`` welded into one
    surface, parts 0 torso, 1 head, 2-3 arms, 4-5 legs, with separate pieces
    on it: eyes sunk into the head and buttons into the torso (each in its
    part); or a jacket modelled over the torso (a torso with the one under it)."""
    def fine(mesh):
        return trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=0.05))

    body = _figure()
    welded = fine(trimesh.boolean.union(body, engine="manifold"))
    part = np.stack([np.abs(trimesh.proximity.signed_distance(b, welded.triangles_center)) for b in body], 1).argmin(1)
    eyes = [creation.icosphere(1, 0.03).apply_translation((x, -0.16, 1.8)) for x in (-0.06, 0.06)]
    buttons = [creation.icosphere(1, 0.03).apply_translation((0, -0.245, z)) for z in (1.0, 1.15, 1.3)]
    jacket = fine(_limb(0.27, 0.5, (0, 0, 1.22)))

    def dressed(pieces, parts):
        label = np.concatenate([part] + [np.full(len(m.faces), p) for m, p in zip(pieces, parts)])
        return trimesh.util.concatenate([welded] + pieces), label

    return {"welded figure, eyes and buttons": dressed(eyes + buttons, [1, 1, 0, 0, 0]),
            "welded figure in a jacket": dressed([jacket], [0])}


class _Seen(Exception):
    """Stops the fit once the first parts are out."""


def trees(path: str, field: bool = False):
    """(asset, the first parts' tree, the field's tree or None) of the model
    at ``path``; the fit stops at the first parts unless ``field``."""
    from core.loading import load_asset
    from core.pipeline import Engine

    asset, seen = load_asset(path), []

    def preview(parts):
        seen.append(parts.tree)
        if not field:
            raise _Seen

    try:
        fitted = Engine().fit(asset, preview=preview).tree
    except _Seen:
        fitted = None
    return asset, seen[0], fitted


def main() -> None:
    import argparse

    from scipy.spatial import cKDTree

    from core import threads
    from core.geometry import pieces as connected_pieces
    from core.hierarchy import opening_scale
    from core.metrics import part_miou
    from core.scales import DEFAULT
    from tests.meshes import chair, mug, soup
    from tests.peer import segment as peer_segment

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--field", action="store_true", help="fit each model and score the field's parts too")
    field = parser.parse_args().field
    threads.use(2)
    models = {}
    for name, pieces in _models().items():  # each piece a part
        sizes = [len(p.faces) for p in pieces]
        models[name] = trimesh.util.concatenate(pieces), np.repeat(np.arange(len(pieces)), sizes)
    models.update({"chair": chair(), "armchair": chair(arms=True), "mug": mug()})
    mesh, label = models["armchair"]
    models["armchair, triangle soup"] = soup(mesh), label
    models.update(_welded_figures())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (mesh, label) in models.items():
            path = os.path.join(tmp, "model.glb")
            mesh.export(path)
            asset, tree, fitted = trees(path, field)
            # the loaded faces, back in the file's coordinates, find their labels
            centres = trimesh.transform_points(asset.mesh.triangles_center, asset.to_original)
            truth = label[cKDTree(mesh.triangles_center).query(centres)[1]]
            k = int(label.max()) + 1
            opening = opening_scale(connected_pieces(asset.mesh), asset.mesh.area_faces)
            row = {"model": name, "parts": k, "faces": asset.n_faces,
                   "partscope": part_miou(tree.cut(k), truth),
                   "opening": opening, "at_opening": part_miou(tree.at_scale(opening), truth),
                   "at_default": part_miou(tree.at_scale(DEFAULT), truth),
                   **({"field": part_miou(fitted.cut(k), truth)} if field else {}),
                   "peer": part_miou(peer_segment(asset.mesh, [k], 0)[0], truth)}
            rows.append(row)
            fitted_text = f"  field {row['field']:.3f}" if field else ""
            print(f"{name:32s} {k} parts  PartScope {row['partscope']:.3f}{fitted_text}  peer {row['peer']:.3f}  "
                  f"opening {opening:.1f}: {row['at_opening']:.3f} (at {DEFAULT}: {row['at_default']:.3f})", flush=True)
    keys = ("partscope", "field", "peer") if field else ("partscope", "peer")
    mean = {key: float(np.mean([r[key] for r in rows[:-2]])) for key in keys}  # the welded ones apart
    print("mean part mIoU of the pieces at their count: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items()))
    print(f"first parts where the app opens each model: {np.mean([r['at_opening'] for r in rows]):.3f}, at "
          f"{DEFAULT} (8 parts): {np.mean([r['at_default'] for r in rows]):.3f} (every model)")
    with open(os.path.join(HERE, "results", "pieces.json"), "w") as f:
        json.dump({"models": rows, "mean": mean}, f, indent=1)


if __name__ == "__main__":
    main()
