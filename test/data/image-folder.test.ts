import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encode } from "fast-png";
import { describe, expect, it } from "vitest";
import { cropResizeRgb, loadImageFolder } from "../../data/image-folder.ts";

function png(
  w: number,
  h: number,
  channels: number,
  px: (x: number, y: number) => number[],
): Uint8Array {
  const data = new Uint8Array(w * h * channels);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) data.set(px(x, y), (y * w + x) * channels);
  return encode({ width: w, height: h, data, channels, depth: 8 });
}

describe("loadImageFolder", () => {
  it("loads PNGs of any size, crops to square, resizes, and warns", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cld-folder-"));
    // 12×8 RGB: left third red, the rest blue → after center-crop 8×8 mostly blue.
    writeFileSync(
      join(dir, "a.png"),
      png(12, 8, 3, (x) => (x < 4 ? [255, 0, 0] : [0, 0, 255])),
    );
    writeFileSync(
      join(dir, "b.png"),
      png(12, 8, 3, () => [0, 255, 0]),
    );
    // 4×4 grey + alpha, fully transparent → white.
    writeFileSync(
      join(dir, "c.png"),
      png(4, 4, 2, () => [0, 0]),
    );
    writeFileSync(join(dir, "notes.txt"), "hi");
    const { images, warnings } = await loadImageFolder(dir, { size: 4 });
    expect(images.map((i) => i.file)).toEqual(["a.png", "b.png", "c.png"]);
    for (const i of images) expect(i.pixels.length).toBe(3 * 16);
    expect(warnings).toContain("resized 2 images from 12×8 to 4×4 (center-cropped to square)");
    expect(warnings.some((w) => w.includes("notes.txt"))).toBe(true);
    const a = images[0].pixels;
    expect(a[2 * 16 + 15]).toBeCloseTo(1); // bottom-right blue
    expect(a[0 * 16 + 15]).toBeCloseTo(0);
    expect(Array.from(images[2].pixels).every((v) => v === 1)).toBe(true);
    expect(images[1].pixels[16 + 5]).toBeCloseTo(1);
  });

  it("errors on an empty folder or an unreadable file, naming it", async () => {
    const empty = mkdtempSync(join(tmpdir(), "cld-folder-"));
    await expect(loadImageFolder(empty, { size: 8 })).rejects.toThrow(
      /no \.png\/\.jpg\/\.jpeg images/,
    );
    await expect(loadImageFolder(join(empty, "missing"), { size: 8 })).rejects.toThrow(
      /cannot read \(ENOENT\)/,
    );
    const bad = mkdtempSync(join(tmpdir(), "cld-folder-"));
    writeFileSync(join(bad, "broken.png"), "not a png");
    await expect(loadImageFolder(bad, { size: 8 })).rejects.toThrow(/cannot decode broken\.png/);
    const jpg = mkdtempSync(join(tmpdir(), "cld-folder-"));
    mkdirSync(join(jpg, "sub"));
    writeFileSync(join(jpg, "photo.jpg"), new Uint8Array([0xff, 0xd8, 0xff]));
    await expect(loadImageFolder(jpg, { size: 8 })).rejects.toThrow(/photo\.jpg: .*JPEG/);
  });
});

describe("cropResizeRgb", () => {
  it("area-averages when shrinking and keeps constants constant", () => {
    // 2×2 checker → 1×1 = mean.
    const rgb = Float32Array.from([0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    expect(Array.from(cropResizeRgb(rgb, 2, 2, 1))).toEqual([0.5, 0.5, 0.5]);
    const flat = new Float32Array(5 * 3 * 3).fill(0.25);
    for (const v of cropResizeRgb(flat, 5, 3, 7)) expect(v).toBeCloseTo(0.25);
  });
});
