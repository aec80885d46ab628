// What the reader's window looks like: viewport, theme, whether the file browser is open, and
// the widths of the notebook and its first output area (the room a widget has).
(path) => {
  const panel = findPanel(path);
  const browser = document.getElementById('filebrowser');
  const area = panel && panel.node.querySelector('.jp-OutputArea-output');
  return {
    viewport: [innerWidth, innerHeight],
    theme: document.body.dataset.jpThemeName || null,
    themeLight: document.body.dataset.jpThemeLight === 'true',
    fileBrowserWidth: browser && browser.getClientRects().length ? Math.round(browser.getBoundingClientRect().width) : 0,
    notebookWidth: panel ? panel.content.node.clientWidth : null,
    outputWidth: area ? area.clientWidth : null,
  };
}
