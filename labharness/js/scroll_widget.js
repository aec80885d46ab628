// Scroll the notebook so that row `offset` (px from the widget's top) of widget `selector` comes
// `inset` px below the top of the notebook's visible area (as far as the scroller goes: the
// toolbar above casts a shadow on the first rows); return the widget's
// box and the visible area's box after scrolling (viewport coordinates), so Python can cut the
// visible band of the widget out of a page screenshot.
({ selector, offset, inset }) => {
  const widget = document.querySelector(selector);
  if (!widget) throw new Error('no element matches ' + selector);
  const scroller = notebookScroller(widget);
  const s = scroller.getBoundingClientRect();
  const visible = { x: s.left + scroller.clientLeft, y: s.top + scroller.clientTop,
                    width: scroller.clientWidth, height: scroller.clientHeight };
  scroller.scrollTop += widget.getBoundingClientRect().top + offset - visible.y - inset;
  const r = widget.getBoundingClientRect();
  return { widget: { x: r.left, y: r.top, width: r.width, height: r.height }, visible };
}
