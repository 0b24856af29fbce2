// The run-time view of a labelled image source (x, y): MNIST, Fashion-MNIST and the
// eval's concept images share it.
import type { Batch, BatchSource, Field } from "../data/batches.ts";
import type { DataRuntime, HostBatch } from "./data-sources.ts";

type Labelled = { x: Field; y: Field };

export function labelledRuntime(src: BatchSource<Labelled>, size: number): DataRuntime {
  const wrap = (b: Batch<Labelled>): HostBatch => ({
    fields: new Map([
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
    size,
  };
}
