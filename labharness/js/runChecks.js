// Every legibility check on one widget root: {fit, labels, contrast, legends}, each
// {checked, findings: [{element, message}]}.
(widget, minRatio) => ({
  fit: checkFit(widget, widget.closest('.jp-OutputArea-output')),
  labels: checkLabels(widget),
  contrast: checkContrast(widget, minRatio),
  legends: checkLegends(widget),
})
