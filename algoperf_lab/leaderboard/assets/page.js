// Renders the leaderboard from window.LEADERBOARD (data.js, written by `algoperf-lab leaderboard`).
"use strict";
const D = window.LEADERBOARD;
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}
const fmt = (v, digits = 3) => (v === null || v === undefined ? "miss" : Number(v).toFixed(digits));
const fmtTime = (v, clock) => (v === null ? "miss" : clock === "steps" ? String(Math.round(v)) : Number(v).toFixed(1));
const anchor = (name) => "sub-" + name.replace(/[^A-Za-z0-9_-]/g, "_");

function intervalText(interval, n, clock, isScore) {
  if (!interval) return `n/a (n=${n})`;
  const f = isScore ? (v) => fmt(v) : (v) => fmtTime(v, clock);
  return `[${f(interval[0])}, ${f(interval[1])}]`;
}

// ---- the sortable table ----
function buildTable() {
  const time = D.clocks.time, steps = D.clocks.steps;
  const names = Object.keys(time);
  const columns = [
    { label: "submission", cls: "name", value: (n) => n, cell: (n) => el("a", { href: "#" + anchor(n) }, n) },
    { label: "family", cls: "name", value: (n) => D.submissions[n].family, cell: (n) => D.submissions[n].family },
    { label: "form", cls: "name", value: (n) => D.submissions[n].form, cell: (n) => D.submissions[n].form },
    { label: "score (time)", value: (n) => time[n].score,
      cell: (n) => scoreCell(time[n]) },
    { label: "score (steps)", value: (n) => (steps[n] ? steps[n].score : -1),
      cell: (n) => (steps[n] ? scoreCell(steps[n]) : "n/a") },
    { label: "rank time → steps", value: (n) => D.ranks[n].time,
      cell: (n) => `${D.ranks[n].time} → ${D.ranks[n].steps ?? "n/a"}` },
  ];
  for (const w of D.workloads) {
    for (const [clock, table, unit] of [["time", time, "s"], ["steps", steps, "steps"]]) {
      columns.push({
        label: `${w} ${unit}`,
        value: (n) => { const c = table[n] && table[n].workloads[w]; return c && c.median !== null ? c.median : Infinity; },
        cell: (n) => workloadCell(table[n] && table[n].workloads[w], clock, hasGap(n, w)),
      });
    }
    const worst = (D.curves[w] || {}).direction === "higher" ? -Infinity : Infinity;
    columns.push({
      label: `${w} best`,
      value: (n) => bestMedian(w, n) ?? worst,
      cell: (n) => bestCell(((D.closest || {})[w] || {})[n]),
    });
  }
  const head = $("leaderboard-table").querySelector("thead");
  const row = el("tr");
  columns.forEach((column, index) => {
    const th = el("th", { class: column.cls || "", dataset: { column: String(index) } }, column.label);
    th.addEventListener("click", () => sortBy(index));
    row.append(th);
  });
  head.append(row);
  const body = $("leaderboard-table").querySelector("tbody");
  for (const n of names) {
    const tr = el("tr", { dataset: { submission: n } });
    columns.forEach((column) => {
      const value = column.value(n);
      tr.append(el("td", { class: column.cls || "", dataset: { sort: typeof value === "number" ? String(value) : value } }, column.cell(n)));
    });
    body.append(tr);
  }
  let state = { index: 3, descending: true };
  function sortBy(index) {
    state = { index, descending: state.index === index ? !state.descending : index >= 3 && index <= 4 };
    const rows = Array.from(body.querySelectorAll("tr"));
    rows.sort((a, b) => {
      const x = a.children[index].dataset.sort, y = b.children[index].dataset.sort;
      const nx = Number(x), ny = Number(y);
      const order = !isNaN(nx) && !isNaN(ny) ? nx - ny : String(x).localeCompare(String(y));
      return state.descending ? -order : order;
    });
    rows.forEach((r) => body.append(r));
    head.querySelectorAll("th").forEach((th) => th.classList.remove("sorted-asc", "sorted-desc"));
    head.querySelectorAll("th")[index].classList.add(state.descending ? "sorted-desc" : "sorted-asc");
  }
}

function scoreCell(entry) {
  return el("span", {}, fmt(entry.score), " ",
    el("span", { class: "interval" }, intervalText(entry.interval, entry.min_studies, "time", true)));
}

// Whether an incomplete record of this submission on this workload was left out (--allow_incomplete).
const hasGap = (name, workload) => (D.gaps || []).some(([s, w]) => s === name && w === workload);
const GAP_TITLE = "incomplete: a record of this submission on this workload is corrupt, preempted or still running and was left out (--allow_incomplete)";

function workloadCell(cell, clock, gap = false) {
  if (!cell) return "—";
  const mark = gap ? [el("span", { class: "gap", title: GAP_TITLE }, "†")] : [];
  if (cell.n === 0) return el("span", { class: "miss" }, "no runs", ...mark);
  const span = el("span", { class: cell.median === null ? "miss" : "" }, fmtTime(cell.median, clock), ...mark,
    el("span", { class: "interval" }, ` n=${cell.n} (${cell.reached}/${cell.n}) ${cell.interval ? intervalText(cell.interval, cell.n, clock, false) : "n/a"}`));
  return span;
}

function bestMedian(workload, name) {  // the median of the studies' best values, or null
  const best = ((D.closest || {})[workload] || {})[name];
  return best && best.median !== null ? best.median : null;
}

function bestCell(best) {  // the studies' best validation values: median (range)
  if (!best || best.median === null) return "—";
  const g = (v) => Number(v).toPrecision(4);
  const range = best.n > 1 ? ` (${g(best.low)}–${g(best.high)})` : "";
  return el("span", {}, String(g(best.median)), el("span", { class: "interval" }, `${range} n=${best.n}`));
}

// ---- performance profiles ----
function drawProfile(clock, target) {
  const p = D.profiles[clock];
  const traces = Object.entries(p.submissions).map(([name, rho]) => ({
    x: p.tau, y: rho, name, mode: "lines", line: { shape: "hv" },
    hovertemplate: `${name}<br>τ=%{x:.2f}<br>ρ=%{y:.2f}<extra></extra>` }));
  Plotly.newPlot(target, traces, {
    title: { text: `Performance profile (${clock === "time" ? "time" : "step"} clock)` },
    xaxis: { title: { text: "τ (ratio to the best)" }, type: "log" }, yaxis: { title: { text: "ρ(τ)" }, range: [0, 1.05] },
    margin: { t: 40, r: 10 }, legend: { font: { size: 10 } } }, { displaylogo: false, responsive: true });
}

function rankChanges() {
  const list = $("rank-changes");
  const moved = Object.entries(D.ranks).filter(([, r]) => r.steps !== null && r.steps !== r.time);
  if (!moved.length) list.append(el("li", {}, "No submission changes rank between the time and the step clock."));
  for (const [name, r] of moved) list.append(el("li", {}, `${name}: rank ${r.time} on time, ${r.steps} on steps`));
}

// ---- paired comparisons against the baseline ----
function pairedWorkloads() {
  const names = [...new Set(Object.values(D.paired || {}).flat().map((c) => c.workload))].sort();
  names.forEach((name) => $("paired-workload").append(el("option", { value: name }, name)));
}

function renderPaired() {
  $("paired-baseline").textContent = D.baseline || "none chosen";
  const body = $("paired-table").querySelector("tbody");
  body.replaceChildren();
  const workload = $("paired-workload").value;
  const rows = (((D.paired || {})[$("paired-clock").value]) || []).filter((c) => !workload || c.workload === workload);
  if (!rows.length) {
    body.append(el("tr", {}, el("td", { colspan: "7", class: "name" },
      D.baseline ? "No study is shared with the baseline." : "No baseline: build the page with --baseline=SUBMISSION.")));
    return;
  }
  const num = (v, digits) => (v === null || v === undefined ? "n/a" : Number(v).toFixed(digits));
  for (const c of rows) {
    const interval = c.time_ratio_ci95 ? `[${num(c.time_ratio_ci95[0], 3)}, ${num(c.time_ratio_ci95[1], 3)}]` : "n/a";
    body.append(el("tr", { dataset: { submission: c.submission, workload: c.workload } },
      el("td", { class: "name" }, c.workload), el("td", { class: "name" }, c.submission),
      el("td", {}, String(c.pairs)), el("td", {}, `${c.faster} / ${c.slower} / ${c.ties}`),
      el("td", {}, num(c.sign_test_p, 3)),
      el("td", {}, c.time_ratio_geomean === null ? "n/a (a miss)" : num(c.time_ratio_geomean, 3)),
      el("td", {}, interval)));
  }
}

// ---- validation curves ----
// 20 colours (D3's category20 order: ten hues, then their light tints), so that a board's five
// shown submissions never share one and a long legend repeats late.
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
  "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"];
// The y axis opens on the race to the target: the target and every value the shown medians take
// after the first tenth of the time axis (the early fall from the initial loss would squash it);
// the chart's autoscale (double-click) shows everything.
function raceRange(c, shown) {
  const start = c.grid[c.grid.length - 1] * 0.1;
  let low = c.target, high = c.target;
  shown.forEach((name) => {
    const band = c.submissions[name];
    if (!band) return;
    band.median.forEach((y, k) => {
      if (y == null || c.grid[k] < start) return;
      low = Math.min(low, y); high = Math.max(high, y);
    });
  });
  const pad = 0.05 * (high - low) || 0.05 * Math.abs(c.target) || 1;
  return [low - pad, high + pad];
}
function drawCurves() {
  const container = $("curve-charts");
  const top = (workload, direction) => {  // fastest median time, then closest best value
    const sign = direction === "higher" ? -1 : 1;
    const key = (n) => {
      const cell = D.clocks.time[n] && D.clocks.time[n].workloads[workload];
      const best = bestMedian(workload, n);
      return [cell && cell.median !== null ? cell.median : Infinity, best === null ? Infinity : sign * best];
    };
    return Object.keys(D.clocks.time).sort((x, y) => {
      const [tx, bx] = key(x), [ty, by] = key(y);
      return tx - ty || bx - by || x.localeCompare(y);
    }).slice(0, 5);
  };
  Object.entries(D.curves).forEach(([workload, c], wi) => {
    const id = "curves-" + wi;
    container.append(el("div", { id, class: "chart curves", "data-workload": workload }));
    const traces = [];
    const shown = top(workload, c.direction);
    const names = Object.keys(c.submissions);
    const colorOrder = [...shown, ...names.filter((n) => !shown.includes(n))];  // shown: distinct colours
    Object.entries(c.submissions).forEach(([name, band]) => {
      const color = PALETTE[colorOrder.indexOf(name) % PALETTE.length];
      const visible = shown.includes(name) ? true : "legendonly";
      traces.push({ x: c.grid, y: band.high, mode: "lines", line: { width: 0, color }, legendgroup: name,
        showlegend: false, hoverinfo: "skip", visible, name: name + " max" });
      traces.push({ x: c.grid, y: band.low, mode: "lines", line: { width: 0, color }, fill: "tonexty",
        fillcolor: color + "33", legendgroup: name, showlegend: false, hoverinfo: "skip", visible, name: name + " min" });
      traces.push({ x: c.grid, y: band.median, mode: "lines", line: { color }, legendgroup: name,
        name: `${name} (n=${band.n})`, visible, connectgaps: false,
        hovertemplate: `${name}<br>t=%{x:.1f}<br>${c.metric}=%{y:.4f}<extra></extra>` });
    });
    traces.push({ x: [c.grid[0], c.grid[c.grid.length - 1]], y: [c.target, c.target], mode: "lines",
      line: { dash: "dash", color: "#000" }, name: `target ${c.target}`, hoverinfo: "name" });
    Plotly.newPlot(id, traces, { title: { text: workload }, xaxis: { title: { text: `submission time (${c.clock === "process_cpu" ? "process CPU s" : "s"})` } },
      yaxis: { title: { text: c.metric }, range: raceRange(c, shown) }, margin: { t: 40, r: 10 }, legend: { font: { size: 10 } } },
      { displaylogo: false, responsive: true });
  });
}

// ---- anytime view ----
function anytimeLevels(mode) {
  return mode === "budget" ? D.anytime.budget_fractions : D.anytime.loosenings;
}
function keyOf(v) { return Number.isInteger(v) ? v.toFixed(1) : String(v); }
function renderAnytime() {
  const mode = $("anytime-mode").value;
  const levels = anytimeLevels(mode);
  const slider = $("anytime-slider");
  slider.max = String(levels.length - 1);
  const level = levels[Math.min(Number(slider.value), levels.length - 1)];
  $("anytime-level").textContent = mode === "budget" ? `${Math.round(level * 100)}% of the budget`
    : `target loosened by ${Math.round(level * 100)}%`;
  const scores = (mode === "budget" ? D.anytime.by_budget : D.anytime.by_target)[keyOf(level)] || {};
  const body = $("anytime-table").querySelector("tbody");
  body.replaceChildren();
  Object.entries(scores).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).forEach(([name, score], i) => {
    body.append(el("tr", { dataset: { submission: name } }, el("td", {}, String(i + 1)),
      el("td", { class: "name" }, name), el("td", {}, fmt(score))));
  });
  const traces = Object.keys(D.clocks.time).map((name) => ({
    x: levels.map((l) => l * 100),
    y: levels.map((l) => ((mode === "budget" ? D.anytime.by_budget : D.anytime.by_target)[keyOf(l)] || {})[name]),
    name, mode: "lines+markers",
    hovertemplate: `${name}<br>%{x}%<br>score=%{y:.3f}<extra></extra>` }));
  Plotly.react("anytime-chart", traces, {
    title: { text: mode === "budget" ? "Score against the budget" : "Score against the target's looseness" },
    xaxis: { title: { text: mode === "budget" ? "% of the budget" : "% looser target" } }, yaxis: { title: { text: "benchmark score" }, range: [0, 1.05] },
    margin: { t: 40, r: 10 }, legend: { font: { size: 10 } } }, { displaylogo: false, responsive: true });
}

// ---- submissions ----
function submissionDetails() {
  const container = $("submission-details");
  for (const name of Object.keys(D.clocks.time)) {
    const s = D.submissions[name];
    const section = el("details", { id: anchor(name) }, el("summary", {}, `${name} — ${s.family}, ${s.form} form (${s.path || "?"})`));
    if (s.doc) section.append(el("pre", {}, s.doc));
    for (const [workload, runs] of Object.entries(s.runs)) {
      section.append(el("h4", {}, workload));
      const table = el("table", {}, el("tr", {}, ...["study", "trial", "seed", "ruleset", "status", "counts", "time to target", "steps", "hyperparameters", "command", "record"].map((h) => el("th", { class: "name" }, h))));
      for (const r of runs) {
        table.append(el("tr", {}, el("td", {}, r.study ?? "—"), el("td", {}, r.trial ?? "—"), el("td", {}, r.seed),
          el("td", { class: "name" }, r.ruleset), el("td", { class: "name" }, r.status), el("td", {}, r.counts ? "yes" : ""),
          el("td", {}, fmtTime(r.time_to_target, "time")), el("td", {}, r.steps_to_target ?? "—"),
          el("td", { class: "name" }, el("code", {}, JSON.stringify(r.hparams))),
          el("td", { class: "name" }, el("code", { class: "command" }, r.command)),
          el("td", { class: "name" }, el("a", { href: r.record + "/result.json" }, "result.json"), " ",
            el("a", { href: r.record + "/metrics.jsonl" }, "metrics.jsonl"))));
      }
      section.append(el("div", { class: "scroll" }, table));
    }
    container.append(section);
  }
}

// How the runs compiled (as markdown.py's table line says it).
function compilation(counts) {
  if (!counts) return "";
  if (counts.from_scratch && !counts.cached && !counts.unrecorded) return "; compilation: each run from scratch";
  const parts = [[counts.from_scratch, "from scratch"], [counts.cached, "with the persistent cache"],
                 [counts.unrecorded, "unrecorded"]]
    .filter(([n]) => n).map(([n, words]) => `${n} ${words}`);
  return parts.length ? `; compilation: ${parts.join(", ")}` : "";
}

function provenance() {
  $("summary").textContent = `${D.num_runs} runs, ${Object.keys(D.clocks.time).length} submissions, ` +
    `${D.workloads.length} workload(s): ${D.workloads.join(", ")}. τ_max = ${D.tau_max}.` +
    (D.compute ? ` Compute: ${D.compute.core_hours.toFixed(1)} core-hours ` +
      `(${D.compute.wall_hours.toFixed(1)} wall-hours of runs), ${D.compute.first_started} to ` +
      `${D.compute.last_ended}` + (D.compute.load_1min ? `; 1-minute load average at run starts and ends ` +
      `${D.compute.load_1min[0].toFixed(2)}–${D.compute.load_1min[1].toFixed(2)}` : "") +
      compilation(D.compute.compilation) + "." : "");
  $("min-studies").textContent = String(D.min_studies_for_interval);
  for (const line of D.hardware) $("hardware").append(el("li", {}, line));
  for (const k of D.skipped) $("skipped").append(el("li", {}, `${k.path}: ${k.reason}`));
  for (const w of D.warnings) $("skipped").append(el("li", {}, `warning: ${w}`));
  if ((D.gaps || []).length) $("skipped").append(el("li", {}, `† ${GAP_TITLE}: ${D.gaps.map(([s, w]) => `${s} on ${w}`).join(", ")}`));
  if (!D.skipped.length && !D.warnings.length) $("skipped").append(el("li", {}, "none"));
}

provenance();
buildTable();
drawProfile("time", "profile-time");
drawProfile("steps", "profile-steps");
rankChanges();
pairedWorkloads();
renderPaired();
$("paired-clock").addEventListener("change", renderPaired);
$("paired-workload").addEventListener("change", renderPaired);
drawCurves();
submissionDetails();
$("anytime-mode").addEventListener("change", () => {  // a new mode starts at its last level
  const last = String(anytimeLevels($("anytime-mode").value).length - 1);
  $("anytime-slider").max = last;
  $("anytime-slider").value = last;
  renderAnytime();
});
$("anytime-slider").addEventListener("input", renderAnytime);
renderAnytime();
