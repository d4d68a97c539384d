// Fetch-health charts of the operations dashboard (Chart.js, served from static/vendor).
// Data comes from the page's <script id="fetch-charts"> JSON: one entry per range.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fetch-charts").textContent);
  var kindColours = {
    ok: "#2e7d32", needs_login: "#c62828", backoff: "#ef6c00", anisette: "#6a1b9a",
    transient: "#f9a825", empty: "#78909c", error: "#ad1457",
  };
  var common = {
    responsive: true, maintainAspectRatio: false, animation: false,
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
  };
  var charts = {};

  function requestsConfig(range) {
    var kinds = Object.keys(range.requests_by_kind);
    return {
      type: "bar",
      data: {
        labels: range.labels,
        datasets: kinds.map(function (kind) {
          return {
            label: kind === "ok" ? "answered" : kind.replace("_", " "),
            data: range.requests_by_kind[kind],
            backgroundColor: kindColours[kind] || "#455a64",
          };
        }),
      },
      options: Object.assign({}, common, {
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      }),
    };
  }

  function lineConfig(labels, label, values, colour, max) {
    return {
      type: "line",
      data: { labels: labels, datasets: [{ label: label, data: values, borderColor: colour,
        backgroundColor: colour, spanGaps: true, pointRadius: 2 }] },
      options: Object.assign({}, common, {
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, max: max, ticks: { precision: 0 } } },
      }),
    };
  }

  function draw(name) {
    var range = data[name];
    var configs = {
      "chart-requests": requestsConfig(range),
      "chart-reports": lineConfig(range.labels, "new reports", range.reports_new, "#1565c0"),
      "chart-heard": lineConfig(range.labels, "% heard from", range.heard_share, "#00897b", 100),
    };
    Object.keys(configs).forEach(function (id) {
      if (charts[id]) { charts[id].destroy(); }
      charts[id] = new Chart(document.getElementById(id), configs[id]);
    });
    document.querySelectorAll(".range-switch button").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.range === name));
    });
    document.getElementById("fetch-health").dataset.range = name;
  }

  document.querySelectorAll(".range-switch button").forEach(function (button) {
    button.addEventListener("click", function () { draw(button.dataset.range); });
  });
  draw("day");
})();
