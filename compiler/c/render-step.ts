// One compiled step as one C++ translation unit: the kernel library headers, every
// kernel's function, and two entry points the runtime calls through the FFI:
//   cld_step(B)       runs all kernels in plan order, then the parameter-update copies;
//   cld_kernel(k, B)  runs kernel k alone (--debug-nans, explain --profile).
// B is the table of buffer pointers, indexed like plan.buffers.
import type { SourceRange } from "../../grammar/ast.ts";
import type { Plan, PlanKernel } from "../plan.ts";

/** The kernel library every step includes (files in compiler/c/). */
export const C_HEADERS = ["prelude.hpp", "gemm.hpp", "conv.hpp", "attention.hpp"];

export interface RenderedStep {
  source: string;
  /** 1-based line spans of each kernel's function, to map a compiler error to its kernel. */
  spans: { kernel: number; first: number; last: number }[];
}

export function kernelComment(k: PlanKernel): string {
  const where = k.locs.map(formatLoc).join(", ");
  return `// ${k.name}: ${k.ops.join(", ")}${where ? ` (${where})` : ""}`;
}

const formatLoc = (l: SourceRange) => `${l.file}:${l.start.line}:${l.start.column}`;

export function renderStep(plan: Plan, label: string): RenderedStep {
  if (plan.language !== "c") throw new Error("internal: renderStep needs a plan for the C target");
  const out: string[] = [
    `// cld step '${label}': ${plan.kernels.length} kernels, ${plan.buffers.length} buffers.`,
    ...C_HEADERS.map((h) => `#include "${h}"`),
    "",
    "namespace cld {",
    "namespace step {",
  ];
  const spans: RenderedStep["spans"] = [];
  plan.kernels.forEach((k, i) => {
    out.push("", kernelComment(k));
    const first = out.length + 1;
    out.push(...k.source.split("\n"));
    spans.push({ kernel: i, first, last: out.length });
  });
  out.push("", "}  // namespace step", "}  // namespace cld", "");
  out.push('extern "C" void cld_kernel(int32_t k, void* const* B) {', "  switch (k) {");
  plan.kernels.forEach((k, i) => {
    // Casts follow the kernel's own parameter types: a temporary buffer is reused by
    // values of either dtype over a step.
    const types = parameters(k).map((p) => p.replace(/\s*__restrict\s+\w+$/, ""));
    const args = k.bindings.map((b, slot) => {
      if (!("buffer" in b)) throw new Error(`internal: ${k.name} has a uniform binding`);
      return `(${types[slot]})B[${b.buffer}]`;
    });
    out.push(`    case ${i}: cld::step::${k.name}(${args.join(", ")}); break;`);
  });
  out.push("    default: break;", "  }", "}", "");
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
  return { source: out.join("\n"), spans };
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
  if (slot < 0) throw new Error(`internal: ${k.name} has no output parameter`);
  return slot;
}
