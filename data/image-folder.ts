// A user's concept folder ("photos of my cat") → size×size RGB training images.
// Images of any size are center-cropped to a square (so nothing is stretched) and
// resized: area-averaged when shrinking (no aliasing), bilinear when enlarging.
// Output is CHW float32 [3, size, size] in [0, 1], transparent pixels on white, the same
// as the emoji corpus, so user concepts and built-in concepts are interchangeable.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, join } from "node:path";
import { type DecodedImage, decodePngBytes } from "../runtime/io/png.ts";

export interface FolderImage {
  file: string;
  /** CHW float32 [3, size, size] in [0, 1]. */
  pixels: Float32Array;
  originalWidth: number;
  originalHeight: number;
}

export interface FolderResult {
  images: FolderImage[];
  warnings: string[];
}

const PNG = new Set([".png"]);
const JPEG = new Set([".jpg", ".jpeg"]);
/** Package name of the optional JPEG decoder (not a dependency of this project). */
const JPEG_DECODER = "jpeg-js";

interface JpegJs {
  decode(
    data: Uint8Array,
    opts: {
      useTArray: true;
      formatAsRGBA: true;
      maxResolutionInMP?: number;
      maxMemoryUsageInMB?: number;
    },
  ): { width: number; height: number; data: Uint8Array };
}

/** The optional JPEG decoder, loaded synchronously (compile-time checks are synchronous). */
function jpegDecoder(): JpegJs | undefined {
  try {
    const mod = createRequire(import.meta.url)(JPEG_DECODER) as { default?: JpegJs } & JpegJs;
    return mod.default ?? mod;
  } catch {
    return undefined;
  }
}

/** A problem with an image folder, said without the folder's name (callers add context). */
export class ImageFolderError extends Error {}

/** Any decoded image → RGB HWC floats, alpha composited on white. */
function toRgbOnWhite(img: DecodedImage): Float32Array {
  const { width, height, channels, data } = img;
  const out = new Float32Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const s = data.subarray(p * channels, (p + 1) * channels);
    const grey = channels <= 2;
    const a = channels === 2 ? s[1] : channels === 4 ? s[3] : 1;
    for (let k = 0; k < 3; k++) {
      const v = grey ? s[0] : s[k];
      out[p * 3 + k] = v * a + (1 - a);
    }
  }
  return out;
}

/** Per-output-pixel source weights along one axis (area when shrinking, linear when growing). */
function axisWeights(src: number, dst: number): { idx: number[]; w: number[] }[] {
  const scale = src / dst;
  const out: { idx: number[]; w: number[] }[] = [];
  for (let i = 0; i < dst; i++) {
    const idx: number[] = [];
    const w: number[] = [];
    if (scale >= 1) {
      const a = i * scale;
      const b = (i + 1) * scale;
      for (let j = Math.floor(a); j < Math.ceil(b); j++) {
        const cover = Math.min(b, j + 1) - Math.max(a, j);
        if (cover > 1e-9) {
          idx.push(j);
          w.push(cover / scale);
        }
      }
    } else {
      const x = Math.min(src - 1, Math.max(0, (i + 0.5) * scale - 0.5));
      const j = Math.floor(x);
      const f = x - j;
      idx.push(j);
      w.push(1 - f);
      if (f > 0 && j + 1 < src) {
        idx.push(j + 1);
        w.push(f);
      }
    }
    out.push({ idx, w });
  }
  return out;
}

/** Center-crop an RGB HWC image to a square and resize to size×size; returns CHW. */
export function cropResizeRgb(
  rgb: Float32Array,
  width: number,
  height: number,
  size: number,
): Float32Array {
  const side = Math.min(width, height);
  const ox = Math.floor((width - side) / 2);
  const oy = Math.floor((height - side) / 2);
  const wts = axisWeights(side, size);
  // Separable: rows first (side × size × 3 temp), then columns.
  const tmp = new Float32Array(side * size * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < size; x++) {
      const { idx, w } = wts[x];
      for (let k = 0; k < 3; k++) {
        let acc = 0;
        for (let t = 0; t < idx.length; t++)
          acc += w[t] * rgb[((oy + y) * width + ox + idx[t]) * 3 + k];
        tmp[(y * size + x) * 3 + k] = acc;
      }
    }
  }
  const out = new Float32Array(3 * size * size);
  for (let y = 0; y < size; y++) {
    const { idx, w } = wts[y];
    for (let x = 0; x < size; x++) {
      for (let k = 0; k < 3; k++) {
        let acc = 0;
        for (let t = 0; t < idx.length; t++) acc += w[t] * tmp[(idx[t] * size + x) * 3 + k];
        out[k * size * size + y * size + x] = Math.min(1, Math.max(0, acc));
      }
    }
  }
  return out;
}

/**
 * Load every PNG/JPEG in `dir` (sorted by file name, not recursive) as size×size RGB.
 * Throws for a missing/empty folder and for any file that cannot be decoded, naming it.
 */
export async function loadImageFolder(dir: string, opts: { size: number }): Promise<FolderResult> {
  try {
    return readImageFolder(dir, opts.size);
  } catch (e) {
    if (e instanceof ImageFolderError) throw new Error(`image folder ${dir}: ${e.message}`);
    throw e;
  }
}

/** `loadImageFolder`, synchronously; errors are ImageFolderErrors without the folder name. */
export function readImageFolder(dir: string, size: number): FolderResult {
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch (e) {
    throw new ImageFolderError(`cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const files = entries.filter((f) => {
    const ext = extname(f).toLowerCase();
    return (PNG.has(ext) || JPEG.has(ext)) && statSync(join(dir, f)).isFile();
  });
  const skipped = entries.filter((f) => !files.includes(f) && !f.startsWith("."));
  if (files.length === 0) {
    throw new ImageFolderError(
      `no .png/.jpg/.jpeg images${skipped.length ? ` (found only: ${skipped.slice(0, 5).join(", ")})` : ""}`,
    );
  }
  const warnings: string[] = [];
  if (skipped.length)
    warnings.push(
      `ignored ${skipped.length} non-image entr${skipped.length === 1 ? "y" : "ies"}: ${skipped.slice(0, 5).join(", ")}`,
    );
  const needJpeg = files.some((f) => JPEG.has(extname(f).toLowerCase()));
  const jpeg = needJpeg ? jpegDecoder() : undefined;
  const images: FolderImage[] = [];
  const resizedFrom = new Map<string, number>();
  for (const f of files) {
    const path = join(dir, f);
    const ext = extname(f).toLowerCase();
    let img: DecodedImage;
    try {
      const bytes = readFileSync(path);
      if (PNG.has(ext)) {
        img = decodePngBytes(bytes);
      } else {
        if (!jpeg) {
          throw new Error(
            `no JPEG decoder installed (npm install ${JPEG_DECODER}), or convert the file to PNG`,
          );
        }
        let d: ReturnType<JpegJs["decode"]>;
        try {
          // Limits: a corrupt header must not make the decoder allocate gigabytes.
          d = jpeg.decode(bytes, {
            useTArray: true,
            formatAsRGBA: true,
            maxResolutionInMP: 100,
            maxMemoryUsageInMB: 1024,
          });
        } catch (e) {
          throw new Error(`truncated or corrupt JPEG (${(e as Error).message})`);
        }
        const data = new Float32Array(d.data.length);
        for (let i = 0; i < data.length; i++) data[i] = d.data[i] / 255;
        img = { width: d.width, height: d.height, channels: 4, data };
      }
    } catch (e) {
      throw new ImageFolderError(`cannot decode ${f}: ${(e as Error).message}`);
    }
    if (img.width !== size || img.height !== size) {
      const key = `${img.width}×${img.height}`;
      resizedFrom.set(key, (resizedFrom.get(key) ?? 0) + 1);
    }
    const pixels = cropResizeRgb(toRgbOnWhite(img), img.width, img.height, size);
    images.push({ file: f, pixels, originalWidth: img.width, originalHeight: img.height });
  }
  for (const [from, count] of resizedFrom) {
    const [w, h] = from.split("×").map(Number);
    const crop = w !== h ? " (center-cropped to square)" : "";
    warnings.push(
      `resized ${count} image${count > 1 ? "s" : ""} from ${from} to ${size}×${size}${crop}`,
    );
  }
  return { images, warnings };
}
