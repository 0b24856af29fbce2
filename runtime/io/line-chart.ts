// Training curves as SVG: one panel per series, the raw values as a light line and an
// exponential moving average as a dark one, on a log-scale y axis when the values span more
// than a decade. Used for RUN_DIR/loss.svg (runtime/metrics-log.ts); PNG via svgToPng.

export interface CurveSeries {
  title: string;
  x: readonly number[];
  y: readonly number[];
}

export interface LineChartOptions {
  xLabel?: string;
  /** EMA weight of the newest value (default: about 1/50 of the points, at least 0.01). */
  alpha?: number;
  /** Points drawn per line at most; longer series are thinned evenly (default 1500). */
  maxPoints?: number;
}

const RAW = "#9ecae1";
const SMOOTH = "#08519c";

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Exponential moving average, bias-corrected so the first values are not pulled to 0. */
export function emaSmooth(y: readonly number[], alpha: number): number[] {
  const out: number[] = [];
  let acc = 0;
  let weight = 0;
  for (const v of y) {
    if (!Number.isFinite(v)) {
      out.push(out.length ? out[out.length - 1] : NaN);
      continue;
    }
    acc = (1 - alpha) * acc + alpha * v;
    weight = (1 - alpha) * weight + alpha;
    out.push(acc / weight);
  }
  return out;
}

/** True when the finite values are all positive and span more than one decade. */
export function wantsLogScale(y: readonly number[]): boolean {
  const v = y.filter(Number.isFinite);
  if (!v.length || v.some((a) => a <= 0)) return false;
  return Math.max(...v) / Math.min(...v) > 10;
}

/** Round, readable tick values covering [lo, hi]. */
function linearTicks(lo: number, hi: number): number[] {
  const span = hi - lo;
  const step0 = Math.pow(10, Math.floor(Math.log10(span / 4)));
  const step = [1, 2, 5, 10].map((m) => m * step0).find((s) => span / s <= 6) ?? 10 * step0;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/** Tick label: whole numbers as such (step 15000, not "2e+4"), else 3 significant digits. */
export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (v === 0) return "0";
  if (Number.isInteger(v) && a < 1e7) return String(v);
  if (a >= 1e4 || a < 1e-3) return Number(v.toPrecision(3)).toExponential();
  return String(Number(v.toPrecision(3)));
}

/** Indices of at most `max` evenly spaced points, always keeping the last. */
function thin(n: number, max: number): number[] {
  if (n <= max) return [...Array(n).keys()];
  const out: number[] = [];
  for (let i = 0; i < max; i++) out.push(Math.round((i * (n - 1)) / (max - 1)));
  return out;
}

export function lineChartSvg(series: readonly CurveSeries[], opts: LineChartOptions = {}): string {
  const W = 520;
  const H = 300;
  const m = { l: 60, r: 16, t: 30, b: 40 };
  const width = W;
  const height = H * Math.max(1, series.length);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  series.forEach((s, k) => {
    const oy = k * H;
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const n = Math.min(s.x.length, s.y.length);
    const alpha = opts.alpha ?? Math.max(0.01, Math.min(1, 50 / Math.max(1, n)));
    const smooth = emaSmooth(s.y.slice(0, n), alpha);
    const log = wantsLogScale(s.y.slice(0, n));
    const f = (v: number) => (log ? Math.log10(v) : v);
    const ys = s.y.slice(0, n).filter(Number.isFinite).map(f);
    let lo = ys.length ? Math.min(...ys) : 0;
    let hi = ys.length ? Math.max(...ys) : 1;
    if (!(hi > lo)) [lo, hi] = [lo - 0.5, hi + 0.5];
    const xs = s.x.slice(0, n);
    let x0 = xs.length ? Math.min(...xs) : 0;
    let x1 = xs.length ? Math.max(...xs) : 1;
    if (!(x1 > x0)) [x0, x1] = [x0 - 0.5, x1 + 0.5];
    const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
    const Y = (v: number) => oy + m.t + ph - ((f(v) - lo) / (hi - lo)) * ph;
    out.push(
      `<text x="${m.l}" y="${oy + 18}" font-size="13" font-weight="bold">${esc(s.title)}${log ? " (log scale)" : ""}</text>`,
    );
    const yTicks = log
      ? linearTicks(Math.floor(lo), Math.ceil(hi))
          .filter((e) => Number.isInteger(e) && e >= Math.floor(lo) && e <= Math.ceil(hi))
          .map((e) => Math.pow(10, e))
          .filter((v) => f(v) >= lo - 1e-9 && f(v) <= hi + 1e-9)
      : linearTicks(lo, hi);
    // A log axis inside one decade boundary still gets its two ends labelled.
    const ticks = log && yTicks.length < 2 ? [Math.pow(10, lo), Math.pow(10, hi)] : yTicks;
    for (const v of ticks) {
      const y = Y(v).toFixed(1);
      out.push(
        `<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
        `<text x="${m.l - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(v)}</text>`,
      );
    }
    for (const v of linearTicks(x0, x1)) {
      const x = X(v).toFixed(1);
      out.push(
        `<text x="${x}" y="${oy + H - m.b + 16}" text-anchor="middle">${formatTick(v)}</text>`,
      );
    }
    out.push(
      `<rect x="${m.l}" y="${oy + m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
      `<text x="${m.l + pw / 2}" y="${oy + H - 8}" text-anchor="middle">${esc(opts.xLabel ?? "step")}</text>`,
    );
    const idx = thin(n, opts.maxPoints ?? 1500);
    const path = (ys: readonly number[]) =>
      idx
        .filter((i) => Number.isFinite(ys[i]) && (!log || ys[i] > 0))
        .map((i, j) => `${j ? "L" : "M"}${X(xs[i]).toFixed(1)},${Y(ys[i]).toFixed(1)}`)
        .join("");
    out.push(
      `<path d="${path(s.y)}" fill="none" stroke="${RAW}" stroke-width="1"/>`,
      `<path d="${path(smooth)}" fill="none" stroke="${SMOOTH}" stroke-width="2"/>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
