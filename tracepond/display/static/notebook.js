/* tracepond notebook view: mounts the trace view on the JSON embedded beside this script.
 * The server-free twin of the Trace page: spans carry their full detail, so nothing is fetched. */
(function (global) {
  "use strict";
  var TP = global.TP;

  function mountTrace(el, payload) {
    var byId = new Map(payload.spans.map(function (sp) { return [sp.span_id, sp]; }));
    TP.clear(el);
    el.classList.add("tp-nb-mount");
    return TP.mountTrace(el, payload, { loadSpan: function (id) { return Promise.resolve(byId.get(id)); } });
  }

  TP.notebookMount = function (id) {
    var root = document.getElementById(id);
    if (!root || root.dataset.mounted) return;
    root.dataset.mounted = "1";
    var dataEl = root.querySelector("script.tp-nb-data");
    var data = JSON.parse(dataEl.textContent);
    var body = root.querySelector(".tp-nb-body");
    if (root.dataset.kind === "trace") {
      mountTrace(body.querySelector(".tp-nb-mount") || body, data);
      return;
    }
    var detail = body.querySelector(".tp-list-detail");
    body.querySelectorAll("tr.tp-open").forEach(function (tr) {
      var payload = data.traces[Number(tr.dataset.index)];
      var cells = tr.querySelectorAll("td");
      if (payload && cells[0]) cells[0].textContent = TP.fmt.time(payload.info.start_time);
      if (payload && cells[3]) cells[3].textContent = TP.fmt.duration(payload.info.duration_ms);
      tr.addEventListener("click", function () {
        if (!payload) return;
        body.querySelectorAll("tr.tp-active").forEach(function (r) { r.classList.remove("tp-active"); });
        tr.classList.add("tp-active");
        mountTrace(detail, payload);
      });
    });
  };
})(typeof window !== "undefined" ? window : this);
