// One compiled step as C++: the kernel library headers, every kernel's function, and
// three entry points the runtime calls through the FFI:
//   cld_step(B)         runs all kernels in plan order, then the parameter-update copies;
//   cld_kernel(k, B)    runs kernel k alone (--debug-nans, explain --profile);
//   cld_kernel_count()  how many kernels the library holds.
// B is the table of buffer pointers, indexed like plan.buffers. The kernels can be split
// over several translation units ("parts") so that the compiler builds them in parallel;
// the first unit also holds the entry points.
import type { SourceRange } from "../../grammar/ast.ts";
import type { Plan, PlanKernel } from "../plan.ts";

/** The kernel library every step includes (files in compiler/c/). */
export const C_HEADERS = ["prelude.hpp", "gemm.hpp", "conv.hpp", "attention.hpp"];

export interface RenderedUnit {
  source: string;
  /** 1-based line spans of each kernel's function, to map a compiler error to its kernel. */
  spans: { kernel: number; first: number; last: number }[];
}

export function kernelComment(k: PlanKernel): string {
  const where = k.locs.map(formatLoc).join(", ");
  return `// ${k.name}: ${k.ops.join(", ")}${where ? ` (${where})` : ""}`;
}

const formatLoc = (l: SourceRange) => `${l.file}:${l.start.line}:${l.start.column}`;

/** The whole step as one translation unit (what `cldc compile --emit c` writes). */
export function renderStep(plan: Plan, label: string): RenderedUnit {
  return renderStepUnits(plan, label, 1)[0];
}

/**
 * The step split into at most `parts` translation units of similar compile cost; each
 * unit's kernels are a contiguous range of the plan, so dispatch stays a range test.
 */
export function renderStepUnits(plan: Plan, label: string, parts: number): RenderedUnit[] {
  if (plan.language !== "c") throw new Error("internal: renderStep needs a plan for the C target");
  const ranges = splitByCost(plan.kernels, parts);
  return ranges.map(([lo, hi], p) => {
    const out: string[] = [
      `// cld step '${label}': ${plan.kernels.length} kernels, ${plan.buffers.length} buffers` +
        (ranges.length > 1
          ? ` (part ${p + 1} of ${ranges.length}: kernels ${lo}-${hi - 1}).`
          : "."),
      ...C_HEADERS.map((h) => `#include "${h}"`),
      "",
      "namespace cld {",
      "namespace step {",
    ];
    const spans: RenderedUnit["spans"] = [];
    for (let i = lo; i < hi; i++) {
      const k = plan.kernels[i];
      out.push("", kernelComment(k));
      const first = out.length + 1;
      out.push(...k.source.split("\n"));
      spans.push({ kernel: i, first, last: out.length });
    }
    out.push("", "}  // namespace step", "}  // namespace cld", "");
    out.push(`void cld_part_${p}(int32_t k, void* const* B) {`, "  switch (k) {");
    for (let i = lo; i < hi; i++) out.push(`    case ${i}: ${callKernel(plan.kernels[i])}; break;`);
    out.push("    default: break;", "  }", "}", "");
    if (p === 0) out.push(...entryPoints(plan, ranges));
    return { source: out.join("\n"), spans };
  });
}

function callKernel(k: PlanKernel): string {
  // Casts follow the kernel's own parameter types: a temporary buffer is reused by
  // values of either dtype over a step.
  const types = parameters(k).map((p) => p.replace(/\s*__restrict\s+\w+$/, ""));
  const args = k.bindings.map((b, slot) => {
    if (!("buffer" in b)) throw new Error(`internal: ${k.name} has a uniform binding`);
    return `(${types[slot]})B[${b.buffer}]`;
  });
  return `cld::step::${k.name}(${args.join(", ")})`;
}

function entryPoints(plan: Plan, ranges: [number, number][]): string[] {
  const out: string[] = [];
  for (let p = 1; p < ranges.length; p++)
    out.push(`void cld_part_${p}(int32_t k, void* const* B);`);
  out.push('extern "C" void cld_kernel(int32_t k, void* const* B) {');
  ranges.forEach(([, hi], p) => {
    const test = p === ranges.length - 1 ? "" : `if (k < ${hi}) `;
    out.push(`  ${p > 0 ? "else " : ""}${test}cld_part_${p}(k, B);`);
  });
  out.push("}", "");
  out.push(
    'extern "C" int32_t cld_kernel_count(void) {',
    `  return ${plan.kernels.length};`,
    "}",
    "",
  );
  out.push('extern "C" void cld_step(void* const* B) {');
  out.push(`  for (int32_t k = 0; k < ${plan.kernels.length}; k++) cld_kernel(k, B);`);
  for (const c of plan.copies) out.push(`  std::memcpy(B[${c.to}], B[${c.from}], ${c.bytes});`);
  out.push("}", "");
  return out;
}

// Compile time follows source length (measured on the pre-training step: ~33 ms per KB
// at -O3, heavy kernels' template instantiations included), so units are balanced by it.
const kernelCost = (k: PlanKernel) => k.source.length;

function splitByCost(kernels: PlanKernel[], parts: number): [number, number][] {
  const n = Math.max(1, Math.min(parts, kernels.length));
  const total = kernels.reduce((s, k) => s + kernelCost(k), 0);
  const ranges: [number, number][] = [];
  let lo = 0;
  let acc = 0;
  for (let i = 0; i < kernels.length; i++) {
    acc += kernelCost(kernels[i]);
    const left = n - ranges.length - 1;
    if (left > 0 && acc >= (total * (ranges.length + 1)) / n && kernels.length - i - 1 >= left) {
      ranges.push([lo, i + 1]);
      lo = i + 1;
    }
  }
  ranges.push([lo, kernels.length]);
  return ranges;
}

/** A C kernel's parameter declarations, e.g. "const float* __restrict in0". */
function parameters(k: PlanKernel): string[] {
  const m = k.source.match(/^static void \w+\(([^)]*)\)/m);
  if (!m) throw new Error(`internal: ${k.name} is not a C function`);
  return m[1].split(",").map((s) => s.trim());
}

/**
 * Which parameter of a C kernel is its output: fused kernels take their reads then the
 * output; heavy kernels their operands, the output, then the epilogue's reads.
 */
export function outputSlot(k: PlanKernel): number {
  const slot = parameters(k).findIndex((p) => /\bout$/.test(p));
  if (parameters(k).length === 0 || slot < 0)
    throw new Error(`internal: ${k.name} has no output parameter`);
  return slot;
}
