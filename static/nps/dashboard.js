/* Draws every chart on a dashboard page: each <div data-figure="ID"> gets the figure held in
   the JSON <script id="ID"> the server rendered with json_script. No inline scripts, so a
   strict Content-Security-Policy can be added without changes here. */
(function () {
  "use strict";

  var config = {
    displaylogo: false,
    responsive: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"]
  };

  function draw(node) {
    var source = document.getElementById(node.getAttribute("data-figure"));
    if (!source) {
      return Promise.resolve();
    }
    var figure = JSON.parse(source.textContent);
    return window.Plotly.newPlot(node, figure.data, figure.layout, config).then(
      function () {
        node.setAttribute("data-rendered", "true");
      },
      function (error) {
        node.setAttribute("data-error", String(error));
        console.error("chart " + node.id + " failed:", error);
      }
    );
  }

  function drawAll() {
    var nodes = Array.prototype.slice.call(document.querySelectorAll("[data-figure]"));
    if (!nodes.length) {
      return;
    }
    if (!window.Plotly) {
      console.error("plotly.js did not load: the charts cannot be drawn");
      return;
    }
    Promise.all(nodes.map(draw)).then(function () {
      document.documentElement.setAttribute("data-charts-drawn", String(nodes.length));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
