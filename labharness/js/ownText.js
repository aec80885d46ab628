// The text directly inside an element (not in its child elements), whitespace collapsed;
// '' for boxes that only hold other elements. Text-holding elements belong to the label check.
(el) => Array.from(el.childNodes)
  .filter((n) => n.nodeType === Node.TEXT_NODE)
  .map((n) => n.textContent)
  .join('')
  .replace(/\s+/g, ' ')
  .trim()
