"""Segment (and name) many models: one output folder per object (the
``segment`` contract), a manifest of JSON lines, resumable, one failing object
never stopping the others; in local worker processes or as Ray tasks.

Each object is written by ``core.segment`` (the ``segment`` contract, which
``python -m core segment`` / ``name`` write too).

Manifest (``DIR/manifest.jsonl``), one line per finished attempt, the last
line of an input wins::

    {"input": abs path, "out": folder name, "digest": sha256 of the file (32 hex),
     "status": "ok" | "failed", "seconds": wall s, "scales": [...],
     "parts": [parts per scale], "named": parts named or null,
     "error": a sentence or null, "settings": key of the run's settings}

An input counts as done, and is skipped by a later run, when its last line is
"ok" with the same settings key and file digest and its labels.npz exists.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable


from . import threads
from .config import SegmentConfig, config_key
from .inputs import FORMATS, InputError
from .jobs import Job, failed_record, run_job
from .segment import preload
from .raybatch import run_ray
from .settings import Settings

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"


# ---------------------------------------------------------------- inputs


def list_inputs(spec: str) -> list[str]:
    """The model files named by ``spec``: a folder (its model files, at any
    depth), a glob pattern, or a text file of paths (one a line, relative to
    the text file, # comments). Absolute paths, sorted, no repeats; a listed
    path that does not exist is kept (its object fails with a sentence).
    Raises InputError when nothing is found."""
    if os.path.isdir(spec):
        found = [os.path.join(d, f) for d, _, files in os.walk(spec) for f in files]
        paths = [p for p in found if os.path.splitext(p)[1].lower() in FORMATS]
        where = f"the folder '{spec}'"
    elif os.path.isfile(spec) and os.path.splitext(spec)[1].lower() not in FORMATS:
        base = os.path.dirname(os.path.abspath(spec))
        with open(spec, encoding="utf-8") as f:
            lines = [line.split("#", 1)[0].strip() for line in f]
        paths = [os.path.join(base, os.path.expanduser(line)) for line in lines if line]
        where = f"the list '{spec}'"
    else:
        paths = [p for p in glob.glob(os.path.expanduser(spec), recursive=True) if os.path.isfile(p)]
        where = f"'{spec}'"
    paths = sorted({os.path.abspath(p) for p in paths})
    if not paths:
        raise InputError(f"No model files found in {where}: give a folder, a glob like 'models/*.glb' "
                         f"or a text file with one path a line ({', '.join(FORMATS)}).")
    return paths


def output_folders(paths: list[str], out: str) -> dict[str, str]:
    """path -> its output folder: ``out/<file stem>``, with a short hash of
    the path added where two inputs share a stem."""
    stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    taken = {s: stems.count(s) for s in stems}
    return {p: os.path.join(out, s if taken[s] == 1 else f"{s}-{hashlib.sha1(p.encode()).hexdigest()[:8]}")
            for p, s in zip(paths, stems)}


def file_digest(path: str) -> str:
    """sha256 of a file's bytes (32 hex), '' when it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return ""
    return h.hexdigest()[:32]


def settings_key(scales, config: SegmentConfig, name_scale, label_set) -> str:
    """Identity of what a run writes per object (not where or how fast)."""
    blob = json.dumps([[round(float(s), 4) for s in scales], config_key(config), name_scale,
                       None if label_set is None else list(label_set)], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def read_manifest(out: str) -> dict[str, dict]:
    """input path -> its last record in ``out/manifest.jsonl`` ({} if none);
    a torn last line (a run killed mid-write) is ignored."""
    records = {}
    try:
        with open(os.path.join(out, MANIFEST), encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                records[record["input"]] = record
    except FileNotFoundError:
        pass
    return records


def is_done(record: dict | None, job: Job) -> bool:
    return (record is not None and record.get("status") == "ok" and record.get("settings") == job.key
            and os.path.isfile(os.path.join(job.out, "labels.npz")) and file_digest(job.input) == record.get("digest"))


# ------------------------------------------------------------- executors


def run_local(jobs: list[Job], workers: int, on_done: Callable[[dict], None], retries: int = 1,
              log_level: int = logging.WARNING) -> None:
    """Run ``jobs`` in ``workers`` spawned processes, one object each at a
    time; ``on_done(record)`` in this thread as each finishes. A worker that
    dies (killed, out of memory) takes its pool down: the objects it held are
    tried again, up to ``retries`` more times each, on a new pool."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    queue, lost = deque(jobs), {}
    cpus = max((j.cpus for j in jobs), default=1)
    while queue:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(cpus, log_level))
        running, broken = {}, False
        try:
            while (queue and not broken) or running:
                while queue and not broken and len(running) < workers:
                    job = queue.popleft()
                    running[pool.submit(run_job, job)] = job
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    try:
                        on_done(future.result())
                    except BrokenProcessPool:
                        broken = True
                        lost[job.input] = lost.get(job.input, 0) + 1
                        if lost[job.input] > retries:
                            on_done(failed_record(job, "The worker process died while on this object "
                                                      f"({lost[job.input]} tries): it may need more memory "
                                                      "than the machine has; try it alone with --workers 1."))
                        else:
                            log.warning("a worker died; %s goes again", os.path.basename(job.input))
                            queue.appendleft(job)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _init_worker(cpus: int, log_level: int) -> None:
    logging.basicConfig(level=log_level, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    threads.use(cpus)
    preload()


# ------------------------------------------------------------------ batch


@dataclass
class BatchResult:
    """What a batch did: records of this run, and how many were skipped."""

    records: list = field(default_factory=list)
    skipped: int = 0

    @property
    def failed(self) -> list:
        return [r for r in self.records if r["status"] != "ok"]


def run_batch(paths: list[str], out: str, scales, config: SegmentConfig, settings: Settings, *,
              use_cache: bool = True, workers: int = 1, cpus: int = 1, ray_address: str | None = None,
              use_ray: bool = False, gpus: float = 0, retries: int = 2, name_scale: float | None = None,
              label_sets: dict | None = None, progress: bool = True,
              log_level: int = logging.WARNING) -> BatchResult:
    """Segment (and name) every model in ``paths`` into ``out/<stem>/``.

    label_sets : {file stem: [allowed names]} or None; with naming, objects
        with a set are named by choosing from it, others freely
    returns BatchResult; the manifest in ``out`` has one line per object done.
    """
    from tqdm import tqdm

    os.makedirs(out, exist_ok=True)
    folders = output_folders(paths, out)
    previous = read_manifest(out)
    jobs, skipped = [], 0
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        labels = (label_sets or {}).get(stem) if name_scale is not None else None
        labels = tuple(labels) if labels else None
        job = Job(input=path, out=folders[path], scales=tuple(float(s) for s in scales), config=config,
                  settings=replace(settings, threads=cpus), use_cache=use_cache, cpus=cpus, name_scale=name_scale,
                  label_set=labels, key=settings_key(scales, config, name_scale, labels))
        if is_done(previous.get(path), job):
            skipped += 1
            continue
        jobs.append(replace(job, digest=file_digest(path)))
    log.info("%d objects to do, %d done before (skipped), output in %s", len(jobs), skipped, out)
    result = BatchResult(skipped=skipped)
    if not jobs:
        return result
    bar = tqdm(total=len(jobs), unit="obj", desc="batch", disable=not progress, dynamic_ncols=True)
    with open(os.path.join(out, MANIFEST), "a", encoding="utf-8") as manifest:
        def on_done(record: dict) -> None:
            manifest.write(json.dumps(record) + "\n")
            manifest.flush()
            result.records.append(record)
            if record["status"] != "ok":
                bar.write(f"failed: {os.path.basename(record['input'])}: {record['error']}")
            bar.update(1)
            bar.set_postfix(failed=len(result.failed))

        try:
            if use_ray:
                run_ray(jobs, on_done, ray_address, workers, cpus, gpus, retries)
            else:
                run_local(jobs, workers, on_done, retries, log_level)
        finally:
            bar.close()
    return result
