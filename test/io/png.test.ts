import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, encode } from "fast-png";
import { describe, expect, it } from "vitest";
import {
  decodePngBytes,
  imageGrid,
  readPng,
  upscaleNearest,
  writePng,
} from "../../runtime/io/png.ts";

const dir = mkdtempSync(join(tmpdir(), "cld-png-"));

describe("png", () => {
  it("writes CHW RGB and reads it back via fast-png", () => {
    const w = 3;
    const h = 2;
    const chw = new Float32Array(3 * w * h);
    for (let i = 0; i < chw.length; i++) chw[i] = (i % 7) / 6;
    chw[0] = -0.5; // clamped
    chw[1] = 2; // clamped
    const p = join(dir, "rgb.png");
    writePng(p, chw, w, h);
    const png = decode(readFileSync(p));
    expect([png.width, png.height, png.channels, png.depth]).toEqual([w, h, 3, 8]);
    for (let c = 0; c < 3; c++)
      for (let pix = 0; pix < w * h; pix++) {
        const v = Math.min(1, Math.max(0, chw[c * w * h + pix]));
        expect(png.data[pix * 3 + c]).toBe(Math.round(v * 255));
      }
    const back = readPng(p);
    expect(back.channels).toBe(3);
    expect(Array.from(back.data)).toEqual(Array.from(png.data, (b) => Math.fround(b / 255))); // HWC floats
  });

  it("supports HWC input and grayscale", () => {
    const hwc = Float32Array.from([1, 0, 0, 0, 1, 0]); // 2×1 RGB: red, green
    const p = join(dir, "hwc.png");
    writePng(p, hwc, 2, 1, { layout: "HWC" });
    expect(Array.from(decode(readFileSync(p)).data)).toEqual([255, 0, 0, 0, 255, 0]);
    const g = join(dir, "grey.png");
    writePng(g, Float32Array.from([0, 0.5, 1, 0.25]), 2, 2);
    const png = decode(readFileSync(g));
    expect(png.channels).toBe(1);
    expect(Array.from(png.data)).toEqual([0, 128, 255, 64]);
    expect(() => writePng(g, new Float32Array(5), 2, 2)).toThrow(/not 1, 3 or 4 channels/);
  });

  it("decodes palette and 16-bit PNGs to floats", () => {
    const p16 = encode({
      width: 1,
      height: 1,
      data: Uint16Array.from([65535, 0, 32768]),
      channels: 3,
      depth: 16,
    });
    const d = decodePngBytes(p16);
    expect(d.data[0]).toBe(1);
    expect(d.data[2]).toBeCloseTo(0.5, 4);
    const g1 = encode({
      width: 3,
      height: 1,
      data: Uint8Array.from([0b10100000]),
      channels: 1,
      depth: 1,
    });
    expect(Array.from(decodePngBytes(g1).data)).toEqual([1, 0, 1]);
  });

  it("tiles a grid with padding, grey inputs and labels", () => {
    const size = 8;
    const black = new Float32Array(size * size); // grey image, all 0
    const g = imageGrid([black, black, black], { rows: 2, cols: 2, size, pad: 1, channels: 1 });
    expect(g.width).toBe(1 + 2 * (size + 1));
    expect(g.height).toBe(1 + 2 * (size + 1));
    expect(g.data.length).toBe(3 * g.width * g.height);
    expect(g.data[0]).toBe(1); // padding is white
    expect(g.data[1 * g.width + 1]).toBe(0); // first cell starts at (1, 1)
    const lastCell = (1 + (size + 1)) * g.width + 1 + (size + 1);
    expect(g.data[lastCell]).toBe(1); // 4th cell empty
    const black12 = new Float32Array(12 * 12);
    const labelled = imageGrid([black12], {
      rows: 1,
      cols: 1,
      size: 12,
      channels: 1,
      labels: ["A1"],
    });
    expect(labelled.height).toBe(2 + 12 + 9 + 2);
    let ink = 0;
    for (let y = 2 + 12; y < labelled.height; y++)
      for (let x = 0; x < labelled.width; x++)
        if (labelled.data[y * labelled.width + x] === 0) ink++;
    expect(ink).toBeGreaterThan(10);
    expect(() => imageGrid([black], { rows: 1, cols: 1, size: 4, channels: 1 })).toThrow(
      /expected 1×4×4/,
    );
    expect(() => imageGrid([black, black], { rows: 1, cols: 1, size, channels: 1 })).toThrow(
      /do not fit/,
    );
    const p = join(dir, "grid.png");
    writePng(p, labelled.data, labelled.width, labelled.height);
    expect(readPng(p).width).toBe(labelled.width);
  });

  it("upscales by repeating each pixel as a k×k block", () => {
    // 2×1 image: pixel (0,0) = (r .1, g .2, b .3), pixel (1,0) = (.4, .5, .6); CHW.
    const img = { data: Float32Array.from([0.1, 0.4, 0.2, 0.5, 0.3, 0.6]), width: 2, height: 1 };
    const up = upscaleNearest(img, 3);
    expect([up.width, up.height]).toEqual([6, 3]);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 3; y++)
        for (let x = 0; x < 6; x++)
          expect(up.data[c * 18 + y * 6 + x]).toBeCloseTo(img.data[c * 2 + (x < 3 ? 0 : 1)], 7);
    expect(upscaleNearest(img, 1)).toBe(img);
    expect(() => upscaleNearest(img, 0)).toThrow(/scale 0/);
  });
});
