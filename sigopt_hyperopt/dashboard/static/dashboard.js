// The dashboard page: keeps one copy of the trial rows (a Map by tid), patched with the rows the
// server says changed since the last answer, and redraws from it. A page exported with
// `sigopt-hyperopt report --html` carries its data in window.DASHBOARD_DATA and never polls.
"use strict";

const PAGE_SIZE = 50;
// SVG scatter up to this many points, WebGL beyond: a WebGL context costs more than it saves on
// small plots (a second or more per plot on software rendering), SVG slows down on large ones.
const WEBGL_FROM = 1500;
const pointType = (n) => (n >= WEBGL_FROM ? "scattergl" : "scatter");
const STATES = ["done", "running", "queued", "failed", "cancelled"];

const dash = {
  trials: new Map(), since: 0, epoch: null, expKey: undefined, chosen: undefined, last: null,
  sort: { key: "tid", dir: -1 }, page: 0, lastDrawnSeq: -1, showFolded: false,
};
// Timings read by the tests and the benchmark (milliseconds).
window.dashStats = { polls: 0, firstLoadMs: null, lastUpdateMs: null, lastFetchMs: null, lastRows: 0, updates: [] };

const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const fmt = (x) => (x === null || x === undefined ? "–" : typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toPrecision(5)) : String(x));
const when = (t) => (t ? new Date(t * 1000).toLocaleTimeString() : "–");
// A duration in the unit a person reads it in: "4.2 s", "23 min", "5 h 10 min", "3 days".
function span(seconds) {
  const s = Math.max(0, seconds);
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} days`;
}
const ago = (t, now) => (t ? `${span(now - t)} ago` : "–");
const plotConfig = { displaylogo: false, responsive: true };
// Room above each plot area for plotly's toolbar (the modebar, top right), so it never covers data
// such as the importance chart's first bar.
const MODEBAR_ROOM = 32;
const baseLayout = { margin: { l: 50, r: 10, t: MODEBAR_ROOM, b: 40 }, showlegend: false };

function sortedRows() {
  return Array.from(dash.trials.values()).sort((a, b) => a.tid - b.tid);
}

// -- fetching ------------------------------------------------------------------------------------

async function poll() {
  const started = performance.now();
  let again = false;
  try {
    // Without a choice the server picks the running search, or the one the address names (?search=),
    // which may appear only once it starts; the page then keeps to the search it was given.
    const key = dash.chosen !== undefined ? `&exp_key=${encodeURIComponent(JSON.stringify(dash.chosen))}`
      : addressedSearch() !== null ? `&search=${encodeURIComponent(addressedSearch())}` : "";
    const response = await fetch(`api/changes?since=${dash.since}${key}`, { cache: "no-store" });
    const data = await response.json();
    window.dashStats.lastFetchMs = performance.now() - started;
    again = !apply(data);
  } catch (error) {
    showHealth({ ok: false, message: `the dashboard server does not answer (${error})` });
  }
  setTimeout(poll, again ? 0 : 1000 * ((dash.last && dash.last.refresh_s) || 2));
}

// The search the page's address names (?search=<exp_key>; empty for trials without an exp_key), or null.
function addressedSearch() {
  return new URLSearchParams(window.location.search).get("search");
}

// Keep the address in step with the search shown, so it can be reloaded, bookmarked and shared.
function showInAddress(expKey) {
  const params = new URLSearchParams(window.location.search);
  const wanted = expKey === null ? "" : String(expKey);
  if (params.get("search") === wanted) return;
  params.set("search", wanted);
  try {
    history.replaceState(null, "", `${window.location.pathname}?${params}${window.location.hash}`);
  } catch (error) { /* a file:// page may not change its address: the selector still works */ }
}

// Patch the rows with an answer; false when it was for other rows than held (a restarted server or
// another search) and was not complete: then everything is asked for again.
function apply(data) {
  const started = performance.now();
  if (!window.DASHBOARD_DATA && dash.chosen === undefined && (data.experiments.length || addressedSearch() !== null)) {
    dash.chosen = data.exp_key;  // keep to it: the running search may change while the page is open
  }
  if (data.experiments.length || addressedSearch() !== null) showInAddress(data.exp_key);
  if (data.epoch !== dash.epoch || data.exp_key !== dash.expKey) {
    dash.trials.clear();
    dash.epoch = data.epoch;
    dash.expKey = data.exp_key;
    dash.lastDrawnSeq = -1;
    if (dash.since !== 0) { dash.since = 0; return false; }
  }
  for (const row of data.trials) dash.trials.set(row.tid, row);
  const changed = data.trials.length > 0 || dash.lastDrawnSeq < 0;
  dash.since = data.seq;
  dash.last = data;
  render(data, changed);
  dash.lastDrawnSeq = data.seq;
  const elapsed = performance.now() - started;
  window.dashStats.polls += 1;
  window.dashStats.lastRows = data.trials.length;
  window.dashStats.lastUpdateMs = elapsed;
  if (data.trials.length) window.dashStats.updates.push({ rows: data.trials.length, ms: elapsed });
  if (window.dashStats.firstLoadMs === null && dash.trials.size > 0) {
    window.dashStats.firstLoadMs = performance.now() - window.dashStats.pageStart;
  }
  document.body.dataset.seq = String(data.seq);
  return true;
}

// -- drawing -------------------------------------------------------------------------------------

function render(data, changed) {
  renderHeader(data);
  showHealth(data.health);
  renderProgress(data.progress);
  renderBest(data.best);
  // A multimetric search: the loss hyperopt sees is the first optimized metric; the best is the best feasible.
  $("best-title").textContent = data.metrics ? "Best feasible loss" : "Best loss";
  renderRecord(data.record);
  renderWorkers(data.workers, data.workers_folded || [], data.now);
  if (changed) {
    const rows = sortedRows();
    renderHistory(rows);
    renderTime(rows);
    renderParams(rows, data.axes, data.space_known);
    renderParcoords(rows, data.axes);
    renderPareto(rows, data.metrics, data.frontier || []);
    renderTroubles(rows);
    renderTable();
  }
  renderImportance(data.importance);
}

function renderHeader(data) {
  const select = $("exp-key");
  // The search shown is listed even before the store holds it (an address naming a search to come).
  const listed = data.experiments.includes(data.exp_key) || (!data.experiments.length && addressedSearch() === null);
  const keys = listed ? data.experiments : [...data.experiments, data.exp_key];
  const options = keys.map((k) => JSON.stringify(k));
  if (select.dataset.options !== options.join("\n")) {
    select.innerHTML = keys.map((k) => `<option value="${esc(JSON.stringify(k))}">${esc(k ?? "(no exp_key)")}</option>`).join("");
    select.dataset.options = options.join("\n");
  }
  select.value = JSON.stringify(data.exp_key);
  $("source").textContent = data.source;
  $("updated").textContent = window.DASHBOARD_DATA ? `exported ${new Date(data.now * 1000).toLocaleString()}` : `updated ${when(data.now)}`;
}

function showHealth(health) {
  const banner = $("health");
  if (!health || health.ok) { banner.hidden = true; return; }
  banner.hidden = false;
  const since = health.down_since ? ` since ${when(health.down_since)}` : "";
  banner.textContent = `The store cannot be read${since}: ${health.message}. Showing what was read before; retrying.`;
}

function renderProgress(p) {
  for (const s of ["done", "running", "queued", "failed"]) $(`count-${s}`).textContent = p[s];
  const total = Math.max(p.max_evals || 0, p.total, 1);
  $("progress-bar").innerHTML = STATES.map((s) => `<span class="s-${s}" style="width:${(100 * p[s]) / total}%" title="${s}: ${p[s]}"></span>`).join("");
  $("of-max").textContent = p.max_evals ? `of ${p.max_evals}` : `${p.total} trials`;
  $("of-max").title = p.max_evals_from === "search" ? "max_evals as the search's driver stored it"
    : p.max_evals_from ? "max_evals from the command line (--max-evals): this search did not store its own" : "";
  const rate = p.per_minute === null ? "" : `${p.per_minute.toFixed(1)} trials/min overall`;
  const recent = p.per_minute_recent === null ? "" : `, ${p.per_minute_recent.toFixed(1)}/min in the last 5 min`;
  $("rate").textContent = rate + recent;
}

function renderBest(best) {
  $("best-loss").textContent = best ? fmt(best.loss) : "–";
  $("best-trial").textContent = best ? `trial ${best.tid}, finished ${when(best.finished)}` : "no finished trial yet";
  $("best-params").innerHTML = best ? Object.entries(best.params).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(fmt(v))}</td></tr>`).join("") : "";
}

function renderRecord(record) {
  const items = record ? Object.entries(record).filter(([k, v]) => k !== "space_fingerprint" && v !== null && v !== "") : [];
  $("record").innerHTML = items.length ? items.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("")
    : `<tr><td>engine</td><td>not recorded (not a sigopt_suggest search, or none yet)</td></tr>`;
}

function bestSoFar(xs, losses) {
  const x = [], y = [];
  let best = Infinity;
  for (let i = 0; i < xs.length; i++) {
    if (losses[i] < best) {
      if (x.length) { x.push(xs[i]); y.push(best); }
      best = losses[i]; x.push(xs[i]); y.push(best);
    }
  }
  if (x.length && xs.length) { x.push(xs[xs.length - 1]); y.push(best); }
  return { x, y };
}

function renderHistory(rows) {
  const done = rows.filter((r) => r.loss !== null);
  const tids = done.map((r) => r.tid), losses = done.map((r) => r.loss);
  const line = bestSoFar(tids, losses);
  Plotly.react("plot-history", [
    { x: tids, y: losses, mode: "markers", type: pointType(tids.length), marker: { size: 5, color: "#8ab" }, name: "loss" },
    { x: line.x, y: line.y, mode: "lines", type: "scatter", line: { color: "#e76f51", width: 2 }, name: "best so far" },
  ], { ...baseLayout, xaxis: { title: { text: "trial id" } }, yaxis: { title: { text: "loss" } } }, plotConfig);
}

function renderTime(rows) {
  const done = rows.filter((r) => r.loss !== null && r.refreshed).sort((a, b) => a.refreshed - b.refreshed);
  const times = done.map((r) => new Date(r.refreshed * 1000)), losses = done.map((r) => r.loss);
  const line = bestSoFar(times, losses);
  Plotly.react("plot-time", [
    { x: times, y: losses, mode: "markers", type: pointType(times.length), marker: { size: 5, color: "#8ab" }, name: "loss" },
    { x: line.x, y: line.y, mode: "lines", type: "scatter", line: { color: "#e76f51", width: 2 }, name: "best so far" },
  ], { ...baseLayout, xaxis: { title: { text: "finished at" }, type: "date" }, yaxis: { title: { text: "loss" } } }, plotConfig);
}

function renderParams(rows, axes, spaceKnown) {
  const box = $("param-plots");
  const wanted = axes.map((a) => `param-${a.label}`);
  if (box.dataset.labels !== wanted.join("\n")) {
    box.innerHTML = axes.map((a, i) => `<div><div class="muted">${esc(a.label)}${a.log ? " (log)" : ""}${a.conditional ? " (conditional: where active)" : ""}</div><div class="param-plot" id="param-plot-${i}"></div></div>`).join("");
    box.dataset.labels = wanted.join("\n");
  }
  $("axes-note").textContent = spaceKnown ? "Axes from the search space: log-scaled parameters on log axes, choices by label."
    : "The search space is not available here (pass --space module:attribute); axes are guessed from the values.";
  const done = rows.filter((r) => r.loss !== null);
  axes.forEach((axis, i) => {
    const active = done.filter((r) => r.params[axis.label] !== undefined && r.params[axis.label] !== null);
    // Half a category of room beside the first and last options, so their labels are not cut at the edges.
    const xaxis = axis.kind === "categorical"
      ? { type: "category", categoryorder: "array", categoryarray: axis.categories, automargin: true,
          range: axis.categories.length ? [-0.5, axis.categories.length - 0.5] : undefined }
      : { type: axis.log ? "log" : "linear" };
    Plotly.react(`param-plot-${i}`, [{
      x: active.map((r) => r.params[axis.label]), y: active.map((r) => r.loss), text: active.map((r) => `trial ${r.tid}`),
      mode: "markers", type: axis.kind === "categorical" ? "scatter" : pointType(active.length),
      marker: { size: 5, color: active.map((r) => r.tid), colorscale: "Viridis", opacity: 0.7 },
    }], { ...baseLayout, margin: { l: 45, r: 5, t: MODEBAR_ROOM, b: 30 }, xaxis, yaxis: { title: { text: "loss" } } }, plotConfig);
  });
}

function dimension(axis, done) {
  const values = done.map((r) => r.params[axis.label]);
  if (axis.kind === "categorical") {
    const cats = axis.categories.length ? axis.categories.slice() : [...new Set(values.map(String))];
    for (const v of values) if (!cats.includes(String(v))) cats.push(String(v));
    return { label: axis.label, values: values.map((v) => cats.indexOf(String(v))), tickvals: cats.map((_, i) => i), ticktext: cats };
  }
  if (axis.log) return { label: `log10 ${axis.label}`, values: values.map((v) => Math.log10(v)) };
  return { label: axis.label, values };
}

// Parallel coordinates of at most this many trials (the most recent): more lines only blacken the plot.
const PARCOORDS_MAX = 2000;
// plotly writes each axis' title above its top tick label, both above the plot area: room for both
// and the toolbar.
const PARCOORDS_TOP = 64;

function renderParcoords(rows, axes) {
  const done = rows.filter((r) => r.loss !== null).slice(-PARCOORDS_MAX);
  const always = axes.filter((a) => !a.conditional && done.every((r) => r.params[a.label] !== undefined));
  const dims = always.map((a) => dimension(a, done));
  dims.push({ label: "loss", values: done.map((r) => r.loss) });
  Plotly.react("plot-parcoords", [{
    type: "parcoords", dimensions: dims,
    line: { color: done.map((r) => r.loss), colorscale: "Viridis", reversescale: true, showscale: true },
  }], { margin: { l: 60, r: 50, t: PARCOORDS_TOP, b: 20 } }, plotConfig);
}

// A multimetric search with two optimized metrics: each finished trial at its two values, feasible and
// infeasible ones apart, the frontier (from the server, data.frontier) joined by its staircase.
// Hidden for every other search, so a single-loss search's page is as it always was.
function renderPareto(rows, metrics, frontier) {
  const optimized = (metrics || []).filter((m) => m.strategy === "optimize");
  const card = $("pareto");
  if (optimized.length !== 2) { card.hidden = true; return; }
  card.hidden = false;
  const [mx, my] = optimized;
  const has = (r) => r.state === "done" && r.metrics && Number.isFinite(r.metrics[mx.name]) && Number.isFinite(r.metrics[my.name]);
  const done = rows.filter(has);
  const onFront = new Set(frontier);
  const feasible = done.filter((r) => r.feasible && !onFront.has(r.tid));
  const infeasible = done.filter((r) => !r.feasible);
  const front = frontier.map((tid) => dash.trials.get(tid)).filter((r) => r && has(r));
  const trace = (list, name, marker) => ({
    x: list.map((r) => r.metrics[mx.name]), y: list.map((r) => r.metrics[my.name]), name, mode: "markers",
    type: pointType(list.length), marker,
    text: list.map((r) => `trial ${r.tid}${r.constraints && r.constraints !== "feasible" ? `: ${r.constraints}` : ""}`),
  });
  // The frontier's staircase, in the order of the first metric: each point to the next one's x, then down (or up).
  const stepX = [], stepY = [];
  front.forEach((r, i) => {
    if (i > 0) { stepX.push(r.metrics[mx.name]); stepY.push(front[i - 1].metrics[my.name]); }
    stepX.push(r.metrics[mx.name]); stepY.push(r.metrics[my.name]);
  });
  Plotly.react("plot-pareto", [
    trace(feasible, "feasible", { size: 6, color: "#8ab", opacity: 0.8 }),
    trace(infeasible, "infeasible", { size: 7, color: "#e76f51", symbol: "x", opacity: 0.8 }),
    { x: stepX, y: stepY, mode: "lines", type: "scatter", line: { color: "#264653", width: 1.5, shape: "linear" },
      name: "frontier", hoverinfo: "skip", showlegend: false },
    trace(front, "frontier", { size: 9, color: "#264653", line: { color: "#fff", width: 1 } }),
  ], { ...baseLayout, showlegend: true, legend: { orientation: "h", y: 1.12 },
       xaxis: { title: { text: `${mx.name} (${mx.objective})` } }, yaxis: { title: { text: `${my.name} (${my.objective})` } } },
  plotConfig);
  const limits = (metrics || []).filter((m) => m.threshold !== null && m.threshold !== undefined)
    .map((m) => `${m.name} ${m.objective === "minimize" ? "≤" : "≥"} ${m.threshold}`);
  $("pareto-note").textContent = `${front.length} trials on the frontier of ${done.length - infeasible.length} feasible `
    + `(${infeasible.length} infeasible)` + (limits.length ? `; feasible: ${limits.join(", ")}` : "") + ".";
}

function renderImportance(importance) {
  $("importance-method").textContent = `How: ${importance.method}.`;
  const values = importance.values;
  const entries = values ? Object.entries(values).sort((a, b) => a[1] - b[1]) : [];
  const key = JSON.stringify(entries);
  if ($("plot-importance").dataset.key === key) return;
  $("plot-importance").dataset.key = key;
  Plotly.react("plot-importance", [{
    type: "bar", orientation: "h", x: entries.map((e) => e[1]), y: entries.map((e) => e[0]), marker: { color: "#2a9d8f" },
  }], { ...baseLayout, margin: { l: 120, r: 10, t: MODEBAR_ROOM, b: 30 }, xaxis: { title: { text: "share of importance" } },
        annotations: values ? [] : [{ text: "needs 8 finished trials", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] }, plotConfig);
}

function workerRow(w, now) {
  const heard = w.last_heartbeat ? ago(w.last_heartbeat, now)
    : w.expires ? `registration expired ${ago(w.expires, now)}` : "–";
  return `<tr data-worker="${esc(w.id)}" data-status="${esc(w.status)}">
    <td>${esc(w.id)}</td><td>${esc(w.host)}</td><td>${esc(w.pid)}</td><td class="status-${esc(w.status)}">${esc(w.status)}</td>
    <td>${w.running.map((t) => `#${t}`).join(" ")}</td><td class="heard" title="${esc(when(w.last_heartbeat))}">${esc(heard)}</td>
    <td>${w.done}</td><td>${w.failed}</td><td class="requeues" title="trials taken back from it: ${esc(w.lost.join(", "))}">${w.requeues}${w.lost.length ? ` (${w.lost.map((t) => `#${t}`).join(" ")})` : ""}</td></tr>`;
}

// Gone workers that did nothing in this search are folded under one row, listed when it is clicked.
function renderWorkers(workers, folded, now) {
  let html = workers.map((w) => workerRow(w, now)).join("");
  if (folded.length) {
    const what = `gone worker${folded.length === 1 ? "" : "s"} that ran nothing in this search`;
    html += `<tr id="workers-folded" class="folded muted"><td colspan="9">${dash.showFolded ? "hide" : "show"} ${folded.length} more: ${what}</td></tr>`;
    if (dash.showFolded) html += folded.map((w) => workerRow(w, now)).join("");
  }
  $("workers").tBodies[0].innerHTML = html
    || `<tr><td colspan="9" class="muted">no worker registered (a Trials file, or no worker running)</td></tr>`;
}

function renderTroubles(rows) {
  const troubled = rows.filter((r) => r.state === "failed" || r.requeues > 0 || (r.lost_by && r.lost_by.length)).slice(-200).reverse();
  $("troubles").tBodies[0].innerHTML = troubled.map((r) => `<tr data-tid="${r.tid}"><td>${r.tid}</td><td class="s-text-${r.state}">${r.state}</td>
    <td>${r.requeues}</td><td>${esc((r.lost_by || []).join(", "))}</td><td>${esc(r.owner)}</td><td class="err">${esc(r.error)}</td></tr>`).join("")
    || `<tr><td colspan="6" class="muted">none</td></tr>`;
}

// -- the trial table: sortable, filterable, paged -----------------------------------------------

function columns() {
  const labels = (dash.last ? dash.last.axes : []).map((a) => a.label);
  // A multimetric search: each declared metric's value and the constraint status after the loss.
  const metrics = (dash.last && dash.last.metrics) || [];
  const metricColumns = metrics.length ? [...metrics.map((m) => [m.name, (r) => (r.metrics ? r.metrics[m.name] : null)]),
    ["constraints", (r) => r.constraints]] : [];
  return [["tid", (r) => r.tid], ["state", (r) => r.state], ["loss", (r) => r.loss], ...metricColumns,
    ...labels.map((l) => [l, (r) => r.params[l]]),
    ["owner", (r) => r.owner], ["attempt", (r) => r.attempt], ["finished", (r) => r.refreshed], ["error", (r) => r.error]];
}

function renderTable() {
  const cols = columns();
  const head = $("trials").tHead;
  const headHtml = `<tr>${cols.map(([name]) => `<th data-key="${esc(name)}" class="${dash.sort.key === name ? (dash.sort.dir > 0 ? "asc" : "desc") : ""}">${esc(name)}</th>`).join("")}</tr>`;
  if (head.innerHTML !== headHtml) head.innerHTML = headHtml;
  const text = $("filter").value.trim().toLowerCase(), state = $("state-filter").value;
  const getter = (cols.find(([name]) => name === dash.sort.key) || cols[0])[1];
  let rows = Array.from(dash.trials.values());
  if (state) rows = rows.filter((r) => r.state === state);
  if (text) rows = rows.filter((r) => cols.some(([, get]) => String(get(r) ?? "").toLowerCase().includes(text)));
  rows.sort((a, b) => {
    const x = getter(a), y = getter(b);
    if (x === y) return a.tid - b.tid;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * dash.sort.dir;
  });
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  dash.page = Math.min(dash.page, pages - 1);
  const shown = rows.slice(dash.page * PAGE_SIZE, (dash.page + 1) * PAGE_SIZE);
  const cellClass = (name, r) => (name === "error" ? ' class="err"'
    : name === "constraints" && r.constraints ? ` class="${r.feasible ? "feasible" : "infeasible"}"` : "");
  $("trials").tBodies[0].innerHTML = shown.map((r) => `<tr data-tid="${r.tid}">${cols.map(([name, get]) =>
    `<td${cellClass(name, r)}>${esc(name === "finished" ? when(get(r)) : fmt(get(r)))}</td>`).join("")}</tr>`).join("");
  $("table-count").textContent = `${rows.length} of ${dash.trials.size} trials`;
  $("page").textContent = `page ${dash.page + 1} of ${pages}`;
}

function setUpTable() {
  $("trials").tHead.addEventListener("click", (event) => {
    const key = event.target.dataset && event.target.dataset.key;
    if (!key) return;
    dash.sort = { key, dir: dash.sort.key === key ? -dash.sort.dir : 1 };
    renderTable();
  });
  $("filter").addEventListener("input", () => { dash.page = 0; renderTable(); });
  $("state-filter").addEventListener("change", () => { dash.page = 0; renderTable(); });
  $("prev").addEventListener("click", () => { dash.page = Math.max(0, dash.page - 1); renderTable(); });
  $("next").addEventListener("click", () => { dash.page += 1; renderTable(); });
  $("workers").tBodies[0].addEventListener("click", (event) => {
    if (!event.target.closest("#workers-folded") || !dash.last) return;
    dash.showFolded = !dash.showFolded;
    renderWorkers(dash.last.workers, dash.last.workers_folded || [], dash.last.now);
  });
  $("exp-key").addEventListener("change", (event) => {
    dash.chosen = JSON.parse(event.target.value); dash.since = 0; dash.epoch = null;
  });
}

window.dashStats.pageStart = performance.now();
setUpTable();
if (window.DASHBOARD_DATA) {
  for (const data of window.DASHBOARD_DATA) {
    // An export holds every search; the selector switches between them without a server.
    window.DASHBOARD_BY_KEY = window.DASHBOARD_BY_KEY || new Map();
    window.DASHBOARD_BY_KEY.set(JSON.stringify(data.exp_key), data);
  }
  $("exp-key").addEventListener("change", (event) => apply(window.DASHBOARD_BY_KEY.get(event.target.value)));
  // The running search comes first in the data; an address naming another (?search=) opens on it.
  const named = addressedSearch();
  const opened = named === null ? undefined
    : window.DASHBOARD_DATA.find((d) => d.exp_key === named) || window.DASHBOARD_DATA.find((d) => named === "" && d.exp_key === null);
  apply(opened || window.DASHBOARD_DATA[0]);
} else {
  poll();
}
