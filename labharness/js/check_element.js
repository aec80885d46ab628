// The legibility checks on the element `selector` (outside JupyterLab too: the checks' own tests
// run them on hand-made pages whose problems are known).
({ selector, minRatio }) => {
  const el = document.querySelector(selector);
  if (!el) throw new Error('no element matches ' + selector);
  return runChecks(el, minRatio);
}
