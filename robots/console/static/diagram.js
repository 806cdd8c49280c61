// The operator's charts (uPlot, vendored): drawn from /api/statistikk, redrawn every minute.
"use strict";
// One clearly different colour and a bokmål name per outcome (never the code, never black).
const COLOURS = { done: "#0b5c1d", business_error: "#a86b00", system_error: "#8f0000", abandoned: "#5a2ca0", released: "#49637a", lost: "#00707a", waiting: "#0b4f8a", handed_over: "#9c2a74", system_wait: "#7a4a1e" };
const NAMES = { done: "ferdig", business_error: "forretningsfeil", system_error: "teknisk feil", abandoned: "forlatt", released: "levert tilbake", lost: "tatt over", waiting: "venter på svar", handed_over: "sendt til manuell behandling", system_wait: "venter på systemet" };

// Times as Norwegians read them (24-hour clock, day.month.), not uPlot's US default.
const CLOCK = (u, vals) => vals.map(v => new Date(v * 1000).toLocaleTimeString("nb-NO", { hour: "2-digit", minute: "2-digit" }));
const DAY = (u, vals) => vals.map(v => new Date(v * 1000).toLocaleDateString("nb-NO", { day: "numeric", month: "numeric" }));
const WHEN = (u, v) => v == null ? "–" : new Date(v * 1000).toLocaleString("nb-NO");

function width(el) { return Math.max(240, Math.min(el.clientWidth || 800, 1100)); }

function stacked(el, data, outcomes, dayLabels) {
  const sums = data.x.map(() => 0);
  const series = [{ label: "Tid", value: WHEN }];
  const rows = [data.x];
  for (const o of outcomes) {                  // stacked: each band is the sum so far
    const band = data.series[o].map((v, i) => (sums[i] += v));
    rows.push(band);
    series.push({ label: NAMES[o] || "annet utfall", stroke: COLOURS[o] || "#6b7785", fill: COLOURS[o] || "#6b7785", width: 1 });
  }
  rows.splice(1, rows.length - 1, ...rows.slice(1).reverse());
  series.splice(1, series.length - 1, ...series.slice(1).reverse());
  return new uPlot({ width: width(el), height: 220, series, axes: [{ values: dayLabels ? DAY : CLOCK }, {}] }, rows, el);
}

async function draw() {
  const r = await fetch("/api/statistikk");
  if (!r.ok || !window.uPlot) return;
  const d = await r.json();
  for (const id of ["diagram-timer", "diagram-dager", "diagram-ko", "diagram-median"]) document.getElementById(id).replaceChildren();
  stacked(document.getElementById("diagram-timer"), d.hours, d.outcomes, false);
  stacked(document.getElementById("diagram-dager"), d.days, d.outcomes, true);
  const ko = document.getElementById("diagram-ko");
  new uPlot({ width: width(ko), height: 200, axes: [{ values: CLOCK }, {}], series: [{ label: "Tid", value: WHEN }, { label: "venter eller kjører", stroke: "#14324f", fill: "#14324f33" }] }, [d.depth.x, d.depth.y], ko);
  const med = document.getElementById("diagram-median");
  const tasks = Object.keys(d.median_by_task);
  if (tasks.length) {
    const xs = tasks.map((_, i) => i);
    new uPlot({ width: width(med), height: 200, scales: { x: { time: false } },
      axes: [{ values: (u, v) => v.map(i => tasks[i] || "") }, {}],
      series: [{ label: "Oppgave", value: (u, i) => i == null ? "–" : tasks[i] }, { label: "median (s)", stroke: "#14324f", fill: "#14324f55", paths: uPlot.paths.bars({ size: [0.6] }) }] },
      [xs, tasks.map(t => d.median_by_task[t])], med);
  } else { med.textContent = "Ingen ferdige kjøringer de siste 30 dagene."; }
}

document.addEventListener("DOMContentLoaded", () => { draw(); setInterval(draw, 60000); });
