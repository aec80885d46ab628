"""Static pictures drawn from the live view's own description: charts as charts, text inside its box."""
import io

import ipywidgets as W
import numpy as np
import pytest
from PIL import Image

import nnlens_widgets as nl
from nnlens_widgets.render import Scale, legend_html, lut
from nnlens_widgets.render.bars import bar_chart_svg
from nnlens_widgets.render.charts import probability_rows_html
from nnlens_widgets.widgets.static_html import html_picture
from nnlens_widgets.widgets.static_layout import draw_widget, widget_picture
from nnlens_widgets.widgets.static_text import cut_texts, draw_text, font, palette, text_width, wrap_words
from nnlens_widgets.widgets.views import HtmlView, PictureView
from tests.models import TinyNet, image

LIGHT = palette("light")


def opaque(picture: Image.Image) -> np.ndarray:
    """The picture over white, as an (H, W, 3) array."""
    back = Image.new("RGBA", picture.size, (255, 255, 255, 255))
    back.alpha_composite(picture)
    return np.asarray(back.convert("RGB"))


def test_wrapped_lines_fit_their_width_and_keep_every_word():
    face = font(12)
    words = "a caption that says what the colours mean " * 6 + "averyveryverylongwordwithoutanyspaceatall"
    lines = wrap_words(words, face, 120)
    assert len(lines) > 5 and all(text_width(s, face) <= 120 for s in lines)
    assert "".join(lines).replace(" ", "") == words.replace(" ", "")


@pytest.mark.parametrize("avail", [1000, 600, 320])
def test_no_part_of_a_widget_is_drawn_wider_than_its_room(avail):
    grid = nl.ActivationGrid(TinyNet(), image(), layer="conv2")
    grid.views["grid"].set_caption("a long caption " * 40 + "unbreakable" * 20)
    filters = nl.FilterGrid(TinyNet(), layer="conv1")
    for widget in (grid, filters, nl.column(grid, filters), nl.row(grid, filters), nl.grid(grid, filters)):
        picture = draw_widget(widget, avail, LIGHT)
        assert picture.width <= avail, (type(widget).__name__, picture.width, avail)


def test_the_legend_is_drawn_from_its_own_colours_and_says_its_range():
    scale = Scale("magma", -2.5, 7.0, "activation of channel 3")
    picture = opaque(html_picture(legend_html(scale), 400, LIGHT))
    assert picture.shape[1] == 180  # the legend's own max-width, as in the page
    bar = picture[8, 1:179]
    table = lut("magma")[:, :3].astype(int)
    for x in (2, 89, 175):  # each column's colour is a colour of the map, in order along the bar
        distance = np.abs(table - bar[x].astype(int)).sum(axis=1)
        assert distance.min() <= 12
    assert np.argmin(np.abs(table - bar[2].astype(int)).sum(axis=1)) < 20
    assert np.argmin(np.abs(table - bar[175].astype(int)).sum(axis=1)) > 235
    assert picture.shape[0] > 40  # the end values and the meaning under the bar


def test_a_bar_chart_is_drawn_as_bars_at_their_values():
    svg = bar_chart_svg([1.0, -0.5, 2.0], ["a", "b", "c"], value_label="activation", selected=2,
                        width=300, height=200)
    picture = opaque(html_picture(svg, 600, LIGHT))
    assert picture.shape[:2] == (200 + 3, 300)  # an inline chart: its line's 3-pixel descent under it
    blue = np.all(picture == (0x2F, 0x8F, 0xD8), axis=2)
    orange = np.all(picture == (0xE4, 0x57, 0x2E), axis=2)
    heights = [blue[:, c].sum() for c in range(picture.shape[1]) if blue[:, c].any()]
    assert orange.sum() > 0 and blue.sum() > 0  # the selected bar stands out
    tall_orange = orange.sum(axis=0).max()
    assert abs(tall_orange / max(heights) - 2.0) < 0.15  # c (2.0) is twice a (1.0)


def test_probability_rows_are_bars_as_long_as_their_probabilities():
    markup = probability_rows_html(["cat", "dog"], [0.75, 0.25], title="P(class)")
    picture = opaque(html_picture(markup, 600, LIGHT))
    accent = np.all(picture == LIGHT.accent[:3], axis=2)
    lengths = [accent[r].sum() for r in range(picture.shape[0]) if accent[r].any()]
    assert max(lengths) == pytest.approx(3 * min(lengths), rel=0.1)


def test_a_picture_view_keeps_its_exact_pixels_enlarged_by_its_scale():
    view = PictureView("map")
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[1, 2] = (200, 10, 30, 255)
    view.show(rgba, scale=3, legend=Scale("viridis", 0, 1, "value"), caption="what it shows")
    picture = opaque(draw_widget(view, 500, LIGHT))
    red = np.argwhere(np.all(picture == (200, 10, 30), axis=2))
    assert len(red) == 9 and np.ptp(red[:, 0]) == 2 and np.ptp(red[:, 1]) == 2


def test_dark_theme_draws_light_text_on_a_dark_page():
    view = HtmlView("a title")
    view.show("<div>some words</div>")
    picture = np.asarray(widget_picture(view, 300, theme="dark"))
    assert tuple(picture[0, 0]) == palette("dark").bg[:3]
    assert picture.max() > 200  # the text is light
    with pytest.raises(ValueError, match="theme"):
        widget_picture(view, 300, theme="sepia")


def test_containers_carry_a_picture_of_their_children():
    a = nl.ActivationGrid(TinyNet(), image(), layer="conv2")
    b = nl.FilterGrid(TinyNet(), layer="conv1")
    column = nl.column(a, b)
    data = column._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    assert "application/vnd.jupyter.widget-view+json" in data and data["text/plain"].startswith("column of 2")
    both = Image.open(io.BytesIO(data["image/png"]))
    one = widget_picture(a)
    assert both.height > one.height + 100 and both.width >= one.width
    row = draw_widget(nl.row(W.Label("left"), W.Label("right")), 980, LIGHT)
    stacked = draw_widget(nl.column(W.Label("left"), W.Label("right")), 980, LIGHT)
    assert row.width > stacked.width and row.height < stacked.height
    grid = nl.grid([[W.Label("a"), W.Label("b")], [W.Label("c")]])
    assert grid.layout.grid_template_columns == "repeat(2, minmax(0, max-content))" and len(grid.children) == 3


@pytest.mark.parametrize("call, error, words", [
    (lambda: nl.row(), ValueError, "at least one widget"),
    (lambda: nl.column(W.Label("x"), 3), TypeError, "item 1"),
    (lambda: nl.grid(W.Label("x"), columns=0), ValueError, "columns"),
    (lambda: nl.grid(W.Label("x"), columns=1.5), ValueError, "columns"),
])
def test_containers_refuse_what_is_not_a_widget(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_coloured_text_is_drawn_on_each_characters_colour():
    from nnlens_widgets.widgets.text_view import ColoredTextView

    panel = ColoredTextView("ab\ncd", height_px=80)
    panel.view.set_tables("RdBu_r", None, None)
    panel.show(np.array([-1.0, 1.0, 0.0, 0.2, 0.5], np.float32), scale=Scale("RdBu_r", -1, 1, "value"), title="text")
    picture = opaque(draw_widget(panel.view, 300, LIGHT))
    assert picture.shape[:2] == (80, 300)
    for colour in panel.char_colors[[0, 1, 3, 4], :3]:  # every character's background is in the picture
        assert np.all(picture == colour, axis=2).sum() > 20


def test_a_text_drawn_past_its_box_is_noted_and_one_inside_is_not():
    from PIL import ImageDraw

    picture = Image.new("RGBA", (120, 28))
    with cut_texts() as cuts:
        draw_text(ImageDraw.Draw(picture), (4, 18), "fits", font=font(13), anchor="ls")
        draw_text(ImageDraw.Draw(picture), (-8, 18), "off the left edge", font=font(13), anchor="rs")
        draw_text(ImageDraw.Draw(picture), (60, 18), "a sentence far too long for the box", font=font(13), anchor="ls")
    assert cuts == ["off the left edge", "a sentence far too long for the box"]


def test_controls_keep_their_words_inside_their_boxes():
    auto = dict(layout=W.Layout(width="auto"))
    controls = [W.Checkbox(description="from fresh random weights", indent=False),
                W.Checkbox(description="LRP-\u03b5", indent=False, **auto),
                W.Dropdown(description="class", options=["circle (99.2%)", "star (0.1%)"], **auto),
                W.BoundedIntText(description="top n", value=3, **auto),
                W.Button(description="Compute maps", icon="refresh", **auto),
                W.ToggleButtons(options=["|value|", "positive", "both signs"], style={"button_width": "auto"}),
                W.FloatSlider(description="colour saturates at percentile", style={"description_width": "initial"})]
    with cut_texts() as cuts:
        pictures = [draw_widget(c, 848, LIGHT) for c in controls]
    assert cuts == []
    assert pictures[1].width < 100  # an auto-width checkbox is as wide as its box and words
    assert pictures[3].width < 120  # an auto-width number box hugs its words and a few digits


def test_a_canvas_keeps_the_lines_descent_under_it_as_the_page_does():
    view = PictureView("map")
    rgba = np.full((10, 10, 4), 255, np.uint8)
    view.show(rgba, scale=2)
    assert draw_widget(view.canvas, 500, LIGHT).size == (20, 23)  # the inline canvas's 3-pixel descent


def test_coloured_text_sits_in_its_page_box_with_a_gap_between_lines():
    from nnlens_widgets.widgets.text_view import ColoredTextView

    panel = ColoredTextView("ab\ncd", height_px=80)
    panel.view.set_tables("RdBu_r", None, None)
    panel.show(np.array([-1.0, -1.0, -1.0, -1.0, -1.0], np.float32), scale=Scale("RdBu_r", -1, 1, "value"),
               title="text")
    picture = opaque(draw_widget(panel.view, 300, LIGHT))
    dark = np.all(picture == panel.char_colors[0, :3], axis=2)
    rows, cols = np.nonzero(dark)
    # a 1-pixel border and 4 pixels of padding; 14-pixel backgrounds on 16-pixel lines (column 21: the first
    # line's newline, a coloured cell with no letter on it)
    assert cols.min() == 5 and rows.min() == 6
    assert dark[6:20, 21].all() and not dark[20:22, 21].any() and not dark[22:36, 21].any()


def test_a_select_hugs_its_widest_option_and_toggle_buttons_put_their_description_above():
    from nnlens_widgets.widgets.static_text import select_font

    dropdown = W.Dropdown(description="layer", options=["bn2"], layout=W.Layout(width="auto"))
    label = text_width("layer", font(13)) + 8
    # the page: the widest option in the control font, 8 + 20 pixels of padding and a 1-pixel border
    assert draw_widget(dropdown, 848, LIGHT).width == label + int(np.ceil(select_font(13).getlength("bn2") + 30))
    toggles = W.ToggleButtons(options=["one range", "each tile"], description="grid colours",
                              style={"button_width": "auto"})
    assert draw_widget(toggles, 848, LIGHT).height == 2 * 28  # a line for the words, a row of buttons


def test_words_written_against_each_other_stay_together():
    glued = html_picture("<div><b>AUC 0.03</b>: area under the curve</div>", 600, LIGHT)
    spaced = html_picture("<div><b>AUC 0.03</b> : area under the curve</div>", 600, LIGHT)
    assert spaced.width - glued.width == pytest.approx(font(13).getlength(" "), abs=1.5)


def test_an_inline_chart_keeps_its_lines_descent_under_it():
    chart = "<svg {}width='120' height='80'><rect x='0' y='0' width='120' height='80' fill='#1976d2'/></svg>"
    # in an HTML widget's 28-pixel lines: the lower half of the leading (7) and the font's descent (3)
    assert html_picture(chart.format(""), 400, LIGHT, line_height=28).height == 80 + 10
    assert html_picture(chart.format("style='display:block' "), 400, LIGHT, line_height=28).height == 80
