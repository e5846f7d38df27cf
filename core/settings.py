"""Deployment settings, read from the environment in one place.

PARTSCOPE_CACHE_DIR   where weights and fitted objects are kept (~/.cache/partscope)
PARTSCOPE_DEVICE      'cpu', 'cuda' or 'auto' (default: cuda when torch sees one)
PARTSCOPE_SAM_CHECKPOINT  a local SAM checkpoint to use instead of downloading
OPENAI_API_KEY        key for the naming endpoint (never logged or stored)
OPENAI_BASE_URL       OpenAI-compatible endpoint (vLLM, Ollama, ...)
PARTSCOPE_LLM_MODEL   multimodal model used for naming (gpt-4o)
PARTSCOPE_MAX_UPLOAD_MB  largest upload the web app accepts (50)
PARTSCOPE_MAX_FACES   most faces a model may hold once placed (3,000,000: about what 50 MB holds)
PARTSCOPE_THREADS     threads of one fit (default 0: the cores free when it starts; core/threads.py)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Most faces a model may hold once every mesh is drawn at each of its places,
#: unless PARTSCOPE_MAX_FACES says otherwise: about what a 50 MB file holds
#: without compression or instancing (a GLB of 1.3 million faces is 22 MB).
#: Past it a server runs out of memory: a mesh of 80,000 faces placed by 200
#: nodes, 1.5 MB, took 11 GB and 96 s to load.
MAX_FACES = 3_000_000


@dataclass(frozen=True)
class Settings:
    cache_dir: str
    device: str
    sam_checkpoint: str | None
    openai_base_url: str | None
    llm_model: str
    max_upload_mb: float
    threads: int = 0
    """Threads of one fit (torch, OpenMP, BLAS); 0: the cores free when it starts."""
    max_faces: int = MAX_FACES
    """Most faces a model may hold once its meshes are placed (``inputs.past_face_limit``)."""

    @property
    def openai_api_key(self) -> str | None:
        """Read at use, never stored on the object, so it cannot leak through repr."""
        return os.environ.get("OPENAI_API_KEY") or None


def load_settings() -> Settings:
    return Settings(
        cache_dir=os.path.expanduser(os.environ.get("PARTSCOPE_CACHE_DIR", "~/.cache/partscope")),
        device=os.environ.get("PARTSCOPE_DEVICE", "auto"),
        sam_checkpoint=os.environ.get("PARTSCOPE_SAM_CHECKPOINT") or None,
        openai_base_url=os.environ.get("OPENAI_BASE_URL") or None,
        llm_model=os.environ.get("PARTSCOPE_LLM_MODEL", "gpt-4o"),
        max_upload_mb=float(os.environ.get("PARTSCOPE_MAX_UPLOAD_MB", "50")),
        threads=int(os.environ.get("PARTSCOPE_THREADS") or 0),
        max_faces=int(os.environ.get("PARTSCOPE_MAX_FACES") or MAX_FACES),
    )


def pick_device(preference: str = "auto") -> str:
    """'cuda' when asked for or available under 'auto', else 'cpu'."""
    import torch

    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("PARTSCOPE_DEVICE=cuda but torch sees no CUDA device; use cpu or auto.")
    return preference
