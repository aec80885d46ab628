"""How ``make test`` shares the suite between pytest-xdist workers.

The browser tests go in two units, each run whole by one worker (with its own JupyterLab server
and browser, session fixtures): the notebooks run in Lab and every test that reads those runs
(legibility, static pictures, the nbconvert export), then the other browser tests. They are the
longest units, so they start first; the other tests go module by module to whichever worker is
free meanwhile, so a module's expensive models are built once.

A scheduler rather than ``xdist_group`` marks: pytest 9.2 stopped honouring the node-id suffix
that ``--dist loadgroup`` relies on, and grouped tests then ran on both workers.
"""
from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

# unit name -> node-id prefixes; the first unit whose prefix matches takes the test
BROWSER_UNITS = {
    "the notebooks run in JupyterLab": ("tests/browser/test_legibility.py", "tests/browser/test_static_pictures.py",
                                        "tests/notebooks/"),
    "the other browser tests": ("tests/browser/",),
}


class BrowserUnits(LoadScopeScheduling):
    """Load-scope scheduling with the browser tests in the two units above."""

    def _split_scope(self, nodeid: str) -> str:
        for unit, prefixes in BROWSER_UNITS.items():
            if nodeid.startswith(prefixes):
                return unit
        return super()._split_scope(nodeid)
