/* tracepond viewer: small SVG time-series charts (lines, bars, stacked bars) with a hover read-out.
 * chart({x: [ms...], series: [{name, values}], kind, yFormat}) -> element. */
(function (global) {
  "use strict";
  var TP = global.TP;
  var h = TP.h, s = TP.s;
  var W = 640, H = 220, PAD = { l: 52, r: 14, t: 12, b: 26 };
  var PALETTE = ["#6366f1", "#0ea5e9", "#f59e0b", "#10b981", "#ec4899", "#8b5cf6", "#14b8a6", "#f97316"];

  function niceMax(v) {
    if (!(v > 0)) return 1;
    var mag = Math.pow(10, Math.floor(Math.log10(v))), n = v / mag;
    var step = n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10;
    return step * mag;
  }

  function timeLabel(ms, spanMs) {
    var d = new Date(ms);
    var hm = String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
    if (spanMs > 2 * 86400000) return (d.getMonth() + 1) + "/" + d.getDate() + " " + hm;
    return hm;
  }

  function chart(opts) {
    var x = opts.x || [], series = (opts.series || []).filter(function (sr) { return sr.values && sr.values.length; });
    var kind = opts.kind || "line", yFormat = opts.yFormat || TP.fmt.compact;
    var wrap = h("div.chart");
    if (!x.length || !series.length) {
      wrap.appendChild(h("div.chart-empty", null, opts.empty || "No data in this time range."));
      return wrap;
    }
    series.forEach(function (sr, i) { sr.color = sr.color || PALETTE[i % PALETTE.length]; });
    var stacked = kind === "stacked";
    var maxY = 0;
    x.forEach(function (_, i) {
      var sum = 0;
      series.forEach(function (sr) {
        var v = sr.values[i] || 0;
        if (stacked) sum += v; else if (v > maxY) maxY = v;
      });
      if (stacked && sum > maxY) maxY = sum;
    });
    maxY = opts.maxY || Math.max(niceMax(maxY / 4) * 4, opts.minMaxY || 0);  // four round grid steps
    var x0 = x[0], x1 = x[x.length - 1], spanMs = Math.max(x1 - x0, 1);
    var iw = W - PAD.l - PAD.r, ih = H - PAD.t - PAD.b;
    var slot = iw / x.length;
    function px(i) { return PAD.l + (x.length === 1 ? iw / 2 : (kind === "line" ? i * iw / (x.length - 1) : (i + 0.5) * slot)); }
    function py(v) { return PAD.t + ih - (v / maxY) * ih; }
    var svg = s("svg.chart-svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img",
      "aria-label": opts.title || "chart" });
    for (var g = 0; g <= 4; g++) {
      var gv = maxY * g / 4, gy = py(gv);
      svg.appendChild(s("line.grid", { x1: PAD.l, x2: W - PAD.r, y1: gy, y2: gy }));
      svg.appendChild(s("text.axis-label", { x: PAD.l - 6, y: gy + 4, "text-anchor": "end" }, yFormat(gv)));
    }
    var ticks = Math.min(6, x.length);
    for (var t = 0; t < ticks; t++) {
      var idx = Math.round(t * (x.length - 1) / Math.max(1, ticks - 1));
      // the first and last labels hang inside the chart: centred, they would be cut at its edges
      var anchor = ticks > 1 && t === 0 ? "start" : ticks > 1 && t === ticks - 1 ? "end" : "middle";
      svg.appendChild(s("text.axis-label", { x: px(idx), y: H - 8, "text-anchor": anchor }, timeLabel(x[idx], spanMs)));
    }
    if (kind === "line") drawLines(svg, series, x, px, py);
    else drawBars(svg, series, x, px, py, slot, stacked);
    var hover = s("line.hover-line", { x1: 0, x2: 0, y1: PAD.t, y2: PAD.t + ih, visibility: "hidden" });
    svg.appendChild(hover);
    var tip = h("div.chart-tip");
    tip.style.display = "none";
    var overlay = s("rect.overlay", { x: PAD.l, y: PAD.t, width: iw, height: ih });
    overlay.addEventListener("mousemove", function (e) {
      var rect = svg.getBoundingClientRect();
      var vx = (e.clientX - rect.left) / rect.width * W;
      var i = kind === "line" ? Math.round((vx - PAD.l) / iw * (x.length - 1)) : Math.floor((vx - PAD.l) / slot);
      i = Math.max(0, Math.min(x.length - 1, i));
      hover.setAttribute("x1", px(i)); hover.setAttribute("x2", px(i)); hover.setAttribute("visibility", "visible");
      TP.clear(tip).appendChild(h("div.tip-time", null, new Date(x[i]).toLocaleString()));
      series.forEach(function (sr) {
        var sw = h("span.swatch"); sw.style.background = sr.color;
        var v = sr.values[i];
        tip.appendChild(h("div.tip-row", null, sw, sr.name + ": ", h("b", null, v === null || v === undefined ? "–" : yFormat(v))));
      });
      tip.style.display = "block";
      var left = (e.clientX - rect.left) + 14;
      tip.style.left = Math.min(left, rect.width - 180) + "px";
      tip.style.top = "8px";
    });
    overlay.addEventListener("mouseleave", function () { tip.style.display = "none"; hover.setAttribute("visibility", "hidden"); });
    svg.appendChild(overlay);
    wrap.appendChild(svg);
    wrap.appendChild(tip);
    if (series.length > 1 || opts.legend) {
      wrap.appendChild(h("div.legend", null, series.map(function (sr) {
        var sw = h("span.swatch"); sw.style.background = sr.color;
        return h("span.legend-item", null, sw, sr.name);
      })));
    }
    return wrap;
  }

  function drawLines(svg, series, x, px, py) {
    series.slice().reverse().forEach(function (sr) {  // the first series is drawn last, on top
      // A missing value (no trace in that bucket) breaks the line instead of dropping to zero.
      var d = "", pen = false;
      sr.values.forEach(function (v, i) {
        if (v === null || v === undefined) { pen = false; return; }
        d += (pen ? "L" : "M") + px(i).toFixed(1) + "," + py(v).toFixed(1);
        pen = true;
      });
      if (sr.fill) {
        var area = "";
        sr.values.forEach(function (v, i) {
          if (v === null || v === undefined) return;
          area += (area ? "L" : "M") + px(i).toFixed(1) + "," + py(v).toFixed(1);
        });
        if (area) {
          var valid = sr.values.map(function (v, i) { return v === null || v === undefined ? -1 : i; }).filter(function (i) { return i >= 0; });
          area += "L" + px(valid[valid.length - 1]).toFixed(1) + "," + py(0) + "L" + px(valid[0]).toFixed(1) + "," + py(0) + "Z";
          svg.appendChild(s("path.area", { d: area, fill: sr.color }));
        }
      }
      if (d) svg.appendChild(s("path.line", { d: d, stroke: sr.color }));
      if (x.length <= 90) {
        sr.values.forEach(function (v, i) {
          if (v !== null && v !== undefined) svg.appendChild(s("circle.point", { cx: px(i), cy: py(v), r: 2.4, fill: sr.color }));
        });
      }
    });
  }

  function drawBars(svg, series, x, px, py, slot, stacked) {
    var bw = Math.max(1, slot * (stacked ? 0.72 : 0.72 / series.length));
    x.forEach(function (_, i) {
      var base = 0;
      series.forEach(function (sr, k) {
        var v = sr.values[i] || 0;
        if (!v) return;
        var y0 = stacked ? base : 0, y1 = y0 + v;
        var bx = stacked ? px(i) - bw / 2 : px(i) - slot * 0.36 + k * bw;
        svg.appendChild(s("rect.bar", { x: bx, y: py(y1), width: bw, height: Math.max(0.5, py(y0) - py(y1)), fill: sr.color }));
        base = y1;
      });
    });
  }

  TP.chart = chart;
  TP.PALETTE = PALETTE;
})(typeof window !== "undefined" ? window : this);
