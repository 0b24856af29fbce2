// A training session: owns the device state of a compiled program and interprets its
// `run` block on the host. Every side effect of the run block (a step call, a checkpoint,
// an evaluation, a print) is an "event" with a sequence number; a resumed session skips
// the events its checkpoint already covers, so a killed run continues exactly.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Expr, Stmt } from "../grammar/ast.ts";
import type { Compiled } from "../compiler/compile.ts";
import { optimizerScalars } from "../compiler/elab/optimizer.ts";
import { didYouMean } from "../compiler/diagnostics.ts";
import { Env } from "../compiler/elab/elaborator.ts";
import { fail, type Value } from "../compiler/elab/values.ts";
import { hashU32 } from "../compiler/ops/source.ts";
import { openData, type DataRuntime } from "./data-sources.ts";
import { emaSources } from "./checkpoint-model.ts";
import {
  checkCheckpointTensors,
  loadCheckpoint,
  modelHash,
  saveCheckpoint,
  type HostState,
} from "./checkpoint.ts";
import { explainNonFinite } from "./debug-nans.ts";
import { StepExecutor, type HostTensor } from "./executor.ts";
import type { Gpu } from "./gpu.ts";
import { Progress } from "./io/progress.ts";
import { evalHostExpr } from "./host-expr.ts";
import { initialValue, nameHash, ParamStore } from "./params.ts";
import { requireArgs, requireFailed, RUN_COMMANDS } from "../compiler/elab/run-check.ts";
import { denoiseSignature, sampleSpec } from "../compiler/elab/sample-call.ts";
import { sampleGridPath, writeSampleGrid } from "./sample-grid.ts";
import { baseRecord, snapshotPath, snapshotTensorNames, writeSnapshot } from "./eval/snapshot.ts";

export interface SessionOptions {
  runDir: string;
  seed: number;
  /** Seconds between automatic checkpoints inside long loops (0: only explicit ones). */
  checkpointSeconds: number;
  /** Also checkpoint after every this many step calls (0 or absent: off). */
  checkpointSteps?: number;
  /** On a non-finite logged value, re-run the step kernel by kernel to name the culprit. */
  debugNans?: boolean;
  log: (line: string) => void;
  /** Continue from runDir/checkpoint.safetensors when it exists. */
  resume: boolean;
  /** Where the progress bar goes (default stdout); tests pass a sink. */
  progressStream?: { write(s: string): unknown; isTTY?: boolean };
  /** Called after every step the run block executes, with the step's logged scalars. */
  onStep?: (
    step: string,
    logs: Map<string, number>,
    at: { event: number; optimizerStep: number | null },
  ) => void;
  /** Called after every checkpoint is written (e.g. to redraw the loss curves). */
  onCheckpoint?: () => void;
}

class NonFiniteError extends Error {}
/** A checkpoint that cannot be resumed by this program or with these settings (bad input). */
export class ResumeError extends Error {}
/** The run stopped on request (SIGINT/SIGTERM) after a checkpoint of every finished step. */
export class StoppedError extends Error {}

export class Session {
  readonly store: ParamStore;
  readonly executors = new Map<string, StepExecutor>();
  readonly data = new Map<string, DataRuntime>();
  private events = 0;
  private resumeFrom = 0;
  private optimizerSteps: Record<string, number> = {};
  private lastCheckpoint = Date.now();
  private stepsSinceCheckpoint = 0;
  private stopRequested = false;
  private progress: Progress | null = null;
  private totalSteps = new Map<string, number>();
  readonly shapes = new Map<string, number[]>();
  private warnedPadding = new Set<string>();
  readonly results = new Map<string, number>();
  private lastLogs = new Map<string, number>();
  /**
   * What `load(...)` read, path and SHA-256 taken when it runs (on resume too: the path is
   * evaluated before skipping), for snapshots to name their base.
   */
  private baseCheckpoint: ReturnType<typeof baseRecord> = null;
  /** Start of the training a snapshot's `seconds` covers; reset at each snapshot. */
  private snapshotClock = Date.now();
  private resumedSinceSnapshot = false;

  constructor(
    readonly gpu: Gpu,
    readonly compiled: Compiled,
    readonly opts: SessionOptions,
  ) {
    const reg = compiled.program.registry;
    for (const [name, info] of reg.params) this.shapes.set(name, info.type.shape);
    this.store = new ParamStore(gpu, reg.params);
    for (const [name, step] of compiled.steps)
      this.executors.set(name, new StepExecutor(gpu, step.plan, this.store, name));
    if (opts.debugNans) for (const ex of this.executors.values()) ex.enableSnapshots();
  }

  /** The events the checkpoint we resumed from covers (0 for a fresh run). */
  get resumedEvents(): number {
    return this.resumeFrom;
  }

  get checkpointPath() {
    return join(this.opts.runDir, "checkpoint.safetensors");
  }

  async start(): Promise<"fresh" | "resumed"> {
    await this.gpu.checkErrors();
    mkdirSync(this.opts.runDir, { recursive: true });
    for (const [name, spec] of this.compiled.program.data) {
      const d = openData(spec);
      this.data.set(name, d);
      for (const line of d.notices ?? []) this.opts.log(line);
    }
    let ck: ReturnType<typeof loadCheckpoint> = null;
    try {
      ck = this.opts.resume ? loadCheckpoint(this.checkpointPath) : null;
    } catch (e) {
      // Not a torn write (saves are atomic) but a damaged or foreign file: say what to do.
      throw new ResumeError(
        `${(e as Error).message} (start over with --fresh, or use another --run-dir)`,
      );
    }
    if (!ck) {
      this.store.initialize(this.opts.seed);
      return "fresh";
    }
    const hash = modelHash(this.shapes);
    if (ck.state.modelHash !== hash || ck.state.program !== this.compiled.program.name) {
      throw new ResumeError(
        `${this.checkpointPath} belongs to another program or model (${ck.state.program}); use a new --run-dir or delete it`,
      );
    }
    const settings = this.settingsRecord();
    const changed = Object.keys({ ...ck.state.settings, ...settings })
      .filter((k) => JSON.stringify(ck.state.settings[k]) !== JSON.stringify(settings[k]))
      .map(
        (k) =>
          `${k} was ${JSON.stringify(ck.state.settings[k])}, now ${JSON.stringify(settings[k])}`,
      );
    if (changed.length) {
      throw new ResumeError(
        `${this.checkpointPath} was written with different settings (${changed.join("; ")}); resume with the same --set values, or start over with --fresh or a new --run-dir`,
      );
    }
    const mismatch = checkCheckpointTensors(this.checkpointPath, ck.tensors, this.shapes);
    if (mismatch) throw new ResumeError(mismatch);
    for (const [name, data] of ck.tensors) this.store.set(name, data);
    for (const [name, st] of Object.entries(ck.state.data)) this.data.get(name)?.restore(st);
    this.optimizerSteps = { ...ck.state.optimizerSteps };
    for (const [k, v] of Object.entries(ck.state.results ?? {})) this.results.set(k, v);
    this.resumeFrom = ck.state.events;
    this.resumedSinceSnapshot = true;
    return "resumed";
  }

  private settingsRecord(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of this.compiled.program.settings) out[k] = "value" in v ? v.value : null;
    return out;
  }

  /** Stop after the step in progress, with a checkpoint (then run() throws StoppedError). */
  requestStop(): void {
    this.stopRequested = true;
  }

  async checkpoint(): Promise<string> {
    const tensors = await this.store.readAll();
    const state: HostState = {
      program: this.compiled.program.name,
      settings: this.settingsRecord(),
      events: this.events,
      data: Object.fromEntries([...this.data].map(([k, d]) => [k, d.state()])),
      optimizerSteps: { ...this.optimizerSteps },
      results: Object.fromEntries(this.results),
      modelHash: modelHash(this.shapes),
      entry: this.compiled.loaded.entry,
    };
    saveCheckpoint(this.checkpointPath, tensors, this.shapes, state);
    this.lastCheckpoint = Date.now();
    this.stepsSinceCheckpoint = 0;
    this.opts.onCheckpoint?.();
    return this.checkpointPath;
  }

  /**
   * `checkpoint("after_task", t)`: writes the learned state (runtime/eval/snapshot.ts) to
   * RUN_DIR/after_task_<t>.safetensors, then the resume checkpoint, so a resumed run never
   * redoes (or loses) a snapshot.
   */
  async snapshot(label: string, index: number): Promise<string> {
    const names = snapshotTensorNames(this.compiled.program);
    const tensors = new Map<string, Float32Array | Int32Array>();
    for (const n of names) tensors.set(n, await this.store.read(n));
    const infos = this.compiled.program.registry.params;
    const path = snapshotPath(this.opts.runDir, label, index);
    writeSnapshot(path, tensors, this.shapes, {
      program: this.compiled.program.name,
      entry: this.compiled.loaded.entry,
      settings: this.settingsRecord(),
      modelHash: modelHash(this.shapes),
      label,
      index,
      base: this.baseCheckpoint,
      seconds: (Date.now() - this.snapshotClock) / 1000,
      resumed: this.resumedSinceSnapshot,
      trainedValues: names
        .filter((n) => !infos.get(n)!.state)
        .reduce((s, n) => s + tensors.get(n)!.length, 0),
    });
    this.snapshotClock = Date.now();
    this.resumedSinceSnapshot = false;
    await this.checkpoint();
    return path;
  }

  /** True when this event was already done before the checkpoint we resumed from. */
  private skip(): boolean {
    return this.events++ < this.resumeFrom;
  }

  async runStep(name: string, at: Expr): Promise<Map<string, number>> {
    const step = this.compiled.program.steps.get(name)!;
    const ex = this.executors.get(name)!;
    const feeds = new Map<string, HostTensor>();
    if (step.batch) {
      const b = this.data.get(step.batch.data)!.next();
      for (const [k, v] of b.fields) feeds.set(`${step.batch.param}.${k}`, v);
    }
    return this.execute(name, ex, feeds, at);
  }

  private async execute(
    name: string,
    ex: StepExecutor,
    feeds: Map<string, HostTensor>,
    _at: Expr,
  ): Promise<Map<string, number>> {
    const step = this.compiled.program.steps.get(name)!;
    if (ex.inputs.has("__seed"))
      feeds.set("__seed", Int32Array.of(hashU32((this.opts.seed * 7919 + this.events) >>> 0) | 0));
    const o = step.optimizer;
    if (o) {
      const t = (this.optimizerSteps[o.name] ?? 0) + 1;
      this.optimizerSteps[o.name] = t;
      for (const [k, v] of Object.entries(optimizerScalars(o, t, this.totalSteps.get(name) ?? t))) {
        if (ex.inputs.has(k)) feeds.set(k, Float32Array.of(v));
      }
    }
    const out = await ex.run(feeds);
    const logs = new Map<string, number>();
    for (const [k, v] of out) {
      logs.set(k, v[0]);
      if (!Number.isFinite(v[0])) {
        // Nothing is saved after this: the checkpoint on disk predates the bad step.
        const kept = existsSync(this.checkpointPath)
          ? `the last good checkpoint is ${this.checkpointPath}`
          : "no checkpoint was written before it";
        let why = " (rerun with --debug-nans to find the kernel and source line)";
        if (this.opts.debugNans) {
          const graph = this.compiled.steps.get(name)!.graph;
          const sources = this.compiled.loaded.sources;
          why = `; --debug-nans: ${await explainNonFinite(ex, graph, feeds, this.store, sources)}`;
        }
        throw new NonFiniteError(
          `step ${name}: '${k}' is ${v[0]} at event ${this.events} (optimizer step ${o ? this.optimizerSteps[o.name] : "-"}); ${kept}${why}`,
        );
      }
    }
    return logs;
  }

  /** Runs a step whose inputs the host supplies (e.g. the sampler's denoise step). */
  async invoke(name: string, feeds: Map<string, HostTensor>): Promise<Map<string, HostTensor>> {
    const ex = this.executors.get(name);
    if (!ex) throw new Error(`no step named '${name}'`);
    if (ex.inputs.has("__seed") && !feeds.has("__seed"))
      feeds.set(
        "__seed",
        Int32Array.of(hashU32((this.opts.seed * 7919 + this.events++) >>> 0) | 0),
      );
    return ex.run(feeds);
  }

  async evaluate(name: string): Promise<Map<string, number>> {
    const step = this.compiled.program.steps.get(name)!;
    if (!step.batch) throw new Error(`evaluate(${name}): the step reads no data source`);
    if (step.optimizer)
      throw new Error(
        `evaluate(${name}): the step trains (it has 'minimize'); evaluate a step that only logs`,
      );
    const ex = this.executors.get(name)!;
    const data = this.data.get(step.batch.data)!;
    const batch = this.compiled.program.data.get(step.batch.data)!.args.batch as number;
    if (data.size % batch !== 0 && !this.warnedPadding.has(name)) {
      this.warnedPadding.add(name);
      this.opts.log(
        `warning: evaluate(${name}): ${data.size} items are not a multiple of the batch (${batch}); the last batch is padded and its mean includes the padding`,
      );
    }
    const sums = new Map<string, number>();
    let count = 0;
    for (const b of data.epoch()) {
      const feeds = new Map<string, HostTensor>();
      for (const [k, v] of b.fields) feeds.set(`${step.batch.param}.${k}`, v);
      if (ex.inputs.has("__seed"))
        feeds.set(
          "__seed",
          Int32Array.of(hashU32((this.opts.seed * 7919 + this.events) >>> 0) | 0),
        );
      const out = await ex.run(feeds);
      // Logged values are batch means, weighted by the batch's real rows.
      for (const [k, v] of out) sums.set(k, (sums.get(k) ?? 0) + v[0] * b.count);
      count += b.count;
    }
    const means = new Map<string, number>();
    for (const [k, v] of sums) means.set(k, v / count);
    return means;
  }

  /**
   * Loads model weights from another run's checkpoint (e.g. the base model): every tensor
   * whose name is a trainable parameter here, preferring EMA copies (`<opt>.ema.<name>`).
   * Optimizer state is not loaded.
   */
  loadWeights(path: string): number {
    const ck = loadCheckpoint(path);
    if (!ck) throw new Error(`load: no such checkpoint: ${path}`);
    const infos = this.compiled.program.registry.params;
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
      this.store.set(name, data);
      loaded++;
    }
    if (loaded === 0)
      throw new Error(
        `load: ${path} has no tensor this program uses (is it a checkpoint of another model?)`,
      );
    return loaded;
  }

  /**
   * C-LoRA's task boundary: past += A·B for every slot of the adapter, then A starts again
   * from a fresh random draw, B from zeros, and their optimizer state from zeros.
   */
  async merge(adapter: string): Promise<void> {
    const infos = this.compiled.program.registry.params;
    // A fresh A per task, deterministic across resumes (event numbers are).
    const draw = hashU32((this.opts.seed ^ hashU32(this.events + 1) ^ nameHash(adapter)) >>> 0);
    for (const [name, info] of infos) {
      const prefix = `${adapter}.a.`;
      if (!name.startsWith(prefix)) continue;
      const param = name.slice(prefix.length);
      const bName = `${adapter}.b.${param}`;
      const pastName = `${adapter}.past.${param}`;
      const [a, b, past] = await Promise.all([
        this.store.read(name),
        this.store.read(bName),
        this.store.read(pastName),
      ]);
      const [E, r] = info.type.shape;
      const D = past.length / E;
      const out = new Float32Array(past.length);
      for (let i = 0; i < E; i++)
        for (let j = 0; j < D; j++) {
          let acc = past[i * D + j];
          for (let k = 0; k < r; k++) acc += a[i * r + k] * b[k * D + j];
          out[i * D + j] = acc;
        }
      this.store.set(pastName, out);
      this.store.set(name, initialValue(info, draw));
      this.store.set(bName, new Float32Array(b.length));
      for (const [other, oi] of infos) {
        if (
          oi.state &&
          (other.endsWith(`.${name}`) || other.endsWith(`.${bName}`)) &&
          !other.includes(".ema.")
        ) {
          this.store.set(other, new Float32Array(oi.type.shape.reduce((x, y) => x * y, 1)));
        }
      }
    }
  }

  // ------------------------------------------------------------------ the run block

  async run(): Promise<void> {
    // Lexical scopes: a loop body is a child scope, so `total = total + 1` in a loop updates
    // the outer `total`, while a `let` in the body stays in the body.
    const env = new Env();
    for (const [k, v] of this.compiled.program.settings) env.define(k, v);
    this.countSteps(this.compiled.program.run, env.child(), 1);
    await this.execBlock(this.compiled.program.run, env, true);
    this.progress?.done();
  }

  /** How many times each step is called (for LR schedules), assuming loops run fully. */
  private countSteps(stmts: Stmt[], env: Env, times: number) {
    const known = (e: Expr): Value | null => {
      try {
        return this.evalHost(e, env);
      } catch {
        return null; // depends on a loop variable or an evaluate() result: not counted
      }
    };
    for (const s of stmts) {
      if (s.kind === "Let" || s.kind === "Assign") {
        const v = known(s.value);
        if (v) env.define(s.name.name, v);
      } else if (s.kind === "For" && s.iterable.kind === "Range") {
        const a = known(s.iterable.start);
        const b = known(s.iterable.end);
        if (a?.kind === "int" && b?.kind === "int")
          this.countSteps(s.body, env.child(), times * Math.max(0, b.value - a.value));
      } else if (
        s.kind === "ExprStmt" &&
        s.expr.kind === "Call" &&
        s.expr.callee.kind === "Name" &&
        this.compiled.program.steps.has(s.expr.callee.name)
      ) {
        const n = s.expr.callee.name;
        this.totalSteps.set(n, (this.totalSteps.get(n) ?? 0) + times);
      }
    }
  }

  private evalInt(e: Expr, env: Env): number {
    const v = this.evalHost(e, env);
    if (v.kind !== "int") return fail(`expected an int here, got ${v.kind}`, e);
    return v.value;
  }

  private evalHost(e: Expr, env: Env): Value {
    return evalHostExpr(e, env, this.results, this.compiled.program.data);
  }

  private async execBlock(stmts: Stmt[], env: Env, top: boolean): Promise<void> {
    for (const s of stmts) await this.exec(s, env, top);
  }

  private async exec(s: Stmt, env: Env, top: boolean): Promise<void> {
    switch (s.kind) {
      case "For": {
        if (s.iterable.kind !== "Range")
          return fail("a run loop iterates over a range a..b", s.iterable);
        const a = this.evalInt(s.iterable.start, env);
        const b = this.evalInt(s.iterable.end, env);
        const bar =
          top && b > a && !this.progress && containsStepCall(s.body, this.compiled)
            ? new Progress({
                total: b - a,
                label: this.compiled.program.name,
                stream: this.opts.progressStream,
              })
            : null;
        if (bar) this.progress = bar;
        for (let i = a; i < b; i++) {
          const inner = env.child();
          inner.define(s.variable.name, { kind: "int", value: i });
          await this.execBlock(s.body, inner, false);
          if (bar && this.events <= this.resumeFrom) bar.resumeAt(i - a + 1);
          else if (bar) {
            bar.update(
              i - a + 1,
              Object.fromEntries([...this.lastLogs].map(([k, v]) => [k, Number(v.toPrecision(4))])),
            );
          }
          if (
            this.events > this.resumeFrom &&
            ((this.opts.checkpointSeconds > 0 &&
              Date.now() - this.lastCheckpoint > this.opts.checkpointSeconds * 1000) ||
              ((this.opts.checkpointSteps ?? 0) > 0 &&
                this.stepsSinceCheckpoint >= this.opts.checkpointSteps!))
          ) {
            await this.checkpoint();
          }
        }
        if (bar) {
          bar.done();
          this.progress = null;
        }
        return;
      }
      case "If": {
        const c = this.evalHost(s.cond, env);
        if (c.kind !== "bool") return fail("an if condition must be a bool", s.cond);
        if (c.value) await this.execBlock(s.then, env, top);
        else if (s.otherwise) await this.execBlock(s.otherwise, env, top);
        return;
      }
      case "Let":
        env.define(s.name.name, this.evalHost(s.value, env));
        return;
      case "Assign":
        if (!env.set(s.name.name, this.evalHost(s.value, env)))
          return fail(
            `'${s.name.name}' is not defined; declare it with 'let ${s.name.name} = ...'`,
            s.name,
          );
        return;
      case "ExprStmt":
        return this.call(s.expr, env);
      default:
        return fail(`'${s.kind.toLowerCase()}' is not allowed in a run block`, s);
    }
  }

  private async call(e: Expr, env: Env): Promise<void> {
    if (e.kind !== "Call" || e.callee.kind !== "Name")
      return fail(
        "a run statement is a call: a step, checkpoint(), evaluate(step) or print(...)",
        e,
      );
    const name = e.callee.name;
    const steps = this.compiled.program.steps;
    if (steps.has(name)) {
      if (e.args.length)
        return fail(
          `step ${name} takes no arguments in run (its batch comes from its data source)`,
          e,
        );
      if (this.skip()) return;
      this.stepsSinceCheckpoint++;
      this.lastLogs = await this.runStep(name, e);
      const opt = steps.get(name)!.optimizer;
      this.opts.onStep?.(name, this.lastLogs, {
        event: this.events,
        optimizerStep: opt ? this.optimizerSteps[opt.name] : null,
      });
      if (this.stopRequested) {
        // Any event boundary is a consistent place to resume from.
        const p = await this.checkpoint();
        throw new StoppedError(
          `stopped after event ${this.events}; checkpoint written: ${p} (run the same command again to resume)`,
        );
      }
      return;
    }
    switch (name) {
      case "checkpoint": {
        if (e.args.length) {
          const [label, index] = e.args.map((a) => this.evalHost(a.value, env));
          if (label?.kind !== "string" || index?.kind !== "int" || e.args.length !== 2)
            return fail(
              'a named checkpoint takes a label and an index: checkpoint("after_task", task)',
              e,
            );
          if (this.skip()) return;
          const p = await this.snapshot(label.value, index.value);
          this.opts.log(`snapshot written: ${p}`);
          return;
        }
        if (this.skip()) return;
        const p = await this.checkpoint();
        this.opts.log(`checkpoint written: ${p}`);
        return;
      }
      case "evaluate": {
        const arg = e.args[0]?.value;
        if (!arg || arg.kind !== "Name" || !steps.has(arg.name))
          return fail(
            `evaluate takes a step name${arg?.kind === "Name" ? didYouMean(arg.name, steps.keys()) : ""}`,
            e,
          );
        if (this.skip()) return;
        const means = await this.evaluate(arg.name);
        for (const [k, v] of means) this.results.set(k, v);
        this.opts.log(
          `evaluate ${arg.name}: ${[...means].map(([k, v]) => `${k} = ${v.toFixed(4)}`).join(", ")}`,
        );
        return;
      }
      case "select": {
        const [d, t] = e.args.map((a) => a.value);
        const data = d?.kind === "Name" ? this.data.get(d.name) : undefined;
        if (!data?.select)
          return fail("select takes a concept data source and a concept index: select(seq, t)", e);
        // select(seq, a..b): the mixture of concepts a..b-1 (joint training).
        const index = (x: Expr) => {
          const v = this.evalHost(x, env);
          if (v.kind !== "int")
            return fail("select's concept index must be an int, or a range a..b of them", x);
          return v.value;
        };
        const pick: number | [number, number] =
          t?.kind === "Range" ? [index(t.start), index(t.end)] : index(t);
        // Not an event: the current concept is part of the data state, and re-selecting
        // on resume is harmless and keeps the run block's meaning obvious.
        try {
          data.select(pick);
        } catch (err) {
          return fail((err as Error).message, e);
        }
        return;
      }
      case "load": {
        const arg = e.args[0]?.value;
        const path = arg ? this.evalHost(arg, env) : null;
        if (!path || path.kind !== "string")
          return fail(
            'load takes a checkpoint path: load("runs/pretrain/checkpoint.safetensors")',
            e,
          );
        if (existsSync(path.value)) this.baseCheckpoint = baseRecord(path.value);
        if (this.skip()) return;
        const n = this.loadWeights(path.value);
        this.opts.log(`loaded ${n} tensors from ${path.value}`);
        return;
      }
      case "merge": {
        const arg = e.args[0]?.value;
        const ad =
          arg?.kind === "Name"
            ? this.compiled.program.adapters.find((a) => a.name === arg.name)
            : undefined;
        if (!ad)
          return fail(
            `merge takes an adapter${
              arg?.kind === "Name"
                ? didYouMean(
                    arg.name,
                    this.compiled.program.adapters.map((a) => a.name),
                  )
                : ""
            }`,
            e,
          );
        if (this.skip()) return;
        await this.merge(ad.name);
        return;
      }
      case "sample": {
        // Not an event (events seed the training noise, which must not change); done before
        // the checkpoint we resumed from when events < resumeFrom, and at the checkpoint's
        // own event boundary when its grid is on disk (grids are written atomically).
        const spec = sampleSpec(e, (x) => this.evalHost(x, env));
        const sig = denoiseSignature(this.compiled.program.steps.get(spec.step)!.graph);
        if (typeof sig === "string") return fail(`sample(${spec.step}): ${sig}`, e);
        const step = Math.max(0, ...Object.values(this.optimizerSteps));
        const path = sampleGridPath(this.opts.runDir, step);
        if (this.events < this.resumeFrom) return;
        if (this.events === this.resumeFrom && this.resumeFrom > 0 && existsSync(path)) return;
        this.opts.log(await writeSampleGrid(this, spec, sig, path));
        return;
      }
      case "require": {
        // Not an event: a condition on settings was already checked at compile time; one on
        // loop variables or evaluate() results is checked here, when reached.
        const { cond, message } = requireArgs(e);
        const v = this.evalHost(cond, env);
        if (v.kind !== "bool") return fail(`require's condition must be a comparison`, cond);
        if (!v.value) return requireFailed(message, e);
        return;
      }
      case "print": {
        if (this.skip()) return;
        const parts = e.args.map((a) => {
          const v = this.evalHost(a.value, env);
          return "value" in v ? String(v.value) : v.kind;
        });
        this.opts.log(parts.join(" "));
        return;
      }
    }
    return fail(
      `unknown step or command '${name}'${didYouMean(name, [...steps.keys(), ...RUN_COMMANDS])}`,
      e.callee,
    );
  }
}

function containsStepCall(stmts: Stmt[], c: Compiled): boolean {
  return stmts.some(
    (s) =>
      (s.kind === "ExprStmt" &&
        s.expr.kind === "Call" &&
        s.expr.callee.kind === "Name" &&
        c.program.steps.has(s.expr.callee.name)) ||
      (s.kind === "For" && containsStepCall(s.body, c)) ||
      (s.kind === "If" && (containsStepCall(s.then, c) || containsStepCall(s.otherwise ?? [], c))),
  );
}

export { NonFiniteError };
