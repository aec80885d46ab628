// Check (b), no cut text: every text-holding element shows all its text (not clipped by its own
// box, e.g. a description or button ending in an ellipsis, nor by a clipping ancestor); a
// dropdown's and a text box's value fit their box; chart text stays inside its <svg>.
(widget) => {
  const findings = [];
  const px = (v) => `${Math.round(v)}px`;
  const clips = (value) => value === 'hidden' || value === 'clip';
  const kind = (el) => (el.closest('button') ? 'button text'
    : el.closest('.widget-readout') ? 'readout'
    : el.closest('label, .widget-label, .widget-label-basic') ? 'label' : 'text');
  const shown = (el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden';
  const textWidth = (el, text) => {
    const cs = getComputedStyle(el);
    const ctx = (window.__labharnessMeasure ||= document.createElement('canvas').getContext('2d'));
    ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    return ctx.measureText(text).width;
  };
  let checked = 0;
  for (const el of widget.querySelectorAll('*')) {
    if (el instanceof SVGElement || el.closest('select')) continue;
    const text = ownText(el);
    if (!text || !shown(el)) continue;
    checked++;
    const cs = getComputedStyle(el);
    const what = `${kind(el)} "${text.length > 60 ? text.slice(0, 59) + '\u2026' : text}"`;
    if (cs.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) {
      const ellipsis = cs.textOverflow === 'ellipsis' ? ', ends in an ellipsis' : '';
      findings.push({ element: describeElement(el, false),
        message: `${what} cut: needs ${px(el.scrollWidth)}, has ${px(el.clientWidth)}${ellipsis}` });
      continue;
    }
    if (clips(cs.overflowY) && el.scrollHeight > el.clientHeight + 2) {
      findings.push({ element: describeElement(el, false),
        message: `${what} cut at the bottom: needs ${px(el.scrollHeight)} of height, has ${px(el.clientHeight)}` });
      continue;
    }
    const range = document.createRange();
    range.selectNodeContents(el);
    const t = range.getBoundingClientRect();
    for (let a = el.parentElement; a && widget.contains(a); a = a.parentElement) {
      const acs = getComputedStyle(a);
      if (!clips(acs.overflowX) && !clips(acs.overflowY)) continue;
      const r = a.getBoundingClientRect();
      const left = r.left + a.clientLeft, top = r.top + a.clientTop;
      const right = left + a.clientWidth, bottom = top + a.clientHeight;
      const sideways = clips(acs.overflowX) && (t.right > right + 1 || t.left < left - 1);
      const downward = clips(acs.overflowY) && (t.bottom > bottom + 2 || t.top < top - 2);
      if (sideways || downward) {
        findings.push({ element: describeElement(el, false),
          message: `${what} cut by ${describeElement(a, false)} (overflow hidden): text spans x ${px(t.left)}..${px(t.right)}, y ${px(t.top)}..${px(t.bottom)}; the box shows x ${px(left)}..${px(right)}, y ${px(top)}..${px(bottom)}` });
        break;
      }
    }
  }
  for (const el of widget.querySelectorAll('select, input')) {
    if (!shown(el) || el.multiple || el.size > 1) continue;
    const isSelect = el.tagName === 'SELECT';
    if (!isSelect && !['text', 'number', 'search', ''].includes(el.type)) continue;
    const value = isSelect ? (el.options[el.selectedIndex] || {}).text || '' : el.value;
    if (!value) continue;
    checked++;
    const cs = getComputedStyle(el);
    const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const need = textWidth(el, value);
    if (need > room + 1) {
      findings.push({ element: describeElement(el, false),
        message: `${isSelect ? 'dropdown' : 'text box'} shows "${value}" cut: needs ${px(need)}, has ${px(room)}` });
    }
  }
  for (const el of widget.querySelectorAll('svg text')) {
    const svg = el.closest('svg');
    if (!shown(el) || !svg) continue;
    checked++;
    const t = el.getBoundingClientRect(), s = svg.getBoundingClientRect();
    const out = Math.max(s.left - t.left, t.right - s.right, s.top - t.top, t.bottom - s.bottom);
    if (out > 1) {
      findings.push({ element: describeElement(el, false),
        message: `chart text "${el.textContent.trim()}" runs ${px(out)} past the edge of its <svg> (${px(s.width)} x ${px(s.height)})` });
    }
  }
  return { checked, findings };
}
