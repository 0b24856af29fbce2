// safetensors: u64 LE header length N, N bytes of JSON header
//   {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}
// then the raw little-endian data; offsets are relative to the end of the header.
// It is the format of real SD checkpoints, so reading is strict (every malformed case is
// a one-line SafetensorsError naming the file) and works tensor by tensor through a file
// descriptor, so multi-GB files are never read whole. Writing is atomic (temp + fsync +
// rename) so a crash mid-save never leaves a torn checkpoint.

import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { writeFileAtomic } from "./atomic.ts";
import { bf16BitsToF32, f16ArrayToF32, f32ArrayToF16 } from "./float16.ts";

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsError";
  }
}

/** Every dtype of the safetensors spec, with its element size in bytes. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};
const INT_READ = new Set(["BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64"]);
const MAX_HEADER = 100_000_000; // the reference implementation's limit

export type WriteDType = "F32" | "F16" | "I32";

export interface TensorIn {
  data: Float32Array | Int32Array;
  shape: readonly number[];
  /** Per-tensor override of the file-wide float dtype. */
  dtype?: WriteDType;
}

export interface TensorOut {
  /** dtype as stored in the file (F16/BF16/F64 are widened to Float32Array). */
  dtype: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  entries: Map<string, HeaderEntry>;
  metadata: Record<string, string>;
  /** Absolute file offset where the data section starts. */
  dataStart: number;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Write tensors (sorted by alignment then name, so F32 data stays 4-byte aligned). */
export function writeSafetensors(
  path: string,
  tensors: Map<string, TensorIn> | Record<string, TensorIn>,
  metadata: Record<string, string> = {},
  opts: { dtype?: "F32" | "F16" } = {},
): void {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const items = list.map(([name, t]) => {
    if (name === "__metadata__")
      throw new SafetensorsError(`${path}: "__metadata__" is not a valid tensor name`);
    const isInt = t.data instanceof Int32Array;
    const dtype: WriteDType = t.dtype ?? (isInt ? "I32" : (opts.dtype ?? "F32"));
    if (isInt !== (dtype === "I32")) {
      throw new SafetensorsError(
        `${path}: tensor ${name} has ${t.data.constructor.name} data but dtype ${dtype}`,
      );
    }
    if (
      !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      numel(t.shape) !== t.data.length
    ) {
      throw new SafetensorsError(
        `${path}: tensor ${name} has ${t.data.length} values, shape [${t.shape.join(", ")}]`,
      );
    }
    const bytes =
      dtype === "F16"
        ? new Uint8Array(f32ArrayToF16(t.data as Float32Array).buffer)
        : new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    return { name, dtype, shape: [...t.shape], bytes };
  });
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string")
      throw new SafetensorsError(`${path}: metadata ${k} must be a string`);
  }
  items.sort(
    (a, b) =>
      DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const it of items) {
    header[it.name] = {
      dtype: it.dtype,
      shape: it.shape,
      data_offsets: [off, off + it.bytes.length],
    };
    off += it.bytes.length;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned (as the reference writer does).
  const enc = new TextEncoder();
  const rawLen = enc.encode(json).length;
  json += " ".repeat((8 - ((8 + rawLen) % 8)) % 8);
  const headerBytes = enc.encode(json);
  const lenBytes = new Uint8Array(8);
  new DataView(lenBytes.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  writeFileAtomic(path, [lenBytes, headerBytes, ...items.map((i) => i.bytes)]);
}

function readExact(fd: number, len: number, pos: number): Uint8Array {
  const buf = new Uint8Array(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

function parseHeader(path: string, fd: number): SafetensorsHeader {
  const size = fstatSync(fd).size;
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${path}: ${msg}`);
  };
  if (size < 8) fail(`file is ${size} bytes, too short for the 8-byte header length`);
  const lenView = new DataView(readExact(fd, 8, 0).buffer);
  // Compared as a bigint: a garbage u64 would lose digits as a Number.
  const rawLen = lenView.getBigUint64(0, true);
  if (rawLen > BigInt(size - 8))
    fail(`header length ${rawLen} is beyond the end of the ${size}-byte file`);
  const headerLen = Number(rawLen);
  if (headerLen > MAX_HEADER)
    fail(`header length ${headerLen} exceeds the ${MAX_HEADER}-byte limit`);
  let raw: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(readExact(fd, headerLen, 8));
    raw = JSON.parse(text);
  } catch (e) {
    fail(`invalid JSON header (${(e as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    fail(`header is not a JSON object`);
  const dataStart = 8 + headerLen;
  const dataLen = size - dataStart;
  const entries = new Map<string, HeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof v !== "object" || v === null || Array.isArray(v))
        fail(`__metadata__ is not an object`);
      for (const [k, s] of Object.entries(v as object)) {
        if (typeof s !== "string") fail(`__metadata__.${k} is not a string`);
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as Partial<HeaderEntry>;
    if (typeof e !== "object" || e === null) fail(`tensor ${name}: entry is not an object`);
    if (typeof e.dtype !== "string" || !(e.dtype in DTYPE_BYTES))
      fail(`tensor ${name}: unknown dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor ${name}: invalid shape ${JSON.stringify(e.shape)}`);
    }
    const off = e.data_offsets;
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      !off.every((x) => Number.isSafeInteger(x) && x >= 0) ||
      off[0] > off[1]
    ) {
      fail(`tensor ${name}: invalid data_offsets ${JSON.stringify(off)}`);
    }
    const want = numel(e.shape!) * DTYPE_BYTES[e.dtype!];
    if (off![1] - off![0] !== want) {
      fail(
        `tensor ${name}: data_offsets [${off}] span ${off![1] - off![0]} bytes, but ${e.dtype}[${e.shape}] needs ${want}`,
      );
    }
    if (off![1] > dataLen) {
      fail(
        `truncated file: tensor ${name} ends at data byte ${off![1]}, but the data section has ${dataLen} bytes`,
      );
    }
    entries.set(name, { dtype: e.dtype!, shape: e.shape!, data_offsets: [off![0], off![1]] });
  }
  // Tensors must tile the data section exactly: no overlaps, holes or trailing bytes.
  const sorted = [...entries].sort(
    (a, b) =>
      a[1].data_offsets[0] - b[1].data_offsets[0] || a[1].data_offsets[1] - b[1].data_offsets[1],
  );
  let end = 0;
  let prev = "";
  for (const [name, e] of sorted) {
    const [b, f] = e.data_offsets;
    if (b < end) fail(`tensors ${prev} and ${name} overlap (byte ${b} < ${end})`);
    if (b > end)
      fail(`gap in data section: bytes ${end}..${b} belong to no tensor (before ${name})`);
    end = f;
    prev = name;
  }
  if (end !== dataLen) fail(`data section has ${dataLen} bytes, but tensors cover only ${end}`);
  return { entries, metadata, dataStart };
}

/** Header only (names, dtypes, shapes, metadata), without reading tensor data. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openFile(path);
  try {
    return parseHeader(path, fd);
  } finally {
    closeSync(fd);
  }
}

function openFile(path: string): number {
  try {
    return openSync(path, "r");
  } catch (e) {
    throw new SafetensorsError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
}

function decode(
  path: string,
  name: string,
  e: HeaderEntry,
  bytes: Uint8Array,
): Float32Array | Int32Array {
  const n = numel(e.shape);
  // Copy into a fresh, aligned buffer so typed views are valid whatever the file offset.
  const buf = bytes.slice().buffer;
  const dv = new DataView(buf);
  switch (e.dtype) {
    case "F32":
      return new Float32Array(buf, 0, n);
    case "F16":
      return f16ArrayToF32(new Uint16Array(buf, 0, n));
    case "BF16":
      return Float32Array.from(new Uint16Array(buf, 0, n), bf16BitsToF32);
    case "F64":
      return Float32Array.from(new Float64Array(buf, 0, n));
    case "I32":
      return new Int32Array(buf, 0, n);
  }
  if (!INT_READ.has(e.dtype)) {
    throw new SafetensorsError(
      `${path}: tensor ${name}: dtype ${e.dtype} is not supported for reading`,
    );
  }
  const out = new Int32Array(n);
  const size = DTYPE_BYTES[e.dtype];
  for (let i = 0; i < n; i++) {
    const o = i * size;
    let v: number;
    if (e.dtype === "I64" || e.dtype === "U64") {
      const big = e.dtype === "I64" ? dv.getBigInt64(o, true) : dv.getBigUint64(o, true);
      if (big > 2147483647n || big < -2147483648n) {
        throw new SafetensorsError(
          `${path}: tensor ${name}: ${e.dtype} value ${big} at index ${i} does not fit int32`,
        );
      }
      v = Number(big);
    } else if (e.dtype === "U32") {
      v = dv.getUint32(o, true);
      if (v > 2147483647)
        throw new SafetensorsError(`${path}: tensor ${name}: U32 value ${v} does not fit int32`);
    } else if (e.dtype === "I16") v = dv.getInt16(o, true);
    else if (e.dtype === "U16") v = dv.getUint16(o, true);
    else if (e.dtype === "I8") v = dv.getInt8(o);
    else v = dv.getUint8(o); // U8, BOOL
    out[i] = v;
  }
  return out;
}

/** Read and validate a file; `names` limits which tensors are decoded (all are validated). */
export function readSafetensors(
  path: string,
  opts: { names?: readonly string[] } = {},
): { tensors: Map<string, TensorOut>; metadata: Record<string, string> } {
  const fd = openFile(path);
  try {
    const h = parseHeader(path, fd);
    const want = opts.names ?? [...h.entries.keys()];
    const tensors = new Map<string, TensorOut>();
    for (const name of want) {
      const e = h.entries.get(name);
      if (!e) throw new SafetensorsError(`${path}: no tensor named ${name}`);
      const [b, f] = e.data_offsets;
      const bytes = readExact(fd, f - b, h.dataStart + b);
      if (bytes.length !== f - b)
        throw new SafetensorsError(`${path}: truncated file while reading tensor ${name}`);
      tensors.set(name, {
        dtype: e.dtype,
        shape: [...e.shape],
        data: decode(path, name, e, bytes),
      });
    }
    return { tensors, metadata: { ...h.metadata } };
  } finally {
    closeSync(fd);
  }
}
