// Adapters (LoRA and C-LoRA): `adapter kv = lora(unet, rank: 4)` gives every `adaptable`
// parameter W of the model three companions — A [in, r] (random), B [r, out] (zeros) and a
// frozen `past` [in, out] — and calls of the model then see W + past + A·B. The program
// reaches them as `kv.slots` (records with w, a, b, past) to write losses such as
// C-LoRA's forget term, trains them with `minimize ... over [kv]`, and folds A·B into
// `past` between tasks with the run command `merge(kv)`. With `keep: N` the adapter also
// keeps every merged task's own A and B (state `kept_a` [N, in, r], `kept_b` [N, r, out],
// and the count `merged` [1]), so a checkpoint holds all the factors, not only their sum.
import type { Node } from "../../grammar/ast.ts";
import type { Graph } from "../ir.ts";
import type { ParamInfo, ParamRegistry } from "./params.ts";
import { fail } from "./values.ts";

export interface AdapterSpec {
  name: string;
  /** Parameter path prefix of the adapted model, e.g. "unet.". */
  prefix: string;
  rank: number;
  /** Standard deviation of A's initialization. */
  std: number;
  /** How many merged tasks' factors to keep (0: only their sum, `past`). */
  keep: number;
  at: Node;
}

export interface AdapterSlot {
  /** The adapted parameter's name. */
  name: string;
  w: number;
  a: number;
  b: number;
  past: number;
}

export const adapterNames = (ad: { name: string }, param: string) => ({
  a: `${ad.name}.a.${param}`,
  b: `${ad.name}.b.${param}`,
  past: `${ad.name}.past.${param}`,
  keptA: `${ad.name}.kept_a.${param}`,
  keptB: `${ad.name}.kept_b.${param}`,
});

/** The adapter's count of merges so far (state, present when it keeps factors). */
export const mergedName = (adapter: string) => `${adapter}.merged`;

/**
 * Called when an `adaptable param` is created: returns the effective weight and records
 * the slot, or null when no adapter covers this parameter.
 */
export function adaptParam(
  g: Graph,
  registry: ParamRegistry,
  adapters: AdapterSpec[],
  slots: Map<string, AdapterSlot[]>,
  info: ParamInfo,
  w: number,
): number | null {
  let value: number | null = null;
  for (const ad of adapters) {
    if (!info.name.startsWith(ad.prefix)) continue;
    const shape = info.type.shape;
    if (shape.length !== 2)
      return fail(
        `adapter ${ad.name}: '${info.name}' is [${shape.join(", ")}]; low-rank adapters need a matrix`,
        info.loc ? ({ range: info.loc } as Node) : ad.at,
      );
    const [E, D] = shape;
    if (ad.rank > Math.min(E, D)) {
      return fail(
        `adapter ${ad.name}: rank ${ad.rank} is larger than the layer '${info.name}' [${E}, ${D}] allows (at most ${Math.min(E, D)})`,
        ad.at,
      );
    }
    const names = adapterNames(ad, info.name);
    const declare = (name: string, s: number[], init: ParamInfo["init"], state: boolean) =>
      registry.declare({
        name,
        type: { dtype: "f32", shape: s },
        init,
        adaptable: false,
        state,
        loc: info.loc,
      });
    const decl = (name: string, s: number[], init: ParamInfo["init"], state: boolean) =>
      registry.node(g, declare(name, s, init, state));
    if (ad.keep > 0) {
      // Written by merge(kv) only (runtime/session.ts); no step reads them.
      declare(names.keptA, [ad.keep, E, ad.rank], { kind: "zeros" }, true);
      declare(names.keptB, [ad.keep, ad.rank, D], { kind: "zeros" }, true);
      declare(mergedName(ad.name), [1], { kind: "zeros" }, true);
    }
    const a = decl(names.a, [E, ad.rank], { kind: "normal", std: ad.std }, false);
    const b = decl(names.b, [ad.rank, D], { kind: "zeros" }, false);
    const past = decl(names.past, [E, D], { kind: "zeros" }, true);
    const list = slots.get(ad.name) ?? [];
    if (!list.some((x) => x.name === info.name)) list.push({ name: info.name, w, a, b, past });
    slots.set(ad.name, list);
    const saved = g.loc;
    g.loc = info.loc;
    value = g.add(g.add(value ?? w, past), g.op("matmul", [a, b]));
    g.loc = saved;
  }
  return value;
}
