"""Collada (.dae) scenes, as SketchUp, 3ds Max, Maya, Blender before 5.0 and
Assimp write them, read with pycollada into trimesh meshes.

trimesh's own Collada reader leaves out every skinned mesh (an
``instance_controller``: a rigged character is then an empty file) and names
each mesh by its geometry's id (SketchUp's ``ID123``), not by its node. Here
each node's meshes keep the node's name; a skinned mesh lies where its
joints put it in the pose the scene's nodes give (linear blend skinning, as
a viewer draws it without animation; the node that holds the skin does not
move it; the joints looked for under its <skeleton> first; a skin of a
morph, as Maya and 3ds Max write characters with blend shapes, a skin of
its base shape), a morphed mesh is its base shape; the textures a
material names are looked for beside the file as an OBJ's are
(``beside``). Colours,
a material's diffuse and vertex colours, are linear light, as Blender's
Collada importer read a diffuse colour and as glTF holds both. Polygons
are cut into triangles inside them and round their holes (``polygons``;
pycollada cuts fans, and leaves polygons with holes out).
Lines and points are left out. A node's <lookat> and <skew> place it as
COLLADA defines them (pycollada misreads the first and skips the second).
"""

from __future__ import annotations

import collections
import io
import re

import collada
import numpy as np
import PIL.Image
import trimesh

from .colorspace import linear_from_srgb
from .looks import GREY
from .polygons import triangulate, with_holes

#: Collada's up axes (``loading.UPRIGHT`` stands them up as glTF's Y).
UP = {"Z_UP": "Z", "Y_UP": "Y", "X_UP": "X"}
#: Nodes visited at most, instances counted each time they are placed: a
#: file built to multiply (each node placing the next twice) is refused.
MAX_NODES = 200_000


def scene(path: str, resolver) -> tuple[list, str, int]:
    """The file's visual scene: (node name, mesh) of every mesh, placed in
    the file's coordinates; its up axis ('Y', 'Z' or 'X'); and how many
    line primitives it left out.
    ValueError (or pycollada's and lxml's own) where the file does not
    parse. resolver : ``beside.BesideResolver`` for the textures."""
    with open(path, "rb") as f:
        data = f.read()
    if re.search(rb"<!ENTITY", data[:65536]):  # Collada uses none; entities can expand without end
        raise ValueError("declares XML entities, which Collada files do not use")
    if b"<morph" in data:
        data = _skins_on_base_shapes(data)
    ignore = [collada.common.DaeIncompleteError, collada.common.DaeBrokenRefError,
              collada.common.DaeUnsupportedError, collada.common.DaeMalformedError]
    document = collada.Collada(io.BytesIO(data), ignore=ignore)
    visual = document.scene or (document.scenes[0] if len(document.scenes) else None)
    up = UP.get(str(document.assetInfo.upaxis), "Y")
    if visual is None:
        return [], up, 0
    joints, visits = {}, [0]
    for node in visual.nodes:
        _joint_places(node, np.eye(4), joints, visits)
    materials = {}
    left_out, placed = 0, []
    for node in visual.nodes:
        left_out += _place(node, np.eye(4), "", False, joints, materials, resolver, placed)
    return placed, up, left_out


def _skins_on_base_shapes(data: bytes) -> bytes:
    """The document with every skin whose source is a morph (a character
    with blend shapes, as Maya and 3ds Max write it) made a skin of the
    morph's base geometry: pycollada reads skins of geometries only and
    would leave the mesh out without a word; a morphed mesh is its base
    shape here anyway."""
    from lxml import etree

    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, huge_tree=True))
    base = {c.get("id"): m.get("source", "") for c in root.iter("{*}controller") for m in c.iter("{*}morph")}
    changed = False
    for skin in root.iter("{*}skin"):
        source, seen = skin.get("source", ""), set()
        while source.lstrip("#") in base and source not in seen:  # a morph of a morph too
            seen.add(source)
            source = base[source.lstrip("#")]
        if source != skin.get("source", ""):
            skin.set("source", source)
            changed = True
    return etree.tostring(root) if changed else data


def _joint_places(node, parent: np.ndarray, joints: dict, visits: list) -> None:
    """World matrix of every node, by its sid, id and name (a skin names its
    joints by one of them), and every node with its parent's world matrix
    by ('node', its id); ``visits`` counts the nodes, ValueError past
    MAX_NODES (before ``_place`` walks the same tree)."""
    visits[0] += 1
    if visits[0] > MAX_NODES:
        raise ValueError(f"places more than {MAX_NODES:,} nodes")
    if not isinstance(node, collada.scene.Node):
        return
    world = parent @ _local(node)
    target = node.node if isinstance(node, collada.scene.NodeNode) else node
    for key in (target.xmlnode.get("sid"), target.id, getattr(target, "name", None)):
        if key:
            joints.setdefault(key, world)
    if target.id:
        joints.setdefault(("node", target.id), (node, parent))
    for child in node.children:
        _joint_places(child, world, joints, visits)


def _local(node) -> np.ndarray:
    """A node's matrix, its transforms in their order: a <lookat> as COLLADA
    defines it (the node at the eye, its -Z towards the point of interest;
    pycollada writes its axes as rows and the eye in the bottom row) and a
    <skew> as RenderMan's (pycollada leaves it out)."""
    if isinstance(node, collada.scene.NodeNode) or node.xmlnode is None \
            or not any(_tag(child) in ("lookat", "skew") for child in node.xmlnode):
        return np.asarray(node.matrix, np.float64)
    parsed, local = {id(t.xmlnode): t.matrix for t in node.transforms}, np.eye(4)
    for child in node.xmlnode:
        if _tag(child) == "lookat":
            local = local @ _look_at(*_numbers(child).reshape(3, 3))
        elif _tag(child) == "skew":
            local = local @ _skew(_numbers(child))
        elif id(child) in parsed:
            local = local @ np.asarray(parsed[id(child)], np.float64)
    return local


def _tag(element) -> str:
    return str(element.tag).rpartition("}")[2]


def _numbers(element) -> np.ndarray:
    return np.array((element.text or "").split(), np.float64)


def _look_at(eye: np.ndarray, interest: np.ndarray, up: np.ndarray) -> np.ndarray:
    z = eye - interest
    x = np.cross(up, z)
    if not np.linalg.norm(z) or not np.linalg.norm(x):
        raise ValueError("a <lookat> whose eye is its point of interest, or looks along its up direction")
    x, z = x / np.linalg.norm(x), z / np.linalg.norm(z)
    matrix = np.eye(4)
    matrix[:3, :3], matrix[:3, 3] = np.c_[x, np.cross(z, x), z], eye
    return matrix


def _skew(values: np.ndarray) -> np.ndarray:
    """RenderMan's skew (angle in degrees, an axis turned, an axis moved
    along): a shear along the second axis that turns the first by the angle
    towards it."""
    if len(values) != 7:
        raise ValueError("a <skew> without its 7 numbers")
    along = values[4:] / np.linalg.norm(values[4:])
    parallel = values[1:4] @ along
    across = values[1:4] - parallel * along
    if not np.linalg.norm(across):
        return np.eye(4)  # the turned axis lies along the other: nothing to turn
    first = np.arctan2(parallel, np.linalg.norm(across))
    if not -np.pi / 2 < first + np.radians(values[0]) < np.pi / 2:
        raise ValueError("a <skew> by an angle past the one between its axes")
    matrix = np.eye(4)
    matrix[:3, :3] += (np.tan(first + np.radians(values[0])) - np.tan(first)) * np.outer(
        along, across / np.linalg.norm(across))
    return matrix


def _rig(instance, joints: dict):
    """The joints a skin's instance sees: those under its <skeleton> roots
    first (two characters whose bones share names, each posed by its own),
    then the scene's (the first of a name)."""
    mine = []
    for element in instance.xmlnode.iter("{*}skeleton"):
        root = joints.get(("node", (element.text or "").strip().lstrip("#")))
        if root is not None:
            mine.append({})
            _joint_places(*root, mine[-1], [0])
    return collections.ChainMap(*mine, joints) if mine else joints


def _place(node, parent: np.ndarray, name: str, named: bool, joints: dict, materials: dict, resolver,
           out: list) -> int:
    """Add the meshes under ``node`` to ``out`` as (name, mesh), each under
    the name of the nearest node that has one (``named``: its parent's
    own); the line primitives left out."""
    if isinstance(node, collada.scene.NodeNode):  # an instance: its own node's name, else its definition's
        own = node.node.name or node.node.id
        name = name if named else own or name
    elif isinstance(node, collada.scene.Node):
        named = bool(node.name)
        name = node.name or name or node.id or ""
    if isinstance(node, collada.scene.Node):
        world = parent @ _local(node)
        return sum(_place(child, world, name, named, joints, materials, resolver, out) for child in node.children)
    controller = getattr(node, "controller", None)
    if isinstance(node, collada.scene.GeometryNode):
        geometry, positions = node.geometry, None
    elif isinstance(controller, collada.controller.Skin):
        geometry, positions = controller.geometry, _skinned(controller, _rig(node, joints), parent)
    elif isinstance(controller, collada.controller.Morph):
        geometry, positions = controller.source_geometry, None
    else:  # cameras, lights
        return 0
    bound = {m.symbol: m.target for m in node.materials}
    left_out = 0
    for primitive in geometry.primitives:
        if isinstance(primitive, collada.polylist.Polylist):  # <polygons> too
            primitive = _triangles(primitive)
        if not isinstance(primitive, collada.triangleset.TriangleSet):
            left_out += 1
            continue
        if primitive.vertex is None or not len(primitive.vertex_index):
            continue
        corners = np.asarray(primitive.vertex_index, np.int64).reshape(-1, 3)
        if positions is None:
            xyz = trimesh.transform_points(np.asarray(primitive.vertex, np.float64), parent)
        else:
            xyz = positions
        mesh = trimesh.Trimesh(_at(xyz, corners), np.arange(corners.size).reshape(-1, 3), process=False)
        # a primitive that names no material it is bound to shows the one the node binds (as assimp)
        material = bound.get(primitive.material, next(iter(bound.values())) if len(bound) == 1 else None)
        uv = None
        if len(primitive.texcoordset):
            uv = _at(np.asarray(primitive.texcoordset[0], np.float64), primitive.texcoord_indexset[0])[:, :2]
        mesh.visual = trimesh.visual.TextureVisuals(uv=uv, material=_material(material, materials, resolver))
        color = _colors(primitive)
        if color is not None:
            mesh.visual.vertex_attributes["color"] = color
        out.append((name or "mesh", mesh))
    return left_out


def _triangles(polylist: collada.polylist.Polylist) -> collada.triangleset.TriangleSet:
    """A polylist's polygons cut into triangles inside them
    (``polygons.triangulate``; pycollada cuts a fan from each first corner,
    outside a concave polygon), and a <polygons>' polygons with holes
    (``_holed``), each corner's inputs as they were; polygons of fewer than
    three corners left out. Left to pycollada where its counts or corners
    do not add up, so ``_at`` says so."""
    sizes, index, at = np.asarray(polylist.vcounts, np.int64), np.asarray(polylist.index), polylist.vertex_index
    corners = np.zeros((0, polylist.nindices), np.int64)
    if len(index):
        if (sizes.min() < 0 or sizes.sum() != len(index) or sizes.max() < 3
                or at.min() < 0 or at.max() >= len(polylist.vertex)):
            return polylist.triangleset()
        kept = np.repeat(sizes >= 3, sizes)
        _, corner = triangulate(sizes[sizes >= 3], at[kept], np.asarray(polylist.vertex, np.float64))
        corners = index[kept][corner].reshape(-1, polylist.nindices)
    corners = np.concatenate([corners, _holed(polylist)])
    if not len(corners):
        return polylist.triangleset()
    return collada.triangleset.TriangleSet(polylist.sources, polylist.material, corners.ravel(), polylist.xmlnode)


def _holed(polylist: collada.polylist.Polylist) -> np.ndarray:
    """(3 T, inputs) the corners of the triangles of a <polygons>' polygons
    with holes (each <ph>: its outline a <p>, each hole an <h>), which
    pycollada leaves out; ValueError where one points past the positions."""
    node, width = polylist.xmlnode, polylist.nindices
    space = node.tag[:node.tag.index("}") + 1] if node.tag.startswith("{") else ""
    offset, source = polylist.sources["VERTEX"][0][0], polylist.sources["VERTEX"][0][4]
    points = np.asarray(source.data, np.float64).reshape(-1, 3)
    out = [np.zeros((0, width), np.int64)]
    for holed in node.findall(f"{space}ph"):
        rings = [np.array((ring.text or "").split(), np.int64).reshape(-1, width)
                 for ring in holed.findall(f"{space}p")[:1] + holed.findall(f"{space}h")]
        if not rings or len(rings[0]) < 3:
            continue
        rings = rings[:1] + [ring for ring in rings[1:] if len(ring) >= 3]
        joined = np.concatenate(rings)
        out.append(joined[with_holes([_at(points, ring[:, offset]) for ring in rings]).ravel()])
    return np.concatenate(out)


def _at(values: np.ndarray, index) -> np.ndarray:
    """``values`` at every corner's ``index``; ValueError where one points
    past them (numpy would wrap a negative one round without a word)."""
    index = np.asarray(index, np.int64).ravel()
    if len(index) and (index.min() < 0 or index.max() >= len(values)):
        raise ValueError("has faces that point at missing vertices")
    return values[index]


def _skinned(skin, joints: dict, holder: np.ndarray) -> np.ndarray:
    """(V, 3) the skin's positions where its joints put them: each vertex
    times the bind shape matrix, then the weighted sum of its joints' world
    matrices times their inverse bind matrices. A vertex with no weight, or
    a joint the scene does not hold, keeps the bind shape where the skin's
    node stands (``holder``)."""
    points = _positions(skin.geometry)
    bind = np.asarray(skin.bind_shape_matrix, np.float64)
    shaped = trimesh.transform_points(points, bind)
    names = list(skin.joint_matrices)
    places = np.stack([joints[n] @ np.asarray(skin.joint_matrices[n], np.float64) if n in joints else holder
                       for n in names]) if names else np.zeros((0, 4, 4))
    blend = np.zeros((len(points), 4, 4))
    total = np.zeros(len(points))
    weights = np.asarray(skin.weights.data, np.float64).ravel()
    for vertex, (joint, weight) in enumerate(zip(skin.joint_index, skin.weight_index)):
        if vertex >= len(points) or not len(joint):
            continue
        w = weights[np.asarray(weight)]
        blend[vertex] = np.tensordot(w, places[np.asarray(joint)], axes=1)
        total[vertex] = w.sum()
    bare = total <= 1e-12
    blend[bare] = holder
    total[bare] = 1.0
    blend /= total[:, None, None]
    return np.einsum("vij,vj->vi", blend[:, :3, :3], shaped) + blend[:, :3, 3]


def _positions(geometry) -> np.ndarray:
    """(V, 3) the geometry's vertex positions, as its skin indexes them."""
    for primitive in geometry.primitives:
        if getattr(primitive, "vertex", None) is not None:
            return np.asarray(primitive.vertex, np.float64)
    return np.zeros((0, 3))


def _colors(primitive) -> np.ndarray | None:
    """(3 N, 4) uint8 the primitive's vertex colours per corner, or None."""
    sources = getattr(primitive, "sources", {}).get("COLOR") or []
    if not sources or primitive.index is None or not len(primitive.index):
        return None
    offset, data = sources[0][0], np.asarray(sources[0][4].data, np.float64)
    values = _at(data.reshape(len(data), -1), np.asarray(primitive.index)[:, :, offset])
    if values.shape[1] == 3:
        values = np.hstack([values, np.ones((len(values), 1))])
    return np.round(np.clip(values[:, :4], 0, 1) * 255).astype(np.uint8)


def _material(material, cache: dict, resolver):
    """A trimesh PBR material of a Collada material: its diffuse colour or
    texture (a <constant> one's emission; found by ``resolver``, else left
    out; without a material, GREY); a texture that is also the material's
    transparency, its alpha the opacity (``opaque="A_ONE"``, as SketchUp
    writes leaf and figure cards),
    cut out where that alpha is under a half (glTF's alphaMode MASK); other
    transparency drawn opaque."""
    key = id(material)
    if key in cache:
        return cache[key]
    color, image = np.array([0.8, 0.8, 0.8, 1.0]), None
    if material is None:  # none bound: shown as a surface without colour is in every format
        color[:3] = linear_from_srgb(GREY[:3])
    effect = getattr(material, "effect", None)
    # a <constant> effect is lit by nothing: it shows its emission
    diffuse = getattr(effect, "emission" if getattr(effect, "shadingtype", None) == "constant" else "diffuse", None)
    transparent = getattr(effect, "transparent", None)
    cut_out = False
    if isinstance(diffuse, collada.material.Map):
        color[:] = 1.0
        image = _image(diffuse, resolver, cache)
        cut_out = (isinstance(transparent, collada.material.Map) and _image_path(transparent) == _image_path(diffuse)
                   and effect.opaque_mode == collada.material.OPAQUE_MODE.A_ONE)
    elif diffuse is not None:
        color[:len(diffuse[:4])] = np.asarray(diffuse[:4], np.float64)
    cache[key] = trimesh.visual.material.PBRMaterial(
        baseColorFactor=np.round(np.clip(color, 0, 1) * 255).astype(np.uint8), baseColorTexture=image,
        metallicFactor=0.0, roughnessFactor=1.0, doubleSided=True, alphaMode="MASK" if cut_out else None)
    return cache[key]


def _image_path(texture) -> str | None:
    """The path of the image a Collada texture samples, None where it names none."""
    try:
        return texture.sampler.surface.image.path
    except AttributeError:
        return None


def _image(texture, resolver, cache: dict):
    """The texture's image, or None where it is not beside the file or does
    not open (the resolver keeps its name for the warning); one that opens
    but does not decode is dropped, with its warning, as a glTF's
    (``loading._drop_broken_images``). One image per file in ``cache``:
    the materials that show it share it, and its texture."""
    path = _image_path(texture)
    if not path:
        return None
    if ("image", path) not in cache:
        try:
            cache[("image", path)] = PIL.Image.open(io.BytesIO(resolver.get(path)))
        except Exception:  # missing or unreadable: the resolver says which
            cache[("image", path)] = None
    return cache[("image", path)]
