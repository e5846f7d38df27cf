"""Text model files (OBJ and the .mtl beside it) read in their encoding.

trimesh decodes text as UTF-8, else as whatever charset_normalizer guesses
for each file on its own, so a Latin-1 .obj and its .mtl can be guessed
apart (names garbled, the .mtl's colours lost on the way). Here every text
file is read by one rule and handed to trimesh as UTF-8, and the files an
OBJ names are found as exporters name them (Windows paths, another case).
An OBJ's polygons of five or more corners are cut here, inside them, after
its lines continued by a backslash are joined, its indices counted back
counted from the start, its vertex colours written as bytes read as such
and ZBrush's polypaint read as vertex colours; every material library it
names is read, and a texture its map's scale and offset options repeat or
move is drawn so. An OFF file is read here as well: its colours, which
trimesh's reader leaves out, and its polygons cut inside them.
"""

from __future__ import annotations

import codecs
import collections
import io
import itertools
import re

import numpy as np
import PIL.Image
import trimesh

from .beside import BesideResolver
from .looks import GREY
from .polygons import triangulate


def read_text(data: bytes) -> str:
    """The text of a model file: UTF-8 (a BOM allowed), UTF-16 with its BOM,
    else Windows-1252, the superset of Latin-1 that Windows tools write
    (its five unassigned bytes read as Latin-1). Never a guess that changes
    from file to file, so an .obj and its .mtl agree on every name."""
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="partscope-latin1")


codecs.register_error("partscope-latin1", lambda err: (err.object[err.start:err.end].decode("latin-1"), err.end))


def obj_source(path: str) -> tuple[io.BytesIO, trimesh.resolvers.Resolver, collections.Counter]:
    """An OBJ as UTF-8 for trimesh: (file object, a resolver that reads its
    .mtl files the same way, how many statements of each kind it holds:
    'f' faces, 'l' lines, 'o' objects, 'g' groups...). A comment that names
    a library is taken out: trimesh reads the first 'mtllib' in the text,
    commented out or not (raylib's cube: '#mtllib cube.mtl')."""
    with open(path, "rb") as f:
        text = _CONTINUED.sub(" ", _uncommented(read_text(f.read()))).replace("\t", " ")  # trimesh splits at spaces
        text = _cut_polygons(_absolute_indices(_colours_as_fractions(_polypaint(_decimal_points(text)))))
    text, libraries = _one_library(text)
    kinds = collections.Counter(line.split(None, 1)[0] for line in text.splitlines() if line.strip())
    return io.BytesIO(text.encode("utf-8")), _TextResolver(path, libraries), kinds


#: An OBJ's 'mtllib' statement and the names it gives.
_LIBRARY = re.compile(r"^[ \t]*mtllib[ \t]+([^\r\n]*?)[ \t]*\r?$", re.M)
#: One library's name in an 'mtllib' statement: up to a '.mtl' at its end or before a space ('my chair.mtl').
_LIBRARY_NAME = re.compile(r"\S.*?\.mtl(?=[ \t]|$)", re.I)
#: The one material library trimesh is given for an OBJ that names several.
LIBRARIES = "partscope-libraries.mtl"


def _uncommented(text: str) -> str:
    """The OBJ without its comment lines that hold 'mtllib' (found by the
    word: a pattern run at every line start takes 0.3 s on 50 MB)."""
    cut, at = [], text.find("mtllib")
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        if text[start:at].lstrip().startswith("#"):
            cut.append((start, end))
        at = text.find("mtllib", end)
    for start, end in reversed(cut):
        text = text[:start] + text[end:]
    return text


def _one_library(text: str) -> tuple[str, list[str]]:
    """An OBJ that names several material libraries (in one 'mtllib', each
    name a .mtl, or in several) naming one, LIBRARIES, which
    ``_TextResolver`` reads as all of them: trimesh reads the first
    'mtllib' only, all it names as one file name. And the names, none where
    the OBJ names one library (a name may hold spaces: 'my chair.mtl', and
    one statement name several so: obj2gltf's test files)."""
    found = list(_LIBRARY.finditer(text))
    names = list(dict.fromkeys(name for m in found for name in (_LIBRARY_NAME.findall(m.group(1)) or [m.group(1)])))
    if len(names) < 2:
        return text, []
    first = found[0].start()
    return _LIBRARY.sub(lambda m: f"mtllib {LIBRARIES}" if m.start() == first else "", text), names


#: A line ending in a backslash goes on in the next (Rhino writes long faces so).
_CONTINUED = re.compile(r"\\[ \t]*\r?\n")
_POLYGON = re.compile(r"^[ \t]*f(?:[ \t]+[-+\d/]+){5,}[ \t]*\r?$", re.M)
_VERTEX = re.compile(r"^[ \t]*v[ \t]+(\S+)[ \t]+(\S+)[ \t]+(\S+)", re.M)
#: A face, line or point with an index counted back (after a newline: twice as fast as ^ in re.M).
_COUNTED_BACK = re.compile(r"\n[ \t]*[flp][ \t][^-\n]*-")
#: A position, texture coordinate or normal statement (after a newline).
_VERTEX_AFTER = re.compile(r"\n[ \t]*v[tn]?[ \t]")
#: A position statement, the whole line.
_VERTEX_LINE = re.compile(r"^[ \t]*v[ \t][^\n]*", re.M)
#: A vertex with a colour after its position: v x y z r g b.
_COLOURED = re.compile(r"^([ \t]*v[ \t]+(?:\S+[ \t]+){3})(\S+)[ \t]+(\S+)[ \t]+(\S+)", re.M)


#: A number written with a decimal comma ('0,5'), as exporters set to some languages write them.
_DECIMAL_COMMA = re.compile(r"-?\d+,\d+(?:[eE][-+]?\d+)?")
#: A position, texture coordinate or normal statement (the whole line) holding a comma.
_VERTEX_COMMA = re.compile(r"^[ \t]*v[tn]?[ \t][^\n]*,[^\n]*", re.M)


def _decimal_points(text: str) -> str:
    """An OBJ whose first vertex is written with decimal commas ('v 0,5
    1,25 0', as some exporters set to languages that write them do) with
    decimal points in every vertex statement; others as they are."""
    first = _VERTEX_LINE.search(text)
    numbers = first.group().split()[1:] if first else []
    if not numbers or not any("," in n for n in numbers) or not all(
            _DECIMAL_COMMA.fullmatch(n) or _is_number(n) for n in numbers):
        return text
    return _VERTEX_COMMA.sub(lambda m: m.group().replace(",", "."), text)


#: ZBrush's polypaint: after every 64 vertices, their colours as MMRRGGBB in hexadecimal (MM its mask).
_MRGB = re.compile(r"^#MRGB[ \t]+([0-9a-fA-F]+)", re.M)


def _polypaint(text: str) -> str:
    """An OBJ with ZBrush's polypaint ('#MRGB' comments, which other readers
    skip) with each vertex's colour after its position, as trimesh reads
    vertex colours; as it is where the colours do not count one a vertex."""
    if "#MRGB" not in text:
        return text
    found = "".join(m.group(1) for m in _MRGB.finditer(text))
    vertices = list(_VERTEX_LINE.finditer(text))
    if len(found) % 8 or len(found) // 8 != len(vertices):
        return text
    rgb = np.frombuffer(bytes.fromhex(found), np.uint8).reshape(-1, 4)[:, 1:] / 255.0
    out, at = [], 0
    for m, (r, g, b) in zip(vertices, rgb.tolist()):
        out += [text[at:m.start()], " ".join(m.group().split()[:4]), f" {r:.4g} {g:.4g} {b:.4g}"]
        at = m.end()
    return "".join(out + [text[at:]])


def _colours_as_fractions(text: str) -> str:
    """An OBJ's vertex colours written as bytes (0 to 255, as some scanners
    and converters write them) as the fractions trimesh reads, which would
    take every such colour past 1 as white. Judged by the first thousand
    vertices."""
    vertices = itertools.islice(_VERTEX_LINE.finditer(text), 1000)
    try:
        first = [float(c) for m in vertices for c in m.group().split()[4:7]]
    except ValueError:
        return text  # not numbers: left to trimesh
    if not first or max(first) <= 1:
        return text

    def fractions(m: re.Match) -> str:
        try:
            return m.group(1) + " ".join(f"{float(c) / 255:.6g}" for c in m.groups()[1:])
        except ValueError:
            return m.group()
    return _COLOURED.sub(fractions, text)


def _absolute_indices(text: str) -> str:
    """An OBJ's indices counted back (-1 the last v, vt or vn read so far,
    as some exporters write each object's faces) counted from the start, as
    trimesh reads only those: it counts them back from the end of the file,
    the same only where every vertex comes before every face. ValueError
    where one counts back past the first."""
    lined = "\n" + text  # every statement after a newline, the first too
    back = _COUNTED_BACK.search(lined)
    if not back or not _VERTEX_AFTER.search(lined, back.start()):
        return text  # no vertex after a face that counts back: the end is where it counts from
    read = {"v": 0, "vt": 0, "vn": 0}
    lines = text.split("\n")
    for k, line in enumerate(lines):
        words = line.split()
        if not words:
            continue
        if words[0] in read:
            read[words[0]] += 1
        elif words[0] in ("f", "l", "p") and "-" in line:
            for w, word in enumerate(words[1:], start=1):
                numbers = word.split("/")
                for i, kind in enumerate(("v", "vt", "vn")[:len(numbers)]):
                    if numbers[i].startswith("-"):
                        index = read[kind] + 1 + int(numbers[i])
                        if index < 1:
                            raise ValueError(f"a face counts back past the first {kind}")
                        numbers[i] = str(index)
                words[w] = "/".join(numbers)
            lines[k] = " ".join(words)
    return "\n".join(lines)


def _cut_polygons(text: str) -> str:
    """An OBJ's faces of five or more corners written as the triangles
    ``polygons.triangulate`` cuts them into (trimesh would cut a fan from the
    first corner, outside a concave polygon), each corner's v/vt/vn as it
    was. Quads are left to trimesh (along 0-2, wrong only where corner 1 or
    3 is reflex): finding them would read every quad twice."""
    found = list(_POLYGON.finditer(text))
    if not found:
        return text
    vertices = list(_VERTEX.finditer(text))
    tokens = [m.group().split()[1:] for m in found]
    try:
        xyz = np.array([[float(m.group(i)) for i in (1, 2, 3)] for m in vertices]).reshape(-1, 3)
        corners = np.array([int(t.split("/")[0]) for ts in tokens for t in ts])
    except ValueError:
        return text  # numbers trimesh may read otherwise, or refuse with its sentence
    before = np.searchsorted([m.start() for m in vertices], [m.start() for m in found])
    sizes = np.array([len(ts) for ts in tokens])
    # 1-based, or counted back from the vertices read so far
    corners = np.where(corners < 0, np.repeat(before, sizes) + corners, corners - 1)
    if len(xyz) == 0 or corners.min() < 0 or corners.max() >= len(xyz):
        return text  # indices out of range: left to trimesh, which says so
    poly, corner = triangulate(sizes, corners, xyz)
    flat = [t for ts in tokens for t in ts]
    lines = [[] for _ in found]
    for p, (a, b, c) in zip(poly.tolist(), corner.tolist()):
        lines[p].append(f"f {flat[a]} {flat[b]} {flat[c]}")
    out, at = [], 0
    for m, cut in zip(found, lines):
        out += [text[at:m.start()], "\n".join(cut)]
        at = m.end()
    return "".join(out + [text[at:]])


class _TextResolver(BesideResolver):
    """The files an OBJ names (``BesideResolver``), map options before a
    name and quotes around it taken off, a texture placed as its map's
    scale and offset options say (``_placed``); its .mtl files read by
    ``read_text`` (as UTF-8 for trimesh); LIBRARIES as every library in
    ``libraries`` joined, those not there left out (and named in
    ``missing``)."""

    def __init__(self, path: str, libraries: list[str]):
        super().__init__(path)
        self.libraries = libraries

    def get(self, name: str) -> bytes:
        if name == LIBRARIES and self.libraries:
            return b"\n".join(self._library(library) for library in self.libraries)
        named, options = _map_statement(name)
        data = super().get(named)
        if named.lower().endswith(".mtl"):
            return read_text(data).encode("utf-8")
        return _placed(data, options.get("-s", []), options.get("-o", []))

    def _library(self, name: str) -> bytes:
        try:
            return self.get(name)
        except OSError:
            return b""


#: An MTL map's options and how many values each takes (-o, -s, -t: 1 to 3).
_MAP_OPTIONS = {"-blendu": 1, "-blendv": 1, "-bm": 1, "-boost": 1, "-cc": 1, "-clamp": 1, "-imfchan": 1,
                "-mm": 2, "-o": 3, "-s": 3, "-t": 3, "-texres": 1, "-type": 1}


def _map_statement(value: str) -> tuple[str, dict[str, list[str]]]:
    """The file name in an MTL map statement's value, the options before it
    and quotes around it taken off (``-s 2 2 1 "wood grain.png"``), and
    those options (``{"-s": ["2", "2", "1"]}``)."""
    tokens = list(re.finditer(r"\S+", value))
    i, options = 0, {}
    while i < len(tokens) - 1 and tokens[i].group().lower() in _MAP_OPTIONS:
        option = tokens[i].group().lower()
        most, i, taken = _MAP_OPTIONS[option], i + 1, 0
        options[option] = []
        while taken < most and i < len(tokens) - 1 and (taken == 0 or _is_number(tokens[i].group())):
            options[option].append(tokens[i].group())
            i, taken = i + 1, taken + 1
    return (value[tokens[i].start():].strip().strip("\"'") if tokens else ""), options


#: The most pixels a side of a texture repeated by its map's scale is given.
_PLACED_SIDE = 4096


def _placed(data: bytes, scale: list[str], offset: list[str]) -> bytes:
    """A texture's image as its map's -s (scale) and -o (origin offset) place
    it, drawn on the unit square that the texture coordinates address: the
    pixel at (u, v) is the image's at (u s + o) repeated, as Blender's
    importer maps it (an image repeated twice across, -s 2 2 1, becomes one
    of twice its width holding it twice). The image as it is where both are
    their defaults, or are not numbers."""
    try:
        (su, sv), (ou, ov) = ([float(x) for x in (values + [default] * 2)[:2]]
                              for values, default in ((scale, "1"), (offset, "0")))
    except ValueError:
        return data
    if (su, sv, ou, ov) == (1, 1, 0, 0) or not np.isfinite([su, sv, ou, ov]).all():
        return data
    with PIL.Image.open(io.BytesIO(data)) as image:  # a palette or CMYK as colours, any other mode as it is
        pixels = np.asarray(image.convert("RGBA") if image.mode in ("P", "PA", "CMYK") else image)
    h, w = pixels.shape[:2]
    width, height = (int(min(max(n, np.ceil(n * abs(s))), max(n, _PLACED_SIDE))) for n, s in ((w, su), (h, sv)))
    u = ((np.arange(width) + 0.5) / width * su + ou) % 1.0
    v = ((1 - (np.arange(height) + 0.5) / height) * sv + ov) % 1.0  # v runs up, rows down
    rows = np.minimum(((1 - v) * h).astype(np.int64), h - 1)
    columns = np.minimum((u * w).astype(np.int64), w - 1)
    out = io.BytesIO()
    placed = PIL.Image.fromarray(pixels[rows[:, None], columns[None, :]])
    placed.save(out, "PNG" if placed.mode in ("1", "L", "LA", "I;16", "RGB", "RGBA") else "TIFF")  # 32-bit: TIFF
    return out.getvalue()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def off_stated_faces(path: str) -> int:
    """The face count an OFF's header gives (read from its first 64 kB; 0
    where it gives none)."""
    with open(path, "rb") as f:
        head = f.read(65536)
    if len(head) == 65536:  # its last line may be cut short
        head = head[:head.rfind(b"\n") + 1]
    try:
        return _off_header(_off_lines(head.decode("latin-1")))[2]
    except (ValueError, IndexError):
        return 0


def _off_lines(text: str) -> list[str]:
    """An OFF's lines, comments and blank lines left out."""
    return [line for line in (raw.split("#", 1)[0].strip() for raw in text.splitlines()) if line]


def _off_header(lines: list[str]) -> tuple[str, int, int, int]:
    """(flags such as 'COFF', vertex count, face count, the index of the
    first row after the header) of an OFF's lines: the counts on the
    header's line or the next, an nOFF's dimension before them, a header run
    into its counts ('OFF8 6 12'). ValueError where it is not an OFF."""
    head = lines[0].split() if lines else [""]
    run_in = re.match(r"(\w*?OFF)(\d+)$", head[0], re.I)  # 'OFF8 6 12': the header run into its counts
    head = [run_in.group(1), run_in.group(2), *head[1:]] if run_in else head
    if not head[0].upper().endswith("OFF"):
        raise ValueError("no OFF header")
    flags, numbers, at = head[0].upper(), head[1:], 1
    sized = head[0].endswith("nOFF")  # an nOFF gives its points' dimension before the counts
    while len(numbers) < 2 + sized and at < len(lines):
        numbers, at = numbers + lines[at].split(), at + 1
    if sized and int(numbers.pop(0)) != 3:
        raise ValueError("points in other than three dimensions")
    n_vertices, n_faces = (int(n) for n in numbers[:2])
    return flags, n_vertices, n_faces, at


def off_mesh(path: str) -> tuple[trimesh.Trimesh, int, int]:
    """An OFF file as a mesh, the faces (polygons) it holds and the count
    its header gives (MeshLab's polygonal OFF counts more than it writes;
    those it holds are read): its polygons cut inside them by
    ``polygons.triangulate`` (trimesh fans them from their first corner,
    and fails on any of five or more), its faces in the file's order, and
    its colours, which trimesh's reader leaves out: a polygon's on each of
    its triangles, else a COFF's per vertex (after the position and a
    NOFF's normal); a 4OFF's points divided by their fourth coordinate; an
    nOFF's dimension read (3 only). A colour is bytes (0-255), or fractions
    (0-1) where written with a decimal point or where no colour of the file
    goes past 1. Raises ValueError where the file is not an OFF its counts
    and indices agree with."""
    with open(path, "rb") as f:
        lines = _off_lines(read_text(f.read()))
    flags, n_vertices, n_faces, at = _off_header(lines)
    rows = lines[at:]
    if len(rows) < n_vertices:
        raise ValueError("fewer vertices than the header says")
    vertex = list(map(str.split, rows[:n_vertices]))
    polygons = list(map(str.split, rows[n_vertices:n_vertices + n_faces]))
    size = 4 if "4" in flags else 3  # a 4OFF's points are homogeneous: x y z w
    verts = np.array([row[:size] for row in vertex], np.float64).reshape(-1, size)
    if size == 4:
        verts = verts[:, :3] / verts[:, 3:]
    sizes = np.array([int(row[0]) for row in polygons], np.int64)
    corners = np.array([int(v) for row, n in zip(polygons, sizes) for v in row[1:n + 1]], np.int64)
    if len(corners) != sizes.sum() or sizes.min(initial=3) < 3 or corners.min(initial=0) < 0 \
            or corners.max(initial=-1) >= len(verts):
        raise ValueError("a face with fewer than three corners, or a corner that is not a vertex")
    poly, faces = np.zeros(0, np.int64), np.zeros((0, 3), np.int64)  # no faces: points only, refused later
    if len(sizes):
        poly, corner = triangulate(sizes, corners, verts)
        faces = corners[corner]
    mesh = trimesh.Trimesh(verts, faces, process=False)
    start = size + 3 * ("N" in flags.replace("OFF", ""))
    face = _colors([row[n + 1:n + 5] for row, n in zip(polygons, sizes)])
    vertex_rgba = _colors([row[start:start + 4] for row in vertex]) if "C" in flags else None
    if face is not None:
        mesh.visual = trimesh.visual.ColorVisuals(mesh, face_colors=face[poly])
    elif vertex_rgba is not None:
        mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=vertex_rgba)
    return mesh, len(polygons), n_faces


def _colors(rows: list) -> np.ndarray | None:
    """(n, 4) uint8 of colour columns (3 or 4 each, bytes or fractions; see
    ``off_mesh``), GREY for a row of fewer than 3 (OpenSCAD colours some
    faces only); None where no row has 3 or a value is not a number."""
    if not any(len(row) >= 3 for row in rows):
        return None
    out = np.tile(np.array(GREY, np.uint8), (len(rows), 1))
    widths = np.array([len(row) for row in rows])
    try:
        values = {width: np.array([rows[i] for i in np.flatnonzero(widths == width)], np.float64).reshape(-1, width)
                  for width in (3, 4)}
    except ValueError:
        return None
    all_fractions = max(v.max(initial=0) for v in values.values()) <= 1  # '1 0 0' is red, not black, then
    for width, colour in values.items():
        which = np.flatnonzero(widths == width)
        fractions = (np.array([any("." in v for v in rows[i]) for i in which], bool) | all_fractions) \
            & (colour.max(axis=1, initial=0) <= 1)
        colour[fractions] *= 255.0
        out[which, :width] = np.clip(np.round(colour), 0, 255)
    return out
