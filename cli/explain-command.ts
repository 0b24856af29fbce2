// `cldc explain`: the compiled step as a table: kernels, dispatch sizes, FLOPs, bytes and
// (with --profile) measured time per kernel.
import { compile } from "../compiler/compile.ts";
import { didYouMean } from "../compiler/diagnostics.ts";
import type { Plan } from "../compiler/plan.ts";
import type { Gpu } from "../runtime/gpu.ts";
import { inputFile, parse, settings, UsageError } from "./args.ts";
import { detectTarget } from "./compile-commands.ts";

export async function cmdExplain(argv: string[], _sources: Map<string, string>): Promise<number> {
  const usage =
    "usage: cldc explain PROGRAM.cld [--step NAME] [--profile] [--set name=value ...] [--program NAME]";
  const { values, positionals } = parse(
    argv,
    {
      step: { type: "string" },
      profile: { type: "boolean", default: false },
      set: { type: "string", multiple: true },
      program: { type: "string" },
    },
    usage,
  );
  if (positionals.length !== 1) throw new UsageError(usage);
  const file = inputFile(positionals[0]);
  const gpu = values.profile ? await (await import("../runtime/gpu.ts")).Gpu.open() : null;
  try {
    const c = compile(
      file,
      settings(values.set),
      gpu ? { subgroups: gpu.hasSubgroups } : await detectTarget(),
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
      const times = gpu ? await profile(gpu, p) : null;
      const rows = p.kernels.map((k, i) => {
        const life = p.lifetimes[i];
        const row = [
          k.name,
          k.workgroups.join("x"),
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
    gpu?.destroy();
  }
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
