// `cldc explain`: the compiled step as a table: kernels, dispatch sizes, FLOPs, bytes and
// (with --profile) measured time per kernel.
import { compile } from "../compiler/compile.ts";
import { didYouMean } from "../compiler/diagnostics.ts";
import type { Plan } from "../compiler/plan.ts";
import type { Compiled } from "../compiler/compile.ts";
import type { Gpu } from "../runtime/gpu.ts";
import type { Device } from "../runtime/device.ts";
import { NativeDevice } from "../runtime/native/device.ts";
import { NativeStepExecutor } from "../runtime/native/executor.ts";
import { ParamStore } from "../runtime/params.ts";
import { deviceOption, inputFile, parse, settings, UsageError } from "./args.ts";
import { detectTarget } from "./compile-commands.ts";

export async function cmdExplain(argv: string[], _sources: Map<string, string>): Promise<number> {
  const usage =
    "usage: cldc explain PROGRAM.cld [--step NAME] [--profile] [--device auto|gpu|cpu|lavapipe] [--set name=value ...] [--program NAME]";
  const { values, positionals } = parse(
    argv,
    {
      step: { type: "string" },
      profile: { type: "boolean", default: false },
      device: { type: "string" },
      set: { type: "string", multiple: true },
      program: { type: "string" },
    },
    usage,
  );
  if (positionals.length !== 1) throw new UsageError(usage);
  const file = inputFile(positionals[0]);
  // A device is opened to profile on it, or to show the plan for its target (C or WGSL).
  const choice = values.device === undefined ? null : deviceOption(values.device);
  const device: Device | null =
    values.profile || choice
      ? await (await import("../runtime/device.ts")).openDevice(choice ?? deviceOption(undefined))
      : null;
  try {
    const c = compile(
      file,
      settings(values.set),
      device ? device.target : await detectTarget(),
      values.program,
    );
    if (values.step && !c.steps.has(values.step)) {
      throw new UsageError(
        `program ${c.program.name} has no step '${values.step}'${didYouMean(values.step, c.steps.keys())}; steps: ${[...c.steps.keys()].join(", ")}`,
      );
    }
    for (const [name, step] of c.steps) {
      if (values.step && values.step !== name) continue;
      const p = step.plan;
      const times = !values.profile
        ? null
        : device instanceof NativeDevice
          ? await profileNative(device, c, p, name)
          : await profile(device as Gpu, p);
      const rows = p.kernels.map((k, i) => {
        const life = p.lifetimes[i];
        const row = [
          k.name,
          p.language === "c" ? "-" : k.workgroups.join("x"),
          fmt(k.flops),
          fmt(k.bytes),
          `b${life.buffer} [${life.first}..${life.last}]`,
        ];
        if (times?.perKernel) row.push(times.perKernel[i].toFixed(3));
        return [...row, k.locs.map((l) => `${l.file}:${l.start.line}`).join(" ")];
      });
      const temp = p.buffers
        .filter((b) => b.kind === "temp" || b.kind === "output")
        .reduce((s, b) => s + b.bytes, 0);
      const persistent = p.buffers
        .filter((b) => b.kind === "param")
        .reduce((s, b) => s + b.bytes, 0);
      const measured = times ? `, ${times.ms.toFixed(2)} ms per step` : "";
      console.log(
        `step ${name}: ${p.kernels.length} kernels, ${fmt(p.kernels.reduce((s, k) => s + k.flops, 0))} FLOP, parameters+state ${fmt(persistent)}B, temporaries ${fmt(temp)}B${measured}`,
      );
      const head = [
        "kernel",
        "workgroups",
        "FLOP",
        "bytes",
        "output buffer [live]",
        ...(times?.perKernel ? ["ms"] : []),
        "source",
      ];
      console.log(table(head, rows));
    }
    return 0;
  } finally {
    device?.destroy();
  }
}

/** The native target: the step's library built (or cached), each kernel timed alone. */
async function profileNative(
  device: NativeDevice,
  c: Compiled,
  p: Plan,
  name: string,
): Promise<{ ms: number; perKernel: number[] }> {
  const store = new ParamStore(device, c.program.registry.params);
  const ex = new NativeStepExecutor(device, p, store, name);
  await ex.check();
  for (let k = 0; k < p.kernels.length; k++) await ex.timeKernel(k, 1); // warm-up: first touch
  const perKernel: number[] = [];
  for (let k = 0; k < p.kernels.length; k++) perKernel.push(await ex.timeKernel(k, 3));
  const ms = perKernel.reduce((a, b) => a + b, 0);
  return { ms, perKernel };
}

/** Runs a plan's kernels on zero-filled buffers: wall time per step, and GPU time per kernel when the device has timestamps. */
async function profile(gpu: Gpu, p: Plan): Promise<{ ms: number; perKernel: number[] | null }> {
  const buffers = p.buffers.map((b) => gpu.createBuffer(b.bytes, b.name));
  const dispatches = p.kernels.map((k) => {
    const pipeline = gpu.pipeline(k.source, k.name);
    const bindings = k.bindings.map((b) =>
      "buffer" in b ? buffers[b.buffer] : gpu.uniformBuffer(new Uint32Array(b.uniform), k.name),
    );
    return {
      pipeline,
      bindGroup: gpu.makeBindGroup(pipeline, bindings, k.name),
      workgroups: k.workgroups,
      label: k.name,
    };
  });
  await gpu.submit(dispatches); // warm-up: pipeline creation and first-touch costs
  const { ms } = await gpu.submit(dispatches);
  const prof = gpu.hasTimestamps ? await gpu.submit(dispatches, { profile: true }) : null;
  for (const b of buffers) b.destroy();
  return { ms, perKernel: prof?.dispatches?.map((d) => d.ms) ?? null };
}

function fmt(n: number): string {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + "M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + "k";
  return String(n);
}

export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(w[i]))
      .join("  ")
      .trimEnd();
  return [line(head), line(w.map((x) => "-".repeat(x))), ...rows.map(line)].join("\n");
}
