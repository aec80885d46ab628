// A canvas that shows RGBA frames sent from Python as raw bytes, draws
// rectangle marks on an overlay, and reports clicks, (throttled) mouse moves
// and rectangle drags in image-pixel coordinates.
//
// The frame trait is one binary message: a 12-byte header (width, height,
// frame id as little-endian uint32) followed by width*height*4 RGBA bytes, so
// size and pixels can never arrive out of step and nothing is re-encoded.

const HEADER = 12;

function decodeFrame(view) {
  if (!view || view.byteLength < HEADER) return null;
  const dv = new DataView(view.buffer, view.byteOffset, view.byteLength);
  const w = dv.getUint32(0, true);
  const h = dv.getUint32(4, true);
  const id = dv.getUint32(8, true);
  if (view.byteLength !== HEADER + w * h * 4 || w === 0 || h === 0) return null;
  const pixels = new Uint8ClampedArray(view.buffer, view.byteOffset + HEADER, w * h * 4);
  return { w, h, id, pixels };
}

function render({ model, el }) {
  const wrap = document.createElement("div");
  wrap.className = "nnl-canvas-wrap";
  wrap.style.position = "relative";
  wrap.style.display = "inline-block";
  wrap.style.lineHeight = "0";
  const base = document.createElement("canvas");
  base.className = "nnl-canvas";
  base.width = 1;
  base.height = 1;
  base.style.imageRendering = "pixelated";
  const over = document.createElement("canvas");
  over.className = "nnl-overlay";
  over.style.position = "absolute";
  over.style.left = "0";
  over.style.top = "0";
  over.style.pointerEvents = "none";
  wrap.append(base, over);
  el.append(wrap);

  const ctx = base.getContext("2d", { willReadFrequently: true });
  const octx = over.getContext("2d");

  function size() {
    const scale = model.get("scale") || 1;
    for (const c of [base, over]) {
      c.style.width = `${base.width * scale}px`;
      c.style.height = `${base.height * scale}px`;
    }
  }

  function drawMarks() {
    octx.clearRect(0, 0, over.width, over.height);
    for (const m of model.get("marks") || []) {
      const lw = m.width || 2;
      octx.lineWidth = lw;
      octx.strokeStyle = m.color || "#ff3b30";
      // Stroke inside the rectangle so a mark never covers a neighbour's pixels.
      octx.strokeRect(m.x + lw / 2, m.y + lw / 2, m.w - lw, m.h - lw);
    }
  }

  function drawFrame() {
    const f = decodeFrame(model.get("_frame"));
    if (!f) return;
    if (base.width !== f.w || base.height !== f.h) {
      base.width = over.width = f.w;
      base.height = over.height = f.h;
      size();
    }
    ctx.putImageData(new ImageData(f.pixels, f.w, f.h), 0, 0);
    drawMarks();
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
    octx.lineWidth = 1;
    octx.setLineDash([4, 3]);
    octx.strokeStyle = "#ffffff";
    octx.strokeRect(Math.min(dragStart.x, dragEnd.x), Math.min(dragStart.y, dragEnd.y),
                    Math.abs(dragEnd.x - dragStart.x), Math.abs(dragEnd.y - dragStart.y));
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
  base.addEventListener("click", onClick);
  base.addEventListener("mousemove", onMove);
  base.addEventListener("mouseleave", onLeave);
  base.addEventListener("mousedown", onDown);
  window.addEventListener("mousemove", onDragMove);
  window.addEventListener("mouseup", onUp);

  model.on("change:_frame", drawFrame);
  model.on("change:marks", drawMarks);
  model.on("change:scale", size);
  drawFrame();

  return () => {
    window.removeEventListener("mousemove", onDragMove);
    window.removeEventListener("mouseup", onUp);
    model.off("change:_frame", drawFrame);
    model.off("change:marks", drawMarks);
    model.off("change:scale", size);
  };
}

export default { render };
