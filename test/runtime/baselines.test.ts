// The C-LoRA benchmark's baselines (examples/{lora_seq,textual_inversion,custom_diffusion,
// offline,ewc}.cld), each run for two short tasks on a tiny base model. For each: exactly
// which base parameters moved (compared with the base checkpoint), which token rows moved,
// per-task snapshots, and that the denoising error on the newest concept — measured on
// the host with fixed noise, independently of the logged training loss — fell.
import { beforeAll, describe, expect, it } from "vitest";
import { check } from "../../compiler/compile.ts";
import { emojiTokenizer } from "../../data/emoji-text.ts";
import { Rng } from "../../data/rng.ts";
import { loadCheckpoint } from "../../runtime/checkpoint.ts";
import { readSnapshot } from "../../runtime/eval/snapshot.ts";
import type { Session } from "../../runtime/session.ts";
import { openData } from "../../runtime/data-sources.ts";
import { useGpu } from "../gpu-fixture.ts";
import { removeRunDirs, runDir, session, train } from "./helpers.ts";

const D = 16; // text_dim
const EVAL = 4; // sample_batch: images in the fixed-noise evaluation
const tok = emojiTokenizer();
const v1 = tok.tokenize("<v1>")[0];
const v2 = tok.tokenize("<v2>")[0];

const gpu = useGpu(removeRunDirs);
let basePath: string;
let base: Map<string, Float32Array | Int32Array>;

beforeAll(async () => {
  const dir = runDir();
  await train(gpu(), "test/fixtures/sample/pretrain-init.cld", {}, { runDir: dir });
  basePath = `${dir}/checkpoint.safetensors`;
  base = loadCheckpoint(basePath)!.tensors;
});

/** The value `load(base)` gives a parameter: the base's EMA copy when it has one. */
const baseValue = (name: string) => base.get(`opt.ema.${name}`) ?? base.get(name);

/**
 * Host-side denoising error of concept `t` under its own prompt, at fixed diffusion times
 * and fixed noise: mean (denoise(x_t) - noise)², the same ε-loss the programs train.
 */
async function denoiseError(s: Session, concept: number): Promise<number> {
  const spec = s.compiled.program.data.get("seq")!;
  const data = openData(spec); // a separate reader: the session's data position stays put
  data.select!(concept);
  const per = 3 * 16 * 16;
  const x = new Float32Array(EVAL * per);
  const tokens = new Int32Array(EVAL * 10);
  let k = 0;
  for (const b of data.epoch()) {
    for (let i = 0; i < b.count && k < EVAL; i++, k++) {
      x.set((b.fields.get("x") as Float32Array).subarray(i * per, (i + 1) * per), k * per);
      tokens.set((b.fields.get("tokens") as Int32Array).subarray(i * 10, (i + 1) * 10), k * 10);
    }
    if (k === EVAL) break;
  }
  const rng = new Rng(7);
  const noise = Float32Array.from({ length: x.length }, () => rng.normal());
  const t = Float32Array.from({ length: EVAL }, (_, i) => 0.15 + (0.7 * i) / (EVAL - 1));
  const xt = new Float32Array(x.length);
  for (let i = 0; i < EVAL; i++) {
    const abar = Math.cos((t[i] * 0.98 + 0.01) * 1.5707963) ** 2;
    for (let j = i * per; j < (i + 1) * per; j++)
      xt[j] = Math.sqrt(abar) * x[j] + Math.sqrt(1 - abar) * noise[j];
  }
  const out = await s.invoke(
    "denoise",
    new Map<string, Float32Array | Int32Array>([
      ["x", xt],
      ["t", t],
      ["tokens", tokens],
    ]),
  );
  const eps = out.get("return") as Float32Array;
  let sq = 0;
  for (let j = 0; j < eps.length; j++) sq += (eps[j] - noise[j]) ** 2;
  return sq / eps.length;
}

interface Result {
  after: Map<string, Float32Array | Int32Array>;
  logs: Map<string, number>[];
  lines: string[];
  /** Base parameters whose values changed. */
  changed: string[];
  /** Rows of text.tok that changed, in the end and in the snapshot after task 0. */
  rows: number[];
  rowsAfterTask0: number[];
  errorBefore: number;
  errorAfter: number;
  adaptable: string[];
}

const differs = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  a.length !== b.length || Array.from(a).some((v, i) => v !== b[i]);

function changedRows(now: ArrayLike<number>): number[] {
  const before = baseValue("text.tok")!;
  const out: number[] = [];
  for (let r = 0; r < before.length / D; r++)
    for (let c = 0; c < D; c++)
      if (now[r * D + c] !== before[r * D + c]) {
        out.push(r);
        break;
      }
  return out;
}

async function runBaseline(file: string, extra: Record<string, string> = {}): Promise<Result> {
  const dir = runDir();
  const t = session(
    gpu(),
    `examples/${file}.cld`,
    {
      base: basePath,
      ch: "8",
      text_dim: String(D),
      size: "16",
      tasks: "2",
      steps: "4",
      batch: "2",
      lr: "0.01",
      names: "octopus,snail",
      sample_batch: String(EVAL),
      ...extra,
    },
    { runDir: dir },
  );
  const s = t.session;
  await s.start();
  s.loadWeights(basePath); // what the run block's load(base) does first
  const errorBefore = await denoiseError(s, 1);
  await s.run();
  const errorAfter = await denoiseError(s, 1);
  const after = await s.store.readAll();
  const infos = s.compiled.program.registry.params;
  const changed = [...infos.keys()]
    .filter((n) => !infos.get(n)!.state && baseValue(n) !== undefined)
    .filter((n) => differs(after.get(n)!, baseValue(n)!))
    .sort();
  const snap = readSnapshot(`${dir}/after_task_0.safetensors`);
  expect(snap.meta.index).toBe(0);
  return {
    after,
    logs: t.logs,
    lines: t.lines,
    changed,
    rows: changedRows(after.get("text.tok")!),
    rowsAfterTask0: changedRows(snap.tensors.get("text.tok")!),
    errorBefore,
    errorAfter,
    adaptable: [...infos.values()]
      .filter((i) => i.adaptable)
      .map((i) => i.name)
      .sort(),
  };
}

function expectLearned(r: Result) {
  expect(r.lines.filter((l) => l.startsWith("snapshot written:"))).toHaveLength(2);
  expect(r.logs.every((l) => Number.isFinite(l.get("diffusion")!))).toBe(true);
  expect(r.errorAfter).toBeLessThan(r.errorBefore);
}

describe("baselines of the C-LoRA benchmark", () => {
  it("textual inversion trains only the new tokens' rows", async () => {
    const r = await runBaseline("textual_inversion");
    expect(r.changed).toEqual(["text.tok"]);
    expect(r.rowsAfterTask0).toEqual([v1]);
    expect(r.rows).toEqual([v1, v2].sort((a, b) => a - b));
    expectLearned(r);
  });

  it("LoRA sequential keeps the base weights and merges each task into the past sum", async () => {
    const r = await runBaseline("lora_seq");
    expect(r.changed).toEqual(["text.tok"]);
    expect(r.rowsAfterTask0).toEqual([v1]);
    expect(r.rows).toEqual([v1, v2].sort((a, b) => a - b));
    expect(r.adaptable.length).toBeGreaterThan(0);
    for (const w of r.adaptable) {
      expect(
        r.after.get(`kv.past.${w}`)!.some((v) => v !== 0),
        w,
      ).toBe(true);
      expect(
        r.after.get(`kv.b.${w}`)!.every((v) => v === 0),
        w,
      ).toBe(true); // merged
    }
    expectLearned(r);
  });

  it("custom diffusion changes exactly the cross-attention K and V and the token rows", async () => {
    const r = await runBaseline("custom_diffusion");
    expect(r.adaptable.every((n) => /\.s_1\.w[kv]$/.test(n))).toBe(true);
    expect(r.adaptable.length).toBeGreaterThanOrEqual(4);
    expect(r.changed).toEqual([...r.adaptable, "text.tok"].sort());
    expect(r.rowsAfterTask0).toEqual([v1]);
    expect(r.rows).toEqual([v1, v2].sort((a, b) => a - b));
    expectLearned(r);
  });

  it("offline trains every concept's token from the first phase on", async () => {
    const r = await runBaseline("offline");
    expect(r.changed).toEqual(["text.tok"]);
    // Both tokens moved already in phase 0 (a sequential run moves only <v1> there).
    expect(r.rowsAfterTask0).toEqual([v1, v2].sort((a, b) => a - b));
    expect(r.rows).toEqual([v1, v2].sort((a, b) => a - b));
    expectLearned(r);
  });

  it("EWC: penalty from the second task on, Fisher and anchor from consolidation", async () => {
    const r = await runBaseline("ewc", { fisher_steps: "2" });
    expect(r.changed).toEqual([...r.adaptable, "text.tok"].sort());
    expect(r.rows).toEqual([v1, v2].sort((a, b) => a - b));
    // learn ×4, consolidate ×2, per task.
    const learn = r.logs.filter((l) => l.has("penalty")).map((l) => l.get("penalty")!);
    expect(learn).toHaveLength(8);
    expect(learn.slice(0, 4)).toEqual([0, 0, 0, 0]); // no Fisher yet
    expect(learn[4]).toBe(0); // the weights are still the anchor
    expect(learn.slice(5).every((p) => p > 0)).toBe(true);
    expect(r.logs.filter((l) => !l.has("penalty"))).toHaveLength(4);
    for (const w of r.adaptable) {
      const f = r.after.get(`fisher.${w}`)!;
      expect(f.every((v) => v >= 0) && f.some((v) => v > 0), w).toBe(true);
      // The last consolidation took the final weights as the anchor.
      expect(r.after.get(`anchor.${w}`), w).toEqual(r.after.get(w));
    }
    expectLearned(r);
  });
});

describe("the baseline programs", () => {
  it("pass `cldc check` with their defaults", () => {
    for (const f of ["lora_seq", "textual_inversion", "custom_diffusion", "offline", "ewc"])
      expect(check(`examples/${f}.cld`, { subgroups: false }), f).toEqual([]);
  });
});

describe("concepts data: select(seq, a..b)", () => {
  it("mixes the concepts of the range, each image with its own token", () => {
    const spec = {
      name: "seq",
      source: "concepts",
      args: { names: "octopus,snail,koala", size: 16, batch: 4, seed: 0 },
      fields: {},
      member: null as never,
    };
    const d = openData(spec);
    const seen = (pick: number | [number, number]) => {
      d.select!(pick);
      const ids = new Set<number>();
      for (let i = 0; i < 20; i++) {
        const b = d.next();
        const c = b.fields.get("concept") as Int32Array;
        const tk = b.fields.get("tokens") as Int32Array;
        c.forEach((id, row) => {
          ids.add(id);
          // The prompt "a photo of <vK>" names the row's own concept token.
          expect([...tk.subarray(row * 10, row * 10 + 10)]).toContain(id);
        });
      }
      return [...ids].sort((a, b) => a - b);
    };
    const ids = [1, 2, 3].map((k) => tok.tokenize(`<v${k}>`)[0]).sort((a, b) => a - b);
    expect(seen(1)).toEqual([tok.tokenize("<v2>")[0]]);
    expect(seen([0, 2])).toEqual(ids.filter((i) => i !== tok.tokenize("<v3>")[0]));
    expect(seen([0, 3])).toEqual(ids);
    expect(() => d.select!([2, 4])).toThrow(/outside the concepts 0..3/);
    expect(() => d.select!([1, 1])).toThrow(/empty/);

    // A resumed run continues every stream where it was, the mixture included.
    d.select!(1);
    const saved = JSON.parse(JSON.stringify(d.state()));
    d.select!([0, 3]);
    const mixed = JSON.parse(JSON.stringify(d.state()));
    const next = (r: typeof d) => [...(r.next().fields.get("concept") as Int32Array)];
    const want = [next(d), next(d)];
    const again = openData(spec);
    again.restore(mixed);
    again.select!([0, 3]);
    expect([next(again), next(again)]).toEqual(want);
    again.restore(saved);
    expect(again.size).toBe(openDataSize(spec, 1));
  });
});

function openDataSize(spec: Parameters<typeof openData>[0], concept: number): number {
  const d = openData(spec);
  d.select!(concept);
  return d.size;
}
