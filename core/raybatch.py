"""``python -m core batch --ray``: a batch's objects as Ray tasks, on a local
cluster started for the run or on a running one (``core.batch`` runs them
in local processes otherwise)."""

from __future__ import annotations

import os
from typing import Callable

from . import threads
from .jobs import Job, failed_record, run_job
from .inputs import InputError

RAY_PIN = "ray==2.60.0"
RAY_MISSING = (f"--ray needs Ray, an optional extra: pip install -r requirements-ray.txt "
               f"(or pip install {RAY_PIN}), or leave out --ray to run locally.")


def import_ray():
    """The ray module, or InputError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError(RAY_MISSING) from None
    return ray




def _ray_task(job: Job) -> dict:
    threads.use(job.cpus)
    return run_job(job)


def run_ray(jobs: list[Job], on_done: Callable[[dict], None], address: str | None = None,
            workers: int = 1, cpus: int = 1, gpus: float = 0, retries: int = 2) -> None:
    """Run ``jobs`` as Ray tasks (``num_cpus=cpus``, ``num_gpus=gpus``, tried
    again up to ``retries`` times when a worker or node is lost). Without an
    address a local cluster of ``workers * cpus`` CPUs is started for the run;
    with one (``auto``, ``ray://host:10001``, ...) the cluster's own size
    decides, and the ``core`` package is shipped to it (its nodes need the
    requirements installed). ``on_done(record)`` here as each finishes."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        runtime_env = {"py_modules": [os.path.dirname(os.path.abspath(__file__))]}
        if address:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        else:
            # Ray starts workers at niceness 15, below every other process: on a
            # busy machine they would barely run. Here they are the whole job.
            os.environ.setdefault("RAY_worker_niceness", "0")
            ray.init(num_cpus=workers * cpus, include_dashboard=False, runtime_env=runtime_env,
                     log_to_driver=False)
            have = ray.cluster_resources().get("GPU", 0)
            if gpus > have:
                ray.shutdown()
                raise InputError(f"--gpus-per-object {gpus:g} but this machine has {have:g} GPUs that "
                                 "Ray can use: leave it out to run on the CPU.")
    try:
        task = ray.remote(_ray_task).options(num_cpus=cpus, num_gpus=gpus, max_retries=retries)
        pending = {task.remote(job): job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    record = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    record = failed_record(job, f"The Ray worker running this object was lost "
                                              f"{retries + 1} times ({type(exc).__name__}): it may need "
                                              "more memory than a node has.")
                on_done(record)
    finally:
        if started:
            ray.shutdown()
