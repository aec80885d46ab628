"""Playground in real JupyterLab + Chromium: the map is the kernel's picture, play updates it
at least 20 times a second (counted in the page), a click on the map adds a point, and pointing
at a neuron shows its formula.

The rate is the number of distinct pictures drawn on the map's canvas in a window, per second
the playground's thread could run: seconds it spent waiting for a core while other work used
the machine (Linux's schedstat) are left out, so a busy CI machine does not decide the test.
"""
from __future__ import annotations

import pytest

from labharness.frames import count_canvas_frames, thread_wait_seconds
from tests.browser import harness

NB = "browser_notebooks/playground.ipynb"
ROOT = ".nnl-playground"
MAP = f"{ROOT} .nnl-playground-map canvas.nnl-canvas"
DIAGRAM = f"{ROOT} .nnl-playground-diagram canvas.nnl-canvas"
WINDOW_S = 3.0
TRIES = 3  # windows measured at most: a machine busy for a moment gets another window, not a pass


@pytest.fixture(scope="module")
def nb(browser, lab):
    with harness.notebook_page(browser, lab, NB, width=1400, height=1100) as (page, kc):
        harness.wait_until(lambda: harness.canvas_frame_id(page, MAP) is not None, 30, "map never drawn")
        yield page, kc


def test_the_map_shows_the_kernels_picture_and_play_updates_it_20_times_a_second(nb, tmp_path):
    page, kc = nb
    try:
        points = [(0, 0), (40, 75), (75, 75), (149, 10)]
        harness.wait_until(lambda: harness.canvas_matches_frame(page, kc, MAP, "pg.frame", points, tolerance=0), 15,
                           "canvas != pg.frame")
        page.locator(f"{ROOT} .nnl-playground-play").first.click()
        harness.wait_for_kernel_value(kc, "pg.playing", True, timeout=10)
        started = harness.kernel_eval(kc, "pg.frames_drawn")  # measured once playing has settled in
        harness.wait_until(lambda: harness.kernel_eval(kc, "pg.frames_drawn") >= started + 10, 30, "not playing")
        rates = []
        for _ in range(TRIES):
            before = harness.kernel_eval(kc, "(pg.frames_drawn, pg.steps)")
            waited = thread_wait_seconds(kc, "pg._loop.thread_id")
            counted = count_canvas_frames(page, MAP, WINDOW_S)
            after = harness.kernel_eval(kc, "(pg.frames_drawn, pg.steps)")
            waited = 0.0 if waited is None else thread_wait_seconds(kc, "pg._loop.thread_id") - waited
            could_run = max(counted["seconds"] - waited, 0.1 * counted["seconds"])
            rates.append((counted["distinct"] / could_run, counted, before, after, waited))
            if rates[-1][0] >= 20:
                break
        print("distinct map frames per second in the page, per window, per second the thread could run "
              "(raw, seconds waited for a core):",
              [(round(r[0], 1), round(r[1]["distinct"] / r[1]["seconds"], 1), round(r[4], 2)) for r in rates])
        best, counted, before, after, _ = max(rates, key=lambda r: r[0])
        assert after[1] > before[1], "no training steps while playing"
        # every frame drawn in the page is a new picture, and the page keeps up with the kernel
        assert counted["distinct"] >= counted["frames"] - 1
        assert best >= 20, f"the decision map changed {best:.1f} times a second in the page (windows: {rates})"
        page.locator(f"{ROOT} .nnl-playground-play").first.click()
        harness.wait_for_kernel_value(kc, "pg.playing", False, timeout=10)
        assert harness.kernel_eval(kc, "pg.error") is None
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_a_click_on_the_map_adds_a_point_of_the_chosen_class(nb, tmp_path):
    page, kc = nb
    try:
        assert harness.kernel_eval(kc, "pg.wait(30)") is True
        count = harness.kernel_eval(kc, "len(pg.points)")
        page.locator(f"{ROOT} .nnl-playground-click select").first.select_option(label="adds a point of class 1")
        harness.wait_for_kernel_value(kc, "pg.point_class", 1, timeout=10)
        harness.click_canvas(page, kc, MAP, "pg.frame", 120.5, 20.5)  # picture pixel (120, 20)
        harness.wait_for_kernel_value(kc, "len(pg.points)", count + 1, timeout=10)
        x, y = harness.kernel_eval(kc, "pg.points[-1].tolist()")
        # pixel i of the 150-pixel map is the plane point -6 + 12 i / 149; a click lands within a screen pixel
        assert abs(x - (-6 + 12 * 120 / 149)) < 0.1 and abs(y - (-6 + 12 * 20 / 149)) < 0.1
        assert harness.kernel_eval(kc, "int(pg.labels[-1]), bool(pg.test_points[-1])") == (1, False)
        harness.wait_until(lambda: harness.kernel_eval(kc, "pg.wait(1)") is True, 20, "not redrawn")
        harness.wait_until(lambda: harness.canvas_matches_frame(page, kc, MAP, "pg.frame", [(120, 20), (121, 21)],
                                                                tolerance=0), 10, "the new point is not shown")
        assert harness.kernel_eval(kc, "pg.frame[20, 120, :3].tolist()") == harness.kernel_eval(
            kc, "__import__('nnlens_widgets').render.plane.class_colours(2)[1].tolist()")
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_pointing_at_a_neuron_shows_its_formula(nb, tmp_path):
    page, kc = nb
    try:
        x, y, w, h = harness.kernel_eval(kc, "pg.views['network'].diagram.rect(1, 2)")
        canvas = page.locator(DIAGRAM).first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        scale = box["width"] / harness.kernel_eval(kc, "pg.views['network'].frame.shape[1]")
        page.mouse.move(box["x"] + (x + w / 2) * scale, box["y"] + (y + h / 2) * scale)
        readout = page.locator(f"{ROOT} .nnl-playground-readout").first
        harness.wait_until(lambda: "neuron h1[2]" in readout.inner_text(), 10, lambda: readout.inner_text())
        assert "tanh(z)" in readout.inner_text() and "z = " in readout.inner_text()
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise
