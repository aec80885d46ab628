// Check (d), every colour-mapped picture explains its colours: each canvas sits in a picture view
// (.nnl-picture) that shows a colour bar (.nnl-legend with text), unless the canvas or its view
// is marked .nnl-plain-rgb (it shows the input's own pixels: a photo, an RGB filter).
(widget) => {
  const findings = [];
  let checked = 0, plain = 0;
  for (const canvas of widget.querySelectorAll('canvas:not(.nnl-overlay)')) {
    if (!canvas.getClientRects().length || getComputedStyle(canvas).visibility === 'hidden') continue;
    checked++;
    const marked = canvas.closest('.nnl-plain-rgb');
    if (marked && widget.contains(marked)) { plain++; continue; }
    const view = canvas.closest('.nnl-picture');
    if (!view || !widget.contains(view)) {
      findings.push({ element: describeElement(canvas, false),
        message: 'canvas is not in a picture view (.nnl-picture) and not marked .nnl-plain-rgb: no colour bar explains its colours' });
      continue;
    }
    const legend = Array.from(view.querySelectorAll('.nnl-legend'))
      .find((l) => l.getClientRects().length && l.textContent.trim());
    if (!legend) {
      const title = view.querySelector('.nnl-title');
      findings.push({ element: describeElement(canvas, false),
        message: `picture "${title ? title.textContent.trim() : canvas.getAttribute('aria-label') || '(untitled)'}" is not marked .nnl-plain-rgb but shows no colour bar (.nnl-legend)` });
    }
  }
  return { checked, plain, findings };
}
