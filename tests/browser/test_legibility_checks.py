"""The legibility checks themselves, on hand-made pages whose problems are known.

Each check must find what is wrong (with the measured value in its message)
and stay silent on the same page put right, so a clean notebook run means
something.  These need only Chromium, no JupyterLab.
"""
from __future__ import annotations

import pytest

import labharness as lh
from labharness import legibility
from labharness.scripts import JS_DIR, script

AREA = "<div class='jp-OutputArea-output' style='width:300px;overflow:auto'>{}</div>"


def checks_of(page, body: str) -> dict:
    page.set_content(f"<body style='margin:0;font:13px sans-serif'>{AREA.format(body)}</body>")
    return legibility.check_element(page, ".nnl-widget")


def messages(result: dict, check: str) -> list[str]:
    return [f"{f['element']}: {f['message']}" for f in result[check]["findings"]]


def test_every_script_is_a_function(page):
    names = sorted(p.stem for p in JS_DIR.glob("*.js"))
    assert len(names) >= 20
    for name in names:
        assert page.evaluate(f"typeof ({script(name)})") in ("function", "object"), name


def test_helpers_are_bound_for_the_script(page):
    page.set_content("<div id='w'><b>x</b></div>")
    call = "(check) => check(document.getElementById('w'), null)"
    with pytest.raises(Exception, match="is not defined"):
        page.evaluate(f"({call})({script('checkFit')})")
    bound = script("checkFit", uses=legibility.CHECK_HELPERS)
    assert page.evaluate(f"({call})({bound})") == {"checked": 2, "findings": []}
    black_on_white = page.evaluate(f"({script('colour')}).ratio([0, 0, 0, 1], [255, 255, 255, 1])")
    assert black_on_white == pytest.approx(21.0)


def test_fit_finds_boxes_that_scroll_sideways_and_wide_widgets(page):
    bad = checks_of(page, """<div class='nnl-widget' style='width:500px'>
        <div class='nnl-row' style='width:200px;overflow-x:auto'><div style='width:400px;height:5px'></div></div>
      </div>""")
    found = messages(bad, "fit")
    assert any("widget is 500px wide, its output area 300px" in m for m in found), found
    assert any("div.nnl-row" in m and "hides 200px sideways" in m for m in found), found
    assert any("scrolls sideways" in m for m in found), found
    good = checks_of(page, """<div class='nnl-widget' style='max-width:100%'>
        <div style='display:flex;flex-wrap:wrap'><div style='width:200px;height:5px'></div>
        <div style='width:200px;height:5px'></div></div></div>""")
    assert good["fit"]["findings"] == [] and good["fit"]["checked"] >= 3


def test_labels_finds_cut_buttons_dropdowns_and_chart_text(page):
    bad = checks_of(page, """<div class='nnl-widget'>
        <button style='width:50px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap'>per input channel</button>
        <select style='width:60px'><option>layer4.1.conv2 (Conv2d) 512x7x7</option></select>
        <svg width='100' height='40'><text x='60' y='20'>a long axis label</text></svg>
        <div style='overflow:hidden;width:30px'><span style='white-space:nowrap'>opacity</span></div>
      </div>""")
    found = messages(bad, "labels")
    assert any('button text "per input channel" cut' in m and "ends in an ellipsis" in m for m in found), found
    assert any('dropdown shows "layer4.1.conv2 (Conv2d) 512x7x7" cut' in m for m in found), found
    assert any('chart text "a long axis label" runs' in m for m in found), found
    assert any('text "opacity" cut by div' in m for m in found), found
    good = checks_of(page, """<div class='nnl-widget'>
        <button>per input channel</button><select><option>conv2</option></select>
        <svg width='200' height='40'><text x='5' y='20'>axis</text></svg></div>""")
    assert good["labels"]["findings"] == [] and good["labels"]["checked"] == 3


def test_contrast_measures_text_against_what_is_under_it(page):
    bad = checks_of(page, """<div class='nnl-widget' style='background:#fff'>
        <span style='color:#777'>grey 777</span>
        <div style='position:relative;height:20px'><div style='position:absolute;inset:0;background:#000'></div>
          <span style='position:relative;color:#333'>dark on a black bar</span></div>
        <span style='color:rgba(0,0,0,0.5)'>half black</span>
        <button disabled style='color:#ccc;background:#fff'>disabled</button>
      </div>""")
    found = messages(bad, "contrast")
    assert any('"grey 777"' in m and "4.48:1" in m and "rgb(119, 119, 119) on rgb(255, 255, 255)" in m
               for m in found), found
    assert any('"dark on a black bar"' in m and "on rgb(0, 0, 0)" in m for m in found), found
    assert any('"half black"' in m and "3.9" in m for m in found), found
    assert not any("disabled" in m for m in found), found
    assert bad["contrast"]["exempt"] == 1
    good = checks_of(page, """<div class='nnl-widget' style='background:#fff'>
        <span style='color:#767676'>grey 767676</span>
        <div style='background:#000;color:#fff'>white on black</div></div>""")
    assert good["contrast"]["findings"] == [] and good["contrast"]["checked"] == 2


def test_contrast_findings_group_alike_text_with_its_worst_case(page):
    cells = "".join(f"<span style='background:rgb({v},{v},{v});color:#000'>x{v}</span>" for v in (100, 20, 60))
    found = messages(checks_of(page, f"<div class='nnl-widget'><div class='nnl-text'>{cells}</div></div>"),
                     "contrast")
    assert found == ['span in .nnl-text: "x20": contrast 1.14:1 < 4.5:1, rgb(0, 0, 0) on rgb(20, 20, 20) '
                     '(worst of 3 such text nodes, 3 colour pairs)'], found


def test_contrast_in_svg_uses_fill(page):
    found = messages(checks_of(page, """<div class='nnl-widget'><svg width='200' height='40'>
        <rect width='200' height='40' fill='#1f1f1f'></rect><text x='5' y='20' fill='#333'>tick 0.5</text>
      </svg></div>"""), "contrast")
    assert any('"tick 0.5"' in m and "rgb(51, 51, 51) on rgb(31, 31, 31)" in m for m in found), found


def test_legends_need_a_colour_bar_unless_marked_plain_rgb(page):
    canvas = "<canvas width='8' height='8' style='width:32px'></canvas>"
    bad = checks_of(page, f"""<div class='nnl-widget'>
        <div class='nnl-picture'><div class='nnl-title'>drop in P(star)</div>{canvas}</div>
        <div class='nnl-grid-canvas'>{canvas}</div>
        <div class='nnl-picture {legibility.PLAIN_RGB_CLASS}'><div class='nnl-title'>input</div>{canvas}</div>
      </div>""")
    found = messages(bad, "legends")
    assert len(found) == 2, found
    assert 'picture "drop in P(star)" is not marked .nnl-plain-rgb but shows no colour bar' in found[0]
    assert "in .nnl-grid-canvas: canvas is not in a picture view" in found[1]
    assert bad["legends"]["plain"] == 1 and bad["legends"]["checked"] == 3
    good = checks_of(page, f"""<div class='nnl-widget'><div class='nnl-picture'>{canvas}
        <div class='nnl-legend'><span>-1.17</span><span>0.5</span></div></div></div>""")
    assert good["legends"]["findings"] == [] and good["legends"]["checked"] == 1


def test_screenshot_of_a_widget_taller_than_the_window(page, tmp_path):
    from PIL import Image

    page.set_viewport_size({"width": 400, "height": 300})
    page.set_content("""<body style='margin:0'><div style='height:300px;overflow:auto' id='scroller'>
        <div style='height:50px'></div><div class='nnl-widget' style='width:200px'>"""
                     + "".join(f"<div style='height:100px;background:rgb({i * 40},0,0)'></div>" for i in range(6))
                     + "</div><div style='height:400px'></div></div></body>")
    path = lh.screenshot_widget(page, ".nnl-widget", tmp_path / "tall.png")
    image = Image.open(path).convert("RGB")
    assert image.size == (200, 600)
    assert [image.getpixel((100, 100 * i + 50))[0] for i in range(6)] == [i * 40 for i in range(6)]
