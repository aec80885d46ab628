// A canvas that shows RGBA frames sent from Python as binary messages, draws
// rectangle marks on an overlay, and reports clicks, (throttled) mouse moves
// and rectangle drags in picture-pixel coordinates.
//
// The frame trait is one binary message: a 16-byte header (width, height,
// frame id, encoding as little-endian uint32) and the pixels: width*height*4
// RGBA bytes, raw (encoding 0) or deflated (encoding 1, inflated here with the
// browser's own DecompressionStream), or a palette (a colour count, the
// colours as RGBA, then one colour number per pixel, deflated (encoding 2) or
// raw for small pictures (3), or two bytes per pixel for up to 1,024 colours,
// low bytes then high bytes, deflated (4); see frame_encoding.py), so size and pixels can
// never arrive out of step and nothing is re-encoded lossily. Pictures travel
// at their own resolution; `scale` enlarges them on screen with
// `image-rendering: pixelated`, so every canvas pixel still equals a pixel of
// `.frame`.

// The same numbers as frame_encoding.py (HEADER_BYTES, HEADER_FIELDS, the encodings); a test
// reads them here and checks they agree.
const HEADER = 16;
const RAW = 0;
const DEFLATE = 1;
const PALETTE = 2;
const PALETTE_RAW = 3;
const PALETTE_WIDE = 4;

function header(view) {
  if (!view || view.byteLength < HEADER) return null;
  const dv = new DataView(view.buffer, view.byteOffset, view.byteLength);
  return { w: dv.getUint32(0, true), h: dv.getUint32(4, true), id: dv.getUint32(8, true),
           encoding: dv.getUint32(12, true) };
}

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// RGBA pixels from a palette body: colour count (uint32), colours, colour numbers (deflated or not;
// wide: two bytes each, all low bytes then all high bytes).
async function unpalette(body, pixels, deflated, wide) {
  if (body.byteLength < 4) return null;
  const n = new DataView(body.buffer, body.byteOffset, 4).getUint32(0, true);
  if (n < 1 || n > (wide ? 65536 : 256) || body.byteLength < 4 + 4 * n) return null;
  const colours = new Uint32Array(body.slice(4, 4 + 4 * n).buffer); // RGBA bytes read as one word each
  const rest = body.subarray(4 + 4 * n);
  const index = deflated ? await inflate(rest) : rest;
  if (index.byteLength !== (wide ? 2 * pixels : pixels)) return null;
  const out = new Uint32Array(pixels);
  if (wide) {
    for (let i = 0; i < pixels; i++) out[i] = colours[index[i] | (index[pixels + i] << 8)];
  } else {
    for (let i = 0; i < pixels; i++) out[i] = colours[index[i]];
  }
  return new Uint8Array(out.buffer);
}

async function decodeFrame(view) {
  const h = header(view);
  if (!h || h.w === 0 || h.h === 0) return null;
  let body = new Uint8Array(view.buffer, view.byteOffset + HEADER, view.byteLength - HEADER);
  if (h.encoding === DEFLATE) body = await inflate(body);
  else if (h.encoding === PALETTE || h.encoding === PALETTE_RAW || h.encoding === PALETTE_WIDE) {
    body = await unpalette(body, h.w * h.h, h.encoding !== PALETTE_RAW, h.encoding === PALETTE_WIDE);
  }
  else if (h.encoding !== RAW) return null;
  if (!body) return null;
  if (body.byteLength !== h.w * h.h * 4) return null;
  return { ...h, pixels: new Uint8ClampedArray(body.buffer, body.byteOffset, body.byteLength) };
}

function render({ model, el }) {
  const wrap = document.createElement("div");
  wrap.className = "nnl-canvas-wrap";
  Object.assign(wrap.style, { position: "relative", display: "inline-block", lineHeight: "0",
                              maxWidth: "100%" });
  const base = document.createElement("canvas");
  base.className = "nnl-canvas";
  base.width = 1;
  base.height = 1;
  Object.assign(base.style, { imageRendering: "pixelated", maxWidth: "100%", height: "auto",
                              display: "block" });
  const over = document.createElement("canvas");
  over.className = "nnl-overlay";
  Object.assign(over.style, { position: "absolute", left: "0", top: "0", width: "100%",
                              height: "100%", pointerEvents: "none" });
  wrap.append(base, over);
  el.append(wrap);

  const ctx = base.getContext("2d", { willReadFrequently: true });
  const octx = over.getContext("2d");
  const label = () => model.get("label");

  function scale() { return model.get("scale") || 1; }

  function size() {
    base.style.width = `${base.width * scale()}px`;
    // the overlay is drawn at screen resolution so marks stay thin on enlarged pictures
    const ratio = window.devicePixelRatio || 1;
    over.width = Math.max(1, Math.round(base.width * scale() * ratio));
    over.height = Math.max(1, Math.round(base.height * scale() * ratio));
    drawMarks();
  }

  function drawMarks() {
    const k = over.width / base.width; // overlay pixels per picture pixel
    octx.clearRect(0, 0, over.width, over.height);
    for (const m of model.get("marks") || []) {
      const lw = (m.width || 2) * (window.devicePixelRatio || 1);
      octx.lineWidth = lw;
      octx.strokeStyle = m.color || "#ff3b30";
      // Stroke inside the rectangle so a mark never covers a neighbour's pixels.
      octx.strokeRect(m.x * k + lw / 2, m.y * k + lw / 2, m.w * k - lw, m.h * k - lw);
    }
  }

  let newest = 0; // frame ids arrive in order, but inflating is asynchronous
  async function drawFrame() {
    const view = model.get("_frame");
    const h = header(view);
    if (!h) return;
    newest = h.id;
    const f = await decodeFrame(view);
    if (!f || f.id !== newest) return; // a newer frame came in while this one inflated
    if (base.width !== f.w || base.height !== f.h) {
      base.width = f.w;
      base.height = f.h;
      size();
    }
    ctx.putImageData(new ImageData(f.pixels, f.w, f.h), 0, 0);
    drawMarks();
    base.setAttribute("aria-label", label() || "");
    // Tests and benchmarks wait on this attribute: it changes only after the pixels are on the canvas.
    base.dataset.frameId = String(f.id);
  }

  function toImage(e) {
    const r = base.getBoundingClientRect();
    return {
      x: ((e.clientX - r.left) * base.width) / r.width,
      y: ((e.clientY - r.top) * base.height) / r.height,
    };
  }

  // Mouse moves: keep only the newest position and send at most one per animation frame.
  let pendingMove = null;
  let moveScheduled = false;
  function flushMove() {
    moveScheduled = false;
    if (pendingMove) model.send({ event: "move", ...pendingMove });
    pendingMove = null;
  }
  function onMove(e) {
    if (!model.get("track_moves")) return;
    pendingMove = toImage(e);
    if (!moveScheduled) {
      moveScheduled = true;
      requestAnimationFrame(flushMove);
    }
  }
  // Drags (when `drag` is true): a rubber band drawn here at once, the rectangle
  // sent while moving (throttled like moves) and once more, final, on release.
  let dragStart = null;
  let dragEnd = null;
  let dragMoved = false;
  let dragScheduled = false;
  function drawBand() {
    drawMarks();
    if (!dragStart || !dragEnd) return;
    const k = over.width / base.width;
    octx.lineWidth = window.devicePixelRatio || 1;
    octx.setLineDash([4, 3]);
    octx.strokeStyle = "#ffffff";
    octx.strokeRect(Math.min(dragStart.x, dragEnd.x) * k, Math.min(dragStart.y, dragEnd.y) * k,
                    Math.abs(dragEnd.x - dragStart.x) * k, Math.abs(dragEnd.y - dragStart.y) * k);
    octx.setLineDash([]);
  }
  function sendDrag(done) {
    dragScheduled = false;
    if (!dragStart || !dragEnd) return;
    model.send({ event: "drag", x0: dragStart.x, y0: dragStart.y, x1: dragEnd.x, y1: dragEnd.y, done });
  }
  function onDown(e) {
    if (!model.get("drag") || e.button !== 0) return;
    dragStart = toImage(e);
    dragEnd = null;
    dragMoved = false;
  }
  function onDragMove(e) {
    if (!dragStart) return;
    dragEnd = toImage(e);
    const r = base.getBoundingClientRect();
    const px = (3 * base.width) / r.width; // 3 screen pixels before it counts as a drag
    if (Math.abs(dragEnd.x - dragStart.x) > px || Math.abs(dragEnd.y - dragStart.y) > px) dragMoved = true;
    if (!dragMoved) return;
    drawBand();
    if (!dragScheduled) {
      dragScheduled = true;
      requestAnimationFrame(() => sendDrag(false));
    }
  }
  function onUp(e) {
    if (!dragStart) return;
    dragEnd = toImage(e);
    if (dragMoved) sendDrag(true);
    dragStart = null;
    drawMarks();
  }
  function onClick(e) {
    if (dragMoved) { dragMoved = false; return; } // the end of a drag is not a click
    const p = toImage(e);
    model.send({ event: "click", x: p.x, y: p.y, shift: e.shiftKey, button: e.button });
  }
  function onLeave() {
    pendingMove = null;
    if (model.get("track_moves")) model.send({ event: "leave" });
  }
  const baseListeners = [["click", onClick], ["mousemove", onMove], ["mouseleave", onLeave], ["mousedown", onDown]];
  for (const [type, fn] of baseListeners) base.addEventListener(type, fn);
  // A drag may leave the canvas: its moves and release are heard on the window (removed on close).
  const windowListeners = [["mousemove", onDragMove], ["mouseup", onUp]];
  for (const [type, fn] of windowListeners) window.addEventListener(type, fn);

  const handlers = [["change:_frame", drawFrame], ["change:marks", drawMarks], ["change:scale", size]];
  for (const [name, fn] of handlers) model.on(name, fn);
  drawFrame();

  return () => {
    for (const [type, fn] of windowListeners) window.removeEventListener(type, fn);
    for (const [name, fn] of handlers) model.off(name, fn);
  };
}

export default { render };
