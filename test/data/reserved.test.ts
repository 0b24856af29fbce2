import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { emojiNames, pretrainCorpus } from "../../data/emoji.ts";
import {
  RESERVED,
  defaultConceptSequence,
  isReserved,
  isReservedCompact,
} from "../../data/reserved.ts";

describe("reserved concepts", () => {
  it("lists exactly the 40 names of DATA.md", () => {
    expect(RESERVED).toHaveLength(40);
    expect(new Set(RESERVED).size).toBe(40);
    expect(defaultConceptSequence()).toEqual([
      "octopus",
      "snail",
      "koala",
      "crocodile",
      "mushroom",
      "cactus",
      "saxophone",
      "microscope",
      "sailboat",
      "moai",
    ]);
  });

  it("matches whole kebab-case words only", () => {
    expect(isReserved("octopus")).toBe(true);
    expect(isReserved("snake")).toBe(true);
    expect(isReserved("water-snake")).toBe(true);
    expect(isReserved("two-hump-camel")).toBe(true);
    expect(isReserved("no-bicycles")).toBe(true); // plural of a reserved word
    expect(isReserved("snakeskin")).toBe(false);
    expect(isReserved("stopwatch")).toBe(false);
    expect(isReserved("radioactive")).toBe(false);
    expect(isReserved("face-with-tears-of-joy")).toBe(false);
    expect(isReservedCompact("dromedarycamel")).toBe(true);
  });

  it("keeps every reserved name out of the emoji pre-training index", () => {
    const names = emojiNames();
    const kept = names.filter((n) => !n.reserved).map((n) => n.name);
    expect(kept.length).toBeGreaterThan(6000);
    for (const n of kept) expect(isReserved(n), n).toBe(false);
    for (const r of RESERVED) expect(kept).not.toContain(r);
    expect(kept).not.toContain("circus-tent"); // fxemoji "circustent" is mapped, then excluded
    expect(kept).not.toContain("fountain-pen");
    // Non-word substring matches are other concepts and stay.
    expect(kept).toContain("stopwatch");
    expect(kept).toContain("radioactive");
    // Every reserved concept really exists in the corpus (so the filter is doing work).
    const all = new Set(names.map((n) => n.name));
    for (const r of RESERVED) expect(all.has(r), r).toBe(true);
  });

  it("pretrainCorpus excludes reserved names (small set, tiny rasters)", () => {
    const corpus = pretrainCorpus({
      size: 4,
      sets: ["streamline-emojis"],
      cacheDir: mkdtempSync(join(tmpdir(), "cld-emoji-")),
    });
    const names = corpus.map((c) => c.name);
    expect(names.length).toBeGreaterThan(300);
    for (const n of names) expect(isReserved(n), n).toBe(false);
    expect(names).not.toContain("octopus");
    expect(names).not.toContain("snake");
    expect(names).not.toContain("cactus"); // streamline's cactus-1 / cactus-2
    expect(corpus.every((c) => c.images.every((i) => i.pixels.length === 3 * 4 * 4))).toBe(true);
  });
});
