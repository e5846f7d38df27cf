"""FBX and .blend files, read by Blender itself.

Blender's Python module (``pip install bpy``, 374 MB) pins numpy below 2,
so it lives in a Python of its own: ``.venv-blender`` in the repository,
or the one PARTSCOPE_BLENDER_PYTHON names. That Python opens the file as a
person does (File > Import > FBX, embedded textures unpacked and missing
ones looked for beside it, and where that importer refuses the file (an
ASCII FBX), Blender 5's newer one, built on ufbx;
File > Open for a .blend, its scripts not run)
and writes what a viewer would draw as a GLB, modifiers applied, which
PartScope then reads as any GLB. That Python runs this module (``python -m
core.blender``, ``apart.run``: its memory capped, its time limited), so it
imports nothing but the standard library at the top.

    python3.11 -m venv .venv-blender && .venv-blender/bin/pip install bpy==5.0.1
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys

from . import apart

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, "..", ".venv-blender", *(("Scripts", "python.exe") if os.name == "nt" else ("bin", "python")))
INSTALL = "python3.11 -m venv .venv-blender && .venv-blender/bin/pip install bpy==5.0.1"
#: How long Blender may take to convert one file.
CONVERT_SECONDS = 300
#: What a binary FBX starts with (an ASCII FBX names itself in a comment).
BINARY_FBX = b"Kaydara FBX Binary"
MARK = "PARTSCOPE-BLENDER "
KIND = {"FBX": "an FBX file", "Blender": "a Blender file"}

log = logging.getLogger(__name__)


def python() -> str | None:
    """The Python with Blender's module (PARTSCOPE_BLENDER_PYTHON, else
    ``.venv-blender`` here), or None where there is none."""
    named = os.environ.get("PARTSCOPE_BLENDER_PYTHON")
    return shutil.which(named) if named else (VENV if os.path.exists(VENV) else None)


def to_glb(path: str, name: str, fmt: str, folder: str) -> tuple[str, list[str], list[str]]:
    """``path`` (an FBX or .blend) written by Blender as a GLB in ``folder``:
    its path, the names of the textures and .blend libraries it refers to
    that are not there, and of the textures there that do not open as
    images. Raises ValueError with a sentence for a person
    (``inputs.InputError`` is made of it)."""
    if fmt == "FBX":
        with open(path, "rb") as f:
            head = f.read(256)
        if not head.startswith(BINARY_FBX) and b"FBX" not in head:  # an ASCII FBX names itself in its first lines
            raise ValueError(_unread(name))
    blender = python()
    if blender is None:
        raise ValueError(f"'{name}' is {KIND[fmt]}, which PartScope reads through Blender's Python module, not "
                         f"installed here: export the model as GLB, or install the module in PartScope's folder "
                         f"({INSTALL})")
    out = os.path.join(folder, "converted.glb")
    try:
        done = apart.run(blender, "blender", [os.path.abspath(path), out], CONVERT_SECONDS)
    except subprocess.TimeoutExpired:
        raise ValueError(f"'{name}' took Blender over {CONVERT_SECONDS} s to read: export it as GLB") from None
    except OSError as exc:
        raise ValueError(f"'{name}' is {KIND[fmt]}, and Blender's Python does not start here ({exc.strerror}): "
                         f"install it again ({INSTALL}) or export the model as GLB") from None
    said = _said(done)
    if done.returncode != 0 or said is None or not os.path.exists(out):
        log.info("Blender did not read %s (exit code %s): %s", name, done.returncode, done.stderr[-500:])
        raise ValueError(_unread(name))
    return out, said["missing"], said["unreadable"]


def libraries_used(paths: list) -> set:
    """The real paths of the .blend files that the .blend files ``paths``
    link objects from (their libraries), as far as Blender reads them; an
    empty set without Blender."""
    blender = python()
    if blender is None:
        return set()
    try:
        done = apart.run(blender, "blender", ["libraries", *map(os.path.abspath, paths)], CONVERT_SECONDS)
    except (subprocess.TimeoutExpired, OSError):
        return set()
    return set(_said(done) or ())


def _libraries(paths: list, cap: str) -> None:
    """In Blender's Python: print the real paths of the libraries each
    .blend of ``paths`` links objects from (one that does not open: none)."""
    apart.cap_memory(int(cap))
    import bpy

    used = set()
    for path in paths:
        try:
            bpy.ops.wm.open_mainfile(filepath=path, load_ui=False, use_scripts=False)
        except RuntimeError:  # damaged: loading it says so
            continue
        used |= {os.path.realpath(bpy.path.abspath(library.filepath)) for library in bpy.data.libraries}
    print(MARK + json.dumps(sorted(used)))


def _said(done: subprocess.CompletedProcess):
    """What Blender's Python printed after MARK (JSON), or None."""
    said = [line[len(MARK):] for line in done.stdout.splitlines() if line.startswith(MARK)]
    return json.loads(said[-1]) if said else None


def _unread(name: str) -> str:
    """The sentence for a file Blender does not read."""
    return (f"'{name}' could not be read by Blender: the file looks damaged, or its version is one Blender 5.0 does "
            "not read (a newer Blender's file); export it again, or as GLB")


def _convert(path: str, out: str, cap: str) -> None:
    """In Blender's Python: read ``path`` into an empty scene, write it to
    ``out`` as a GLB; print the textures and linked libraries it names that
    are not there."""
    apart.cap_memory(int(cap))
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    if path.lower().endswith(".blend"):
        bpy.ops.wm.open_mainfile(filepath=path, load_ui=False, use_scripts=False)
    else:
        try:  # Blender's own importer, as File > Import > FBX
            bpy.ops.import_scene.fbx(filepath=path, use_image_search=True)
        except RuntimeError:  # ASCII (Assimp's), or before 7.1: Blender 5's newer importer (ufbx)
            bpy.ops.wm.read_factory_settings(use_empty=True)
            bpy.ops.wm.fbx_import(filepath=path)
            objects = bpy.context.scene.collection.objects
            for obj in sorted(objects, key=lambda o: o.name):  # made in threads, in any order: by name, every time
                objects.unlink(obj)
                objects.link(obj)
    images = [image for image in bpy.data.images if image.source == "FILE" and image.users]
    named = [image.filepath for image in images if image.packed_file is None]
    named += [library.filepath for library in bpy.data.libraries]  # a .blend's objects linked from another
    missing = sorted({os.path.basename(file) for file in map(bpy.path.abspath, named) if not os.path.isfile(file)})
    unreadable = sorted({os.path.basename(bpy.path.abspath(image.filepath)) or image.name for image in images
                         if tuple(image.size) == (0, 0)} - set(missing))  # it does not decode: the GLB leaves it out
    bpy.ops.export_scene.gltf(filepath=out, export_format="GLB", export_apply=True, export_animations=False,
                              use_visible=True, use_active_scene=True)
    print(MARK + json.dumps({"missing": missing, "unreadable": unreadable}))


if __name__ == "__main__":
    if sys.argv[1] == "libraries":
        _libraries(sys.argv[2:-1], sys.argv[-1])
    else:
        _convert(*sys.argv[1:4])
