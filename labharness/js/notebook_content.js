// The notebook as JupyterLab would save it now (nbformat JSON, outputs included), read from its model.
(path) => {
  const panel = findPanel(path);
  if (!panel) throw new Error('no open notebook ' + (path === null ? '(current)' : path));
  // through JSON as the save does: keys left undefined (a markdown cell's attachments) are dropped
  return JSON.parse(JSON.stringify(panel.context.model.toJSON()));
}
