// C-LoRA end to end on a tiny base model: weights load from the base checkpoint, only the
// adapters and the learned tokens' embedding rows change, the forget loss is zero in the
// first task and positive once a past exists.
import { describe, expect, it } from "vitest";
import { emojiTokenizer } from "../../data/emoji-text.ts";
import { useGpu } from "../gpu-fixture.ts";
import { runDir, session, train } from "./helpers.ts";

const gpu = useGpu();

describe("C-LoRA", () => {
  it("learns two concepts from a base without touching the base weights", async () => {
    const baseDir = runDir();
    await train(gpu(), "test/fixtures/sample/pretrain-init.cld", {}, { runDir: baseDir });
    const base = await (
      await import("../../runtime/checkpoint.ts")
    ).loadCheckpoint(`${baseDir}/checkpoint.safetensors`)!;
    const t = session(
      gpu(),
      "examples/clora.cld",
      {
        base: `${baseDir}/checkpoint.safetensors`,
        ch: "8",
        text_dim: "16",
        size: "16",
        tasks: "2",
        steps: "3",
        batch: "2",
        names: "octopus,snail",
        sample_batch: "4",
      },
      { runDir: runDir() },
    );
    await t.session.start();
    await t.session.run();
    expect(t.lines.some((l) => /^loaded \d+ tensors from /.test(l))).toBe(true);
    const forget = t.logs.map((l) => l.get("forget")!);
    expect(forget.slice(0, 3).every((f) => f === 0)).toBe(true);
    expect(forget[forget.length - 1]).toBeGreaterThan(0);

    const after = await t.session.store.readAll();
    const ema = (n: string) => base!.tensors.get(`opt.ema.${n}`)!;
    // The U-Net's own weights are the base's (EMA) weights, untouched.
    // (SpatialTransformer's `s = s + CrossAttention(...)` names the cross-attention scope s_1.)
    for (const name of ["unet.h0.w", "unet.h2.s_1.wk", "unet.h2.s_1.wv", "unet.mid.s_1.wv"]) {
      expect(ema(name), name).toBeDefined();
      expect(after.get(name), name).toEqual(ema(name));
    }
    // The token table: only the rows of <v1> and <v2> moved.
    const tok = emojiTokenizer();
    const rows = new Set([tok.tokenize("<v1>")[0], tok.tokenize("<v2>")[0]]);
    const before = ema("text.tok");
    const now = after.get("text.tok")!;
    const D = 16;
    for (let r = 0; r < before.length / D; r++) {
      const same = now.slice(r * D, (r + 1) * D).every((v, k) => v === before[r * D + k]);
      expect(same, `row ${r}`).toBe(!rows.has(r));
    }
    // Two merges: the past sum holds both tasks' updates.
    const past = after.get("kv.past.unet.h2.s_1.wk")!;
    expect(after.has("kv.past.unet.h2.s.wk")).toBe(false); // self-attention is not adapted
    expect(past.some((v) => v !== 0)).toBe(true);
  });
});
