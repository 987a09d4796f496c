// The dashboards' charts (templates/dashboards/dashboard.html): each <canvas data-chart=ID>
// is drawn by Chart.js (static/vendor/chartjs) from the JSON Django wrote with json_script
// into <script type="application/json" id=ID>; no inline script (CSP: script-src 'self').
// A click on a bar or point opens the list behind that label (the figure's "links"), else
// the list behind the whole chart (data-href). The <details> table under each chart holds
// the same numbers for screen readers and for reading.
(function () {
  "use strict";

  var COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2"];

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof window.Chart === "undefined") return;
    var spec = JSON.parse(source.textContent);
    var datasets = spec.datasets.map(function (d, i) {
      var colour = COLOURS[i % COLOURS.length];
      return {
        label: d.label,
        data: d.data,
        borderColor: colour,
        backgroundColor: spec.type === "line" ? colour : colour + "cc",
        spanGaps: true,
        tension: 0.2
      };
    });
    var chart = new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          y: { beginAtZero: true, title: { display: !!spec.unit, text: spec.unit } }
        },
        onClick: function (event, elements) {
          var href = canvas.dataset.href;
          if (elements.length && spec.links && spec.links[elements[0].index]) {
            href = spec.links[elements[0].index];
          }
          if (href) window.location.assign(href);
        }
      }
    });
    canvas.dataset.drawn = "true";
    return chart;
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
