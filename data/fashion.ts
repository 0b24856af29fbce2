// Fashion-MNIST (70,000 grey 28×28 clothes, 10 classes) from Debian's
// `dataset-fashion-mnist`, stored as gzipped IDX files. Used as the small "new concepts"
// track after digit pre-training. The IDX parser is generic (any ubyte IDX file).

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

export const FASHION_DIR = "/usr/share/datasets/fashion-mnist";
export const FASHION_INSTALL = "apt-get update && apt-get install -y dataset-fashion-mnist";

export const FASHION_CLASS_NAMES = [
  "t-shirt",
  "trouser",
  "pullover",
  "dress",
  "coat",
  "sandal",
  "shirt",
  "sneaker",
  "bag",
  "ankle boot",
] as const;

export function fashionCaption(label: number): string {
  const name = FASHION_CLASS_NAMES[label];
  if (name === undefined) throw new Error(`fashionCaption: label ${label} is not in 0..9`);
  return name;
}

export class IdxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IdxError";
  }
}

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** IDX magic for unsigned-byte files: 0x0000 08 <ndims>; 2051 = 3-d images, 2049 = labels. */
export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

/** Parse an IDX buffer (gzipped or raw). `what` names the source in error messages. */
export function parseIdx(buf: Uint8Array, what: string, expectMagic?: number): IdxArray {
  let raw = buf;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      raw = gunzipSync(buf);
    } catch (e) {
      throw new IdxError(`${what}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  if (raw.length < 4)
    throw new IdxError(`${what}: too short for an IDX header (${raw.length} bytes)`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = view.getUint32(0, false);
  if (expectMagic !== undefined && magic !== expectMagic) {
    throw new IdxError(`${what}: bad IDX magic ${magic}, expected ${expectMagic}`);
  }
  const type = (magic >>> 8) & 0xff;
  const ndims = magic & 0xff;
  if (magic >>> 16 !== 0 || type !== 0x08) {
    throw new IdxError(`${what}: unsupported IDX magic ${magic} (only unsigned-byte data)`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (ndims === 0 || raw.length < headerBytes) {
    throw new IdxError(`${what}: truncated IDX header (${ndims} dims, ${raw.length} bytes)`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (raw.length - headerBytes !== count) {
    throw new IdxError(
      `${what}: IDX dims [${dims.join(", ")}] need ${count} data bytes, file has ${raw.length - headerBytes}`,
    );
  }
  return { dims, data: raw.subarray(headerBytes) };
}

export function readIdxFile(path: string, expectMagic?: number): IdxArray {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new IdxError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return parseIdx(buf, path, expectMagic);
}

export interface FashionSet {
  /** n×784 floats in [0, 1], row-major 28×28 per image (= CHW with C = 1). */
  images: Float32Array;
  labels: Int32Array;
  n: number;
}

/** Turn an images IDX + labels IDX pair into a float dataset, checking they agree. */
export function idxToDataset(images: IdxArray, labels: IdxArray, what: string): FashionSet {
  if (images.dims.length !== 3) {
    throw new IdxError(`${what}: images must be 3-d [n, h, w], got [${images.dims.join(", ")}]`);
  }
  if (labels.dims.length !== 1) {
    throw new IdxError(`${what}: labels must be 1-d [n], got [${labels.dims.join(", ")}]`);
  }
  const [n, h, w] = images.dims;
  if (labels.dims[0] !== n) {
    throw new IdxError(`${what}: ${n} images but ${labels.dims[0]} labels`);
  }
  const out = new Float32Array(n * h * w);
  for (let i = 0; i < out.length; i++) out[i] = images.data[i] / 255;
  const lab = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = labels.data[i];
    if (l > 9) throw new IdxError(`${what}: label ${l} at index ${i} is not in 0..9`);
    lab[i] = l;
  }
  return { images: out, labels: lab, n };
}

/** Load the 60,000 training or 10,000 test images (the dataset's own split). */
export function loadFashionMnist(split: "train" | "test", opts: { dir?: string } = {}): FashionSet {
  const dir = opts.dir ?? process.env.CLD_FASHION_MNIST_DIR ?? FASHION_DIR;
  const prefix = split === "train" ? "train" : split === "test" ? "t10k" : undefined;
  if (!prefix) throw new Error(`loadFashionMnist: split must be "train" or "test"`);
  const imgPath = join(dir, `${prefix}-images-idx3-ubyte.gz`);
  const labPath = join(dir, `${prefix}-labels-idx1-ubyte.gz`);
  for (const p of [imgPath, labPath]) {
    if (!existsSync(p)) {
      throw new Error(
        `Fashion-MNIST not found (${p} is missing); install it with: ${FASHION_INSTALL}`,
      );
    }
  }
  const images = readIdxFile(imgPath, IDX_IMAGES_MAGIC);
  const labels = readIdxFile(labPath, IDX_LABELS_MAGIC);
  return idxToDataset(images, labels, `Fashion-MNIST ${split}`);
}

/** The first `perClass` images of each class (dataset order): a tiny concept set. */
export function fashionConcept(set: FashionSet, label: number, perClass: number): Float32Array {
  const px = set.images.length / set.n;
  const out = new Float32Array(perClass * px);
  let k = 0;
  for (let i = 0; i < set.n && k < perClass; i++) {
    if (set.labels[i] !== label) continue;
    out.set(set.images.subarray(i * px, (i + 1) * px), k * px);
    k++;
  }
  if (k < perClass) throw new Error(`fashionConcept: class ${label} has only ${k} images`);
  return out;
}
