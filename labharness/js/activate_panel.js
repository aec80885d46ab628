// Bring the notebook `path` to the front (commands act on the current widget).
(path) => {
  const panel = findPanel(path);
  if (!panel) throw new Error('no open notebook ' + path);
  window.jupyterapp.shell.activateById(panel.id);
}
