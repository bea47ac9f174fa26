/* tracepond viewer: quality. A trace's assessments with a feedback form (thumbs up or down and a
 * comment), the Evaluations page, one evaluation's rows, and two runs compared row by row.
 * Every value is drawn as text (TP.h), never as HTML. */
(function (global) {
  "use strict";
  var TP = global.TP;
  var h = TP.h;

  function text(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "string") return value;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      var keys = Object.keys(value);
      if (keys.length === 1 && typeof value[keys[0]] === "string") return value[keys[0]];
    }
    return JSON.stringify(value);
  }

  function number(value) {
    return value === null || value === undefined ? "" : (Math.round(value * 1000) / 1000).toString();
  }

  function verdictCell(verdict) {
    if (!verdict) return h("td.muted", null, "");
    if (verdict.error) return h("td.verdict.error", { title: verdict.error }, "error");
    return h("td.verdict", { title: verdict.rationale || "" }, text(verdict.value),
      verdict.rationale ? h("div.rationale.muted", null, verdict.rationale) : null);
  }

  function traceLink(traceId) {
    return traceId ? h("a.mono", { href: "#/trace/" + traceId }, traceId.slice(0, 12)) : "";
  }

  function table(headers, rows) {
    return h("div.table-wrap", null, h("table.grid", null,
      h("thead", null, h("tr", null, headers.map(function (c) { return h("th", null, c); }))),
      h("tbody", null, rows)));
  }

  // --- a trace's assessments and the feedback form ----------------------------------------------

  function mountAssessments(el, traceId) {
    var box = h("section.assessments", { "aria-label": "Assessments" });
    el.appendChild(box);
    function load() {
      return TP.api("/api/traces/" + traceId + "/assessments").then(function (body) {
        draw(body.assessments || []);
      }).catch(function (err) {
        TP.clear(box).appendChild(h("div.error-box", null, "Could not load assessments: " + err.message));
      });
    }
    function draw(items) {
      TP.clear(box);
      box.appendChild(h("h3", null, "Assessments"));
      if (items.length) {
        box.appendChild(table(["name", "kind", "value", "source", "rationale", ""], items.map(function (a) {
          return h("tr" + (a.valid ? "" : ".overridden") + (a.error ? ".err" : ""), null,
            h("td.name", null, a.name), h("td", null, a.kind),
            h("td.verdict", null, a.error ? "error: " + a.error : text(a.value)),
            h("td", null, a.source_type + (a.source_id ? ":" + a.source_id : "")),
            h("td", { title: a.rationale || "" }, a.rationale || ""),
            h("td.muted", null, a.valid ? "" : "overridden"));
        })));
      } else {
        box.appendChild(h("div.muted", null, "No feedback or expectations yet."));
      }
      box.appendChild(form());
    }
    function form() {
      var comment = h("input.feedback-comment", { type: "text", placeholder: "Comment (optional)", maxlength: "2000" });
      var note = h("span.feedback-note.muted");
      function send(value) {
        note.textContent = "Saving…";
        TP.api("/api/traces/" + traceId + "/assessments", {
          method: "POST",
          headers: { Accept: "application/json", "Content-Type": "application/json" },
          body: JSON.stringify({ name: "user_feedback", value: value, rationale: comment.value || null })
        }).then(load).catch(function (err) { note.textContent = "Not saved: " + err.message; });
      }
      return h("div.feedback-form", null, h("span", null, "Was this trace good?"),
        h("button.btn.thumb-up", { type: "button", title: "Thumbs up", onclick: function () { send(true); } }, "▲ Good"),
        h("button.btn.thumb-down", { type: "button", title: "Thumbs down", onclick: function () { send(false); } }, "▼ Bad"),
        comment, note);
    }
    load();
  }

  // --- the Evaluations page ----------------------------------------------------------------------

  function evaluationsPage(el) {
    var page = h("div.page");
    el.appendChild(page);
    page.appendChild(h("div.page-head", null, h("h1", null, "Evaluations")));
    var picked = [];
    var compare = h("button.btn.compare", { type: "button", disabled: true, onclick: function () {
      location.hash = "#/evaluations/compare" + TP.query({ a: picked[0], b: picked[1] });
    } }, "Compare two runs");
    page.appendChild(h("div.toolbar", null, h("span.muted", null, "Tick two runs to compare them row by row."),
      h("span.spacer"), compare));
    var body = h("div");
    page.appendChild(body);
    TP.api("/api/evaluations").then(function (data) {
      var runs = data.evaluations || [];
      if (!runs.length) {
        body.appendChild(h("div.empty", null, "No evaluations yet: run tracepond.evaluate(...)."));
        return;
      }
      body.appendChild(table(["", "name", "experiment", "status", "rows", "dataset", "metrics", "started"], runs.map(function (r) {
        var box = h("input", { type: "checkbox", "aria-label": "pick " + (r.name || r.run_id), onchange: function () {
          picked = picked.filter(function (id) { return id !== r.run_id; });
          if (box.checked) picked.push(r.run_id);
          while (picked.length > 2) picked.shift();
          body.querySelectorAll("input[type=checkbox]").forEach(function (other) {
            other.checked = picked.indexOf(other.dataset.run) >= 0;
          });
          compare.disabled = picked.length !== 2;
        } });
        box.dataset.run = r.run_id;
        var metrics = Object.keys(r.metrics).sort().map(function (k) { return k + " " + number(r.metrics[k]); }).join(" · ");
        return h("tr", null, h("td", null, box),
          h("td.name", null, h("a", { href: "#/evaluations/" + r.run_id }, r.name || r.run_id.slice(0, 12))),
          h("td", null, r.experiment), h("td", null, r.status), h("td.num", null, String(r.rows)),
          h("td", null, r.dataset || ""), h("td", null, metrics), h("td.time", null, TP.fmt.time(r.start_time)));
      })));
    }).catch(function (err) { body.appendChild(h("div.error-box", null, "Could not load evaluations: " + err.message)); });
  }

  function evaluationPage(el, runId) {
    var page = h("div.page");
    el.appendChild(page);
    TP.api("/api/evaluations/" + encodeURIComponent(runId)).then(function (data) {
      var run = data.run, rows = data.rows || [];
      var scorers = [];
      rows.forEach(function (r) { Object.keys(r.scores).forEach(function (k) { if (scorers.indexOf(k) < 0) scorers.push(k); }); });
      scorers.sort();
      page.appendChild(h("div.crumbs", null, h("a", { href: "#/evaluations" }, "← Evaluations")));
      page.appendChild(h("div.page-head", null, h("h1", null, run.name || run.run_id),
        h("span.muted", null, run.experiment + " · " + run.status + " · " + run.rows + " rows" + (run.dataset ? " · " + run.dataset : ""))));
      page.appendChild(h("div.stats.means", null, Object.keys(run.metrics).sort().map(function (k) {
        return h("span.chip", null, k + " " + number(run.metrics[k]));
      })));
      page.appendChild(table(["trace", "inputs", "outputs", "expectations"].concat(scorers), rows.map(function (r) {
        return h("tr" + (r.status === "ERROR" ? ".err" : ""), null, h("td", null, traceLink(r.trace_id)),
          h("td", { title: text(r.inputs) }, text(r.inputs)), h("td", { title: text(r.outputs) }, text(r.outputs)),
          h("td", null, text(r.expectations)),
          scorers.map(function (s) { return verdictCell(r.scores[s]); }));
      })));
    }).catch(function (err) {
      page.appendChild(h("div.error-box", null, err.status === 404 ? "No evaluation " + runId + "." : "Could not load: " + err.message));
    });
  }

  function comparePage(el) {
    var params = TP.hashParams();
    var page = h("div.page");
    el.appendChild(page);
    TP.api("/api/evaluations/compare" + TP.query({ a: params.a, b: params.b })).then(function (data) {
      var la = data.a.name || data.a.run_id.slice(0, 8), lb = data.b.name || data.b.run_id.slice(0, 8);
      page.appendChild(h("div.crumbs", null, h("a", { href: "#/evaluations" }, "← Evaluations")));
      page.appendChild(h("div.page-head", null, h("h1", null, lb + " against " + la)));
      page.appendChild(table(["scorer", la, lb, "change"], data.scorers.map(function (s) {
        var m = data.means[s], drop = m[0] !== null && m[1] !== null && m[1] < m[0];
        return h("tr" + (drop ? ".regressed" : ""), null, h("td.name", null, s), h("td.num", null, number(m[0])),
          h("td.num", null, number(m[1])), h("td.num", null, m[0] === null || m[1] === null ? "" : number(m[1] - m[0])));
      })));
      var regressed = data.rows.filter(function (r) { return r.regressed.length; }).length;
      page.appendChild(h("div.summary", null, data.rows.length + " row(s) changed, " + regressed + " regressed"));
      var headers = ["", "inputs"];
      data.scorers.forEach(function (s) { headers.push(s + " (" + la + ")", s + " (" + lb + ")"); });
      page.appendChild(table(headers.concat(["trace " + la, "trace " + lb]), data.rows.map(function (r) {
        var row = r.a || r.b;
        var cells = [];
        data.scorers.forEach(function (s) {
          cells.push(verdictCell(r.a && r.a.scores[s]));
          var right = verdictCell(r.b && r.b.scores[s]);
          if (r.regressed.indexOf(s) >= 0) right.classList.add("worse");
          cells.push(right);
        });
        var mark = r.regressed.length ? "regressed" : (!r.b ? "only in " + la : (!r.a ? "only in " + lb : "changed"));
        return h("tr" + (r.regressed.length ? ".regressed" : ""), null, h("td", null, mark),
          h("td", { title: text(row.inputs) }, text(row.inputs)), cells,
          h("td", null, traceLink(r.a && r.a.trace_id)), h("td", null, traceLink(r.b && r.b.trace_id)));
      })));
    }).catch(function (err) { page.appendChild(h("div.error-box", null, "Could not compare: " + err.message)); });
  }

  TP.mountAssessments = mountAssessments;
  TP.pages = TP.pages || {};
  TP.pages.evaluations = evaluationsPage;
  TP.pages.evaluation = evaluationPage;
  TP.pages.evaluationCompare = comparePage;
})(window);
