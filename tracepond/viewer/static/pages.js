/* tracepond viewer: Sessions, Dashboard, SQL console, and the Runs / Models pages. */
(function (global) {
  "use strict";
  var TP = global.TP;
  var h = TP.h, fmt = TP.fmt;
  TP.pages = TP.pages || {};

  function errorBox(err) { return h("div.error-box", { role: "alert" }, err.message || String(err)); }

  // ---- Sessions ----------------------------------------------------------------------------
  function sessionsPage(el) {
    var tbody = h("tbody"), pager = h("div.pager"), offset = 0, PAGE = 50;
    el.appendChild(h("div.page", null, h("div.page-head", null, h("h1", null, "Sessions"),
      h("span.muted", null, "Traces grouped by session id, newest activity first")),
      h("div.table-wrap", null, h("table.grid", null, h("thead", null, h("tr", null,
        ["Session", "Last activity", "Traces", "Errors", "Users", "Tokens", "Cost", "Span of time"].map(function (c) { return h("th", null, c); }))), tbody)),
      pager));
    function load() {
      TP.api("/api/sessions" + TP.query({ limit: PAGE, offset: offset })).then(function (body) {
        TP.clear(tbody);
        if (!body.sessions.length) tbody.appendChild(h("tr", null, h("td.empty", { colspan: 8 },
          "No sessions yet. Set one with tracepond.update_current_trace(session_id=...).")));
        body.sessions.forEach(function (s) {
          var link = "#/sessions/" + encodeURIComponent(s.session_id);
          tbody.appendChild(h("tr.row", { onclick: function (e) { if (e.target.tagName !== "A") location.hash = link; } },
            h("td.mono", null, h("a", { href: link }, s.session_id)),
            h("td.time", { title: s.last_time }, fmt.time(s.last_time) + " · " + fmt.relative(s.last_time)),
            h("td.num", null, fmt.int(s.trace_count)),
            h("td.num", null, s.error_count ? h("span.badge.error", null, fmt.int(s.error_count)) : "0"),
            h("td.mono", null, (s.user_ids || []).join(", ")),
            h("td.num", null, fmt.int((s.input_tokens || 0) + (s.output_tokens || 0))),
            h("td.num", null, s.cost_usd ? fmt.cost(s.cost_usd) : "–"),
            h("td.num", null, fmt.duration(s.elapsed_ms))));
        });
        TP.clear(pager).appendChild(h("div.pager-inner", null,
          h("button.btn", { type: "button", disabled: offset === 0, onclick: function () { offset -= PAGE; load(); } }, "← Newer"),
          h("button.btn", { type: "button", disabled: !body.has_more, onclick: function () { offset += PAGE; load(); } }, "Older →")));
      }).catch(function (err) { el.appendChild(errorBox(err)); });
    }
    load();
  }

  function lastUserText(inputs) {
    var v = TP.maybeJson(inputs);
    if (v && Array.isArray(v.messages)) {
      for (var i = v.messages.length - 1; i >= 0; i--) {
        var m = v.messages[i];
        if (m && m.role === "user") return typeof m.content === "string" ? m.content : JSON.stringify(m.content);
      }
    }
    return v;
  }

  function answerText(outputs) {
    var v = TP.maybeJson(outputs);
    if (v && Array.isArray(v.choices) && v.choices[0] && v.choices[0].message) return v.choices[0].message.content;
    return v;
  }

  function bubbleBody(value) {
    if (value === null || value === undefined || value === "") return h("div.muted", null, "(nothing recorded)");
    if (typeof value === "object") {
      var keys = Object.keys(value);
      if (keys.length === 1 && typeof value[keys[0]] === "string") return h("div.msg-text", null, value[keys[0]]);
      return TP.jsonTree(value, 1);
    }
    return h("div.msg-text", null, String(value));
  }

  function sessionPage(el, sessionId) {
    el.appendChild(h("div.empty.page-empty", null, "Loading session…"));
    TP.api("/api/sessions/" + encodeURIComponent(sessionId)).then(function (body) {
      var chat = h("div.chat.session-chat");
      body.traces.forEach(function (t) {
        chat.appendChild(h("div.turn-head", null,
          h("a", { href: "#/trace/" + t.trace_id }, t.name || "trace"), TP.statusBadge(t.status, t.in_progress),
          h("span.muted", null, fmt.time(t.start_time) + " · " + fmt.duration(t.duration_ms) +
            (t.total_tokens ? " · " + fmt.int(t.total_tokens) + " tokens" : "") + (t.user_id ? " · " + t.user_id : ""))));
        chat.appendChild(h("div.msg.role-user", null, h("div.msg-role", null, "user"), bubbleBody(lastUserText(t.inputs))));
        chat.appendChild(h("div.msg.role-assistant" + (t.status === "ERROR" ? ".msg-error" : ""), null,
          h("div.msg-role", null, "assistant"),
          t.status === "ERROR" && (t.outputs === null || t.outputs === undefined)
            ? h("div.muted", null, "(the call failed: open the trace for the error)") : bubbleBody(answerText(t.outputs))));
      });
      TP.clear(el).appendChild(h("div.page.narrow", null,
        h("div.crumbs", null, h("a", { href: "#/sessions" }, "← Sessions")),
        h("div.page-head", null, h("h1", null, "Session ", h("code", null, sessionId)),
          h("span.muted", null, fmt.plural(body.traces.length, "trace"))),
        body.traces.length ? chat : h("div.empty", null, "No traces in this session.")));
    }).catch(function (err) { TP.clear(el).appendChild(errorBox(err)); });
  }

  // ---- Dashboard ---------------------------------------------------------------------------
  var DASH_RANGES = [["1h", "Last hour"], ["24h", "Last 24 hours"], ["7d", "Last 7 days"], ["30d", "Last 30 days"], ["all", "All time"]];

  function dashboardPage(el) {
    var range = TP.hashParams().range || "24h";
    var body = h("div.dash");
    var select = h("select.range", { "aria-label": "Time range", onchange: function () { range = select.value; TP.setHashParams("/dashboard", { range: range }); load(); } },
      DASH_RANGES.map(function (r) { return h("option", { value: r[0], selected: r[0] === range }, r[1]); }));
    el.appendChild(h("div.page", null, h("div.page-head", null, h("h1", null, "Dashboard"), select), body));
    function card(title, content, wide) { return h("div.card" + (wide ? ".wide" : ""), null, h("h3", null, title), content); }
    function load() {
      TP.api("/api/dashboard" + TP.query({ range: range })).then(function (d) {
        var x = d.buckets, tot = d.totals, unit = d.bucket_label || "bucket";
        var models = d.models || [];
        TP.clear(body).appendChild(h("div.stats.big", null,
          stat("Traces", fmt.int(tot.traces)), stat("Error rate", tot.traces ? (tot.errors / tot.traces * 100).toFixed(1) + "%" : "–"),
          stat("p50 latency", fmt.duration(tot.p50_ms)), stat("p95 latency", fmt.duration(tot.p95_ms)),
          stat("Tokens", fmt.compact(tot.tokens)), stat("Cost", fmt.cost(tot.cost_usd))));
        body.appendChild(h("div.cards", null,
          card("Traces per " + unit, TP.chart({ x: x, kind: "stacked", title: "traces", legend: true, minMaxY: 4, series: [
            { name: "ok", values: d.traces.map(function (n, i) { return n - d.errors[i]; }), color: "#6366f1" },
            { name: "error", values: d.errors, color: "#ef4444" }] })),
          card("Latency", TP.chart({ x: x, kind: "line", title: "latency", yFormat: fmt.duration, legend: true, series: [
            { name: "p50", values: d.p50_ms, color: "#0ea5e9" }, { name: "p95", values: d.p95_ms, color: "#f59e0b" }] })),
          card("Error rate", TP.chart({ x: x, kind: "line", title: "error rate", maxY: Math.max(0.05, niceRate(d.error_rate)),
            yFormat: function (v) { return v === 0 ? "0%" : (v * 100).toFixed(v < 0.1 ? 1 : 0) + "%"; },
            series: [{ name: "error rate", values: d.error_rate, color: "#ef4444", fill: true }] })),
          card("Tokens by model", TP.chart({ x: x, kind: "stacked", title: "tokens", legend: true,
            series: models.map(function (m) { return { name: m, values: d.tokens_by_model[m] }; }) })),
          card("Cost by model (USD)", TP.chart({ x: x, kind: "stacked", title: "cost", legend: true, yFormat: fmt.cost,
            series: models.map(function (m) { return { name: m, values: d.cost_by_model[m] }; }) }))));
      }).catch(function (err) { TP.clear(body).appendChild(errorBox(err)); });
    }
    load();
  }

  function niceRate(values) { return Math.min(1, Math.max.apply(null, (values || [0]).concat([0])) * 1.2); }

  function stat(label, value) { return h("div.stat", null, h("div.stat-label", null, label), h("div.stat-value", null, value)); }

  // ---- SQL console -------------------------------------------------------------------------
  var EXAMPLES = [
    ["Tokens by model", "SELECT model, count(*) AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,\n       round(sum(cost_usd), 4) AS cost_usd\nFROM spans WHERE model IS NOT NULL GROUP BY model ORDER BY calls DESC"],
    ["Latest traces", "SELECT start_time, name, status, duration_ms, span_count FROM traces ORDER BY start_time DESC LIMIT 20"],
    ["Failing spans", "SELECT name, count(*) AS errors, any_value(status_message) AS example\nFROM spans WHERE status = 'ERROR' GROUP BY name ORDER BY errors DESC"],
    ["Slowest calls", "SELECT name, model, duration_ms, trace_id FROM spans WHERE span_type IN ('CHAT_MODEL', 'LLM')\nORDER BY duration_ms DESC LIMIT 20"]
  ];

  function sqlPage(el) {
    var params = TP.hashParams();
    var editor = h("textarea.sql-editor", { spellcheck: "false", "aria-label": "SQL query", rows: 7,
      onkeydown: function (e) { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); } } });
    editor.value = params.sql || EXAMPLES[0][1];
    var result = h("div.sql-result"), status = h("span.muted"), csv = h("a.btn", { href: "#/sql", download: "tracepond.csv" }, "Download CSV");
    el.appendChild(h("div.page", null, h("div.page-head", null, h("h1", null, "SQL"),
      h("span.muted", null, "Read-only: tables traces, spans, span_events, runs, metrics, models…")),
      editor,
      h("div.toolbar", null, h("button.btn.primary", { type: "button", onclick: run }, "Run ", h("kbd", null, "Ctrl ⏎")), csv, status,
        h("span.spacer"), EXAMPLES.map(function (example) {
          return h("button.btn.ghost", { type: "button", onclick: function () { editor.value = example[1]; run(); } }, example[0]);
        })),
      result));
    function run() {
      var sql = editor.value;
      TP.setHashParams("/sql", { sql: sql });
      csv.setAttribute("href", "/api/sql.csv" + TP.query({ sql: sql }));
      status.textContent = "Running…";
      TP.api("/api/sql", { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ sql: sql }) }).then(function (body) {
        status.textContent = fmt.plural(body.row_count, "row") + (body.truncated ? " (first " + fmt.int(body.rows.length) + " shown)" : "") +
          " · " + fmt.duration(body.elapsed_ms);
        TP.clear(result).appendChild(resultTable(body.columns, body.rows));
      }).catch(function (err) {
        status.textContent = "";
        // DuckDB points at the error with a caret under the statement: a fixed-width font keeps
        // the caret under the character it means
        TP.clear(result).appendChild(h("pre.error-box.sql-error", { role: "alert" }, err.message || String(err)));
      });
    }
    run();
  }

  function cellText(v) {
    if (v === null || v === undefined) return h("span.null", null, "NULL");
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  function resultTable(columns, rows) {
    return h("div.table-wrap", null, h("table.grid.sql", null,
      h("thead", null, h("tr", null, columns.map(function (c) { return h("th", null, c); }))),
      h("tbody", null, rows.map(function (r) { return h("tr", null, r.map(function (v) { return h("td", null, cellText(v)); })); }))));
  }

  // ---- Runs and models (shown when the store has them) -------------------------------------
  // Each row links to the traces it produced: the trace list filtered on its id.
  function listPage(title, path, key, idColumn) {
    return function (el) {
      var page = h("div.page", null, h("div.page-head", null, h("h1", null, title)));
      el.appendChild(page);
      TP.api(path).then(function (body) {
        var rows = body[key] || [];
        var cols = body.columns || (rows[0] ? Object.keys(rows[0]) : []);
        if (!rows.length) { page.appendChild(h("div.empty", null, "Nothing recorded yet.")); return; }
        page.appendChild(h("div.table-wrap", null, h("table.grid", null,
          h("thead", null, h("tr", null, cols.map(function (c) { return h("th", null, c.replace(/_/g, " ")); }))),
          h("tbody", null, rows.map(function (r) {
            var filter = idColumn + " = '" + String(r[idColumn]).replace(/'/g, "''") + "'";
            return h("tr", null, cols.map(function (c) {
              var v = r[c];
              if (c === idColumn) return h("td.mono", null, h("a", { href: "#/traces" + TP.query({ filter: filter }) }, String(v)));
              if (/_time$/.test(c)) return h("td.time", { title: v || "" }, v ? fmt.time(v) : "–");
              return h("td", null, cellText(v));
            }));
          })))));
      }).catch(function (err) { page.appendChild(errorBox(err)); });
    };
  }

  TP.pages.sessions = sessionsPage;
  TP.pages.session = sessionPage;
  TP.pages.dashboard = dashboardPage;
  TP.pages.sql = sqlPage;
  TP.pages.runs = listPage("Runs", "/api/runs", "runs", "run_id");
  TP.pages.models = listPage("Models", "/api/models", "models", "model_id");
})(window);
