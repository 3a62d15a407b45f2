// Usage charts: stacked bars (admitted, refused) drawn as inline SVG by this script, no chart
// library. Each bar has a <title> (hover, screen readers); the chart as a whole has a summary.
// The SVG stretches to the width it is given; its tick labels are HTML placed under their
// bars, so they stay readable on a phone (set through the CSSOM, which the CSP allows: no
// style attribute).

import type { Bucket } from "./api";
import { h, svg } from "./dom";
import { count } from "./format";

const WIDTH = 720;
const HEIGHT = 140;

/** The largest value the y axis shows: at least 1, rounded up to a readable step. */
export function scaleMax(buckets: Bucket[]): number {
  const top = Math.max(1, ...buckets.map((b) => b.admitted + b.refused));
  const magnitude = 10 ** Math.floor(Math.log10(top));
  for (const step of [1, 2, 5, 10]) {
    if (top <= step * magnitude) return step * magnitude;
  }
  return 10 * magnitude;
}

/** Which buckets get a tick label: the last (now), and every `step` before it. */
export function ticks(length: number, step: number): number[] {
  const out: number[] = [];
  for (let i = length - 1; i >= 0; i -= Math.max(1, step)) out.unshift(i);
  return out;
}

/** A bar chart of `buckets`; `label` names one bucket's start ("10:00", "Nov 24"), shown
 *  under every `step`-th bar counting back from the last. */
export function barChart(title: string, buckets: Bucket[], label: (start: Date) => string, step: number): HTMLElement {
  const max = scaleMax(buckets);
  const slot = WIDTH / Math.max(1, buckets.length);
  const bar = Math.max(1, slot * 0.7);
  const plot = HEIGHT;
  const y = (v: number) => plot - (v / max) * plot;
  const admitted = buckets.reduce((n, b) => n + b.admitted, 0);
  const refused = buckets.reduce((n, b) => n + b.refused, 0);
  const summary = `${title}: ${count(admitted)} admitted and ${count(refused)} refused in all.`;
  const bars = buckets.map((b, i) => {
    const x = i * slot + (slot - bar) / 2;
    const start = new Date(b.start);
    return svg(
      "g",
      {},
      svg("title", {}, `${label(start)}: ${count(b.admitted)} admitted, ${count(b.refused)} refused`),
      // A transparent full-height target, so a zero bucket still has a tooltip.
      svg("rect", { x: i * slot, y: 0, width: slot, height: plot, class: "hit" }),
      svg("rect", { x, y: y(b.admitted), width: bar, height: plot - y(b.admitted), class: "admitted" }),
      svg("rect", {
        x,
        y: y(b.admitted + b.refused),
        width: bar,
        height: y(b.admitted) - y(b.admitted + b.refused),
        class: "refused",
      }),
    );
  });
  return h(
    "figure",
    { class: "chart" },
    h("figcaption", {}, h("span", {}, title), h("span", { class: "scale" }, `max ${count(max)}`)),
    svg(
      "svg",
      { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": summary, preserveAspectRatio: "none" },
      svg("line", { x1: 0, x2: WIDTH, y1: plot, y2: plot, class: "axis" }),
      svg("line", { x1: 0, x2: WIDTH, y1: 0, y2: 0, class: "grid" }),
      bars,
    ),
    h(
      "div",
      { class: "ticks", "aria-hidden": "true" },
      ticks(buckets.length, step).map((i) => {
        const last = i === buckets.length - 1;
        const tick = h("span", { class: last ? "end" : null }, label(new Date(buckets[i]?.start ?? 0)));
        tick.style.left = last ? "100%" : `${((i + 0.5) / buckets.length) * 100}%`;
        return tick;
      }),
    ),
    h(
      "p",
      { class: "legend" },
      h("span", { class: "swatch admitted" }),
      `Admitted ${count(admitted)}`,
      h("span", { class: "swatch refused" }),
      `Refused ${count(refused)}`,
    ),
  );
}
