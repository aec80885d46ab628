"""Real-browser harness: a JupyterLab server, headless Chromium and kernel access.

Used by the browser tests in this directory and by the browser benchmarks
(``from tests.browser.harness import ...`` with the repository root on
``sys.path``).  Everything here is synchronous (Playwright's sync API and
``jupyter_client.BlockingKernelClient``) so tests read top to bottom.

Waiting is always done by polling a condition against a deadline
(:func:`wait_until`, ``page.wait_for_function``), never by sleeping a fixed
time and hoping the browser or the kernel has caught up.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
"""Repository root, computed from this file so the harness works from any cwd."""

NOTEBOOK_SOURCES = {
    "notebooks": REPO_ROOT / "notebooks",
    "browser_notebooks": REPO_ROOT / "tests" / "browser" / "notebooks",
}
"""Lab-root subdirectory -> repo directory, copied by :func:`copy_notebooks`."""

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # we run as root in containers; the sandbox refuses root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Flags for a quiet, offline, headless Chromium (no update or sync traffic)."""

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
"""JupyterLab user settings written into each server's private config dir."""


class NotebookCellError(AssertionError):
    """A notebook cell raised (or printed a traceback) while running all cells."""


class KernelError(RuntimeError):
    """Code or an expression sent with :func:`kernel_exec`/:func:`kernel_eval` failed."""


# --------------------------------------------------------------------------
# Generic polling
# --------------------------------------------------------------------------


def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    message: str | Callable[[], str] = "condition not met",
    interval: float = 0.05,
) -> Any:
    """Poll ``predicate`` until it returns a truthy value and return that value.

    Raises ``TimeoutError`` with ``message`` (a string or a callable producing
    one, so it can describe the last observed state) once ``timeout`` seconds
    have passed.  This is the only waiting primitive for Python-side state.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise TimeoutError(f"after {timeout:.1f}s: {text}")
        time.sleep(interval)


# --------------------------------------------------------------------------
# Chromium
# --------------------------------------------------------------------------


def chromium_path() -> str:
    """Return the Chromium/Chrome executable to drive with Playwright.

    Playwright's own browser download needs internet access, so we use a
    system browser: ``$CHROMIUM`` if set, else the first known name on PATH.
    """
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


# --------------------------------------------------------------------------
# JupyterLab server
# --------------------------------------------------------------------------


def free_port() -> int:
    """Ask the OS for a currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_notebooks(dest: Path) -> Path:
    """Copy the repo's ``notebooks/`` and ``tests/browser/notebooks/`` into ``dest``.

    Servers run on a copy so executing notebooks (outputs, checkpoints) never
    modifies files in the repository.  Returns ``dest``.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, src in NOTEBOOK_SOURCES.items():
        if src.is_dir():
            shutil.copytree(
                src,
                dest / name,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
            )
    return dest


def lab_root(tmp_path_factory: Any) -> Path:
    """A fresh JupyterLab root holding copies of the project's notebooks.

    ``notebooks/`` is copied to ``<root>/notebooks`` and
    ``tests/browser/notebooks/`` to ``<root>/browser_notebooks``.
    """
    return copy_notebooks(tmp_path_factory.mktemp("lab_root"))


class LabServer:
    """A private ``python -m jupyterlab`` on 127.0.0.1, as a context manager.

    Isolation: random free port, random token, its own runtime dir (kernel
    connection files land there, which :meth:`kernel_client_for` relies on)
    and its own config dir (fresh user settings and workspaces, so state from
    a previous run or the developer's own Lab is never restored).  Network
    features (news, update checks, PyPI extension manager) are off.
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
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _write_user_settings(self) -> None:
        """Write ``user_settings`` as ``<config>/lab/user-settings/<pkg>/<plugin>.jupyterlab-settings``."""
        base = self.config_dir / "lab" / "user-settings"
        for plugin_id, values in self.user_settings.items():
            package, plugin = plugin_id.split(":", 1)
            path = base / package / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values, indent=2))

    def start(self) -> "LabServer":
        """Start the server and block until ``/api/status`` answers."""
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self._write_user_settings()
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
        from jupyter_client import BlockingKernelClient

        kernel_id = self.session_for(relpath, timeout)["kernel"]["id"]
        connection_file = self.runtime_dir / f"kernel-{kernel_id}.json"
        wait_until(connection_file.exists, timeout, f"missing connection file {connection_file}")
        client = BlockingKernelClient()
        client.load_connection_file(str(connection_file))
        client.start_channels()
        try:
            client.wait_for_ready(timeout=timeout)
        except BaseException:
            client.stop_channels()
            raise
        return client

    @contextlib.contextmanager
    def kernel_client(self, relpath: str | os.PathLike, timeout: float = 60) -> Iterator[Any]:
        """Context-manager form of :meth:`kernel_client_for` that stops the channels."""
        client = self.kernel_client_for(relpath, timeout)
        try:
            yield client
        finally:
            client.stop_channels()


# --------------------------------------------------------------------------
# Notebooks on disk
# --------------------------------------------------------------------------


def write_notebook(path: str | os.PathLike, cells: Sequence[str]) -> Path:
    """Write a notebook of code cells with the ``python3`` kernelspec metadata.

    The kernelspec metadata lets JupyterLab start the kernel without asking.
    """
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# --------------------------------------------------------------------------
# Driving JupyterLab in the page
# --------------------------------------------------------------------------

_JS_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  const isPanel = (w) => !!(w && w.context && w.content && w.sessionContext);
  if (path === null) return isPanel(app.shell.currentWidget) ? app.shell.currentWidget : null;
  for (const w of Array.from(app.shell.widgets('main'))) {
    if (w.context && w.context.path === path && w.content && w.sessionContext) return w;
  }
  return null;
}
"""
"""JS function source: the NotebookPanel of ``path`` (null: the current one), or null."""

_JS_NOTEBOOK_STATE = f"""
(path) => {{
  const panel = ({_JS_PANEL})(path);
  const dialog = document.querySelector('.jp-Dialog');
  const state = {{
    app: !!window.jupyterapp,
    panel: !!panel,
    dialog: dialog ? dialog.innerText.slice(0, 500) : null,
  }};
  if (panel) {{
    const sc = panel.sessionContext;
    const kernel = sc.session && sc.session.kernel;
    state.contextReady = panel.context.isReady;
    state.sessionReady = sc.isReady;
    state.kernel = kernel ? kernel.status : null;
    state.connection = kernel ? kernel.connectionStatus : null;
  }}
  return state;
}}
"""


def _relpath(relpath: str | os.PathLike | None) -> str | None:
    return None if relpath is None else Path(relpath).as_posix()


def notebook_state(page: Any, relpath: str | os.PathLike) -> dict:
    """Snapshot of the notebook panel: found?, context/session ready, kernel status, dialog text."""
    return page.evaluate(_JS_NOTEBOOK_STATE, _relpath(relpath))


def dismiss_dialog(page: Any) -> bool:
    """Accept an open JupyterLab dialog (e.g. "Select Kernel"); True if one was open."""
    button = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    if button.count():
        button.first.click()
        return True
    return False


def open_notebook(page: Any, lab: LabServer, relpath: str | os.PathLike, timeout: float = 90) -> None:
    """Open ``relpath`` in JupyterLab and wait until its kernel is connected and idle.

    Any dialog that shows while loading (kernel selection) is accepted, which
    picks the notebook's preferred kernel.
    """
    path = _relpath(relpath)
    page.goto(lab.notebook_url(path), wait_until="domcontentloaded", timeout=timeout * 1000)
    last: dict = {}

    def ready() -> bool:
        nonlocal last
        last = notebook_state(page, path)
        if last.get("dialog"):
            dismiss_dialog(page)
            return False
        return bool(
            last.get("panel")
            and last.get("contextReady")
            and last.get("sessionReady")
            and last.get("kernel") == "idle"
            and last.get("connection") == "connected"
        )

    wait_until(
        ready,
        timeout,
        lambda: f"notebook {path!r} not ready, last state {last}\n--- server log tail ---\n{lab.log_text(4000)}",
        interval=0.1,
    )
    page.evaluate(f"(path) => window.jupyterapp.shell.activateById(({_JS_PANEL})(path).id)", path)


_JS_START_RUN_ALL = f"""
(path) => {{
  const app = window.jupyterapp;
  const panel = ({_JS_PANEL})(path);
  if (!panel) throw new Error('no open notebook ' + (path === null ? '(current)' : path));
  app.shell.activateById(panel.id);
  const state = {{done: false, ok: null, error: null}};
  window.__nnlensRunAll = state;
  app.commands.execute('notebook:run-all-cells').then(
    (ok) => {{ state.ok = ok; state.done = true; }},
    (err) => {{ state.error = String(err); state.done = true; }});
}}
"""

_JS_CELL_REPORT = f"""
(path) => {{
  const panel = ({_JS_PANEL})(path);
  if (!panel) throw new Error('no open notebook ' + (path === null ? '(current)' : path));
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  panel.content.widgets.forEach((cell, index) => {{
    const model = cell.model;
    if (model.type !== 'code') return;
    const errors = [];
    for (let i = 0; i < model.outputs.length; i++) {{
      const out = model.outputs.get(i).toJSON();
      if (out.output_type === 'error') {{
        errors.push([out.ename + ': ' + out.evalue].concat(out.traceback || []).join('\\n'));
      }} else if (out.output_type === 'stream' && out.name === 'stderr') {{
        const text = Array.isArray(out.text) ? out.text.join('') : String(out.text);
        if (text.includes('Traceback')) errors.push(text);
      }}
    }}
    cells.push({{index, executionCount: model.executionCount, errors,
                 source: model.sharedModel.getSource().slice(0, 200)}});
  }});
  return {{kernel: kernel ? kernel.status : null, cells}};
}}
"""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def cell_report(page: Any, relpath: str | os.PathLike | None = None) -> dict:
    """Per code cell: index, execution count, source head and error texts (tracebacks)."""
    return page.evaluate(_JS_CELL_REPORT, _relpath(relpath))


def _format_cell_errors(report: dict) -> str:
    parts = []
    for cell in report["cells"]:
        for err in cell["errors"]:
            parts.append(f"--- cell {cell['index']} ---\n{cell['source']}\n>>>\n{_ANSI.sub('', err)}")
    return "\n".join(parts)


def run_all_cells(page: Any, timeout: float = 300, relpath: str | os.PathLike | None = None) -> dict:
    """Run every cell of an open notebook; wait for the kernel to finish.

    ``relpath`` picks the notebook; by default the current one (the one
    :func:`open_notebook` just opened and activated).

    Uses the ``notebook:run-all-cells`` command, whose promise resolves when
    every cell's execute reply has arrived.  Then requires every code cell to
    have an execution count and the kernel to be idle.  Raises
    :class:`NotebookCellError` with the (ANSI-stripped) traceback text of every
    failing cell.  Returns the :func:`cell_report`.
    """
    path = _relpath(relpath)
    page.evaluate(_JS_START_RUN_ALL, path)
    page.wait_for_function("() => window.__nnlensRunAll.done", timeout=timeout * 1000, polling=100)
    outcome = page.evaluate("() => window.__nnlensRunAll")
    report: dict = {}

    def settled() -> bool:
        nonlocal report
        report = cell_report(page, path)
        if any(cell["errors"] for cell in report["cells"]):
            return True  # after a failure later cells are aborted: no counts to wait for
        counted = all(cell["executionCount"] is not None for cell in report["cells"])
        return counted and report["kernel"] == "idle"

    wait_until(settled, timeout, lambda: f"cells did not finish: {report}", interval=0.1)
    name = path or "current notebook"
    errors = _format_cell_errors(report)
    if errors:
        raise NotebookCellError(f"cell error(s) in {name}:\n{errors}")
    if outcome.get("error") or outcome.get("ok") is False:
        raise NotebookCellError(f"run-all-cells failed for {name}: {outcome}; cells: {report['cells']}")
    return report


# --------------------------------------------------------------------------
# Kernel access from Python
# --------------------------------------------------------------------------


def _raise_kernel_error(content: Mapping[str, Any], what: str) -> None:
    tb = "\n".join(_ANSI.sub("", line) for line in content.get("traceback") or [])
    raise KernelError(f"{what} failed: {content.get('ename')}: {content.get('evalue')}\n{tb}")


def kernel_exec(client: Any, code: str, timeout: float = 30) -> dict:
    """Execute statements in the kernel; raise :class:`KernelError` on error.

    ``silent`` keeps it out of the notebook's history and execution counts.
    Returns the execute reply content.
    """
    reply = client.execute(code, silent=True, store_history=False, reply=True, timeout=timeout)
    content = reply["content"]
    if content["status"] != "ok":
        _raise_kernel_error(content, f"kernel_exec({code!r})")
    return content


def kernel_eval(client: Any, expr: str, timeout: float = 30) -> Any:
    """Evaluate ``expr`` in the kernel and return its value as a Python literal.

    The kernel evaluates ``repr(expr)`` (builtin repr never truncates, unlike
    IPython's pretty printer), so values must be literals: numbers, strings,
    lists, dicts, ... (use ``.tolist()`` / ``float()`` for numpy/torch values).
    """
    reply = client.execute(
        "", silent=True, store_history=False, user_expressions={"v": f"repr(({expr}))"},
        reply=True, timeout=timeout,
    )
    content = reply["content"]
    if content["status"] != "ok":
        _raise_kernel_error(content, f"kernel_eval({expr!r})")
    result = content["user_expressions"]["v"]
    if result.get("status") != "ok":
        _raise_kernel_error(result, f"kernel_eval({expr!r})")
    text = ast.literal_eval(result["data"]["text/plain"])  # the repr string itself
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise KernelError(f"kernel_eval({expr!r}): repr is not a Python literal: {text[:500]}") from exc


def wait_for_kernel_value(client: Any, expr: str, expected: Any, timeout: float = 10) -> Any:
    """Poll ``kernel_eval(expr)`` until it equals ``expected``; return it.

    For state that arrives asynchronously (a browser event travelling over a
    widget comm to the kernel).
    """
    last: list = [None]

    def matches() -> bool:
        last[0] = kernel_eval(client, expr)
        return last[0] == expected

    wait_until(matches, timeout, lambda: f"{expr} == {last[0]!r}, expected {expected!r}", interval=0.05)
    return last[0]


# --------------------------------------------------------------------------
# Page helpers
# --------------------------------------------------------------------------


def read_canvas_pixel(page: Any, selector: str, x: int, y: int) -> list[int]:
    """[r, g, b, a] of the pixel (x, y) in canvas backing-store coordinates.

    Reads the 2D context of the first element matching ``selector``; raises
    if it is missing or not a 2D canvas (a WebGL canvas has no 2D context).
    """
    return page.evaluate(
        """([selector, x, y]) => {
          const el = document.querySelector(selector);
          if (!el) throw new Error('no element matches ' + selector);
          if (!(el instanceof HTMLCanvasElement)) throw new Error(selector + ' is not a <canvas>');
          const ctx = el.getContext('2d');
          if (!ctx) throw new Error(selector + ' has no 2d context');
          return Array.from(ctx.getImageData(x, y, 1, 1).data);
        }""",
        [selector, x, y],
    )


def press_slider_key(page: Any, selector: str, key: str) -> None:
    """Press ``key`` on an ipywidgets 8 slider, the way a keyboard user would.

    ``selector`` selects the slider widget (e.g. ``.probe-slider``, a class
    added with ``add_class``).  ipywidgets 8 renders sliders with noUiSlider;
    the key handler sits on the handle ``.noUi-handle`` (``tabindex=0``,
    ``role=slider``), so the handle must have focus.  Verified in Chromium
    with JupyterLab 4.6 / ipywidgets 8.1:

    * handle focused + ArrowRight/ArrowUp: +1 ``step``; ArrowLeft/ArrowDown: -1;
      PageUp/PageDown: 5 steps; Home/End: ``min``/``max``.  The value reaches
      the kernel with and without ``continuous_update``.
    * ``page.keyboard.press`` with nothing focused, or a key pressed on the
      widget's container (``.widget-slider``), does nothing.
    * Clicking the handle also focuses it (later ``page.keyboard`` presses
      work) but the click itself does not change the value.
    """
    handle = page.locator(f"{selector} .noUi-handle").first
    handle.focus()
    handle.press(key)


@contextlib.contextmanager
def notebook_page(browser: Any, lab: "LabServer", relpath: str, width: int = 1400, height: int = 1000,
                  timeout: float = 300) -> Iterator[tuple]:
    """A fresh browser page with ``relpath`` open and all its cells run, and a client of its kernel.

    Yields ``(page, kernel_client)``; the page's browser context is closed afterwards.
    """
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        open_notebook(page, lab, relpath)
        run_all_cells(page, timeout=timeout, relpath=relpath)
        with lab.kernel_client(relpath) as kc:
            yield page, kc
    finally:
        context.close()


def screenshot_on_failure(page: Any, tmp_path: Path) -> None:
    """Save the whole page as ``failure.png`` in the test's tmp dir and say where."""
    page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
    print(f"screenshot: {tmp_path / 'failure.png'}")


def click_canvas(page: Any, client: Any, selector: str, frame_expr: str, x: float, y: float) -> None:
    """Click the canvas ``selector`` at picture pixel (x, y) of ``frame_expr`` (a kernel-side RGBA array).

    The canvas may be shown scaled by CSS; the scale is the on-screen width over the picture's.
    """
    canvas = page.locator(selector).first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    scale = box["width"] / kernel_eval(client, f"{frame_expr}.shape[1]")
    page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)


def canvas_frame_id(page: Any, selector: str) -> str | None:
    """The ``data-frame-id`` a FrameCanvas sets right after drawing (None before any frame)."""
    return page.evaluate("s => document.querySelector(s)?.dataset.frameId ?? null", selector)


def canvas_pixels(page: Any, selector: str) -> str:
    """Every RGBA byte of a 2-D canvas, joined into one string (for before/after comparisons)."""
    return page.evaluate(
        """s => { const c = document.querySelector(s);
                  return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).join(); }""",
        selector,
    )


def canvas_matches_frame(page: Any, client: Any, selector: str, frame_expr: str,
                         points: Sequence[tuple], tolerance: int = 1) -> bool:
    """Whether the canvas pixels at ``points`` (x, y) equal ``frame_expr[y, x]`` in the kernel."""
    for x, y in points:
        shown = read_canvas_pixel(page, selector, x, y)
        sent = kernel_eval(client, f"{frame_expr}[{y}, {x}].tolist()")
        if max(abs(a - b) for a, b in zip(shown, sent)) > tolerance:
            return False
    return True
