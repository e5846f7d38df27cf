"""Warnings about a model that carry what they say as data."""

from __future__ import annotations


class Note(str):
    """A warning about a model (the sentence after its name) that carries
    what it says as data, for the refusal of a model with no faces to say
    why: ``missing``, a file it names that is not beside it, with what that
    is ("'x.usdc' (a layer of its scene)"), ``holds_faces`` whether that file
    can hold the model's faces (a USD layer, a linked .blend), ``keep`` what
    to keep together; ``hidden``, the shapes it hides."""

    def __new__(cls, text: str, missing: str = "", holds_faces: bool = False, keep: str = "", hidden: int = 0):
        note = super().__new__(cls, text)
        note.missing, note.holds_faces, note.keep, note.hidden = missing, holds_faces, keep, hidden
        return note
