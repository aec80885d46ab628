"""One escaping rule for view text: titles and chart labels are plain text the view escapes;
captions and HTML bodies are markup whose user text goes through ``text`` exactly once."""
import numpy as np

from nnlens_widgets.render.bars import bar_chart_svg
from nnlens_widgets.widgets.checks import Escaped, text
from nnlens_widgets.widgets.views import HtmlView, PictureView, title_html

NAME = "cats & <dogs>"


def test_text_escapes_once():
    once = text(NAME)
    assert once == "cats &amp; &lt;dogs&gt;" and isinstance(once, Escaped)
    assert text(once) == once  # escaping twice would show "&amp;lt;" on screen


def test_titles_escape_plain_text_and_take_escaped_text_as_it_is():
    assert "cats &amp; &lt;dogs&gt;</div>" in title_html(NAME)
    assert title_html(text(NAME)) == title_html(NAME)
    view = PictureView(text(NAME))
    assert view.title == NAME  # the words, for the canvas label and the PNG title
    view.show(np.zeros((2, 2, 4), np.uint8), title=NAME)
    assert view.canvas.label == NAME and "&amp;lt;" not in view._title.value


def test_captions_and_bodies_are_markup_with_escaped_user_text():
    view = PictureView("map")
    view.set_caption(f"<b>class</b> {text(NAME)}")
    assert "<b>class</b> cats &amp; &lt;dogs&gt;" in view.caption.value
    html_view = HtmlView(NAME)
    html_view.show(f"<i>{text(NAME)}</i>")
    assert "<i>cats &amp; &lt;dogs&gt;</i>" in html_view.static_html()
    assert "cats &amp; &lt;dogs&gt;</div>" in html_view.static_html()  # its title, escaped once


def test_chart_labels_are_plain_text():
    svg = bar_chart_svg([1.0], [NAME], value_label=NAME)
    assert "cats &amp; &lt;dogs&gt;" in svg and "&amp;amp;" not in svg and "<dogs>" not in svg
