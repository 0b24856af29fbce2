// Host-side loaders for the data sources a program declares. Each produces batches whose
// fields match the compile-time schema (compiler/elab/datasources.ts).
import type { DataSpec } from "../compiler/elab/program.ts";
import { BatchSource, type BatchState } from "../data/batches.ts";
import { loadFashionMnist } from "../data/fashion.ts";
import { mnistSplit } from "../data/mnist.ts";
import type { HostTensor } from "./executor.ts";

export interface HostBatch {
  fields: Map<string, HostTensor>;
  /** Real items in the batch (an evaluation epoch's last batch may be padded). */
  count: number;
}

export interface DataRuntime {
  next(): HostBatch;
  epoch(): Generator<HostBatch>;
  state(): BatchState;
  restore(s: BatchState): void;
  size: number;
}

export function openData(spec: DataSpec): DataRuntime {
  const batch = spec.args.batch as number;
  let images: Float32Array;
  let labels: Int32Array;
  let n: number;
  if (spec.source === "mnist") {
    ({ images, labels, n } = mnistSplit(spec.args.split as "train" | "test"));
  } else if (spec.source === "fashion_mnist") {
    ({ images, labels, n } = loadFashionMnist(spec.args.split as "train" | "test"));
  } else {
    throw new Error(`no loader for data source '${spec.source}'`);
  }
  const src = new BatchSource({
    n,
    fields: { x: { data: images, shape: [1, 28, 28] }, y: { data: labels, shape: [] } },
    batch,
    shuffle: spec.args.shuffle as boolean,
    seed: spec.args.seed as number,
  });
  const wrap = (b: { x: Float32Array; y: Int32Array; count: number }): HostBatch => ({
    fields: new Map<string, HostTensor>([
      ["x", b.x],
      ["y", b.y],
    ]),
    count: b.count,
  });
  return {
    next: () => wrap(src.next()),
    *epoch() {
      for (const b of src.epoch({ pad: true })) yield wrap(b);
    },
    state: () => src.state(),
    restore: (s) => src.restore(s),
    size: n,
  };
}
