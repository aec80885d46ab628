"""The Lens's relevance panels in real JupyterLab: the button shows them, a channel's name picks the channel."""
from __future__ import annotations

import pytest

from tests.browser import harness

NB = "browser_notebooks/lens_relevance.ipynb"
ROOT = ".nnl-lens"
EXAMPLES = f"{ROOT} .nnl-lens-relevance-examples canvas.nnl-canvas"


@pytest.fixture(scope="module")
def nb(browser, lab):
    with harness.notebook_page(browser, lab, NB) as (page, kc):
        yield page, kc


def test_relevance_button_shows_the_share_chart_and_a_name_click_picks_the_channel(nb, tmp_path):
    page, kc = nb
    try:
        assert harness.kernel_eval(kc, "lens.wait(120)", timeout=130)
        share = page.locator(f"{ROOT} .nnl-relevance-share").first
        assert not share.is_visible()  # off until asked for
        page.locator(ROOT).get_by_role("button", name="relevance (LRP)").first.click()
        harness.wait_for_kernel_value(kc, "'relevance_share' in lens.views", True, timeout=10)
        assert harness.kernel_eval(kc, "lens.wait(180)", timeout=190)
        channels = harness.kernel_eval(kc, "lens.views['relevance_share'].channels")
        assert len(channels) == 10
        harness.wait_until(lambda: share.locator(".nnl-relevance-bars rect.nnl-ranked-bar").count() == 10, 30,
                           "the share chart did not show its 10 bars")
        assert "share of the relevance for" in share.inner_text()
        pick = next(c for c in channels[1:] if c != harness.kernel_eval(kc, "lens.channel"))
        button = share.get_by_role("button", name=f"channel {pick}", exact=True)
        button.scroll_into_view_if_needed()
        button.click()
        harness.wait_for_kernel_value(kc, "lens.channel", pick, timeout=10)
        assert harness.kernel_eval(kc, "lens.wait(120)", timeout=130)
        examples = page.locator(f"{ROOT} .nnl-lens-relevance-examples").first.locator("xpath=..")
        harness.wait_until(lambda: f"channel {pick}: top" in examples.inner_text(), 30,
                           "the examples by relevance did not follow the picked channel")
        h, w = harness.kernel_eval(kc, "lens.views['relevance_examples'].frame.shape[:2]")
        harness.wait_until(lambda: harness.canvas_matches_frame(
            page, kc, EXAMPLES, "lens.views['relevance_examples'].frame", [(0, 0), (w // 2, h // 2), (w - 1, h - 1)]),
            30, "the page does not show the examples the kernel drew")
        assert harness.kernel_eval(kc, "lens.error") is None
    except Exception:
        harness.screenshot_on_failure(page, tmp_path)
        raise
