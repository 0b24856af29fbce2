import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  FASHION_DIR,
  IdxError,
  fashionConcept,
  idxToDataset,
  loadFashionMnist,
  parseIdx,
} from "../../data/fashion.ts";

function idx(magic: number, dims: number[], data: number[]): Uint8Array {
  const head = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  head.setUint32(0, magic, false);
  dims.forEach((d, i) => head.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(head.byteLength + data.length);
  out.set(new Uint8Array(head.buffer), 0);
  out.set(data, head.byteLength);
  return out;
}

describe("IDX parsing", () => {
  it("reads raw and gzipped images + labels", () => {
    const img = idx(2051, [2, 2, 2], [0, 255, 51, 102, 1, 2, 3, 4]);
    const lab = idx(2049, [2], [7, 3]);
    const a = parseIdx(gzipSync(img), "img", 2051);
    expect(a.dims).toEqual([2, 2, 2]);
    const ds = idxToDataset(a, parseIdx(lab, "lab", 2049), "tiny");
    expect(ds.n).toBe(2);
    expect(Array.from(ds.labels)).toEqual([7, 3]);
    expect(ds.images[1]).toBeCloseTo(1);
    expect(ds.images[2]).toBeCloseTo(0.2);
  });

  it("rejects malformed files with clear errors", () => {
    expect(() => parseIdx(idx(2049, [2], [1, 2]), "f", 2051)).toThrow(
      /bad IDX magic 2049, expected 2051/,
    );
    expect(() => parseIdx(idx(2051, [2, 2, 2], [1, 2, 3]), "f")).toThrow(
      /need 8 data bytes, file has 3/,
    );
    expect(() => parseIdx(new Uint8Array([0, 0]), "f")).toThrow(IdxError);
    expect(() => parseIdx(idx(0x0d03, [1, 1, 1], [0, 0, 0, 0]), "f")).toThrow(
      /unsupported IDX magic/,
    );
    expect(() => parseIdx(new Uint8Array([0x1f, 0x8b, 1, 2, 3]), "f")).toThrow(/corrupt gzip/);
    const img = parseIdx(idx(2051, [2, 1, 1], [0, 0]), "i");
    expect(() => idxToDataset(img, parseIdx(idx(2049, [3], [0, 0, 0]), "l"), "x")).toThrow(
      /2 images but 3 labels/,
    );
    expect(() => idxToDataset(img, parseIdx(idx(2049, [2], [0, 12]), "l"), "x")).toThrow(
      /label 12/,
    );
  });

  it("names the apt-get command when the dataset is missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "cld-fashion-"));
    expect(() => loadFashionMnist("test", { dir })).toThrow(
      /apt-get install -y dataset-fashion-mnist/,
    );
    writeFileSync(
      join(dir, "t10k-images-idx3-ubyte.gz"),
      gzipSync(idx(2051, [1, 2, 2], [9, 9, 9, 9])),
    );
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gzipSync(idx(2049, [1], [4])));
    const ds = loadFashionMnist("test", { dir });
    expect(ds.n).toBe(1);
    expect(Array.from(fashionConcept(ds, 4, 1))).toHaveLength(4);
    expect(() => fashionConcept(ds, 1, 1)).toThrow(/only 0/);
  });

  it("loads the real Fashion-MNIST test split (installed by scripts/setup.sh)", () => {
    const ds = loadFashionMnist("test");
    expect(ds.n).toBe(10000);
    expect(ds.images.length).toBe(10000 * 784);
    const counts = new Array(10).fill(0);
    for (const l of ds.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
  });
});
