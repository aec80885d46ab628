// The notebook as JupyterLab would save it now (nbformat JSON, outputs included), read from its model.
(path) => {
  const panel = findPanel(path);
  if (!panel) throw new Error('no open notebook ' + (path === null ? '(current)' : path));
  return panel.context.model.toJSON();
}
