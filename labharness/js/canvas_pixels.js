// Every RGBA byte of a 2-D canvas joined into one string (for before/after comparisons).
(selector) => {
  const c = document.querySelector(selector);
  if (!c) throw new Error('no element matches ' + selector);
  return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).join();
}
