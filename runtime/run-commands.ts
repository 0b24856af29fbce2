// The run block's commands (everything callable in `run` that is not a step): checkpoint,
// evaluate, select, load, merge, reset, sample, require, print. The session (runtime/session.ts)
// interprets loops, ifs and step calls and hands every other call here. The compile-time
// checks of the same commands are in compiler/elab/run-check.ts; the messages agree.
//
// Most commands are events: `session.skipEvent()` counts one and says whether the checkpoint
// we resumed from already covers it, so a resumed run neither redoes nor loses it.
import { existsSync } from "node:fs";
import type { CallExpr, Expr } from "../grammar/ast.ts";
import type { Compiled } from "../compiler/compile.ts";
import { didYouMean } from "../compiler/diagnostics.ts";
import type { Env } from "../compiler/elab/elaborator.ts";
import {
  requireArgs,
  requireFailed,
  resetUsage,
  RUN_COMMANDS,
} from "../compiler/elab/run-check.ts";
import { denoiseSignature, sampleSpec } from "../compiler/elab/sample-call.ts";
import { fail, type Value } from "../compiler/elab/values.ts";
import { hashU32 } from "../compiler/ops/source.ts";
import { baseRecord } from "./eval/snapshot.ts";
import type { HostTensor } from "./executor.ts";
import { sampleGridPath, writeSampleGrid } from "./sample-grid.ts";
import type { Session } from "./session.ts";

export class RunCommands {
  private warnedPadding = new Set<string>();

  constructor(private readonly host: Session) {}

  /** Runs one call of the run block that names no step: `name(...)`. */
  async run(name: string, e: CallExpr, env: Env): Promise<void> {
    const host = this.host;
    const program = host.compiled.program;
    const steps = program.steps;
    switch (name) {
      case "checkpoint": {
        if (e.args.length) {
          const [label, index] = e.args.map((a) => host.evalHost(a.value, env));
          if (label?.kind !== "string" || index?.kind !== "int" || e.args.length !== 2)
            return fail(
              'a named checkpoint takes a label and an index: checkpoint("after_task", task)',
              e,
            );
          if (host.skipEvent()) return;
          const p = await host.snapshot(label.value, index.value);
          host.opts.log(`snapshot written: ${p}`);
          return;
        }
        if (host.skipEvent()) return;
        const p = await host.checkpoint();
        host.opts.log(`checkpoint written: ${p}`);
        return;
      }
      case "evaluate": {
        const arg = e.args[0]?.value;
        if (!arg || arg.kind !== "Name" || !steps.has(arg.name))
          return fail(
            `evaluate takes a step name${arg?.kind === "Name" ? didYouMean(arg.name, steps.keys()) : ""}`,
            e,
          );
        if (host.skipEvent()) return;
        const means = await this.evaluate(arg.name);
        for (const [k, v] of means) host.results.set(k, v);
        host.opts.log(
          `evaluate ${arg.name}: ${[...means].map(([k, v]) => `${k} = ${v.toFixed(4)}`).join(", ")}`,
        );
        return;
      }
      case "select": {
        const [d, t] = e.args.map((a) => a.value);
        const data = d?.kind === "Name" ? host.data.get(d.name) : undefined;
        if (!data?.select)
          return fail("select takes a concept data source and a concept index: select(seq, t)", e);
        // select(seq, a..b): the mixture of concepts a..b-1 (joint training).
        const index = (x: Expr) => {
          const v = host.evalHost(x, env);
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
        const path = arg ? host.evalHost(arg, env) : null;
        if (!path || path.kind !== "string")
          return fail(
            'load takes a checkpoint path: load("runs/pretrain/checkpoint.safetensors")',
            e,
          );
        if (existsSync(path.value)) host.setBaseCheckpoint(baseRecord(path.value));
        if (host.skipEvent()) return;
        const n = host.loadWeights(path.value);
        host.opts.log(`loaded ${n} tensors from ${path.value}`);
        return;
      }
      case "merge": {
        const arg = e.args[0]?.value;
        const ad =
          arg?.kind === "Name" ? program.adapters.find((a) => a.name === arg.name) : undefined;
        if (!ad)
          return fail(
            `merge takes an adapter${
              arg?.kind === "Name"
                ? didYouMean(
                    arg.name,
                    program.adapters.map((a) => a.name),
                  )
                : ""
            }`,
            e,
          );
        if (host.skipEvent()) return;
        await host.merge(ad.name, e);
        return;
      }
      case "reset": {
        // An event like merge: a resumed run restores the optimizer state from the checkpoint.
        const arg = e.args[0]?.value;
        if (e.args.length !== 1 || arg.kind !== "Name" || !program.optimizers.has(arg.name))
          return fail(resetUsage(e, program.optimizers.keys()), e.args.length === 1 ? arg : e);
        if (host.skipEvent()) return;
        host.reset(arg.name);
        return;
      }
      case "sample": {
        // Not an event (events seed the training noise, which must not change); done before
        // the checkpoint we resumed from when events < resumeFrom, and at the checkpoint's
        // own event boundary when its grid is on disk (grids are written atomically).
        const spec = sampleSpec(e, (x) => host.evalHost(x, env));
        const sig = denoiseSignature(steps.get(spec.step)!.graph);
        if (typeof sig === "string") return fail(`sample(${spec.step}): ${sig}`, e);
        const path = sampleGridPath(host.opts.runDir, host.optimizerSteps.latest());
        const resumeFrom = host.resumedEvents;
        if (host.events < resumeFrom) return;
        if (host.events === resumeFrom && resumeFrom > 0 && existsSync(path)) return;
        host.opts.log(await writeSampleGrid(host, spec, sig, path));
        return;
      }
      case "require": {
        // Not an event: a condition on settings was already checked at compile time; one on
        // loop variables or evaluate() results is checked here, when reached.
        const { cond, message } = requireArgs(e);
        const v = host.evalHost(cond, env);
        if (v.kind !== "bool") return fail(`require's condition must be a comparison`, cond);
        if (!v.value) return requireFailed(message, e);
        return;
      }
      case "print": {
        if (host.skipEvent()) return;
        const parts = e.args.map((a) => {
          const v = host.evalHost(a.value, env);
          return "value" in v ? String(v.value) : v.kind;
        });
        host.opts.log(parts.join(" "));
        return;
      }
    }
    return fail(
      `unknown step or command '${name}'${didYouMean(name, [...steps.keys(), ...RUN_COMMANDS])}`,
      e.callee,
    );
  }

  /** `evaluate(step)`: the step's logged values, averaged over one pass of its data. */
  async evaluate(name: string): Promise<Map<string, number>> {
    const host = this.host;
    const step = host.compiled.program.steps.get(name)!;
    if (!step.batch) throw new Error(`evaluate(${name}): the step reads no data source`);
    if (step.optimizer)
      throw new Error(
        `evaluate(${name}): the step trains (it has 'minimize'); evaluate a step that only logs`,
      );
    const ex = host.executors.get(name)!;
    const data = host.data.get(step.batch.data)!;
    const batch = host.compiled.program.data.get(step.batch.data)!.args.batch as number;
    if (data.size % batch !== 0 && !this.warnedPadding.has(name)) {
      this.warnedPadding.add(name);
      host.opts.log(
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
          Int32Array.of(hashU32((host.opts.seed * 7919 + host.events) >>> 0) | 0),
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
}
