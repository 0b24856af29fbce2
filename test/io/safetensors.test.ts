import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { f16BitsToF32, f32ToF16Bits } from "../../runtime/io/float16.ts";
import {
  SafetensorsError,
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
} from "../../runtime/io/safetensors.ts";

const dir = mkdtempSync(join(tmpdir(), "cld-st-"));

describe("float16", () => {
  it("encodes known bit patterns", () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(0)).toBe(0x0000);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to inf
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie → even (0)
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie 1.5 → even (2)
    expect(f32ToF16Bits(2 ** -26)).toBe(0x0000);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above tie
    expect(f32ToF16Bits(0.1)).toBe(0x2e66);
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToF16Bits(NaN) & 0x3ff).not.toBe(0);
  });

  it("decodes known bit patterns", () => {
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
  });

  it("round-trips every finite half exactly", () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
    }
  });
});

describe("safetensors", () => {
  const tensors = {
    "w.weight": { data: Float32Array.from([1, -2, 0.5, 3.25, 65504, 2 ** -24]), shape: [2, 3] },
    ids: { data: Int32Array.from([7, -1, 2147483647]), shape: [3] },
    scalar: { data: Float32Array.from([0.1]), shape: [] },
    empty: { data: new Float32Array(0), shape: [0, 4] },
  };

  it("round-trips F32 and I32 exactly, with metadata", () => {
    const p = join(dir, "f32.safetensors");
    writeSafetensors(p, tensors, { format: "pt", step: "12" });
    const { tensors: t, metadata } = readSafetensors(p);
    expect(metadata).toEqual({ format: "pt", step: "12" });
    expect(t.get("w.weight")!.dtype).toBe("F32");
    expect(t.get("w.weight")!.shape).toEqual([2, 3]);
    expect(Array.from(t.get("w.weight")!.data)).toEqual(Array.from(tensors["w.weight"].data));
    expect(t.get("ids")!.dtype).toBe("I32");
    expect(t.get("ids")!.data).toBeInstanceOf(Int32Array);
    expect(Array.from(t.get("ids")!.data)).toEqual([7, -1, 2147483647]);
    expect(t.get("scalar")!.shape).toEqual([]);
    expect(t.get("empty")!.data.length).toBe(0);
    // Header is 8-byte aligned and no temp files are left behind.
    const buf = readFileSync(p);
    expect(Number(buf.readBigUInt64LE(0)) % 8).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("writes F16 with the correct bit patterns and reads it back", () => {
    const p = join(dir, "f16.safetensors");
    writeSafetensors(p, tensors, {}, { dtype: "F16" });
    const h = readSafetensorsHeader(p);
    expect(h.entries.get("w.weight")!.dtype).toBe("F16");
    expect(h.entries.get("ids")!.dtype).toBe("I32");
    const e = h.entries.get("w.weight")!;
    const raw = readFileSync(p).subarray(
      h.dataStart + e.data_offsets[0],
      h.dataStart + e.data_offsets[1],
    );
    const bits = Array.from(new Uint16Array(new Uint8Array(raw).buffer)); // copy: Buffer.slice shares memory
    expect(bits).toEqual([0x3c00, 0xc000, 0x3800, 0x4280, 0x7bff, 0x0001]);
    const back = readSafetensors(p, { names: ["w.weight", "scalar"] }).tensors;
    expect(Array.from(back.get("w.weight")!.data)).toEqual([1, -2, 0.5, 3.25, 65504, 2 ** -24]);
    expect(back.get("scalar")!.data[0]).toBeCloseTo(0.1, 3);
    expect(back.has("ids")).toBe(false);
  });

  it("rejects bad inputs when writing", () => {
    const p = join(dir, "bad.safetensors");
    expect(() => writeSafetensors(p, { a: { data: new Float32Array(3), shape: [2, 2] } })).toThrow(
      /3 values/,
    );
    expect(() =>
      writeSafetensors(p, { a: { data: new Int32Array(1), shape: [1], dtype: "F16" } }),
    ).toThrow(/dtype F16/);
  });

  // Build a file by hand: header object, then data bytes.
  function raw(name: string, header: unknown, data: Uint8Array, lenOverride?: number): string {
    const json = new TextEncoder().encode(
      typeof header === "string" ? header : JSON.stringify(header),
    );
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(lenOverride ?? json.length));
    const p = join(dir, name);
    writeFileSync(p, Buffer.concat([len, json, data]));
    return p;
  }
  const ok = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };

  it.each([
    [
      "short",
      () => join(dir, "short.st"),
      /too short/,
      () => writeFileSync(join(dir, "short.st"), "abc"),
    ],
    [
      "header length beyond the file",
      () => raw("len.st", ok, new Uint8Array(8), 1000),
      /header length 1000 is beyond/,
    ],
    ["invalid JSON", () => raw("json.st", "{not json", new Uint8Array(0)), /invalid JSON header/],
    ["not an object", () => raw("arr.st", [1, 2], new Uint8Array(0)), /not a JSON object/],
    [
      "unknown dtype",
      () =>
        raw("dt.st", { a: { dtype: "Q4", shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /unknown dtype "Q4"/,
    ],
    [
      "bad shape",
      () =>
        raw("sh.st", { a: { dtype: "F32", shape: [-1], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /invalid shape/,
    ],
    [
      "size mismatch",
      () =>
        raw("sz.st", { a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /needs 12/,
    ],
    [
      "offsets reversed",
      () =>
        raw("rev.st", { a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, new Uint8Array(8)),
      /invalid data_offsets/,
    ],
    [
      "truncated",
      () => raw("tr.st", ok, new Uint8Array(5)),
      /truncated file: tensor a ends at data byte 8, but the data section has 5/,
    ],
    [
      "overlap",
      () =>
        raw(
          "ov.st",
          {
            a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
            b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
          },
          new Uint8Array(8),
        ),
      /overlap/,
    ],
    [
      "gap",
      () =>
        raw("gap.st", { a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
      /gap in data section/,
    ],
    ["trailing bytes", () => raw("tail.st", ok, new Uint8Array(12)), /tensors cover only 8/],
    [
      "an 8-exabyte header length",
      () => raw("huge-len.st", ok, new Uint8Array(8), 2 ** 63),
      /header length 9223372036854775808 is beyond/,
    ],
    [
      "offsets beyond 2^53",
      () =>
        raw(
          "far.st",
          { a: { dtype: "F32", shape: [2], data_offsets: [2 ** 60, 2 ** 60 + 8] } },
          new Uint8Array(8),
        ),
      /invalid data_offsets/,
    ],
    [
      "an offset past the data section",
      () =>
        raw(
          "past.st",
          { a: { dtype: "F32", shape: [2], data_offsets: [8, 16] } },
          new Uint8Array(8),
        ),
      /truncated file: tensor a ends at data byte 16/,
    ],
    [
      "bad metadata",
      () => raw("md.st", { __metadata__: { a: 1 } }, new Uint8Array(0)),
      /__metadata__\.a is not a string/,
    ],
    ["missing file", () => join(dir, "nope.st"), /cannot open \(ENOENT\)/],
  ])("rejects %s", (_label, make, pattern, setup?: () => void) => {
    setup?.();
    const p = make();
    let err: unknown;
    try {
      readSafetensors(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SafetensorsError);
    const msg = (err as Error).message;
    expect(msg).toMatch(pattern);
    expect(msg.startsWith(p)).toBe(true);
    expect(msg.includes("\n")).toBe(false);
  });

  it("reads other common dtypes (BF16, I64, U8) into float/int arrays", () => {
    const data = new Uint8Array(4 + 16 + 2);
    new DataView(data.buffer).setUint16(0, 0x3f80, true); // bf16 1.0
    new DataView(data.buffer).setUint16(2, 0xc000, true); // bf16 -2.0
    new DataView(data.buffer).setBigInt64(4, -5n, true);
    new DataView(data.buffer).setBigInt64(12, 77n, true);
    data[20] = 255;
    data[21] = 1;
    const p = raw(
      "mixed.st",
      {
        b: { dtype: "BF16", shape: [2], data_offsets: [0, 4] },
        i: { dtype: "I64", shape: [2], data_offsets: [4, 20] },
        u: { dtype: "U8", shape: [2], data_offsets: [20, 22] },
      },
      data,
    );
    const t = readSafetensors(p).tensors;
    expect(Array.from(t.get("b")!.data)).toEqual([1, -2]);
    expect(Array.from(t.get("i")!.data)).toEqual([-5, 77]);
    expect(Array.from(t.get("u")!.data)).toEqual([255, 1]);
  });
});
