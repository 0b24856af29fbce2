import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { emojiCaption, emojiConcepts, emojiNames, renderIcon, setIndex } from "../../data/emoji.ts";
import { EmojiRasterCache } from "../../data/emoji-cache.ts";

const SIZE = 32;

function checkImage(px: Float32Array) {
  expect(px.length).toBe(3 * SIZE * SIZE);
  for (const v of px) {
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(1);
  }
  // White background in the corners (CHW: each channel plane).
  for (let c = 0; c < 3; c++) {
    const plane = c * SIZE * SIZE;
    for (const p of [0, SIZE - 1, SIZE * (SIZE - 1), SIZE * SIZE - 1])
      expect(px[plane + p]).toBe(1);
  }
  // ... and an actual drawing in the middle.
  let ink = 0;
  for (const v of px) if (v < 0.9) ink++;
  expect(ink).toBeGreaterThan(50);
}

describe("emoji rendering", () => {
  it("renders icons as CHW [3, size, size] on white", () => {
    checkImage(renderIcon("twemoji", "face-with-tears-of-joy", SIZE));
    checkImage(renderIcon("noto", "octopus", SIZE));
  });

  it("renders icons whose drafts lie off-canvas (resvg would abort)", () => {
    checkImage(renderIcon("noto", "package", SIZE));
  });

  it("applies alias flips (fluent's left hand is its right hand mirrored)", () => {
    const left = renderIcon("fluent-emoji-flat", "backhand-index-pointing-left", SIZE);
    const right = renderIcon("fluent-emoji-flat", "backhand-index-pointing-right", SIZE);
    let diff = 0;
    let sum = 0;
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < SIZE; y++)
        for (let x = 0; x < SIZE; x++) {
          const a = left[c * SIZE * SIZE + y * SIZE + x];
          const b = right[c * SIZE * SIZE + y * SIZE + (SIZE - 1 - x)];
          diff = Math.max(diff, Math.abs(a - b));
          sum += Math.abs(a - b);
        }
    // Anti-aliased edges differ slightly (the mirror is not pixel-aligned).
    expect(diff).toBeLessThan(0.2);
    expect(sum / left.length).toBeLessThan(0.005);
  });

  it("errors on unknown icons", () => {
    expect(() => renderIcon("twemoji", "no-such-emoji", SIZE)).toThrow(/no icon "no-such-emoji"/);
  });
});

describe("emoji naming and grouping", () => {
  it("captions kebab-case names", () => {
    expect(emojiCaption("face-with-tears-of-joy")).toBe("face with tears of joy");
  });

  it("canonicalizes streamline variants and fxemoji compact names", () => {
    const st = setIndex("streamline-emojis").filter((r) => r.icon.startsWith("cactus"));
    expect(st.map((r) => r.name)).toEqual(["cactus", "cactus"]);
    const fx = new Map(setIndex("fxemoji").map((r) => [r.icon, r]));
    expect(fx.get("circustent")?.name).toBe("circus-tent");
    expect(fx.get("circustent")?.reserved).toBe(true);
    expect(fx.get("radiobutton")?.name).toBe("radio-button");
    expect(fx.get("radiobutton")?.reserved).toBe(true);
    expect(fx.get("lowerleftfountainpen")?.reserved ?? true).toBe(true);
    expect(fx.has("dromedarycamel")).toBe(false); // no usable name: dropped
  });

  it("has many names with 7+ styles", () => {
    const rich = emojiNames().filter((n) => !n.reserved && n.styles >= 7);
    expect(rich.length).toBeGreaterThan(200);
  });

  it("groups a concept across sets and caches rasters on disk", () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "cld-emoji-"));
    const opts = { size: SIZE, include: ["octopus"], excludeReserved: false, cacheDir } as const;
    const [c] = emojiConcepts(opts);
    expect(c.name).toBe("octopus");
    expect(c.caption).toBe("octopus");
    expect(c.images.length).toBeGreaterThanOrEqual(7);
    expect(new Set(c.images.map((i) => i.set)).size).toBe(c.images.length);
    c.images.forEach((i) => checkImage(i.pixels));
    expect(readdirSync(cacheDir).some((f) => f === `noto-${SIZE}.bin`)).toBe(true);
    expect(readdirSync(cacheDir).some((f) => f.includes(".tmp-"))).toBe(false);
    // A fresh cache object serves it from disk without rendering, bit-identical.
    const cache = new EmojiRasterCache("noto", SIZE, cacheDir);
    expect(cache.has("octopus")).toBe(true);
    const again = emojiConcepts(opts)[0];
    expect(again.images.map((i) => Array.from(i.pixels))).toEqual(
      c.images.map((i) => Array.from(i.pixels)),
    );
    // With CLD_EMOJI_CACHE_ONLY (a machine without the SVG sets) a cached icon still
    // loads, and a missing one is an error instead of an empty rendering.
    process.env.CLD_EMOJI_CACHE_ONLY = "1";
    try {
      expect(emojiConcepts(opts)[0].images.length).toBe(c.images.length);
      expect(() => emojiConcepts({ ...opts, include: ["snail"] })).toThrow(
        /is not in the raster cache .*CLD_EMOJI_CACHE_ONLY is set/,
      );
    } finally {
      delete process.env.CLD_EMOJI_CACHE_ONLY;
    }
    expect(() => emojiConcepts({ ...opts, excludeReserved: true })).toThrow(/reserved/);
    expect(() => emojiConcepts({ ...opts, include: ["octopussy"] })).toThrow(
      /no emoji named "octopussy"/,
    );
  });
});
