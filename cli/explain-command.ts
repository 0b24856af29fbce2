// `cldc explain`: the compiled step as a table: kernels, dispatch sizes, FLOPs, bytes and
// (with --profile) measured time per kernel.
import { compile } from "../compiler/compile.ts";
import { parse, settings, UsageError } from "./args.ts";
import { detectTarget } from "./compile-commands.ts";

export async function cmdExplain(argv: string[], _sources: Map<string, string>): Promise<number> {
  const usage = "usage: cldc explain PROGRAM.cld [--step NAME] [--set name=value ...]";
  const { values, positionals } = parse(argv, { step: { type: "string" }, set: { type: "string", multiple: true }, program: { type: "string" } }, usage);
  if (positionals.length !== 1) throw new UsageError(usage);
  const c = compile(positionals[0], settings(values.set), await detectTarget(), values.program);
  for (const [name, step] of c.steps) {
    if (values.step && values.step !== name) continue;
    const p = step.plan;
    const rows = p.kernels.map((k, i) => {
      const life = p.lifetimes[i];
      return [k.name, k.workgroups.join("x"), fmt(k.flops), fmt(k.bytes), `b${life.buffer} [${life.first}..${life.last}]`, k.locs.map((l) => `${l.file}:${l.start.line}`).join(" ")];
    });
    const temp = p.buffers.filter((b) => b.kind === "temp" || b.kind === "output").reduce((s, b) => s + b.bytes, 0);
    const persistent = p.buffers.filter((b) => b.kind === "param").reduce((s, b) => s + b.bytes, 0);
    console.log(`step ${name}: ${p.kernels.length} kernels, ${fmt(p.kernels.reduce((s, k) => s + k.flops, 0))} FLOP, parameters+state ${fmt(persistent)}B, temporaries ${fmt(temp)}B`);
    console.log(table(["kernel", "workgroups", "FLOP", "bytes", "output buffer [live]", "source"], rows));
  }
  return 0;
}

function fmt(n: number): string {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + "M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + "k";
  return String(n);
}

export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd();
  return [line(head), line(w.map((x) => "-".repeat(x))), ...rows.map(line)].join("\n");
}
