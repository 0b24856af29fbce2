// The values of a program's members other than steps: a model (a block with its settings
// bound), a data source's arguments and batch schema, a LoRA adapter, an optimizer's
// hyperparameters. Each checks its named arguments against what the member accepts.
import type { AdapterMember, CallExpr, DataMember, Node } from "../../grammar/ast.ts";
import { didYouMean } from "../diagnostics.ts";
import type { AdapterSpec } from "./adapters.ts";
import { dataSchemas } from "./datasources.ts";
import type { Elaborator, Frame } from "./elaborator.ts";
import type { OptimizerSpec } from "./optimizer.ts";
import type { DataSpec } from "./program.ts";
import { asBool, asInt, asNumber, asString, describe, fail, type Value } from "./values.ts";

export function modelValue(el: Elaborator, init: CallExpr | Node, f: Frame, name: string): Value {
  const e = init as CallExpr;
  const calleeExpr = e.kind === "Call" ? e.callee : (init as never);
  const callee = el.evalExpr(calleeExpr, f);
  if (callee.kind !== "block")
    return fail(`a model must be a block, got ${describe(callee)}`, init);
  const bound = new Map<string, Value>();
  if (e.kind === "Call") {
    for (const a of e.args) {
      if (!a.name)
        return fail(
          "model arguments must be named (the tensor inputs are given when the model is called)",
          a,
        );
      if (!callee.decl.params.some((p) => p.name.name === a.name!.name)) {
        return fail(
          `block ${callee.decl.name.name} has no parameter '${a.name.name}'${didYouMean(
            a.name.name,
            callee.decl.params.map((p) => p.name.name),
          )}`,
          a.name,
        );
      }
      bound.set(a.name.name, el.evalExpr(a.value, f));
    }
  }
  return { kind: "block", decl: callee.decl, bound, scope: name };
}

function namedArgs(
  el: Elaborator,
  call: CallExpr,
  f: Frame,
  allowed: string[],
  what: string,
): Map<string, { v: Value; at: Node }> {
  const out = new Map<string, { v: Value; at: Node }>();
  for (const a of call.args) {
    if (!a.name) return fail(`${what} takes named arguments (name: value)`, a);
    if (!allowed.includes(a.name.name))
      return fail(
        `${what} has no parameter '${a.name.name}'${didYouMean(a.name.name, allowed)}; parameters: ${allowed.join(", ")}`,
        a.name,
      );
    out.set(a.name.name, { v: el.evalExpr(a.value, f), at: a.value });
  }
  return out;
}

export function dataSpec(el: Elaborator, m: DataMember, f: Frame): DataSpec {
  const sourceName = m.init.callee.kind === "Name" ? m.init.callee.name : "";
  const schema = dataSchemas[sourceName];
  if (!schema)
    return fail(
      `unknown data source '${sourceName}'${didYouMean(sourceName, Object.keys(dataSchemas))}; available: ${Object.keys(dataSchemas).join(", ")}`,
      m.init.callee,
    );
  const given = namedArgs(
    el,
    m.init,
    f,
    schema.params.map((p) => p.name),
    `data source ${sourceName}`,
  );
  const args: Record<string, number | string | boolean> = {};
  for (const p of schema.params) {
    const g = given.get(p.name);
    if (!g) {
      if (p.default === undefined)
        return fail(`data source ${sourceName} needs '${p.name}'`, m.init);
      args[p.name] = p.default;
      continue;
    }
    const what = `${sourceName}'s '${p.name}'`;
    const v =
      p.kind === "int"
        ? asInt(g.v, what, g.at)
        : p.kind === "float"
          ? asNumber(g.v, what, g.at)
          : p.kind === "bool"
            ? asBool(g.v, what, g.at)
            : asString(g.v, what, g.at);
    if (p.choices && !p.choices.includes(v as string))
      return fail(`${what} must be one of ${p.choices.map((c) => `"${c}"`).join(", ")}`, g.at);
    if (p.name === "batch" && (v as number) <= 0) return fail(`${what} must be positive`, g.at);
    args[p.name] = v;
  }
  const problem = schema.check?.(args); // e.g. an unknown concept name: before any training
  if (problem) return fail(problem.message, given.get(problem.param)?.at ?? m.init);
  return { name: m.name.name, source: sourceName, args, fields: schema.fields(args), member: m };
}

export function adapterSpec(el: Elaborator, m: AdapterMember, f: Frame): AdapterSpec {
  const call = m.init;
  const kind = call.callee.kind === "Name" ? call.callee.name : "";
  if (kind !== "lora")
    return fail(
      `unknown adapter '${kind}'${didYouMean(kind, ["lora"])}; use lora(model, rank: r)`,
      call.callee,
    );
  const [first, ...rest] = call.args;
  if (!first || first.name)
    return fail("lora's first argument is the model to adapt: lora(unet, rank: 4)", call);
  const model = el.evalExpr(first.value, f);
  if (model.kind !== "block" || !model.scope)
    return fail(`lora adapts a model, got ${describe(model)}`, first.value);
  const named = namedArgs(el, { ...call, args: rest }, f, ["rank", "std", "keep"], "lora");
  const r = named.get("rank");
  if (!r) return fail("lora needs a rank: lora(model, rank: 4)", call);
  const rank = asInt(r.v, "lora's rank", r.at);
  if (rank <= 0) return fail(`lora's rank must be at least 1, got ${rank}`, r.at);
  const s = named.get("std");
  const std = s ? asNumber(s.v, "lora's std", s.at) : 1 / rank;
  const k = named.get("keep");
  const keep = k ? asInt(k.v, "lora's keep", k.at) : 0;
  if (keep < 0)
    return fail(`lora's keep must be 0 or more (tasks whose factors to keep), got ${keep}`, k!.at);
  return { name: m.name.name, prefix: `${model.scope}.`, rank, std, keep, at: m };
}

export function optimizerSpec(
  el: Elaborator,
  name: string,
  call: CallExpr,
  f: Frame,
): OptimizerSpec {
  const kind = call.callee.kind === "Name" ? call.callee.name : "";
  if (kind !== "adamw" && kind !== "adam" && kind !== "sgd")
    return fail(
      `unknown optimizer '${kind}'${didYouMean(kind, ["adamw", "adam", "sgd"])}; use adamw, adam or sgd`,
      call.callee,
    );
  const keys = [
    "lr",
    "beta1",
    "beta2",
    "eps",
    "weight_decay",
    "momentum",
    "clip_norm",
    "schedule",
    "warmup",
    "ema",
  ];
  const a = namedArgs(el, call, f, keys, `optimizer ${kind}`);
  const num = (k: string, d: number) => {
    const g = a.get(k);
    if (!g) return d;
    const v = asNumber(g.v, `${kind}'s ${k}`, g.at);
    if (v < 0 || !Number.isFinite(v))
      return fail(`${kind}'s ${k} must be a finite number >= 0, got ${v}`, g.at);
    return v;
  };
  if (!a.has("lr")) fail(`optimizer ${kind} needs a learning rate: ${kind}(lr: ...)`, call);
  const sched = a.get("schedule");
  const schedule = sched ? asString(sched.v, "schedule", sched.at) : "constant";
  if (!["constant", "cosine", "linear"].includes(schedule))
    fail(`schedule must be "constant", "cosine" or "linear"`, sched!.at);
  return {
    name,
    kind: kind === "sgd" ? "sgd" : "adamw",
    lr: num("lr", 0),
    beta1: num("beta1", 0.9),
    beta2: num("beta2", 0.999),
    eps: num("eps", 1e-8),
    weightDecay: num("weight_decay", 0),
    momentum: num("momentum", 0),
    clipNorm: num("clip_norm", 0),
    schedule: schedule as OptimizerSpec["schedule"],
    warmup: Math.round(num("warmup", 0)),
    ema: num("ema", 0),
  };
}
