"""The browser-test helpers under their old import path.

The harness now lives in the top-level ``labharness`` package (importable by
benchmarks without going through ``tests``); this module keeps
``from tests.browser import harness`` and every old name working so existing
tests need no edit.  New code should import ``labharness``.
"""
from __future__ import annotations

import shutil  # noqa: F401  (tests patch ``harness.shutil.which`` to hide Chromium)

from labharness import *  # noqa: F401,F403
from labharness import __all__  # noqa: F401
