"""The Voila app started the way a teacher starts it (``tools/start-app``), for tests and benchmarks.

As with :class:`LabServer`: a free loopback port, a fresh token, and its own Jupyter config,
data and runtime folders, so nothing from a developer's own Jupyter set-up reaches the page.
The app announces its URL on stdout once it answers; :meth:`AppServer.start` waits for that
line and checks, right away, that the server does answer.
"""
from __future__ import annotations

import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from .files import REPO_ROOT
from .scripts import script
from .server import free_port
from .waiting import wait_until

_APP_PANELS = script("app_panels")
LENS_PANELS = ("input", "classes", "channels", "activation", "unit-gradient", "feature-vis", "examples",
               "ablation", "attribution")
"""The panels every Lens shows (occlusion only once asked for)."""


class AppServer:
    """``tools/start-app`` on a free port with its own Jupyter folders, as a context manager."""

    def __init__(self, notebook: str = "notebooks/01_lens.ipynb", python: str = sys.executable,
                 startup_timeout: float = 180.0, work_dir: str | os.PathLike | None = None) -> None:
        self.notebook, self.python, self.startup_timeout = notebook, python, startup_timeout
        self.port, self.token = free_port(), secrets.token_hex(16)
        self._owns_work_dir = work_dir is None
        self.work_dir = Path(tempfile.mkdtemp(prefix="nnlens-app-")) if work_dir is None else Path(work_dir)
        self.log_path = self.work_dir / "app.log"
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.started_at = self.announced_at = 0.0  # time.perf_counter() at the command and at its URL
        self.answered_when_announced: int | None = None  # HTTP status of a request made on the URL line
        self._lines: queue.Queue = queue.Queue()

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("config", "data", "runtime"):
            (self.work_dir / name).mkdir(parents=True, exist_ok=True)
            env[f"JUPYTER_{name.upper()}_DIR"] = str(self.work_dir / name)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        env.update(APP_PORT=str(self.port), NNLENS_APP_TOKEN=self.token, APP_PYTHON=self.python,
                   APP_NOTEBOOK=self.notebook, PYTHONUNBUFFERED="1")
        return env

    def start(self) -> "AppServer":
        """Run ``tools/start-app`` and block until it prints its URL."""
        log = open(self.log_path, "wb")
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen([str(REPO_ROOT / "tools" / "start-app")], cwd=str(REPO_ROOT),
                                     env=self._environment(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=log, text=True)
        log.close()  # the child holds its own copy
        threading.Thread(target=self._read_lines, daemon=True).start()
        try:
            line = wait_until(self._announcement, self.startup_timeout,
                              lambda: f"tools/start-app printed no URL\n{self.log_text()}", interval=0.05)
        except BaseException:
            self.stop()
            raise
        self.announced_at = time.perf_counter()
        self.url = re.search(r"http://\S+", line).group(0)
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/voila/static/voila.js", method="HEAD")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                self.answered_when_announced = response.status
        except OSError:
            self.answered_when_announced = None
        return self

    def _read_lines(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)

    def _announcement(self) -> str | None:
        while not self._lines.empty():
            line = self._lines.get()
            if line.startswith("Open http://"):
                return line
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"tools/start-app exited with {self.proc.returncode}\n{self.log_text()}")
        return None

    def log_text(self, tail: int = 20000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return "<no log>"

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Voila shuts its kernels down), then SIGKILL if it does not exit in ``timeout``."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def cleanup(self) -> None:
        self.stop()
        if self._owns_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> "AppServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.cleanup()
        else:
            self.stop()


def app_panels(page: Any) -> dict:
    """Every Lens's panels (displayed, drawn), the count of displayed pictures and of undrawn ones,
    the page's height and how far it overflows the window sideways (see ``js/app_panels.js``)."""
    return page.evaluate(_APP_PANELS)


def lens_drawn(report: dict, lens: int = 0) -> bool:
    """Whether Lens number ``lens`` is on the page with every displayed panel drawn."""
    if len(report["lenses"]) <= lens:
        return False
    panels = report["lenses"][lens]
    return (all(name in panels for name in LENS_PANELS)
            and all(p["drawn"] for p in panels.values() if p["displayed"]))


def wait_for_app(page: Any, lenses: int, timeout: float) -> dict:
    """Wait until ``lenses`` Lenses and every displayed picture of the page are drawn; the report."""
    def done() -> dict | None:
        report = app_panels(page)
        ready = all(lens_drawn(report, i) for i in range(lenses)) and report["undrawn"] == 0
        return report if ready else None

    return wait_until(done, timeout, lambda: f"the app was not drawn: {app_panels(page)}", interval=0.25)
