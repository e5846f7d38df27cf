"""The model split into parts as a ``trimesh.Scene``: one node per part with
its pieces below it (see ``core.export``), with the model's own look or one
flat color per part."""

from __future__ import annotations

import logging
import time

import numpy as np
import PIL.Image
import trimesh
from trimesh.visual.material import PBRMaterial, SimpleMaterial

from ..colorspace import linear_from_srgb
from ..labels import BASE_FRAME, check_labels, given_names, part_names, unique_name, with_model_names
from ..palette import part_palette
from .textures import EncodedImage, ImageBank

log = logging.getLogger(__name__)

#: The vertex attribute that carries 16-bit linear vertex colors to the
#: writer, which makes it the primitive's COLOR_0.
COLOR_16 = "_COLOR_16"


def segmented_scene(asset, face_labels, names=None, images: ImageBank | None = None) -> trimesh.Scene:
    """The model split into parts, with its original appearance.

    Each source mesh's faces are cut by part; a piece keeps the source's
    vertex positions and normals, UVs and material (textures shared, not
    copied) and vertex colors (in linear light, as glTF holds them). Face
    colors (PLY, OFF) are kept by giving each face its own corners, since
    glTF only has vertex colors.
    Deleted faces (label -1) are dropped.

    Parameters
    ----------
    asset : core.loading.Asset
        The loaded object; its ``source_meshes`` (file coordinates) are used.
    face_labels : (F,) int
        Part id per face in the contract order, contiguous from 0; -1 deletes
        the face.
    names : None, sequence or mapping, optional
        Part names (see :func:`part_names`); a part without one takes the
        name of the model's object it is (:func:`with_model_names`), else
        ``part_{k:02d}``.
    images : core.export.textures.ImageBank, optional
        How the textures are encoded (default: a new bank, PNG unless an
        image is still known as a JPEG); one per asset reuses its encodings.

    Returns
    -------
    scene : trimesh.Scene
        One node per non-empty part named by :func:`part_names`, holding one
        child node per piece (see the module docstring). Pieces of the same
        source share one material object: treat them as read-only.
    """
    t0 = time.perf_counter()
    labels, n_parts = _part_labels(asset, face_labels)
    shared = {"images": images or ImageBank(), "linear": asset.linear_colors}
    pieces = [[] for _ in range(n_parts)]
    for part, source, faces in _split(asset, labels, n_parts):
        pieces[part].append(_piece(asset.source_meshes[source], faces, shared))
    scene = _assemble(pieces, n_parts, with_model_names(asset, labels, names))
    log.debug("segmented scene: %d parts, %d pieces, %d faces in %.3f s",
             sum(map(bool, pieces)), len(scene.geometry), int((labels >= 0).sum()),
             time.perf_counter() - t0)
    return scene


def colored_scene(asset, face_labels, names=None, colors=None) -> trimesh.Scene:
    """The model split into parts, each painted one flat color.

    asset, face_labels, names : as :func:`segmented_scene`
    colors : (P, 3) or (P, 4) uint8 color of each part id as shown (sRGB;
        P at least the number of parts), or None for :func:`part_palette`
    returns a trimesh.Scene with one node per non-empty part (see the module
        docstring), holding one mesh with all the part's faces and a PBR
        material whose base color is the part's color (named like the part,
        double-sided, not metallic); vertex normals kept where every source
        mesh has them.
    """
    t0 = time.perf_counter()
    labels, n_parts = _part_labels(asset, face_labels)
    colors = part_palette(n_parts) if colors is None else np.asarray(colors)
    if colors.ndim != 2 or colors.shape[1] not in (3, 4) or len(colors) < n_parts:
        raise ValueError(f"colors must be (P, 3) or (P, 4) with P >= {n_parts} (the number of parts)")
    rgba = np.full((len(colors), 4), 255, np.uint8)
    rgba[:, :colors.shape[1]] = np.clip(colors, 0, 255).astype(np.uint8)
    factors = np.hstack([linear_from_srgb(rgba[:, :3]), rgba[:, 3:] / 255.0])  # glTF's factors are linear

    meshes = asset.source_meshes
    vertices = np.vstack([m.vertices for m in meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])[:-1]
    faces = np.vstack([m.faces + o for m, o in zip(meshes, offsets)])
    normals = None
    if all(_has_normals(m) for m in meshes):
        normals = np.vstack([m.vertex_normals for m in meshes])

    names = with_model_names(asset, labels, names)
    node_names = part_names(n_parts, names)
    order, bounds = _sort_by_part(labels, n_parts)
    pieces = [[] for _ in range(n_parts)]
    for part in np.nonzero(np.diff(bounds))[0]:
        used, local = np.unique(faces[order[bounds[part]:bounds[part + 1]]], return_inverse=True)
        material = PBRMaterial(name=node_names[part], baseColorFactor=factors[part], metallicFactor=0.0,
                               roughnessFactor=0.8, doubleSided=True)
        pieces[part].append(trimesh.Trimesh(
            vertices[used], local.reshape(-1, 3),
            vertex_normals=None if normals is None else normals[used],
            visual=trimesh.visual.TextureVisuals(material=material),
            process=False, validate=False))
    scene = _assemble(pieces, n_parts, names)
    log.debug("colored scene: %d parts, %d faces in %.3f s", len(scene.geometry),
             int((labels >= 0).sum()), time.perf_counter() - t0)
    return scene


def _part_labels(asset, face_labels) -> tuple:
    """(F,) int64 labels (``labels.check_labels``) of an asset whose source
    meshes hold its faces, some not deleted, and the number of parts."""
    labels = check_labels(face_labels, asset.n_faces)
    n_faces = sum(len(m.faces) for m in asset.source_meshes)
    if n_faces != len(labels):
        raise ValueError(f"the asset's source meshes hold {n_faces} faces but the asset has "
                         f"{len(labels)}: the asset is inconsistent")
    if not (labels >= 0).any():
        raise ValueError("every face is deleted: there is nothing to export")
    return labels, int(labels.max()) + 1


def _sort_by_part(labels: np.ndarray, n_parts: int) -> tuple:
    """(F,) face order grouped by part (face order kept inside a part) and
    (n_parts + 1,) bounds: part k is ``order[bounds[k]:bounds[k + 1]]``."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_parts + 1), side="left")
    return order, bounds


def _split(asset, labels: np.ndarray, n_parts: int):
    """Yield (part, source mesh index, (n,) face indices into that source mesh)."""
    counts = [len(m.faces) for m in asset.source_meshes]
    starts = np.cumsum([0] + counts)
    order, bounds = _sort_by_part(labels, n_parts)
    for part in np.nonzero(np.diff(bounds))[0]:
        faces = order[bounds[part]:bounds[part + 1]]  # ascending, so grouped by source
        source = np.searchsorted(starts, faces, side="right") - 1
        edges = np.concatenate([[0], np.flatnonzero(np.diff(source)) + 1, [len(faces)]])
        for lo, hi in zip(edges[:-1], edges[1:]):
            s = int(source[lo])
            yield int(part), s, faces[lo:hi] - starts[s]


def _piece(mesh: trimesh.Trimesh, faces: np.ndarray, shared: dict) -> trimesh.Trimesh:
    """The given faces of ``mesh`` as a new mesh with only the vertices they use,
    keeping normals and visuals. ``shared`` maps id(material) to the one
    material object every piece of that source uses, and "images" to the
    ImageBank that encodes their textures."""
    corners = mesh.faces[faces]
    if isinstance(mesh.visual, trimesh.visual.ColorVisuals) and mesh.visual.kind == "face":
        # glTF has no face colors: give every face its own three corners
        # carrying the face's color, so each face keeps its exact color
        used, local = corners.reshape(-1), np.arange(corners.size)
        visual, attributes = _colored(np.repeat(mesh.visual.face_colors[faces], 3, axis=0), shared["linear"])
    else:
        used, local = np.unique(corners, return_inverse=True)
        visual, attributes = _visual_subset(mesh, used, shared)
    normals = mesh.vertex_normals[used] if _has_normals(mesh) else None
    return trimesh.Trimesh(mesh.vertices[used], local.reshape(-1, 3), vertex_normals=normals,
                           visual=visual, vertex_attributes=attributes, process=False, validate=False)


def _has_normals(mesh: trimesh.Trimesh) -> bool:
    """Whether the mesh carries vertex normals (from its file, or computed
    earlier by someone), without computing them.

    Reads trimesh's cache, as trimesh's own glTF exporter does to decide
    whether to write normals."""
    return "vertex_normals" in mesh._cache


def _visual_subset(mesh: trimesh.Trimesh, used: np.ndarray, shared: dict) -> tuple:
    """The visual of ``mesh`` (texture, vertex colors or none) restricted to
    vertices ``used``, and the vertex attributes that go with it (``_colored``)."""
    visual = mesh.visual
    n_vertices = len(mesh.vertices)
    if isinstance(visual, trimesh.visual.TextureVisuals):
        uv = visual.uv
        uv = uv[used] if uv is not None and len(uv) == n_vertices else None
        material = visual.material
        if material is not None:
            if id(material) not in shared:
                shared[id(material)] = _shared_material(material, shared["images"])
            material = shared[id(material)]
        out = trimesh.visual.TextureVisuals(uv=uv, material=material)
        for key, value in visual.vertex_attributes.items():
            if key != "uv" and len(value) == n_vertices:
                out.vertex_attributes[key] = value[used]
        return out, {}
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind == "vertex":
        return _colored(visual.vertex_colors[used], shared["linear"])
    return trimesh.visual.ColorVisuals(), {}


def _colored(rgba: np.ndarray, linear: bool) -> tuple:
    """Vertex colors as glTF holds them, in linear light: a glTF file's own
    as they were (8-bit, in the visual); a PLY's, OFF's or OBJ's 8-bit sRGB
    with the curve undone, as 16-bit in the attribute COLOR_16, which the
    written file holds as its COLOR_0 (``files``): 8 bits of linear light
    keep 183 of the 256 sRGB levels, off by up to 6 in the shadows; 16 keep
    all. Returns (visual, vertex attributes)."""
    if linear:
        return trimesh.visual.ColorVisuals(vertex_colors=rgba), {}
    rgba = np.asarray(rgba, np.uint8)
    out = np.empty(rgba.shape, np.uint16)
    out[:, :3] = np.round(linear_from_srgb(rgba[:, :3]) * 65535.0)
    out[:, 3:] = rgba[:, 3:] * np.uint16(257)
    return trimesh.visual.ColorVisuals(), {COLOR_16: out}


class _HashOnce:
    """Mixin for a material shared by many pieces: its hash
    (``_content_hash``) is computed once.

    trimesh's glTF exporter hashes every mesh's material (all texture bytes)
    to find duplicates: about 20 ms per piece for a 2048^2 texture, half a
    second for 20 parts. Setting any attribute drops the cached hash; changing
    an image's pixels in place does not (the pieces treat images as
    read-only)."""

    def __hash__(self):
        cached = self.__dict__.get("_partscope_hash")
        if cached is None:
            cached = self.__dict__["_partscope_hash"] = self._content_hash()
        return cached

    def __setattr__(self, name, value):
        self.__dict__.pop("_partscope_hash", None)
        super().__setattr__(name, value)


class _SharedPBRMaterial(_HashOnce, PBRMaterial):
    """A PBRMaterial shared by the pieces of one source mesh."""

    def _content_hash(self) -> int:
        """As trimesh hashes a PBRMaterial (its values' bytes), each image by
        its pixel digest (``ImageBank.view``'s): each source mesh has a copy
        of its own, and sixty meshes sharing one 4K image took 9.5 s."""
        return hash(b"".join(v.__dict__["_partscope_digest"].encode() if isinstance(v, EncodedImage)
                             else np.asanyarray(v).tobytes() for v in self._data.values() if v is not None))


class _SharedSimpleMaterial(_HashOnce, SimpleMaterial):
    """A SimpleMaterial shared by the pieces of one source mesh."""

    def _content_hash(self) -> int:
        """As trimesh hashes a SimpleMaterial (its image's bytes, its
        colours), the image by its pixel digest (an OBJ's objects on one
        material: sixty on a 4K image took 6.2 s)."""
        hashed = hash(self.image.__dict__["_partscope_digest"]) if isinstance(self.image, EncodedImage) else 0
        for value in (self.ambient, self.diffuse, self.specular, self.glossiness):
            hashed ^= hash(np.asanyarray(value).tobytes())
        return hashed


def _shared_material(material, images: ImageBank):
    """A copy of ``material`` for the pieces of one source mesh: it caches its
    hash, and its textures are ``images``' encoded views of the original
    images (same pixels, not copied)."""
    cls = {PBRMaterial: _SharedPBRMaterial, SimpleMaterial: _SharedSimpleMaterial}.get(type(material))
    if cls is None:
        return material
    copy = cls.__new__(cls)
    for key, value in material.__dict__.items():
        if isinstance(value, dict):
            value = {k: images.view(v) if isinstance(v, PIL.Image.Image) else v for k, v in value.items()}
        elif isinstance(value, PIL.Image.Image):
            value = images.view(value)
        copy.__dict__[key] = value
    return copy


def _assemble(pieces: list, n_parts: int, names) -> trimesh.Scene:
    """A scene with one node per non-empty part (named) and its pieces as children."""
    given = given_names(n_parts, names)
    node_names = part_names(n_parts, names)
    taken = {BASE_FRAME.casefold(), *(n.casefold() for n in node_names)}
    scene = trimesh.Scene(base_frame=BASE_FRAME)
    for part, meshes in enumerate(pieces):
        if not meshes:
            continue
        node = node_names[part]
        scene.graph.update(frame_to=node, frame_from=BASE_FRAME, matrix=np.eye(4), metadata={
            "part_id": part,
            "face_count": int(sum(len(m.faces) for m in meshes)),
            "display_name": given[part] if given[part] else node})
        for j, mesh in enumerate(meshes):
            child = unique_name(f"{node}_{j}", taken)
            scene.add_geometry(mesh, node_name=child, geom_name=child, parent_node_name=node)
    return scene
