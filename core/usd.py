"""USD files (a USDZ package, as Apple's AR Quick Look, Reality Composer and
Blender write them; .usd, .usda, .usdc) read through Pixar's own library,
usd-core, into the scene the rest of loading reads.

Every mesh a viewer would draw (visible, not a guide or a proxy, instances
included) is placed in the world as the stage composes it; its polygons are
cut inside them (``polygons.triangulate``; a left-handed mesh's winding
turned), those it names as holes left out; its texture coordinates and
colours are taken per corner, however the file spreads them (constant, per
face, per vertex or per corner, indexed or not); its colour is what a USD
viewer shows: the UsdPreviewSurface bound to it, its diffuse texture from
the package, the primvar its diffuse reads or its colour; without one, its
``displayColor``. A cube, sphere, cylinder, cone or capsule given as a
primitive is made a mesh too. A stage whose up axis is Z is reported so,
and stood up as an STL is.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np
import trimesh
from PIL import Image

from . import apart
from .notes import Note
from .polygons import triangulate

log = logging.getLogger(__name__)

#: Purposes of prims a viewer does not draw by default.
HIDDEN_PURPOSES = ("guide", "proxy")
#: How long reading one USD file may take. usd-core is given a process of its
#: own (``_apart``), its memory capped (``apart``): a .usdc with one byte
#: damaged asked for 24 GB, which took the whole machine.
READ_SECONDS = 300


@dataclass
class _Look:
    """What a prim's surface takes its colour from (``_material``).

    colour : (3,) linear RGB (white where a texture or a primvar gives it)
    texture : the diffuse image, its scale and bias applied, or None
    primvar : where the texture's coordinates, or the colour itself, come from; None for a plain colour
    cutoff : the alpha under which a texel is cut out (glTF's MASK), or None
    uv : (2, 3) affine map of the texture's coordinates (UsdTransform2d)
    """

    colour: np.ndarray
    texture: Image.Image | None = None
    primvar: str | None = None
    cutoff: float | None = None
    uv: np.ndarray = field(default_factory=lambda: np.eye(2, 3))


def usd_scene(path: str, max_pixels: int) -> tuple[trimesh.Scene, list[str], list[str]]:
    """``_stage_scene``, read in a process of its own (``_apart``)."""
    return _apart(_stage_scene, path, max_pixels)


@dataclass
class _Textures:
    """The textures one read of a stage meets: the files that are not there
    (or are no images); each file's image decoded once and each texture
    shader's scaled once (``images``, by file and by (file, shader): a
    material bound to many meshes is one image, not one per mesh); the
    pixels of the distinct images, decoded while within ``budget``, none
    past it (the loader refuses the model by ``pixels``, as a glTF's)."""

    budget: int
    missing: list
    images: dict = field(default_factory=dict)
    pixels: int = 0


def _stage_scene(path: str, max_pixels: int) -> tuple[trimesh.Scene, list[str], list[str]]:
    """The stage at ``path`` as a scene of meshes in world coordinates, at
    its first time sample where it is animated: a node per mesh prim
    (``_node_name``) and per material it binds to some of its faces, and per
    solid shape given as a primitive (``_shape``); ``metadata["up"]`` its up
    axis, Y or Z. Also the files it names that are not there (layers,
    textures), and
    warnings: what it holds that is left out (point instancers, curves,
    points, planes) and the meshes it says are subdivision surfaces (read as
    their control cages); ``metadata["texture_pixels"]`` the pixels of its
    textures (``_Textures``, at most ``max_pixels`` decoded). Raises
    ValueError where the file is not a USD stage."""
    from pxr import Usd, UsdGeom, UsdUtils  # here: only a USD file needs the library

    stage = Usd.Stage.Open(path)
    if stage is None:
        raise ValueError("not a USD stage")
    time = Usd.TimeCode.EarliestTime()
    # the layers and textures it names that are not there (a scene written as several files, uploaded alone);
    # not MDL shaders (Omniverse's), which PartScope does not read where they are there either
    textures = _Textures(max_pixels, [os.path.basename(p) for p in UsdUtils.ComputeAllDependencies(path)[2]
                                      if not p.lower().endswith(".mdl")])
    cache, scene, smooth, instancers, shapes, hidden = UsdGeom.XformCache(time), trimesh.Scene(), [], 0, 0, 0
    prims = iter(Usd.PrimRange(stage.GetPseudoRoot(), Usd.TraverseInstanceProxies(Usd.PrimDefaultPredicate)))
    for prim in prims:
        shown = UsdGeom.Imageable(prim)
        if shown and (shown.ComputeVisibility(time) == UsdGeom.Tokens.invisible
                      or shown.ComputePurpose() in HIDDEN_PURPOSES):
            hidden += sum(p.IsA(UsdGeom.Gprim) for p in Usd.PrimRange(prim, Usd.TraverseInstanceProxies()))
            prims.PruneChildren()
        elif prim.IsA(UsdGeom.PointInstancer):  # its prototypes below it are drawn only through it
            instancers += 1
            prims.PruneChildren()
        elif prim.IsA(UsdGeom.Mesh):
            pieces = _meshes(prim, np.array(cache.GetLocalToWorldTransform(prim)).T, time, textures)
            name = _node_name(prim, scene.geometry)
            for part, mesh in pieces:
                part = f"{name}_{part}" if part else name
                scene.add_geometry(mesh, node_name=part, geom_name=part)
            scheme = UsdGeom.Mesh(prim).GetSubdivisionSchemeAttr()
            if pieces and scheme.HasAuthoredValue() and scheme.Get() != UsdGeom.Tokens.none:  # unsaid: no choice
                smooth.append(name)
        elif prim.IsA(UsdGeom.Gprim):
            mesh = _shape(prim, np.array(cache.GetLocalToWorldTransform(prim)).T, time, textures)
            if mesh is None:
                shapes += 1
            else:
                name = _node_name(prim, scene.geometry)
                scene.add_geometry(mesh, node_name=name, geom_name=name)
    scene.metadata["up"] = "Z" if UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z else "Y"
    scene.metadata["texture_pixels"] = textures.pixels
    notes = [f"also holds {n} {what[n > 1]}, which PartScope leaves out: only meshes and solid shapes are segmented"
             for n, what in ((instancers, ("point instancer", "point instancers")),
                             (shapes, ("prim drawn as curves, points or a plane", "prims drawn as curves, points or "
                                                                                  "planes"))) if n]
    if hidden:
        notes.append(Note(f"hides {hidden} shape{'s' * (hidden > 1)} (invisible, or a guide or proxy), which "
                          "PartScope leaves out, as a viewer does", hidden=hidden))
    if smooth:
        some = ", ".join(repr(n) for n in smooth[:3]) + (" and more" if len(smooth) > 3 else "")
        one = len(smooth) == 1
        notes.append(f"gives {some} as {'a subdivision surface' if one else 'subdivision surfaces'}: PartScope reads "
                     f"{'its control cage' if one else 'their control cages'}, as usdview draws "
                     f"{'it' if one else 'them'} by default; apply the subdivision before exporting to segment the "
                     "smooth surface")
    return scene, sorted(set(textures.missing)), notes


def layers_used(paths: list) -> set:
    """The real paths of the layers each USD file of ``paths`` is made of
    besides itself (its sublayers, references and payloads), of those that
    can be read (in a process of their own, ``_apart``)."""
    try:
        return _apart(_layers_used, paths)
    except ValueError:  # a file that cannot be read: loading it says why
        return set()


def _layers_used(paths: list) -> set:
    from pxr import UsdUtils

    used = set()
    for path in paths:
        try:
            layers = UsdUtils.ComputeAllDependencies(path)[0]
        except Exception:  # a file that cannot be read: loading it says why
            continue
        used |= {os.path.realpath(layer.realPath) for layer in layers
                 if layer.realPath and os.path.realpath(layer.realPath) != os.path.realpath(path)}
    return used


def _apart(read, *args):
    """``read(*args)`` (a function of this module) in a Python process of its
    own (``apart.run``), in at most READ_SECONDS: a file that makes usd-core
    ask for more memory than the cap, crash or hang costs that process, not
    the server, and raises ValueError."""
    with tempfile.TemporaryDirectory(prefix="partscope-usd-") as folder:
        question, answer = os.path.join(folder, "question.pickle"), os.path.join(folder, "answer.pickle")
        with open(question, "wb") as f:
            pickle.dump((read.__name__, args), f)
        try:
            done = apart.run(sys.executable, "usd", [question, answer], READ_SECONDS)
        except subprocess.TimeoutExpired:
            raise ValueError(f"reading it took over {READ_SECONDS} s") from None
        if not os.path.exists(answer):  # it died: out of memory, or crashed
            raise ValueError(f"the USD reader stopped (exit code {done.returncode}): {done.stderr[-300:]}")
        with open(answer, "rb") as f:
            ok, result = pickle.load(f)
    if not ok:
        raise ValueError(result)
    return result


def _answer(question: str, answer: str, cap: str) -> None:
    """In the reading process (``python -m core.usd QUESTION ANSWER CAP``):
    cap its memory, pickle (True, what the function asked for gives) or
    (False, why it failed) to ``answer``."""
    apart.cap_memory(int(cap))
    with open(question, "rb") as f:
        name, args = pickle.load(f)
    try:
        result = (True, globals()[name](*args))
    except Exception as exc:  # the library's own errors may not unpickle: their words do
        result = (False, f"{type(exc).__name__}: {exc}")
    with open(answer, "wb") as f:
        pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)


def _shape(prim, world: np.ndarray, time, textures: _Textures) -> trimesh.Trimesh | None:
    """A shape given as a primitive (a cube, sphere, cylinder, cone or
    capsule, with USD's sizes and defaults) as a mesh in world coordinates
    (``world``, (4, 4)) in the colour of its material (``_material``), else
    its displayColor, else a viewer's grey; None for any other (a plane,
    curves, points)."""
    from pxr import UsdGeom

    mesh = _solid(prim, time)
    if mesh is None:
        return None
    mesh.apply_transform(world)
    look = _material(prim, textures)
    colour = look.colour
    if look.primvar == "displayColor":  # no material
        shown = UsdGeom.Gprim(prim).GetDisplayColorAttr().Get(time)
        colour = np.clip(np.asarray(shown[0], np.float64), 0, 1) if shown else np.full(3, 0.5)
    mesh.visual = trimesh.visual.TextureVisuals(
        material=trimesh.visual.material.PBRMaterial(baseColorFactor=np.append(colour, 1.0)))
    return mesh


def _solid(prim, time) -> trimesh.Trimesh | None:
    """The primitive's mesh in its own space (see ``_shape``), or None."""
    from pxr import UsdGeom

    def get(name, default):
        value = prim.GetAttribute(name).Get(time)
        return default if value is None else value

    if prim.IsA(UsdGeom.Cube):
        return trimesh.creation.box(extents=[float(get("size", 2.0))] * 3)
    if prim.IsA(UsdGeom.Sphere):
        return trimesh.creation.icosphere(subdivisions=3, radius=float(get("radius", 1.0)))
    made = {UsdGeom.Cylinder: lambda r, h: trimesh.creation.cylinder(radius=r, height=h, sections=32),
            UsdGeom.Capsule: lambda r, h: trimesh.creation.capsule(height=h, radius=r, count=[16, 16]),
            UsdGeom.Cone: lambda r, h: trimesh.creation.cone(radius=r, height=h, sections=32).apply_translation(
                [0, 0, -h / 2])}
    for kind, make in made.items():
        if prim.IsA(kind):  # along z, then turned to the shape's axis
            radius = float(get("radius", 0.5 if kind is UsdGeom.Capsule else 1.0))
            mesh = make(radius, float(get("height", 1.0 if kind is UsdGeom.Capsule else 2.0)))
            axis = str(get("axis", "Z"))
            if axis != "Z":
                mesh.apply_transform(trimesh.geometry.align_vectors([0, 0, 1], [axis == "X", axis == "Y", 0]))
            return mesh
    return None


def _node_name(prim, taken) -> str:
    """The name of the object the mesh prim draws: its parent's where that
    holds no other mesh (an object and the mesh it shares, as Blender writes
    them, beside the objects parented to it), else its own; numbered where
    already ``taken``."""
    from pxr import Usd, UsdGeom

    parent = prim.GetParent()
    children = parent.GetFilteredChildren(Usd.TraverseInstanceProxies(Usd.PrimDefaultPredicate))  # an instance's too
    alone = not parent.IsPseudoRoot() and sum(child.IsA(UsdGeom.Mesh) for child in children) == 1
    name = parent.GetName() if alone else prim.GetName()
    return name if name not in taken else next(
        f"{name}_{k}" for k in range(2, len(taken) + 3) if f"{name}_{k}" not in taken)


def _meshes(prim, world: np.ndarray, time, textures: _Textures) -> list[tuple[str, trimesh.Trimesh]]:
    """One mesh prim at ``time`` as trimesh meshes in world coordinates
    (``world``, (4, 4), column vectors): one for each material its faces are
    bound to (its GeomSubsets', named after the subset; the rest, the
    prim's own, unnamed), as a glTF mesh has a primitive per material; none
    where it has no polygon to draw."""
    from pxr import UsdGeom, UsdShade

    usd = UsdGeom.Mesh(prim)
    points = np.asarray(usd.GetPointsAttr().Get(time) or [], np.float64).reshape(-1, 3)
    counts = np.asarray(usd.GetFaceVertexCountsAttr().Get(time) or [], np.int64)
    indices = np.asarray(usd.GetFaceVertexIndicesAttr().Get(time) or [], np.int64)
    if not len(counts) or counts.min() < 0 or len(indices) != counts.sum() or indices.min(initial=0) < 0 \
            or indices.max(initial=0) >= len(points):
        return []
    order = np.arange(len(indices))  # the corners in the order each polygon goes round
    if usd.GetOrientationAttr().Get() == UsdGeom.Tokens.leftHanded:
        start = np.repeat(np.cumsum(counts) - counts, counts)
        order = start + np.repeat(counts, counts) - 1 - (order - start)
    drawn = counts >= 3  # polygons of fewer corners have no surface
    holes = np.asarray(usd.GetHoleIndicesAttr().Get(time) or [], np.int64)
    drawn[holes[(holes >= 0) & (holes < len(counts))]] = False  # faces the file cuts out of the surface
    order, sizes = order[np.repeat(drawn, counts)[order]], counts[drawn]
    if not len(sizes):
        return []
    poly, corner = triangulate(sizes, indices[order], points)
    face, corner = np.nonzero(drawn)[0][poly], order[corner]  # the file's face, corner of each triangle
    xyz = trimesh.transform_points(points[indices[corner.ravel()]], world).reshape(-1, 3, 3)
    owner = np.full(len(counts), -1)  # the subset binding each face a material of its own, -1 the prim's
    subsets = UsdShade.MaterialBindingAPI(prim).GetMaterialBindSubsets()
    for k, subset in enumerate(subsets):
        chosen = np.asarray(subset.GetIndicesAttr().Get(time) or [], np.int64)
        owner[chosen[(chosen >= 0) & (chosen < len(counts))]] = k
    out = []
    for k in np.unique(owner[face]):
        bound, name = (prim, "") if k < 0 else (subsets[k].GetPrim(), subsets[k].GetPrim().GetName())
        mine = owner[face] == k
        out.append((name, _piece(prim, bound, xyz[mine], corner[mine], counts, indices, textures)))
    return out


def _piece(prim, bound, xyz: np.ndarray, corner: np.ndarray, counts: np.ndarray, indices: np.ndarray,
           textures: _Textures) -> trimesh.Trimesh:
    """The triangles (``xyz`` (T, 3, 3) in the world, ``corner`` (T, 3) the
    file's corners) of a mesh prim bound to one material (``bound``: the
    prim or a GeomSubset of it), coloured as ``_material`` says; corners
    alike in place, texture coordinate and colour welded."""
    look = _material(bound, textures)
    material, texture, primvar = look.colour, look.texture, look.primvar
    uv = _per_corner(prim, primvar, counts, indices, (2,)) if texture is not None else None
    if texture is not None and uv is None:  # no coordinates: a primvar reader's fallback, (0, 0), everywhere
        uv = np.zeros((len(indices), 2))
    if uv is not None:
        uv = uv @ look.uv[:, :2].T + look.uv[:, 2]
    colors = _per_corner(prim, primvar, counts, indices, (3, 4)) if texture is None and primvar else None
    if colors is not None:
        colors = colors[:, :3]  # linear RGB, an RGBA primvar's alpha left out
    if texture is None and colors is None and primvar == "displayColor":
        material = np.full(3, 0.5)  # no material, no displayColor: the grey USD viewers draw
    columns = [xyz.reshape(-1, 3)] + [a[corner.ravel()] for a in (uv, colors) if a is not None]
    welded, inverse = np.unique(np.hstack(columns), axis=0, return_inverse=True)
    mesh = trimesh.Trimesh(welded[:, :3], inverse.reshape(-1, 3), process=False)
    if uv is not None:
        mesh.visual = trimesh.visual.TextureVisuals(
            uv=welded[:, 3:5], material=trimesh.visual.material.PBRMaterial(
                baseColorTexture=texture, baseColorFactor=np.append(material, 1.0),
                alphaMode=None if look.cutoff is None else "MASK", alphaCutoff=look.cutoff))
    elif colors is not None:  # corner colours times the material's, linear light as glTF's
        rgb = np.clip(welded[:, 3:6] * material, 0.0, 1.0)
        mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=np.round(np.column_stack(
            [rgb, np.ones(len(rgb))]) * 255).astype(np.uint8))
    else:
        mesh.visual = trimesh.visual.TextureVisuals(
            material=trimesh.visual.material.PBRMaterial(baseColorFactor=np.append(material, 1.0)))
    return mesh


def _material(prim, textures: _Textures) -> _Look:
    """What the UsdPreviewSurface bound to ``prim`` (a mesh, a GeomSubset of
    one, a shape) takes its diffuse colour from, as a USD viewer shows it: a
    colour, a diffuse texture (its scale and bias applied, its coordinates
    through a UsdTransform2d), a primvar; a cut-out where its opacity is the
    texture's alpha under an ``opacityThreshold`` (as glTF's MASK). With no
    such material, the prim's ``displayColor``, as viewers show a mesh
    without one. A texture whose file is not there is named in ``textures.missing``
    and left out. A MaterialX surface alone: its base colour
    (``_materialx``)."""
    from pxr import UsdShade

    material = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial(UsdShade.Tokens.preview)[0]
    shader = material.ComputeSurfaceSource()[0] if material else None
    if not shader or shader.GetIdAttr().Get() != "UsdPreviewSurface":
        return _materialx(material) or _Look(np.ones(3), primvar="displayColor")  # grey where none (``_piece``)
    diffuse, source = _source(shader.GetInput("diffuseColor"))
    if source is None:
        return _Look(np.full(3, 0.18) if diffuse is None else np.clip(np.asarray(diffuse, np.float64), 0, 1))
    if source.GetIdAttr().Get() != "UsdUVTexture":  # a primvar reader: the colour is the primvar's
        return _Look(np.ones(3), primvar=_varname(source) or "displayColor")
    file = source.GetInput("file").Get() if source.GetInput("file") else None
    image = _image(file, textures) if file is not None and file.resolvedPath else None
    if image is None or image is _PAST_BUDGET:
        if image is None and file is not None and file.path:
            textures.missing.append(os.path.basename(file.path))
        return _Look(np.full(3, 0.18))
    threshold, opacity = _source(shader.GetInput("opacityThreshold"))[0], _source(shader.GetInput("opacity"))[1]
    cutoff = float(threshold) if threshold and opacity is not None and opacity.GetPrim() == source.GetPrim() else None
    reader, uv = _source(source.GetInput("st"))[1], np.eye(2, 3)
    if reader is not None and reader.GetIdAttr().Get() == "UsdTransform2d":
        uv = _transform2d(reader)
        reader = _source(reader.GetInput("in"))[1]
    varname = _varname(reader) if reader is not None else None
    key = (file.resolvedPath, str(source.GetPath()))
    if key not in textures.images:
        textures.images[key] = _scaled(image, source)
    return _Look(np.ones(3), textures.images[key], varname or "st", cutoff, uv)


#: What ``_image`` gives for a texture past the stage's pixel budget.
_PAST_BUDGET = object()


def _image(file, textures: _Textures):
    """The decoded image of a texture file (an SdfAssetPath that resolved),
    once per file; None where it is not an image, _PAST_BUDGET past the
    budget of ``textures``."""
    from pxr import Ar

    path = file.resolvedPath
    if path not in textures.images:
        try:
            image = Image.open(io.BytesIO(bytes(Ar.GetResolver().OpenAsset(Ar.ResolvedPath(path)).GetBuffer())))
            textures.pixels += image.width * image.height
            if textures.pixels > textures.budget:
                image = _PAST_BUDGET
            else:
                image.load()
        except Exception as exc:  # not an image: the model without it, and a warning
            log.info("texture %s: %r", file.path, exc)
            image = None
        textures.images[path] = image
    return textures.images[path]


#: MaterialX surfaces by their node definition: their base colour's and weight's inputs and defaults.
MATERIALX_BASE = {"ND_open_pbr_surface_surfaceshader": ("base_color", 0.8, "base_weight", 1.0),
                  "ND_standard_surface_surfaceshader": ("base_color", 1.0, "base", 0.8)}


def _materialx(material) -> _Look | None:
    """The look of a material that holds a MaterialX surface only (OpenPBR
    or Autodesk's Standard Surface, as Houdini, Maya and Omniverse write
    them), none in UsdPreviewSurface: its base colour times its base weight
    where both are values; None otherwise (a texture or a node graph
    behind either, another surface)."""
    shader = material.ComputeSurfaceSource("mtlx")[0] if material else None
    known = MATERIALX_BASE.get(shader.GetIdAttr().Get()) if shader else None
    if known is None:
        return None
    colour_name, colour_default, weight_name, weight_default = known
    (colour, behind), (weight, weighted) = _source(shader.GetInput(colour_name)), _source(shader.GetInput(weight_name))
    if behind is not None or weighted is not None:
        return None
    colour = np.full(3, colour_default) if colour is None else np.asarray(colour, np.float64)
    return _Look(np.clip(colour * (weight_default if weight is None else float(weight)), 0, 1))


def _transform2d(shader) -> np.ndarray:
    """(2, 3) affine map of a UsdTransform2d: scaled, turned (degrees), then moved."""
    def value(name, default):
        got = _source(shader.GetInput(name))[0]
        return np.asarray(default if got is None else got, np.float64)

    turn = np.radians(value("rotation", 0.0))
    spin = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    return np.column_stack([spin * value("scale", (1.0, 1.0)), value("translation", (0.0, 0.0))])


def _scaled(image: Image.Image, texture) -> Image.Image:
    """The image as a UsdUVTexture gives it: each channel times its scale
    plus its bias (1 and 0 unless it says)."""
    scale, bias = (_source(texture.GetInput(name))[0] for name in ("scale", "bias"))
    if scale is None and bias is None:
        return image
    rgba = np.asarray(image.convert("RGBA"), np.float64) / 255.0
    rgba = rgba * np.asarray(scale if scale is not None else (1, 1, 1, 1)) + np.asarray(
        bias if bias is not None else (0, 0, 0, 0))
    return Image.fromarray(np.round(np.clip(rgba, 0, 1) * 255).astype(np.uint8), "RGBA")


def _source(shader_input) -> tuple:
    """(value, None) of a shader input set to a value (None where it is not
    set), or (None, the shader whose output it takes), through node graphs."""
    from pxr import UsdShade

    if not shader_input:
        return None, None
    for attr in shader_input.GetValueProducingAttributes():
        if UsdShade.Utils.GetType(attr.GetName()) == UsdShade.AttributeType.Output:
            return None, UsdShade.Shader(attr.GetPrim())
        return attr.Get(), None
    return shader_input.Get(), None


def _varname(reader) -> str | None:
    """The primvar a UsdPrimvarReader shader reads, or None."""
    name = reader.GetInput("varname")
    return str(name.Get()) if name and name.Get() else None


def _per_corner(prim, name: str, counts: np.ndarray, indices: np.ndarray, widths: tuple) -> np.ndarray | None:
    """(corners, width) float64 the primvar ``name`` gives each corner of
    each polygon, however it is spread (constant, uniform: per face,
    vertex or varying: per point, faceVarying: per corner; indexed or not),
    or None where the prim has no such primvar, its values are not one of
    ``widths`` wide or its length does not fit."""
    from pxr import UsdGeom

    pv = UsdGeom.PrimvarsAPI(prim).GetPrimvar(name)
    values = pv.ComputeFlattened() if pv and pv.HasValue() else None
    if values is None:
        return None
    values = np.asarray(values, np.float64).reshape(len(values), -1)
    if values.shape[1] not in widths:
        return None
    spread = pv.GetInterpolation()
    lengths = {UsdGeom.Tokens.constant: 1, UsdGeom.Tokens.uniform: len(counts),
               UsdGeom.Tokens.faceVarying: len(indices)}
    needed = lengths.get(spread, indices.max(initial=-1) + 1)
    if len(values) < needed:
        return None
    if spread == UsdGeom.Tokens.constant:
        return np.repeat(values[:1], len(indices), axis=0)
    if spread == UsdGeom.Tokens.uniform:
        return np.repeat(values[:len(counts)], counts, axis=0)
    if spread == UsdGeom.Tokens.faceVarying:
        return values[:len(indices)]
    return values[indices]  # vertex, varying


if __name__ == "__main__":
    _answer(*sys.argv[1:4])
