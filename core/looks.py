"""What a surface looks like, read from a file's meshes: textures and corner
UVs, base colors (a glTF material's factor times the vertex colors, an OBJ
material's diffuse color, PLY/OFF face or vertex colors), and the color at
any point of a face.

Colors are kept as they are shown: sRGB-encoded bytes, as textures, PLY
and OFF colors and screens hold them. A material's color (glTF's base
color factor, an MTL's Kd) and glTF's vertex colors are linear light, as
the glTF specification and Blender have them, and take the sRGB curve on
reading; colors written to glTF go back through it (``linear_from_srgb``)."""

from __future__ import annotations

import hashlib

import numpy as np
import PIL.Image
import trimesh

from .colorspace import linear_from_srgb, srgb_bytes


#: The colour of a surface its file gives none.
GREY = (200, 200, 200, 255)
#: Largest side of a texture as the engine looks at it: the views are 512
#: pixels, the viewer's textures 1024; a larger image is shrunk by a whole
#: factor (an 8K texture decoded is 268 MB; the downloads keep the file's own).
TEXTURE_SIDE = 4096
#: The image trimesh gives a mesh with texture coordinates and no texture
#: (an OBJ without its .mtl, a PLY's bare UV map).
_STAND_IN = np.asarray(trimesh.visual.material.color_image())


def _stand_in(image) -> bool:
    """Whether ``image`` is trimesh's stand-in, shown then as a surface with
    no colour is (not its darker grey); the texture coordinates are kept."""
    return (isinstance(image, PIL.Image.Image) and image.size == _STAND_IN.shape[1::-1]
            and np.array_equal(np.asarray(image), _STAND_IN))


def looks(meshes: list, linear: bool = False) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """Every mesh's look (``appearance``; ``linear`` for a glTF file's),
    joined: the textures, (F,) int32 texture of each face (-1 none),
    (F, 3, 2) float32 corner uv and (F, 3, 4) uint8 corner color."""
    textures, made, index, mat_ids, uvs, colors = [], {}, {}, [], [], []
    for m in meshes:
        tex, uv, color = appearance(m, linear, made)  # ``made`` keeps each tex alive: its id stays its own
        if tex is not None and id(tex) not in index:  # one texture per pixels: an OBJ's materials open one file each
            index[id(tex)] = index.setdefault((tex.shape, hashlib.sha1(tex).digest()), len(textures))
            if index[id(tex)] == len(textures):
                textures.append(tex)
        mat_ids.append(np.full(len(m.faces), -1 if tex is None else index[id(tex)], np.int32))
        uvs.append(uv)
        colors.append(color)
    return (textures, np.concatenate(mat_ids), np.concatenate(uvs).astype(np.float32),
            np.concatenate(colors).astype(np.uint8))


def appearance(m: trimesh.Trimesh, linear: bool = False, made: dict | None = None):
    """Texture image (h, w, 4) uint8 or None, (F, 3, 2) corner uv, (F, 3, 4)
    corner color: the material's base color times the vertex colors (glTF's
    COLOR_0), the texture's tint where there is one; sRGB-encoded as shown.
    A material's color is linear light (glTF's base color factor, an MTL's
    Kd, as Blender reads both); vertex and face colors are where ``linear``
    (a glTF file's), else sRGB (PLY, OFF and OBJ colors, as Blender reads
    them). made : the textures made so far, by image and cut-out, so that
    meshes that share an image (a game model's nodes and one atlas) share
    its texture."""
    n, made = len(m.faces), {} if made is None else made
    uv = np.full((n, 3, 2), np.nan, np.float32)
    light = None  # (n, 3, 4) linear light in [0, 1], alpha as it is
    visual = m.visual
    tex = None
    if isinstance(visual, trimesh.visual.TextureVisuals):
        material = visual.material
        light = np.broadcast_to(material_color(material) / 255.0, (n, 3, 4))
        vertex = visual.vertex_attributes.get("color")
        if vertex is not None and len(vertex) == len(m.vertices):
            light = _light(vertex, linear)[m.faces] * light
        image = getattr(material, "image", None)
        if image is None:
            image = getattr(material, "baseColorTexture", None)
        if _stand_in(image):
            image = PIL.Image.new("RGBA", (1, 1), GREY)
        if image is not None and visual.uv is not None and len(visual.uv) == len(m.vertices):
            key = (id(image), getattr(material, "alphaMode", None), getattr(material, "alphaCutoff", None),
                   int(material_color(material)[3]))
            if key not in made:
                made[key] = (image, _cut_out(_texture(image), material))  # the image kept: its id stays its own
            tex = made[key][1]
            uv = np.asarray(visual.uv, np.float32)[m.faces]
    elif isinstance(visual, trimesh.visual.ColorVisuals) and visual.defined:
        if visual.kind == "vertex":
            light = _light(visual.vertex_colors, linear)[m.faces]
        elif visual.kind == "face":
            light = np.repeat(_light(visual.face_colors, linear)[:, None], 3, axis=1)
    if light is None:
        return tex, uv, np.full((n, 3, 4), GREY, np.uint8)
    out = np.empty((n, 3, 4), np.uint8)
    out[..., :3] = srgb_bytes(light[..., :3])
    out[..., 3] = np.round(np.clip(light[..., 3], 0.0, 1.0) * 255.0)
    return tex, uv, out


def _cut_out(texture: np.ndarray, material) -> np.ndarray:
    """The texture's alpha as the material uses it, 0 or 255: a glTF
    material with ``alphaMode`` MASK (leaves, fences, hair cards) shows a
    texel where its alpha times the base colour's reaches ``alphaCutoff``
    (0.5 by default); every other material is opaque, whatever its alpha
    channel holds (glTF's OPAQUE ignores it; BLEND is drawn opaque here)."""
    out = texture.copy()
    if getattr(material, "alphaMode", None) == "MASK":
        cutoff = getattr(material, "alphaCutoff", None)
        alpha = out[..., 3] / 255.0 * material_color(material)[3] / 255.0
        out[..., 3] = np.where(alpha >= (0.5 if cutoff is None else cutoff), 255, 0)
    else:
        out[..., 3] = 255
    return out


def _texture(image) -> np.ndarray:
    """(h, w, 4) uint8 of a PIL image, no side over TEXTURE_SIDE (shrunk by
    a whole factor, each texel the mean of its block); 16-bit grey scaled to
    8 bits, where Pillow's conversion would clip it to white."""
    if image.mode.startswith("I"):
        grey = np.asarray(image, np.float64)
        grey = grey / 257.0 if grey.max(initial=0) > 255 else grey
        image = PIL.Image.fromarray(np.clip(np.round(grey), 0, 255).astype(np.uint8))
    factor = -(-max(image.size) // TEXTURE_SIDE)
    if factor > 1:
        image = (image if image.mode in ("L", "LA", "RGB", "RGBA") else image.convert("RGBA")).reduce(factor)
    return np.asarray(image.convert("RGBA"), dtype=np.uint8)


def _light(values, linear: bool) -> np.ndarray:
    """(n, 4) linear light in [0, 1] (alpha as it is) of trimesh's color
    values: bytes, or floats in [0, 1] kept as precise as the file wrote
    them; linear already, or sRGB-encoded where not ``linear``."""
    values = np.asarray(values)
    if values.dtype.kind == "f" and values.ndim == 2 and values.shape[1] in (3, 4):
        out = np.ones((len(values), 4))
        out[:, :values.shape[1]] = np.clip(np.nan_to_num(values), 0.0, 1.0)
    else:
        out = trimesh.visual.color.to_rgba(values) / 255.0
    if not linear:
        out[:, :3] = linear_from_srgb(out[:, :3] * 255.0)
    return out


def keep_vertex_colors(placed: trimesh.Trimesh, original) -> trimesh.Trimesh:
    """``placed`` (a mesh of ``scene.dump()``) with the vertex colors of a
    textured or material-colored ``original`` that the copy lost (glTF
    COLOR_0 beside a material, which trimesh keeps as a vertex attribute),
    as RGBA bytes: Blender writes them as RGB floats, which trimesh would
    fail to write back."""
    color = getattr(getattr(original, "visual", None), "vertex_attributes", {}).get("color")
    if (isinstance(placed.visual, trimesh.visual.TextureVisuals) and color is not None
            and len(color) == len(placed.vertices)):
        placed.visual.vertex_attributes["color"] = trimesh.visual.color.to_rgba(np.asarray(color))
    return placed


def white_under_textures(scene: trimesh.Scene) -> None:
    """An OBJ material's texture (map_Kd), or a PLY's, shows as it is: in
    3ds Max, Maya and Blender the texture takes the place of the diffuse
    colour (Kd; 3ds Max writes its default 0.588 beside every map, Blender
    none), so the colour is made white, where trimesh would multiply the
    texture by Kd or by its default grey, darker on screen and in the
    downloads than the model was made."""
    for geom in scene.geometry.values():
        material = getattr(getattr(geom, "visual", None), "material", None)
        if isinstance(material, trimesh.visual.material.SimpleMaterial) and material.image is not None:
            material.diffuse = np.full(4, 255, np.uint8)


def ply_vertex_colors(scene: trimesh.Scene, bare_uv: bool) -> None:
    """A PLY's vertex colours where trimesh read none: beside texture
    coordinates without a texture file (Blender writes its UV map so;
    trimesh would take the coordinates with a blank texture), or named
    diffuse_red, diffuse_green, diffuse_blue (as some scanners write them;
    trimesh knows only red, green, blue). ``bare_uv``: the PLY names no
    texture file; it must then be read in its own vertex order (no
    ``fix_texture``), so its colours line up."""
    for geom in scene.geometry.values():
        data = geom.metadata.get("_ply_raw", {}).get("vertex", {}).get("data")
        names = set(data.keys() if isinstance(data, dict) else getattr(getattr(data, "dtype", None), "names", None) or ())
        bare = bare_uv and isinstance(geom.visual, trimesh.visual.TextureVisuals)
        unread = not getattr(geom.visual, "defined", True)
        if not (bare or unread) or "x" not in names or len(np.ravel(data["x"])) != len(geom.vertices):
            continue
        for prefix in ("", "diffuse_"):
            if {f"{prefix}{c}" for c in ("red", "green", "blue")} <= names:
                columns = [np.ravel(data[f"{prefix}{c}"]) for c in ("red", "green", "blue", "alpha")
                           if f"{prefix}{c}" in names]  # an ASCII PLY's columns are (n, 1)
                geom.visual = trimesh.visual.ColorVisuals(geom, vertex_colors=np.stack(columns, axis=1))
                break


def material_color(material) -> np.ndarray:
    """(4,) uint8 base color of a trimesh material: a glTF material's
    baseColorFactor, white where the file leaves it out (glTF's default);
    an OBJ material's diffuse color."""
    if isinstance(material, trimesh.visual.material.PBRMaterial):
        factor = material.baseColorFactor
        return np.full(4, 255, np.uint8) if factor is None else trimesh.visual.color.to_rgba(factor)
    return trimesh.visual.color.to_rgba(material.main_color)


def surface_color(asset, face: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Color where a point lies on the surface.

    asset : core.loading.Asset (its corner colours, textures and uvs)
    face : (n,) int face indices
    bary : (n, 3) float barycentric weights of the face's corners
    returns (n, 3) uint8 RGB: texture (nearest texel, wrapped, times the
    corner tint) where the face has one, else the interpolated corner color.
    """
    face = np.asarray(face)
    bary = np.asarray(bary, dtype=np.float32)
    rgba = np.einsum("nk,nkc->nc", bary, asset.corner_color[face].astype(np.float32))
    for sel, texel in _texels(asset, face, bary):
        rgba[sel] = texel.astype(np.float32) * rgba[sel] / 255.0
    return np.clip(rgba[:, :3], 0, 255).astype(np.uint8)


def cut_out(asset, face: np.ndarray, bary: np.ndarray, textures: list | None = None) -> np.ndarray:
    """(n,) bool: where a point lies on a cut-out texel (alpha 0, ``_cut_out``),
    which the viewer does not draw: a ray, a click, goes on through it.
    textures : the indices of the textures to look in (those with cut-out
    texels, found once by the caller), or None for all."""
    clear = np.zeros(len(face), bool)
    for sel, texel in _texels(asset, np.asarray(face), np.asarray(bary, np.float32), textures):
        clear[sel] = texel[:, 3] < 128
    return clear


def _texels(asset, face: np.ndarray, bary: np.ndarray, textures: list | None = None):
    """(points, their (k, 4) RGBA texels) for each texture of ``asset``
    (nearest texel, wrapped) among the points on ``face`` at ``bary``."""
    mat = asset.face_material[face]
    for t in range(len(asset.textures)) if textures is None else textures:
        image = asset.textures[t]
        sel = np.nonzero(mat == t)[0]
        if not len(sel):
            continue
        uv = np.einsum("nk,nkc->nc", bary[sel], asset.corner_uv[face[sel]])
        uv = np.nan_to_num(uv)
        uv -= np.floor(uv + 1e-6)  # wrapped; within 1e-6 below a whole number counts as on it (quantized files)
        h, w = image.shape[:2]
        col = np.clip((uv[:, 0] * (w - 1)).round().astype(np.int64), 0, w - 1)
        row = np.clip(((1.0 - uv[:, 1]) * (h - 1)).round().astype(np.int64), 0, h - 1)
        yield sel, image[row, col]
