"""Export parts: the model split into one named glTF node per part, either with
its original appearance (textures, materials, vertex colors) or painted one
flat color per part (``scenes``); one GLB per part in a ZIP (``files``),
textures in their original encoding, each stored once (``textures``); the
face labels as JSON and NPY (``core.labels``); part colors (``core.palette``).

Everything is in the file's own coordinates (``Asset.source_meshes``), never
the normalized ones the engine works in.

How a part looks in the scenes and files written here:

- In the ``trimesh.Scene`` returned by :func:`segmented_scene` and
  :func:`colored_scene`, each part is a node named after the part, a child of
  the base frame with an identity transform and no geometry, and under it one
  child node per *piece*: the part's faces that came from one source mesh
  (one glTF primitive of the file, hence one material). The part node's
  ``metadata`` (glTF node ``extras``) holds ``part_id``, ``face_count`` and
  ``display_name`` (the name as given, before it was made glTF-safe).
- :func:`write_glb` folds every part node's pieces into ONE glTF mesh with one
  primitive per piece, held by the part node itself. A GLB written by it has
  exactly one node per part, named after the part. Blender imports each part
  as one mesh object with that name and one material slot per piece's
  material; three.js and Babylon load it as one node with one sub-mesh per
  primitive; trimesh loads a one-primitive part as a single named node with
  geometry and a several-primitive part as the named node with one child
  per primitive. Whoever reads it: a part is the named node and what hangs
  below it.
"""

from __future__ import annotations

from ..labels import BASE_FRAME, part_names, write_labels
from ..palette import inherited_colors, ladder_colors, palette_colors, part_palette
from .files import write_downloads, write_glb, write_parts_zip
from .scenes import colored_scene, segmented_scene
from .textures import ImageBank, source_images

__all__ = ["BASE_FRAME", "ImageBank", "colored_scene", "inherited_colors", "ladder_colors", "palette_colors",
           "part_names", "part_palette", "segmented_scene", "source_images", "write_downloads", "write_glb",
           "write_labels", "write_parts_zip"]
