"""What a 3D printing slicer keeps beside a 3MF's geometry (read for
``core.threemf``).

Slicers keep what each part is in a config of their own: Bambu Studio and
OrcaSlicer name each component of a build object and give its subtype
(``Metadata/model_settings.config``: ``<object id>``, ``<part id subtype>``,
the part id the component's object id); PrusaSlicer cuts an object's one
mesh into volumes by triangle ranges (``Metadata/Slic3r_PE_model.config``:
``<volume firstid lastid>``, its ``volume_type``). Parts and volumes are
read under their names; modifiers, negative volumes and support blockers
or enforcers are not printed shape and are left out (counted). Where the
slicer keeps its filaments' colours (Bambu's project_settings.config, JSON
``filament_colour``; Prusa's Slic3r_PE.config, ``; extruder_colour`` else
``; filament_colour``), each part shows its filament's colour and each
painted triangle (``paint_color``, ``slic3rpe:mmu_segmentation``) the
filament painted over most of it, as the slicer shows them.
"""

from __future__ import annotations

import collections
import functools
import json
import re
import zipfile

from lxml import etree

#: A triangle's painted filaments: Bambu Studio's and OrcaSlicer's attribute, PrusaSlicer's.
PAINTED = ("paint_color", "{http://schemas.slic3r.org/3mf/2017/06}mmu_segmentation")
#: Slicers' kinds of part whose geometry is printed (Bambu / Orca, Prusa), lower case.
PRINTED = ("normal_part", "modelpart")


def parts(archive: zipfile.ZipFile, names: dict, parser) -> dict:
    """What a slicer's config says of the root model's objects, {object id:
    {"parts": {part id: (name, printed, filament)}, "volumes": [(first,
    last, name, printed, filament)], "filament": the object's}}: Bambu
    Studio's and OrcaSlicer's parts, PrusaSlicer's volumes (triangle
    ranges, the last included); filaments count from 1, 0 where none is set.
    ``parser`` : the lxml parser the package is read with."""
    out: dict = {}
    for config, part_tag in (("metadata/model_settings.config", "part"), ("metadata/slic3r_pe_model.config", "volume")):
        if config not in names:
            continue
        for obj in etree.fromstring(archive.read(names[config]), parser).iter("object"):
            entry = out.setdefault(obj.get("id"), {})
            entry["filament"] = _filament_number(_config_value(obj, "extruder"))
            for part in obj.iter(part_tag):
                kind = (part.get("subtype") or _config_value(part, "volume_type") or "normal_part").lower()
                about = (_config_value(part, "name"), kind in PRINTED and _config_value(part, "modifier") != "1",
                         _filament_number(_config_value(part, "extruder")))
                if part_tag == "part":
                    entry.setdefault("parts", {})[part.get("id")] = about
                else:
                    entry.setdefault("volumes", []).append((int(part.get("firstid", -1)), int(part.get("lastid", -1)),
                                                            *about))
    return out


def filament_colours(archive: zipfile.ZipFile, names: dict) -> list[str]:
    """Each filament's colour as the slicer keeps it ('#RRGGBB'; the first
    is filament 1), [] where it keeps none."""
    colours = []
    bambu = names.get("metadata/project_settings.config")
    if bambu is not None:
        try:
            colours = json.loads(archive.read(bambu)).get("filament_colour")
        except (ValueError, AttributeError):  # not the JSON Bambu Studio writes: no colours
            colours = None
        colours = colours if isinstance(colours, list) else []
    prusa = names.get("metadata/slic3r_pe.config")
    if prusa is not None and not colours:
        text = archive.read(prusa).decode("utf-8", "replace")
        found = {key: value.split(";") for key, value in re.findall(r"^; (extruder_colour|filament_colour) = (.*)$",
                                                                     text, re.M)}
        extruder, filament = found.get("extruder_colour", []), found.get("filament_colour", [])
        colours = [e.strip('"') or f for e, f in zip(extruder + [""] * len(filament), filament)] or extruder
    return [c.strip().strip('"') for c in colours if isinstance(c, str)]


@functools.lru_cache(maxsize=4096)
def painted_filament(code: str) -> int:
    """The filament painted over most of a triangle, 0 where none: a
    slicer's painted triangle is a tree of sub-triangles, written as hex
    digits from the last (each digit's bits from the lowest): per node two
    bits, how many of its sides are split; a split node two bits more (its
    special side) and then its children (sides + 1, sharing its area); a
    leaf its filament in two bits, 3 meaning four bits more hold it less 3."""
    try:
        bits = [(int(digit, 16) >> k) & 1 for digit in reversed(code) for k in range(4)]
    except ValueError:  # not hexadecimal: not painted as far as PartScope can tell
        return 0
    at, share, todo = 0, collections.Counter(), [1.0]

    def read(n: int) -> int:
        nonlocal at
        value = sum(bit << k for k, bit in enumerate(bits[at:at + n]))
        at += n
        return value

    while todo and at < len(bits):
        area = todo.pop()
        sides = read(2)
        if sides:
            read(2)
            todo += [area / (sides + 1)] * (sides + 1)
        else:
            state = read(2)
            share[state + read(4) if state == 3 else state] += area
    return max(share, key=share.get) if share else 0


def _config_value(element, key: str) -> str:
    """The value of a slicer config's ``<metadata key=... value=...>`` of ``element``, '' where none."""
    for entry in element.findall("metadata"):
        if entry.get("key") == key:
            return entry.get("value") or ""
    return ""


def _filament_number(text: str) -> int:
    """A config's filament (extruder) number, 0 where none is given."""
    return int(text) if text.isdigit() else 0
