"""How long a teacher and a class wait for the Voila app: seconds to a drawn Lens.

Measured in headless Chromium against ``tools/start-app`` (what ``make app`` runs once the
virtual environment is installed; the install itself is not measured), with the Lens
notebook, one round per fresh server:

- cold start: from running ``tools/start-app`` to the printed URL (the server answers), and
  on to a drawn Lens: the browser opens the URL the moment it is printed and waits until the
  first Lens has every panel drawn (each picture's canvas holds its pixels, each text panel
  its text), then until the whole page is (both Lenses and the grid);
- warm start: a second visitor on the same, running server (a new kernel runs the notebook
  again): from opening the URL to a drawn Lens and to the whole page.

"Cold" is a new server process with the operating system's file cache as it is (a machine
just booted reads torch from disk first and takes longer). Voila sends the page only once
the whole notebook has run, so the first Lens is drawn about when the whole page is.
Nothing is asserted.

    python benchmarks/app.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import labharness as harness  # noqa: E402
from labharness.app import AppServer, app_panels, lens_drawn, wait_for_app  # noqa: E402

TIMEOUT = 600.0


def _visit(browser, url: str) -> dict:
    """Open ``url`` in a fresh page: seconds to a drawn first Lens and to the whole page drawn."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(url, timeout=TIMEOUT * 1000)
        harness.wait_until(lambda: lens_drawn(app_panels(page)), TIMEOUT, "no Lens was drawn", interval=0.1)
        lens = time.perf_counter() - start
        wait_for_app(page, lenses=2, timeout=TIMEOUT)
        return {"lens": lens, "page": time.perf_counter() - start}
    finally:
        context.close()


def one_round(browser) -> dict:
    with AppServer(startup_timeout=TIMEOUT) as app:
        answered = app.announced_at - app.started_at
        cold = _visit(browser, app.url)
        warm = _visit(browser, app.url)
    return {"answers": answered, "cold lens": answered + cold["lens"], "cold page": answered + cold["page"],
            "warm lens": warm["lens"], "warm page": warm["page"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="fresh servers started one after another")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    versions = ", ".join(f"{n} {version(n)}" for n in ("voila", "ipywidgets", "jupyterlab_widgets"))
    print(f"{versions}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    columns = ("answers", "cold lens", "cold page", "warm lens", "warm page")
    print(f"{'round':<8}" + "".join(f"{c:>11}" for c in columns) + "   (seconds)", flush=True)
    rows = []
    with sync_playwright() as playwright:
        browser = harness.launch_browser(playwright)
        try:
            for i in range(args.rounds):
                rows.append(one_round(browser))
                print(f"{i + 1:<8}" + "".join(f"{rows[-1][c]:>11.1f}" for c in columns), flush=True)
        finally:
            browser.close()
    print(f"{'median':<8}" + "".join(f"{statistics.median(r[c] for r in rows):>11.1f}" for c in columns))
    print("answers: tools/start-app run -> URL printed (server answers); cold: tools/start-app run -> "
          "first Lens / whole page drawn; warm: a second visitor opens the URL -> drawn")


if __name__ == "__main__":
    main()
