// The data-frame-id a FrameCanvas sets once a frame's pixels are drawn (null before any frame).
(selector) => document.querySelector(selector)?.dataset.frameId ?? null
