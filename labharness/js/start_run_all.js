// Start `notebook:run-all-cells`; its outcome lands in window.__nnlensRunAll (polled from Python).
(path) => {
  const app = window.jupyterapp;
  const panel = findPanel(path);
  if (!panel) throw new Error('no open notebook ' + (path === null ? '(current)' : path));
  app.shell.activateById(panel.id);
  const state = {done: false, ok: null, error: null};
  window.__nnlensRunAll = state;
  app.commands.execute('notebook:run-all-cells').then(
    (ok) => { state.ok = ok; state.done = true; },
    (err) => { state.error = String(err); state.done = true; });
}
