"""NeuronAblation and TextNeuronViewer in real JupyterLab + Chromium (notebook 06)."""
from __future__ import annotations

import pytest

from tests.browser import harness

NOTEBOOK = "notebooks/06_ablation_and_text.ipynb"
ABL = ".nnl-neuron-ablation"
GRID_CANVAS = f"{ABL} .nnl-grid-canvas canvas.nnl-canvas"
TEXT = ".nnl-text-neurons"
VIEW = f"{TEXT} .nnl-text-view"


def after_bars(page):
    """[(class label, probability now)] as the rows show them."""
    return page.evaluate(
        """s => Array.from(document.querySelectorAll(s)).map(r => [r.dataset.label, Number(r.dataset.p)])""",
        f"{ABL} .nnl-prob-bars .nnl-prob-row",
    )


def char_colours(page, indices, prop="backgroundColor"):
    """The computed background (or text) colour of the spans of characters ``indices`` as [r, g, b]."""
    return page.evaluate(
        """([view, indices, prop]) => indices.map(i => {
             const s = document.querySelector(`${view} span[data-i="${i}"]`);
             if (!s) return null;
             return getComputedStyle(s)[prop].match(/\\d+/g).slice(0, 3).map(Number); })""",
        [VIEW, indices, prop],
    )


def version(page):
    return page.evaluate("s => document.querySelector(s)?.dataset.version ?? null", VIEW)


@pytest.fixture(scope="module")
def nb(browser, lab):
    with harness.notebook_page(browser, lab, NOTEBOOK) as (page, kc):
        yield page, kc


def test_clicking_a_tile_changes_the_probability_bars(nb, tmp_path):
    page, kc = nb
    try:
        harness.wait_until(lambda: len(after_bars(page)) >= 5, 30, "probability bars never shown")
        harness.kernel_exec(kc, "abl.reset(); abl.wait()")  # the notebook switched the top 3 off
        harness.wait_until(lambda: harness.kernel_eval(kc, "abl.off") == [] and len(after_bars(page)) == 5, 20,
                           "reset not shown")
        before = after_bars(page)
        x, y, w, h = harness.kernel_eval(kc, "abl.tile_rect(17)")
        harness.click_canvas(page, kc, GRID_CANVAS, "abl.frame", x + w / 2, y + h / 2)
        harness.wait_for_kernel_value(kc, "abl.off", [17])
        harness.wait_until(lambda: after_bars(page) != before, 20, "bars did not change after the click")
        shown = after_bars(page)
        expected = harness.kernel_eval(kc, f"[float(abl.probabilities[1][abl.labels.index(l)]) for l, _ in {shown!r}]")
        assert max(abs(p - e) for (_, p), e in zip(shown, expected)) < 1e-5
        assert shown[0][1] < before[0][1]  # channel 17 carries the predicted class
        harness.kernel_exec(kc, "abl.reset(); abl.wait()")
        harness.wait_until(lambda: after_bars(page)[:1] == before[:1], 20, "reset did not restore the bars")
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_choosing_a_cell_recolours_the_text(nb, tmp_path):
    page, kc = nb
    try:
        page.locator(VIEW).first.scroll_into_view_if_needed()
        harness.wait_until(lambda: version(page) is not None, 30, "text never coloured")
        indices = [0, 5, 40, 41, 100, 250]
        harness.kernel_exec(kc, "viewer.channel = 10")
        harness.wait_until(lambda: version(page) == str(harness.kernel_eval(kc, "viewer.view.version")), 20,
                           "text not recoloured for cell 10")
        before = char_colours(page, indices)
        assert before == harness.kernel_eval(kc, f"viewer.char_colors[{indices}][:, :3].tolist()")
        old = version(page)
        harness.press_slider_key(page, f"{TEXT} .nnl-channel-slider", "ArrowRight")
        harness.wait_for_kernel_value(kc, "viewer.channel", 11)
        harness.wait_until(lambda: version(page) != old, 20, "text not recoloured after the slider key")
        after = char_colours(page, indices)
        assert after != before
        assert after == harness.kernel_eval(kc, f"viewer.char_colors[{indices}][:, :3].tolist()")
        # a cell from the predicate panel
        best = harness.kernel_eval(kc, "viewer.matches['bracket_depth'][0].cell")
        old = version(page)
        page.locator(f"{TEXT} .nnl-predicate-cell").nth(6).click()  # third row (bracket depth), first button
        harness.wait_for_kernel_value(kc, "viewer.channel", best)
        harness.wait_until(lambda: version(page) != old, 20, "text not recoloured after a panel click")
        assert char_colours(page, indices) == harness.kernel_eval(kc, f"viewer.char_colors[{indices}][:, :3].tolist()")
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def scroll_view(page, fraction):
    page.evaluate("([s, f]) => { const v = document.querySelector(s); v.scrollTop = f * (v.scrollHeight - v.clientHeight); }",
                  [VIEW, fraction])


def test_parts_scrolled_into_view_show_the_current_cell(nb, tmp_path):
    page, kc = nb
    try:
        n = harness.kernel_eval(kc, "len(viewer.text)")
        ends, starts = [n - 1, n - 30], [0, 40]
        expected = lambda idx: harness.kernel_eval(kc, f"viewer.char_colors[{idx}][:, :3].tolist()")  # noqa: E731
        harness.kernel_exec(kc, "viewer.channel = 3")
        harness.wait_until(lambda: version(page) == str(harness.kernel_eval(kc, "viewer.view.version")), 20,
                           "not recoloured for cell 3")
        scroll_view(page, 1.0)  # the end of the text is laid out and painted when it comes into view
        harness.wait_until(lambda: char_colours(page, ends) == expected(ends), 20,
                           lambda: f"end of text shows {char_colours(page, ends)}, expected {expected(ends)}")
        harness.kernel_exec(kc, "viewer.channel = 4")  # recoloured while the top is out of view
        harness.wait_until(lambda: version(page) == str(harness.kernel_eval(kc, "viewer.view.version")), 20,
                           "not recoloured for cell 4")
        assert char_colours(page, ends) == expected(ends)
        scroll_view(page, 0.0)
        harness.wait_until(lambda: char_colours(page, starts) == expected(starts), 20,
                           lambda: f"start of text shows {char_colours(page, starts)}, expected {expected(starts)}")
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_hover_shows_the_top5_next_character_guesses(nb, tmp_path):
    page, kc = nb
    try:
        span = page.locator(f'{VIEW} span[data-i="40"]').first
        span.scroll_into_view_if_needed()
        span.hover()
        tip = page.locator(f"{TEXT} .nnl-text-tip").first
        harness.wait_until(lambda: tip.get_attribute("data-i") == "40" and tip.is_visible(), 10, "no tooltip")
        lines = tip.inner_text().splitlines()
        assert lines[1] == "next character guesses:" and len(lines) == 7
        expected = harness.kernel_eval(
            kc, "[(viewer.vocab[i], float(p)) for i, p in zip(viewer.top_index[40], viewer.top_prob[40])]")
        for line, (ch, p) in zip(lines[2:], expected):
            shown_ch = {"\n": "\u21b5", " ": "\u2423"}.get(ch, ch)
            assert line.split()[0] == shown_ch and float(line.split()[1].rstrip("%")) == pytest.approx(100 * p, abs=0.06)
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise


def test_every_painted_character_is_readable_and_long_lines_wrap(nb, tmp_path):
    page, kc = nb
    try:
        from nnlens_widgets.render.contrast import AA_TEXT, contrast_ratio

        page.locator(VIEW).first.scroll_into_view_if_needed()
        for channel in (0, 7):
            harness.kernel_exec(kc, f"viewer.channel = {channel}")
            harness.wait_until(lambda: version(page) == str(harness.kernel_eval(kc, "viewer.view.version")), 20,
                               f"not recoloured for cell {channel}")
            indices = page.evaluate("s => Array.from(document.querySelectorAll(`${s} span[data-i]`))"
                                    ".map(e => Number(e.dataset.i)).slice(0, 1500)", VIEW)
            assert len(indices) > 200
            background = char_colours(page, indices)
            ink = char_colours(page, indices, "color")
            expected = harness.kernel_eval(kc, f"viewer.char_text_colors[{indices}].tolist()")
            assert ink == expected
            ratios = contrast_ratio(ink, background)
            assert ratios.min() >= AA_TEXT, f"contrast {ratios.min():.2f} at character {indices[ratios.argmin()]}"
        style = page.evaluate("s => { const v = document.querySelector(s); const c = getComputedStyle(v);"
                              " return [c.whiteSpace, v.scrollWidth, v.clientWidth]; }", VIEW)
        assert style[0] == "break-spaces" and style[1] <= style[2], f"the text scrolls sideways: {style}"
        legend = page.locator(f"{TEXT} .nnl-legend").first.inner_text()
        assert "-1" in legend and "1" in legend and "cell" in legend
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise
