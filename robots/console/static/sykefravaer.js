// The leader's trend charts (uPlot, vendored): each area's monthly sick leave against its target.
"use strict";
const MONTH = (u, vals) => vals.map(v => new Date(v * 1000).toLocaleDateString("nb-NO", { month: "short", year: "2-digit" }));
const PCT = (u, v) => v == null ? "–" : v.toLocaleString("nb-NO", { maximumFractionDigits: 1 }) + " %";

function chartWidth(el) { return Math.max(240, Math.min(el.clientWidth || 800, 1100)); }

document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("sykefravaer-data");
  if (!source || !window.uPlot) return;
  const d = JSON.parse(source.textContent);
  const xs = d.months.map(m => Date.parse(m + "T12:00:00Z") / 1000);
  d.areas.forEach((area, i) => {
    const el = document.getElementById("sykefravaer-" + i);
    const series = [{ label: "Måned", value: (u, v) => v == null ? "–" : new Date(v * 1000).toLocaleDateString("nb-NO", { month: "long", year: "numeric" }) },
      { label: "sykefravær", stroke: "#14324f", width: 2, value: PCT, points: { show: true } }];
    const rows = [xs, area.values];
    if (area.target != null) {
      series.push({ label: "mål", stroke: "#8f0000", dash: [6, 4], width: 2, value: PCT, points: { show: false } });
      rows.push(xs.map(() => area.target));
    }
    new uPlot({ width: chartWidth(el), height: 200, series, scales: { y: { range: (u, min, max) => [0, Math.max(max, area.target || 0) + 1] } },
      axes: [{ values: MONTH }, { values: (u, vals) => vals.map(v => v.toLocaleString("nb-NO") + " %") }] }, rows, el);
  });
});
