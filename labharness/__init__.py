"""A real JupyterLab and a real Chromium, driven from Python, for browser tests and benchmarks.

Widgets are only finished when they work where people use them, so browser
tests and the latency benchmarks run notebooks in JupyterLab in headless
Chromium and read back pixels, layout and kernel state.  This package lives
beside the project (it is not shipped with ``nnlens_widgets``) so that both
``tests/`` and ``benchmarks/`` import it with the repository root on
``sys.path``.

One module per job:

- :mod:`.server`: ``LabServer``, a private Lab with its own settings and kernels;
- :mod:`.browser`: headless system Chromium;
- :mod:`.files`: notebooks on disk (copies of the project's, generated ones);
- :mod:`.page`: open a notebook, run its cells, dialogs, keyboard;
- :mod:`.kernel`: ``kernel_exec`` / ``kernel_eval`` on a notebook's kernel;
- :mod:`.canvas`: canvas pixels, frame ids, clicks at picture coordinates;
- :mod:`.layout`: window size, theme, file browser, waiting for the page to settle;
- :mod:`.shots`: screenshots of whole widgets, however tall;
- :mod:`.waiting`: ``wait_until``, the one way to wait;
- :mod:`.legibility`: checks of widget fit, labels, contrast and legends.

The JavaScript run in the page lives in ``js/*.js`` (see :mod:`.scripts`).
Everything is synchronous (Playwright's sync API, ``BlockingKernelClient``) so
tests read top to bottom.
"""
from .browser import CHROMIUM_ARGS, CHROMIUM_CANDIDATES, chromium_path, launch_browser
from .canvas import canvas_frame_id, canvas_matches_frame, canvas_pixels, click_canvas, read_canvas_pixel
from .files import NOTEBOOK_SOURCES, REPO_ROOT, copy_notebooks, lab_root, write_notebook
from .kernel import KernelError, connect_kernel, kernel_eval, kernel_exec, strip_ansi, wait_for_kernel_value
from .layout import lab_layout, set_theme, set_window, show_file_browser, wait_until_quiet
from .page import (
    NotebookCellError,
    cell_report,
    dismiss_dialog,
    notebook_content,
    notebook_page,
    notebook_state,
    open_notebook,
    press_slider_key,
    run_all_cells,
    screenshot_on_failure,
)
from .server import DEFAULT_USER_SETTINGS, THEMES, LabServer, free_port, themed_settings
from .shots import screenshot_widget
from .waiting import wait_until

__all__ = [
    "CHROMIUM_ARGS", "CHROMIUM_CANDIDATES", "chromium_path", "launch_browser",
    "canvas_frame_id", "canvas_matches_frame", "canvas_pixels", "click_canvas", "read_canvas_pixel",
    "NOTEBOOK_SOURCES", "REPO_ROOT", "copy_notebooks", "lab_root", "write_notebook",
    "KernelError", "connect_kernel", "kernel_eval", "kernel_exec", "strip_ansi", "wait_for_kernel_value",
    "NotebookCellError", "cell_report", "dismiss_dialog", "notebook_content", "notebook_page", "notebook_state",
    "open_notebook", "press_slider_key", "run_all_cells", "screenshot_on_failure",
    "DEFAULT_USER_SETTINGS", "THEMES", "LabServer", "free_port", "themed_settings",
    "lab_layout", "set_theme", "set_window", "show_file_browser", "wait_until_quiet", "screenshot_widget",
    "wait_until",
]
