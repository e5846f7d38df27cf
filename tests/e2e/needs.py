"""What the browser tests need from the machine, and the sentence that says
what is missing (the skip reason and the run's summary line)."""

import importlib.util
import os

CHROMIUM = "/usr/bin/chromium"


def missing() -> str | None:
    """What the browser tests need and this machine lacks, as a sentence, or None."""
    if not os.path.exists(CHROMIUM):
        return (f"the browser tests (tests/e2e) were skipped: they need Debian's chromium at {CHROMIUM} "
                "(apt-get install -y chromium; never `playwright install`)")
    if importlib.util.find_spec("playwright") is None:
        return ("the browser tests (tests/e2e) were skipped: they need Playwright for Python "
                "(pip install -r requirements-test.txt)")
    return None
