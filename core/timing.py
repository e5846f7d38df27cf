"""A stage timer that logs how long each stage of a run took."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

log = logging.getLogger("core.timing")


class StageTimer:
    """Collects wall seconds per named stage; ``timer.seconds`` is the record."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            took = time.perf_counter() - start
            self.seconds[name] = self.seconds.get(name, 0.0) + took
            log.info("%-10s %.2f s", name, took)
