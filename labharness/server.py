"""A private JupyterLab server for one test session or benchmark run.

Isolation is the point: a random free port and token, and its own runtime,
config, settings and workspaces directories, so nothing from the developer's
own Lab (themes, open tabs, extensions' state) or from an earlier run leaks
into what a test sees, and two servers (e.g. one per theme) never share state.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .kernel import connect_kernel
from .waiting import wait_until

DEFAULT_USER_SETTINGS: dict[str, dict[str, Any]] = {
    # No news / update-check requests and no "fetch news?" toast over the page.
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    # Tests rewrite notebook files; autosave would race with that and raise
    # "file changed on disk" dialogs.
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    "@jupyterlab/notebook-extension:tracker": {
        # Start the notebook's kernel without the "Select Kernel" dialog.
        "autoStartDefaultKernel": True,
        # Attach every cell to the DOM so widget outputs below the fold exist
        # (and are laid out) for locators, screenshots and canvas reads.
        "windowingMode": "none",
    },
}
"""JupyterLab user settings written into each server's private settings dir."""

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
"""The two themes JupyterLab ships, by a short name."""


def themed_settings(theme: str) -> dict[str, dict[str, Any]]:
    """:data:`DEFAULT_USER_SETTINGS` with the JupyterLab theme ``theme`` ("light"/"dark" or a full name)."""
    settings = dict(DEFAULT_USER_SETTINGS)
    settings["@jupyterlab/apputils-extension:themes"] = {"theme": THEMES.get(theme, theme)}
    return settings


def free_port() -> int:
    """Ask the OS for a currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """A private ``python -m jupyterlab`` on 127.0.0.1, as a context manager.

    Kernel connection files land in its runtime dir, which
    :meth:`kernel_client_for` relies on.  Network features (news, update
    checks, PyPI extension manager) are off.
    """

    def __init__(
        self,
        root_dir: str | os.PathLike,
        startup_timeout: float = 90.0,
        user_settings: Mapping[str, Mapping[str, Any]] | None = None,
        extra_args: Sequence[str] = (),
        work_dir: str | os.PathLike | None = None,
    ) -> None:
        self.root_dir = Path(root_dir).resolve()
        self.startup_timeout = startup_timeout
        self.user_settings = DEFAULT_USER_SETTINGS if user_settings is None else user_settings
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        # work_dir holds runtime/, config/ and server.log; a caller-provided one
        # (e.g. pytest's tmp_path) is kept after the run for post-mortems.
        self._owns_work_dir = work_dir is None
        self._tmp = Path(tempfile.mkdtemp(prefix="nnlens-lab-")) if work_dir is None else Path(work_dir)
        self.runtime_dir = self._tmp / "runtime"
        self.config_dir = self._tmp / "config"
        self.settings_dir = self.config_dir / "lab" / "user-settings"
        self.workspaces_dir = self.config_dir / "lab" / "workspaces"
        self.log_path = self._tmp / "server.log"
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    # -- lifecycle ---------------------------------------------------------

    def command(self) -> list[str]:
        """The server command line (kept separate so failures can print it)."""
        args = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",  # no PyPI queries
        ]
        if os.geteuid() == 0:
            args.append("--allow-root")
        return args + self.extra_args

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["JUPYTER_RUNTIME_DIR"] = str(self.runtime_dir)
        env["JUPYTER_CONFIG_DIR"] = str(self.config_dir)
        # Set explicitly: a developer's own JUPYTERLAB_*_DIR would win over the config dir.
        env["JUPYTERLAB_SETTINGS_DIR"] = str(self.settings_dir)
        env["JUPYTERLAB_WORKSPACES_DIR"] = str(self.workspaces_dir)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def write_user_settings(self, settings: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Write ``settings`` (by default the server's own ``user_settings``) into its settings dir,
        as ``<settings_dir>/<pkg>/<plugin>.jupyterlab-settings``.

        The server reads these files on every request, so pages opened afterwards get them: this
        puts back what a page changed for itself (e.g. the theme, which JupyterLab saves there).
        """
        for plugin_id, values in (self.user_settings if settings is None else settings).items():
            package, plugin = plugin_id.split(":", 1)
            path = self.settings_dir / package / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values, indent=2))

    def start(self) -> "LabServer":
        """Start the server and block until ``/api/status`` answers."""
        for folder in (self.runtime_dir, self.settings_dir, self.workspaces_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.write_user_settings()
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=str(self.root_dir),
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                self._status_ok,
                self.startup_timeout,
                lambda: f"JupyterLab did not answer on {self.url}/api/status\n{self._describe_failure()}",
                interval=0.2,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _status_ok(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with code {self.proc.returncode} during startup\n"
                f"{self._describe_failure()}"
            )
        try:
            self.api("/api/status", timeout=2)
            return True
        except (OSError, urllib.error.URLError):
            return False

    def _describe_failure(self) -> str:
        return f"command: {' '.join(self.command())}\n--- server log ({self.log_path}) ---\n{self.log_text()}"

    def log_text(self, tail: int = 20000) -> str:
        """The last ``tail`` characters of the server log (for error messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return "<no log>"

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server; SIGTERM makes it shut its kernels down first.

        If it does not exit in ``timeout`` seconds it is killed, and any kernel
        still running from this server's runtime dir (found by its connection
        file on the command line) is killed by pid too, so nothing leaks.
        """
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self._kill_orphan_kernels()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _kill_orphan_kernels(self) -> None:
        """Kill kernel processes whose command line names our connection files."""
        marker = f"{self.runtime_dir}/kernel-".encode()
        for proc_dir in Path("/proc").glob("[0-9]*"):
            try:
                cmdline = (proc_dir / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in cmdline:
                with contextlib.suppress(OSError):
                    os.kill(int(proc_dir.name), signal.SIGKILL)

    def cleanup(self) -> None:
        """Stop the server and delete its work dir (log included) if we created it."""
        self.stop()
        if self._owns_work_dir:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "LabServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        # Keep the temp dir (and log) when leaving with an exception.
        if exc[0] is None:
            self.cleanup()
        else:
            self.stop()

    # -- REST API ------------------------------------------------------------

    def api(self, path: str, method: str = "GET", data: Any = None, timeout: float = 30) -> Any:
        """Call the server REST API with the token; return the decoded JSON (or None)."""
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=body,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def notebook_url(self, relpath: str | os.PathLike, reset: bool = True) -> str:
        """``http://127.0.0.1:PORT/lab/tree/<relpath>?token=...[&reset]``.

        ``reset`` clears the saved workspace first.  Without it JupyterLab
        restores every notebook opened earlier in this server (by other tests),
        reconnecting to (or restarting) their kernels in this page.
        """
        quoted = urllib.parse.quote(Path(relpath).as_posix())
        return f"{self.url}/lab/tree/{quoted}?token={self.token}" + ("&reset" if reset else "")

    def sessions(self) -> list[dict]:
        """``GET /api/sessions``: the running notebook sessions."""
        return self.api("/api/sessions")

    def session_for(self, relpath: str | os.PathLike, timeout: float = 60) -> dict:
        """Wait for and return the session whose notebook path is ``relpath``."""
        path = Path(relpath).as_posix()

        def find() -> dict | None:
            for session in self.sessions():
                if session.get("path") == path and session.get("kernel"):
                    return session
            return None

        return wait_until(
            find, timeout, lambda: f"no session for {path!r}; sessions: {self.sessions()}", interval=0.2
        )

    def shutdown_session(self, relpath: str | os.PathLike) -> None:
        """Delete the session of ``relpath`` (shuts its kernel down), if any."""
        path = Path(relpath).as_posix()
        for session in self.sessions():
            if session.get("path") == path:
                self.api(f"/api/sessions/{session['id']}", method="DELETE")

    def kernel_client_for(self, relpath: str | os.PathLike, timeout: float = 60) -> Any:
        """A started ``BlockingKernelClient`` on the kernel of notebook ``relpath``.

        It is a second client of the same kernel the browser uses, so it sees
        the notebook's variables and widgets.  Call ``client.stop_channels()``
        when done (or use :meth:`kernel_client`).
        """
        kernel_id = self.session_for(relpath, timeout)["kernel"]["id"]
        connection_file = self.runtime_dir / f"kernel-{kernel_id}.json"
        wait_until(connection_file.exists, timeout, f"missing connection file {connection_file}")
        return connect_kernel(connection_file, timeout)

    @contextlib.contextmanager
    def kernel_client(self, relpath: str | os.PathLike, timeout: float = 60) -> Iterator[Any]:
        """Context-manager form of :meth:`kernel_client_for` that stops the channels."""
        client = self.kernel_client_for(relpath, timeout)
        try:
            yield client
        finally:
            client.stop_channels()
