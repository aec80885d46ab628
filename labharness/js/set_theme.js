// Switch JupyterLab to the theme named `theme` (as a reader does in Settings > Theme) and resolve
// with its name once the theme's style sheet has loaded: JupyterLab marks the body only then.
// Rejects, naming the theme shown, if that has not happened within `timeoutMs`.
async ({ theme, timeoutMs }) => {
  const app = window.jupyterapp;
  await app.commands.execute('apputils:change-theme', { theme });
  const shown = () => document.body.dataset.jpThemeName;
  await new Promise((resolve, reject) => {
    if (shown() === theme) return resolve();
    const observer = new MutationObserver(() => {
      if (shown() === theme) { observer.disconnect(); clearTimeout(timer); resolve(); }
    });
    const timer = setTimeout(() => {
      observer.disconnect();
      reject(new Error(`JupyterLab still shows ${shown()} ${timeoutMs} ms after switching to ${theme}`));
    }, timeoutMs);
    observer.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-name'] });
  });
  return shown();
}
