// The run-block command `sample(denoise, "prompt", ..., n: 4, steps: 20, guidance: 3, seed: 0)`:
// its arguments, checked statically by run-check.ts (before training starts) and read with
// their values by the session (runtime/sample-grid.ts draws the grid), and the interface a
// step must have to be sampled from: denoise(x: [B, C, S, S], t: [B], tokens: i32[B, T]) -> ε.
import type { CallExpr, Expr } from "../../grammar/ast.ts";
import { emojiTokenizer, MAX_TOKENS } from "../../data/emoji-text.ts";
import { TokenizerError } from "../../data/tokenizer.ts";
import { didYouMean } from "../diagnostics.ts";
import type { Graph } from "../ir.ts";
import type { StepGraph } from "./program.ts";
import { fail, type Value } from "./values.ts";

export const SAMPLE_FORM =
  'sample(STEP, "prompt", ..., n: 4, steps: 20, guidance: 3, seed: 0, sampler: "ddim")';

/** Named arguments and their kinds; prompts: "a|b" is another way to give the prompts. */
const OPTIONS: Record<string, "int" | "number" | "string"> = {
  n: "int",
  steps: "int",
  guidance: "number",
  seed: "int",
  sampler: "string",
  prompts: "string",
};

export interface SampleSpec {
  step: string;
  /** One grid row each. */
  prompts: string[];
  /** Images per prompt (grid columns). */
  n: number;
  steps: number;
  guidance: number;
  /** The sampler's own noise seed: the same noise at every call, so grids compare over time. */
  seed: number;
  sampler: "ddim" | "ddpm";
}

export interface DenoiseSignature {
  /** The step's batch: conditional and unconditional halves, so batch / 2 images per call. */
  batch: number;
  channels: 1 | 3;
  size: number;
}

/** The denoise interface of a step's graph, or why it does not have it. */
export function denoiseSignature(graph: Graph): DenoiseSignature | string {
  const inputs = new Map(graph.inputs().map((n) => [n.name!, n.type] as const));
  const x = inputs.get("x");
  const t = inputs.get("t");
  const tok = inputs.get("tokens");
  const ret = graph.outputs.get("return");
  const want = `sampling needs STEP(x: [B, C, S, S], t: [B], tokens: i32[B, ${MAX_TOKENS}]) returning ε like x`;
  if (!x || x.dtype !== "f32" || x.shape.length !== 4)
    return `its input x is not [B, C, S, S]; ${want}`;
  const [b, ch, h, w] = x.shape;
  if (h !== w || (ch !== 1 && ch !== 3))
    return `its images x are not square with 1 or 3 channels; ${want}`;
  if (b % 2 !== 0) return `its batch ${b} is odd (half conditional, half unconditional); ${want}`;
  if (!t || t.dtype !== "f32" || t.shape.join() !== `${b}`)
    return `its input t is not [${b}]; ${want}`;
  if (!tok || tok.dtype !== "i32" || tok.shape.join() !== `${b},${MAX_TOKENS}`)
    return `its input tokens is not i32[${b}, ${MAX_TOKENS}]; ${want}`;
  if (inputs.size !== 3) return `it has inputs ${[...inputs.keys()].join(", ")}; ${want}`;
  const r = ret === undefined ? undefined : graph.type(ret);
  if (!r || r.dtype !== "f32" || r.shape.join() !== x.shape.join())
    return `it does not return a tensor shaped like x; ${want}`;
  return { batch: b, channels: ch as 1 | 3, size: h };
}

/** A prompt the model's tokenizer cannot encode is an error at its source position. */
function checkPrompt(text: string, at: Expr) {
  if (!text.trim()) fail("a sample prompt is empty", at);
  try {
    emojiTokenizer().encode(text, MAX_TOKENS);
  } catch (e) {
    if (e instanceof TokenizerError) fail(`sample prompt "${text}": ${e.message}`, at);
    throw e;
  }
}

/** The static check (run-check.ts): `checkExpr` checks an expression's names. */
export function checkSampleCall(
  e: CallExpr,
  steps: Map<string, StepGraph>,
  checkExpr: (x: Expr) => void,
): void {
  const first = e.args[0];
  if (!first || first.name || first.value.kind !== "Name")
    return fail(`sample takes a step first: ${SAMPLE_FORM}`, e);
  const step = steps.get(first.value.name);
  if (!step)
    return fail(
      `sample: unknown step '${first.value.name}'${didYouMean(first.value.name, steps.keys())}`,
      first.value,
    );
  if (step.batch || step.optimizer)
    return fail(
      `sample(${step.name}): the step reads a data source or trains; sample from a step like examples/pretrain.cld's denoise`,
      first.value,
    );
  const sig = denoiseSignature(step.graph);
  if (typeof sig === "string") return fail(`sample(${step.name}): ${sig}`, first.value);
  let prompts = 0;
  const seen = new Set<string>();
  for (const a of e.args.slice(1)) {
    checkExpr(a.value);
    const lit = a.value;
    if (!a.name) {
      if (lit.kind === "Number" || lit.kind === "Bool")
        fail(`a sample prompt is a string; options are named, e.g. n: 4 (${SAMPLE_FORM})`, lit);
      if (lit.kind === "String") checkPrompt(lit.value, lit);
      prompts++;
      continue;
    }
    const kind = OPTIONS[a.name.name];
    if (!kind)
      fail(
        `sample has no option '${a.name.name}'${didYouMean(a.name.name, Object.keys(OPTIONS))}`,
        a.name,
      );
    if (seen.has(a.name.name)) fail(`sample: '${a.name.name}' is given twice`, a.name);
    seen.add(a.name.name);
    if (kind === "string" && (lit.kind === "Number" || lit.kind === "Bool"))
      fail(`sample's ${a.name.name} is a string`, lit);
    if (kind !== "string" && (lit.kind === "String" || lit.kind === "Bool"))
      fail(`sample's ${a.name.name} is a number`, lit);
    if (a.name.name === "prompts" && lit.kind === "String")
      for (const p of lit.value.split("|")) checkPrompt(p.trim(), lit);
    if (a.name.name === "prompts") prompts++;
  }
  if (!prompts) fail(`sample needs at least one prompt: ${SAMPLE_FORM}`, e);
}

/** The arguments with their values (the session, when the command runs). */
export function sampleSpec(e: CallExpr, value: (x: Expr) => Value): SampleSpec {
  const spec: SampleSpec = {
    step: (e.args[0].value as { name: string }).name,
    prompts: [],
    n: 4,
    steps: 20,
    guidance: 3,
    seed: 0,
    sampler: "ddim",
  };
  for (const a of e.args.slice(1)) {
    const v = value(a.value);
    const name = a.name?.name ?? "prompt";
    const str = () =>
      v.kind === "string" ? v.value : fail(`sample's ${name} is a string`, a.value);
    const num = (min: number, int: boolean) => {
      if (v.kind !== "int" && !(v.kind === "float" && !int))
        return fail(`sample's ${name} is ${int ? "an int" : "a number"}`, a.value);
      if (!(v.value >= min))
        return fail(`sample's ${name} must be >= ${min}, got ${v.value}`, a.value);
      return v.value;
    };
    if (name === "prompt") spec.prompts.push(str());
    else if (name === "prompts")
      spec.prompts.push(
        ...str()
          .split("|")
          .map((p) => p.trim()),
      );
    else if (name === "n") spec.n = num(1, true);
    else if (name === "steps") spec.steps = num(1, true);
    else if (name === "guidance") spec.guidance = num(0, false);
    else if (name === "seed") spec.seed = num(0, true);
    else if (name === "sampler") {
      const s = str();
      if (s !== "ddim" && s !== "ddpm")
        fail(`sample's sampler is "ddim" or "ddpm", got "${s}"`, a.value);
      spec.sampler = s;
    }
  }
  for (const p of spec.prompts) checkPrompt(p, e);
  return spec;
}
