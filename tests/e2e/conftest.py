"""Without Debian's chromium (or Playwright) the browser tests are skipped,
and the run's summary says why and what to install, at any verbosity."""

from tests.e2e.needs import missing


def pytest_terminal_summary(terminalreporter):
    reason = missing()
    if reason and terminalreporter.stats.get("skipped"):
        terminalreporter.write_line(reason, yellow=True, bold=True)
