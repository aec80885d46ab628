// Resolve true once nothing in `selector` has changed (nodes, attributes, text) for `quietMs`,
// false if it keeps changing for `timeoutMs`: pictures decode and lay out after their message.
({ selector, quietMs, timeoutMs }) => new Promise((resolve) => {
  const root = document.querySelector(selector) || document.body;
  let last = performance.now();
  const start = last;
  const observer = new MutationObserver(() => { last = performance.now(); });
  observer.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last >= quietMs || now - start >= timeoutMs) {
      clearInterval(timer);
      observer.disconnect();
      resolve(now - last >= quietMs);
    }
  }, 50);
})
