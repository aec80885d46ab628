// Check (a), nothing hidden sideways: the widget is no wider than its cell's output area, the
// output area does not scroll, no box inside the widget clips or scrolls content sideways,
// and nothing sticks out past the output area's right edge. Elements holding text directly
// are left to the label check. Content inside a box already reported as scrolling is not
// reported again, and of a nest of elements sticking out only the outermost is.
(widget, area) => {
  const findings = [];
  const scrolling = [], sticking = [];
  const px = (v) => `${Math.round(v)}px`;
  const wr = widget.getBoundingClientRect();
  if (area) {
    if (wr.width > area.clientWidth + 1) {
      sticking.push(widget);
      findings.push({ element: describeElement(widget, false),
        message: `widget is ${px(wr.width)} wide, its output area ${px(area.clientWidth)}` });
    }
    if (area.scrollWidth > area.clientWidth + 1) {
      findings.push({ element: 'the cell output area',
        message: `scrolls sideways: content ${px(area.scrollWidth)} wide in ${px(area.clientWidth)}` });
    }
  }
  const areaRight = area ? area.getBoundingClientRect().left + area.clientLeft + area.clientWidth : wr.right;
  let checked = 0;
  for (const el of [widget, ...widget.querySelectorAll('*')]) {
    // Inside an <svg> scroll metrics are 0; chart text is checked by the label check.
    if (el instanceof SVGElement && !(el instanceof SVGSVGElement)) continue;
    if (!el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
    checked++;
    if (ownText(el) || scrolling.some((r) => r.contains(el))) continue;
    const overflow = getComputedStyle(el).overflowX;
    if (overflow !== 'visible' && el.scrollWidth > el.clientWidth + 1) {
      findings.push({ element: describeElement(el),
        message: `hides ${px(el.scrollWidth - el.clientWidth)} sideways: scrollWidth ${px(el.scrollWidth)} > clientWidth ${px(el.clientWidth)} (overflow-x: ${overflow})` });
      scrolling.push(el);
    }
    const right = el.getBoundingClientRect().right;
    if (right > areaRight + 1 && !sticking.some((r) => r.contains(el))) {
      findings.push({ element: describeElement(el),
        message: `sticks out ${px(right - areaRight)} past the output area's right edge (ends at x=${px(right)}, the area at x=${px(areaRight)})` });
      sticking.push(el);
    }
  }
  return { checked, findings };
}
