"""USD and USDZ files (core/usd.py) read as a USD viewer draws them: Blender's
USDZ of the toy car against its glTF, and stages written here with Pixar's
own library: polygons, windings, instances, what a viewer hides, colours
however a file spreads them, a missing texture, a file that is not USD."""

import os

import numpy as np
import pytest
import trimesh

from core.loading import InputError, load_asset
from core.looks import surface_color

DATA = os.path.join(os.path.dirname(__file__), "data")


def _colours(asset) -> dict:
    """Median colour at the faces' centres, per node."""
    rgb = surface_color(asset, np.arange(asset.n_faces), np.full((asset.n_faces, 3), 1 / 3))
    return {name: np.median(rgb[asset.face_node == k], axis=0).tolist() for k, name in enumerate(asset.node_names)}


def _placed(asset) -> trimesh.Trimesh:
    return trimesh.Trimesh(trimesh.transform_points(asset.mesh.vertices, asset.to_original), asset.mesh.faces,
                           process=False)


def test_blenders_usdz_of_the_car_is_read_as_its_gltf():
    """Blender's USDZ of the toy car (Z-up, textures in the package): the
    faces, surface and objects of Blender's glTF of the same scene, stood up
    as it stands; the body's and cabin's textures as there; the wheels in
    their material's grey (0.8), which is what a USD viewer draws (their
    vertex colours are a primvar no shader reads)."""
    usd, gltf = (load_asset(os.path.join(DATA, name)) for name in ("toy_car_blender.usdz", "toy_car_blender.glb"))
    assert usd.n_faces == gltf.n_faces and usd.warnings == []
    assert sorted(usd.node_names) == sorted(gltf.node_names)
    np.testing.assert_allclose(usd.mesh.bounds, gltf.mesh.bounds, atol=1e-6)
    assert _placed(usd).area == pytest.approx(_placed(gltf).area, rel=1e-6)
    ours, theirs = _colours(usd), _colours(gltf)
    for name in ("body", "cabin"):
        np.testing.assert_allclose(ours[name], theirs[name], atol=2)
    for name in ("wheel_1", "wheel_2", "wheel_3", "wheel_4"):
        assert ours[name] == [231, 231, 231]  # linear 0.8 through the sRGB curve


def test_blenders_usdz_of_the_rigged_car_lies_where_its_gltf_does():
    """The car skinned to a turned and scaled armature, as Blender writes it
    to USD (UsdSkel, at rest) and to glTF: the same faces, surface and place."""
    usd, gltf = (load_asset(os.path.join(DATA, f"toy_car_blender_rigged.{ext}")) for ext in ("usdz", "glb"))
    assert usd.n_faces == gltf.n_faces
    np.testing.assert_allclose(usd.mesh.bounds, gltf.mesh.bounds, atol=1e-5)
    assert _placed(usd).area == pytest.approx(_placed(gltf).area, rel=1e-5)


def test_blenders_usdz_of_the_chair_keeps_its_objects_and_says_what_it_smooths():
    """Blender's USDZ of the chair (a mirrored leg, a cushion under a negative
    scale, a seat with two materials bound to GeomSubsets of its faces, a
    backrest parented to the seat whose subdivision Blender writes as the
    cage and a catmullClark scheme): a node per object and material, as the
    glTF of the same scene has them; those not subdivided with its
    triangles, surface and colours; a warning that the backrest is read as
    its cage."""
    usd, gltf = (load_asset(os.path.join(DATA, name)) for name in ("chair_blender.usdz", "chair_blender.glb"))

    def nodes(asset):  # (object, triangles, area, colour) of every node but the subdivided backrest
        placed, colours = _placed(asset), _colours(asset)
        return sorted((name.split("_")[0], int((asset.face_node == k).sum()),
                       round(float(placed.area_faces[asset.face_node == k].sum()), 5), colours[name])
                      for k, name in enumerate(asset.node_names) if name != "back")

    assert len(usd.node_names) == len(gltf.node_names) == 5 and "back" in usd.node_names
    for ours, theirs in zip(nodes(usd), nodes(gltf)):
        assert ours[:3] == theirs[:3]
        np.testing.assert_allclose(ours[3], theirs[3], atol=2)
    assert usd.warnings == ["'chair_blender.usdz' gives 'back' as a subdivision surface: PartScope reads its control "
                            "cage, as usdview draws it by default; apply the subdivision before exporting to segment "
                            "the smooth surface."]


def _stage(path: str, up: str = "Y"):
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.CreateNew(path)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y if up == "Y" else UsdGeom.Tokens.z)
    return stage


def _floor(stage, path: str, left_handed: bool = False):
    """A floor at y 0: a concave pentagon (a square of side 2 with a notch to
    (1, 0, 1): area 3) beside a unit quad, wound to face +y in either hand."""
    from pxr import UsdGeom

    mesh = UsdGeom.Mesh.Define(stage, path)
    mesh.CreatePointsAttr([(0, 0, 0), (0, 0, 2), (2, 0, 2), (1, 0, 1), (2, 0, 0),
                           (3, 0, 0), (3, 0, 1), (4, 0, 1), (4, 0, 0)])
    pentagon, quad = [0, 1, 2, 3, 4], [5, 6, 7, 8]
    if left_handed:
        pentagon, quad = pentagon[::-1], quad[::-1]
        mesh.CreateOrientationAttr(UsdGeom.Tokens.leftHanded)
    mesh.CreateFaceVertexCountsAttr([5, 4])
    mesh.CreateFaceVertexIndicesAttr(pentagon + quad)
    return mesh


def _coordinates(mesh, value, name: str = "st") -> None:
    """Texture coordinates ``value`` at every point of ``_floor``'s mesh."""
    from pxr import Sdf, UsdGeom

    UsdGeom.PrimvarsAPI(mesh.GetPrim()).CreatePrimvar(
        name, Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex).Set([value] * 9)


def _textured(stage, mesh, name: str, file: str, home: str | None = None) -> tuple:
    """A material ``/looks/{name}`` bound to ``mesh``: a UsdPreviewSurface
    and a UsdUVTexture of ``file`` (under ``home``, else the material), the
    texture's colour the surface's diffuse where it is the material's own;
    (surface, texture)."""
    from pxr import Sdf, UsdShade

    material = UsdShade.Material.Define(stage, f"/looks/{name}")
    surface = UsdShade.Shader.Define(stage, f"/looks/{name}/surface")
    surface.CreateIdAttr("UsdPreviewSurface")
    image = UsdShade.Shader.Define(stage, f"{home or f'/looks/{name}'}/image")
    image.CreateIdAttr("UsdUVTexture")
    image.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(file)
    if home is None:
        surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(
            image.CreateOutput("rgb", Sdf.ValueTypeNames.Float3))
    material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
    UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim()).Bind(material)
    return surface, image


@pytest.mark.parametrize("left_handed", [False, True])
def test_a_stage_is_read_as_a_usd_viewer_draws_it(tmp_path, left_handed):
    """A Y-up stage written with Pixar's library: a concave pentagon and a
    quad cut inside them and facing as drawn (a left-handed mesh's winding
    turned), coloured per face by displayColor (no material); a prototype
    drawn twice as instances; an invisible mesh and a guide left out."""
    from pxr import Gf, Sdf, UsdGeom

    path = str(tmp_path / "stage.usda")
    stage = _stage(path)
    floor = _floor(stage, "/floor/tiles", left_handed)
    colour = floor.CreateDisplayColorPrimvar(UsdGeom.Tokens.uniform)
    colour.Set([(1, 0, 0), (0, 0, 1)])
    _floor(stage, "/prototype/tiles")
    stage.GetPrimAtPath("/prototype").SetSpecifier(Sdf.SpecifierClass)
    for k in (1, 2):  # two instances of the prototype, moved up
        xform = UsdGeom.Xform.Define(stage, f"/copy_{k}")
        xform.AddTranslateOp().Set(Gf.Vec3d(0, k, 0))
        xform.GetPrim().GetInherits().AddInherit("/prototype")
        xform.GetPrim().SetInstanceable(True)
    _floor(stage, "/hidden/tiles").CreateVisibilityAttr(UsdGeom.Tokens.invisible)
    _floor(stage, "/helper/tiles").CreatePurposeAttr(UsdGeom.Tokens.guide)
    stage.Save()

    asset = load_asset(path)
    assert asset.n_faces == 3 * (3 + 2)  # three floors of a pentagon (3 triangles) and a quad (2)
    assert sorted(asset.node_names) == ["copy_1", "copy_2", "floor"]
    placed = _placed(asset)
    assert placed.area == pytest.approx(3 * 4.0)
    assert (placed.face_normals[:, 1] > 0.999).all()  # every triangle faces +y, as drawn
    floor_faces = asset.face_node == asset.node_names.index("floor")
    colours = surface_color(asset, np.nonzero(floor_faces)[0], np.full((floor_faces.sum(), 3), 1 / 3))
    on_quad = placed.triangles_center[floor_faces][:, 0] > 2.5
    assert (colours[~on_quad] == [255, 0, 0]).all() and (colours[on_quad] == [0, 0, 255]).all()
    np.testing.assert_allclose(np.sort(np.unique(placed.vertices[:, 1].round(6))), [0, 1, 2])


def test_a_meshs_holes_are_left_out(tmp_path):
    """The faces a mesh names in its holeIndices are cut out of its surface,
    as a viewer draws it: the floor's quad, its pentagon left (until
    2026-12-06 drawn, as a pyramid's openings were closed)."""
    path = str(tmp_path / "holes.usda")
    stage = _stage(path)
    _floor(stage, "/floor/tiles").CreateHoleIndicesAttr([1])
    stage.Save()
    placed = _placed(load_asset(path))
    assert len(placed.faces) == 3 and placed.area == pytest.approx(3.0)


@pytest.mark.parametrize("surface,inputs,shown", [
    ("ND_open_pbr_surface_surfaceshader", {"base_color": (0.041, 0.5, 0.5), "base_weight": 0.8}, [50, 170, 170]),
    ("ND_open_pbr_surface_surfaceshader", {"base_color": (0.041, 0.5, 0.5)}, [56, 188, 188]),
    ("ND_standard_surface_surfaceshader", {"base_color": (1.0, 0.0, 0.0)}, [231, 0, 0])])
def test_a_materialx_surface_shows_its_base_colour(tmp_path, surface, inputs, shown):
    """A material that holds a MaterialX surface only (OpenPBR, Standard
    Surface), no UsdPreviewSurface, as Adobe's, Houdini's and Maya's stages
    hold them: its base colour times its base weight (the weight's default,
    1 for OpenPBR, 0.8 for Standard Surface, where it is not written), in
    linear light (grey until 2026-12-06)."""
    from pxr import Sdf, UsdShade

    path = str(tmp_path / "teal.usda")
    stage = _stage(path)
    floor = _floor(stage, "/floor/tiles")
    material = UsdShade.Material.Define(stage, "/looks/teal")
    shader = UsdShade.Shader.Define(stage, "/looks/teal/surface")
    shader.CreateIdAttr(surface)
    for name, value in inputs.items():
        kind = Sdf.ValueTypeNames.Color3f if isinstance(value, tuple) else Sdf.ValueTypeNames.Float
        shader.CreateInput(name, kind).Set(value)
    material.CreateSurfaceOutput("mtlx").ConnectToSource(shader.ConnectableAPI(), "out")
    UsdShade.MaterialBindingAPI.Apply(floor.GetPrim()).Bind(material)
    stage.Save()
    assert _colours(load_asset(path)) == {"floor": shown}


def test_what_a_stage_hides_is_said(tmp_path):
    """Shapes a viewer hides (invisible, as a robot's collision shapes; a
    guide) are left out and counted in a warning; a stage of nothing else
    is refused saying so (until 2026-12-06 "empty, damaged or not really
    USD")."""
    from pxr import UsdGeom

    path = str(tmp_path / "robot.usda")
    stage = _stage(path)
    _floor(stage, "/robot/link")
    UsdGeom.Cube.Define(stage, "/robot/collision/box").CreateVisibilityAttr(UsdGeom.Tokens.invisible)
    UsdGeom.Sphere.Define(stage, "/robot/guide").CreatePurposeAttr(UsdGeom.Tokens.guide)
    stage.Save()
    asset = load_asset(path)
    assert asset.n_faces == 5 and asset.warnings == [
        "'robot.usda' hides 2 shapes (invisible, or a guide or proxy), which PartScope leaves out, as a viewer does."]
    stage.RemovePrim("/robot/link")
    stage.Save()
    with pytest.raises(InputError) as refused:
        load_asset(path)
    assert str(refused.value) == (
        "'robot.usda' holds no faces that are shown: it hides 2 shapes (invisible, or a guide or proxy), which "
        "PartScope leaves out, as a viewer does; make what it hides visible to segment it.")


def test_solid_shapes_are_read_and_what_else_a_stage_draws_is_named(tmp_path):
    """Shapes given as primitives, at USD's sizes, axes and defaults, placed
    and coloured (a cube of size 2 moved up, a sphere of radius 1, a cylinder
    and a cone along x, a capsule, red by its displayColor); a point
    instancer (its prototype below it drawn only through it) and curves left
    out, with a warning each."""
    from pxr import Gf, UsdGeom

    path = str(tmp_path / "shapes.usda")
    stage = _stage(path)
    cube = UsdGeom.Cube.Define(stage, "/cube")
    cube.AddTranslateOp().Set(Gf.Vec3d(0, 5, 0))
    cube.CreateDisplayColorAttr([(1, 0, 0)])
    UsdGeom.Sphere.Define(stage, "/ball")
    for kind in (UsdGeom.Cylinder, UsdGeom.Cone):
        kind.Define(stage, f"/{kind.__name__.lower()}").CreateAxisAttr("X")
    UsdGeom.Capsule.Define(stage, "/capsule")
    scatter = UsdGeom.PointInstancer.Define(stage, "/scatter")
    _floor(stage, "/scatter/prototypes/pebble")
    scatter.CreatePrototypesRel().AddTarget("/scatter/prototypes/pebble")
    scatter.CreatePositionsAttr([(0, 5, 0), (0, 6, 0)])
    scatter.CreateProtoIndicesAttr([0, 0])
    UsdGeom.BasisCurves.Define(stage, "/hair")
    stage.Save()
    asset = load_asset(path)
    assert asset.node_names == ["cube", "ball", "cylinder", "cone", "capsule"]
    placed = _placed(asset)
    nodes = {name: trimesh.Trimesh(placed.vertices, placed.faces[asset.face_node == k])
             for k, name in enumerate(asset.node_names)}
    np.testing.assert_allclose(nodes["cube"].bounds, [[-1, 4, -1], [1, 6, 1]], atol=1e-9)
    assert nodes["cube"].area == pytest.approx(24)
    assert nodes["ball"].area == pytest.approx(4 * np.pi, rel=0.01)
    np.testing.assert_allclose(nodes["cylinder"].bounds, [[-1, -1, -1], [1, 1, 1]], atol=1e-9)  # length 2 along x
    np.testing.assert_allclose(nodes["cone"].bounds[:, 0], [-1, 1], atol=1e-9)
    np.testing.assert_allclose(nodes["capsule"].bounds, [[-0.5, -0.5, -1], [0.5, 0.5, 1]], atol=1e-9)
    assert _colours(asset)["cube"] == [255, 0, 0]
    assert asset.warnings == [
        "'shapes.usda' also holds 1 point instancer, which PartScope leaves out: only meshes and solid shapes are "
        "segmented.",
        "'shapes.usda' also holds 1 prim drawn as curves, points or a plane, which PartScope leaves out: only meshes "
        "and solid shapes are segmented."]


def test_a_z_up_stage_stands_up_and_keeps_its_coordinates(tmp_path):
    """A Z-up stage (Blender's, most CAD tools') stands as glTF does, Y up,
    while ``to_original`` still maps to the file's own coordinates."""
    path = str(tmp_path / "z.usda")
    stage = _stage(path, up="Z")
    _floor(stage, "/floor/tiles")  # lies at y 0: a wall, in a Z-up stage
    stage.Save()
    asset = load_asset(path)
    assert np.ptp(asset.mesh.vertices[:, 2]) < 1e-9  # the file's y is PartScope's -z: the wall stands
    np.testing.assert_allclose(_placed(asset).vertices[:, 1], 0, atol=1e-9)


def test_a_usd_texture_that_is_not_there_is_named(tmp_path):
    """A UsdPreviewSurface whose diffuse texture file is missing: the model
    loads without it, and a warning names the file; not the MDL shader
    Omniverse writes beside it, which PartScope does not read where it is
    there either (named as a texture until 2026-12-06)."""
    from pxr import UsdShade

    path = str(tmp_path / "textured.usda")
    stage = _stage(path)
    floor = _floor(stage, "/floor/tiles")
    _coordinates(floor, (0, 0))
    _textured(stage, floor, "wood", "textures/wood.png")
    UsdShade.Shader.Define(stage, "/looks/wood/mdl").SetSourceAsset("materials/OmniPBR.mdl", "mdl")
    stage.Save()
    asset = load_asset(path)
    assert asset.n_faces == 5 and not asset.has_texture
    assert asset.warnings == ["'textured.usda' refers to 'wood.png' (a texture), which is not beside it: the model "
                              "is loaded without it; keep the .usd with its layers and textures (in the web app, "
                              "drop them together, or one ZIP of them)."]


@pytest.mark.parametrize("graph", [False, True])
def test_a_usd_texture_is_read_directly_or_through_a_node_graph(tmp_path, graph):
    """A UsdPreviewSurface's diffuse texture, connected to it directly or
    through a node graph's output (as Reality Composer and MaterialX-minded
    tools wrap their nodes), with its coordinates from the primvar its
    reader names: the floor shows the image's colour."""
    from PIL import Image as PILImage
    from pxr import Sdf, UsdShade

    (tmp_path / "textures").mkdir()
    PILImage.new("RGB", (4, 4), (30, 160, 90)).save(tmp_path / "textures" / "moss.png")
    path = str(tmp_path / "mossy.usda")
    stage = _stage(path)
    floor = _floor(stage, "/floor/tiles")
    _coordinates(floor, (0.5, 0.5), "uv_main")
    home = "/looks/moss/graph" if graph else "/looks/moss"
    if graph:
        nodes = UsdShade.NodeGraph.Define(stage, home)
    surface, image = _textured(stage, floor, "moss", "./textures/moss.png", home if graph else None)
    reader = UsdShade.Shader.Define(stage, f"{home}/reader")
    reader.CreateIdAttr("UsdPrimvarReader_float2")
    reader.CreateInput("varname", Sdf.ValueTypeNames.Token).Set("uv_main")
    image.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(reader.ConnectableAPI(), "result")
    if graph:  # the texture's colour out through the graph's own output
        out = nodes.CreateOutput("colour", Sdf.ValueTypeNames.Color3f)
        out.ConnectToSource(image.CreateOutput("rgb", Sdf.ValueTypeNames.Float3))
        surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(out)
    stage.Save()
    asset = load_asset(path)
    assert asset.has_texture and asset.warnings == []
    assert _colours(asset)["floor"] == [30, 160, 90]


def test_meshes_that_share_a_usd_texture_share_its_image(tmp_path, monkeypatch):
    """A material bound to many meshes (a game asset's parts and its atlas)
    was decoded once for each: sixty meshes sharing a 4K texture were
    refused as 1,007 million pixels, after 46 s and 7.1 GB. Each file is
    decoded once and the meshes share its texture; past the budget (here
    under the two files' 80 pixels) the stage is refused by the pixels its
    textures hold, as a glTF is."""
    import core.loading
    from PIL import Image as PILImage
    from pxr import UsdShade

    PILImage.new("RGB", (4, 4), (30, 160, 90)).save(tmp_path / "moss.png")
    PILImage.new("RGB", (8, 8), (200, 40, 30)).save(tmp_path / "brick.png")
    path = str(tmp_path / "shared.usda")
    stage = _stage(path)
    floors = [_floor(stage, f"/floor{i}/tiles") for i in range(3)]
    for i, floor in enumerate(floors):
        floor.AddTranslateOp().Set((0, 0, 3 * i))
        _coordinates(floor, (0.5, 0.5))
    _textured(stage, floors[0], "moss", "moss.png")
    UsdShade.MaterialBindingAPI.Apply(floors[1].GetPrim()).Bind(UsdShade.Material(stage.GetPrimAtPath("/looks/moss")))
    _textured(stage, floors[2], "brick", "brick.png")
    stage.Save()
    asset = load_asset(path)
    assert len(asset.textures) == 2 and asset.warnings == []
    shown = {asset.node_names[n]: int(asset.face_material[asset.face_node == n][0]) for n in range(3)}
    assert shown["floor0"] == shown["floor1"] != shown["floor2"]
    assert [t.shape[:2] for t in asset.textures] == [(4, 4), (8, 8)]
    monkeypatch.setattr(core.loading, "MAX_TEXTURE_PIXELS", 79)
    with pytest.raises(InputError, match="'shared.usda' holds colour textures of 0 million pixels in all, more than"):
        load_asset(path)


@pytest.mark.parametrize("coordinates", [True, False])
def test_a_usd_texture_is_moved_and_scaled_as_its_shaders_say(tmp_path, coordinates):
    """A texture half red, half blue, read at the red half's coordinates
    moved 0.6 of a texture along by a UsdTransform2d, its colour scaled by a
    half by the UsdUVTexture: the floor shows half the blue. Without
    texture coordinates it is read where a primvar reader falls back to,
    (0, 0), moved as well."""
    from PIL import Image as PILImage
    from pxr import Gf, Sdf, UsdShade

    PILImage.fromarray(np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8)).save(tmp_path / "halves.png")
    path = str(tmp_path / "moved.usda")
    stage = _stage(path)
    floor = _floor(stage, "/floor/tiles")
    if coordinates:
        _coordinates(floor, (0.25, 0.5))
    _, image = _textured(stage, floor, "halves", "./halves.png")
    image.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(0.5, 0.5, 0.5, 1))
    reader = UsdShade.Shader.Define(stage, "/looks/halves/reader")
    reader.CreateIdAttr("UsdPrimvarReader_float2")
    reader.CreateInput("varname", Sdf.ValueTypeNames.Token).Set("st")
    move = UsdShade.Shader.Define(stage, "/looks/halves/move")
    move.CreateIdAttr("UsdTransform2d")
    move.CreateInput("in", Sdf.ValueTypeNames.Float2).ConnectToSource(reader.ConnectableAPI(), "result")
    move.CreateInput("translation", Sdf.ValueTypeNames.Float2).Set(Gf.Vec2f(0.6, 0))
    image.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(move.ConnectableAPI(), "result")
    stage.Save()
    assert _colours(load_asset(path))["floor"] == [0, 0, 128]  # (0, 0) moved to (0.6, 0): blue too


@pytest.mark.parametrize("threshold,shown", [(0.5, [0, 0, 255, 255]), (None, [255, 255, 255, 255])])
def test_a_usd_cut_out_texture_hides_its_clear_texels(tmp_path, threshold, shown):
    """A leaf card's texture (its left half clear) whose alpha is the
    UsdPreviewSurface's opacity: under an opacityThreshold a cut-out, as
    glTF's MASK (clear texels not drawn, not picked); without one drawn
    opaque, as every texture that is not cut out."""
    from PIL import Image as PILImage
    from pxr import Sdf

    pixels = np.zeros((4, 4, 4), np.uint8)
    pixels[..., 1] = 200
    pixels[:, 2:, 3] = 255
    PILImage.fromarray(pixels, "RGBA").save(tmp_path / "leaf.png")
    path = str(tmp_path / "leaf.usda")
    stage = _stage(path)
    floor = _floor(stage, "/leaf/card")
    _coordinates(floor, (0.5, 0.5))
    surface, image = _textured(stage, floor, "leaf", "./leaf.png")
    surface.CreateInput("opacity", Sdf.ValueTypeNames.Float).ConnectToSource(
        image.CreateOutput("a", Sdf.ValueTypeNames.Float))
    if threshold is not None:
        surface.CreateInput("opacityThreshold", Sdf.ValueTypeNames.Float).Set(threshold)
    stage.Save()
    texture = load_asset(path).textures[0]
    assert texture[..., 3].tolist() == [shown] * 4


def test_a_scene_written_as_several_layers_is_read_whole_or_named(tmp_path):
    """A stage that references the layer holding its mesh (as Omniverse and
    pipelines split a scene into files): read whole with the layer beside it;
    alone, refused with a sentence that names the missing layer."""
    part = _stage(str(tmp_path / "chair_part.usda"))
    _floor(part, "/part/tiles")
    part.SetDefaultPrim(part.GetPrimAtPath("/part"))
    part.Save()
    path = str(tmp_path / "scene.usda")
    scene = _stage(path)
    scene.DefinePrim("/chair", "Xform").GetReferences().AddReference("./chair_part.usda")
    scene.Save()
    assert load_asset(path).n_faces == 5
    del part, scene  # the stages written here hold their layers open
    os.remove(tmp_path / "chair_part.usda")
    with pytest.raises(InputError) as refused:
        load_asset(path)
    assert str(refused.value) == (  # until 2026-12-06 "holds no faces: it is empty, damaged...", then the layer
        "'scene.usda' holds no faces without 'chair_part.usda' (a layer of its scene), which is not beside it; keep "
        "the .usd with its layers and textures (in the web app, drop them together, or one ZIP of them).")


def test_a_zip_of_a_stage_and_its_layers_is_one_model(tmp_path):
    """A ZIP of a stage and the layer it references (both USD files by their
    names): the stage is the model, read whole; two stages that reference
    nothing are two models, refused with the ZIP sentence."""
    import zipfile

    for name, referenced in (("scene.usda", "part.usda"), ("other.usda", None)):
        stage = _stage(str(tmp_path / name))
        if referenced:
            stage.DefinePrim("/chair", "Xform").GetReferences().AddReference(f"./{referenced}")
        else:
            _floor(stage, "/other/tiles")
        stage.Save()
    part = _stage(str(tmp_path / "part.usda"))
    _floor(part, "/part/tiles")
    part.SetDefaultPrim(part.GetPrimAtPath("/part"))
    part.Save()
    for members, expected in ((("scene.usda", "part.usda"), 5), (("scene.usda", "part.usda", "other.usda"), None)):
        path = tmp_path / f"{len(members)}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for member in members:
                archive.write(tmp_path / member, f"model/{member}")
        if expected:
            assert load_asset(str(path)).n_faces == expected
        else:
            with pytest.raises(InputError, match=r"holds 2 models \(model/other.usda, model/scene.usda\)"):
                load_asset(str(path))


def test_a_file_that_is_not_usd_is_refused_with_a_sentence(tmp_path):
    path = tmp_path / "model.usdz"
    path.write_bytes(b"PK\x03\x04 not really a package")
    with pytest.raises(InputError, match=r"^'model.usdz' could not be read as USDZ: the file looks damaged"):
        load_asset(str(path))


def test_a_usdz_that_asks_for_more_memory_than_there_is_is_refused(tmp_path, monkeypatch):
    """One byte of Blender's USDZ changed makes usd-core ask for more memory
    than this machine has (it took all 24 GB and was killed, and a server
    with it): read in a process of its own with its memory capped (here at
    3 GiB), the file is refused with a sentence, and the next one reads."""
    from core import apart

    monkeypatch.setattr(apart, "MEMORY_SHARE", 0.0)
    monkeypatch.setattr(apart, "MIN_MEMORY", 3 * 2**30)
    good = os.path.join(DATA, "toy_car_blender_rigged.usdz")
    data = bytearray(open(good, "rb").read())
    data[303] = 0xBA  # a byte of the .usdc in the package
    path = tmp_path / "damaged.usdz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"^'damaged.usdz' could not be read as USDZ: the file looks damaged"):
        load_asset(str(path))
    assert load_asset(good).n_faces == 1920
