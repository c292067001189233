// The console's few behaviours: charts from JSON on the page, confirmations, and polling a job's progress.
(function () {
  "use strict";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // <div class="chart" data-chart="ID"> draws the ECharts option kept in <script type="application/json" id="ID">.
  function drawCharts() {
    if (!window.echarts) return;
    document.querySelectorAll("[data-chart]").forEach(function (node) {
      var option = readJson(node.getAttribute("data-chart"));
      if (!option) return;
      var chart = window.echarts.init(node, null, { renderer: "svg" });
      chart.setOption(option);
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  // <form data-autosubmit> (the language switcher) is sent as soon as its choice changes.
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute("data-autosubmit")) form.submit();
  });

  // <form data-confirm="Question?"> asks before it is sent.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // <div data-progress-url="..."> polls a JSON {status, done, total} until it is done or failed.
  function pollProgress(node) {
    var bar = node.querySelector(".progress > div");
    var label = node.querySelector("[data-progress-label]");
    var link = node.querySelector("[data-progress-done]");
    function tick() {
      fetch(node.getAttribute("data-progress-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          var percent = data.total ? Math.round(100 * data.done / data.total) : (data.status === "done" ? 100 : 0);
          if (bar) bar.style.width = percent + "%";
          if (label) label.textContent = data.label || (data.done + " / " + (data.total || "?"));
          if (data.status === "done") { if (link) link.hidden = false; return; }
          if (data.status !== "failed") window.setTimeout(tick, 1000);
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    tick();
  }

  // <div data-live-url="..."> refreshes its [data-live=KEY] figures from that JSON every 5 seconds.
  function pollLive(node) {
    function tick() {
      fetch(node.getAttribute("data-live-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          node.querySelectorAll("[data-live]").forEach(function (figure) {
            var value = data[figure.getAttribute("data-live")];
            if (value !== undefined) figure.textContent = value;
          });
        })
        .catch(function () {})
        .then(function () { window.setTimeout(tick, 5000); });
    }
    window.setTimeout(tick, 5000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    document.querySelectorAll("[data-progress-url]").forEach(pollProgress);
    document.querySelectorAll("[data-live-url]").forEach(pollLive);
  });
})();
