/* tracepond viewer: DOM helpers and formatting shared by the pages and the notebook view.
 * Every piece of trace data reaches the page through textContent or an attribute set by
 * setAttribute on a known-safe name: never through innerHTML. */
(function (global) {
  "use strict";
  var TP = global.TP || (global.TP = {});
  var SVG_NS = "http://www.w3.org/2000/svg";

  // h("div.cls#id", {attrs}, child, ...): children are nodes or text (never parsed as HTML).
  function h(spec, attrs) {
    var parts = spec.split(/(?=[.#])/);
    var el = document.createElement(parts[0] || "div");
    applyParts(el, parts);
    applyAttrs(el, attrs);
    appendChildren(el, Array.prototype.slice.call(arguments, 2));
    return el;
  }

  function s(spec, attrs) {
    var parts = spec.split(/(?=[.#])/);
    var el = document.createElementNS(SVG_NS, parts[0]);
    applyParts(el, parts);
    applyAttrs(el, attrs);
    appendChildren(el, Array.prototype.slice.call(arguments, 2));
    return el;
  }

  function applyParts(el, parts) {
    for (var i = 1; i < parts.length; i++) {
      if (parts[i][0] === ".") el.classList.add(parts[i].slice(1));
      else el.id = parts[i].slice(1);
    }
  }

  function applyAttrs(el, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null || value === false) return;
      if (key.slice(0, 2) === "on") el.addEventListener(key.slice(2), value);
      else if (key === "text") el.textContent = String(value);
      else if (key === "class") el.setAttribute("class", value);
      else if (key === "dataset") Object.keys(value).forEach(function (k) { el.dataset[k] = value[k]; });
      else if (key === "href" && !/^(#|\/|\?)/.test(String(value))) el.setAttribute(key, "#");
      else el.setAttribute(key, value === true ? "" : String(value));
    });
  }

  function appendChildren(el, children) {
    children.forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      if (Array.isArray(child)) appendChildren(el, child);
      else if (child instanceof Node) el.appendChild(child);
      else el.appendChild(document.createTextNode(String(child)));
    });
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function fmtDuration(ms) {
    if (ms === null || ms === undefined || isNaN(ms)) return "–";
    if (ms === 0) return "0";
    if (ms < 1) return (ms * 1000).toFixed(0) + " µs";
    if (ms < 1000) return (ms < 10 ? ms.toFixed(1) : ms.toFixed(0)) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
    var m = Math.floor(ms / 60000);
    return m + " m " + Math.round((ms % 60000) / 1000) + " s";
  }

  function fmtInt(n) {
    if (n === null || n === undefined) return "–";
    return Number(n).toLocaleString("en-US");
  }

  function fmtCompact(n) {
    if (n === null || n === undefined || isNaN(n)) return "–";
    var a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(1) + "B";
    if (a >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return (n / 1e3).toFixed(0) + "k";
    if (a >= 1e3) return (n / 1e3).toFixed(1) + "k";
    if (a > 0 && a < 1) return n.toPrecision(2);
    return String(Math.round(n * 100) / 100);
  }

  // "1 trace", "3 traces": as tracepond/display/numbers.py plural()
  function fmtPlural(n, noun, many) {
    return fmtInt(n) + " " + (n === 1 ? noun : (many || noun + "s"));
  }

  function fmtCost(usd) {
    if (usd === null || usd === undefined) return "–";
    if (usd === 0) return "$0";
    // two significant digits below a dollar ($0.000021, $0.0032), cents above: as the CLI
    // and the notebook (tracepond/display/numbers.py)
    if (Math.abs(usd) >= 1) return "$" + usd.toFixed(2);
    return "$" + usd.toFixed(Math.min(20, Math.max(2, 1 - Math.floor(Math.log10(Math.abs(usd))))));
  }

  function parseTime(value) {
    if (value === null || value === undefined) return null;
    var d = new Date(value);
    return isNaN(d.getTime()) ? null : d;
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function fmtTime(value) {
    var d = parseTime(value);
    if (!d) return "–";
    var now = new Date();
    var time = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    if (d.toDateString() === now.toDateString()) return time;
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + time;
  }

  function fmtRelative(value) {
    var d = parseTime(value);
    if (!d) return "";
    var sec = Math.round((Date.now() - d.getTime()) / 1000);
    if (sec < 5) return "just now";
    if (sec < 60) return sec + "s ago";
    if (sec < 3600) return Math.floor(sec / 60) + "m ago";
    if (sec < 86400) return Math.floor(sec / 3600) + "h ago";
    return Math.floor(sec / 86400) + "d ago";
  }

  function statusBadge(status, inProgress) {
    if (inProgress) return h("span.badge.running", { title: "in progress" }, h("span.dot"), "running");
    var cls = status === "ERROR" ? "error" : status === "OK" ? "ok" : "unset";
    return h("span.badge." + cls, null, status || "UNSET");
  }

  // A trace that recovered from a failed step (a retried 429) is not clean even when its root
  // is OK: the marker says how many of its spans failed. Nothing when none did.
  function failedSteps(count) {
    if (!count) return null;
    return h("span.badge.failed", { title: count + " span" + (count === 1 ? "" : "s") + " in status ERROR" },
      count + " failed step" + (count === 1 ? "" : "s"));
  }

  // Parse a JSON string if it is one; anything else is returned as it is.
  function maybeJson(value) {
    if (typeof value !== "string") return value;
    var t = value.trim();
    if (!t || "{[\"".indexOf(t[0]) < 0 && !/^(-?\d|true$|false$|null$)/.test(t)) return value;
    try { return JSON.parse(t); } catch (e) { return value; }
  }

  // A collapsible JSON tree: nested values render lazily on first open.
  function jsonTree(value, openDepth) {
    var root = h("div.json"), parsed = maybeJson(value), depth = openDepth === undefined ? 2 : openDepth;
    // A top-level object shows its entries directly: the outer braces add a click and no meaning.
    if (parsed && typeof parsed === "object" && Object.keys(parsed).length && Object.keys(parsed).length <= 500) {
      Object.keys(parsed).forEach(function (k) { root.appendChild(jsonNode(k, parsed[k], 1, depth)); });
    } else {
      root.appendChild(jsonNode(null, parsed, 0, depth));
    }
    return root;
  }

  function jsonNode(key, value, depth, openDepth) {
    var keyEl = key === null ? null : h("span.json-key", null, key + ": ");
    if (value === null || typeof value !== "object") {
      if (typeof value === "string" && value.length > 0 && "{[".indexOf(value.trim()[0]) >= 0) {
        var parsed = maybeJson(value);
        if (parsed !== value) return jsonNode(key, parsed, depth, openDepth);
      }
      return h("div.json-leaf", null, keyEl, scalar(value));
    }
    var isArray = Array.isArray(value);
    var keys = Object.keys(value);
    var summary = h("summary", null, keyEl,
      h("span.json-brace", null, isArray ? "[" + keys.length + "]" : "{" + keys.length + "}"));
    var details = h("details.json-node", null, summary);
    var filled = false;
    function fill() {
      if (filled) return;
      filled = true;
      var box = h("div.json-children");
      keys.forEach(function (k) { box.appendChild(jsonNode(isArray ? k : k, value[k], depth + 1, openDepth)); });
      details.appendChild(box);
    }
    details.addEventListener("toggle", function () { if (details.open) fill(); });
    if (depth < openDepth && keys.length <= 200) { fill(); details.open = true; }
    return details;
  }

  function scalar(value) {
    if (value === null) return h("span.json-null", null, "null");
    if (typeof value === "string") return h("span.json-str", null, JSON.stringify(value));
    if (typeof value === "number") return h("span.json-num", null, String(value));
    if (typeof value === "boolean") return h("span.json-bool", null, String(value));
    return h("span", null, String(value));
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  TP.h = h;
  TP.s = s;
  TP.clear = clear;
  TP.fmt = {
    duration: fmtDuration, int: fmtInt, compact: fmtCompact, cost: fmtCost, plural: fmtPlural,
    time: fmtTime, relative: fmtRelative, parseTime: parseTime
  };
  TP.statusBadge = statusBadge;
  TP.failedSteps = failedSteps;
  TP.maybeJson = maybeJson;
  TP.jsonTree = jsonTree;
  TP.debounce = debounce;
})(typeof window !== "undefined" ? window : this);
