"""Lines a session fixture prints after the test summary, also from a pytest-xdist worker."""
from __future__ import annotations

import pytest

REPORT_LINES = pytest.StashKey[list]()
WORKER_KEY = "report_lines"  # in a worker's ``workeroutput``, which reaches the controller when it ends


def report_lines(config: pytest.Config, lines: list[str]) -> None:
    """Print ``lines`` after the test summary (a worker's own output is not shown, so it sends them)."""
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput.setdefault(WORKER_KEY, []).extend(lines)
    else:
        config.stash.setdefault(REPORT_LINES, []).extend(lines)
