// The one stylesheet and the one script of the dashboard, served by the
// binary itself (no CDN, no build step). The pages work without the script;
// it only sorts tables, expands and collapses, and refreshes a page of
// something still running.
#include "web/site.h"

namespace vigil::web {

const char* const kStylesheet = R"css(
:root { --fg: #1d2329; --muted: #5f6b76; --bg: #ffffff; --line: #d9dee3; --head: #f3f5f7;
  --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #b42318; --fail-bg: #ffe2e0; --skip: #6e7781; --skip-bg: #eef1f4;
  --warn: #9a6700; --warn-bg: #fff4c5; --run: #0b5cad; --run-bg: #ddeeff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header.top { display: flex; gap: 1.5em; align-items: center; padding: .5em 1.2em; background: #24292f; }
header.top a { color: #e6edf3; text-decoration: none; }
header.top .brand { font-weight: 700; font-size: 1.15em; letter-spacing: .02em; }
header.top nav a { margin-right: 1em; opacity: .85; }
header.top nav a.on { opacity: 1; border-bottom: 2px solid #e6edf3; }
main { padding: 1em 1.2em 2em; max-width: 1400px; }
footer { color: var(--muted); font-size: .85em; padding: 1em 1.2em; border-top: 1px solid var(--line); }
h1 { font-size: 1.5em; margin: .2em 0 .6em; word-break: break-all; }
h2 { font-size: 1.2em; margin: 1.4em 0 .5em; }
h3 { font-size: 1.05em; margin: 1em 0 .3em; }
h4 { font-size: 1em; margin: .8em 0 .3em; }
a { color: #0b5cad; }
table { border-collapse: collapse; margin: .4em 0; }
th, td { border-bottom: 1px solid var(--line); padding: .25em .6em; text-align: left; vertical-align: top; }
thead th { background: var(--head); position: sticky; top: 0; }
table.sortable thead th { cursor: pointer; user-select: none; }
table.sortable thead th[aria-sort="ascending"]::after { content: " ▲"; }
table.sortable thead th[aria-sort="descending"]::after { content: " ▼"; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.bad { color: var(--fail); font-weight: 600; }
table.kv th { font-weight: 600; color: var(--muted); width: 12em; }
td, .path, .title, pre { overflow-wrap: anywhere; }
.st { display: inline-block; padding: 0 .45em; border-radius: 3px; font-size: .85em; font-weight: 600; background: var(--skip-bg); color: var(--skip); }
.st-PASS, .st-XFAIL { background: var(--pass-bg); color: var(--pass); }
.st-FAIL, .st-XPASS, .st-ERROR, .st-TIMEOUT, .st-CRASH, .st-INTERRUPTED { background: var(--fail-bg); color: var(--fail); }
.st-FLAKY, .st-KNOWN { background: var(--warn-bg); color: var(--warn); }
.st-running, .st-RUNNING { background: var(--run-bg); color: var(--run); }
table.matrix td.c { text-align: center; width: 1.8em; padding: .15em; font-weight: 700; font-family: ui-monospace, monospace; }
table.matrix td.c a { color: inherit; text-decoration: none; display: block; }
table.matrix td.st-PASS, table.matrix td.st-XFAIL { background: var(--pass-bg); color: var(--pass); }
table.matrix td.st-FAIL, table.matrix td.st-XPASS, table.matrix td.st-ERROR, table.matrix td.st-TIMEOUT, table.matrix td.st-CRASH { background: var(--fail-bg); color: var(--fail); }
table.matrix td.st-FLAKY, table.matrix td.st-KNOWN { background: var(--warn-bg); color: var(--warn); }
table.matrix td.st-SKIP, table.matrix td.st-MISSING, table.matrix td.st-NO_TESTS { background: var(--skip-bg); color: var(--skip); }
table.matrix td.st-NONE { color: #b8c0c8; }
table.matrix th.name { font-weight: 400; white-space: nowrap; max-width: 28em; overflow: hidden; text-overflow: ellipsis; }
.scroll { overflow-x: auto; }
section.verdict { border-left: 6px solid var(--skip); background: var(--head); padding: .4em 1em .8em; margin: .6em 0 1em; }
section.verdict h2 { margin: .2em 0; }
section.verdict-SUCCESS { border-color: var(--pass); }
section.verdict-UNSTABLE { border-color: var(--warn); }
section.verdict-CRITICAL { border-color: var(--fail); }
.conclusion { font-weight: 600; }
.detail, .meta, .note, .legend, .count { color: var(--muted); }
.counted { color: var(--fail); font-weight: 600; font-size: .85em; }
.error { color: var(--fail); font-weight: 600; }
.empty { color: var(--muted); font-style: italic; }
details.test, details.crash { border: 1px solid var(--line); border-radius: 4px; margin: .3em 0; padding: .2em .6em; }
details.test > summary, details.crash > summary { cursor: pointer; }
details.row-FAIL, details.row-ERROR, details.row-TIMEOUT, details.row-CRASH { border-left: 4px solid var(--fail); }
details.row-FLAKY { border-left: 4px solid var(--warn); }
.ctype { font-weight: 700; }
.ctype.fatal { color: var(--fail); }
pre.log { background: #f6f8fa; border: 1px solid var(--line); padding: .6em; max-height: 40em; overflow: auto; font-size: 12.5px; white-space: pre-wrap; }
figure.trend { margin: .4em 0 1em; max-width: 640px; }
figure.trend figcaption { color: var(--muted); font-size: .85em; }
svg.chart { width: 100%; height: auto; }
svg.chart .axis { stroke: #9aa4ae; stroke-width: 1; }
svg.chart .line { fill: none; stroke: #0b5cad; stroke-width: 2; }
svg.chart .dot { fill: #0b5cad; }
svg.chart .tick { font-size: 10px; fill: #5f6b76; }
form.filters { display: flex; gap: 1em; align-items: center; flex-wrap: wrap; margin-bottom: .6em; }
nav.pager { margin: .8em 0; }
.toolbar button, form.filters button { font: inherit; padding: .15em .7em; }
)css";

const char* const kScript = R"js(
'use strict';
// Sorting: click a header of a table.sortable; numbers sort by data-v.
function sortTable(th) {
  const table = th.closest('table');
  const body = table.tBodies[0];
  if (!body) return;
  const index = Array.prototype.indexOf.call(th.parentNode.children, th);
  const numeric = th.dataset.sort === 'num';
  const dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
  for (const other of th.parentNode.children) other.removeAttribute('aria-sort');
  th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
  const key = (row) => {
    const cell = row.children[index];
    if (!cell) return '';
    const v = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent;
    return numeric ? parseFloat(v) || 0 : v.trim().toLowerCase();
  };
  const rows = Array.from(body.rows);
  rows.sort((a, b) => { const x = key(a), y = key(b); return x < y ? -dir : x > y ? dir : 0; });
  for (const r of rows) body.appendChild(r);
}
function setUp(root) {
  for (const th of root.querySelectorAll('table.sortable thead th')) {
    th.addEventListener('click', () => sortTable(th));
  }
  const tests = root.querySelector('div.tests');
  if (tests && !root.querySelector('.toolbar')) {
    const bar = document.createElement('p');
    bar.className = 'toolbar';
    for (const [label, open] of [['Expand all', true], ['Collapse all', false]]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.addEventListener('click', () => { for (const d of tests.querySelectorAll('details')) d.open = open; });
      bar.appendChild(b);
    }
    tests.parentNode.insertBefore(bar, tests);
  }
}
// A page of something running refreshes its main part every few seconds,
// keeping what was expanded.
function refresh() {
  const seconds = parseInt(document.body.dataset.refresh || '0', 10);
  if (!seconds) return;
  setTimeout(async () => {
    try {
      const r = await fetch(location.href, { credentials: 'same-origin' });
      if (r.ok) {
        const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
        const open = new Set(Array.from(document.querySelectorAll('details[open]')).map((d) => d.id).filter(Boolean));
        const main = document.getElementById('main');
        const fresh = doc.getElementById('main');
        if (main && fresh) {
          main.replaceChildren(...Array.from(fresh.childNodes).map((n) => document.importNode(n, true)));
          for (const id of open) { const d = document.getElementById(id); if (d) d.open = true; }
          setUp(main);
        }
        document.body.dataset.refresh = doc.body.dataset.refresh || '';
        document.title = doc.title;
      }
    } catch (e) { /* the server is away: try again later */ }
    refresh();
  }, seconds * 1000);
}
document.addEventListener('DOMContentLoaded', () => {
  setUp(document);
  // A link to a test of a run opens it.
  if (location.hash) { const d = document.getElementById(location.hash.slice(1)); if (d && d.tagName === 'DETAILS') d.open = true; }
  refresh();
});
)js";

const std::vector<std::pair<std::string, std::string>>& SecurityHeaders() {
  static const std::vector<std::pair<std::string, std::string>> kHeaders = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Cache-Control", "no-cache"},
  };
  return kHeaders;
}

}  // namespace vigil::web
