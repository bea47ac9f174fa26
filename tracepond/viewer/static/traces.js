/* tracepond viewer: the Traces table (filter, time range, sort, paging, live updates) and the
 * Trace page (TraceView over /api/traces/<id>, span detail fetched on selection). */
(function (global) {
  "use strict";
  var TP = global.TP;
  var h = TP.h, fmt = TP.fmt;
  TP.pages = TP.pages || {};
  var PAGE = 50, POLL_MS = 3000;
  var RANGES = [["15m", "Last 15 minutes"], ["1h", "Last hour"], ["24h", "Last 24 hours"],
    ["7d", "Last 7 days"], ["30d", "Last 30 days"], ["all", "All time"]];
  var COLUMNS = [
    ["start_time", "Time"], ["name", "Name"], ["status", "Status"], ["duration_ms", "Duration"],
    ["total_tokens", "Tokens"], ["cost_usd", "Cost"], ["session_id", "Session"], ["user_id", "User"],
    ["model", "Model"], ["run_id", "Run"]
  ];

  function tracesPage(el) {
    var params = TP.hashParams();
    var state = {
      filter: params.filter || "", range: params.range || "all", sort: params.sort || "start_time",
      order: params.order || "desc", offset: parseInt(params.offset || "0", 10) || 0,
      rows: [], cursor: null, hasMore: false, live: true
    };
    var filterInput = h("input.filter-input", {
      type: "text", value: state.filter, spellcheck: "false", "aria-label": "Filter traces",
      placeholder: "status = 'ERROR' and span.model = 'gpt-4o-mini'",
      onkeydown: function (e) { if (e.key === "Enter") apply(); }
    });
    var filterError = h("div.filter-error", { role: "alert" });
    var rangeSelect = h("select.range", { "aria-label": "Time range", onchange: function () { state.range = rangeSelect.value; state.offset = 0; load(); } },
      RANGES.map(function (r) { return h("option", { value: r[0], selected: r[0] === state.range }, r[1]); }));
    var liveBox = h("input", { type: "checkbox", checked: true, onchange: function () { state.live = liveBox.checked; } });
    var summary = h("span.muted.summary");
    var thead = h("thead"), tbody = h("tbody");
    var pager = h("div.pager");
    el.appendChild(h("div.page", null,
      h("div.page-head", null, h("h1", null, "Traces"), summary),
      h("div.toolbar", null,
        h("div.filter-box", null, h("span.filter-icon", null, "⌕"), filterInput,
          h("button.btn.primary", { type: "button", onclick: apply }, "Apply")),
        rangeSelect,
        h("label.live", { title: "Show new traces as they arrive" }, liveBox, " Live")),
      filterError,
      h("div.table-wrap", null, h("table.grid.traces", null, thead, tbody)),
      pager));

    function apply() { state.filter = filterInput.value.trim(); state.offset = 0; load(); }

    function requestParams(extra) {
      return Object.assign({ filter: state.filter, range: state.range, sort: state.sort, order: state.order,
        limit: PAGE, offset: state.offset }, extra || {});
    }

    function load() {
      TP.setHashParams("/traces", { filter: state.filter, range: state.range === "all" ? "" : state.range,
        sort: state.sort === "start_time" ? "" : state.sort, order: state.order === "desc" ? "" : state.order,
        offset: state.offset || "" });
      tbody.classList.add("loading");
      return TP.api("/api/traces" + TP.query(requestParams())).then(function (body) {
        filterError.textContent = "";
        filterInput.classList.remove("invalid");
        state.rows = body.traces;
        state.cursor = body.cursor;
        state.hasMore = body.has_more;
        drawHead(); drawRows(new Set()); drawPager();
        countMatches();
      }).catch(function (err) {
        if (err.status === 400) {
          filterError.textContent = err.message;
          filterInput.classList.add("invalid");
          // the rows on screen answer the previous filter, not this one: they go
          state.rows = []; state.hasMore = false;
          TP.clear(tbody).appendChild(h("tr", null, h("td.empty", { colspan: COLUMNS.length },
            "Fix the filter to see traces: " + err.message)));
          drawPager();
        } else {
          filterError.textContent = "Could not load traces: " + err.message;
        }
      }).then(function () { tbody.classList.remove("loading"); });
    }

    // The total comes after the page: counting every match can take longer than the page.
    function countMatches() {
      var asked = state.filter + "|" + state.range;
      summary.textContent = "";
      TP.api("/api/traces/count" + TP.query({ filter: state.filter, range: state.range })).then(function (body) {
        if (asked === state.filter + "|" + state.range) summary.textContent = fmt.plural(body.total, "trace");
      }).catch(function () { /* the page is shown; the count is a nicety */ });
    }

    // New traces since the cursor, and traces still in progress on this page, merged in place.
    function poll() {
      if (!state.live || !state.cursor || document.hidden) return;
      var running = state.rows.filter(function (r) { return r.in_progress; }).map(function (r) { return r.trace_id; });
      TP.api("/api/traces" + TP.query(requestParams({ since: state.cursor, ids: running.join(","), offset: 0 })))
        .then(function (body) {
          state.cursor = body.cursor || state.cursor;
          if (!body.traces.length) return;
          var byId = new Map(state.rows.map(function (r) { return [r.trace_id, r]; }));
          var fresh = new Set();
          body.traces.forEach(function (t) {
            if (byId.has(t.trace_id)) {
              var i = state.rows.indexOf(byId.get(t.trace_id));
              state.rows[i] = t;
            } else if (state.offset === 0 && state.sort === "start_time" && state.order === "desc") {
              fresh.add(t.trace_id);
              state.rows.unshift(t);
            }
          });
          state.rows.sort(function (a, b) { return a.start_time < b.start_time ? 1 : a.start_time > b.start_time ? -1 : 0; });
          if (state.sort !== "start_time" || state.order !== "desc") return drawRows(fresh);
          state.rows = state.rows.slice(0, PAGE);
          drawRows(fresh);
        }).catch(function () { /* a missed poll is retried on the next tick */ });
    }

    function drawHead() {
      TP.clear(thead).appendChild(h("tr", null, COLUMNS.map(function (c) {
        var active = state.sort === c[0];
        return h("th.sortable" + (active ? ".sorted" : ""), {
          onclick: function () {
            if (state.sort === c[0]) state.order = state.order === "desc" ? "asc" : "desc";
            else { state.sort = c[0]; state.order = c[0] === "name" ? "asc" : "desc"; }
            state.offset = 0; load();
          }, "aria-sort": active ? (state.order === "desc" ? "descending" : "ascending") : null
        }, c[1], active ? h("span.arrow", null, state.order === "desc" ? " ↓" : " ↑") : null);
      })));
    }

    function drawRows(fresh) {
      TP.clear(tbody);
      if (!state.rows.length) {
        tbody.appendChild(h("tr", null, h("td.empty", { colspan: COLUMNS.length },
          state.filter ? "No traces match this filter." : "No traces yet. Run an instrumented app, or send OTLP to /v1/traces.")));
        return;
      }
      state.rows.forEach(function (t) {
        var link = "#/trace/" + t.trace_id;
        var tr = h("tr.row" + (fresh.has(t.trace_id) ? ".fresh" : "") + (t.status === "ERROR" ? ".err" : ""),
          { dataset: { traceId: t.trace_id }, onclick: function (e) { if (e.target.tagName !== "A") location.hash = link; } },
          h("td.time", { title: t.start_time }, fmt.time(t.start_time)),
          h("td.name", null, h("a", { href: link }, t.name || "(unnamed)")),
          h("td", null, TP.statusBadge(t.status, t.in_progress), " ", TP.failedSteps(t.error_count)),
          h("td.num", null, t.in_progress ? "–" : fmt.duration(t.duration_ms)),
          h("td.num", { title: fmt.int(t.input_tokens) + " in / " + fmt.int(t.output_tokens) + " out" }, t.total_tokens ? fmt.int(t.total_tokens) : "–"),
          h("td.num", null, t.cost_usd ? fmt.cost(t.cost_usd) : "–"),
          h("td.mono", null, t.session_id ? h("a", { href: "#/sessions/" + encodeURIComponent(t.session_id) }, t.session_id) : ""),
          h("td.mono", null, t.user_id || ""),
          h("td", null, t.model ? h("span.chip", null, t.model) : ""),
          h("td.mono.short", { title: t.run_id || "" }, t.run_id ? t.run_id.slice(0, 8) : ""));
        tbody.appendChild(tr);
      });
    }

    function drawPager() {
      var from = state.rows.length ? state.offset + 1 : 0, to = state.offset + state.rows.length;
      TP.clear(pager).appendChild(h("div.pager-inner", null,
        h("button.btn", { type: "button", disabled: state.offset === 0,
          onclick: function () { state.offset = Math.max(0, state.offset - PAGE); load(); } }, "← Newer"),
        h("span.muted", null, from + "–" + to),
        h("button.btn", { type: "button", disabled: !state.hasMore,
          onclick: function () { state.offset += PAGE; load(); } }, "Older →")));
    }

    drawHead();
    load();
    var timer = setInterval(poll, POLL_MS);
    return function () { clearInterval(timer); };
  }

  // The prompt versions this trace loaded, each a link to its Prompts page.
  function promptLinks(prompts) {
    if (!prompts || !prompts.length) return null;
    return h("span.trace-prompts", null, "Prompts: ", prompts.map(function (p, i) {
      return [i ? ", " : null, h("a", { href: "#/prompts/" + encodeURIComponent(p.name) + "?version=" + p.version }, p.name + " v" + p.version)];
    }));
  }

  function tracePage(el, traceId) {
    el.appendChild(h("div.empty.page-empty", null, "Loading trace…"));
    var t0 = performance.now(), timer = null, stopped = false, view = null;
    function load(first) {
      return TP.api("/api/traces/" + traceId).then(function (trace) {
        if (stopped) return;
        if (first) global.__tpFetchMs = performance.now() - t0;
        var selected = view ? view.selected : null;
        var box = h("div.trace-page");
        TP.clear(el).appendChild(h("div.crumbs", null, h("a", { href: "#/traces" }, "← Traces"),
          trace.info.in_progress ? h("span.running-note", null, TP.statusBadge(null, true),
            " still running: finished spans appear as they are written") : null,
          promptLinks(trace.info.prompts)));
        if (TP.mountAssessments) TP.mountAssessments(el, traceId);
        el.appendChild(box);
        view = TP.mountTrace(box, trace, {
          selected: selected,
          loadSpan: function (spanId) { return TP.api("/api/traces/" + traceId + "/spans/" + spanId); }
        });
        if (first) {
          // Read by the browser benchmark: time from request to first drawn rows.
          requestAnimationFrame(function () {
            global.__tpRenderMs = performance.now() - t0;
            global.__tpDrawnAt = performance.now();  // since navigation started
            document.body.dataset.rendered = "1";
          });
        }
        if (trace.info.in_progress) timer = setTimeout(function () { load(false); }, 3000);
      }).catch(function (err) {
        if (stopped) return;
        TP.clear(el).appendChild(h("div.page", null, h("div.error-box", null,
          // the API says why (no such trace, not a trace id, the store unreadable): show it
          (err.status === 404 ? "No trace with id " + traceId + ": " : "Could not load trace: ") + err.message),
          h("a", { href: "#/traces" }, "← Back to traces")));
      });
    }
    load(true);
    return function () { stopped = true; clearTimeout(timer); };
  }

  TP.pages.traces = tracesPage;
  TP.pages.trace = tracePage;
})(window);
