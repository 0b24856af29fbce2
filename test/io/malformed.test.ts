// Malformed inputs: truncated or corrupt PNG/JPEG files and damaged checkpoints each fail
// with one clear line naming the file, never a stack trace or a huge allocation.
// (Malformed safetensors headers are in safetensors.test.ts; .cld import cycles and
// missing imports in test/grammar/load.test.ts.)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { afterAll, describe, expect, it } from "vitest";
import { loadImageFolder } from "../../data/image-folder.ts";
import {
  checkCheckpointTensors,
  loadCheckpoint,
  saveCheckpoint,
} from "../../runtime/checkpoint.ts";
import { decodePngBytes, encodePng, readPng } from "../../runtime/io/png.ts";
import { writeSafetensors } from "../../runtime/io/safetensors.ts";

const dir = mkdtempSync(join(tmpdir(), "cld-malformed-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const image = new Float32Array(3 * 16 * 16).map((_, i) => (i % 97) / 97);
const good = encodePng(image, 16, 16);

/** The error message of `f`, checked to be a single line. */
async function oneLine(f: () => unknown): Promise<string> {
  let msg = "";
  try {
    await f();
  } catch (e) {
    msg = (e as Error).message;
  }
  expect(msg, "expected an error").not.toBe("");
  expect(msg.includes("\n"), msg).toBe(false);
  return msg;
}

describe("PNG", () => {
  const withSize = (w: number, h: number) => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(16, w);
    new DataView(b.buffer).setUint32(20, h);
    return b;
  };
  const corrupt = good.slice();
  for (let i = 45; i < 70; i++) corrupt[i] ^= 0x5a; // inside IDAT's compressed stream

  it.each([
    ["truncated to half", good.slice(0, good.length >> 1), /truncated or corrupt PNG data/],
    ["truncated in IHDR", good.slice(0, 20), /truncated PNG \(20 bytes, no IHDR\)/],
    ["empty", new Uint8Array(0), /not a PNG file/],
    ["JPEG bytes", new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]), /not a PNG file/],
    ["corrupt IDAT", corrupt, /corrupt PNG/],
    // A damaged header must not allocate 40 GB (the data could never fill it anyway).
    ["absurd dimensions", withSize(100_000, 100_000), /100000×100000 pixels \(limit 100 MP\)/],
    ["zero width", withSize(0, 16), /0×16 pixels/],
  ])("rejects a PNG %s", async (_label, bytes, pattern) => {
    expect(decodePngBytes(good).width).toBe(16); // the undamaged file decodes
    const p = join(dir, "bad.png");
    writeFileSync(p, bytes);
    const msg = await oneLine(() => readPng(p));
    expect(msg).toMatch(pattern);
    expect(msg.startsWith(`${p}: not a readable PNG`)).toBe(true);
  });

  it("names the damaged file of an image folder", async () => {
    const folder = join(dir, "folder-png");
    mkdirSync(folder);
    writeFileSync(join(folder, "a.png"), good);
    writeFileSync(join(folder, "b.png"), good.slice(0, 100));
    const msg = await oneLine(() => loadImageFolder(folder, { size: 8 }));
    expect(msg).toMatch(/^image folder .*folder-png: cannot decode b\.png: truncated/);
  });
});

describe("JPEG", () => {
  const rgba = new Uint8Array(16 * 16 * 4).map((_, i) => (i * 7) % 256);
  const good = new Uint8Array(jpeg.encode({ data: rgba, width: 16, height: 16 }, 90).data);
  const huge = Buffer.from(good);
  const sof = huge.indexOf(Buffer.from([0xff, 0xc0]));
  huge.writeUInt16BE(60000, sof + 5); // height
  huge.writeUInt16BE(60000, sof + 7); // width

  it.each([
    ["truncated", good.slice(0, good.length >> 1), /truncated or corrupt JPEG/],
    ["garbage", new Uint8Array(64).fill(7), /truncated or corrupt JPEG \(SOI not found\)/],
    ["absurd dimensions", huge, /maxResolutionInMP limit exceeded/],
  ])("rejects a %s JPEG in an image folder", async (label, bytes, pattern) => {
    const folder = join(dir, `folder-jpg-${label.replace(/ /g, "-")}`);
    mkdirSync(folder);
    writeFileSync(join(folder, "ok.jpg"), good);
    writeFileSync(join(folder, "zz.jpg"), bytes);
    const msg = await oneLine(() => loadImageFolder(folder, { size: 8 }));
    expect(msg).toMatch(/cannot decode zz\.jpg: /);
    expect(msg).toMatch(pattern);
  });
});

describe("checkpoints", () => {
  const state = (s: string) => ({ "cld.state": s, "cld.format": "1" });
  const t = { w: { data: new Float32Array([1, 2, 3]), shape: [3] } };

  it("rejects corrupt or missing host state", async () => {
    const p = join(dir, "state.safetensors");
    writeSafetensors(p, t, state("{not json"));
    expect(await oneLine(() => loadCheckpoint(p))).toMatch(/corrupt cld\.state metadata/);
    writeSafetensors(p, t, state('{"program": "X"}'));
    expect(await oneLine(() => loadCheckpoint(p))).toMatch(/no event count/);
    writeSafetensors(p, t, {});
    expect(await oneLine(() => loadCheckpoint(p))).toMatch(/not a cld training checkpoint/);
  });

  it("are never overwritten with non-finite weights", async () => {
    const p = join(dir, "good.safetensors");
    const st = {
      program: "P",
      settings: {},
      events: 7,
      data: {},
      optimizerSteps: {},
      modelHash: "0",
    };
    const shapes = new Map([["w", [3]]]);
    saveCheckpoint(p, new Map([["w", new Float32Array([1, 2, 3])]]), shapes, st);
    const before = readFileSync(p);
    const bad = new Map([["w", new Float32Array([1, NaN, 3])]]);
    expect(await oneLine(() => saveCheckpoint(p, bad, shapes, { ...st, events: 9 }))).toBe(
      `not writing ${p}: tensor w is NaN at element 1 after event 9; the last good checkpoint is kept`,
    );
    expect(readFileSync(p).equals(before)).toBe(true);
  });

  it("names the first tensor that is missing, extra or of the wrong size", () => {
    const shapes = new Map([
      ["w", [3]],
      ["b", [2]],
    ]);
    const have = (o: Record<string, number>) =>
      new Map(Object.entries(o).map(([k, n]) => [k, new Float32Array(n)]));
    expect(checkCheckpointTensors("ck", have({ w: 3, b: 2 }), shapes)).toBeNull();
    expect(checkCheckpointTensors("ck", have({ w: 3 }), shapes)).toBe(
      "ck: the model's tensor b [2] is missing",
    );
    expect(checkCheckpointTensors("ck", have({ w: 3, b: 2, extra: 1 }), shapes)).toBe(
      "ck: tensor extra is not in the model",
    );
    expect(checkCheckpointTensors("ck", have({ w: 4, b: 2 }), shapes)).toBe(
      "ck: tensor w has 4 values, the model's [3] has 3",
    );
  });
});
