// [r, g, b, a] of pixel (x, y), in backing-store coordinates, of the first 2-D canvas matching selector.
([selector, x, y]) => {
  const el = document.querySelector(selector);
  if (!el) throw new Error('no element matches ' + selector);
  if (!(el instanceof HTMLCanvasElement)) throw new Error(selector + ' is not a <canvas>');
  const ctx = el.getContext('2d');
  if (!ctx) throw new Error(selector + ' has no 2d context');
  return Array.from(ctx.getImageData(x, y, 1, 1).data);
}
