// Check (c), readable text: every visible text node in the widget has a WCAG 2 contrast of at
// least `minRatio` against what is painted under it. The background is found at sample points
// on the text (document.elementsFromPoint: the text's own box, its ancestors, and anything
// painted beneath such as a bar behind a label), composited bottom-up over white; the text
// colour is blended over it with its alpha and its ancestors' opacity. Text over a picture or a
// gradient cannot be measured and is reported as such. Disabled controls are exempt (WCAG 1.4.3).
// Only the notebook's own scroller is moved to bring text into view, so text hidden inside an
// inner scroll box is measured only where it is visible.
(widget, minRatio) => {
  const groups = new Map();
  const findings = [];
  let checked = 0, exempt = 0;
  const scroller = notebookScroller(widget);
  const inView = ([x, y]) => x >= 0 && y >= 0 && x < innerWidth && y < innerHeight;
  const samplePoints = (range) => Array.from(range.getClientRects())
    .filter((r) => r.width > 0 && r.height > 0).slice(0, 4)
    .flatMap((r) => [0.2, 0.5, 0.8].map((f) => [r.left + f * r.width, r.top + r.height / 2]));
  const bringIntoView = (range) => {
    const r = range.getBoundingClientRect(), s = scroller.getBoundingClientRect();
    scroller.scrollTop += r.top - s.top - scroller.clientHeight / 3;
  };
  const opacity = (el) => {
    let o = 1;
    for (let a = el; a; a = a.parentElement) o *= parseFloat(getComputedStyle(a).opacity);
    return o;
  };
  // What one element paints under the text: {colour}, or {unknown: why}.
  const layer = (e) => {
    const cs = getComputedStyle(e);
    if (['CANVAS', 'IMG', 'VIDEO'].includes(e.tagName)) return { unknown: `text over a <${e.tagName.toLowerCase()}>` };
    if (e instanceof SVGElement && !(e instanceof SVGSVGElement)) {
      const shape = ['rect', 'circle', 'ellipse', 'path', 'polygon'].includes(e.tagName.toLowerCase());
      const fill = shape && cs.fill !== 'none' ? colour.parse(cs.fill) : [0, 0, 0, 0];
      if (!fill) return { unknown: `unreadable fill ${cs.fill}` };
      return { colour: [fill[0], fill[1], fill[2], fill[3] * parseFloat(cs.fillOpacity) * parseFloat(cs.opacity)] };
    }
    if (/gradient\(/.test(cs.backgroundImage)) return { unknown: 'text over a colour gradient' };
    const bg = colour.parse(cs.backgroundColor);
    if (!bg) return { unknown: `unreadable background ${cs.backgroundColor}` };
    return { colour: [bg[0], bg[1], bg[2], bg[3] * parseFloat(cs.opacity)] };
  };
  // The opaque colour under `el`'s text at (x, y); {covered} when something else is on top.
  const backgroundAt = (el, x, y) => {
    const stack = document.elementsFromPoint(x, y);
    // The text's own element must be hit here: where only an ancestor is (the text is clipped,
    // e.g. scrolled out of an inner scroll box), what shows is not this text.
    const own = stack.indexOf(el);
    if (own < 0) return { covered: true };
    for (const e of stack.slice(0, own)) {
      const l = layer(e);
      if (!el.contains(e) && (l.unknown || l.colour[3] > 0.99)) return { covered: true };
    }
    let bg = [255, 255, 255, 1];
    for (const e of stack.slice(own).reverse()) {
      const l = layer(e);
      if (l.unknown) return l;
      bg = colour.blend(l.colour, bg);
    }
    return { colour: bg };
  };
  const walker = document.createTreeWalker(widget, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\s+/g, ' ').trim();
    const el = node.parentElement;
    if (!text || !el || el.closest('select, option, script, style, textarea')) continue;
    if (el.closest(':disabled, .mod-disabled, [aria-disabled="true"]')) { exempt++; continue; }
    const range = document.createRange();
    range.selectNodeContents(node);
    let points = samplePoints(range);
    if (!points.length) continue;
    if (!points.every(inView)) { bringIntoView(range); points = samplePoints(range); }
    const cs = getComputedStyle(el);
    const isSvg = el instanceof SVGElement;
    const fg = colour.parse(isSvg ? cs.fill : cs.color);
    if (!fg) {
      findings.push({ element: describeElement(el), message: `text colour ${isSvg ? cs.fill : cs.color} cannot be read` });
      continue;
    }
    fg[3] *= opacity(el) * (isSvg ? parseFloat(cs.fillOpacity) : 1);
    let worst = null, unknown = null;
    for (const [x, y] of points.filter(inView)) {
      const bg = backgroundAt(el, x, y);
      if (bg.covered) continue;
      if (bg.unknown) { unknown = bg.unknown; break; }
      const shown = colour.blend(fg, bg.colour);
      const ratio = colour.ratio(shown, bg.colour);
      if (!worst || ratio < worst.ratio) worst = { ratio, fg: shown, bg: bg.colour };
    }
    if (!worst && !unknown) continue; // covered or outside every visible box: nobody sees it
    checked++;
    if (!unknown && worst.ratio >= minRatio) continue;
    // one finding per kind of element and text colour (e.g. every character of a text view
    // coloured by value), with its worst case
    const key = `${describeElement(el, false)}|${isSvg ? cs.fill : cs.color}|${unknown || ''}`;
    const g = groups.get(key) || { el, text, count: 0, worst, unknown, pairs: new Set() };
    g.count++;
    if (worst) g.pairs.add(`${colour.css(worst.fg)}|${colour.css(worst.bg)}`);
    if (worst && worst.ratio < g.worst.ratio) Object.assign(g, { worst, text });
    groups.set(key, g);
  }
  for (const g of groups.values()) {
    const sample = g.text.length > 40 ? g.text.slice(0, 39) + '\u2026' : g.text;
    const pairs = `${g.pairs.size} colour pair${g.pairs.size === 1 ? '' : 's'}`;
    const more = g.count > 1 ? ` (worst of ${g.count} such text nodes, ${pairs})` : '';
    findings.push({ element: describeElement(g.el, false), message: g.unknown
      ? `"${sample}"${g.count > 1 ? ` and ${g.count - 1} more` : ''}: contrast cannot be measured, ${g.unknown}`
      : `"${sample}": contrast ${g.worst.ratio.toFixed(2)}:1 < ${minRatio}:1, ${colour.css(g.worst.fg)} on ${colour.css(g.worst.bg)}${more}` });
  }
  return { checked, exempt, findings };
}
