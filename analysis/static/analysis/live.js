// The live dashboard: polls live.json and updates the server-rendered numbers and charts in place.
// The page reads without this script (it reloads itself from a <noscript> meta refresh instead).
(function () {
  "use strict";

  var root = document.getElementById("live");
  var initial = document.getElementById("live-status");
  if (!root || !initial) return;

  var url = root.dataset.url;
  var pollMs = Number(root.dataset.pollMs) || 5000;
  var MAX_BACKOFF_MS = 60000;
  var REQUEST_TIMEOUT_MS = 15000;
  var failures = 0;
  var timer = null;
  var inFlight = false;

  // Same texts as the server's live_views._shown_texts, so a poll never changes how a number looks.
  var formats = {
    percent: function (rate) { return rate == null ? "—" : (rate * 100).toFixed(1) + " %"; },
    minutes: function (minutes) { return minutes == null ? "—" : minutes.toFixed(1) + " min"; },
    utc: function (iso) { return iso == null ? "—" : iso.replace("T", " ").replace("Z", " UTC"); },
  };

  function lookup(status, path) {
    return path.split(".").reduce(function (value, key) { return value == null ? value : value[key]; }, status);
  }

  function updateFields(status) {
    root.querySelectorAll("[data-field]").forEach(function (element) {
      var value = lookup(status, element.dataset.field);
      var format = formats[element.dataset.format];
      var text = format ? format(value) : String(value == null ? "—" : value);
      if (element.textContent !== text) element.textContent = text;
    });
    var summary = document.getElementById("live-summary");
    // Only a changed sentence is written, so screen readers hear news, not every poll.
    if (summary.textContent !== status.summary) summary.textContent = status.summary;
  }

  function fillRows(tableId, rows, cellsOf) {
    var table = document.getElementById(tableId);
    if (!table) return;
    var body = document.createElement("tbody");
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      cellsOf(row).forEach(function (cell, index) {
        var td = document.createElement(cell.header ? "th" : "td");
        if (cell.header) td.scope = "row";
        if (index > 0) td.className = "num";
        td.textContent = cell.text;  // labels are researcher text: never parsed as HTML
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.replaceChild(body, table.tBodies[0]);
  }

  function updateTables(status) {
    fillRows("live-arms", status.arms, function (arm) {
      return [{text: arm.label, header: true}, {text: String(arm.recorded)}, {text: String(arm.counted)}];
    });
    fillRows("live-exclusions", status.exclusions, function (rule) {
      return [{text: rule.rule}, {text: String(rule.answers)}, {text: String(rule.participants)}];
    });
  }

  function drawChart(element, figure) {
    if (!figure) {
      element.setAttribute("data-empty", "");
      if (window.Plotly) window.Plotly.purge(element);
      return;
    }
    element.removeAttribute("data-empty");
    if (!window.Plotly) return;  // plotly.js did not load: the numbers still update
    // uirevision keeps the researcher's zoom and hidden traces across the redraws of each poll.
    var layout = Object.assign({}, figure.layout, {autosize: true, uirevision: element.dataset.chart});
    delete layout.width;  // the server's static size; here the chart fills its box, phone or laptop
    delete layout.height;
    window.Plotly.react(element, figure.data, layout, {responsive: true, displaylogo: false});
  }

  function updateCharts(status) {
    root.querySelectorAll("[data-chart]").forEach(function (element) {
      drawChart(element, status.charts[element.dataset.chart]);
    });
    var empty = document.getElementById("live-time-empty");
    if (empty) empty.hidden = Boolean(status.charts.responses_over_time);
  }

  function render(status) {
    updateFields(status);
    updateTables(status);
    updateCharts(status);
  }

  function showConnection(problem) {
    var note = document.getElementById("live-connection");
    if (problem) note.textContent = problem;
    note.hidden = !problem;
  }

  function fetchStatus() {
    var controller = new AbortController();
    var timeout = setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    return fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin", cache: "no-store",
                       signal: controller.signal})
      .then(function (response) {
        // A redirect here is the login page: the session ended.
        if (response.redirected) throw new Error("Signed out: reload the page to log in again.");
        if (!response.ok) throw new Error("Connection lost, retrying…");
        return response.json();
      })
      .finally(function () { clearTimeout(timeout); });
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = document.hidden ? null : setTimeout(poll, delay);
  }

  function poll() {
    if (document.hidden || inFlight) return;
    inFlight = true;
    fetchStatus()
      .then(function (status) {
        failures = 0;
        showConnection(null);
        render(status);
      })
      .catch(function (error) {
        failures += 1;
        var signedOut = error && /^Signed out/.test(error.message);
        showConnection(signedOut ? error.message : "Connection lost, retrying…");
      })
      .finally(function () {
        inFlight = false;
        // Each failure in a row doubles the wait, up to a minute, so a struggling server is not hammered.
        schedule(Math.min(pollMs * Math.pow(2, failures), MAX_BACKOFF_MS));
      });
  }

  // A hidden tab stops polling; coming back fetches at once, then resumes the rhythm.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else if (!inFlight) {
      poll();
    }
  });

  function start() {
    updateCharts(JSON.parse(initial.textContent));
    schedule(pollMs);
  }

  // plotly.js and this script are both deferred, so plotly has run by now; wait for the DOM all the same.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
