"""File readers in a process of their own (USD's, Blender's), their memory
capped: readers believe the sizes a file states, and a file with one byte
damaged can ask for more than the machine has, which would take the
server with it; one that crashes or hangs costs its process alone.
Standard library only: Blender's Python imports it too."""

from __future__ import annotations

import os
import subprocess

#: The reading process's cap: this share of the machine's memory (or its
#: container's), at least MIN_MEMORY.
MEMORY_SHARE, MIN_MEMORY = 0.5, 4 * 2**30


def run(python: str, module: str, args: list, seconds: float) -> subprocess.CompletedProcess:
    """``python -m core.MODULE ARGS... CAP`` (a fresh interpreter, not a
    fork: the server's threads and main module stay out of it), CAP the
    bytes it may ask for (``memory_cap``, 0 for none; it calls
    ``cap_memory``), its output captured as text; raises
    subprocess.TimeoutExpired after ``seconds``."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    return subprocess.run([python, "-m", f"core.{module}", *map(str, args), str(memory_cap() or 0)], env=env,
                          timeout=seconds, capture_output=True, text=True, errors="replace")


def memory_cap() -> int | None:
    """Bytes a reading process may ask for; None where Python cannot cap
    it (Windows)."""
    return max(MIN_MEMORY, int(MEMORY_SHARE * _memory())) if hasattr(os, "sysconf") else None


def cap_memory(cap: int) -> None:
    """In the reading process: let it ask for at most ``cap`` bytes of
    address space (0: no cap)."""
    if cap:
        import resource

        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))


def _memory() -> int:
    """Bytes of memory this process's machine has: its RAM, or less where a
    container's control group (v2 or v1) limits it."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(limit) as f:
                total = min(total, int(f.read().strip()))
        except (OSError, ValueError):  # not there, or "max"
            pass
    return total
