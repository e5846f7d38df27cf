"""The part tree (core/hierarchy.py), fragments joining, and the classical
peer the quality benchmark sets beside PartScope."""

import numpy as np
import trimesh

from core.clustering import join_fragments
from core.geometry import concavity, face_graph
from core.hierarchy import LINEAR_COUNTS, ladder_count, merge_tree, overlay
from core.scales import default_scales
from meshes import table, two_boxes


def chain(n):
    """n faces in a row, each touching the next: (E, 2) links."""
    return np.stack([np.arange(n - 1), np.arange(1, n)], axis=1)


def test_atoms_most_partitions_put_together_merge_first():
    """Six atoms in a row; partitions that keep 0-2 and 3-5 apart, and cut
    inside them differently each time: two parts are the two halves."""
    atoms = np.arange(6)
    partitions = np.array([[0, 0, 0, 1, 1, 1],
                           [0, 0, 1, 2, 2, 2],
                           [0, 1, 1, 2, 2, 3],
                           [0, 0, 0, 1, 2, 2]])
    tree = merge_tree(atoms, partitions, np.ones(6), chain(6))
    assert tree.n_atoms == 6 and len(tree.merges) == 5
    halves = tree.cut(2)
    assert len(set(halves[:3])) == 1 and len(set(halves[3:])) == 1 and halves[0] != halves[3]
    assert (tree.cut(1) == 0).all() and len(np.unique(tree.cut(6))) == 6
    for count in range(1, 6):  # nested: each cut's parts are unions of the finer cut's
        finer, coarser = tree.cut(count + 1), tree.cut(count)
        assert len(np.unique(np.stack([finer, coarser], 1), axis=0)) == count + 1


def test_crossing_between_atom_groups_costs_more():
    """Partitions that pair atoms 2 and 3 always and every other neighbour
    three times in four: free, 2 and 3 join first; with groups {0,1,2} and
    {3,4,5} they join last."""
    atoms = np.arange(6)
    partitions = np.array([[0] * 6, [0] * 6, [0] * 6, [0, 1, 2, 2, 3, 4]])
    free = merge_tree(atoms, partitions, np.ones(6), chain(6))
    grouped = merge_tree(atoms, partitions, np.ones(6), chain(6), group=np.array([0, 0, 0, 1, 1, 1]))
    assert tuple(free.merges[0]) == (2, 3)
    halves = grouped.cut(2)
    assert len(set(halves[:3])) == 1 and len(set(halves[3:])) == 1 and halves[0] != halves[3]


def test_parts_of_one_piece_join_before_parts_of_two():
    """The same partitions, the atoms in pieces {0,1,2} and {3,4,5} (a
    handle sunk into a body: touching, no shared edge): 2 and 3 join last."""
    atoms = np.arange(6)
    partitions = np.array([[0] * 6, [0] * 6, [0] * 6, [0, 1, 2, 2, 3, 4]])
    tree = merge_tree(atoms, partitions, np.ones(6), chain(6), piece=np.array([0, 0, 0, 1, 1, 1]))
    halves = tree.cut(2)
    assert len(set(halves[:3])) == 1 and len(set(halves[3:])) == 1 and halves[0] != halves[3]


def test_a_small_piece_joins_the_part_it_sits_on_before_two_large_parts_join():
    """Atoms 0 and 1 of one piece, put together by three partitions in four;
    atom 2 a piece of its own that the partitions always put with 1: as small
    as an eye (0.5 % of the area) it joins 1 first; as large as a handle
    (20 %) 0 and 1 join first."""
    partitions = np.array([[0, 1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    links, piece = chain(3), np.array([0, 0, 1])
    eye = merge_tree(np.arange(3), partitions, np.array([10, 10, 0.1]), links, piece=piece)
    handle = merge_tree(np.arange(3), partitions, np.array([10, 10, 5.0]), links, piece=piece)
    assert tuple(eye.merges[0]) == (1, 2) and tuple(handle.merges[0]) == (0, 1)


def test_a_fragment_joins_its_own_piece_not_the_piece_it_touches_most():
    """Faces 0-3 one piece, 4-7 another; face 3 is a fragment of its own
    label touching face 2 once and, across the pieces, faces 4-6: it joins
    its piece. Without pieces it joins the other piece's atom."""
    label = np.array([0, 0, 0, 1, 2, 2, 2, 2])
    links = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [3, 5], [3, 6], [4, 5], [5, 6], [6, 7]])
    area = np.array([1, 1, 1, 0.01, 1, 1, 1, 1])
    piece = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    mixed = overlay([label], links, area, 0.05)
    kept = overlay([label], links, area, 0.05, piece=piece)
    assert mixed[3] == mixed[4] and kept[3] == kept[0] and kept[3] != kept[4]


def test_a_tables_legs_stay_apart_from_its_top_while_the_tops_halves_join():
    """The table cut into its top's two halves and four legs, every
    partition blind (all one cluster): only the concavity of the unions
    tells them apart, and a leg with the top is far from convex."""
    mesh, human = table()
    graph = face_graph(mesh)
    atoms = np.where(human > 0, human - 1, 4 + (mesh.triangles_center[:, 0] > 0))  # legs 0-3, top halves 4, 5
    points, faces = trimesh.sample.sample_surface(mesh, 6000, seed=0)
    concave = concavity(mesh, points, mesh.face_normals[faces], atoms[faces], 6)
    assert concave[4, 5] < 0.1 and concave[:4, 4:].min() > 0.3, concave.round(2)
    area = mesh.area_faces
    blind = merge_tree(atoms, np.zeros((1, len(atoms)), int), area, graph.pairs)
    tree = merge_tree(atoms, np.zeros((1, len(atoms)), int), area, graph.pairs, concave=concave)
    assert tuple(blind.merges[0]) != (4, 5) and tuple(tree.merges[0]) == (4, 5)


def test_parts_that_touch_nothing_still_merge_into_one():
    atoms = np.arange(4)
    tree = merge_tree(atoms, np.array([[0, 0, 1, 1]]), np.ones(4), np.array([[0, 1]]))
    assert len(tree.merges) == 3 and (tree.cut(1) == 0).all()


def test_the_ladder_adds_one_part_a_step_at_the_coarse_end():
    for n in (3, 15, 21, 30, 80):
        counts = [ladder_count(s, n) for s in default_scales()[::-1]]
        assert counts[0] == 1 and counts[-1] == n
        assert counts[:min(n, LINEAR_COUNTS)] == list(range(1, min(n, LINEAR_COUNTS) + 1))
        upto = counts.index(n)  # one part more at least every step until every atom shows
        assert all(b > a for a, b in zip(counts[:upto], counts[1:upto + 1])) and set(counts[upto:]) == {n}, counts
    # off the ladder: the nearest step's count; past either end: the end's
    assert ladder_count(9.0, 30) == 1 and ladder_count(-1.0, 30) == 30
    assert ladder_count(0.56, 30) == ladder_count(0.6, 30) and ladder_count(0.54, 30) == ladder_count(0.5, 30)


def test_a_fragment_joins_the_neighbour_it_shares_most_boundary_with():
    """Faces 0-4 | 5 | 6-9 in a row, face 5 a fragment of 1 % of the area: it
    joins the side its heavier link leads to."""
    labels = np.array([0, 0, 0, 0, 0, 1, 2, 2, 2, 2])
    area = np.r_[np.full(5, 0.11), 0.01, np.full(4, 0.1225)]
    links = chain(10)
    weight = np.ones(9)
    weight[5] = 3.0  # the link 5-6
    out = join_fragments(labels, links, weight, area, 0.05)
    assert out[5] == out[6] != out[4] and len(np.unique(out)) == 2
    # the same labels split into separate regions: each region is a part
    apart = join_fragments(np.array([0, 0, 1, 1, 0, 0]), chain(6), np.ones(5), np.ones(6), 0.0)
    assert len(np.unique(apart)) == 3


def test_the_peer_finds_the_boxes_and_the_table_legs_seeded():
    from tests.peer import segment

    def iou(a, b):
        return (a & b).sum() / (a | b).sum()

    boxes = two_boxes()
    labels = segment(boxes, [2], seed=0)[0]
    side = boxes.triangles_center[:, 0] > boxes.bounds.mean(axis=0)[0]
    assert max(iou(labels == 0, side), iou(labels == 0, ~side)) == 1.0
    mesh, human = table()
    first, again = segment(mesh, [5, 2], seed=3), segment(mesh, [5, 2], seed=3)
    np.testing.assert_array_equal(first, again)
    five = first[0]
    for leg in range(1, 5):
        faces = human == leg
        assert iou(five == np.bincount(five[faces]).argmax(), faces) > 0.7, f"leg {leg}"


def test_a_model_of_a_few_objects_opens_at_their_count():
    """Boxes side by side (pieces of their own) open at as many parts, the
    slider's coarse end counting one a step: 2 boxes at 1.9, 10 at 1.1; small
    pieces (bolts, under 1 % of the surface) do not count; one welded piece,
    or more objects than the ladder's coarse end counts one by one, opens at
    the default."""
    from core.geometry import pieces
    from core.hierarchy import opening_scale
    from core.scales import DEFAULT

    def opening(sizes):
        boxes = [trimesh.creation.box(extents=[s, s, s]).apply_translation([3.0 * i, 0, 0])
                 for i, s in enumerate(sizes)]
        mesh = trimesh.util.concatenate(boxes)
        return opening_scale(pieces(mesh), mesh.area_faces)

    assert opening([1, 1]) == 1.9 and opening([1] * 10) == 1.1 and opening([1] * 3 + [0.05] * 4) == 1.8
    assert opening([1]) == DEFAULT and opening([1] * 11) == DEFAULT
    for count, scale in ((2, 1.9), (10, 1.1)):
        assert ladder_count(scale, 40) == count
    welded = table()[0]
    assert opening_scale(pieces(welded), welded.area_faces) == DEFAULT
