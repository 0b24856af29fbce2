// The model of a continual run at one of its snapshots: the program rebuilt from the
// snapshot's recorded file and settings (its `denoise` step only, sized for n prompted + n
// unconditional rows), the frozen weights loaded from the base checkpoint exactly as the
// run's `load(...)` did (EMA copies preferred), and each snapshot's learned tensors laid
// over them. Sampling is DDIM with classifier-free guidance (runtime/sampler.ts).
import { resolve } from "node:path";
import { compile, findProgram, load, type Compiled } from "../../compiler/compile.ts";
import { MAX_TOKENS } from "../../data/emoji-text.ts";
import { Tokenizer } from "../../data/tokenizer.ts";
import { locateProgramFile, settingText } from "../checkpoint-model.ts";
import { modelHash } from "../checkpoint.ts";

import type { Device } from "../device.ts";
import { sample, toUnitImages } from "../sampler.ts";
import { Session } from "../session.ts";
import type { Snapshot } from "./snapshot.ts";

const STEP = "denoise";
const BATCH_SETTING = "sample_batch";

/** A problem with the run directory or its snapshots (reported as one line, exit 1). */
export class EvalInputError extends Error {}

export interface SampleSettings {
  steps: number;
  guidance: number;
  seed: number;
}

export class SnapshotModel {
  private constructor(
    private readonly session: Session,
    private readonly tokenizer: Tokenizer,
    readonly n: number,
    readonly channels: number,
    readonly size: number,
    /** Values of the base model's trained parameters (what `load` read). */
    readonly baseValues: number,
    /** The snapshot's tensors as they are before any snapshot is laid over the base. */
    private readonly before: Map<string, Float32Array>,
    private readonly adapterPrefixes: string[],
  ) {}

  /** The base's value of a tensor a snapshot replaces (zeros for tensors the base lacks). */
  baseTensor(name: string): Float32Array | undefined {
    return this.before.get(name);
  }

  /** True for an adapter's trained factors (`<adapter>.a.*`, `<adapter>.b.*`). */
  isAdapterFactor(name: string): boolean {
    return this.adapterPrefixes.some((p) => name.startsWith(p));
  }

  /** True for an adapter's state: its past sums, kept factors and merge count. */
  isAdapterState(name: string): boolean {
    const info = this.session.compiled.program.registry.params.get(name);
    return (
      !!info?.state &&
      this.session.compiled.program.adapters.some((a) => name.startsWith(`${a.name}.`))
    );
  }

  /** Rebuilds the run's model with room for `n` samples per denoise call. */
  static async open(
    gpu: Device,
    snap: Snapshot,
    basePath: string,
    n: number,
  ): Promise<SnapshotModel> {
    const { meta, path: snapshotFile } = snap;
    const entry = locateProgramFile(snapshotFile, meta.entry);
    if (!entry)
      throw new EvalInputError(
        `${snapshotFile} was trained from ${meta.entry}, which is not found from ${process.cwd()}; run cldc eval where training ran`,
      );
    const decl = findProgram(load(entry), meta.program);
    if (!decl.params.some((p) => p.name.name === BATCH_SETTING))
      throw new EvalInputError(
        `program ${meta.program} (${entry}) has no '${BATCH_SETTING}' setting, so it cannot sample`,
      );
    const settings = new Map<string, string>();
    for (const [k, v] of Object.entries(meta.settings)) {
      if (v === null || v === undefined) continue;
      const p = decl.params.find((q) => q.name.name === k);
      if (!p)
        throw new EvalInputError(
          `${snapshotFile} was trained with setting '${k}', which ${meta.program} (${entry}) no longer has`,
        );
      settings.set(k, settingText(p, v));
    }
    settings.set(BATCH_SETTING, String(2 * n));
    const c = compile(entry, settings, gpu.target, meta.program);
    const step = c.steps.get(STEP);
    if (!step) throw new EvalInputError(`program ${meta.program} (${entry}) has no '${STEP}' step`);
    const shapes = new Map<string, number[]>();
    for (const [name, info] of c.program.registry.params) shapes.set(name, info.type.shape);
    // A snapshot written before an adapter gained state it lacks (lora's kept factors) still
    // matches once that state is left out: the state feeds merges, never the denoise step,
    // and the hash only matches if everything else is exactly the old model.
    const withoutAbsentState = new Map(
      [...shapes].filter(([name]) => {
        const info = c.program.registry.params.get(name)!;
        const adapterState =
          info.state && c.program.adapters.some((a) => name.startsWith(`${a.name}.`));
        return !adapterState || snap.tensors.has(name);
      }),
    );
    if (modelHash(shapes) !== meta.modelHash && modelHash(withoutAbsentState) !== meta.modelHash)
      throw new EvalInputError(
        `${entry} no longer builds the model ${snapshotFile} was trained with (its parameters changed)`,
      );
    const x = step.plan.buffers.find((b) => b.kind === "input" && b.name === "x");
    if (!x || x.shape.length !== 4 || x.shape[0] !== 2 * n || x.shape[2] !== x.shape[3])
      throw new EvalInputError(
        `program ${meta.program}: step ${STEP} must take x: [${BATCH_SETTING}, C, S, S]`,
      );
    const only: Compiled = { ...c, steps: new Map([[STEP, step]]) };
    const session = new Session(gpu, only, {
      runDir: resolve("."),
      seed: 0,
      checkpointSeconds: 0,
      log: () => {},
      resume: false,
    });
    await gpu.checkErrors();
    try {
      session.loadWeights(basePath); // as the run's load(...) did: EMA copies preferred
    } catch (e) {
      throw new EvalInputError((e as Error).message);
    }
    const before = new Map<string, Float32Array>();
    for (const name of snap.tensors.keys()) {
      if (!c.program.registry.params.has(name))
        throw new EvalInputError(`${snap.path} has tensor ${name}, which the model does not`);
      before.set(name, await session.store.read(name));
    }
    let baseValues = 0;
    for (const [, info] of c.program.registry.params)
      if (!info.state) baseValues += info.type.shape.reduce((a, b) => a * b, 1);
    return new SnapshotModel(
      session,
      Tokenizer.fromJSON(meta.vocab),
      n,
      x.shape[1],
      x.shape[2],
      baseValues,
      before,
      c.program.adapters.flatMap((a) => [`${a.name}.a.`, `${a.name}.b.`]),
    );
  }

  /** Back to the base weights alone (every tensor a snapshot replaces, as `load` left it). */
  useBase(): void {
    for (const [name, data] of this.before) this.session.store.set(name, data);
  }

  /** Lays a snapshot's learned tensors over the base weights. */
  use(snap: Snapshot): void {
    for (const [name, data] of snap.tensors) this.session.store.set(name, data);
  }

  /**
   * The model's noise prediction for `rows` noised images (xt: [rows, C, S, S], t: [rows]),
   * all prompted with `prompt`: one denoise call per 2n rows, the last one padded.
   */
  async predictNoise(
    prompt: string,
    xt: Float32Array,
    t: Float32Array,
    rows: number,
  ): Promise<Float32Array> {
    const per = this.channels * this.size * this.size;
    if (xt.length !== rows * per || t.length !== rows)
      throw new Error(`predictNoise: ${rows} rows of ${per} values expected`);
    const batch = 2 * this.n;
    const cond = this.tokenizer.encode(prompt, MAX_TOKENS);
    const tokens = new Int32Array(batch * MAX_TOKENS);
    for (let r = 0; r < batch; r++) tokens.set(cond, r * MAX_TOKENS);
    const out = new Float32Array(rows * per);
    for (let off = 0; off < rows; off += batch) {
      const m = Math.min(batch, rows - off);
      const x = new Float32Array(batch * per);
      x.set(xt.subarray(off * per, (off + m) * per));
      const times = new Float32Array(batch).fill(0.5);
      times.set(t.subarray(off, off + m));
      const feeds = new Map<string, Float32Array | Int32Array>([
        ["x", x],
        ["t", times],
        ["tokens", tokens],
      ]);
      const eps = (await this.session.invoke(STEP, feeds)).get("return")!;
      out.set(eps.subarray(0, m * per), off * per);
    }
    return out;
  }

  /** n samples of one prompt (RGB CHW in [0, 1]); the same seed gives the same start noise. */
  async generate(prompt: string, opts: SampleSettings): Promise<Float32Array[]> {
    const n = this.n;
    const per = this.channels * this.size * this.size;
    const half = n * per;
    const x = new Float32Array(2 * half);
    const t = new Float32Array(2 * n);
    const tokens = new Int32Array(2 * n * MAX_TOKENS);
    const cond = this.tokenizer.encode(prompt, MAX_TOKENS);
    const uncond = this.tokenizer.encode("", MAX_TOKENS);
    for (let r = 0; r < n; r++) {
      tokens.set(cond, r * MAX_TOKENS);
      tokens.set(uncond, (n + r) * MAX_TOKENS);
    }
    const feeds = new Map<string, Float32Array | Int32Array>([
      ["x", x],
      ["t", t],
      ["tokens", tokens],
    ]);
    const x0 = await sample(
      { size: half, steps: opts.steps, guidance: opts.guidance, seed: opts.seed, sampler: "ddim" },
      async (xs, time) => {
        for (let i = 0; i < half; i++) x[i] = x[half + i] = xs[i];
        t.fill(time);
        const eps = (await this.session.invoke(STEP, feeds)).get("return")!;
        for (let i = 0; i < eps.length; i++)
          if (!Number.isFinite(eps[i]))
            throw new Error(`the model's noise prediction is ${eps[i]} at t = ${time.toFixed(3)}`);
        return { cond: eps.subarray(0, half), uncond: eps.subarray(half) };
      },
    );
    const imgs = toUnitImages(x0, n);
    if (this.channels === 3) return imgs;
    return imgs.map((g) => {
      const rgb = new Float32Array(g.length * 3);
      for (let k = 0; k < 3; k++) rgb.set(g, k * g.length);
      return rgb;
    });
  }
}
