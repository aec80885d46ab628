// Run `code` on the notebook's kernel through the page's own kernel connection and wait for
// the kernel to go idle. Messages on a connection are handled in order, so once this resolves
// every widget update the kernel sent before has reached the page's widget models.
async ({ path, code }) => {
  const panel = findPanel(path);
  const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel) throw new Error('no kernel for ' + path);
  const future = kernel.requestExecute({ code, silent: true, store_history: false });
  const reply = await future.done;
  const c = reply.content;
  return c.status === 'ok' ? { status: 'ok' } : { status: c.status, ename: c.ename, evalue: c.evalue, traceback: c.traceback };
}
