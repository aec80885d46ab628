// What the Voila app shows of each Lens: for every panel, whether it is displayed and drawn
// (a picture's FrameCanvas has a data-frame-id once its pixels are on it; a text panel has
// text), plus whether every displayed picture on the page is drawn and the page's scroller.
() => {
  const displayed = (el) => el.offsetParent !== null;
  const lenses = [...document.querySelectorAll('.nnl-lens')].map((root) => {
    const panels = {};
    for (const el of root.querySelectorAll('[class*="nnl-lens-"]')) {
      const name = [...el.classList].find((c) => c.startsWith('nnl-lens-')).slice('nnl-lens-'.length);
      const canvas = el.querySelector('canvas.nnl-canvas');
      panels[name] = {
        displayed: displayed(el),
        drawn: canvas ? canvas.dataset.frameId !== undefined : el.innerText.trim().length > 0,
      };
    }
    return panels;
  });
  const pictures = [...document.querySelectorAll('canvas.nnl-canvas')].filter(displayed);
  const scroller = document.querySelector('#rendered_cells');
  return {
    lenses,
    pictures: pictures.length,
    undrawn: pictures.filter((c) => c.dataset.frameId === undefined).length,
    height: scroller ? scroller.scrollHeight : document.documentElement.scrollHeight,
    overflowX: Math.max(document.documentElement.scrollWidth, scroller ? scroller.scrollWidth : 0)
      - window.innerWidth,
  };
}
