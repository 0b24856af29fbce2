// A user's own concept as a folder of images in a `concepts` data source: resized batches,
// flips and small crops that are reproducible and resumable, the notice line, and the
// one-line errors for bad `names` (also as compile diagnostics at the `names:` argument).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { check } from "../../compiler/compile.ts";
import type { DataSpec } from "../../compiler/elab/program.ts";
import { resolveConcepts } from "../../data/concept-list.ts";
import { openData, type DataRuntime } from "../../runtime/data-sources.ts";
import { writePng } from "../../runtime/io/png.ts";

const SIZE = 16;
const PAD = 1; // round(16 / 16): the crop shift a folder concept gets at this size
let root: string;
let dog: string;

/** A w×h RGB image, CHW: a horizontal ramp in red (so flips show), green = y, blue = seed. */
function image(w: number, h: number, blue: number): Float32Array {
  const px = new Float32Array(3 * w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      px[y * w + x] = x / (w - 1);
      px[w * h + y * w + x] = y / (h - 1);
      px[2 * w * h + y * w + x] = blue;
    }
  return px;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "cld-concept-"));
  dog = join(root, "my-dog");
  mkdirSync(dog);
  writePng(join(dog, "a.png"), image(40, 30, 0), 40, 30);
  writePng(join(dog, "b.png"), image(SIZE, SIZE, 0.5), SIZE, SIZE);
  writePng(join(dog, "c.png"), image(20, 36, 1), 20, 36);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const spec = (names: string, seed = 0, batch = 4): DataSpec => ({
  name: "seq",
  source: "concepts",
  args: { names, size: SIZE, batch, seed },
  fields: {},
  member: undefined as unknown as DataSpec["member"],
});
const x = (d: DataRuntime) => d.next().fields.get("x") as Float32Array;
const errorOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return "no error";
};

/** Every way the augmentation may move an item: flip or not, shift by up to PAD pixels. */
function variants(base: Float32Array): Float32Array[] {
  const out: Float32Array[] = [];
  const clamp = (v: number) => Math.min(SIZE - 1, Math.max(0, v));
  for (const flip of [false, true])
    for (let dy = -PAD; dy <= PAD; dy++)
      for (let dx = -PAD; dx <= PAD; dx++) {
        const v = new Float32Array(base.length);
        for (let c = 0; c < 3; c++)
          for (let y = 0; y < SIZE; y++)
            for (let xx = 0; xx < SIZE; xx++) {
              let sx = clamp(xx + dx);
              if (flip) sx = SIZE - 1 - clamp(xx + dx);
              v[c * SIZE * SIZE + y * SIZE + xx] =
                base[c * SIZE * SIZE + clamp(y + dy) * SIZE + sx];
            }
        out.push(v);
      }
  return out;
}

describe("a concept folder", () => {
  it("gives batches of the right shape, images resized to size, and a notice", () => {
    const d = openData(spec(dog));
    expect(d.size).toBe(3);
    const b = d.next();
    expect((b.fields.get("x") as Float32Array).length).toBe(4 * 3 * SIZE * SIZE);
    expect((b.fields.get("tokens") as Int32Array).length % 4).toBe(0);
    expect(new Set(b.fields.get("concept") as Int32Array).size).toBe(1);
    expect(d.notices).toEqual([
      `concept 'my-dog' (${dog}): 3 images, resized from 40×30 etc. to ${SIZE}×${SIZE} (center-cropped to square), augmented with flips and ±${PAD}-pixel crops`,
    ]);
    // The unaugmented pass: b.png was already SIZE×SIZE, so it comes back as written
    // (x in [-1, 1], 8-bit rounding).
    const plain = [...d.epoch()][0].fields.get("x") as Float32Array;
    const b16 = image(SIZE, SIZE, 0.5);
    const item1 = plain.subarray(3 * SIZE * SIZE, 6 * SIZE * SIZE);
    for (let i = 0; i < b16.length; i++) expect(item1[i]).toBeCloseTo(b16[i] * 2 - 1, 1);
  });

  it("augments with flips and small crops, the same for a seed, and resumes exactly", () => {
    const d = openData(spec(dog, 7));
    const plain = [...d.epoch()][0].fields.get("x") as Float32Array;
    const px = 3 * SIZE * SIZE;
    const allowed = [0, 1, 2].flatMap((i) => variants(plain.subarray(i * px, (i + 1) * px)));
    const seen = new Set<number>();
    const batches = Array.from({ length: 6 }, () => x(d));
    for (const b of batches)
      for (let k = 0; k < 4; k++) {
        const item = b.subarray(k * px, (k + 1) * px);
        const which = allowed.findIndex((v) => v.every((val, i) => Math.abs(val - item[i]) < 1e-6));
        expect(which, "an item that is no flip/crop of an image").toBeGreaterThanOrEqual(0);
        seen.add(which % 18);
      }
    // Both flipped (index >= 9) and shifted (not the centre, 4 / 13) variants occur.
    expect([...seen].some((v) => v >= 9)).toBe(true);
    expect([...seen].some((v) => v !== 4 && v !== 13)).toBe(true);
    // Same seed, same stream; another seed, another one.
    const again = openData(spec(dog, 7));
    for (const b of batches) expect(x(again)).toEqual(b);
    const other = openData(spec(dog, 8));
    expect(batches.some((b) => !b.every((v, i) => v === x(other)[i]))).toBe(true);
    // Resume: a fresh runtime restored from the state continues the same batches.
    const first = openData(spec(dog, 7));
    for (let i = 0; i < 3; i++) first.next();
    const resumed = openData(spec(dog, 7));
    resumed.restore(JSON.parse(JSON.stringify(first.state())));
    for (let i = 3; i < 6; i++) expect(x(resumed)).toEqual(batches[i]);
  });

  it("mixes with emoji concepts: one token per entry, folder last", () => {
    const d = openData(spec(`octopus,${dog}`));
    d.select!(1);
    expect(d.size).toBe(3);
    const c1 = d.next().fields.get("concept") as Int32Array;
    d.select!(0);
    const c0 = d.next().fields.get("concept") as Int32Array;
    expect(c1[0]).not.toBe(c0[0]);
  });
});

describe("bad names", () => {
  it("names the problem in one line", () => {
    const empty = join(root, "empty");
    mkdirSync(empty, { recursive: true });
    const bad = join(root, "bad");
    mkdirSync(bad, { recursive: true });
    writePng(join(bad, "ok.png"), image(8, 8, 0), 8, 8);
    writeFileSync(join(bad, "zz.png"), "not a png");
    const cases: [string, string][] = [
      [join(root, "missing"), `concept 'missing' (${join(root, "missing")}): no such folder`],
      [empty, `concept 'empty' (${empty}): no .png/.jpg/.jpeg images`],
      [bad, `concept 'bad' (${bad}): cannot decode zz.png: `],
      [
        "octopus,octopos",
        "unknown concept 'octopos' (did you mean 'octopus'?); a folder of your own images is a path, e.g. ./photos/octopos",
      ],
      [
        "nosuchthing",
        "unknown concept 'nosuchthing'; a folder of your own images is a path, e.g. ./photos/nosuchthing",
      ],
      [
        `octopus,snail,octopus`,
        "concept 'octopus' is listed twice in names (entries 1 and 3); each concept gets one token",
      ],
      [
        `${dog},${dog}/`,
        `concept '${dog}/' is listed twice in names (entries 1 and 2); each concept gets one token`,
      ],
    ];
    for (const [names, message] of cases) {
      const msg = errorOf(() => resolveConcepts(names, SIZE));
      expect(msg.startsWith(message), `${msg}\nexpected: ${message}`).toBe(true);
      expect(msg).not.toContain("\n");
      expect(errorOf(() => openData(spec(names)))).toBe(msg);
    }
  });

  it("is a compile diagnostic at the names: argument", () => {
    const file = join(root, "p.cld");
    writeFileSync(
      file,
      'program P(names: string = "octopus") {\n  data seq = concepts(names: names, size: 16, batch: 2)\n  run {\n  }\n}\n',
    );
    const ds = check(file, { subgroups: false }, new Map([["names", "octopus,nosuchthing"]]));
    expect(ds.map((d) => `${d.range?.start.line}:${d.range?.start.column} ${d.message}`)).toEqual([
      "2:30 unknown concept 'nosuchthing'; a folder of your own images is a path, e.g. ./photos/nosuchthing",
    ]);
    expect(check(file, { subgroups: false }, new Map([["names", `octopus,${dog}`]]))).toEqual([]);
  });
});
