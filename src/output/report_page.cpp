#include "output/report_page.h"

namespace deftrace {

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

namespace {

// No request can leave the page: default-src 'none' forbids every fetch, image, font, frame and
// connection; only the page's own inline script and style run.
constexpr std::string_view kHead = R"page(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>)page";

constexpr std::string_view kStyle = R"page(</title>
<style>
:root { --fg: #1d2330; --muted: #667085; --line: #d9dde5; --panic: #d92d20; --recover: #079455; --leak: #f79009;
        --defer: #98a2b3; --div: #7a5af8; --sel: #2e90fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, "DejaVu Sans", sans-serif; color: var(--fg); background: #fff; }
header { padding: 16px 24px 8px; border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 15px; margin: 20px 24px 8px; }
.facts { color: var(--muted); margin: 0 0 10px; }
.facts span + span::before { content: " \00b7  "; }
.counts { display: flex; flex-wrap: wrap; gap: 8px; margin: 0; padding: 0; list-style: none; }
.counts li { border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; }
.counts b { font-size: 16px; margin-right: 4px; }
.counts .bad b { color: var(--panic); }
.counts .good b { color: var(--recover); }
.toolbar { margin: 8px 24px; display: flex; gap: 8px; align-items: center; color: var(--muted); }
button { font: inherit; border: 1px solid var(--line); background: #f8f9fb; border-radius: 5px; padding: 2px 10px;
         cursor: pointer; }
#lanes-scroll { margin: 0 24px; border: 1px solid var(--line); overflow-y: auto; position: relative; }
#lanes-svg { position: sticky; top: 0; display: block; cursor: grab; user-select: none; }
#lanes-svg text { font-size: 12px; fill: var(--fg); }
#lanes-svg .axis text { fill: var(--muted); font-size: 11px; }
#lanes-svg .axis line, #lanes-svg .lane-line { stroke: var(--line); }
.ev-defer { fill: var(--defer); } .ev-panic { fill: var(--panic); } .ev-recover { fill: var(--recover); }
.ev-nil { fill: #53b1fd; } .ev-div { fill: var(--div); } .ev-res { fill: var(--leak); } .ev-other { fill: #475467; }
.panic-mark { fill: var(--panic); fill-opacity: .75; cursor: pointer; }
.panic-mark.recovered { fill: #f97066; }
.panic-mark.selected { stroke: var(--sel); stroke-width: 2; fill-opacity: 1; }
.recover-mark { fill: var(--recover); stroke: #fff; stroke-width: 1; }
.leak-mark { fill: var(--leak); fill-opacity: .8; }
.legend { display: flex; gap: 14px; margin: 6px 24px; color: var(--muted); font-size: 12px; flex-wrap: wrap; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; }
.columns { display: grid; grid-template-columns: minmax(280px, 1fr) minmax(320px, 1.2fr); gap: 16px; margin: 0 24px; }
#panic-list { list-style: none; margin: 0; padding: 0; max-height: 420px; overflow-y: auto; border: 1px solid var(--line); }
#panic-list li { padding: 6px 10px; border-bottom: 1px solid var(--line); cursor: pointer; }
#panic-list li:hover { background: #f5f8ff; }
#panic-list li.selected { background: #eaf3ff; }
#panic-list .value { font-family: ui-monospace, "DejaVu Sans Mono", monospace; white-space: pre-wrap; word-break: break-all; }
#panic-list .meta { color: var(--muted); font-size: 12px; }
#panic-detail { border: 1px solid var(--line); padding: 10px 14px; min-height: 120px; }
#panic-detail pre { white-space: pre-wrap; word-break: break-all; margin: 4px 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
#panic-detail ol { margin: 4px 0; padding-left: 22px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
#panic-detail h3 { font-size: 13px; margin: 10px 0 2px; color: var(--muted); }
table { border-collapse: collapse; margin: 0 24px; width: calc(100% - 48px); }
th, td { border-bottom: 1px solid var(--line); text-align: left; padding: 4px 8px; vertical-align: top; }
td.mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; word-break: break-all; }
a.panic-link { color: var(--sel); cursor: pointer; text-decoration: underline; }
.empty { color: var(--muted); margin: 0 24px; }
footer { color: var(--muted); font-size: 12px; margin: 24px; }
</style>
</head>
<body>
<header>
<h1 id="program"></h1>
<p class="facts" id="facts"></p>
<ul class="counts" id="counts"></ul>
</header>
<h2>Goroutines</h2>
<div class="toolbar"><button id="zoom-in" type="button">+</button><button id="zoom-out" type="button">&minus;</button>
<button id="zoom-reset" type="button">whole trace</button><span id="view-range"></span>
<span>ctrl+wheel or wheel over the axis zooms, drag pans</span></div>
<div class="legend"><span><i style="background:var(--panic)"></i>panic (to where it ended)</span>
<span><i style="background:var(--recover)"></i>recover() that stopped it</span>
<span><i style="background:var(--leak)"></i>leaked resource</span><span><i style="background:var(--defer)"></i>defer, deferred call</span>
<span><i style="background:#53b1fd"></i>recover() = nil</span><span><i style="background:var(--div)"></i>divergence</span></div>
<div id="lanes-scroll"><div id="lanes-spacer"><svg id="lanes-svg" xmlns="http://www.w3.org/2000/svg"></svg></div></div>
<h2>Panics <span id="panic-count"></span></h2>
<div class="columns"><ul id="panic-list"></ul><div id="panic-detail"><p class="empty">Select a panic.</p></div></div>
<h2>Leaks <span id="leak-count"></span></h2>
<div id="leaks"></div>
<h2>Divergences from the runtime model <span id="divergence-count"></span></h2>
<div id="divergences"></div>
<footer>Made by deftrace from a trace of schema deftrace.trace/1. This page loads nothing: it is the whole report.</footer>
)page";

constexpr std::string_view kScript = R"page(<script>
"use strict";
(function () {
  var errors = 0;
  window.addEventListener("error", function () { document.body.dataset.errors = String(++errors); });
  var D = JSON.parse(document.getElementById("deftrace-data").textContent);
  var H = D.header, S = D.strings, K = D.kinds;
  var NS = "http://www.w3.org/2000/svg"; // the SVG namespace's name, not an address to fetch
  var LANE_H = 22, AXIS_H = 26, LABEL_W = 230, MAX_VIEW_H = 520;
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function count(k) { return H.counts[k] || 0; }
  function fmt(us) {
    if (!H.timed) return "event " + us;
    if (us < 1000) return us + " \u00b5s";
    if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + " ms";
    return (us / 1e6).toFixed(us < 1e7 ? 3 : 1) + " s";
  }

  // The header.
  $("program").textContent = H.program;
  var facts = ["Go " + (H.go_version || "?"), H.exit, (H.timed ? "traced for " : "") + fmt(H.duration_us)];
  if (H.attached_pid) facts.push("attached to process " + H.attached_pid);
  if (H.mode && H.mode !== "full") facts.push(H.mode);
  if (H.started) facts.push("from " + H.started);
  facts.forEach(function (f) { $("facts").appendChild(el("span", "", f)); });
  var E = H.panic_endings;
  var nilReasons = Object.keys(H.recover_nil).map(function (r) { return H.recover_nil[r] + " " + r; }).join(", ");
  [[count("defer"), "defers registered"], [count("defer_call"), "deferred calls"],
   [count("panic") + count("repanic"), "panics"], [E.recovered || 0, "recovered", "good"],
   [E.fatal || 0, "fatal", E.fatal ? "bad" : ""], [E.aborted || 0, "aborted"],
   [count("recover_nil"), "recover() = nil" + (nilReasons ? " (" + nilReasons + ")" : "")],
   [H.leaks, "leaks", H.leaks ? "bad" : ""], [H.divergences, "divergences", H.divergences ? "bad" : ""]
  ].forEach(function (c) {
    var li = el("li", c[2] || "");
    li.appendChild(el("b", "", String(c[0])));
    li.appendChild(document.createTextNode(c[1]));
    $("counts").appendChild(li);
  });

  // Per lane: its events (indices, in time order), panics and leaks.
  var lanes = D.lanes.map(function () { return { ev: [], panics: [], leaks: [] }; });
  D.events.forEach(function (e, i) { lanes[e[1]].ev.push(i); });
  D.panics.forEach(function (p, i) { lanes[p.lane].panics.push(i); });
  D.leaks.forEach(function (l, i) { if (l.lane !== null) lanes[l.lane].leaks.push(i); });
  var end = Math.max(1, H.duration_us);
  var view = { t0: 0, t1: end }, selected = -1;
  var scroll = $("lanes-scroll"), spacer = $("lanes-spacer"), plot = $("lanes-svg");
  var viewH = Math.min(MAX_VIEW_H, AXIS_H + D.lanes.length * LANE_H + 4);
  scroll.style.height = (viewH + 2) + "px"; // and its border
  spacer.style.height = (AXIS_H + D.lanes.length * LANE_H + 4) + "px";
  function kindClass(k) {
    var name = K[k];
    if (name === "defer" || name === "defer_call") return "ev-defer";
    if (name === "panic" || name === "repanic" || name === "fatal" || name === "aborted") return "ev-panic";
    if (name === "recover" || name === "recovery") return "ev-recover";
    if (name === "recover_nil") return "ev-nil";
    if (name === "divergence") return "ev-div";
    if (name === "acquire" || name === "release") return "ev-res";
    return "ev-other";
  }
  function firstAtOrAfter(list, t) { // list: event indices in time order
    var lo = 0, hi = list.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (D.events[list[mid]][0] < t) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function draw() {
    var W = Math.max(200, scroll.clientWidth - LABEL_W - 8);
    plot.setAttribute("width", LABEL_W + W + 8);
    plot.setAttribute("height", viewH);
    var span = Math.max(1e-9, view.t1 - view.t0);
    function x(t) { return LABEL_W + (t - view.t0) / span * W; }
    var parts = [];
    var axis = svg("g", { "class": "axis" });
    var step = Math.pow(10, Math.floor(Math.log10(span / 6)));
    if (span / step > 12) step *= 5; else if (span / step > 6) step *= 2;
    step = Math.max(1, step); // a microsecond, or an event
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      axis.appendChild(svg("line", { x1: x(t), x2: x(t), y1: AXIS_H - 6, y2: viewH }));
      axis.appendChild(svg("text", { x: x(t) + 3, y: AXIS_H - 9 }, fmt(Math.round(t))));
    }
    parts.push(axis);
    var top = scroll.scrollTop;
    var first = Math.max(0, Math.floor(top / LANE_H)), last = Math.min(D.lanes.length, Math.ceil((top + viewH) / LANE_H));
    for (var i = first; i < last; i++) {
      var y = AXIS_H + i * LANE_H - top, L = lanes[i], g = svg("g", { "data-lane": i });
      g.appendChild(svg("line", { "class": "lane-line", x1: 0, x2: LABEL_W + W, y1: y + LANE_H, y2: y + LANE_H }));
      g.appendChild(svg("text", { x: 6, y: y + 15 }, D.lanes[i].name.length > 34 ? D.lanes[i].name.slice(0, 33) + "\u2026" : D.lanes[i].name));
      // Events: at most one mark per pixel column and kind of mark.
      var seen = {};
      for (var j = firstAtOrAfter(L.ev, view.t0); j < L.ev.length; j++) {
        var e = D.events[L.ev[j]];
        if (e[0] > view.t1) break;
        var cls = kindClass(e[2]), px = Math.floor(x(e[0]));
        if (seen[cls] === px) continue;
        seen[cls] = px;
        g.appendChild(svg("rect", { "class": cls, x: px, y: y + 5, width: 1.5, height: 12 }));
      }
      L.leaks.forEach(function (k) {
        var l = D.leaks[k], x0 = Math.max(LABEL_W, x(l.start));
        if (l.start > view.t1) return;
        g.appendChild(svg("rect", { "class": "leak-mark", x: x0, y: y + LANE_H - 5, width: Math.max(3, LABEL_W + W - x0), height: 4, "data-leak": k }));
      });
      L.panics.forEach(function (k) {
        var p = D.panics[k];
        if (p.end < view.t0 || p.start > view.t1) return;
        var x0 = Math.max(LABEL_W, x(p.start)), x1 = Math.min(LABEL_W + W, x(p.end));
        var r = svg("rect", { "class": "panic-mark" + (p.ended === "recovered" ? " recovered" : "") + (k === selected ? " selected" : ""),
                              x: x0, y: y + 3 + Math.min(p.nesting, 3) * 3, width: Math.max(4, x1 - x0), height: 12 - Math.min(p.nesting, 3) * 2,
                              "data-panic": k });
        r.appendChild(svg("title", {}, p.kind + " " + p.value + " \u2014 " + p.ended));
        g.appendChild(r);
        if (p.recover && p.recover.ts >= view.t0 && p.recover.ts <= view.t1)
          g.appendChild(svg("circle", { "class": "recover-mark", cx: x(p.recover.ts), cy: y + 9, r: 4, "data-panic": k }));
      });
      parts.push(g);
    }
    plot.replaceChildren.apply(plot, parts);
    $("view-range").textContent = fmt(Math.round(view.t0)) + " \u2013 " + fmt(Math.round(view.t1));
  }
  function zoom(factor, at) {
    var span = view.t1 - view.t0, c = at === undefined ? view.t0 + span / 2 : at;
    var ns = Math.min(end, Math.max(H.timed ? 1 : 4, span * factor));
    view.t0 = Math.max(0, c - (c - view.t0) * ns / span);
    view.t1 = Math.min(end, view.t0 + ns);
    view.t0 = Math.max(0, view.t1 - ns);
    draw();
  }
  function timeAt(clientX) {
    var W = Math.max(200, scroll.clientWidth - LABEL_W - 8), r = plot.getBoundingClientRect();
    return view.t0 + (clientX - r.left - LABEL_W) / W * (view.t1 - view.t0);
  }
  plot.addEventListener("wheel", function (ev) {
    var overAxis = ev.clientY - plot.getBoundingClientRect().top < AXIS_H;
    if (!ev.ctrlKey && !overAxis) return; // scrolls the lanes
    ev.preventDefault();
    zoom(ev.deltaY > 0 ? 1.25 : 0.8, timeAt(ev.clientX));
  }, { passive: false });
  var drag = null;
  plot.addEventListener("mousedown", function (ev) { drag = { x: ev.clientX, t0: view.t0, t1: view.t1 }; });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) return;
    var W = Math.max(200, scroll.clientWidth - LABEL_W - 8), dt = (drag.x - ev.clientX) / W * (drag.t1 - drag.t0);
    dt = Math.max(-drag.t0, Math.min(end - drag.t1, dt));
    view.t0 = drag.t0 + dt; view.t1 = drag.t1 + dt;
    draw();
  });
  plot.addEventListener("click", function (ev) {
    var k = ev.target.getAttribute && ev.target.getAttribute("data-panic");
    if (k !== null && k !== undefined) select(Number(k));
  });
  scroll.addEventListener("scroll", draw);
  window.addEventListener("resize", draw);
  $("zoom-in").addEventListener("click", function () { zoom(0.5); });
  $("zoom-out").addEventListener("click", function () { zoom(2); });
  $("zoom-reset").addEventListener("click", function () { view.t0 = 0; view.t1 = end; draw(); });

  // The panic list, and one panic's story.
  $("panic-count").textContent = "(" + D.panics.length + ")";
  D.panics.forEach(function (p, k) {
    var li = el("li", "panic-item");
    li.dataset.panic = k;
    var v = el("div", "value", p.kind + " " + (p.value.length > 200 ? p.value.slice(0, 199) + "\u2026" : p.value));
    li.appendChild(v);
    li.appendChild(el("div", "meta", D.lanes[p.lane].name + " \u00b7 " + p.site + " \u00b7 " + p.ended +
      (p.resume ? ", resumed in " + p.resume : "") + " \u00b7 " + fmt(p.start)));
    li.addEventListener("click", function () { select(k); });
    $("panic-list").appendChild(li);
  });
  function section(box, title, items) {
    box.appendChild(el("h3", "", title));
    var ol = el("ol");
    items.forEach(function (t) { ol.appendChild(el("li", "", t)); });
    if (!items.length) ol.appendChild(el("li", "", "none"));
    box.appendChild(ol);
  }
  function select(k) {
    if (!(k >= 0 && k < D.panics.length)) return;
    selected = k;
    var p = D.panics[k], box = $("panic-detail");
    box.replaceChildren();
    box.dataset.panic = k;
    box.appendChild(el("h3", "", p.kind + " on " + D.lanes[p.lane].name + " at " + fmt(p.start) + " (" + (p.type || "?") + ")"));
    box.appendChild(el("pre", "panic-value", p.value));
    box.appendChild(el("h3", "", "raised at"));
    box.appendChild(el("pre", "", p.site || "?"));
    section(box, "stack", p.stack);
    section(box, "deferred calls run for it", p.calls);
    if (p.failed_recovers.length) section(box, "recover() calls that did not stop it", p.failed_recovers);
    box.appendChild(el("h3", "", "how it ended"));
    var how = p.ended;
    if (p.recover) how += ": recover() in " + p.recover.site + " at " + fmt(p.recover.ts);
    if (p.resume) how += "; execution resumed in " + p.resume;
    if (p.aborted_by) how += "; aborted by the recovery of " + p.aborted_by;
    if (!p.recover && p.ended !== "recovered") how += " (no recover() stopped it)";
    box.appendChild(el("pre", "panic-ended", how + " at " + fmt(p.end)));
    Array.prototype.forEach.call(document.querySelectorAll("#panic-list li"), function (li) {
      li.classList.toggle("selected", Number(li.dataset.panic) === k);
    });
    var span = Math.max(p.end - p.start, H.timed ? 20 : 4);
    view.t0 = Math.max(0, p.start - span * 0.5);
    view.t1 = Math.min(end, p.end + span * 0.5);
    var laneTop = p.lane * LANE_H;
    if (laneTop < scroll.scrollTop || laneTop > scroll.scrollTop + viewH - AXIS_H - LANE_H)
      scroll.scrollTop = Math.max(0, laneTop - LANE_H * 2);
    draw();
  }

  // The leaks.
  $("leak-count").textContent = "(" + D.leaks.length + ")";
  if (!D.leaks.length) {
    $("leaks").appendChild(el("p", "empty", "None: nothing probed was left open (resources are probed with --leaks or --probes)."));
  } else {
    var table = el("table"), head = el("tr");
    ["resource", "state", "goroutine", "acquired at", "abandoned by", "recovered in"].forEach(function (h) { head.appendChild(el("th", "", h)); });
    table.appendChild(head);
    D.leaks.forEach(function (l) {
      var tr = el("tr");
      tr.appendChild(el("td", "mono", l.resource));
      tr.appendChild(el("td", "", l.state));
      tr.appendChild(el("td", "", "g" + l.g));
      tr.appendChild(el("td", "mono", l.acquired.join("\n")));
      var by = el("td", "mono");
      if (l.panic !== undefined) {
        var a = el("a", "panic-link", "panic " + (l.panic_value || ""));
        a.addEventListener("click", function () { select(l.panic); });
        by.appendChild(a);
      } else {
        by.textContent = l.panic_value ? "panic " + l.panic_value : "";
      }
      tr.appendChild(by);
      tr.appendChild(el("td", "mono", l.recovered_in || ""));
      table.appendChild(tr);
    });
    $("leaks").appendChild(table);
  }

  // The divergences.
  $("divergence-count").textContent = "(" + H.divergences + ")";
  if (!D.divergences.length) {
    $("divergences").appendChild(el("p", "empty", "None: every observation agreed with the model of the runtime."));
  } else {
    var dt = el("table"), dh = el("tr");
    ["goroutine", "rule", "expected", "observed"].forEach(function (h) { dh.appendChild(el("th", "", h)); });
    dt.appendChild(dh);
    D.divergences.forEach(function (d) {
      var tr = el("tr");
      tr.appendChild(el("td", "", "g" + d.goroutine));
      tr.appendChild(el("td", "mono", d.rule));
      tr.appendChild(el("td", "mono", d.expected));
      tr.appendChild(el("td", "mono", d.observed));
      dt.appendChild(tr);
    });
    $("divergences").appendChild(dt);
  }

  draw();
  function fromAddress() {
    var m = /^#panic=(\d+)$/.exec(location.hash);
    if (m) select(Number(m[1]));
  }
  window.addEventListener("hashchange", fromAddress);
  fromAddress();
  // What a test reads back: nothing fetched (the resource timing list is empty), ready.
  document.body.dataset.resources = String(performance.getEntriesByType("resource").length);
  document.body.dataset.readyMs = String(Math.round(performance.now())); // scripts/bench-views.sh
  document.body.dataset.ready = "1";
})();
</script>
</body>
</html>
)page";

} // namespace

std::string report_page_head(std::string_view program) {
    std::string out(kHead);
    out += html_escape(program.empty() ? std::string_view("deftrace report") : program);
    out += " \xe2\x80\x94 deftrace";
    out += kStyle;
    return out;
}

std::string report_page_tail() {
    return std::string(kScript);
}

} // namespace deftrace
