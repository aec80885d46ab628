import os
import sys

import pytest

from tests.reporting import REPORT_LINES, WORKER_KEY

# One torch (OpenMP) thread per process, here and in every process the tests start (notebook
# kernels, Voila, torchrun ranks inherit the variable), unless OMP_NUM_THREADS is set already.
# The suite runs pytest, kernels and Chromium side by side on a machine other work shares: a
# two-thread parallel region then waits for whichever thread is off its core, and the same small
# training ran 3 to 8 times slower on two threads than on one. Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# `from tests.models import ...` works however pytest is started
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``make test`` runs two pytest-xdist workers; the browser tests go in two units (tests/lab_scheduling.py).
    An explicit ``--dist`` other than the default ``load`` is left to pytest-xdist."""
    if config.getvalue("dist") != "load":
        return None
    from tests.lab_scheduling import BrowserUnits

    return BrowserUnits(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    node.config.stash.setdefault(REPORT_LINES, []).extend(getattr(node, "workeroutput", {}).get(WORKER_KEY, []))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for line in config.stash.get(REPORT_LINES, []):
        terminalreporter.write_line(line)
