// `cldc sample`: rebuild a trained model from its checkpoint (the program file and settings
// it records), then draw images for a prompt with classifier-free guidance — conditional
// and unconditional halves in one call of the program's `denoise` step per denoising step —
// and write them as one PNG grid. Every input is checked before the GPU is opened, and a
// failure never touches the output file.
import {
  emaSources,
  firstMismatch,
  locateProgramFile,
  settingText,
} from "../runtime/checkpoint-model.ts";
import { closeSync, openSync, statSync, unlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { compile, findProgram, load, type Compiled } from "../compiler/compile.ts";
import { CompileError } from "../compiler/diagnostics.ts";
import type { ProgramDecl } from "../grammar/ast.ts";
import { emojiTokenizer, MAX_TOKENS } from "../data/emoji-text.ts";
import { TokenizerError } from "../data/tokenizer.ts";
import { loadCheckpoint, type HostState } from "../runtime/checkpoint.ts";
import { openDevice } from "../runtime/device.ts";
import { imageGrid, upscaleNearest, writePng } from "../runtime/io/png.ts";
import { formatDuration, Progress } from "../runtime/io/progress.ts";
import { readSafetensorsHeader, SafetensorsError } from "../runtime/io/safetensors.ts";
import { gridShape, SAMPLERS, type SamplerKind } from "../runtime/sampler.ts";
import { sampleImages } from "../runtime/sample-grid.ts";
import { Session } from "../runtime/session.ts";
import { deviceOption, inputFile, intOption, parse, UsageError } from "./args.ts";

export const SAMPLE_USAGE =
  'usage: cldc sample CHECKPOINT --prompt "TEXT" -o GRID.png [--n 16] [--steps 50] [--guidance 3] [--seed 1] [--sampler ddim|ddpm] [--scale 4] [--no-ema] [--device auto|gpu|cpu|lavapipe]';

/** The step `cldc sample` calls: denoise(x: [B, C, S, S], t: [B], tokens: i32[B, T]) -> ε. */
const STEP = "denoise";
/** The program setting that sizes the denoise step's batch (2·n: conditional + unconditional). */
const BATCH_SETTING = "sample_batch";

export async function cmdSample(argv: string[], _sources: Map<string, string>): Promise<number> {
  const usage = SAMPLE_USAGE;
  const { values, positionals } = parse(
    argv,
    {
      prompt: { type: "string" },
      out: { type: "string", short: "o" },
      n: { type: "string" },
      steps: { type: "string" },
      guidance: { type: "string" },
      seed: { type: "string" },
      sampler: { type: "string" },
      scale: { type: "string" },
      device: { type: "string" },
      "no-ema": { type: "boolean", default: false },
    },
    usage,
  );
  if (positionals.length !== 1) throw new UsageError(usage);
  if (values.prompt === undefined) throw new UsageError(`--prompt is required\n${usage}`);
  if (values.out === undefined) throw new UsageError(`-o GRID.png is required\n${usage}`);
  const n = intOption(values.n, "--n", 16, 1);
  const steps = intOption(values.steps, "--steps", 50, 1);
  const seed = intOption(values.seed, "--seed", 1);
  const guidance = numberOption(values.guidance, "--guidance", 3);
  // Pixels per image pixel in the PNG: 32×32 samples are stamps at 1.
  const scale = intOption(values.scale, "--scale", 4, 1);
  const device = deviceOption(values.device);
  if (scale > 16) throw new UsageError(`--scale must be at most 16, got ${scale}`);
  const sampler = (values.sampler ?? "ddim") as SamplerKind;
  if (!SAMPLERS.includes(sampler))
    throw new UsageError(`--sampler must be ${SAMPLERS.join(" or ")}, got '${values.sampler}'`);
  const ckPath = inputFile(positionals[0]);
  const out = writableOutput(values.out);

  // The prompt, and the empty caption the model saw for 10% of training images.
  const tokenizer = emojiTokenizer();
  let cond: Int32Array;
  try {
    cond = tokenizer.encode(values.prompt, MAX_TOKENS);
  } catch (e) {
    if (e instanceof TokenizerError) throw new UsageError(`--prompt: ${e.message}`);
    throw e;
  }
  const uncond = tokenizer.encode("", MAX_TOKENS);

  // The checkpoint's header (names, shapes, metadata) and the program it was trained with.
  const header = readHeader(ckPath);
  const state = hostState(ckPath, header.metadata);
  const entry = programFile(ckPath, state.entry);
  const loaded = load(entry);
  let decl: ProgramDecl;
  try {
    decl = findProgram(loaded, state.program);
  } catch (e) {
    if (e instanceof CompileError)
      throw new UsageError(
        `${ckPath} was trained with program ${state.program}, which ${entry} no longer defines`,
      );
    throw e;
  }
  if (
    !decl.params.some((p) => p.name.name === BATCH_SETTING) ||
    !decl.members.some((m) => m.kind === "Step" && m.name.name === STEP)
  ) {
    throw new UsageError(
      `program ${decl.name.name} (${entry}) has no '${STEP}' step sized by a '${BATCH_SETTING}' setting, so it cannot sample; see examples/pretrain.cld`,
    );
  }
  const settings = checkpointSettings(ckPath, decl, state.settings ?? {});
  settings.set(BATCH_SETTING, String(2 * n));

  const t0 = performance.now();
  const gpu = await openDevice(device);
  try {
    const c = compile(entry, settings, gpu.target, decl.name.name);
    const reg = c.program.registry.params;
    const mismatch = firstMismatch(header.entries, reg);
    if (mismatch)
      throw new UsageError(
        `${ckPath} does not match the model of ${c.program.name} (${entry}) with its settings: ${mismatch}`,
      );
    const step = c.steps.get(STEP)!;
    const io = denoiseInterface(c, 2 * n);

    // Only the denoise step gets an executor (and its kernels JIT-compiled); a fresh
    // session, not resumed and not started: sampling needs no training data, and every
    // tensor of the store comes from the checkpoint below.
    const only: Compiled = { ...c, steps: new Map([[STEP, step]]) };
    const session = new Session(gpu, only, {
      runDir: dirname(ckPath),
      seed,
      checkpointSeconds: 0,
      log: (l) => console.log(l),
      resume: false,
    });
    await gpu.checkErrors();
    let ck: ReturnType<typeof loadCheckpoint>;
    try {
      ck = loadCheckpoint(ckPath);
    } catch (e) {
      if (e instanceof SafetensorsError) throw new UsageError(e.message);
      throw e;
    }
    if (!ck) throw new UsageError(`no such file: ${ckPath}`);
    for (const [name, data] of ck.tensors) session.store.set(name, data);
    const ema = emaSources(ck.tensors.keys(), reg);
    if (!values["no-ema"])
      for (const [param, src] of ema) session.store.set(param, ck.tensors.get(src)!);
    const trained = [...reg.values()].filter((p) => !p.state);
    const count = trained.reduce((s, p) => s + p.type.shape.reduce((a, b) => a * b, 1), 0);
    const weights = values["no-ema"]
      ? "raw weights (--no-ema)"
      : ema.size
        ? `EMA weights for ${ema.size} of ${trained.length} parameters`
        : "raw weights (the checkpoint has no EMA)";
    console.log(
      `${c.program.name}: ${count.toLocaleString("en-US")} parameters, ${weights}; ${step.plan.kernels.length} kernels on ${gpu.adapterDescription}`,
    );

    const bar = new Progress({ total: steps, label: `sample (${sampler})` });
    const ts = performance.now();
    const images = await sampleImages({
      batch: 2 * n,
      channels: io.channels,
      size: io.size,
      tokens: Array.from({ length: n }, () => cond),
      uncond,
      steps,
      guidance,
      seed,
      sampler,
      source: ckPath,
      onStep: (i) => bar.update(i),
      denoise: async (feeds) => (await session.invoke(STEP, feeds)).get("return") as Float32Array,
    });
    bar.done();
    const secs = (performance.now() - ts) / 1000;

    const { rows, cols } = gridShape(n);
    const grid = upscaleNearest(
      imageGrid(images, { rows, cols, size: io.size, channels: io.channels }),
      scale,
    );
    writePng(out, grid.data, grid.width, grid.height);
    console.log(
      `wrote ${values.out}: ${n} image${n === 1 ? "" : "s"} of ${io.size}×${io.size} in a ${cols}×${rows} grid (${grid.width}×${grid.height}${scale > 1 ? `, pixels ×${scale}` : ""}); ` +
        `${steps} steps in ${formatDuration(secs)} (${(n / secs).toFixed(2)} images/s), ${formatDuration((performance.now() - t0) / 1000)} in all`,
    );
    return 0;
  } finally {
    gpu.destroy();
  }
}

/** A finite number (for --guidance); must be >= 0. */
function numberOption(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (
    v.trim() === "" ||
    !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v.trim()) ||
    !Number.isFinite(x)
  ) {
    throw new UsageError(`${name} expects a number, got '${v}'`);
  }
  if (x < 0) throw new UsageError(`${name} must be >= 0, got ${x}`);
  return x;
}

/** Checks before any work that `-o` names a file in an existing, writable directory. */
function writableOutput(path: string): string {
  const abs = resolve(path);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    // does not exist yet: fine
  }
  if (isDir)
    throw new UsageError(
      `-o ${path} is a directory; name the PNG file, e.g. -o ${join(path, "grid.png")}`,
    );
  const dir = dirname(abs);
  let dirOk = false;
  try {
    dirOk = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!dirOk)
    throw new UsageError(`cannot write -o ${path}: directory ${dirname(path)} does not exist`);
  const probe = join(dir, `.cldc-sample-${process.pid}-${Date.now()}.probe`);
  try {
    closeSync(openSync(probe, "wx"));
    unlinkSync(probe);
  } catch (e) {
    throw new UsageError(
      `cannot write -o ${path}: directory ${dirname(path)} is not writable (${(e as NodeJS.ErrnoException).code ?? e})`,
    );
  }
  return abs;
}

function readHeader(path: string) {
  try {
    return readSafetensorsHeader(path);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new UsageError(e.message);
    throw e;
  }
}

function hostState(path: string, metadata: Record<string, string>): HostState {
  const raw = metadata["cld.state"];
  if (!raw)
    throw new UsageError(`${path} is not a cld training checkpoint (no cld.state metadata)`);
  let state: HostState;
  try {
    state = JSON.parse(raw) as HostState;
  } catch (e) {
    throw new UsageError(`${path}: cld.state metadata is not valid JSON (${(e as Error).message})`);
  }
  if (typeof state !== "object" || state === null || typeof state.program !== "string") {
    throw new UsageError(`${path}: cld.state metadata does not name its program`);
  }
  return state;
}

/**
 * The program file a checkpoint was trained from. `entry` is relative to where training ran:
 * tried from the current directory, then from each directory above the checkpoint (a run
 * directory inside the project, such as runs/pretrain/).
 */
function programFile(ckPath: string, entry: string | undefined): string {
  if (!entry) {
    throw new UsageError(
      `${ckPath} does not record its program file (no 'entry' in its cld.state metadata), so its model cannot be rebuilt; it was written by an older cldc`,
    );
  }
  const found = locateProgramFile(ckPath, entry);
  if (found) return found;
  throw new UsageError(
    `${ckPath} was trained from ${entry}, which is not found from ${process.cwd()}; run cldc sample in the directory where training ran`,
  );
}

/** `--set` values that rebuild the checkpoint's model (the HostState keeps only values, not kinds). */
function checkpointSettings(
  ckPath: string,
  decl: ProgramDecl,
  saved: Record<string, unknown>,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(saved)) {
    if (v === null || v === undefined) continue;
    const p = decl.params.find((q) => q.name.name === k);
    if (!p)
      throw new UsageError(
        `${ckPath} was trained with setting '${k}', which program ${decl.name.name} no longer has`,
      );
    out.set(k, settingText(p, v));
  }
  return out;
}

/** Checks the denoise step's inputs and result against what the sampler feeds it. */
function denoiseInterface(c: Compiled, batch: number): { channels: 1 | 3; size: number } {
  const plan = c.steps.get(STEP)!.plan;
  const inputs = new Map(
    plan.buffers.flatMap((b) => (b.kind === "input" ? [[b.name, b] as const] : [])),
  );
  const x = inputs.get("x");
  const t = inputs.get("t");
  const tok = inputs.get("tokens");
  const want = `step ${STEP} must be ${STEP}(x: [${BATCH_SETTING}, C, S, S], t: [${BATCH_SETTING}], tokens: i32[${BATCH_SETTING}, ${MAX_TOKENS}]) returning ε like x`;
  const bad = (what: string) => new UsageError(`program ${c.program.name}: ${what}; ${want}`);
  if (!x || x.dtype !== "f32" || x.shape.length !== 4 || x.shape[0] !== batch)
    throw bad(`input x is ${x ? `${x.dtype}[${x.shape.join(", ")}]` : "missing"}`);
  const [, ch, h, w] = x.shape;
  if (h !== w || (ch !== 1 && ch !== 3))
    throw bad(`input x is [${x.shape.join(", ")}] (images must be square, 1 or 3 channels)`);
  if (!t || t.dtype !== "f32" || t.shape.length !== 1 || t.shape[0] !== batch)
    throw bad(`input t is ${t ? `${t.dtype}[${t.shape.join(", ")}]` : "missing"}`);
  if (
    !tok ||
    tok.dtype !== "i32" ||
    tok.shape.length !== 2 ||
    tok.shape[0] !== batch ||
    tok.shape[1] !== MAX_TOKENS
  ) {
    throw bad(`input tokens is ${tok ? `${tok.dtype}[${tok.shape.join(", ")}]` : "missing"}`);
  }
  if (inputs.size !== 3) throw bad(`it has inputs ${[...inputs.keys()].join(", ")}`);
  const ret = plan.outputs.find((o) => o.name === "return");
  if (!ret || ret.dtype !== "f32" || plan.buffers[ret.buffer].bytes !== x.bytes)
    throw bad("its result is not a tensor shaped like x");
  return { channels: ch as 1 | 3, size: h };
}
