"""Load a mesh file into one normalized mesh that keeps, per face, the node it
came from and what its surface looks like (texture, vertex or material color).

Face order is a contract: it is the order of
``trimesh.load(path, force='mesh', process=False).faces`` (for a glTF that
trimesh would misread, of the plain GLB ``gltf_decode.prepare`` makes of it: the
file's own primitives in its order, fans as triangles, no lines; for Collada
and 3MF, which trimesh misreads, mesh by mesh as ``core.collada`` and
``core.threemf`` place them), less the nodes a game engine does not draw
(collision shapes, coarser levels of detail: ``core.nodes``). Windings
are not: faces wound inward are turned, so every piece faces out. A file
that cannot be used raises ``InputError`` with one sentence that names the
cause; what is left out of a file that can be used is said in
``Asset.warnings``.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass, field

import numpy as np
import PIL.Image
import trimesh

from . import blender, gltf_decode
from .nodes import not_drawn
from .beside import BesideResolver
from .collada import scene as collada_scene
from .threemf import scene as threemf_scene
from .glb import MAGIC, GltfError
from .gltf import primitives_in_words
from .ply import ply_header, ply_scene, ply_texture
from .stl import stl_scene
from .notes import Note
from .looks import keep_vertex_colors, looks, ply_vertex_colors, white_under_textures
from .text import obj_source, off_mesh, off_stated_faces
from .inputs import (BLENDER_FORMATS, FORMAT_LIST, FORMATS, MAX_TEXTURE_PIXELS, MAX_UNZIPPED, UNREADABLE_IMAGE,
                     USD_LAYERS, ZIPS, InputError, occurrences, past_face_limit, past_model_bytes, unzip_model)
from .usd import usd_scene
from .topology import close_cracks, outward_flips

log = logging.getLogger(__name__)

#: An STL is Z-up, as CAD tools, slicers and Blender read it, and so is a USD
#: stage that says so; PartScope, as glTF, is Y-up: (x, y, z) becomes
#: (x, z, -y), as Blender writes the STL it read to glTF, so the model stands
#: in the viewer and in the downloads.
Z_UP = np.array([[1.0, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]])
#: Turns that stand a file written with another up axis (Collada's X_UP) up as glTF's Y.
UPRIGHT = {"Z": Z_UP, "X": np.array([[0.0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])}
#: An OBJ naming more objects and groups than this has a node per material:
#: a converter's group per few faces is no artist's object.
MAX_OBJ_NODES = 2000
#: A material's keys (trimesh's) for the image that gives its surface colour.
COLOUR_MAPS = ("image", "baseColorTexture")
#: Surface area (of the model scaled to a largest side of 1) below which
#: there is nothing to segment: every face is flat as a line or a point.
MIN_AREA = 1e-9


@dataclass
class Asset:
    """One object, normalized (largest bounding-box side 1, centered at 0).

    mesh : trimesh.Trimesh, faces in the contract order, wound outward, vertices normalized
    face_node : (F,) int32, index into ``node_names``
    node_names : list of str, one per scene node (primitive) holding geometry
    face_material : (F,) int32, index into ``textures`` or -1 for none
    textures : list of (h, w, 4) uint8 images
    corner_uv : (F, 3, 2) float32 texture coordinates, NaN without texture
    corner_color : (F, 3, 4) uint8, vertex or material color (texture tint)
    to_original : (4, 4) float64, maps normalized coordinates to the file's
    digest : str, sha256 over geometry and appearance, the object's identity
    name : str, file name
    source_meshes : list of trimesh.Trimesh, one per node in ``node_names``,
        in the file's own coordinates (a Z-up file's stood up, ``Z_UP``) with
        their original visuals (for export)
    warnings : list of str, one sentence each for what was left out of the
        file to load it (a map that is not beside it, line primitives)
    linear_colors : bool, whether the source meshes' vertex and face colors
        are linear light (glTF) rather than sRGB-encoded (PLY, OFF, OBJ)
    """

    mesh: trimesh.Trimesh
    face_node: np.ndarray
    node_names: list
    face_material: np.ndarray
    textures: list
    corner_uv: np.ndarray
    corner_color: np.ndarray
    to_original: np.ndarray
    digest: str
    name: str
    source_meshes: list
    warnings: list = field(default_factory=list)
    linear_colors: bool = False

    @property
    def n_faces(self) -> int:
        return len(self.mesh.faces)

    @property
    def has_texture(self) -> bool:
        return bool(self.textures) and bool((self.face_material >= 0).any())


def load_asset(path: str) -> Asset:
    """Load GLB, glTF, OBJ, PLY, STL, OFF, USD(Z), FBX, .blend (FBX and
    .blend through Blender, ``core.blender``), DAE (``core.collada``) or
    3MF (``core.threemf``), or a ZIP holding one (a glTF with its .bin and
    images; a KMZ, a .zae); raise InputError with a sentence."""
    name = os.path.basename(str(path))
    if not os.path.isfile(path):
        raise InputError(f"There is no file at '{path}': check the path and try again.")
    ext = os.path.splitext(name)[1].lower()
    if ext in ZIPS:
        with tempfile.TemporaryDirectory(prefix="partscope-zip-") as folder:
            return load_asset(unzip_model(path, name, folder))
    if ext not in FORMATS:
        raise InputError(
            f"'{name}' is not a format PartScope reads: use {FORMAT_LIST}.")
    fmt = FORMATS[ext]
    if os.path.getsize(path) == 0:
        raise InputError(f"'{name}' is empty (0 bytes): the upload or the export did not finish; try again.")
    if fmt in BLENDER_FORMATS:  # Blender writes it as a GLB, read as any GLB
        with tempfile.TemporaryDirectory(prefix="partscope-blender-") as folder:
            try:
                glb, missing, unreadable = blender.to_glb(path, name, fmt, folder)
            except ValueError as exc:
                raise InputError(f"{exc}.") from None
            scene, warnings, quantized = _read_scene(glb, name, "GLB")
        warnings += [_missing_beside(file, fmt) for file in missing] + [
            _unreadable(image) for image in unreadable]
    else:
        scene, warnings, quantized = _read_scene(path, name, fmt)
    try:
        meshes, node_names = _meshes(scene, name, fmt)
    except InputError as exc:  # what is missing or hidden may be why: say so
        raise InputError(_with_what_is_missing(exc, name, warnings)) from None
    left, left_out = not_drawn(node_names)
    if left_out:  # a game asset's collision shapes and coarser levels of detail
        drawn = np.flatnonzero(~left)
        meshes, node_names = [meshes[i] for i in drawn], [node_names[i] for i in drawn]
        warnings.append(left_out)
    if scene.metadata.get("up") in UPRIGHT:  # stood up mesh by mesh: trimesh turns a scene node by node, slowly
        for mesh in meshes:
            mesh.apply_transform(UPRIGHT[scene.metadata["up"]])
    vertices = np.vstack([m.vertices for m in meshes]).astype(np.float64)
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])[:-1]
    faces = np.vstack([m.faces + o for m, o in zip(meshes, offsets)]).astype(np.int64)
    if quantized:  # seams between primitives as the uncompressed file shares them
        group = np.repeat(np.arange(len(meshes)), [len(m.vertices) for m in meshes])
        vertices = close_cracks(vertices, faces, group)
    mesh, to_original = _normalized(vertices, faces, name)
    if scene.metadata.get("up") in UPRIGHT:  # back to the file's own, Z-up (or X-up) coordinates
        to_original = UPRIGHT[scene.metadata["up"]].T @ to_original
    linear = fmt in ("GLB", "glTF", "USDZ", "USD", "DAE", *BLENDER_FORMATS)  # their colours are linear light
    textures, mat_ids, uvs, colors = looks(meshes, linear)
    asset = Asset(
        mesh=mesh, face_node=np.repeat(np.arange(len(meshes), dtype=np.int32), [len(m.faces) for m in meshes]),
        node_names=node_names, face_material=mat_ids, textures=textures, corner_uv=uvs, corner_color=colors,
        to_original=to_original, digest="", name=name, source_meshes=meshes, linear_colors=linear,
        warnings=[f"'{name}' {w}." for w in warnings])
    asset.digest = _digest(vertices, faces, asset)
    _wind_outward(asset)
    for warning in asset.warnings:
        log.warning(warning)
    log.info("loaded %s: %d faces, %d nodes, %d textures", name, len(faces), len(meshes), len(textures))
    return asset


def _meshes(scene: trimesh.Scene, name: str, fmt: str) -> tuple[list, list]:
    """The scene's meshes with faces, placed in world coordinates, and their
    node names; InputError when it has none (saying what it holds instead)."""
    meshes, node_names = [], []
    n_points = n_lines = 0
    for geom in scene.geometry.values():
        _check_geometry(geom, name)
    placed = sum(len(getattr(scene.geometry.get(scene.graph[node][1]), "faces", ()))
                 for node in scene.graph.nodes_geometry)
    _within_face_limit(placed, name)
    for geom in _dumped(scene):
        if isinstance(geom, trimesh.Trimesh):
            if len(geom.faces):
                meshes.append(keep_vertex_colors(geom, scene.geometry.get(geom.metadata.get("name"))))
                node_names.append(str(geom.metadata.get("node") or geom.metadata.get("name")
                                      or f"node_{len(node_names)}"))
            else:
                n_points += len(geom.vertices)
        elif isinstance(geom, trimesh.PointCloud):
            n_points += len(geom.vertices)
        elif hasattr(geom, "entities"):  # a trimesh Path: lines
            n_lines += len(geom.entities)
    if meshes:
        return meshes, node_names
    if n_lines:
        raise InputError(f"'{name}' holds only lines, no faces: export a model with surfaces.")
    if n_points:
        raise InputError(
            f"'{name}' is a point cloud ({n_points} points, no faces): PartScope "
            "segments surface meshes; export the model with its faces.")
    raise _NoFaces(f"'{name}' holds no faces: it is empty, damaged or not really {fmt}; export the model again.")


def _dumped(scene: trimesh.Scene) -> list:
    """``scene.dump()``: a copy of each mesh where its nodes place it, the
    images of its material the scene's own, not copied (trimesh copies
    them: an 8K image decoded is 200 MB)."""
    held = list(_scene_images(scene))
    for material, key, _ in held:
        setattr(material, key, None)
    try:
        dumped = scene.dump()
    finally:
        for material, key, image in held:
            setattr(material, key, image)
    for geom in dumped:
        for key, image in _images_of(_material(scene.geometry.get(geom.metadata.get("name")))).items():
            setattr(_material(geom), key, image)
    return dumped


class _NoFaces(InputError):
    """A model that holds nothing drawn: no faces, lines or points."""


def _with_what_is_missing(refusal: InputError, name: str, warnings: list) -> str:
    """The refusal of a model, said as what it hides (a stage of invisible
    collision shapes) or what is missing (a USD stage whose meshes are in a
    layer uploaded without it) where it holds nothing drawn, else followed
    by the files it names that are missing (``notes.Note``)."""
    missing = [w for w in warnings if getattr(w, "missing", "")]
    hides = [w for w in warnings if getattr(w, "hidden", 0)]
    holding = [w for w in missing if w.holds_faces]
    if isinstance(refusal, _NoFaces) and hides:
        return f"'{name}' holds no faces that are shown: it {hides[0]}; make what it hides visible to segment it."
    if isinstance(refusal, _NoFaces) and holding:
        return (f"'{name}' holds no faces without {' and '.join(w.missing for w in holding)}, which "
                f"{'is' if len(holding) == 1 else 'are'} not beside it; keep {holding[0].keep}.")
    return " ".join([str(refusal)] + [f"Also, '{name}' {w}." for w in missing])


def _check_geometry(geom, name: str) -> None:
    """InputError where a mesh's vertices are not points in 3D (an OBJ cut
    short in a row) or its faces point past them; checked before
    ``Scene.dump`` moves the vertices and copies face colours through the
    faces."""
    vertices = np.asarray(getattr(geom, "vertices", np.zeros((0, 3))))
    if not isinstance(geom, trimesh.path.Path2D) and (vertices.ndim != 2 or vertices.shape[1] != 3):
        raise InputError(f"'{name}' has vertices that are not points in 3D: the file is damaged; export it again.")
    faces = getattr(geom, "faces", None)
    if faces is not None and len(faces) and (faces.min() < 0 or faces.max() >= len(geom.vertices)):
        raise InputError(f"'{name}' has faces that point at missing vertices: the file is damaged; export it again.")


def _within_texture_budget(scene: trimesh.Scene, name: str) -> list[str]:
    """Past MAX_TEXTURE_PIXELS (image sizes read from their headers, nothing
    decoded yet), the images no colour map shows (normal, roughness,
    occlusion, emissive maps) are taken out of the materials, the largest
    first, until the rest fit: the warning saying so; InputError where the
    colour textures alone do not fit."""
    uses = {}  # id of each image: (the image, its (material, key) uses)
    for material, key, image in _scene_images(scene):
        uses.setdefault(id(image), (image, []))[1].append((material, key))
    pixels = {i: image.width * image.height for i, (image, _) in uses.items()}
    total = sum(pixels.values())
    stated = scene.metadata.get("texture_pixels", 0)  # a USD stage's: its reader decodes none past the budget
    if max(total, stated) <= MAX_TEXTURE_PIXELS:
        return []
    spare = sorted((i for i, (_, where) in uses.items() if all(key not in COLOUR_MAPS for _, key in where)),
                   key=lambda i: -pixels[i])
    budget = f"{MAX_TEXTURE_PIXELS / 1e6:.0f} million: four 8K images or sixteen 4K ones"
    colour = max(total - sum(pixels[i] for i in spare), stated)
    if colour > MAX_TEXTURE_PIXELS:
        raise InputError(f"'{name}' holds colour textures of {colour / 1e6:.0f} million pixels in all, more than "
                         f"PartScope decodes ({budget}): export it with smaller textures (4K or less) and try again.")
    for i in spare:
        if total <= MAX_TEXTURE_PIXELS:
            break
        for material, key in uses[i][1]:
            setattr(material, key, None)
        total -= pixels[i]
    return [f"holds texture images of more pixels in all than PartScope decodes ({budget}): some of its normal, "
            "roughness and other maps that are not colour are left out, of the parts and the downloads; export "
            "it with smaller textures to keep them"]


def _material(geom):
    """A mesh's material (trimesh's), or None where it has none."""
    return getattr(getattr(geom, "visual", None), "material", None)


def _scene_images(scene: trimesh.Scene):
    """(material, key, PIL image) of every image every mesh's material shows."""
    for geom in scene.geometry.values():
        material = _material(geom)
        for key, image in _images_of(material).items():
            yield material, key, image


def _images_of(material) -> dict:
    """{key: PIL image} of a trimesh material (its colour map under "image"
    or "baseColorTexture", its other maps under their glTF names)."""
    images = dict(getattr(material, "_data", {}), image=getattr(material, "image", None))
    return {key: image for key, image in images.items() if isinstance(image, PIL.Image.Image)}


def _drop_broken_images(scene: trimesh.Scene) -> bool:
    """Take out of the materials every image that does not decode (trimesh
    leaves them undecoded until they are first used); whether any was."""
    broken = False
    for material, key, image in _scene_images(scene):
        try:
            image.load()
        except Exception:  # Pillow's decoders fail in many ways on damaged data
            broken = True
            setattr(material, key, None)
    return broken


def _normalized(vertices: np.ndarray, faces: np.ndarray, name: str) -> tuple[trimesh.Trimesh, np.ndarray]:
    """The mesh centred with its largest side 1 (method.md §1), and (4, 4) the
    transform back to the file's coordinates; InputError for a mesh with no
    usable surface."""
    if not np.isfinite(vertices).all():
        raise InputError(
            f"'{name}' has vertices with NaN or infinite coordinates: repair or re-export the mesh.")
    lo, hi = vertices.min(0), vertices.max(0)
    extent = float((hi - lo).max())
    if extent <= 0:
        raise InputError(f"'{name}' has no extent (all vertices at one point): it is not a usable mesh.")
    center = (lo + hi) / 2
    to_original = np.eye(4)
    to_original[:3, :3] *= extent
    to_original[:3, 3] = center
    mesh = trimesh.Trimesh((vertices - center) / extent, faces, process=False)
    if mesh.area < MIN_AREA:
        lo, hi = np.percentile(vertices, [1, 99], axis=0)
        most = float((hi - lo).max())
        if 0 < most < extent / 1000:  # a stray corner (a damaged number) makes every real face vanishingly small
            raise InputError(f"'{name}' has a corner {extent:.3g} away where most lie within {most:.3g}: the file is "
                             "damaged or holds stray faces; repair or re-export the mesh.")
        raise InputError(f"'{name}' has only faces of zero area (flat as a line or a point): it has no "
                         "surface to segment; repair or re-export the mesh.")
    return mesh, to_original


def _read_scene(path: str, name: str, fmt: str) -> tuple[trimesh.Scene, list[str], bool]:
    """The file as a trimesh scene, the warnings of what was left out (each
    the end of a sentence that starts with the file's name) and whether its
    positions were quantized: glTF checked and decoded first (core/gltf.py);
    OBJ text read in its encoding (core/text.py), one node per object
    (``o``), group (``g``, which Maya and 3ds Max write for an object) and
    material, as glTF holds a mesh's primitives (per material alone past
    MAX_OBJ_NODES objects and groups); an OBJ's or PLY's texture shown as it
    is, not times a colour (``white_under_textures``); a PLY's vertex
    colours beside texture coordinates without a texture, or named as
    scanners name them (``ply_vertex_colors``); an OFF read with its
    colours and polygons (``text.off_mesh``), an STL with its face colours
    and by its length where its header's count disagrees (``stl``); Collada
    and 3MF by their own readers (``collada``, ``threemf``), each mesh a
    node under its own name, an OBJ's points, lines and free-form surfaces
    and a Collada file's lines counted in a warning; the files an OBJ, PLY or Collada file names found as exporters
    name them (``beside``), a warning for each that is not there."""
    source, kind, resolver, warnings, quantized, named = path, None, None, [], False, 0
    left_out = {"point": 0, "line": 0, "free-form": 0}  # primitives
    try:
        if fmt in ("GLB", "glTF"):
            source, warnings, quantized = gltf_decode.prepare(path)
            with open(path, "rb") as f:  # by what it holds: a .gltf written as .glb (as VTK names it), or the reverse
                kind = "glb" if source is not path or f.read(4) == MAGIC else "gltf"
        elif fmt == "OBJ":
            with open(path, "rb") as f:  # its faces counted before the text is read
                _within_face_limit(occurrences(f, b"\nf "), name)
            source, resolver, kinds = obj_source(path)
            free_form = kinds["curv"] + kinds["curv2"] + kinds["surf"]
            kind, named = "obj", kinds["o"] + kinds["g"]
            left_out = {"point": kinds["p"], "line": kinds["l"], "free-form": free_form}
            if free_form and not kinds["f"]:
                raise InputError(f"'{name}' holds only free-form curves and surfaces (NURBS or Bezier), no "
                                 "faces: export it as a polygon mesh.")
            if kinds["l"] and not kinds["f"]:
                raise InputError(f"'{name}' holds only lines, no faces: export a model with surfaces.")
    except GltfError as exc:
        raise InputError(f"'{name}' {exc}.") from None
    except InputError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        log.info("glTF structure of %s: %r", name, exc)
        raise InputError(f"'{name}' is not valid {fmt}: it refers to parts of itself that are not there; "
                         "export it again.") from None
    bare_uv = fmt == "PLY" and not ply_texture(path)  # keep its vertices as numbered, for their colours
    resolver = BesideResolver(path) if fmt in ("PLY", "DAE") else resolver
    if fmt == "3MF":
        _within_3mf_limits(path, name)
    if fmt in ("PLY", "OFF"):  # a scan of millions of faces, refused by its header before its rows are read
        _within_face_limit(_stated_faces(path, fmt), name)
    modifiers = 0
    try:
        split = fmt == "OBJ" and named <= MAX_OBJ_NODES  # trimesh's split takes 28 s for 80,000 groups
        options = ({"fix_texture": False} if bare_uv else {"split_objects": True, "split_groups": True} if split else {})
        options.update(resolver=resolver, process=False)
        if fmt == "PLY":
            scene = ply_scene(path, options)
            ply_vertex_colors(scene, bare_uv)  # columns of unequal length are a damaged file too
        elif fmt in ("USDZ", "USD"):
            scene, missing, notes = usd_scene(path, MAX_TEXTURE_PIXELS)
            warnings += notes + [_missing_beside(file, fmt) for file in missing]
        elif fmt == "DAE":
            placed, up, left_out["line"] = collada_scene(path, resolver)
            scene = _named_scene(placed, up)
        elif fmt == "3MF":  # Z up, as printers' build plates
            placed, modifiers, missing = threemf_scene(path)
            scene = _named_scene(placed, "Z")
            warnings += [f"refers to '{image}' (a texture), which it does not hold or which does not open as an image: "
                         "the model is loaded without it; export it again" for image in missing]
        elif fmt == "STL":
            scene, held, said = stl_scene(path, options)
            if 0 < said != held:
                warnings.append(f"says it has {said:,} faces but holds {held:,}: the model is loaded with those it "
                                "holds; if some are missing, export it again")
        elif fmt == "OFF":
            mesh, held, said = off_mesh(path)
            scene = trimesh.Scene({os.path.basename(path): mesh})
            if held < said:
                warnings.append(f"says it has {said:,} faces but holds {held:,}: the model is loaded with those it "
                                "holds; if some are missing, export it again")
        else:
            scene = trimesh.load_scene(source, file_type=kind, **options)
    except Exception as exc:  # any parser failure means the same thing to a person
        log.info("loader failed on %s: %r", name, exc)
        raise InputError(
            f"'{name}' could not be read as {fmt}: the file looks damaged or is not really {fmt}; "
            "export it again and try again.") from exc
    if left_out["line"] and not scene.geometry:
        raise InputError(f"'{name}' holds only lines, no faces: export a model with surfaces.")
    if any(left_out.values()):
        warnings.append(f"also holds {primitives_in_words(left_out)}, which PartScope leaves out: only faces are "
                        "segmented")
    if modifiers:
        warnings.append(f"also holds {modifiers} slicer volume{'s' * (modifiers > 1)} that "
                        f"{'are' if modifiers > 1 else 'is'} not printed (modifiers, negative volumes, support "
                        "blockers or enforcers), which PartScope leaves out: only the printed parts are segmented")
    warnings += _within_texture_budget(scene, name)
    if _drop_broken_images(scene):
        warnings.append("has a texture that does not decode (the image is damaged): the model is loaded without it; "
                        "export it again")
    if fmt in ("OBJ", "PLY"):
        white_under_textures(scene)
    warnings += [_missing_beside(missing, fmt) for missing in getattr(resolver, "missing", [])]
    warnings += [_unreadable(image) for image in getattr(resolver, "unreadable", [])]
    if fmt == "STL":
        scene.metadata["up"] = "Z"
    return scene, warnings, quantized


def _named_scene(placed: list, up: str) -> trimesh.Scene:
    """A scene of (name, mesh) pairs, each a node named as given, a
    repeated name numbered (bolt, bolt_1, ...); ``up`` its up axis. Named
    here, not asked of trimesh's graph mesh by mesh: that takes a minute
    for 5,000 placed bolts."""
    scene = trimesh.Scene(metadata={"up": up})
    seen, count = set(), collections.Counter()
    for name, mesh in placed:
        unique = name
        while unique in seen:
            count[name] += 1
            unique = f"{name}_{count[name]}"
        seen.add(unique)
        scene.add_geometry(mesh, node_name=unique, geom_name=unique)
    return scene


def _within_face_limit(count: int, name: str) -> None:
    """InputError where a model of ``count`` faces is past the face limit."""
    if refusal := past_face_limit(count):
        raise InputError(f"'{name}' {refusal}.")


def _stated_faces(path: str, fmt: str) -> int:
    """The faces a PLY's or OFF's header says it holds, where the file is
    long enough to hold them (4 bytes a face at least); else 0, and its
    reader finds it damaged, or reads the faces it holds."""
    count = ply_header(path)[0] if fmt == "PLY" else off_stated_faces(path)
    return count if 4 * count <= os.path.getsize(path) else 0


def _within_3mf_limits(path: str, name: str) -> None:
    """InputError where a 3MF (a ZIP) unpacks past MAX_UNZIPPED, its model
    parts past ``past_model_bytes`` or their triangles past the face limit
    (counted as they unpack). Where it is no ZIP, or a damaged one, its
    reader says so."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            models = [m for m in members if m.filename.lower().endswith(".model")]
            if sum(m.file_size for m in members) > MAX_UNZIPPED:
                raise InputError(f"'{name}' unpacks to more than {MAX_UNZIPPED >> 30} GB: export the model as GLB.")
            if refusal := past_model_bytes(sum(m.file_size for m in models)):
                raise InputError(f"'{name}' {refusal}.")
            triangles = 0
            for model in models:
                with archive.open(model) as f:
                    triangles += occurrences(f, b"<triangle ")
    except InputError:
        raise
    except Exception:  # no ZIP, a damaged one, a locked one: its reader says so
        return
    _within_face_limit(triangles, name)


def _unreadable(image: str) -> str:
    """The warning for a texture a file names that is there but does not open as an image."""
    return f"refers to '{image}' (a texture), which does not open as an image {UNREADABLE_IMAGE}"


def _missing_beside(missing: str, fmt: str) -> str:
    """The warning for a file an OBJ, its .mtl, a PLY, a USD stage, an FBX or
    a .blend names that is not beside it."""
    lower = missing.lower()
    what = (("a library of its materials", "the colours and textures it holds") if lower.endswith(".mtl")
            else ("a layer of its scene", "what that layer holds") if lower.endswith(USD_LAYERS)
            else ("a library it links objects from", "those objects") if lower.endswith(".blend")
            else ("a texture", "it"))
    files = {"OBJ": ".mtl and images", "USD": "layers and textures", "USDZ": "layers and textures",
             "Blender": "textures and libraries"}.get(fmt, "texture")
    keep = (f"the .{'blend' if fmt == 'Blender' else fmt.lower()} with its {files} (in the web app, drop them "
            "together, or one ZIP of them)")
    return Note(f"refers to '{missing}' ({what[0]}), which is not beside it: the model is loaded without {what[1]}; "
                f"keep {keep}", missing=f"'{missing}' ({what[0]})", keep=keep,
                holds_faces=lower.endswith((*USD_LAYERS, ".blend")))


def _wind_outward(asset: Asset) -> None:
    """Rewind faces in place so every piece is wound one way, facing out
    (files often mix windings); face order and look stay as they were."""
    flip = outward_flips(asset.mesh)
    if flip.any():
        log.info("%d of %d faces were wound inward: turned", flip.sum(), len(flip))
        faces = asset.mesh.faces.copy()
        faces[flip] = faces[flip, ::-1]
        asset.mesh = trimesh.Trimesh(asset.mesh.vertices, faces, process=False)
        asset.corner_uv[flip] = asset.corner_uv[flip, ::-1]
        asset.corner_color[flip] = asset.corner_color[flip, ::-1]


def _digest(vertices: np.ndarray, faces: np.ndarray, asset: Asset) -> str:
    h = hashlib.sha256()
    for arr in (vertices.astype(np.float64), faces.astype(np.int64), asset.face_node,
                asset.corner_color, np.nan_to_num(asset.corner_uv, nan=-1.0), asset.face_material):
        h.update(np.ascontiguousarray(arr))
    for tex in asset.textures:
        h.update(np.ascontiguousarray(tex))
    return h.hexdigest()[:32]
