"""Thread counts, set on purpose.

Every numeric library brings a thread pool sized to the machine: torch's
intra-op pool, OpenBLAS, scikit-learn's OpenMP loops. Pools whose idle
threads spin make each other, and anything else running, crawl, and
intra-op threads that must wait for each other lose to fewer threads on a
busy machine (benchmarks/results/threads.md measures the choices). So:

- each process says once, before those libraries load, that idle pool
  threads sleep (``prepare``);
- its entry point (the command line, the app, a batch worker) then gives
  its work as many threads as there are cores nobody else is using when it
  starts (``use(0)``, measured by ``free_cpus``), once; the engine reads
  that count (``count``);
- a stage that wants another count takes it for its length, as the fit
  does: it runs each step's two halves of views on two threads of one
  torch thread each (``field.fit_field``).

``PARTSCOPE_THREADS`` (``Settings.threads``) fixes the count instead; -1
leaves the libraries as they are (for comparison only).

A server's long work (a fit once its first parts are shown, a ladder) runs
on threads that ``yield_cpu`` puts below the threads that answer people (a
slider move, a click), and below a browser on the same machine: on a busy
machine the long work waits, not the person; but it still moves.
"""

from __future__ import annotations

import os
import threading
import time

_POOLS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def prepare(threads: int) -> None:
    """Let idle pool threads sleep instead of spin, and size the OpenMP and
    BLAS pools to ``threads`` (0: every CPU this process may use; -1: leave
    everything as the libraries make it). Call before numpy, torch or
    scikit-learn are imported (they read these once); a value the person
    set in the environment wins."""
    if threads < 0:
        return
    for var in _POOLS:
        os.environ.setdefault(var, str(threads or cpu_count()))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


BACKGROUND_NICE = 10
"""How far ``yield_cpu`` lowers a thread, in Linux nice steps: a thread that
a normal one also wants gets about a tenth of the core, and every cycle
nobody else wants. At 19 (a seventieth) other programs' load starved the
app's long work: under a 2-process CPU load the toy car's field was fitted
after 415 s in the app (60 s at 10), the chair's after 589 s (92 s at 10,
17 s at equal priority; the engine alone), while the slider
in Chromium on the same cores, as another session fits PSB 281, drew its
frames alike at 0, 10 and 19 (p95 30-40 ms over 3 runs each,
benchmarks.browser, 2026-12-05)."""


def yield_cpu(steps: int = BACKGROUND_NICE) -> None:
    """Lower the calling thread's CPU priority by ``steps`` nice steps (at
    most to 19); threads it starts from now on, its pools' included, inherit
    it. Only this thread: on Linux a nice value is a thread's own. Where the
    system does not allow it, nothing changes."""
    try:
        tid = threading.get_native_id()
        now = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(now + steps, 19))
    except (AttributeError, OSError):  # not Linux-like, or not allowed
        pass


def free_cpus(window: float = 0.1) -> int:
    """Cores nobody else is using now: the idle share of every CPU over
    ``window`` seconds while this thread waits (at least 1, at most the CPUs
    this process may use). Work on this process's other threads counts as
    someone else's."""
    def sample():
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, all

    try:
        idle0, total0 = sample()
        time.sleep(window)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):  # no /proc: assume the machine is ours
        return cpu_count()
    n_cpus = os.cpu_count() or 1
    idle = n_cpus * (idle1 - idle0) / max(total1 - total0, 1)
    return int(min(max(round(idle), 1), cpu_count()))


def use(threads: int) -> int:
    """Run this thread's torch work, scikit-learn's OpenMP loops and BLAS on
    ``threads`` threads (0: ``free_cpus()``; -1: as they are). Returns the count."""
    if threads < 0:
        return threads
    import torch
    from threadpoolctl import threadpool_limits

    threads = threads or free_cpus()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    threadpool_limits(threads)
    return threads


def count() -> int:
    """The threads this process's entry point gave its work (``use``)."""
    import torch

    return torch.get_num_threads()
