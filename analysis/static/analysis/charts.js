// Draws the results page's plotly charts from the figures embedded with json_script.
// plotly.js comes from the site itself (analysis:plotly_js), loaded before this file (both deferred).
(function () {
  "use strict";

  function draw(element) {
    const source = document.getElementById(element.dataset.figureId);
    if (!source || !window.Plotly) return;
    const figure = JSON.parse(source.textContent);
    const layout = Object.assign({}, figure.layout || {});
    // The figures carry a fixed size for the static images; on the page they fill their box instead.
    delete layout.width;
    layout.autosize = true;
    window.Plotly.newPlot(element, figure.data || [], layout, {responsive: true, displaylogo: false});
  }

  function drawAll() {
    document.querySelectorAll(".js-chart").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
