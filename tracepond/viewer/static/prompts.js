/* tracepond viewer: the Prompts pages. #/prompts lists every prompt; #/prompts/<name> shows its
 * versions with how their traces went (latency, errors, cost, feedback), a diff between two
 * versions, and the traces of one version. All text reaches the page through textContent. */
(function (global) {
  "use strict";
  var TP = global.TP;
  var h = TP.h, fmt = TP.fmt;

  function errorBox(err) { return h("div.error-box", { role: "alert" }, err.message || String(err)); }
  function link(name, params) { return "#/prompts/" + encodeURIComponent(name) + TP.query(params || {}); }
  function aliases(list) {
    return (list || []).slice().sort().map(function (a) { return h("span.badge.alias", null, a); });
  }
  function pct(v) { return v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%"; }
  function feedback(stats) {
    if (stats.feedback_count === null || stats.feedback_count === undefined) return "–";
    return fmt.int(stats.feedback_count) + (stats.feedback_mean === null || stats.feedback_mean === undefined
      ? "" : " · mean " + stats.feedback_mean.toFixed(2));
  }

  function promptsPage(el) {
    var page = h("div.page", null, h("div.page-head", null, h("h1", null, "Prompts"),
      h("span.muted", null, "Versioned prompts and the traces that loaded them")));
    el.appendChild(page);
    TP.api("/api/prompts").then(function (body) {
      if (!body.prompts.length) {
        page.appendChild(h("div.empty", null, "No prompts yet. Register one with tracepond.register_prompt(name, template)."));
        return;
      }
      page.appendChild(h("div.table-wrap", null, h("table.grid.prompts", null,
        h("thead", null, h("tr", null, ["Name", "Latest", "Versions", "Aliases", "Traces", "Updated"].map(function (c) { return h("th", null, c); }))),
        h("tbody", null, body.prompts.map(function (p) {
          return h("tr.row", { onclick: function (e) { if (e.target.tagName !== "A") location.hash = link(p.name); } },
            h("td.mono", null, h("a", { href: link(p.name) }, p.name)),
            h("td.num", null, "v" + p.latest_version), h("td.num", null, fmt.int(p.versions)),
            h("td", null, aliases(p.aliases)), h("td.num", null, fmt.int(p.traces)),
            h("td.time", { title: p.last_updated_time || "" }, fmt.time(p.last_updated_time)));
        })))));
    }).catch(function (err) { page.appendChild(errorBox(err)); });
  }

  function templateView(version) {
    if (typeof version.template === "string") return h("pre.prompt-template", null, version.template);
    return h("div.prompt-chat", null, version.template.map(function (m) {
      return h("div.msg.role-" + String(m.role).toLowerCase().replace(/[^a-z_]/g, ""), null,
        h("div.msg-role", null, m.role), h("div.msg-text", null, m.content));
    }));
  }

  // The trace list's filter for the traces that loaded one version.
  function versionFilter(name, version) {
    return "prompt.name = '" + String(name).replace(/'/g, "''") + "' AND prompt.version = " + version;
  }

  function versionsTable(name, versions, selected) {
    return h("div.table-wrap", null, h("table.grid.prompt-versions", null,
      h("thead", null, h("tr", null, ["Version", "Aliases", "Commit", "Created", "Traces", "p50", "p95", "Errors", "Cost", "Avg cost", "Feedback"]
        .map(function (c) { return h("th", null, c); }))),
      h("tbody", null, versions.map(function (v) {
        var s = v.stats || {};
        return h("tr.row" + (v.version === selected ? ".selected" : ""), { dataset: { version: String(v.version) },
          onclick: function (e) { if (e.target.tagName !== "A") location.hash = link(name, { version: v.version }); } },
          h("td.num", null, h("a", { href: link(name, { version: v.version }) }, "v" + v.version)),
          h("td", null, aliases(v.aliases)), h("td", null, v.commit_message || ""),
          h("td.time", { title: v.create_time }, fmt.time(v.create_time)),
          h("td.num", null, s.traces ? h("a.trace-filter", { href: "#/traces" + TP.query({ filter: versionFilter(name, v.version) }),
            title: "these traces in the trace list" }, fmt.int(s.traces)) : "0"),
          h("td.num", null, fmt.duration(s.p50_ms)),
          h("td.num", null, fmt.duration(s.p95_ms)), h("td.num", null, pct(s.error_rate)),
          h("td.num", null, fmt.cost(s.cost_usd)), h("td.num", null, fmt.cost(s.avg_cost_usd)),
          h("td.num.feedback", null, feedback(s)));
      }))));
  }

  function diffView(name, versions, fromV, toV) {
    var box = h("div.prompt-diff"), out = h("div.diff-lines");
    function picker(label, value) {
      return h("label", null, label + " ", h("select", { "aria-label": label + " version" }, versions.map(function (v) {
        return h("option", { value: v.version, selected: v.version === value }, "v" + v.version);
      })));
    }
    var from = picker("From", fromV), to = picker("to", toV);
    function load() {
      var a = from.querySelector("select").value, b = to.querySelector("select").value;
      TP.api("/api/prompts/" + encodeURIComponent(name) + "/diff" + TP.query({ from: a, to: b })).then(function (d) {
        TP.clear(out);
        var changed = d.lines.some(function (l) { return l.op !== "same"; });
        if (!changed) out.appendChild(h("div.muted", null, "v" + a + " and v" + b + " say the same."));
        d.lines.forEach(function (l) {
          out.appendChild(h("div.diff-line." + l.op, null, h("span.diff-mark", null, l.op === "added" ? "+" : l.op === "removed" ? "−" : " "), l.text));
        });
      }).catch(function (err) { TP.clear(out).appendChild(errorBox(err)); });
    }
    [from, to].forEach(function (p) { p.querySelector("select").addEventListener("change", load); });
    box.appendChild(h("div.toolbar", null, h("h3", null, "Compare"), from, to));
    box.appendChild(out);
    load();
    return box;
  }

  function tracesOf(name, version, box) {
    TP.api("/api/prompts/" + encodeURIComponent(name) + "/versions/" + version + "/traces").then(function (body) {
      TP.clear(box);
      box.appendChild(h("h3", null, "Traces that loaded v" + version));
      if (!body.traces.length) { box.appendChild(h("div.empty", null, "No trace has loaded this version yet.")); return; }
      box.appendChild(h("div.table-wrap", null, h("table.grid.prompt-traces", null,
        h("thead", null, h("tr", null, ["Trace", "Started", "Status", "Latency", "Tokens", "Cost", "Feedback"].map(function (c) { return h("th", null, c); }))),
        h("tbody", null, body.traces.map(function (t) {
          return h("tr", null, h("td", null, h("a", { href: "#/trace/" + t.trace_id }, t.name || t.trace_id)),
            h("td.time", { title: t.start_time }, fmt.time(t.start_time)), h("td", null, TP.statusBadge(t.status)),
            h("td.num", null, fmt.duration(t.duration_ms)),
            h("td.num", null, fmt.int((t.input_tokens || 0) + (t.output_tokens || 0))),
            h("td.num", null, fmt.cost(t.cost_usd)), h("td", null, t.feedback || "–"));
        })))));
    }).catch(function (err) { TP.clear(box).appendChild(errorBox(err)); });
  }

  function promptPage(el, name) {
    var page = h("div.page", null, h("div.crumbs", null, h("a", { href: "#/prompts" }, "← Prompts")));
    el.appendChild(page);
    TP.api("/api/prompts/" + encodeURIComponent(name)).then(function (body) {
      var versions = body.versions, wanted = Number(TP.hashParams().version);
      var current = versions.filter(function (v) { return v.version === wanted; })[0] || versions[0];
      // Compare with the version just before (versions are newest first); the oldest with the next one.
      var before = versions.filter(function (v) { return v.version < current.version; })[0];
      var after = versions.filter(function (v) { return v.version > current.version; }).slice(-1)[0];
      var pair = before ? [before, current] : [current, after || current];
      var traces = h("div.prompt-version-traces");
      page.appendChild(h("div.page-head", null, h("h1", null, "Prompt ", h("code", null, name)),
        h("span.muted", null, versions.length + " version" + (versions.length === 1 ? "" : "s"))));
      page.appendChild(versionsTable(name, versions, current.version));
      var config = current.model_config ? Object.keys(current.model_config).map(function (k) {
        return h("span.fact", null, h("span.fact-key", null, k), JSON.stringify(current.model_config[k]));
      }) : [];
      page.appendChild(h("div.card.prompt-version", null,
        h("div.sd-head", null, h("h2", null, "v" + current.version), aliases(current.aliases),
          h("span.muted", null, current.template_type + " · variables: " + (current.variables.join(", ") || "none"))),
        current.commit_message ? h("div.muted", null, current.commit_message) : null,
        config.length ? h("div.facts", null, config) : null,
        templateView(current)));
      if (versions.length > 1) page.appendChild(diffView(name, versions, pair[0].version, pair[1].version));
      page.appendChild(traces);
      tracesOf(name, current.version, traces);
    }).catch(function (err) { page.appendChild(errorBox(err)); });
  }

  TP.pages.prompts = promptsPage;
  TP.pages.prompt = promptPage;
})(window);
