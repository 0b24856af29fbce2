// A training session: owns the device state of a compiled program and interprets its
// `run` block on the host (loops, ifs, lets and step calls here; the other commands, such as
// checkpoint() or merge(kv), in runtime/run-commands.ts). Every side effect of the run block (a step call, a checkpoint,
// an evaluation, a print) is an "event" with a sequence number; a resumed session skips
// the events its checkpoint already covers, so a killed run continues exactly.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Expr, Stmt } from "../grammar/ast.ts";
import type { Compiled } from "../compiler/compile.ts";
import { optimizerMomentNames, optimizerScalars } from "../compiler/elab/optimizer.ts";
import { Env } from "../compiler/elab/elaborator.ts";
import { fail, type Value } from "../compiler/elab/values.ts";
import { hashU32 } from "../compiler/ops/source.ts";
import { openData, type DataRuntime } from "./data-sources.ts";
import { loadWeights } from "./load-weights.ts";
import {
  checkCheckpointTensors,
  loadCheckpoint,
  modelHash,
  saveCheckpoint,
  type HostState,
} from "./checkpoint.ts";
import { explainNonFinite } from "./debug-nans.ts";
import type { HostTensor } from "./executor.ts";
import { createExecutor, type Device, type Executor } from "./device.ts";
import { Progress } from "./io/progress.ts";
import { evalHostExpr } from "./host-expr.ts";
import { nameHash, ParamStore } from "./params.ts";
import { mergeAdapter } from "./adapter-merge.ts";
import { OptimizerSteps } from "./optimizer-steps.ts";
import { RunCommands } from "./run-commands.ts";
import { countStepCalls, containsStepCall } from "./run-block-scan.ts";
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
  readonly executors = new Map<string, Executor>();
  readonly data = new Map<string, DataRuntime>();
  private eventCount = 0;
  private resumeFrom = 0;
  readonly optimizerSteps = new OptimizerSteps();
  private lastCheckpoint = Date.now();
  private stepsSinceCheckpoint = 0;
  private stopRequested = false;
  private progress: Progress | null = null;
  /** How many times the run block calls each step (for LR schedules). */
  private totalSteps = new Map<string, number>();
  readonly shapes = new Map<string, number[]>();
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
  private readonly commands = new RunCommands(this);

  constructor(
    readonly gpu: Device,
    readonly compiled: Compiled,
    readonly opts: SessionOptions,
  ) {
    const reg = compiled.program.registry;
    for (const [name, info] of reg.params) this.shapes.set(name, info.type.shape);
    this.store = new ParamStore(gpu, reg.params);
    for (const [name, step] of compiled.steps)
      this.executors.set(name, createExecutor(gpu, step.plan, this.store, name));
    if (opts.debugNans) for (const ex of this.executors.values()) ex.enableSnapshots();
  }

  /** Side-effecting run-block events done so far. */
  get events(): number {
    return this.eventCount;
  }

  /** The events the checkpoint we resumed from covers (0 for a fresh run). */
  get resumedEvents(): number {
    return this.resumeFrom;
  }

  get checkpointPath() {
    return join(this.opts.runDir, "checkpoint.safetensors");
  }

  async start(): Promise<"fresh" | "resumed"> {
    // WGSL pipelines report compile errors; the native target builds its libraries here.
    await Promise.all([...this.executors.values()].map((ex) => ex.check()));
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
    this.optimizerSteps.restore(ck.state);
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
      events: this.eventCount,
      data: Object.fromEntries([...this.data].map(([k, d]) => [k, d.state()])),
      ...this.optimizerSteps.state(),
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

  /** Counts one event; true when it was already done before the checkpoint we resumed from. */
  skipEvent(): boolean {
    return this.eventCount++ < this.resumeFrom;
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
    ex: Executor,
    feeds: Map<string, HostTensor>,
    _at: Expr,
  ): Promise<Map<string, number>> {
    const step = this.compiled.program.steps.get(name)!;
    if (ex.inputs.has("__seed"))
      feeds.set(
        "__seed",
        Int32Array.of(hashU32((this.opts.seed * 7919 + this.eventCount) >>> 0) | 0),
      );
    const o = step.optimizer;
    if (o) {
      const t = this.optimizerSteps.next(o.name);
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
          `step ${name}: '${k}' is ${v[0]} at event ${this.eventCount} (optimizer step ${o ? this.optimizerSteps.reported(o.name) : "-"}); ${kept}${why}`,
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
        Int32Array.of(hashU32((this.opts.seed * 7919 + this.eventCount++) >>> 0) | 0),
      );
    return ex.run(feeds);
  }

  /** `load(path)`: the model weights of another run's checkpoint (runtime/load-weights.ts). */
  loadWeights(path: string): number {
    return loadWeights(this.store, this.compiled.program.registry.params, path);
  }

  /** `merge(adapter)`, C-LoRA's task boundary (runtime/adapter-merge.ts). */
  async merge(adapter: string, at: Expr | null = null): Promise<void> {
    // A fresh A per task, deterministic across resumes (event numbers are).
    const draw = hashU32((this.opts.seed ^ hashU32(this.eventCount + 1) ^ nameHash(adapter)) >>> 0);
    await mergeAdapter(this.store, this.compiled.program, adapter, draw, at);
  }

  /**
   * `reset(opt)`, e.g. at a task boundary: the optimizer starts over as if new. Its moments
   * (all its state but the EMA copies, which track the weights) become zeros and its step
   * count 0, so bias correction and warm-up (and the EMA's decay warm-up) start again.
   */
  reset(optimizer: string): void {
    for (const name of optimizerMomentNames(optimizer, this.compiled.program.registry.params))
      this.store.set(name, new Float32Array(this.shapes.get(name)!.reduce((a, b) => a * b, 1)));
    this.optimizerSteps.reset(optimizer);
  }

  /** What `load(...)` read, for snapshots to name their base. */
  setBaseCheckpoint(base: ReturnType<typeof baseRecord>): void {
    this.baseCheckpoint = base;
  }

  // ------------------------------------------------------------------ the run block

  async run(): Promise<void> {
    // Lexical scopes: a loop body is a child scope, so `total = total + 1` in a loop updates
    // the outer `total`, while a `let` in the body stays in the body.
    const env = new Env();
    for (const [k, v] of this.compiled.program.settings) env.define(k, v);
    const evalHost = (e: Expr, scope: Env) => this.evalHost(e, scope);
    countStepCalls(
      this.compiled.program.run,
      env.child(),
      this.compiled,
      evalHost,
      this.totalSteps,
    );
    await this.execBlock(this.compiled.program.run, env, true);
    this.progress?.done();
  }

  private evalInt(e: Expr, env: Env): number {
    const v = this.evalHost(e, env);
    if (v.kind !== "int") return fail(`expected an int here, got ${v.kind}`, e);
    return v.value;
  }

  evalHost(e: Expr, env: Env): Value {
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
                // `for task in …` counts tasks; a one-letter variable counts steps
                unit: s.variable.name.length > 1 ? s.variable.name : "step",
              })
            : null;
        if (bar) this.progress = bar;
        for (let i = a; i < b; i++) {
          const inner = env.child();
          inner.define(s.variable.name, { kind: "int", value: i });
          await this.execBlock(s.body, inner, false);
          if (bar && this.eventCount <= this.resumeFrom) bar.resumeAt(i - a + 1);
          else if (bar) {
            bar.update(
              i - a + 1,
              Object.fromEntries([...this.lastLogs].map(([k, v]) => [k, Number(v.toPrecision(4))])),
            );
          }
          if (
            this.eventCount > this.resumeFrom &&
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
      if (this.skipEvent()) return;
      this.stepsSinceCheckpoint++;
      this.lastLogs = await this.runStep(name, e);
      const opt = steps.get(name)!.optimizer;
      this.opts.onStep?.(name, this.lastLogs, {
        event: this.eventCount,
        optimizerStep: opt ? this.optimizerSteps.reported(opt.name) : null,
      });
      if (this.stopRequested) {
        // Any event boundary is a consistent place to resume from.
        const p = await this.checkpoint();
        throw new StoppedError(
          `stopped after event ${this.eventCount}; checkpoint written: ${p} (run the same command again to resume)`,
        );
      }
      return;
    }
    return this.commands.run(name, e, env);
  }
}

export { NonFiniteError };
