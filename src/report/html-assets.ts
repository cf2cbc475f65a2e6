/**
 * The HTML report's inline style and script. The charts are SVG written by mbn (svg-charts.ts); the script only
 * switches between them, shows a tooltip, and sorts and filters the layer table. It reads the report data from the
 * page's JSON block and never builds markup from strings (textContent only), so a hostile layer name stays text.
 */

export const REPORT_CSS = `
:root { --fg: #1d232b; --muted: #5d6875; --line: #d8dee4; --bg: #fff; --panel: #f6f8fa;
  --conv: #2f6fdb; --mm: #e8823a; --other: #8a96a3; --other2: #b7c1cb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 18px 28px 10px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 20px; word-break: break-all; }
header .meta { color: var(--muted); }
main { padding: 8px 28px 40px; max-width: 1280px; }
section { margin-top: 22px; }
h2 { font-size: 16px; margin: 0 0 8px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 10px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 22px; font-weight: 600; }
.card .x { color: var(--muted); font-variant-numeric: tabular-nums; font-size: 12px; }
.cards.wide { grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); } .cards.wide .v { font-size: 18px; }
.warn { color: #9a6700; }
.good { color: #1a7f37; }
.controls { display: flex; gap: 14px; align-items: center; margin: 4px 0 6px; flex-wrap: wrap; }
.controls label { cursor: pointer; }
.chart { width: 100%; height: auto; display: block; }
.chart .grid { stroke: #eef1f4; }
.chart .axis { stroke: #9aa4ae; }
.chart text { font-size: 11px; fill: var(--muted); }
.chart .label, .chart .value { font-size: 12px; fill: var(--fg); }
.k-conv { fill: var(--conv); } .k-mm { fill: var(--mm); } .k-other { fill: var(--other); } .k-other2 { fill: var(--other2); }
.layer-chart rect:hover { fill: #d1242f; }
.variant { display: none; } .variant.on { display: block; }
.legend span { display: inline-flex; align-items: center; gap: 4px; margin-right: 12px; color: var(--muted); }
.legend i { width: 10px; height: 10px; display: inline-block; border-radius: 2px; }
.tm { stroke: #fff; stroke-width: 1; }
.tm.d1 { fill-opacity: .92; } .tm.d2 { fill: #fff; fill-opacity: .22; stroke: #fff; stroke-opacity: .7; }
.tm.c0 { fill: #2f6fdb; } .tm.c1 { fill: #e8823a; } .tm.c2 { fill: #1a7f37; } .tm.c3 { fill: #8250df; }
.tm.c4 { fill: #bf3989; } .tm.c5 { fill: #0a7b83; } .tm.c6 { fill: #9a6700; } .tm.c7 { fill: #57606a; }
.tm-label { fill: #fff !important; font-size: 12px !important; pointer-events: none; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; }
th { background: var(--panel); position: sticky; top: 0; }
th[data-sort] { cursor: pointer; user-select: none; }
th[data-dir="asc"]::after { content: " ▲"; } th[data-dir="desc"]::after { content: " ▼"; }
td.name { word-break: break-all; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.scroll { max-height: 640px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
input[type=search] { padding: 4px 8px; width: 320px; max-width: 100%; }
#tip { position: fixed; pointer-events: none; background: #1d232b; color: #fff; padding: 4px 8px; border-radius: 4px;
  font-size: 12px; display: none; max-width: 520px; word-break: break-all; }
.note { color: var(--muted); }
footer { color: var(--muted); padding: 0 28px 24px; font-size: 12px; }
`;

export const REPORT_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('mbn-data').textContent);
  var fmt = function (v) {
    var a = Math.abs(v), u = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'K']];
    for (var i = 0; i < u.length; i++) if (a >= u[i][0]) return +(v / u[i][0]).toPrecision(3) + u[i][1];
    return String(+v.toPrecision(3));
  };
  // Chart variants: one SVG per metric and scale, written by mbn; the controls pick which one shows.
  var chart = document.getElementById('layer-chart');
  var tip = document.getElementById('tip');
  function pick() {
    var metric = document.querySelector('input[name=metric]:checked').value;
    var log = document.getElementById('log').checked ? 'log' : 'linear';
    var variants = chart.querySelectorAll('.variant');
    for (var i = 0; i < variants.length; i++) {
      var v = variants[i];
      v.classList.toggle('on', v.getAttribute('data-metric') === metric && v.getAttribute('data-scale') === log);
    }
  }
  var inputs = document.querySelectorAll('#chart-controls input');
  for (var i = 0; i < inputs.length; i++) inputs[i].addEventListener('change', pick);
  // A reload may restore the controls' state: show the variant they say.
  if (chart) pick();
  // Tooltip for the per-layer bars: the layer's name and figures, as text.
  if (chart) chart.addEventListener('mousemove', function (e) {
    var at = e.target.getAttribute && e.target.getAttribute('data-i');
    if (at === null || at === undefined) { tip.style.display = 'none'; return; }
    var l = data.layers[+at];
    tip.textContent = l.name + ' (' + l.op + '): ' + fmt(l.macs) + ' MACs, ' + fmt(l.flops) + ' FLOPs, ' + fmt(l.params) +
      ' params, ' + fmt(l.activationBytes) + 'B out';
    tip.style.display = 'block';
    tip.style.left = Math.min(e.clientX + 12, window.innerWidth - 540) + 'px';
    tip.style.top = (e.clientY + 14) + 'px';
  });
  if (chart) chart.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  // Sortable tables: numbers sort by their data-v value, text by its content.
  var heads = document.querySelectorAll('th[data-sort]');
  for (var h = 0; h < heads.length; h++) heads[h].addEventListener('click', function () {
    var th = this, table = th.closest('table'), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var dir = th.getAttribute('data-dir') === 'desc' ? 'asc' : 'desc';
    var others = table.querySelectorAll('th[data-dir]');
    for (var o = 0; o < others.length; o++) others[o].removeAttribute('data-dir');
    th.setAttribute('data-dir', dir);
    var num = th.getAttribute('data-sort') === 'num';
    var rows = Array.prototype.slice.call(body.rows);
    var key = function (r) { var c = r.cells[col]; return num ? +(c.getAttribute('data-v') || 0) : c.textContent; };
    rows.sort(function (a, b) {
      var x = key(a), y = key(b), d = num ? x - y : String(x).localeCompare(String(y));
      return dir === 'asc' ? d : -d;
    });
    for (var r = 0; r < rows.length; r++) body.appendChild(rows[r]);
  });
  // Filter: rows whose name or op contains the text (case-insensitive).
  var filter = document.getElementById('filter');
  var count = document.getElementById('shown');
  if (filter) filter.addEventListener('input', function () {
    var q = filter.value.toLowerCase(), rows = document.getElementById('layers').tBodies[0].rows, n = 0;
    for (var r = 0; r < rows.length; r++) {
      var hit = rows[r].cells[1].textContent.toLowerCase().indexOf(q) >= 0 || rows[r].cells[2].textContent.toLowerCase().indexOf(q) >= 0;
      rows[r].style.display = hit ? '' : 'none';
      if (hit) n++;
    }
    count.textContent = String(n);
  });
  // Reached only when everything above ran: the tests look for it in the rendered page.
  document.documentElement.setAttribute('data-ready', '1');
})();
`;
