// Per code cell: index, execution count, source head and error texts; and the kernel status.
(path) => {
  const panel = findPanel(path);
  if (!panel) throw new Error('no open notebook ' + (path === null ? '(current)' : path));
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  panel.content.widgets.forEach((cell, index) => {
    const model = cell.model;
    if (model.type !== 'code') return;
    const errors = [];
    for (let i = 0; i < model.outputs.length; i++) {
      const out = model.outputs.get(i).toJSON();
      if (out.output_type === 'error') {
        errors.push([out.ename + ': ' + out.evalue].concat(out.traceback || []).join('\n'));
      } else if (out.output_type === 'stream' && out.name === 'stderr') {
        const text = Array.isArray(out.text) ? out.text.join('') : String(out.text);
        if (text.includes('Traceback')) errors.push(text);
      }
    }
    cells.push({index, executionCount: model.executionCount, errors,
                source: model.sharedModel.getSource().slice(0, 200)});
  });
  return {kernel: kernel ? kernel.status : null, cells};
}
