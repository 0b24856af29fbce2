// Read @iconify-json emoji sets and rasterize single icons with resvg.
// Output layout is CHW float32 in [0, 1] ([3, size, size]), composited on white: this is
// the layout the models consume, so no transposes are needed downstream.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Resvg } from "@resvg/resvg-js";

/** The permissive sets (CC-BY-4.0 / Apache-2.0 / MIT), in a fixed order used everywhere. */
export const EMOJI_SETS = [
  "twemoji",
  "noto",
  "noto-v1",
  "fluent-emoji-flat",
  "emojione",
  "fxemoji",
  "streamline-emojis",
] as const;
export type EmojiSet = (typeof EMOJI_SETS)[number];

interface IconTransform {
  hFlip?: boolean;
  vFlip?: boolean;
  rotate?: number;
}
interface IconJson extends IconTransform {
  body: string;
  width?: number;
  height?: number;
  left?: number;
  top?: number;
  hidden?: boolean;
}
interface AliasJson extends IconTransform {
  parent: string;
  width?: number;
  height?: number;
  left?: number;
  top?: number;
  hidden?: boolean;
}
export interface IconSetJson {
  prefix: string;
  icons: Record<string, IconJson>;
  aliases?: Record<string, AliasJson>;
  width?: number;
  height?: number;
  left?: number;
  top?: number;
}

const require = createRequire(import.meta.url);
const loaded = new Map<EmojiSet, IconSetJson>();

export function assertEmojiSet(set: string): asserts set is EmojiSet {
  if (!(EMOJI_SETS as readonly string[]).includes(set)) {
    throw new Error(`unknown emoji set "${set}" (known: ${EMOJI_SETS.join(", ")})`);
  }
}

/** Parsed icons.json of a set (memoized: the largest, noto, is 25 MB). */
export function loadIconSet(set: EmojiSet): IconSetJson {
  assertEmojiSet(set);
  let j = loaded.get(set);
  if (!j) {
    let path: string;
    try {
      path = require.resolve(`@iconify-json/${set}/icons.json`);
    } catch {
      throw new Error(`npm package @iconify-json/${set} is not installed (run \`npm install\`)`);
    }
    j = JSON.parse(readFileSync(path, "utf8")) as IconSetJson;
    if (!j.icons || typeof j.icons !== "object") throw new Error(`${path}: no "icons" object`);
    loaded.set(set, j);
  }
  return j;
}

/** Package version of a set (part of the raster cache key). */
export function iconSetVersion(set: EmojiSet): string {
  return (require(`@iconify-json/${set}/package.json`) as { version: string }).version;
}

export function resvgVersion(): string {
  return (require("@resvg/resvg-js/package.json") as { version: string }).version;
}

/** Raw icon names of a set: visible icons plus aliases (hidden = deprecated duplicates). */
export function iconNames(set: EmojiSet): string[] {
  const j = loadIconSet(set);
  const names = Object.keys(j.icons).filter((n) => !j.icons[n].hidden);
  for (const [n, a] of Object.entries(j.aliases ?? {})) if (!a.hidden) names.push(n);
  return names;
}

/** For an alias, the icon it finally points to; for an icon, itself. */
export function resolveParent(set: EmojiSet, name: string): string {
  const j = loadIconSet(set);
  let cur = name;
  for (let hops = 0; hops < 8; hops++) {
    if (j.icons[cur]) return cur;
    const a = j.aliases?.[cur];
    if (!a) break;
    cur = a.parent;
  }
  throw new Error(`emoji set ${set}: no icon "${name}"`);
}

export interface IconGeometry {
  /** Icon body with any alias flips/rotations already wrapped in a <g transform>. */
  body: string;
  /** Square viewBox around the icon (icon centered when it is not square). */
  x: number;
  y: number;
  side: number;
}

/**
 * Body and square viewBox of one icon: alias chain resolved (dimensions and
 * flips/rotations merged as Iconify does), viewBox made square so every raster is
 * size×size without stretching.
 */
export function iconGeometry(set: EmojiSet, name: string): IconGeometry {
  const j = loadIconSet(set);
  const chain: (IconJson | AliasJson)[] = [];
  let cur = name;
  for (;;) {
    const icon = j.icons[cur];
    if (icon) {
      chain.push(icon);
      break;
    }
    const a = j.aliases?.[cur];
    if (!a)
      throw new Error(
        `emoji set ${set}: no icon "${name}"${cur !== name ? ` (alias of missing "${cur}")` : ""}`,
      );
    if (chain.length > 8) throw new Error(`emoji set ${set}: alias loop at "${name}"`);
    chain.push(a);
    cur = a.parent;
  }
  const icon = chain[chain.length - 1] as IconJson;
  // Dimensions: the nearest definition wins (alias over icon over set default).
  const pick = (k: "width" | "height" | "left" | "top", dflt: number): number => {
    for (const c of chain) if (c[k] !== undefined) return c[k]!;
    return j[k] ?? dflt;
  };
  const w = pick("width", 16);
  const h = pick("height", 16);
  const left = pick("left", 0);
  const top = pick("top", 0);
  let hFlip = false;
  let vFlip = false;
  let rotate = 0;
  for (const c of chain) {
    hFlip = hFlip !== !!c.hFlip;
    vFlip = vFlip !== !!c.vFlip;
    rotate += c.rotate ?? 0;
  }
  const cx = left + w / 2;
  const cy = top + h / 2;
  const tr: string[] = [];
  if (rotate % 4) tr.push(`rotate(${(rotate % 4) * 90} ${cx} ${cy})`);
  if (hFlip || vFlip) {
    tr.push(
      `translate(${hFlip ? 2 * cx : 0} ${vFlip ? 2 * cy : 0}) scale(${hFlip ? -1 : 1} ${vFlip ? -1 : 1})`,
    );
  }
  const body = tr.length ? `<g transform="${tr.join(" ")}">${icon.body}</g>` : icon.body;
  const side = Math.max(w, h);
  return { body, x: left - (side - w) / 2, y: top - (side - h) / 2, side };
}

function svgDoc(body: string, x: number, y: number, w: number, h: number): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ` +
    `viewBox="${x} ${y} ${w} ${h}">${body}</svg>`
  );
}

/** Standalone SVG for one icon (square viewBox). */
export function iconSvg(set: EmojiSet, name: string): string {
  const g = iconGeometry(set, name);
  return svgDoc(g.body, g.x, g.y, g.side, g.side);
}

const RENDER_BASE = {
  background: "white",
  font: { loadSystemFonts: false }, // emoji bodies have no text; skips a slow font scan
};

/** RGBA pixels → CHW RGB bytes of the size×size window at (ox, oy). */
function cropChw(
  rgba: Uint8Array,
  stride: number,
  ox: number,
  oy: number,
  size: number,
): Uint8Array {
  const plane = size * size;
  const out = new Uint8Array(3 * plane);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const s = 4 * ((oy + y) * stride + ox + x);
      const p = y * size + x;
      out[p] = rgba[s];
      out[plane + p] = rgba[s + 1];
      out[2 * plane + p] = rgba[s + 2];
    }
  }
  return out;
}

/**
 * Rasterize an icon to size×size RGB bytes, CHW, composited on white.
 *
 * resvg 2.6 aborts the whole process (a Rust panic, not a JS error) when a group with
 * opacity lies entirely outside the canvas; noto's `package` has such off-canvas drafts.
 * So when the content's bbox leaves the viewBox we render a canvas grown to contain it,
 * on the same pixel grid, and crop the icon's window out of it: identical pixels, no panic.
 */
export function rasterizeIconU8(geom: IconGeometry, size: number): Uint8Array {
  if (!Number.isInteger(size) || size < 1 || size > 4096) {
    throw new Error(`rasterize: size must be an integer in 1..4096, got ${size}`);
  }
  const { body, x, y, side } = geom;
  const fit = { fitTo: { mode: "width" as const, value: size }, ...RENDER_BASE };
  const probe = new Resvg(svgDoc(body, x, y, side, side), fit);
  const bb = probe.getBBox();
  const p = side / size; // viewBox units per pixel
  const grow = (d: number) => Math.max(0, Math.ceil(d / p - 1e-6));
  const gl = bb ? grow(x - bb.x) : 0;
  const gt = bb ? grow(y - bb.y) : 0;
  const gr = bb ? grow(bb.x + bb.width - (x + side)) : 0;
  const gb = bb ? grow(bb.y + bb.height - (y + side)) : 0;
  if (gl + gt + gr + gb === 0) {
    const img = probe.render();
    if (img.width !== size || img.height !== size) {
      throw new Error(`rasterize: got ${img.width}×${img.height}, expected ${size}×${size}`);
    }
    return cropChw(img.pixels, size, 0, 0, size);
  }
  const wPx = size + gl + gr;
  const hPx = size + gt + gb;
  if (wPx > 8192 || hPx > 8192) {
    throw new Error(`rasterize: content spreads ${wPx}×${hPx} px beyond the ${size}×${size} icon`);
  }
  const big = new Resvg(svgDoc(body, x - gl * p, y - gt * p, wPx * p, hPx * p), {
    ...RENDER_BASE,
    fitTo: { mode: "width", value: wPx },
  }).render();
  if (big.width !== wPx || big.height !== hPx) {
    throw new Error(
      `rasterize: grown canvas is ${big.width}×${big.height}, expected ${wPx}×${hPx}`,
    );
  }
  return cropChw(big.pixels, wPx, gl, gt, size);
}

export function u8ToFloat(u8: Uint8Array): Float32Array {
  const f = new Float32Array(u8.length);
  for (let i = 0; i < u8.length; i++) f[i] = u8[i] / 255;
  return f;
}

/** One icon as CHW float32 [3, size, size] in [0, 1] on white (no cache). */
export function renderIcon(set: EmojiSet, name: string, size: number): Float32Array {
  return u8ToFloat(rasterizeIconU8(iconGeometry(set, name), size));
}
