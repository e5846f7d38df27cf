"""Model weights: a published checkpoint fetched once into the cache and
checked against its sha256, and a state dict loaded strictly, on the CPU
with ``weights_only=True``: a missing, unexpected or mis-shaped key is an
error naming the keys, never a half-initialized model."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import pickle
import time
import urllib.request
from collections.abc import Mapping

import torch

from .files import atomic_write

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be fetched or loaded; the message says what to do."""


def download(url: str, sha256: str, dest: str, what: str, instead: str) -> None:
    """Fetch ``url`` to ``dest`` (which appears whole or not at all) and check
    its sha256. ``what`` names the file in messages ("the SAM vit_b
    checkpoint"); ``instead`` ends the sentence that says what else a person
    can do. Raises CheckpointError."""
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    offline = (f"Could not download {what} from {url} ({{reason}}): download it by hand and put it at "
               f"'{dest}', or {instead}.")
    log.info("downloading %s from %s", what, url)
    start, digest, size = time.perf_counter(), hashlib.sha256(), 0
    with atomic_write(dest) as out:
        try:
            response = urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S)
            with response:
                total, next_report = int(response.headers.get("Content-Length") or 0), 0.1
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if total and size >= next_report * total:
                        log.info("%s: %d%% of %.0f MB", what, 100 * size // total, total / 2**20)
                        next_report += 0.1
        except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError is OSError
            raise CheckpointError(offline.format(reason=_reason(exc))) from exc
        if digest.hexdigest() != sha256:
            raise CheckpointError(
                f"{what[0].upper()}{what[1:]} downloaded from {url} has sha256 {digest.hexdigest()}, not the "
                f"published {sha256}: the download was damaged or altered and was deleted. Try again, or put "
                f"a verified copy at '{dest}', or {instead}.")
    log.info("downloaded %s (%.0f MB) in %.1f s, sha256 verified", dest, size / 2**20, time.perf_counter() - start)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc) or type(exc).__name__


def load_strict(model: torch.nn.Module, path: str, architecture: str, advice: str, kind: str) -> None:
    """Load the state dict at ``path`` (raw, or ``{'model': state_dict}``)
    into ``model``, every key matching. ``architecture`` names the model in
    messages ("the SAM vit_b architecture"), ``advice`` follows a key
    mismatch, ``kind`` says what file to use instead of an unreadable one.
    Raises CheckpointError."""
    state = _read_state_dict(path, kind)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
                if k in state and state[k].shape != v.shape]
    parts = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                        ("keys with the wrong shape (checkpoint vs model)", reshaped)):
        if keys:
            shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
            parts.append(f"{len(keys)} {label}: {shown}")
            log.error("checkpoint %s, %s: %s", path, label, keys)
    if parts:
        raise CheckpointError(f"'{path}' does not match {architecture} ({'; '.join(parts)}): {advice}")
    model.load_state_dict(state, strict=True)


def _read_state_dict(path: str, kind: str) -> Mapping:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        first_line = (str(exc).splitlines() or [""])[0]
        raise CheckpointError(f"'{path}' is not a readable PyTorch checkpoint ({type(exc).__name__}: "
                              f"{first_line}): use {kind}.") from exc
    if isinstance(data, Mapping) and isinstance(data.get("model"), Mapping):
        data = data["model"]
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"'{path}' holds no state dict of tensors (found {type(data).__name__}): use {kind}.")
    return data
