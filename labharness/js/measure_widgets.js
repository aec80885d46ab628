// Runs the legibility checks on every top-level nnlens widget (.nnl-widget) of notebook `path`.
// Each widget is tagged data-labharness-widget=<index> so Python can screenshot the same one.
// Returns the page's layout (theme, notebook and file-browser widths) and, per widget, its
// cell, name, widths and the findings of each check.
({ path, minRatio }) => {
  const panel = findPanel(path);
  if (!panel) throw new Error('no open notebook ' + path);
  const cells = panel.content.widgets;
  const roots = Array.from(panel.node.querySelectorAll('.nnl-widget'))
    .filter((w) => !w.parentElement.closest('.nnl-widget'));
  const nameOf = (w) => {
    const own = Array.from(w.classList).find((c) => c.startsWith('nnl-') && c !== 'nnl-widget');
    return own ? own.slice(4).split('-').map((s) => s[0].toUpperCase() + s.slice(1)).join('') : 'widget';
  };
  const widgets = roots.map((w, index) => {
    w.dataset.labharnessWidget = String(index);
    const cellIndex = cells.findIndex((c) => c.node.contains(w));
    const lines = cellIndex < 0 ? [] : cells[cellIndex].model.sharedModel.getSource().split('\n');
    const name = nameOf(w);
    return {
      index, name, cell: cellIndex,
      // the line that makes the widget if there is one, else the cell's first line
      source: (lines.find((l) => l.includes(name + '(')) || lines.find((l) => l.trim()) || '').trim(),
      width: Math.round(w.getBoundingClientRect().width),
      areaWidth: (w.closest('.jp-OutputArea-output') || {}).clientWidth ?? null,
      checks: runChecks(w, minRatio),
    };
  });
  return { layout: labLayout(path), widgets };
}
