// The element that scrolls the notebook around `el` (JupyterLab scrolls inside the panel, not
// the page): the nearest ancestor that scrolls vertically, else the document.
(el) => {
  for (let a = el.parentElement; a; a = a.parentElement) {
    const oy = getComputedStyle(a).overflowY;
    if ((oy === 'auto' || oy === 'scroll') && a.scrollHeight > a.clientHeight) return a;
  }
  return document.scrollingElement;
}
