// A short name for an element in failure messages: its tag and telling classes, its text,
// and the view it sits in (a picture's title, the nearest nnl- class, else the ipywidgets
// control around it), so a widget's owner can find it without a debugger. `withText` false
// leaves the text out (to group alike elements).
(el, withText = true) => {
  const classes = (e) => Array.from(e.classList || []).filter((c) => !/^(lm-|p-|jp-mod-)/.test(c));
  const name = el.tagName.toLowerCase() + classes(el).slice(0, 3).map((c) => '.' + c).join('');
  // innerText keeps the spaces between a box's children; SVG elements only have textContent
  let text = withText ? (el.innerText ?? el.textContent ?? '').replace(/\s+/g, ' ').trim() : '';
  if (text.length > 40) text = text.slice(0, 39) + '\u2026';
  let where = '', control = '';
  for (let a = el.parentElement; a && !a.classList.contains('nnl-widget'); a = a.parentElement) {
    // an ipywidgets control around it (accordion, toggle buttons) names it when no view does
    control ||= classes(a).find((c) => c.startsWith('widget-') && !/^widget-(box|container|inline-[hv]box|[hv]box)$/.test(c)) || '';
    if (a.classList.contains('nnl-picture')) {
      const title = a.querySelector('.nnl-title');
      where = ` in picture "${title ? title.textContent.trim() : '(untitled)'}"`;
      break;
    }
    const own = classes(a).filter((c) => c.startsWith('nnl-') && c !== 'nnl-canvas-wrap').slice(0, 2);
    if (own.length) { where = ` in .${own.join('.')}`; break; }
  }
  return name + (text ? ` "${text}"` : '') + (where || (control && ` in .${control}`));
}
