"""Click to select, mask prompts and part-list edits (the engine side)."""

import os

import numpy as np
import pytest

from core.scales import default_scales
from core.loading import load_asset
from core.parts import PartList
from core.pipeline import Engine
from core.rendering import Camera, Renderer
from meshes import PSB, two_boxes
from test_segment import fast_config


@pytest.fixture(scope="module")
def boxes(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("boxes") / "boxes.ply")
    two_boxes(gap=1.5).export(path)
    asset = load_asset(path)
    return Engine(fast_config()).fit(asset)


def box_of_faces(asset):
    return (asset.mesh.triangles_center[:, 0] > 0).astype(int)


def test_a_mask_over_one_box_gives_exactly_that_box(boxes):
    asset = boxes.asset
    camera = Camera.orbit(20, 20, 1.39 * np.linalg.norm(asset.mesh.extents), resolution=128)
    view = Renderer(asset).render(camera)
    which = box_of_faces(asset)
    for box in (0, 1):
        # paint the middle of that box's silhouette only
        seen = (view.face >= 0) & (which[np.maximum(view.face, 0)] == box)
        rows, cols = np.nonzero(seen)
        paint = np.zeros_like(seen)
        r0, c0 = int(np.median(rows)), int(np.median(cols))
        paint[r0 - 4:r0 + 5, c0 - 4:c0 + 5] = True
        paint &= seen
        faces, scale = boxes.from_mask(camera, paint)
        assert 0 < scale <= 2
        np.testing.assert_array_equal(faces, which == box)


def test_a_mask_off_the_object_is_refused(boxes):
    camera = Camera.orbit(0, 0, 3.0, resolution=64)
    paint = np.zeros((64, 64), bool)
    paint[:3, :3] = True
    with pytest.raises(ValueError, match="paint over the model"):
        boxes.from_mask(camera, paint)


def test_click_selects_the_part_and_grows_with_the_scale(boxes):
    asset = boxes.asset
    which = box_of_faces(asset)
    face = int(np.nonzero(which == 1)[0][0])
    fine, box = boxes.select(face, 0.0), boxes.select(face, 1.9)  # 1.9: the two-part step
    assert fine.any() and (fine <= box).all()
    np.testing.assert_array_equal(box, which == 1)
    coarse = boxes.select(face, 2.0)
    assert coarse.all()


@pytest.mark.psb
@pytest.mark.parametrize("model", [341, 201])
def test_parts_and_selections_nest_over_the_ladder_on_psb(model, tmp_path):
    path = os.path.join(PSB, "off", f"{model}.off")
    field = Engine(fast_config()).fit(load_asset(path))
    ladder = field.ladder()
    for finer, coarser in zip(ladder, ladder[1:]):
        pairs = np.unique(np.stack([finer, coarser], axis=1), axis=0)
        assert len(np.unique(pairs[:, 0])) == len(pairs)  # each finer part inside one coarser part
    counts = ladder.max(axis=1) + 1
    assert counts[0] > 2 and (np.diff(counts) <= 0).all()
    assert counts[-2] == 2  # no step from several parts straight to one
    rng = np.random.default_rng(0)
    for face in rng.choice(field.asset.n_faces, 25, replace=False):
        sel = [field.select(face, s) for s in default_scales()]
        assert sel[0][face] and all((a <= b).all() for a, b in zip(sel, sel[1:]))
    # a selection is a real part, not everything: the finest one is a strict subset
    assert min(field.select(f, 0.0).mean() for f in range(0, field.asset.n_faces, 97)) < 0.9


def consistent(pl: PartList):
    s = pl.state
    used = np.unique(s.labels[s.labels >= 0])
    assert used.tolist() == list(range(s.n_parts))
    assert len(s.names) == len(s.colors) == len(s.hidden) == s.n_parts
    assert s.labels.dtype == np.int32 and s.colors.dtype == np.uint8


def test_part_list_edits_and_undo_keep_labels_consistent():
    labels = np.repeat(np.arange(4), 5).astype(np.int32)  # 4 parts of 5 faces
    pl = PartList.from_labels(labels)
    history = [pl.state]
    pl.rename(2, "wheel")
    assert pl.names[2] == "wheel"
    merged = pl.merge([1, 3])
    assert pl.n_parts == 3 and (pl.labels[[5, 15]] == merged).all()
    assert pl.names[pl.labels[10]] == "wheel"  # names follow their faces
    consistent(pl)
    history.append(pl.state)
    finer = np.arange(20) // 2  # pairs of faces
    new = pl.split(0, finer)
    assert len(new) == 3 and pl.n_parts == 5
    consistent(pl)
    selection = np.zeros(20, bool)
    selection[[0, 7]] = True
    added = pl.add(selection, name="picked")
    assert (pl.labels[[0, 7]] == added).all() and pl.names[added] == "picked"
    consistent(pl)
    pl.recolor(added, (1, 2, 3))
    assert pl.state.colors[added].tolist() == [1, 2, 3]
    pl.isolate(added)
    assert (pl.visible_labels() >= 0).sum() == 2
    pl.show_all()
    pl.delete([added])
    assert (pl.labels[[0, 7]] == -1).all()
    consistent(pl)
    # undo everything back to the start, then redo it all
    done = []
    while pl.can_undo:
        done.append(pl.state)
        pl.undo()
        consistent(pl)
    np.testing.assert_array_equal(pl.labels, labels)
    assert pl.names == (None,) * 4
    while pl.can_redo:
        pl.redo()
    np.testing.assert_array_equal(pl.labels, done[0].labels)
    # a new edit after an undo drops the redo branch
    pl.undo()
    pl.rename(0, "x")
    assert not pl.can_redo


def test_part_list_refuses_bad_edits_with_sentences():
    pl = PartList.from_labels(np.array([0, 0, 1, 1], np.int32))
    with pytest.raises(ValueError, match="no part 7"):
        pl.rename(7, "x")
    with pytest.raises(ValueError, match="at least two"):
        pl.merge([1, 1])
    with pytest.raises(ValueError, match="empty"):
        pl.add(np.zeros(4, bool))
    with pytest.raises(ValueError, match="one piece"):
        pl.split(0, np.zeros(4, int))
    assert not pl.can_undo  # refused edits leave no history
