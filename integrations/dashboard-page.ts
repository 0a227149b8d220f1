import { createHash } from 'node:crypto';

// The page of `createDashboard`: plain HTML, CSS and JS in strings, so that it needs no build step,
// no CDN and no framework. The script avoids template literals so that it can live in one here.

const STYLE = `
:root { --fg: #1f2328; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; --card: #fff;
  --ok: #1a7f37; --warn: #f5b700; --bad: #cf222e; --primary: #0969da; --memory: #8250df; --miss: #6e7781; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 16px; padding: 12px 20px; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 13px; margin: 0 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
#updated { margin: 0 0 0 auto; color: var(--muted); }
#store { color: var(--muted); font-weight: 400; }
#error { margin: 12px 20px 0; padding: 8px 12px; border: 1px solid var(--bad); border-radius: 6px; background: #ffebe9; color: #82071e; }
main { display: grid; grid-template-columns: repeat(12, 1fr); gap: 12px; padding: 12px 20px; }
main.stale { opacity: .55; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
.w4 { grid-column: span 4; }
.w6 { grid-column: span 6; }
.w8 { grid-column: span 8; }
#breaker { border-left: 8px solid var(--muted); }
#breaker.closed { border-left-color: var(--ok); }
#breaker.half-open { border-left-color: var(--warn); }
#breaker.open { border-left-color: var(--bad); }
.state { display: inline-block; font-size: 28px; font-weight: 700; padding: 4px 16px; border-radius: 999px; background: var(--muted); color: #fff; }
.state.closed { background: var(--ok); }
.state.half-open { background: var(--warn); color: var(--fg); }
.state.open { background: var(--bad); }
.counters { display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px; margin: 0; }
.counters div { padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; }
dt { color: var(--muted); font-size: 12px; }
dd { margin: 0; font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
dd small { font-size: 12px; font-weight: 400; color: var(--muted); }
.facts { display: grid; grid-template-columns: auto 1fr; gap: 4px 12px; margin: 8px 0 0; }
.facts dd { font-size: 14px; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 4px 6px; border-bottom: 1px solid var(--line); }
th:first-child, td:first-child { text-align: left; }
caption { text-align: left; color: var(--muted); font-size: 12px; padding-bottom: 4px; }
meter { width: 100%; height: 12px; }
svg { width: 100%; height: auto; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; margin: 6px 0 0; padding: 0; list-style: none; color: var(--muted); }
.legend svg { width: 28px; height: 10px; display: inline-block; vertical-align: middle; margin-right: 4px; }
`;

const SCRIPT = `
'use strict';
const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);
// Relative to the page, so it works under any mount path; '/cache' is read as '/cache/'.
const here = location.pathname;
const base = here.endsWith('/') || here.endsWith('.html') ? location.href : location.origin + here + '/';
const statsUrl = new URL('stats.json', base);
const int = new Intl.NumberFormat('en-US');
const clock = (ms) => new Date(ms).toLocaleTimeString('en-GB');
let lastOk = null;

function seconds(s) {
  if (s === null) return '\\u2013';
  // Unary plus turns toPrecision's '4.3e+2' back into 430.
  if (s < 1e-3) return +(s * 1e6).toPrecision(2) + ' \\u00b5s';
  if (s < 1) return +(s * 1e3).toPrecision(2) + ' ms';
  return +s.toPrecision(2) + ' s';
}
function bytes(n) {
  if (n < 1024) return int.format(n) + ' B';
  if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
  return (n / 1048576).toFixed(1) + ' MiB';
}
function plural(n, noun) { return int.format(n) + ' ' + noun + (n === 1 ? '' : 's'); }
function text(id, value) { $(id).textContent = value; }
function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const key in attrs) node.setAttribute(key, attrs[key]);
  parent.appendChild(node);
  return node;
}

function render(data) {
  const state = data.circuit.state;
  text('circuit-state', state);
  $('circuit-state').className = 'state ' + state;
  $('breaker').className = 'w4 ' + state;
  text('circuit-since', data.circuit.since === null ? 'dashboard start' : clock(data.circuit.since));
  text('transitions', int.format(data.circuit.transitions));
  text('connection', data.connection);

  const points = data.history.points;
  const recent = points.slice(-60);
  const sum = (key) => recent.reduce((n, p) => n + p[key], 0);
  const s = data.stats;
  const counts = { fallback: ['fallbackServes', s.fallbackServes], stale: ['staleServes', s.staleServes],
    short: ['shortCircuits', s.shortCircuits], timeouts: ['timeouts', s.timeouts] };
  for (const id in counts) {
    text(id, int.format(counts[id][1]));
    text(id + '-recent', '+' + int.format(sum(counts[id][0])) + ' last min');
  }
  text('failures', int.format(s.primaryFailures));
  text('degraded', int.format(s.degradedWrites));

  for (const path in data.latency.paths) {
    const l = data.latency.paths[path];
    const row = document.querySelector('tr[data-path="' + path + '"]');
    row.cells[1].textContent = int.format(l.count);
    row.cells[2].textContent = seconds(l.p50);
    row.cells[3].textContent = seconds(l.p99);
  }

  const m = data.memory;
  text('entries', int.format(m.entries) + ' / ' + int.format(m.max));
  $('entries-meter').max = m.max;
  $('entries-meter').value = m.entries;
  text('bytes', m.maxSize === null ? 'not measured (no maxSize)' : bytes(m.bytes) + ' / ' + bytes(m.maxSize));
  $('bytes-meter').hidden = m.maxSize === null;
  if (m.maxSize !== null) { $('bytes-meter').max = m.maxSize; $('bytes-meter').value = m.bytes; }
  text('evictions', int.format(m.evictions) + ' full, ' + int.format(m.expirations) + ' expired');
  text('journal', int.format(data.journal.size));
  text('overflows', int.format(data.journal.overflows));
  text('reconciled', plural(s.reconciled.keys, 'key') + ' in ' + plural(s.reconciled.runs, 'run'));
  text('restarts', int.format(s.restarts));
  text('near-state', s.nearCache.state === undefined ? 'off (read policy)' : s.nearCache.state);
  text('near-verified', int.format(s.nearCache.verifiedHits));
  text('near-revalidations', int.format(s.nearCache.revalidations));
  text('near-invalidations', int.format(s.nearCache.invalidations));
  text('loader-calls', int.format(s.getOrSet.loaderCalls));
  text('lock-waits', int.format(s.getOrSet.lockWaits));
  text('loader-stale', int.format(s.getOrSet.staleServes));

  // A young dashboard shows its first minutes at a readable scale, not squeezed into the right edge.
  chart(points, Math.min(data.history.seconds, Math.max(60, Math.ceil(points.length / 60) * 60)), data.now);
  const reads = sum('primaryHits') + sum('memoryHits') + sum('misses');
  const pct = (key) => (reads === 0 ? '\\u2013' : Math.round((100 * sum(key)) / reads) + ' %');
  text('ratio-primary', pct('primaryHits'));
  text('ratio-memory', pct('memoryHits'));
  text('ratio-miss', pct('misses'));
  text('chart-desc', reads === 0 ? 'No reads in the last minute.' : 'Last minute: primary ' + pct('primaryHits') +
    ', memory ' + pct('memoryHits') + ', misses ' + pct('misses') + ' of ' + int.format(reads) + ' reads.');
}

// Hit ratio by tier, one point a second; seconds with the breaker not closed are shaded.
function chart(points, span, now) {
  const W = 640, H = 180, L = 36, R = 8, T = 8, B = 22;
  const svg = $('chart');
  svg.replaceChildren();
  const x = (t) => L + ((t - (now - span * 1000)) / (span * 1000)) * (W - L - R);
  const y = (ratio) => T + (1 - ratio) * (H - T - B);
  for (const p of points) {
    if (p.circuit === 'closed') continue;
    el('rect', { x: x(p.t - 1000), y: T, width: Math.max(1, x(p.t) - x(p.t - 1000)), height: H - T - B,
      fill: p.circuit === 'open' ? '#ffcecb' : '#fff1c2' }, svg);
  }
  for (const r of [0, 0.5, 1]) {
    el('line', { x1: L, x2: W - R, y1: y(r), y2: y(r), stroke: '#d0d7de' }, svg);
    el('text', { x: L - 4, y: y(r) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#57606a' }, svg).textContent = r * 100 + '%';
  }
  const step = [10, 30, 60, 120, 300, 600, 1800].find((s) => span / s <= 6) || 3600;
  for (let ago = 0; ago <= span; ago += step) {
    const label = ago === 0 ? 'now' : ago % 60 === 0 ? '-' + ago / 60 + ' min' : '-' + ago + ' s';
    el('text', { x: x(now - ago * 1000), y: H - 6, 'text-anchor': ago === 0 ? 'end' : 'middle', 'font-size': 11, fill: '#57606a' }, svg).textContent = label;
  }
  const series = [['primaryHits', '#0969da', ''], ['memoryHits', '#8250df', '6 3'], ['misses', '#6e7781', '2 3']];
  for (const [key, colour, dash] of series) {
    let d = '';
    let pen = 'M';
    for (const p of points) {
      const total = p.primaryHits + p.memoryHits + p.misses;
      // No reads that second: a gap, not a fall to zero.
      if (total === 0) { pen = 'M'; continue; }
      d += pen + x(p.t).toFixed(1) + ' ' + y(p[key] / total).toFixed(1) + ' ';
      pen = 'L';
    }
    if (d) el('path', { d, fill: 'none', stroke: colour, 'stroke-width': 2, 'stroke-dasharray': dash, 'stroke-linejoin': 'round' }, svg);
  }
}

function fail(error) {
  const when = lastOk === null ? 'No data yet.' : 'Showing data from ' + clock(lastOk) + '.';
  text('error', 'Cannot fetch stats.json (' + (error && error.message ? error.message : error) + '). ' + when);
  $('error').hidden = false;
  $('main').classList.add('stale');
}

function poll() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error('timed out')), 3000);
  fetch(statsUrl, { cache: 'no-store', signal: abort.signal })
    .then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then((data) => {
      render(data);
      lastOk = Date.now();
      text('updated-at', clock(lastOk));
      $('updated-at').dateTime = new Date(lastOk).toISOString();
      $('error').hidden = true;
      $('main').classList.remove('stale');
      text('store', data.storeName);
    })
    .catch(fail)
    .finally(() => { clearTimeout(timer); setTimeout(poll, 1000); });
}
poll();
`;

const BODY = `
<header>
  <h1>keyv-failsafe <span id="store"></span></h1>
  <span>Polls stats.json every second</span>
  <p id="updated" aria-live="polite">Last updated <time id="updated-at">never</time></p>
</header>
<p id="error" role="alert" hidden></p>
<main id="main">
  <section id="breaker" class="w4" aria-labelledby="breaker-h">
    <h2 id="breaker-h">Circuit breaker</h2>
    <span class="state" data-testid="circuit-state" id="circuit-state" aria-live="polite">unknown</span>
    <dl class="facts">
      <dt>In this state since</dt><dd id="circuit-since">&ndash;</dd>
      <dt>Transitions</dt><dd id="transitions">&ndash;</dd>
      <dt>Redis connection</dt><dd id="connection">&ndash;</dd>
    </dl>
  </section>
  <section class="w8" aria-labelledby="counters-h">
    <h2 id="counters-h">Served without Redis (since start)</h2>
    <dl class="counters">
      <div><dt>Fallback serves</dt><dd><span id="fallback">&ndash;</span> <small id="fallback-recent"></small></dd></div>
      <div><dt>Stale serves</dt><dd><span id="stale">&ndash;</span> <small id="stale-recent"></small></dd></div>
      <div><dt>Short circuits</dt><dd><span id="short">&ndash;</span> <small id="short-recent"></small></dd></div>
      <div><dt>Timeouts</dt><dd><span id="timeouts">&ndash;</span> <small id="timeouts-recent"></small></dd></div>
      <div><dt>Primary failures</dt><dd id="failures">&ndash;</dd></div>
      <div><dt>Writes Redis missed</dt><dd id="degraded">&ndash;</dd></div>
    </dl>
  </section>
  <section class="w8" aria-labelledby="chart-h">
    <h2 id="chart-h">Hit ratio by tier, per second</h2>
    <svg id="chart" viewBox="0 0 640 180" role="img" aria-labelledby="chart-h chart-desc"></svg>
    <p id="chart-desc" hidden></p>
    <ul class="legend">
      <li><svg viewBox="0 0 28 10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5" stroke="#0969da" stroke-width="2"/></svg>Redis hits <span id="ratio-primary"></span></li>
      <li><svg viewBox="0 0 28 10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5" stroke="#8250df" stroke-width="2" stroke-dasharray="6 3"/></svg>Memory hits <span id="ratio-memory"></span></li>
      <li><svg viewBox="0 0 28 10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5" stroke="#6e7781" stroke-width="2" stroke-dasharray="2 3"/></svg>Misses <span id="ratio-miss"></span></li>
      <li><svg viewBox="0 0 28 10" aria-hidden="true"><rect width="28" height="10" fill="#ffcecb"/></svg>Breaker open</li>
    </ul>
  </section>
  <section class="w4" aria-labelledby="latency-h">
    <h2 id="latency-h">Latency by path</h2>
    <table>
      <caption>Last 60 s, get/set/delete</caption>
      <thead><tr><th scope="col">Path</th><th scope="col">Calls</th><th scope="col">p50</th><th scope="col">p99</th></tr></thead>
      <tbody>
        <tr data-path="primary"><th scope="row">Redis</th><td></td><td></td><td></td></tr>
        <tr data-path="memory"><th scope="row">Memory first</th><td></td><td></td><td></td></tr>
        <tr data-path="fallback"><th scope="row">Fallback</th><td></td><td></td><td></td></tr>
        <tr data-path="breaker-open"><th scope="row">Breaker open</th><td></td><td></td><td></td></tr>
      </tbody>
    </table>
  </section>
  <section class="w6" aria-labelledby="memory-h">
    <h2 id="memory-h">Memory tier</h2>
    <label for="entries-meter">Entries: <strong id="entries">&ndash;</strong></label>
    <meter id="entries-meter" min="0" value="0"></meter>
    <label for="bytes-meter">Bytes: <strong id="bytes">&ndash;</strong></label>
    <meter id="bytes-meter" min="0" value="0"></meter>
    <dl class="facts"><dt>Dropped</dt><dd id="evictions">&ndash;</dd></dl>
  </section>
  <section class="w6" aria-labelledby="journal-h">
    <h2 id="journal-h">Reconciliation</h2>
    <dl class="facts">
      <dt>Journal (keys Redis missed)</dt><dd id="journal">&ndash;</dd>
      <dt>Journal overflows</dt><dd id="overflows">&ndash;</dd>
      <dt>Reconciled</dt><dd id="reconciled">&ndash;</dd>
      <dt>Redis restarts seen</dt><dd id="restarts">&ndash;</dd>
    </dl>
  </section>
  <section class="w6" aria-labelledby="near-h">
    <h2 id="near-h">Near-cache and getOrSet</h2>
    <dl class="facts">
      <dt>Near-cache</dt><dd id="near-state" data-testid="near-state">&ndash;</dd>
      <dt>Verified hits (no network call)</dt><dd id="near-verified">&ndash;</dd>
      <dt>Revalidations</dt><dd id="near-revalidations">&ndash;</dd>
      <dt>Invalidations received</dt><dd id="near-invalidations">&ndash;</dd>
      <dt>Loader calls</dt><dd id="loader-calls">&ndash;</dd>
      <dt>Lock waits</dt><dd id="lock-waits">&ndash;</dd>
      <dt>Stale served on loader error</dt><dd id="loader-stale">&ndash;</dd>
    </dl>
  </section>
</main>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The dashboard page: one HTML document, its CSS and script inline. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>keyv-failsafe dashboard</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;

/**
 * Content-Security-Policy for {@link DASHBOARD_HTML}: only its own inline script and style (by hash)
 * and requests to its own origin, so nothing injected into the page could run or send data away.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
