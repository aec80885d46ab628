// Colour arithmetic for the contrast check: parse computed CSS colours, blend translucent
// layers, and the WCAG 2 contrast ratio (relative luminance of linearised sRGB).
({
  // [r, g, b, a] (0..255, alpha 0..1) from a computed colour, or null when it cannot be read.
  parse(css) {
    const value = String(css || '').trim();
    if (value === 'transparent') return [0, 0, 0, 0];
    let m = /^rgba?\(([^)]*)\)$/.exec(value);
    if (m) {
      const p = m[1].split(/[\s,/]+/).filter(Boolean).map(parseFloat);
      return p.length >= 3 && p.every(Number.isFinite) ? [p[0], p[1], p[2], p.length > 3 ? p[3] : 1] : null;
    }
    m = /^color\(srgb\s+([^)]*)\)$/.exec(value);
    if (m) {
      const p = m[1].split(/[\s/]+/).filter(Boolean).map(parseFloat);
      return p.length >= 3 && p.every(Number.isFinite) ? [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1] : null;
    }
    return null;
  },
  // `top` painted over an opaque `bottom`: an opaque colour.
  blend(top, bottom) {
    const a = Math.max(0, Math.min(1, top[3]));
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  },
  luminance(c) {
    const lin = (v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4); };
    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  },
  ratio(a, b) {
    const la = this.luminance(a), lb = this.luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  },
  css(c) {
    return `rgb(${c.slice(0, 3).map((v) => Math.round(v)).join(', ')})`;
  },
})
