import numpy as np
import pytest
import trimesh

from core.config import FieldConfig, RenderConfig, SampleConfig, SegmentConfig
from core.loading import load_asset
from core.masks import mask_scale
from core.pipeline import Engine
from meshes import PSB, chair, cracked, mug, table, two_boxes


def fast_config(seed=0) -> SegmentConfig:
    """The real pipeline, smaller: fewer points, views and steps."""
    return SegmentConfig(sample=SampleConfig(n_points=6000), render=RenderConfig(n_views=16, resolution=256),
                         field=FieldConfig(steps=250), seed=seed)


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """The table fitted once: (field, human labels, the first parts the masks gave)."""
    mesh, human = table()
    path = str(tmp_path_factory.mktemp("table") / "table.ply")
    mesh.export(path)
    first = []
    field = Engine(fast_config()).fit(load_asset(path), preview=first.append)
    return field, human, first


@pytest.fixture(scope="module")
def table_fit(table_run):
    return table_run[:2]


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_the_ladder_step_of_five_parts_is_the_top_and_each_leg(table_fit):
    field, human = table_fit
    ladder = field.ladder()
    counts = [int(l.max()) + 1 for l in ladder]
    labels = ladder[counts.index(5)]  # every count is on the ladder, five too
    assert labels.shape == human.shape and labels.min() == 0
    assert set(np.unique(labels)) == set(range(labels.max() + 1))  # contiguous
    leg_parts = set()
    for leg in range(1, 5):
        faces = human == leg
        part = np.bincount(labels[faces]).argmax()
        assert iou(labels == part, faces) > 0.7, f"leg {leg}"
        leg_parts.add(part)
    assert len(leg_parts) == 4
    top = np.bincount(labels[human == 0]).argmax()
    assert top not in leg_parts


def test_first_parts_come_from_the_masks_before_the_field(table_run):
    """The part tree of the default masks alone answers before the field is
    fitted, on the field's ladder: the finest parts at 0, the whole table at
    2, and at five parts the top and each leg, the parts the fitted field
    shows there."""
    from core.metrics import part_miou
    from core.scales import default_scales

    field, human, first = table_run
    assert len(first) == 1
    first = first[0]
    assert first.parts(0.0).max() >= 4 and (first.parts(2.0) == 0).all()
    at = {int(first.parts(s).max()) + 1: s for s in default_scales()}
    five = first.parts(at[5])
    legs = {np.bincount(five[human == leg]).argmax() for leg in range(1, 5)}
    assert len(legs) == 4 and np.bincount(five[human == 0]).argmax() not in legs
    for leg in range(1, 5):
        assert iou(five == np.bincount(five[human == leg]).argmax(), human == leg) > 0.7
    assert part_miou(five, field.parts(at[5])) > 0.9


def test_a_model_built_from_overlapping_pieces_comes_apart_into_its_pieces(tmp_path):
    """A mug whose handle is a ring sunk into the body: at two parts the
    tree gives the body and the handle, first parts and the field's alike,
    though the pieces touch and a ring alone is far from convex."""
    from core.metrics import part_miou
    from core.scales import default_scales

    mesh, pieces = mug()
    path = str(tmp_path / "mug.glb")
    mesh.export(path)
    first = []
    field = Engine(fast_config()).fit(load_asset(path), preview=first.append)
    for parts in (first[0].parts, field.parts):
        two = next(parts(s) for s in default_scales()[::-1] if parts(s).max() == 1)
        assert part_miou(two, pieces) > 0.95


def test_the_toy_cars_field_parts_at_six_are_its_six_pieces():
    """The example car (a body, a cabin, four wheels, each a piece): at six
    parts the field's tree gives its pieces, first parts alike. Before, the
    field lent each wheel's label to the body beside it and the body's
    regions were grouped by the field's parts: body faces joined the wheels
    (0.91 at six parts, 25 body faces in wheels' parts at the opening scale)."""
    import os

    from core.metrics import part_miou

    asset = load_asset(os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets", "toy_car.glb"))
    first = []
    field = Engine().fit(asset, preview=first.append)  # the app's own settings: fast_config's field is cleaner
    for tree in (first[0].tree, field.tree):
        assert part_miou(tree.cut(6), asset.face_node) > 0.99


def first_tree(mesh, folder):
    """The first parts' tree of ``mesh`` written as a GLB in ``folder``; the fit stops there."""
    path = str(folder / "model.glb")
    mesh.export(path)
    first = []

    def stop(parts):
        first.append(parts)
        raise InterruptedError  # the first parts are all this needs

    with pytest.raises(InterruptedError):
        Engine(fast_config()).fit(load_asset(path), preview=stop)
    return first[0].tree


def test_a_chair_of_boxes_comes_apart_into_its_boxes(tmp_path):
    """A low-poly chair whose back box stands on the seat's rear edge, with
    or without armrests: at its piece count the first parts are its pieces
    (0.83 and 0.88 while the edge the boxes touch along joined them)."""
    from core.metrics import part_miou

    for arms in (False, True):
        mesh, label = chair(arms)
        assert part_miou(first_tree(mesh, tmp_path).cut(label.max() + 1), label) > 0.95


@pytest.mark.psb
def test_a_surface_written_patch_by_patch_with_cracks_is_cut_as_the_whole(tmp_path):
    """A PSB mesh (a pair of glasses) cracked into thirty patches, each with
    vertices of its own a hair off its neighbours': at the people's count
    its first parts match people's as the whole mesh's do (0.60 against
    0.86 before cracks were seen as seams)."""
    import os

    import trimesh

    from core.geometry import pieces
    from core.metrics import human_counts, human_segmentations, part_miou

    whole = trimesh.load(os.path.join(PSB, "off", "341.off"), process=False)
    humans, count = human_segmentations(PSB, 341), human_counts(PSB)[340]
    scores = []
    for mesh in (whole, cracked(whole, 30)):
        tree = first_tree(mesh, tmp_path)
        scores.append(np.mean([part_miou(tree.cut(count), human) for human in humans]))
    assert scores[1] > scores[0] - 0.02 and scores[0] > 0.8, scores
    assert pieces(mesh).max() + 1 == 1


def test_part_count_falls_as_the_scale_grows(table_fit):
    field, _ = table_fit
    counts = [int(l.max()) + 1 for l in field.ladder([0.0, 0.5, 1.0, 1.5, 2.0])]
    assert counts[0] >= 5
    assert counts[-1] < counts[0]
    assert all(b <= a for a, b in zip(counts, counts[1:])), counts  # nested: coarser only merges


def test_the_ladder_reaches_every_count_from_one_to_finer_than_the_table(table_fit):
    """From one part at 2 the ladder adds one part a step for ten steps, and
    its fine end splits further than the five parts a person would draw."""
    field, _ = table_fit
    counts = [int(l.max()) + 1 for l in field.ladder()][::-1]  # coarse to fine
    assert counts[:10] == list(range(1, 11))
    assert counts[-1] > 5 and all(b >= a for a, b in zip(counts, counts[1:]))


def test_same_seed_same_labels_however_many_threads_fit_and_cut_them(tmp_path):
    from dataclasses import replace

    from core.settings import load_settings

    path = str(tmp_path / "boxes.ply")
    two_boxes().export(path)
    asset = load_asset(path)
    one, two = (Engine(fast_config(seed=5), replace(load_settings(), threads=n)) for n in (1, 2))
    first = one.fit(asset).ladder([0.0, 0.5, 1.0])
    second = two.fit(asset).ladder([0.0, 0.5, 1.0])
    np.testing.assert_array_equal(first, second)


def test_a_scene_with_its_nodes_in_another_order_gives_the_same_parts(tmp_path):
    """Encoders write a scene's nodes in their own order (trimesh's Draco
    export reverses them), and a symmetric model's ties (a table's four
    equal legs) must not fall by it: the same table top and legs as five
    nodes, written in two orders, give the same parts with the same seed."""
    import trimesh

    top = trimesh.creation.box(extents=[1.0, 0.06, 0.6])
    top.apply_translation([0, 0.47, 0])
    legs = []
    for x, z in ((-0.4, -0.22), (-0.4, 0.22), (0.4, -0.22), (0.4, 0.22)):
        legs.append(trimesh.creation.box(extents=[0.07, 0.44, 0.07]))
        legs[-1].apply_translation([x, 0.22, z])
    nodes = [(f"part_{k}", trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(m.vertices, m.faces, max_edge=0.05)))
             for k, m in enumerate([top] + legs)]
    fits, orders = [], []
    for name, listed in (("forward", nodes), ("reversed", nodes[::-1])):
        scene = trimesh.Scene()
        for node, mesh in listed:
            scene.add_geometry(mesh, node_name=node, geom_name=node)
        path = str(tmp_path / f"{name}.glb")
        scene.export(path)
        asset = load_asset(path)
        orders.append(asset.node_names)
        centres = asset.mesh.triangles_center
        fits.append((Engine(fast_config(seed=2)).fit(asset), np.lexsort(centres.T[::-1])))
    assert orders[1] == orders[0][::-1] and orders[1] != orders[0]
    for scale in (0.0, 0.5, 1.0, 1.5):
        a, b = (field.parts(scale)[by_place] for field, by_place in fits)
        assert len(np.unique(a)) > 1
        assert len(np.unique(np.stack([a, b]), axis=1).T) == len(np.unique(a)) == len(np.unique(b))


def test_two_separate_boxes_are_two_parts_then_one(tmp_path):
    path = str(tmp_path / "boxes.ply")
    two_boxes(gap=1.5).export(path)  # each box small next to the pair: scale < 2
    asset = load_asset(path)
    field = Engine(fast_config()).fit(asset)
    two, one = field.parts(1.9), field.parts(2.0)
    piece = (asset.mesh.triangles_center[:, 0] > asset.mesh.bounds.mean(axis=0)[0]).astype(int)
    for p in (0, 1):
        assert len(np.unique(two[piece == p])) == 1
    assert two[piece == 0][0] != two[piece == 1][0]
    assert one.max() == 0


def test_packed_state_round_trip(table_fit):
    from core.partfield import PartField

    field, _ = table_fit
    state = field.to_state()
    again = PartField.from_state(field.asset, state)
    np.testing.assert_allclose(again.features(0.7), field.features(0.7), atol=1e-6)
    np.testing.assert_array_equal(again.parts(0.1), field.parts(0.1))
    np.testing.assert_array_equal(again.area, field.area)


def test_balanced_sampling_gives_small_parts_their_share():
    """A view holding a 900-point part and a 100-point part: uniform draws
    give the small one a tenth of the points; balance 1 draws both about
    equally. Draws are without replacement and follow the group table."""
    import torch

    from core.masks import ViewMasks
    from core.pairs import MaskTables, draw

    member = np.zeros((1000, 2), bool)
    member[:900, 0] = True
    member[900:, 1] = True
    vm = ViewMasks(np.arange(1000, dtype=np.int32) + 5, member, np.array([1.0, 0.2], np.float32))
    tables = MaskTables.build([vm], np.linspace(0.2, 1.0, 11), "cpu")
    gen = torch.Generator().manual_seed(0)
    share = {}
    for balance in (0.0, 1.0):
        cfg = FieldConfig(balance=balance, fine_share=1.0, views_per_step=4)  # every view at scale 0
        d = draw(tables, cfg, 100, gen)
        ids, groups = d.ids.numpy() - 5, d.groups.numpy()
        assert (groups == np.where(ids < 900, 0, 1)).all()
        assert all(len(np.unique(row)) == 100 for row in ids)
        assert (d.scale == 0).all() and (d.larger >= d.scale).all()
        share[balance] = np.mean(groups == 1)
    assert share[0.0] < 0.2
    assert 0.35 < share[1.0] < 0.65


def test_a_view_with_fewer_points_than_drawn_gives_what_it_has():
    import torch

    from core.masks import ViewMasks
    from core.pairs import MaskTables, draw, pair_counts

    small = ViewMasks(np.arange(10, dtype=np.int32), np.ones((10, 1), bool), np.array([0.5], np.float32))
    tables = MaskTables.build([small], np.linspace(0, 1, 11), "cpu")
    d = draw(tables, FieldConfig(views_per_step=2), 64, torch.Generator().manual_seed(1))
    assert d.ids.shape == (2, 10) and (d.groups == 0).all()
    n_pos, n_neg = pair_counts(d.groups, tables.groups.shape[1])
    assert (n_pos.item(), n_neg.item()) == (2 * 10 * 9, 1)  # every pair in one group; the floor of 1


def test_group_table_takes_the_smallest_mask_that_reaches_the_scale():
    """Point 0 is in a small (0.2) and a large (1.0) mask, point 1 in the
    large one only, point 2 in none: below 0.2 point 0 is in the small mask,
    between 0.2 and 1 in the large one, past every mask in its largest."""
    from core.masks import group_table

    member = np.array([[True, True], [True, False], [False, False]])
    sorted_scales, table = group_table(member, np.array([1.0, 0.2]))
    assert sorted_scales.tolist() == [0.2, 1.0]
    assert table.tolist() == [[1, 0, 0], [0, 0, 0], [-1, -1, -1]]


def test_the_mask_familys_finest_parts_put_each_face_in_its_smallest_segment():
    """Six faces: the whole object (scale 2), its halves (1.0 and 0.8), and
    a small part of the first half (0.3): the finest parts (atoms of the
    part tree) are the small part, the rest of the first half, the second
    half, largest first."""
    from core.geomasks import MaskParts

    segments = np.array([[0, 0, 0, 0, 0, 0],
                         [0, 0, 0, 1, 1, 1],
                         [0, 0, -1, -1, -1, -1]])
    family = MaskParts(segments, [np.array([2.0]), np.array([1.0, 0.8]), np.array([0.3])])
    assert family.finest().tolist() == [1, 1, 2, 0, 0, 0]


def test_the_fit_is_sized_by_the_view_holding_the_most_masks():
    """Steps and points per view grow with the busiest view's masks, within
    their bounds: a view of 3 parts is fitted with the fewest of both, one
    of 30 with the most."""
    from core.field import fit_size
    from core.masks import ViewMasks

    def view(n_masks):
        member = np.eye(n_masks, dtype=bool).repeat(10, axis=0)
        return ViewMasks(np.arange(len(member), dtype=np.int32), member, np.ones(n_masks, np.float32))

    cfg = FieldConfig()
    assert fit_size([view(3)], cfg) == (cfg.min_steps, cfg.min_points)
    assert fit_size([view(3), view(30)], cfg) == (cfg.steps, cfg.points_per_view)
    steps, points = fit_size([view(12), view(3)], cfg)
    assert (steps, points) == (max(12 * cfg.steps_per_mask, cfg.min_steps), 12 * cfg.points_per_mask)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_the_field_learns_the_finest_masks_at_scale_0(precision):
    """Nested masks over points on a rod: a tip (the smallest mask) inside a
    half inside the whole. At scale 0 every point's group is its smallest
    mask, so the tip's features must lie apart from the rest of its half
    (with no share of training at scale 0 the gap was 0.003), in either
    arithmetic."""
    from core.field import field_features, fit_field
    from core.masks import ViewMasks
    from core.sampling import Points

    rng = np.random.default_rng(0)
    n = 3000
    xyz = np.c_[rng.uniform(-0.5, 0.5, n), rng.uniform(-0.05, 0.05, (n, 2))].astype(np.float32)
    points = Points(xyz, np.zeros(n, np.int32), np.tile(np.float32([0, 0, 1]), (n, 1)), np.zeros((n, 3), np.uint8))
    tip, half = xyz[:, 0] < -0.4, xyz[:, 0] < 0.0
    member = np.stack([tip, half, np.ones(n, bool)], axis=1)
    scales = np.array([mask_scale(xyz[m]) for m in member.T], np.float32)
    masks = [ViewMasks(np.arange(n, dtype=np.int32), member, scales)]
    model, transform = fit_field(points, masks, FieldConfig(steps=150, precision=precision))
    f = field_features(model, transform, points, 0.0)
    gap = np.linalg.norm(f[tip].mean(axis=0) - f[half & ~tip].mean(axis=0))
    assert gap > 0.5, gap


def test_an_unknown_precision_is_refused_with_the_choices():
    from core.pipeline import Engine

    with pytest.raises(ValueError, match="Unknown precision 'fp8': use auto, float32 or bfloat16"):
        Engine(SegmentConfig(field=FieldConfig(precision="fp8")))


def test_thinned_clustering_matches_plain_hdbscan():
    """Dense near-duplicate features (as a fitted field makes) are thinned
    before HDBSCAN; the clusters are the ones HDBSCAN finds on every point."""
    import warnings

    import hdbscan
    from sklearn.metrics import adjusted_rand_score

    from core.clustering import FEATURE_CELL, cluster_points, thin_duplicates
    from core.config import ClusterConfig

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 8))
    sizes, spreads = [3000, 1500, 400, 60], [3e-4, 3e-4, 3e-2, 3e-4]
    feats = np.concatenate([c + rng.normal(scale=d, size=(k, 8))
                            for c, k, d in zip(centers, sizes, spreads)]).astype(np.float32)
    xyz = rng.random((len(feats), 3)).astype(np.float32)
    cfg = ClusterConfig()
    keep, _ = thin_duplicates(feats, FEATURE_CELL, cfg.min_samples)
    assert keep.sum() < 0.5 * len(feats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = hdbscan.HDBSCAN(min_cluster_size=cfg.min_cluster_size, min_samples=cfg.min_samples,
                                cluster_selection_epsilon=cfg.epsilon).fit_predict(feats.astype(np.float64))
    labels = cluster_points(feats, xyz, cfg)
    assert len(np.unique(plain[plain >= 0])) == 4
    assert adjusted_rand_score(plain, labels) == 1.0


def test_features_closer_than_epsilon_are_one_part():
    """At the coarse end a fitted field packs the whole object into one tight
    spot; HDBSCAN still splits it in two unless the gap is checked."""
    from core.clustering import cluster_points
    from core.config import ClusterConfig

    rng = np.random.default_rng(0)
    xyz = rng.random((400, 3)).astype(np.float32)
    cfg = ClusterConfig()
    for gap, parts in [(0.3 * cfg.epsilon, 1), (10 * cfg.epsilon, 2)]:
        centers = np.repeat([[0.0] * 8, [gap] + [0.0] * 7], 200, axis=0)
        feats = (centers + rng.normal(scale=0.01 * cfg.epsilon, size=centers.shape)).astype(np.float32)
        labels = cluster_points(feats, xyz, cfg)
        counts = [len(np.unique(labels[:200])), len(np.unique(labels[200:])), len(np.unique(labels))]
        assert counts == [1, 1, parts], gap


def test_a_part_spread_over_two_places_becomes_two_parts():
    """Legs 1 and 2 of the fused table share one label (a field that cannot
    tell them apart): they become two parts. Stray faces of leg 3's label on
    the top join the top; two boxes far apart may still share a part."""
    from core.clustering import split_regions
    from core.geometry import surface_links

    mesh, human = table()
    labels = np.where(human == 2, 1, human)
    top = np.nonzero(human == 0)[0]
    stray = top[np.argsort(np.linalg.norm(mesh.triangles_center[top] - [0, 0.5, 0], axis=1))[:4]]
    labels[stray] = 3
    out = split_regions(labels, surface_links(mesh), mesh.triangles_center, mesh.area_faces, 0.002)
    assert len(np.unique(out)) == 5
    for part in range(5):
        faces = human == part
        assert iou(out == np.bincount(out[faces]).argmax(), faces) > 0.98, part

    boxes = two_boxes(gap=1.5)
    one = np.zeros(len(boxes.faces), np.int32)
    out = split_regions(one, surface_links(boxes), boxes.triangles_center, boxes.area_faces, 0.002)
    assert (out == 0).all()


def test_a_label_lent_to_another_piece_goes_back_to_that_pieces_own():
    """Two boxes nearly touching (two pieces): the field gives the left box's label
    to the right box's faces nearest it, as a car's wheel lends its label to
    the body beside it; those faces take the right box's own label. A third
    small box with no label of its own keeps the one it has."""
    from core.clustering import on_own_pieces
    from core.geometry import pieces

    mesh = two_boxes(gap=0.02)
    small = trimesh.creation.box(extents=[0.1, 0.1, 0.1]).apply_translation([0, 0.4, 0])
    mesh = trimesh.util.concatenate([mesh, small])
    piece = pieces(mesh)
    center = mesh.triangles_center
    right = center[:, 0] > 0.26
    labels = np.where(right, 1, 0)
    lent = right & (center[:, 0] < 0.4)
    labels[lent] = 0
    labels[piece == piece[np.argmax(center[:, 1])]] = 0  # the small box: the left box's label alone
    out = on_own_pieces(labels, piece, center, mesh.area_faces)
    assert lent.sum() > 5 and (out[lent] == 1).all()
    assert (out[~lent] == labels[~lent]).all()


def test_faces_take_their_points_majority_else_the_nearest_voted_face():
    """On the fused table, points on the top say 0 and points on the legs say
    1, with only one face in ten sampled: each sampled face keeps its majority
    and nearly every other face gets its own region's label from a neighbour."""
    from core.clustering import vote_donors, vote_faces

    mesh, human = table()
    rng = np.random.default_rng(0)
    sampled = rng.choice(len(mesh.faces), len(mesh.faces) // 10, replace=False)
    point_face = np.repeat(sampled, 3)
    point_labels = (human[point_face] > 0).astype(np.int32)
    point_labels[::3] = 1 - point_labels[::3]  # one of each face's three points disagrees
    donor = vote_donors(point_face, mesh.triangles_center)
    assert (donor[sampled] == sampled).all()
    labels = vote_faces(point_labels, point_face, donor)
    assert (labels[sampled] == (human[sampled] > 0)).all()
    assert ((labels == (human > 0)).mean()) > 0.97
