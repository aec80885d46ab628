"""Headless Chromium for the harness: the system build, quiet and offline.

Playwright's own browser download needs internet access, which test machines
may not have, so the harness drives a Chromium already installed on the system.
"""
from __future__ import annotations

import os
import shutil
from typing import Any

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in containers; the sandbox refuses root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Flags for a quiet, offline, headless Chromium (no update or sync traffic)."""


def chromium_path() -> str:
    """The Chromium/Chrome executable: ``$CHROMIUM`` if set, else the first known name on PATH."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        "No Chromium found for the browser tests: looked for $CHROMIUM and "
        f"{', '.join(CHROMIUM_CANDIDATES)} on PATH. Install one "
        "(e.g. `apt-get install -y chromium`) or set $CHROMIUM to a Chrome/Chromium "
        "executable, or set NNLENS_SKIP_BROWSER=1 to skip the browser tests."
    )


def launch_browser(playwright: Any) -> Any:
    """Launch headless Chromium from a ``sync_playwright()`` handle.

    Plain ``launch`` gives every browser a fresh temporary profile, so runs do
    not share cookies, caches or storage.
    """
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
