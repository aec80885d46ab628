// Snapshot of a notebook panel: found?, context/session ready, kernel status, open dialog text.
(path) => {
  const panel = findPanel(path);
  const dialog = document.querySelector('.jp-Dialog');
  const state = {
    app: !!window.jupyterapp,
    panel: !!panel,
    dialog: dialog ? dialog.innerText.slice(0, 500) : null,
  };
  if (panel) {
    const sc = panel.sessionContext;
    const kernel = sc.session && sc.session.kernel;
    state.contextReady = panel.context.isReady;
    state.sessionReady = sc.isReady;
    state.kernel = kernel ? kernel.status : null;
    state.connection = kernel ? kernel.connectionStatus : null;
  }
  return state;
}
