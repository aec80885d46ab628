// Text whose characters are coloured by one recurrent cell's value, rendered here in the browser.
//
// Sent once: the text, the colour table (`_lut`, 256 RGBA bytes), the ink
// table (`_ink`, 256 RGB bytes: black or white for each colour, whichever has
// the higher WCAG contrast against it, so every character stays readable in
// light and dark themes), the model's top-5 next-character guesses
// (`_top_index` uint16 and `_top_prob` float32, five per character) and the
// vocabulary. Sent on every cell change: only `_values`, a uint32 version
// followed by one float32 per character.
//
// Long texts stay fast: lines are grouped in blocks and a block's character
// spans are created only when it scrolls near the view; a recolour repaints
// only the blocks near the view and marks the others stale, to be repainted
// when they scroll into view. So the cost of choosing a cell does not grow
// with the length of the text. After each recolour the view's `data-version`
// attribute takes the version of the values shown (tests and benchmarks wait on it).

const LINES_PER_BLOCK = 40;
const TOP = 5;

function bytes(view) {
  if (!view || !view.byteLength) return null;
  return { buffer: view.buffer, offset: view.byteOffset, length: view.byteLength };
}

function decodeValues(view) {
  const b = bytes(view);
  if (!b || b.length < 4) return null;
  const dv = new DataView(b.buffer, b.offset, b.length);
  const version = dv.getUint32(0, true);
  const n = (b.length - 4) / 4;
  // Copy: the float array must be 4-byte aligned, the message buffer may not be.
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = dv.getFloat32(4 + 4 * i, true);
  return { version, values };
}

function palette(view, stride) {
  const b = bytes(view);
  const out = [];
  if (!b || b.length !== 256 * stride) return out;
  const u = new Uint8Array(b.buffer, b.offset, b.length);
  for (let i = 0; i < 256; i++) out.push(`rgb(${u[stride * i]}, ${u[stride * i + 1]}, ${u[stride * i + 2]})`);
  return out;
}

function shown(ch) {
  if (ch === "\n") return "\u21b5";
  if (ch === " ") return "\u2423";
  return ch;
}

function render({ model, el }) {
  const wrap = document.createElement("div");
  wrap.style.position = "relative";
  const view = document.createElement("div");
  view.className = "nnl-text-view";
  // Page colours follow the JupyterLab theme; long lines wrap instead of scrolling sideways (spaces at
  // a line's end wrap too, rather than hang past the edge).
  Object.assign(view.style, {
    fontFamily: "var(--jp-code-font-family, monospace)", fontSize: "12px", lineHeight: "16px",
    whiteSpace: "break-spaces", overflowWrap: "anywhere", overflowX: "hidden", overflowY: "auto",
    border: "1px solid var(--jp-border-color1, #9e9e9e)", padding: "4px", boxSizing: "border-box",
    maxWidth: "100%", background: "var(--jp-layout-color1, #ffffff)", color: "var(--jp-content-font-color1, #1f1f1f)",
  });
  const tip = document.createElement("div");
  tip.className = "nnl-text-tip";
  Object.assign(tip.style, {
    position: "absolute", display: "none", pointerEvents: "none", background: "#222", color: "#eee",
    fontFamily: "monospace", fontSize: "12px", padding: "4px 6px", borderRadius: "3px",
    whiteSpace: "pre", zIndex: "10",
  });
  wrap.append(view, tip);
  el.append(wrap);

  let text = "";
  let lineStarts = [];
  let blocks = [];
  let values = null;
  let version = 0;
  let paintKey = 0; // bumped by every recolour (new values or new vmax): blocks painted earlier are stale
  let colours = [];
  let inks = [];
  let topIndex = null;
  let topProb = null;

  function indexOf(v) {
    const vmax = model.get("vmax") || 1;
    const t = Math.min(Math.max((v / vmax + 1) / 2, 0), 1);
    return Number.isNaN(t) ? 128 : Math.round(t * 255);
  }

  function paintBlock(block) {
    if (!block.spans || !values || block.painted === paintKey) return;
    block.painted = paintKey;
    const spans = block.spans;
    for (let k = 0; k < spans.length; k++) {
      const i = indexOf(values[block.first + k]);
      spans[k].style.backgroundColor = colours[i];
      spans[k].style.color = inks[i];
    }
  }

  function fillBlock(block) {
    if (block.spans) return;
    const spans = [];
    const frag = document.createDocumentFragment();
    for (let line = block.lineFrom; line < block.lineTo; line++) {
      const row = document.createElement("div");
      const end = lineStarts[line + 1];
      for (let i = lineStarts[line]; i < end; i++) {
        const s = document.createElement("span");
        const ch = text[i];
        s.textContent = ch === "\n" ? " " : ch;
        s.dataset.i = String(i);
        spans.push(s);
        row.append(s);
      }
      frag.append(row);
    }
    block.el.style.height = "";
    block.el.append(frag);
    block.spans = spans;
    paintBlock(block);
  }

  const observer = new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        const block = blocks[Number(e.target.dataset.block)];
        block.near = e.isIntersecting;
        if (block.near) {
          fillBlock(block);
          paintBlock(block); // a no-op unless the block went stale while out of view
        }
      }
    },
    { root: view, rootMargin: "400px 0px" },
  );

  function layoutText() {
    observer.disconnect();
    view.replaceChildren();
    text = model.get("text") || "";
    lineStarts = [0];
    for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
    if (lineStarts[lineStarts.length - 1] !== text.length) lineStarts.push(text.length);
    const lines = lineStarts.length - 1;
    blocks = [];
    for (let from = 0; from < lines; from += LINES_PER_BLOCK) {
      const to = Math.min(from + LINES_PER_BLOCK, lines);
      const div = document.createElement("div");
      div.className = "nnl-text-block";
      div.dataset.block = String(blocks.length);
      div.style.height = `${16 * (to - from)}px`; // placeholder until filled
      blocks.push({ el: div, lineFrom: from, lineTo: to, first: lineStarts[from], spans: null, near: from === 0, painted: -1 });
      view.append(div);
      observer.observe(div);
    }
    view.style.height = `${model.get("height_px") || 360}px`;
    fillBlock(blocks[0] || { spans: [] }); // the first lines at once, before any scroll event
  }

  function recolour() {
    const decoded = decodeValues(model.get("_values"));
    if (!decoded || decoded.values.length !== text.length) return;
    values = decoded.values;
    version = decoded.version;
    paintKey += 1;
    for (const block of blocks) if (block.near) paintBlock(block);
    view.dataset.version = String(version);
  }

  function loadTables() {
    colours = palette(model.get("_lut"), 4);
    inks = palette(model.get("_ink"), 3);
    const bi = bytes(model.get("_top_index"));
    const bp = bytes(model.get("_top_prob"));
    topIndex = null;
    topProb = null;
    if (bi && bp && bi.length === text.length * TOP * 2 && bp.length === text.length * TOP * 4) {
      const di = new DataView(bi.buffer, bi.offset, bi.length);
      const dp = new DataView(bp.buffer, bp.offset, bp.length);
      topIndex = new Uint16Array(text.length * TOP);
      topProb = new Float32Array(text.length * TOP);
      for (let k = 0; k < topIndex.length; k++) {
        topIndex[k] = di.getUint16(2 * k, true);
        topProb[k] = dp.getFloat32(4 * k, true);
      }
    }
  }

  // Hover: the newest position wins, handled once per animation frame, no kernel round trip.
  let pending = null;
  let scheduled = false;
  function showTip() {
    scheduled = false;
    const p = pending;
    pending = null;
    if (!p) return;
    const i = Number(p.target.dataset.i);
    const vocab = model.get("vocab") || [];
    const lines = [`${JSON.stringify(text[i])} #${i}` + (values ? `  value ${values[i].toFixed(3)}` : "")];
    if (topIndex) {
      lines.push("next character guesses:");
      for (let k = 0; k < TOP; k++) {
        const j = topIndex[i * TOP + k];
        const ch = vocab[j] !== undefined ? shown(vocab[j]) : `#${j}`;
        lines.push(`  ${ch.padEnd(3)} ${(100 * topProb[i * TOP + k]).toFixed(1).padStart(5)}%`);
      }
    }
    tip.textContent = lines.join("\n");
    tip.dataset.i = String(i);
    const r = p.target.getBoundingClientRect();
    const w = wrap.getBoundingClientRect();
    tip.style.left = `${r.left - w.left}px`;
    tip.style.top = `${r.bottom - w.top + 4}px`;
    tip.style.display = "block";
  }
  function onOver(e) {
    if (!e.target.dataset || e.target.dataset.i === undefined) return;
    pending = { target: e.target };
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(showTip);
    }
  }
  function onLeave() {
    pending = null;
    tip.style.display = "none";
  }
  view.addEventListener("mouseover", onOver);
  view.addEventListener("mouseleave", onLeave);

  function onText() {
    layoutText();
    loadTables();
    recolour();
  }
  function onTables() {
    loadTables();
    recolour();
  }
  function onHeight() {
    view.style.height = `${model.get("height_px") || 360}px`;
  }
  const handlers = [
    ["change:text", onText], ["change:_values", recolour], ["change:vmax", recolour],
    ["change:_lut", onTables], ["change:_ink", onTables], ["change:_top_index", onTables],
    ["change:_top_prob", onTables], ["change:height_px", onHeight],
  ];
  for (const [name, fn] of handlers) model.on(name, fn);
  onText();

  return () => {
    observer.disconnect();
    for (const [name, fn] of handlers) model.off(name, fn);
  };
}

export default { render };
