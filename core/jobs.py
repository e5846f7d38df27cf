"""One object of a batch, as a worker gets it (``Job``) and does it
(``run_job``, which never raises: a failure is a manifest record with a
sentence), in a local process or a Ray task."""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass

import numpy as np

from .config import SegmentConfig
from .inputs import InputError
from .segment import name_to_folder, segment_to_folder
from .settings import Settings


@dataclass(frozen=True)
class Job:
    """One object of a batch, everything a worker needs (picklable)."""

    input: str
    """Absolute path of the model file."""
    out: str
    """The object's output folder."""
    scales: tuple
    config: SegmentConfig
    settings: Settings
    use_cache: bool = True
    cpus: int = 1
    """Compute threads the worker gives the object (``settings.threads`` is the same)."""
    name_scale: float | None = None
    """Name the parts at this scale; None: no naming."""
    label_set: tuple | None = None
    """Allowed names for this object (naming chooses among them)."""
    key: str = ""
    """Key of the run's settings, for resuming."""
    digest: str = ""
    """sha256 of the file's bytes (32 hex), '' when unreadable."""


def run_job(job: Job) -> dict:
    """Do one object; never raises: a failure becomes a manifest record with a
    sentence (the traceback of an unexpected one goes to ``out/error.txt``)."""
    from .pipeline import Engine

    start = time.perf_counter()
    record = failed_record(job)
    try:
        engine = Engine(job.config, job.settings)
        asset, field, summary = segment_to_folder(job.input, job.out, np.asarray(job.scales, np.float32),
                                                  engine, job.use_cache)
        record["parts"] = summary["parts"]
        if job.name_scale is not None:
            results = name_to_folder(asset, field.parts(job.name_scale), job.settings, job.out,
                                     job.label_set)
            record["named"] = sum(r.ok for r in results.values())
        record["status"] = "ok"
        if os.path.exists(os.path.join(job.out, "error.txt")):  # from an earlier failed try
            os.remove(os.path.join(job.out, "error.txt"))
    except InputError as exc:
        record["error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 (one object's failure must not stop the batch)
        name = os.path.basename(job.input)
        record["error"] = (f"PartScope failed on '{name}' ({type(exc).__name__}: {str(exc)[:200]}); "
                           f"the traceback is in {os.path.join(job.out, 'error.txt')}.")
        os.makedirs(job.out, exist_ok=True)
        with open(os.path.join(job.out, "error.txt"), "w") as f:
            f.write(traceback.format_exc())
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def failed_record(job: Job, why: str | None = None) -> dict:
    """The manifest record of an object that failed (``why``: the sentence)."""
    return {"input": job.input, "out": os.path.basename(job.out), "digest": job.digest,
            "status": "failed", "seconds": 0.0, "scales": list(job.scales), "parts": None,
            "named": None, "error": why, "settings": job.key}
