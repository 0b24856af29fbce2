// Line charts as SVG, rendered to PNG with resvg: the eval's score-vs-task panels (a line per
// concept from the task that learned it on, plus the average over the concepts learned so
// far) and, from the same drawing code, any set of named series (the benchmark's methods).
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";

export interface ChartPanel {
  title: string;
  /** s[t][i], NaN where undefined (i > t). */
  matrix: number[][];
  /** average[t] over the concepts learned so far. */
  average: number[];
  /** Fixed y range, or null to fit the data. */
  range: [number, number] | null;
  format: (v: number) => string;
}

/** One line of a chart: a value per x position (NaN: no point there). */
export interface Series {
  name: string;
  values: number[];
  color: string;
  width: number;
}

export interface LinePanel {
  title: string;
  series: Series[];
  range: [number, number] | null;
  format: (v: number) => string;
}

export const COLORS = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Score-vs-task panels: a line per concept from the task that learned it, and the average. */
export function scoresSvg(panels: ChartPanel[], concepts: string[]): string {
  return lineChartSvg(
    panels.map((p) => ({
      title: p.title,
      range: p.range,
      format: p.format,
      series: [
        ...concepts.map((name, i) => ({
          name,
          values: p.matrix.map((row, t) => (t >= i ? row[i] : NaN)),
          color: COLORS[i % COLORS.length],
          width: 1.5,
        })),
        { name: "average", values: p.average, color: "#000", width: 3 },
      ],
    })),
    "after task",
  );
}

/**
 * Line charts side by side, x = 1..N (one position per value), one legend for all panels
 * (the series of the first panel). Points are drawn where a value is finite.
 */
export function lineChartSvg(panels: LinePanel[], xLabel: string): string {
  const W = 420;
  const H = 300;
  const m = { l: 56, r: 16, t: 30, b: 40 };
  const legend = panels[0]?.series ?? [];
  const legendW = Math.max(130, 24 + 7 * Math.max(...legend.map((s) => s.name.length), 0));
  const width = panels.length * W + legendW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" font-family="DejaVu Sans, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${H}" fill="white"/>`,
  ];
  panels.forEach((p, k) => {
    const T = Math.max(1, ...p.series.map((s) => s.values.length));
    const ox = k * W;
    const vals = p.series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
    let [lo, hi] = p.range ?? [Math.min(0, ...vals), Math.max(...vals, 1e-9)];
    if (!(hi > lo)) hi = lo + 1;
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const X = (t: number) => ox + m.l + (T === 1 ? pw / 2 : (t / (T - 1)) * pw);
    const Y = (v: number) => m.t + ph - ((v - lo) / (hi - lo)) * ph;
    out.push(
      `<text x="${ox + m.l}" y="18" font-size="13" font-weight="bold">${esc(p.title)}</text>`,
    );
    for (let g = 0; g <= 4; g++) {
      const v = lo + ((hi - lo) * g) / 4;
      out.push(
        `<line x1="${ox + m.l}" x2="${ox + m.l + pw}" y1="${Y(v)}" y2="${Y(v)}" stroke="#ddd"/>`,
        `<text x="${ox + m.l - 4}" y="${Y(v) + 4}" text-anchor="end">${esc(p.format(v))}</text>`,
      );
    }
    for (let t = 0; t < T; t++)
      out.push(`<text x="${X(t)}" y="${H - m.b + 16}" text-anchor="middle">${t + 1}</text>`);
    out.push(
      `<text x="${ox + m.l + pw / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text>`,
      `<rect x="${ox + m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`,
    );
    for (const s of p.series) {
      const pts = s.values.flatMap((v, t) =>
        Number.isFinite(v) ? [[X(t), Y(v)] as [number, number]] : [],
      );
      if (!pts.length) continue;
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="${s.width}" points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ")}"/>`,
      );
      for (const [x, y] of pts)
        out.push(
          `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${s.width + 1}" fill="${s.color}"/>`,
        );
    }
  });
  const lx = panels.length * W + 8;
  legend.forEach((s, i) => {
    const y = 40 + i * 16;
    out.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="${Math.min(3, s.width + 0.5)}"/>`,
      `<text x="${lx + 24}" y="${y + 4}">${esc(s.name)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/** Where resvg (fontdb) looks for system fonts, per platform. */
export const SYSTEM_FONT_DIRS = [
  "/usr/share/fonts",
  "/usr/local/share/fonts",
  join(homedir(), ".fonts"),
  join(homedir(), ".local/share/fonts"),
  "/System/Library/Fonts",
  "/Library/Fonts",
  "C:\\Windows\\Fonts",
];

/** True when one of `dirs` holds anything (resvg draws no text at all without fonts). */
export function hasSystemFonts(dirs: readonly string[] = SYSTEM_FONT_DIRS): boolean {
  return dirs.some((d) => {
    try {
      return existsSync(d) && readdirSync(d).length > 0;
    } catch {
      return false; // a file or an unreadable folder holds no fonts for us
    }
  });
}

let fontsChecked = false;

/** Renders an SVG to PNG bytes with @resvg/resvg-js (system fonts for the text). */
export function svgToPng(svg: string): Uint8Array {
  if (!fontsChecked) {
    fontsChecked = true;
    if (!hasSystemFonts())
      console.warn(
        "cld: no system fonts found, so PNG charts are drawn without labels (the .svg beside " +
          "each keeps them); on Debian: apt-get install fonts-dejavu-core",
      );
  }
  const require = createRequire(import.meta.url);
  const { Resvg } = require("@resvg/resvg-js") as typeof import("@resvg/resvg-js");
  return new Resvg(svg, { background: "white", font: { loadSystemFonts: true } }).render().asPng();
}
