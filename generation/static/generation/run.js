// The training-run page: polls the run's status while it trains and redraws progress, losses and samples.
(function () {
  "use strict";
  var POLL_MS = 2000;
  var root = document.getElementById("run");
  if (!root) return;
  var url = root.dataset.statusUrl;
  var wasActive = null;

  function field(name) { return root.querySelector('[data-field="' + name + '"]'); }

  function setText(name, text) { var el = field(name); if (el) el.textContent = text; }

  function render(s) {
    setText("status_display", s.status_display);
    setText("iteration", s.iteration);
    setText("iterations", s.iterations);
    setText("its_per_s", s.its_per_s == null ? "—" : s.its_per_s.toFixed(2));
    setText("training_seconds", s.training_seconds.toFixed(1));
    setText("images_seen", s.images_seen);
    var bar = field("fraction"); if (bar) bar.value = s.fraction;
    var error = field("error"); if (error) { error.textContent = s.error; error.hidden = !s.error; }
    renderNotes(s.notes || []);
    renderSample(s.sample_url);
    renderLosses(s.stats || []);
  }

  function renderNotes(notes) {
    var list = field("notes"); if (!list) return;
    list.replaceChildren.apply(list, notes.map(function (n) { var li = document.createElement("li"); li.textContent = n; return li; }));
    list.hidden = notes.length === 0;
  }

  function renderSample(src) {
    var img = document.getElementById("sample-grid");
    if (!img || !src) return;
    if (img.getAttribute("src") !== src) img.src = src;
    img.hidden = false;
    var none = document.getElementById("no-sample"); if (none) none.hidden = true;
  }

  function renderLosses(rows) {
    var chart = document.getElementById("loss-chart");
    if (!chart || !rows.length || !window.Plotly) return;
    var names = {};
    rows.forEach(function (r) { Object.keys(r.losses || {}).forEach(function (k) { names[k] = true; }); });
    var traces = Object.keys(names).sort().map(function (name) {
      return {
        // Markers too while there are few points: one logged point draws no line.
        name: name, mode: rows.length < 40 ? "lines+markers" : "lines", type: "scatter",
        x: rows.map(function (r) { return r.iteration; }),
        y: rows.map(function (r) { return r.losses ? r.losses[name] : null; })
      };
    });
    var placeholder = chart.querySelector("p"); if (placeholder) placeholder.remove();
    var layout = { margin: { t: 10, r: 10, b: 40, l: 50 }, xaxis: { title: { text: "iteration" } }, legend: { orientation: "h" } };
    window.Plotly.react(chart, traces, layout, { responsive: true, displaylogo: false });
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (s) {
        render(s);
        // When a run stops, reload once: the checkpoints table and the buttons change with it.
        if (wasActive && !s.active) { window.location.reload(); return; }
        wasActive = s.active;
        if (s.active) window.setTimeout(poll, POLL_MS);
      })
      .catch(function () { window.setTimeout(poll, POLL_MS * 3); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", poll); else poll();
})();
