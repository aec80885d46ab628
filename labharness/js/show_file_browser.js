// Open the file browser in the left sidebar (as a reader usually has it), keep the notebook current.
async (path) => {
  const app = window.jupyterapp;
  await app.commands.execute('filebrowser:activate');
  const panel = findPanel(path);
  if (panel) app.shell.activateById(panel.id);
}
