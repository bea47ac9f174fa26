/* tracepond viewer: the single-page app. Hash routes:
 *   #/traces  #/trace/<id>  #/sessions  #/sessions/<id>  #/dashboard  #/sql  #/runs  #/models
 *   #/prompts  #/prompts/<name>
 *   #/evaluations  #/evaluations/<run>  #/evaluations/compare?a=<run>&b=<run> */
(function (global) {
  "use strict";
  var TP = global.TP;
  var h = TP.h, fmt = TP.fmt;
  var main = null, stopPage = null, features = {};

  function api(path, init) {
    return fetch(path, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json" } }, init || {}))
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (body) {
          if (!resp.ok) {
            var err = new Error(body.error || ("HTTP " + resp.status));
            err.status = resp.status; err.kind = body.kind;
            throw err;
          }
          return body;
        });
      });
  }
  TP.api = api;

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== "") parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }
  TP.query = query;

  function hashParams() {
    var q = location.hash.split("?")[1] || "", out = {};
    q.split("&").forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf("=");
      out[decodeURIComponent(kv.slice(0, i < 0 ? kv.length : i))] = i < 0 ? "" : decodeURIComponent(kv.slice(i + 1));
    });
    return out;
  }
  TP.hashParams = hashParams;

  function setHashParams(path, params) {
    var next = "#" + path + query(params);
    if (location.hash !== next) history.replaceState(null, "", next);
  }
  TP.setHashParams = setHashParams;

  var routes = [
    [/^\/traces$/, function (el) { return TP.pages.traces(el); }],
    [/^\/trace\/([0-9a-f]{32})$/, function (el, m) { return TP.pages.trace(el, m[1]); }],
    [/^\/sessions$/, function (el) { return TP.pages.sessions(el); }],
    [/^\/sessions\/(.+)$/, function (el, m) { return TP.pages.session(el, decodeURIComponent(m[1])); }],
    [/^\/dashboard$/, function (el) { return TP.pages.dashboard(el); }],
    [/^\/sql$/, function (el) { return TP.pages.sql(el); }],
    [/^\/runs$/, function (el) { return TP.pages.runs(el); }],
    [/^\/models$/, function (el) { return TP.pages.models(el); }],
    [/^\/prompts$/, function (el) { return TP.pages.prompts(el); }],
    [/^\/prompts\/([^/?]+)$/, function (el, m) { return TP.pages.prompt(el, decodeURIComponent(m[1])); }],
    [/^\/evaluations$/, function (el) { return TP.pages.evaluations(el); }],
    [/^\/evaluations\/compare$/, function (el) { return TP.pages.evaluationCompare(el); }],
    [/^\/evaluations\/([^/]+)$/, function (el, m) { return TP.pages.evaluation(el, decodeURIComponent(m[1])); }]
  ];

  function route() {
    var path = (location.hash.replace(/^#/, "").split("?")[0]) || "/traces";
    if (stopPage) { stopPage(); stopPage = null; }
    document.querySelectorAll(".nav a").forEach(function (a) {
      var target = a.getAttribute("href").slice(1);
      a.classList.toggle("active", path === target || (target === "/traces" && path.indexOf("/trace/") === 0) ||
        (target !== "/traces" && path.indexOf(target + "/") === 0));
    });
    for (var i = 0; i < routes.length; i++) {
      var m = path.match(routes[i][0]);
      if (m) {
        TP.clear(main);
        stopPage = routes[i][1](main, m) || null;
        return;
      }
    }
    TP.clear(main).appendChild(h("div.empty.page-empty", null, "Nothing here: no page is called " +
      JSON.stringify(location.hash.slice(1) || "/") + ". ", h("a", { href: "#/traces" }, "Back to traces")));
  }

  function navLink(path, label, hidden) {
    var a = h("a", { href: "#" + path }, label);
    if (hidden) a.hidden = true;
    return a;
  }

  function start() {
    main = document.getElementById("main");
    var nav = document.getElementById("nav");
    var runs = navLink("/runs", "Runs", true), models = navLink("/models", "Models", true);
    [navLink("/traces", "Traces"), navLink("/sessions", "Sessions"), navLink("/dashboard", "Dashboard"),
      navLink("/sql", "SQL"), navLink("/evaluations", "Evaluations"), runs, models, navLink("/prompts", "Prompts")].forEach(function (a) { nav.appendChild(a); });
    api("/api/health").then(function (info) {
      features = info.features || {};
      runs.hidden = !features.runs;
      models.hidden = !features.models;
      var v = document.getElementById("version");
      if (v) v.textContent = "v" + info.version + " · " + (info.store_name || "");
    }).catch(function () { /* the page still works; the footer stays blank */ });
    global.addEventListener("hashchange", route);
    route();
  }

  TP.features = function () { return features; };
  TP.pages = TP.pages || {};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})(window);
