// PNG in and out for samples and grids. Model tensors are float CHW in [0, 1]; PNG is
// interleaved 8-bit, so conversion (clamp + round) happens only here.

import { readFileSync } from "node:fs";
import { convertIndexedToRgb, decode, encode } from "fast-png";
import { writeFileAtomic } from "./atomic.ts";
import { GLYPH_ADVANCE, GLYPH_H, drawText } from "./font5x7.ts";

export type Layout = "CHW" | "HWC";

function channelsOf(len: number, w: number, h: number): number {
  const c = len / (w * h);
  if (![1, 3, 4].includes(c)) {
    throw new Error(`png: ${len} values is not 1, 3 or 4 channels of ${w}×${h}`);
  }
  return c;
}

/** Float image (values clamped to [0, 1]) to 8-bit interleaved bytes. */
export function toBytesHWC(
  pixels: Float32Array,
  w: number,
  h: number,
  layout: Layout = "CHW",
): Uint8Array {
  const c = channelsOf(pixels.length, w, h);
  const out = new Uint8Array(pixels.length);
  const plane = w * h;
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < c; k++) {
      const v = layout === "CHW" ? pixels[k * plane + p] : pixels[p * c + k];
      // NaN → 0 so a diverged model shows black rather than crashing the writer.
      out[p * c + k] = v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0;
    }
  }
  return out;
}

/** PNG file bytes for a float image with 1 (grey), 3 (RGB) or 4 (RGBA) channels. */
export function encodePng(
  pixels: Float32Array,
  w: number,
  h: number,
  layout: Layout = "CHW",
): Uint8Array {
  const c = channelsOf(pixels.length, w, h);
  return encode({
    width: w,
    height: h,
    data: toBytesHWC(pixels, w, h, layout),
    channels: c,
    depth: 8,
  });
}

/** Write a float image as PNG, atomically. Channels are inferred from the length. */
export function writePng(
  path: string,
  pixels: Float32Array,
  w: number,
  h: number,
  opts: { layout?: Layout } = {},
): void {
  writeFileAtomic(path, encodePng(pixels, w, h, opts.layout ?? "CHW"));
}

export interface DecodedImage {
  width: number;
  height: number;
  /** 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. */
  channels: number;
  /** HWC floats in [0, 1]. */
  data: Float32Array;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
/** Larger images are refused before decoding (a corrupt header must not allocate GBs). */
export const MAX_PNG_PIXELS = 100_000_000;

/** Checks the signature and the IHDR size so garbage fails fast with a clear reason. */
function checkPngHeader(bytes: Uint8Array): void {
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b))
    throw new Error("not a PNG file (wrong signature)");
  // 8 signature + 4 length + "IHDR" + width + height
  if (bytes.length < 24) throw new Error(`truncated PNG (${bytes.length} bytes, no IHDR)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== "IHDR")
    throw new Error("corrupt PNG (the first chunk is not IHDR)");
  const w = dv.getUint32(16);
  const h = dv.getUint32(20);
  if (w === 0 || h === 0 || w * h > MAX_PNG_PIXELS)
    throw new Error(`PNG header says ${w}×${h} pixels (limit ${MAX_PNG_PIXELS / 1e6} MP)`);
}

/** Decode any PNG (palette, 1–16 bit, with or without alpha) to HWC floats. */
export function decodePngBytes(bytes: Uint8Array): DecodedImage {
  checkPngHeader(bytes);
  let png: ReturnType<typeof decode>;
  try {
    png = decode(bytes);
  } catch (e) {
    const m = (e as Error).message.replace(/:\s*$/, "");
    throw new Error(
      /outside the bounds|decompress|end of/i.test(m)
        ? `truncated or corrupt PNG data (${m})`
        : `corrupt PNG (${m})`,
    );
  }
  const { width, height } = png;
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    const channels = png.palette[0].length;
    const data = new Float32Array(rgb.length);
    for (let i = 0; i < rgb.length; i++) data[i] = rgb[i] / 255;
    return { width, height, channels, data };
  }
  const channels = png.channels;
  const n = width * height * channels;
  const packed = png.depth >= 8 ? n : height * Math.ceil((width * channels * png.depth) / 8);
  if (png.data.length < packed)
    throw new Error(`truncated PNG data (${png.data.length} of ${packed} samples)`);
  const data = new Float32Array(n);
  if (png.depth >= 8) {
    const max = png.depth === 16 ? 65535 : 255;
    for (let i = 0; i < n; i++) data[i] = png.data[i] / max;
  } else {
    // Sub-byte greys are packed MSB-first with each row padded to whole bytes.
    const d = png.depth;
    const max = (1 << d) - 1;
    const stride = Math.ceil((width * channels * d) / 8);
    for (let y = 0; y < height; y++) {
      for (let i = 0; i < width * channels; i++) {
        const bit = i * d;
        const byte = png.data[y * stride + (bit >> 3)];
        data[y * width * channels + i] = ((byte >> (8 - d - (bit & 7))) & max) / max;
      }
    }
  }
  return { width, height, channels, data };
}

export function readPng(path: string): DecodedImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  try {
    return decodePngBytes(bytes);
  } catch (e) {
    throw new Error(`${path}: not a readable PNG (${(e as Error).message})`);
  }
}

export interface GridOptions {
  rows: number;
  cols: number;
  /** Side of each (square) image. */
  size: number;
  /** Pixels between and around cells. Default 2. */
  pad?: number;
  /** Channels of the input images (1 grey, 3 RGB), CHW. Default 3. */
  channels?: 1 | 3;
  /** One label per image, drawn under it (5×7 font, clipped to the cell width). */
  labels?: readonly string[];
  /** Grey level of padding and label strip. Default 1 (white). */
  background?: number;
}

export interface RgbImage {
  /** CHW [3, height, width] floats in [0, 1]. */
  data: Float32Array;
  width: number;
  height: number;
}

/** Tile images row-major into one RGB image (grey inputs are replicated to RGB). */
export function imageGrid(images: readonly Float32Array[], opts: GridOptions): RgbImage {
  const { rows, cols, size } = opts;
  const pad = opts.pad ?? 2;
  const ch = opts.channels ?? 3;
  const bg = opts.background ?? 1;
  if (images.length > rows * cols) {
    throw new Error(`imageGrid: ${images.length} images do not fit ${rows}×${cols}`);
  }
  if (opts.labels && opts.labels.length !== images.length) {
    throw new Error(`imageGrid: ${opts.labels.length} labels for ${images.length} images`);
  }
  const labelH = opts.labels ? GLYPH_H + 2 : 0;
  const cellW = size + pad;
  const cellH = size + labelH + pad;
  const width = pad + cols * cellW;
  const height = pad + rows * cellH;
  const plane = width * height;
  const data = new Float32Array(3 * plane).fill(bg);
  images.forEach((img, i) => {
    if (img.length !== ch * size * size) {
      throw new Error(
        `imageGrid: image ${i} has ${img.length} values, expected ${ch}×${size}×${size}`,
      );
    }
    const x0 = pad + (i % cols) * cellW;
    const y0 = pad + Math.floor(i / cols) * cellH;
    for (let k = 0; k < 3; k++) {
      const src = (ch === 1 ? 0 : k) * size * size;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          data[k * plane + (y0 + y) * width + x0 + x] = img[src + y * size + x];
        }
      }
    }
    if (opts.labels) {
      const ink = bg > 0.5 ? 0 : 1;
      // Characters that do not fit the cell are dropped rather than overlapping neighbours.
      const maxChars = Math.max(1, Math.floor((size + 1) / GLYPH_ADVANCE));
      const text = opts.labels[i].slice(0, maxChars);
      for (let k = 0; k < 3; k++) {
        drawText(
          data.subarray(k * plane, (k + 1) * plane),
          width,
          height,
          x0,
          y0 + size + 1,
          text,
          ink,
          size,
        );
      }
    }
  });
  return { data, width, height };
}

/** Each pixel as a k×k block (nearest neighbour): 32×32 samples are too small to look at. */
export function upscaleNearest(img: RgbImage, k: number): RgbImage {
  if (!Number.isInteger(k) || k < 1) throw new Error(`upscaleNearest: scale ${k}`);
  if (k === 1) return img;
  const { width: w, height: h } = img;
  const W = w * k;
  const H = h * k;
  const data = new Float32Array(3 * W * H);
  for (let c = 0; c < 3; c++) {
    for (let Y = 0; Y < H; Y++) {
      const src = c * w * h + Math.floor(Y / k) * w;
      const dst = c * W * H + Y * W;
      for (let X = 0; X < W; X++) data[dst + X] = img.data[src + Math.floor(X / k)];
    }
  }
  return { data, width: W, height: H };
}
