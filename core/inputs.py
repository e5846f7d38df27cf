"""What a person gives PartScope: the formats it reads, the one model among
files dropped together or zipped (a glTF with its .bin and images, an OBJ
with its .mtl, a USD stage with its layers), and the sentence that says
why a file cannot be used (``InputError``)."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
import zlib

import PIL.Image

from .blender import libraries_used
from .settings import MAX_FACES, load_settings
from .usd import layers_used

#: A VRM avatar (VRChat, VTubers, XR) is a GLB with extensions that only say how to animate it.
FORMATS = {".glb": "GLB", ".vrm": "GLB", ".gltf": "glTF", ".obj": "OBJ", ".ply": "PLY", ".stl": "STL", ".off": "OFF",
           ".usdz": "USDZ", ".usd": "USD", ".usda": "USD", ".usdc": "USD", ".fbx": "FBX", ".blend": "Blender",
           ".dae": "DAE", ".3mf": "3MF"}
FORMAT_LIST = "GLB, glTF, OBJ, PLY, STL, OFF, USD(Z), FBX, .blend, DAE or 3MF"
#: Formats Blender reads for PartScope (``core.blender``).
BLENDER_FORMATS = ("FBX", "Blender")
USD_LAYERS = (".usd", ".usda", ".usdc", ".usdz")
#: A ZIP, and the packages that are ZIPs of a model and its files: Google
#: Earth's KMZ (SketchUp's and 3D Warehouse's: a KML beside a Collada model
#: and its textures) and a zipped Collada (.zae).
ZIPS = (".zip", ".kmz", ".zae")
#: Most bytes a ZIP may unpack to (a glTF with its .bin and images).
MAX_UNZIPPED = 2**30
#: Bytes a face takes in a text model at most as exporters write them (an
#: OBJ with normals and texture coordinates: 83): the model file in a ZIP,
#: or a 3MF's model parts, may unpack to this many a face the face limit
#: allows (257 MB at 3 million, ``past_model_bytes``). Text takes 10 to 35
#: times its size in memory as it is read, and its faces pack small (a zipped
#: OBJ of 100 MB, 0.15 MB in the ZIP, took 2.2 GB; a 3MF of 100 MB, 0.3 MB, 3.6 GB).
BYTES_A_FACE = 90
#: Most pixels a model's texture images may hold in all, four 8K images or
#: sixteen 4K ones (``loading``): decoded, each pixel takes about ten bytes
#: while the model loads, and a PNG of one colour 8,000 pixels wide is
#: 0.2 MB in the file. One image may hold them all (a 16K photogrammetry
#: texture): Pillow refuses an image of twice its limit.
MAX_TEXTURE_PIXELS = 2**28
PIL.Image.MAX_IMAGE_PIXELS = MAX_TEXTURE_PIXELS // 2


class InputError(ValueError):
    """A file PartScope cannot use; the message is one sentence for a person."""


def opens_as_image(data: bytes) -> bool:
    """Whether Pillow opens ``data`` as an image (its header read; its size
    under Pillow's limit against decompression bombs). trimesh leaves out,
    without a word, a texture that does not."""
    try:
        with PIL.Image.open(io.BytesIO(data)):
            return True
    except Exception:  # an unknown format, a damaged header, a bomb
        return False


def past_face_limit(count: int) -> str:
    """The end of the sentence that refuses a model of ``count`` faces
    (after its name, before the full stop); '' where it is within the
    deployment's limit (``settings.MAX_FACES``, PARTSCOPE_MAX_FACES). The
    faces are counted before the geometry is read where the file says how
    many it holds (a glTF's accessors: Draco packs 21 million faces in 5 MB,
    which took 2 GB and 9 s to decode; an OBJ's and a 3MF's faces)."""
    limit = load_settings().max_faces
    if count <= limit:
        return ""
    usual = ", about what a 50 MB file holds uncompressed" if limit == MAX_FACES else ""
    return (f"holds {count:,} faces once its meshes are placed, more than PartScope segments ({limit:,}{usual}): "
            "export it decimated or with fewer copies of its meshes, and try again")


def past_model_bytes(size: int) -> str:
    """The end of the sentence that refuses a model file of ``size`` bytes
    unpacked (after its name, before the full stop); '' where it is within
    ``BYTES_A_FACE`` a face the face limit allows."""
    limit = BYTES_A_FACE * load_settings().max_faces
    if size <= limit:
        return ""
    return (f"unpacks to a model of {size >> 20} MB, more than PartScope reads ({limit >> 20} MB): export it "
            "decimated and try again")


def occurrences(stream, token: bytes, chunk: int = 2**24) -> int:
    """How many times ``token`` occurs in a binary stream, read a chunk at a time."""
    count, tail = 0, b""
    while block := stream.read(chunk):
        data = tail + block
        count += data.count(token)
        tail = data[len(data) - len(token) + 1:]  # too short to hold it: its start, met again with the next chunk
    return count


#: The end of the sentence for a texture that does not open (``opens_as_image``).
UNREADABLE_IMAGE = ("(damaged, too large, or in a format PartScope cannot read): the model is loaded without it; "
                    "export it again with PNG or JPEG textures")


def models_among(names: list, zips: bool = False) -> list:
    """The names of model files among ``names`` (by extension; ZIPs too where ``zips``)."""
    wanted = set(FORMATS) | (set(ZIPS) if zips else set())
    return [n for n in names if os.path.splitext(n)[1].lower() in wanted]


def model_files(paths: list, zips: bool = False) -> list:
    """The model files among ``paths`` (``models_among``), less the USD
    layers another of them is made of and the .blend files another links
    objects from: a scene written as several files (its stage and the
    layers it references, a .blend and its libraries) is one model."""
    models, used = models_among(paths, zips), set()
    for ends, parts in ((USD_LAYERS, layers_used), ((".blend",), libraries_used)):
        files = [m for m in models if m.lower().endswith(ends)]
        if len(files) >= 2:
            used |= parts(files)
    return [m for m in models if os.path.realpath(m) not in used]


def models_held(models: list) -> str:
    """What ``models`` (names) are, said in a sentence: "2 models (a.glb, b.obj)" or "no model"."""
    return f"{len(models)} models ({', '.join(sorted(models)[:4])})" if models else "no model"


#: Compression methods zipfile unpacks: stored, Deflate, bzip2, LZMA.
_UNPACKED = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


def unzip_model(path: str, name: str, folder: str) -> str:
    """Unpack a ZIP into ``folder``; the path of the one model in it."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()
                       and not m.filename.startswith("__MACOSX/") and not os.path.basename(m.filename).startswith(".")]
            if sum(m.file_size for m in members) > MAX_UNZIPPED:
                raise InputError(f"'{name}' unpacks to more than {MAX_UNZIPPED >> 30} GB: zip only the model, "
                                 "its .bin and its images.")
            written = []
            for m in members:
                target = os.path.normpath(os.path.join(folder, _member_name(m)))
                if not target.startswith(os.path.abspath(folder) + os.sep):
                    continue  # a name that climbs out of the folder: never written
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if m.flag_bits & 0x1:
                    raise InputError(f"'{name}' is protected by a password: make the ZIP again without one.")
                if m.compress_type not in _UNPACKED:
                    raise InputError(f"'{name}' is packed in a way PartScope cannot unpack (method "
                                     f"{m.compress_type}): make the ZIP again with the usual compression (Deflate).")
                with archive.open(m) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                written.append(target)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error):  # zlib: compressed data damaged
        raise InputError(f"'{name}' is not a ZIP that can be opened: the file looks damaged; "
                         "make the ZIP again.") from None
    models = model_files(written)
    if len(models) != 1:
        held = models_held([os.path.relpath(m, folder).replace(os.sep, "/") for m in models])
        raise InputError(f"'{name}' holds {held}: a ZIP must hold one model ({FORMAT_LIST}) with the files it "
                         "refers to.")
    if refusal := past_model_bytes(os.path.getsize(models[0])):
        raise InputError(f"'{name}' {refusal}.")
    return models[0]


def _member_name(member: zipfile.ZipInfo) -> str:
    """A ZIP member's name as its maker meant it: folders by slashes where
    an old Windows tool wrote backslashes; UTF-8 where the name is UTF-8
    without the flag that says so (zipfile then reads it as code page 437,
    so 'texturé.png' would not be the file the model names)."""
    name = member.filename
    if not member.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name.replace("\\", "/")
