// The NotebookPanel showing `path` (null: the current widget if it is a notebook), or null.
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  const isPanel = (w) => !!(w && w.context && w.content && w.sessionContext);
  if (path === null) return isPanel(app.shell.currentWidget) ? app.shell.currentWidget : null;
  for (const w of Array.from(app.shell.widgets('main'))) {
    if (isPanel(w) && w.context.path === path) return w;
  }
  return null;
}
