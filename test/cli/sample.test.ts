// `cldc sample` as a user runs it (`node bin/cldc.js sample ...` in the repository root):
// every bad input is one line on stderr, a non-zero exit and an untouched output file; and
// one end-to-end run from a `cldc train` checkpoint to a deterministic PNG grid.
//
// The checkpoint comes from test/fixtures/sample/pretrain-init.cld (pretrain's models and
// denoise step at a tiny size, checkpointing its initial weights), so no training step is
// JIT-compiled. The first sampling run still JIT-compiles the denoise step's ~250 kernels:
// seconds with a warm Mesa shader cache (~/.cache/cld/mesa), 1-2 minutes on a cold one.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePngBytes } from "../../runtime/io/png.ts";
import { readSafetensors, writeSafetensors, type TensorIn } from "../../runtime/io/safetensors.ts";
import { childTimeout } from "../timeouts.ts";

const ROOT = join(import.meta.dirname, "../..");
const PROGRAM = "test/fixtures/sample/pretrain-init.cld";

function cldc(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["bin/cldc.js", ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: "true", CLD_DEBUG: "" },
    encoding: "utf8",
    ...childTimeout(),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** stderr without the driver's own banner lines (Dawn prints limit warnings on stderr). */
const ourLines = (stderr: string) =>
  stderr.split("\n").filter((l) => l && !l.startsWith("Warning: "));

let dir: string;
let checkpoint: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cldc-sample-"));
  const r = cldc(["train", PROGRAM, "--run-dir", join(dir, "run")]);
  expect(r.status, r.stderr).toBe(0);
  checkpoint = join(dir, "run", "checkpoint.safetensors");
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the checkpoint with its cld.state metadata changed. */
function withState(name: string, edit: (state: Record<string, unknown>) => void): string {
  const { tensors, metadata } = readSafetensors(checkpoint);
  const state = JSON.parse(metadata["cld.state"]);
  edit(state);
  const out = new Map<string, TensorIn>();
  for (const [k, t] of tensors) out.set(k, { data: t.data, shape: t.shape });
  const path = join(dir, name);
  writeSafetensors(path, out, { ...metadata, "cld.state": JSON.stringify(state) });
  return path;
}

/**
 * Runs `cldc sample` with an output file that already exists, and checks the failure:
 * exit 1, one line on stderr (returned), no stack trace, the output file and its directory
 * untouched.
 */
function fails(args: string[], opts: { ck?: string; out?: string } = {}): string {
  const outDir = mkdtempSync(join(dir, "out-"));
  const out = opts.out ?? join(outDir, "grid.png");
  if (!opts.out) writeFileSync(out, "keep");
  const r = cldc([
    "sample",
    opts.ck ?? checkpoint,
    "--prompt",
    "a photo of a cat",
    "--n",
    "2",
    "--steps",
    "2",
    "-o",
    out,
    ...args,
  ]);
  const lines = ourLines(r.stderr);
  expect(r.status, r.stderr).toBe(1);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^cldc: /);
  expect(r.stdout).not.toMatch(/wrote /);
  if (!opts.out) {
    expect(readFileSync(out, "utf8")).toBe("keep");
    expect(readdirSync(outDir)).toEqual(["grid.png"]);
  }
  return lines[0];
}

describe("cldc sample: bad input", () => {
  it("an unknown prompt word names it with close matches", () => {
    const line = fails(["--prompt", "a photo of a catt"]);
    expect(line).toMatch(
      /^cldc: --prompt: unknown word "catt" \(did you mean [^)]*\bcat\b[^)]*\?\) in "a photo of a catt"/,
    );
  });

  it("a checkpoint whose tensors do not fit its program's model names the first mismatch", () => {
    const ck = withState("other-model.safetensors", (s) => {
      (s.settings as Record<string, unknown>).ch = 16;
    });
    const line = fails([], { ck });
    expect(line).toMatch(
      /does not match the model of PretrainInit \(test\/fixtures\/sample\/pretrain-init\.cld\) with its settings: \S+ is \[[\d, ]+\] in the checkpoint, \[[\d, ]+\] in the model$/,
    );
  });

  it("a checkpoint of a program without a denoise step", () => {
    const ck = withState("mlp.safetensors", (s) => {
      s.entry = "test/fixtures/runtime/tiny-mlp.cld";
      s.program = "TinyMlp";
      s.settings = { steps: 40, batch: 16, lr: 0.01, half: 20, seed: 0 };
    });
    expect(fails([], { ck })).toBe(
      "cldc: program TinyMlp (test/fixtures/runtime/tiny-mlp.cld) has no 'denoise' step sized by a 'sample_batch' setting, so it cannot sample; see examples/pretrain.cld",
    );
  });

  it("a checkpoint without its program file in the metadata", () => {
    const ck = withState("no-entry.safetensors", (s) => {
      delete s.entry;
    });
    expect(fails([], { ck })).toMatch(
      /no-entry\.safetensors does not record its program file \(no 'entry' in its cld\.state metadata\)/,
    );
  });

  it("a truncated checkpoint gives the safetensors reader's error", () => {
    const ck = join(dir, "truncated.safetensors");
    copyFileSync(checkpoint, ck);
    truncateSync(ck, Math.floor(readFileSync(ck).length / 2));
    expect(fails([], { ck })).toMatch(
      /^cldc: .*truncated\.safetensors: truncated file: tensor \S+ ends at data byte \d+, but the data section has \d+ bytes$/,
    );
  });

  it("a corrupt checkpoint gives the safetensors reader's error", () => {
    const ck = join(dir, "corrupt.safetensors");
    writeFileSync(ck, Buffer.from("this is not a safetensors file at all"));
    expect(fails([], { ck })).toMatch(
      /corrupt\.safetensors: header length \d+ is beyond the end of the \d+-byte file$/,
    );
  });

  it("a missing checkpoint file", () => {
    expect(fails([], { ck: join(dir, "nope.safetensors") })).toBe(
      `cldc: no such file: ${join(dir, "nope.safetensors")}`,
    );
  });

  it("an output directory that does not exist, or an output that is a directory", () => {
    expect(fails([], { out: "/nonexistent/dir/x.png" })).toBe(
      "cldc: cannot write -o /nonexistent/dir/x.png: directory /nonexistent/dir does not exist",
    );
    expect(fails([], { out: dir })).toBe(
      `cldc: -o ${dir} is a directory; name the PNG file, e.g. -o ${join(dir, "grid.png")}`,
    );
  });

  it("bad numbers: --steps 0, --n 0, --seed abc, --guidance abc, --sampler", () => {
    expect(fails(["--steps", "0"])).toBe("cldc: --steps must be >= 1, got 0");
    expect(fails(["--n", "0"])).toBe("cldc: --n must be >= 1, got 0");
    expect(fails(["--seed", "abc"])).toBe("cldc: --seed expects an integer, got 'abc'");
    expect(fails(["--guidance", "abc"])).toBe("cldc: --guidance expects a number, got 'abc'");
    expect(fails(["--guidance", "1.5x"])).toBe("cldc: --guidance expects a number, got '1.5x'");
    expect(fails(["--scale", "0"])).toBe("cldc: --scale must be >= 1, got 0");
    expect(fails(["--scale", "17"])).toBe("cldc: --scale must be at most 16, got 17");
    expect(fails(["--sampler", "euler"])).toBe("cldc: --sampler must be ddim or ddpm, got 'euler'");
  });
});

describe("cldc sample: end to end", () => {
  it("writes a PNG grid of the right size, byte-identical for the same seed", () => {
    const a = join(dir, "a.png");
    const b = join(dir, "b.png");
    const c = join(dir, "c.png");
    const args = ["--prompt", "a photo of a cat", "--n", "2", "--steps", "2", "--seed", "7"];
    // The first run may JIT-compile the denoise step on a cold shader cache.
    const ra = cldc(["sample", checkpoint, ...args, "-o", a]);
    expect(ra.status, ra.stderr).toBe(0);
    expect(ra.stdout).toMatch(
      /^PretrainInit: [\d,]+ parameters, EMA weights for (\d+) of \1 parameters; \d+ kernels on /m,
    );
    expect(ra.stdout).toMatch(/^sample \(ddim\) \[#+\] 2\/2 /m);
    expect(ra.stdout).toContain(`wrote ${a}: 2 images of 16×16 in a 2×1 grid (152×80, pixels ×4)`);
    const png = decodePngBytes(readFileSync(a));
    // 2 columns × (16 + 2 padding) + 2, 1 row; each pixel a 4×4 block by default.
    expect([png.width, png.height, png.channels]).toEqual([152, 80, 3]);
    // Not a blank image: the two samples have structure.
    const lo = Math.min(...png.data);
    const hi = Math.max(...png.data);
    expect(hi - lo).toBeGreaterThan(0.1);

    const rb = cldc(["sample", checkpoint, ...args, "-o", b]);
    expect(rb.status, rb.stderr).toBe(0);
    expect(readFileSync(b).equals(readFileSync(a))).toBe(true);

    const rc = cldc([
      "sample",
      checkpoint,
      ...args,
      "--seed",
      "8",
      "--sampler",
      "ddpm",
      "--no-ema",
      "--scale",
      "1",
      "-o",
      c,
    ]);
    expect(rc.status, rc.stderr).toBe(0);
    expect(rc.stdout).toContain("raw weights (--no-ema)");
    expect(rc.stdout).toContain(`wrote ${c}: 2 images of 16×16 in a 2×1 grid (38×20);`);
    const pc = decodePngBytes(readFileSync(c));
    expect([pc.width, pc.height]).toEqual([38, 20]);
    expect(readFileSync(c).equals(readFileSync(a))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-") || f.includes(".probe"))).toEqual([]);
  });
});
