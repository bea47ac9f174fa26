/* tracepond viewer: one trace as a span tree beside a waterfall timeline.
 * Rows are virtualized: only the rows in view (plus a margin) exist in the DOM, so a trace of
 * 50,000 spans opens and scrolls like one of fifty. Used by the web app and the notebook view. */
(function (global) {
  "use strict";
  var TP = global.TP;
  var h = TP.h, fmt = TP.fmt;
  var ROW_H = 26, OVERSCAN = 12, INDENT = 14;

  // Parent/children links and depth, children in start order. Spans whose parent is missing
  // (still in flight, or dropped) are shown as roots rather than hidden.
  function buildTree(spans) {
    var byId = new Map(), children = new Map(), roots = [];
    spans.forEach(function (span) { byId.set(span.span_id, span); });
    spans.forEach(function (span) {
      var parent = span.parent_span_id;
      if (parent && byId.has(parent) && parent !== span.span_id) {
        var list = children.get(parent);
        if (!list) children.set(parent, (list = []));
        list.push(span);
      } else {
        roots.push(span);
      }
    });
    var byStart = function (a, b) { return (a.start_offset_ms || 0) - (b.start_offset_ms || 0); };
    roots.sort(byStart);
    children.forEach(function (list) { list.sort(byStart); });
    var depth = new Map(), stack = roots.map(function (r) { return [r, 0]; });
    while (stack.length) {
      var item = stack.pop();
      if (depth.has(item[0].span_id)) continue; // a cycle in bad data must not hang the page
      depth.set(item[0].span_id, item[1]);
      (children.get(item[0].span_id) || []).forEach(function (c) { stack.push([c, item[1] + 1]); });
    }
    return { byId: byId, children: children, roots: roots, depth: depth };
  }

  function niceStep(total, target) {
    var raw = total / Math.max(1, target);
    var mag = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-6))));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * mag >= raw) return steps[i] * mag;
    return 10 * mag;
  }

  function TraceView(container, trace, options) {
    this.container = container;
    this.trace = trace;
    this.options = options || {};
    this.tree = buildTree(trace.spans);
    this.collapsed = new Set();
    this.query = "";
    this.selected = null;
    this.rows = [];
    this.total = Math.max(trace.info.duration_ms || 0, 0.001);
    var self = this;
    trace.spans.forEach(function (sp) {
      var end = (sp.start_offset_ms || 0) + (sp.duration_ms || 0);
      if (end > self.total) self.total = end;
    });
    this.autoCollapse();
    this.render();
  }

  // Very large traces open with deep levels folded so the first screen reads as an outline.
  TraceView.prototype.autoCollapse = function () {
    var n = this.trace.spans.length, self = this;
    if (n <= 2000) return;
    this.tree.children.forEach(function (list, id) {
      if ((self.tree.depth.get(id) || 0) >= 1 && list.length > 0) self.collapsed.add(id);
    });
  };

  TraceView.prototype.render = function () {
    var self = this, info = this.trace.info;
    this.searchInput = h("input.tv-search", {
      type: "search", placeholder: "Search span names…", "aria-label": "Search span names",
      oninput: TP.debounce(function () { self.setQuery(self.searchInput.value); }, 120)
    });
    this.matchCount = h("span.tv-matches");
    this.scroller = h("div.tv-scroll", { tabindex: "0", onscroll: function () { self.schedule(); },
      onkeydown: function (e) { self.onKey(e); } });
    this.spacer = h("div.tv-spacer");
    this.scroller.appendChild(this.spacer);
    this.detail = h("div.tv-detail", null, h("div.empty", null, "Select a span to see its details."));
    var left = h("div.tv-left", null,
      h("div.tv-toolbar", null, this.searchInput, this.matchCount,
        h("button.btn.ghost", { type: "button", onclick: function () { self.expandAll(); } }, "Expand all"),
        h("button.btn.ghost", { type: "button", onclick: function () { self.collapseAll(); } }, "Collapse")),
      h("div.tv-colhead", null, h("div.tv-treehead", null, "Span"), this.axis()),
      this.scroller);
    TP.clear(this.container).appendChild(h("div.tv", null, header(info, this.trace.spans.length),
      h("div.tv-body", null, left, this.detail)));
    this.refresh();
    var keep = this.options.selected && this.tree.byId.has(this.options.selected) ? this.options.selected : null;
    var first = this.visible[0];
    if (keep || first) this.select(keep || first.span_id);
    else TP.clear(this.detail).appendChild(h("div.empty", null, this.trace.info.in_progress
      ? "No span of this trace has finished yet." : "This trace has no spans."));
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(function () { self.schedule(); }).observe(this.scroller);
    }
  };

  TraceView.prototype.axis = function () {
    var step = niceStep(this.total, 5), axis = h("div.tv-axis");
    for (var t = 0; t <= this.total + 1e-9; t += step) {
      var tick = h("span.tv-tick", null, fmt.duration(t));
      tick.style.left = (t / this.total * 100) + "%";
      axis.appendChild(tick);
    }
    return axis;
  };

  TraceView.prototype.setQuery = function (q) {
    this.query = q.trim().toLowerCase();
    this.refresh();
  };

  TraceView.prototype.expandAll = function () { this.collapsed.clear(); this.refresh(); };
  TraceView.prototype.collapseAll = function () {
    var self = this;
    this.tree.roots.forEach(function (r) { if (self.tree.children.has(r.span_id)) self.collapsed.add(r.span_id); });
    this.refresh();
  };

  TraceView.prototype.toggle = function (spanId) {
    if (this.collapsed.has(spanId)) this.collapsed.delete(spanId);
    else this.collapsed.add(spanId);
    this.refresh();
  };

  // The list of rows to show: depth-first, skipping folded subtrees; with a search, the
  // matches and their ancestors (folding is ignored so no match hides).
  TraceView.prototype.computeVisible = function () {
    var tree = this.tree, query = this.query, keep = null, matches = 0;
    if (query) {
      keep = new Set();
      this.trace.spans.forEach(function (sp) {
        if ((sp.name || "").toLowerCase().indexOf(query) < 0) return;
        matches++;
        var id = sp.span_id, guard = 0;
        while (id && !keep.has(id) && guard++ < 10000) {
          keep.add(id);
          var parent = tree.byId.get(id);
          id = parent ? parent.parent_span_id : null;
        }
      });
    }
    var out = [], stack = tree.roots.slice().reverse(), seen = new Set();
    while (stack.length) {
      var span = stack.pop();
      if (seen.has(span.span_id)) continue;
      seen.add(span.span_id);
      if (keep && !keep.has(span.span_id)) continue;
      out.push(span);
      var kids = tree.children.get(span.span_id);
      if (kids && (keep || !this.collapsed.has(span.span_id))) {
        for (var i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
      }
    }
    this.matches = matches;
    return out;
  };

  TraceView.prototype.refresh = function () {
    this.visible = this.computeVisible();
    this.version = (this.version || 0) + 1;  // every row's content may have moved
    this.spacer.style.height = (this.visible.length * ROW_H) + "px";
    this.matchCount.textContent = this.query ? this.matches + " match" + (this.matches === 1 ? "" : "es") : "";
    this.draw();
  };

  TraceView.prototype.schedule = function () {
    var self = this;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(function () { self.pending = false; self.draw(); });
  };

  // Draw only the rows in the viewport. Row elements are recycled by index modulo the pool
  // size, so while scrolling a row that stays in view keeps its content and is not rewritten.
  TraceView.prototype.draw = function () {
    var top = this.scroller.scrollTop, height = this.scroller.clientHeight || 600;
    var first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    var last = Math.min(this.visible.length, Math.ceil((top + height) / ROW_H) + OVERSCAN);
    var needed = Math.ceil(height / ROW_H) + 2 * OVERSCAN + 2;
    if (this.rows.length < needed) {
      while (this.rows.length < needed) {
        var row = this.makeRow();
        this.rows.push(row);
        this.spacer.appendChild(row.el);
      }
      this.rows.forEach(function (r) { r.index = -1; });
    }
    var pool = this.rows.length, used = new Array(pool);
    for (var index = first; index < last; index++) {
      var slot = index % pool, r2 = this.rows[slot];
      used[slot] = true;
      if (r2.index !== index || r2.version !== this.version) this.fillRow(r2, index);
      else r2.el.classList.toggle("selected", this.visible[index].span_id === this.selected);
    }
    for (var i = 0; i < pool; i++) {
      if (!used[i] && this.rows[i].index !== -1) { this.rows[i].el.style.display = "none"; this.rows[i].index = -1; }
    }
  };

  TraceView.prototype.makeRow = function () {
    var self = this;
    var row = {
      toggle: h("span.tv-toggle"), type: h("span.tv-type"), name: h("span.tv-name"),
      dur: h("span.tv-dur"), bar: h("div.tv-bar"), barLabel: h("span.tv-barlabel"), index: -1
    };
    row.tree = h("div.tv-treecell", null, row.toggle, row.type, row.name, row.dur);
    row.lane = h("div.tv-lane", null, row.bar, row.barLabel);
    row.el = h("div.tv-row", { role: "treeitem" }, row.tree, row.lane);
    row.el.style.display = "none";  // shown when a span is drawn into it
    row.toggle.addEventListener("click", function (e) {
      e.stopPropagation();
      var span = self.visible[row.index];
      if (span && self.tree.children.has(span.span_id)) self.toggle(span.span_id);
    });
    row.el.addEventListener("click", function () {
      var span = self.visible[row.index];
      if (span) self.select(span.span_id);
    });
    return row;
  };

  TraceView.prototype.fillRow = function (row, index) {
    var span = this.visible[index], el = row.el;
    row.index = index;
    row.version = this.version;
    el.style.display = "";
    el.style.transform = "translateY(" + (index * ROW_H) + "px)";
    el.dataset.spanId = span.span_id;
    var hasKids = this.tree.children.has(span.span_id);
    var open = this.query || !this.collapsed.has(span.span_id);
    row.toggle.textContent = hasKids ? (open ? "▾" : "▸") : "";
    row.toggle.classList.toggle("has-kids", hasKids);
    row.tree.style.paddingLeft = (6 + (this.tree.depth.get(span.span_id) || 0) * INDENT) + "px";
    var type = span.span_type || "UNKNOWN";
    row.type.textContent = typeLabel(type);
    row.type.className = "tv-type t-" + type.toLowerCase();
    row.name.textContent = span.name || "(unnamed)";
    row.name.classList.toggle("match", !!this.query && (span.name || "").toLowerCase().indexOf(this.query) >= 0);
    row.dur.textContent = span.in_progress ? "running" : fmt.duration(span.duration_ms);
    var left = (span.start_offset_ms || 0) / this.total * 100;
    var width = Math.max((span.duration_ms || 0) / this.total * 100, 0.15);
    row.bar.style.left = left + "%";
    row.bar.style.width = Math.min(width, 100 - left) + "%";
    row.bar.className = "tv-bar t-" + type.toLowerCase() + (span.status === "ERROR" ? " err" : "") +
      (span.in_progress ? " running" : "");
    row.barLabel.textContent = fmt.duration(span.duration_ms);
    // The duration label sits after the bar; near the right edge before it; on a wide bar inside.
    var place = width > 40 ? "inside" : left + width > 82 ? "before" : "after";
    row.barLabel.style.left = place === "after" ? (left + width) + "%" : "";
    row.barLabel.style.right = place === "before" ? (100 - left) + "%" : place === "inside" ? (100 - left - width) + "%" : "";
    row.barLabel.className = "tv-barlabel " + place;
    el.classList.toggle("selected", span.span_id === this.selected);
    el.classList.toggle("error", span.status === "ERROR");
    el.setAttribute("aria-expanded", hasKids ? String(!!open) : "false");
  };

  TraceView.prototype.select = function (spanId) {
    this.selected = spanId;
    this.draw();
    var span = this.tree.byId.get(spanId), self = this;
    if (!span) return;
    TP.clear(this.detail).appendChild(h("div.empty", null, "Loading…"));
    var load = this.options.loadSpan ? this.options.loadSpan(spanId) : Promise.resolve(span);
    load.then(function (full) {
      if (self.selected !== spanId) return;
      TP.clear(self.detail).appendChild(TP.spanDetail(full || span, self.trace.info));
    }).catch(function (err) {
      TP.clear(self.detail).appendChild(h("div.error-box", null, "Could not load span: " + err.message));
    });
  };

  TraceView.prototype.onKey = function (e) {
    var idx = -1, self = this;
    for (var i = 0; i < this.visible.length; i++) if (this.visible[i].span_id === this.selected) { idx = i; break; }
    var span = this.visible[idx];
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      var next = this.visible[Math.max(0, Math.min(this.visible.length - 1, idx + (e.key === "ArrowDown" ? 1 : -1)))];
      if (next) { this.select(next.span_id); this.scrollTo(next); }
    } else if ((e.key === "ArrowLeft" || e.key === "ArrowRight") && span && this.tree.children.has(span.span_id)) {
      var folded = this.collapsed.has(span.span_id);
      if ((e.key === "ArrowLeft") !== folded) self.toggle(span.span_id);
    } else {
      return;
    }
    e.preventDefault();
  };

  TraceView.prototype.scrollTo = function (span) {
    var idx = this.visible.indexOf(span), top = idx * ROW_H, sc = this.scroller;
    if (top < sc.scrollTop) sc.scrollTop = top;
    else if (top + ROW_H > sc.scrollTop + sc.clientHeight) sc.scrollTop = top + ROW_H - sc.clientHeight;
  };

  function typeLabel(type) {
    var labels = { CHAT_MODEL: "CHAT", LLM: "LLM", EMBEDDING: "EMB", TOOL: "TOOL", RETRIEVER: "RETR",
      RERANKER: "RANK", CHAIN: "CHAIN", AGENT: "AGENT", PARSER: "PARSE", UNKNOWN: "SPAN" };
    return labels[type] || type.slice(0, 5);
  }

  function header(info, spanCount) {
    var tokens = (info.input_tokens || 0) + (info.output_tokens || 0);
    function stat(label, value, title) {
      return h("div.stat", { title: title || null }, h("div.stat-label", null, label), h("div.stat-value", null, value));
    }
    var meta = h("div.tv-meta");
    [["session", info.session_id, "#/sessions/"], ["user", info.user_id], ["run", info.run_id],
      ["model", info.model], ["trace", info.trace_id]].forEach(function (m) {
      if (!m[1]) return;
      var value = m[2] ? h("a", { href: m[2] + encodeURIComponent(m[1]) }, m[1]) : h("code", null, m[1]);
      meta.appendChild(h("span.meta-item", null, h("span.meta-key", null, m[0]), value));
    });
    return h("div.tv-header", null,
      h("div.tv-title", null, h("h1", null, info.name || "(unnamed trace)"), TP.statusBadge(info.status, info.in_progress),
        TP.failedSteps(info.error_count), h("span.muted", null, fmt.time(info.start_time))),
      h("div.stats", null,
        stat("Duration", fmt.duration(info.duration_ms)),
        stat("Spans", fmt.int(spanCount)),
        stat("Tokens", tokens ? fmt.int(tokens) : "–", fmt.int(info.input_tokens) + " in / " + fmt.int(info.output_tokens) + " out"),
        stat("Cost", fmt.cost(info.cost_usd)),
        stat("Status", info.in_progress ? "running" : (info.status || "UNSET"))),
      meta);
  }

  TP.TraceView = TraceView;
  TP.buildTree = buildTree;
  TP.niceStep = niceStep;
  // The API sends the outline column by column ({span_id: [...], name: [...]}); rows are
  // rebuilt here once. A span without a duration has not ended yet.
  function spansFromColumns(c) {
    var n = c.span_id ? c.span_id.length : 0, out = new Array(n);
    var known = { span_id: 1, parent_span_id: 1, name: 1, span_type: 1, status: 1, start_offset_ms: 1,
      duration_ms: 1, model: 1, input_tokens: 1, output_tokens: 1, cost_usd: 1 };
    var extra = Object.keys(c).filter(function (k) { return !known[k]; });
    var none = [];
    var model = c.model || none, tin = c.input_tokens || none, tout = c.output_tokens || none, cost = c.cost_usd || none;
    for (var i = 0; i < n; i++) {
      // One object literal per span: every span gets the same shape, which keeps V8 fast.
      var span = {
        span_id: c.span_id[i], parent_span_id: c.parent_span_id[i], name: c.name[i], span_type: c.span_type[i],
        status: c.status[i], start_offset_ms: c.start_offset_ms[i], duration_ms: c.duration_ms[i],
        model: model[i], input_tokens: tin[i], output_tokens: tout[i], cost_usd: cost[i],
        in_progress: c.duration_ms[i] === null
      };
      for (var k = 0; k < extra.length; k++) span[extra[k]] = c[extra[k]][i];
      out[i] = span;
    }
    return out;
  }

  TP.spansFromColumns = spansFromColumns;
  TP.mountTrace = function (container, trace, options) {
    if (!Array.isArray(trace.spans)) trace = { info: trace.info, spans: spansFromColumns(trace.spans) };
    return (TP.lastView = new TraceView(container, trace, options));
  };
})(typeof window !== "undefined" ? window : this);
