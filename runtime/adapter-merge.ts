// `merge(kv)`, C-LoRA's task boundary: past += A·B for every slot of the adapter (and, with
// `lora(..., keep: N)`, A and B copied into the next of N kept slots), then A starts again
// from a fresh random draw, B from zeros, and their optimizer moments from zeros.
import type { Expr } from "../grammar/ast.ts";
import { adapterNames, mergedName } from "../compiler/elab/adapters.ts";
import { momentOwner } from "../compiler/elab/optimizer.ts";
import type { CompiledProgram } from "../compiler/elab/program.ts";
import { fail } from "../compiler/elab/values.ts";
import { initialValue, type ParamStore } from "./params.ts";

export async function mergeAdapter(
  store: ParamStore,
  program: CompiledProgram,
  adapter: string,
  draw: number,
  at: Expr | null,
): Promise<void> {
  const infos = program.registry.params;
  const merged = infos.get(mergedName(adapter));
  const task = merged ? (await store.read(merged.name))[0] : 0;
  if (merged) {
    // Checked before anything changes, so the run stops with its state intact.
    const keep = program.adapters.find((a) => a.name === adapter)!.keep;
    if (task >= keep)
      fail(
        `merge(${adapter}): the adapter keeps the factors of ${keep} task${keep === 1 ? "" : "s"} (lora(..., keep: ${keep})) and this is merge ${task + 1}; give keep at least the number of tasks`,
        at,
      );
    store.set(merged.name, new Float32Array([task + 1]));
  }
  const restarted = new Set<string>();
  const prefix = `${adapter}.a.`;
  for (const [name, info] of infos) {
    if (!name.startsWith(prefix)) continue;
    const names = adapterNames({ name: adapter }, name.slice(prefix.length));
    const [a, b, past] = await Promise.all([
      store.read(name),
      store.read(names.b),
      store.read(names.past),
    ]);
    if (merged) {
      for (const [kept, value] of [
        [names.keptA, a],
        [names.keptB, b],
      ] as const) {
        const all = (await store.read(kept)).slice();
        all.set(value, task * value.length);
        store.set(kept, all);
      }
    }
    const [E, r] = info.type.shape;
    const D = past.length / E;
    const sum = new Float32Array(past.length);
    for (let i = 0; i < E; i++)
      for (let j = 0; j < D; j++) {
        let acc = past[i * D + j];
        for (let k = 0; k < r; k++) acc += a[i * r + k] * b[k * D + j];
        sum[i * D + j] = acc;
      }
    store.set(names.past, sum);
    store.set(name, initialValue(info, draw));
    store.set(names.b, new Float32Array(b.length));
    restarted.add(name).add(names.b);
  }
  // Their optimizer moments start again from zeros (EMA copies are not moments).
  for (const [other, oi] of infos) {
    const owner = oi.state ? momentOwner(other) : null;
    if (owner !== null && restarted.has(owner))
      store.set(other, new Float32Array(oi.type.shape.reduce((x, y) => x * y, 1)));
  }
}
