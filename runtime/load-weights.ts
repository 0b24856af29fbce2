// `load(path)` in a run block: start from another run's model weights (e.g. the base model).
import type { ParamInfo } from "../compiler/elab/params.ts";
import { emaSources } from "./checkpoint-model.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import type { ParamStore } from "./params.ts";

/**
 * Loads model weights from another run's checkpoint into `store`: every tensor whose name is
 * a trainable parameter here, preferring EMA copies (`<opt>.ema.<name>`). Optimizer state is
 * not loaded. Returns how many tensors were loaded.
 */
export function loadWeights(
  store: ParamStore,
  infos: Map<string, ParamInfo>,
  path: string,
): number {
  const ck = loadCheckpoint(path);
  if (!ck) throw new Error(`load: no such checkpoint: ${path}`);
  const ema = emaSources(ck.tensors.keys(), infos);
  let loaded = 0;
  for (const [name, info] of infos) {
    if (info.state) continue;
    const data = ck.tensors.get(ema.get(name) ?? name);
    if (!data) continue;
    const want = info.type.shape.reduce((a, b) => a * b, 1);
    if (data.length !== want)
      throw new Error(
        `load: ${path}: '${name}' has ${data.length} values, this program's has ${want} ([${info.type.shape.join(", ")}])`,
      );
    store.set(name, data);
    loaded++;
  }
  if (loaded === 0)
    throw new Error(
      `load: ${path} has no tensor this program uses (is it a checkpoint of another model?)`,
    );
  return loaded;
}
