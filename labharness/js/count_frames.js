// Watch a FrameCanvas for `ms` milliseconds and count the frames drawn on it: every new
// data-frame-id, and every distinct picture (a hash of all its pixels, read back from the
// canvas right after it was drawn). Resolves to {frames, distinct, seconds}.
({ selector, ms }) => new Promise((resolve, reject) => {
  const canvas = document.querySelector(selector);
  if (!canvas) { reject(new Error('no element matches ' + selector)); return; }
  const ctx = canvas.getContext('2d');
  const seen = new Set();
  let frames = 0;
  function hash() {
    const words = new Uint32Array(ctx.getImageData(0, 0, canvas.width, canvas.height).data.buffer);
    let h = 0x811c9dc5;
    for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193) >>> 0;
    return `${canvas.width}x${canvas.height}:${h}`;
  }
  const observer = new MutationObserver(() => { frames += 1; seen.add(hash()); });
  observer.observe(canvas, { attributes: true, attributeFilter: ['data-frame-id'] });
  const start = performance.now();
  setTimeout(() => {
    observer.disconnect();
    resolve({ frames, distinct: seen.size, seconds: (performance.now() - start) / 1000 });
  }, ms);
})
