// The judge: a concept classifier (examples/judge.cld) trained on real emoji, loaded from
// its checkpoint to classify images by name.
import type { HostState } from "../../runtime/checkpoint.ts";
import { emojiItems } from "../../runtime/data-sources.ts";
import { resizeCHW } from "../../runtime/features.ts";
import type { Gpu } from "../../runtime/gpu.ts";
import { inputBuffer, openCheckpoint, type OpenedCheckpoint } from "./checkpoint.ts";

/** The judge's host-fed step: classify(x: [classify_batch, 3, S, S]) -> logits. */
const JUDGE_STEP = "classify";
const JUDGE_BATCH = "classify_batch";

export class Judge {
  private constructor(
    private readonly ck: OpenedCheckpoint,
    /** Concept names in label order (the judge's training data). */
    readonly names: string[],
    readonly captions: string[],
    readonly batch: number,
    readonly size: number,
    /** The judge's emoji data arguments (min_styles, hold_out, ...). */
    readonly data: Record<string, number | string | boolean>,
  ) {}

  static async load(gpu: Gpu, ckPath: string, batch = 32): Promise<Judge> {
    const ck = await openCheckpoint(gpu, ckPath, JUDGE_STEP, {
      overrides: { [JUDGE_BATCH]: String(batch) },
    });
    const x = inputBuffer(ck.compiled, JUDGE_STEP, "x");
    if (
      x.shape.length !== 4 ||
      x.shape[0] !== batch ||
      x.shape[1] !== 3 ||
      x.shape[2] !== x.shape[3]
    )
      throw new Error(
        `the judge's ${JUDGE_STEP} step takes x [${x.shape.join(", ")}], expected [${batch}, 3, S, S]`,
      );
    const spec = [...ck.compiled.program.data.values()].find(
      (d) => d.source === "emoji" && d.args.split === "train",
    );
    if (!spec)
      throw new Error(`the judge program ${ck.state.program} reads no emoji training data`);
    const concepts = emojiItems(spec.args).concepts;
    const ret = ck.compiled.steps.get(JUDGE_STEP)!.plan.outputs.find((o) => o.name === "return");
    const classes = ret
      ? ck.compiled.steps.get(JUDGE_STEP)!.plan.buffers[ret.buffer].bytes / 4 / batch
      : 0;
    if (classes !== concepts.length)
      throw new Error(
        `the judge has ${classes} outputs but its data has ${concepts.length} names; retrain it with classes = ${concepts.length}`,
      );
    return new Judge(
      ck,
      concepts.map((c) => c.name),
      concepts.map((c) => c.caption),
      batch,
      x.shape[2],
      spec.args,
    );
  }

  get state(): HostState {
    return this.ck.state;
  }

  /** Logits for RGB CHW images in [0, 1] (any square size; resized to the judge's). */
  async logits(images: readonly Float32Array[]): Promise<Float32Array[]> {
    const px = 3 * this.size * this.size;
    const out: Float32Array[] = [];
    for (let s = 0; s < images.length; s += this.batch) {
      const x = new Float32Array(this.batch * px);
      const part = images.slice(s, s + this.batch);
      part.forEach((img, i) => {
        const side = Math.round(Math.sqrt(img.length / 3));
        const fit = side === this.size ? img : resizeCHW(img, 3, side, this.size);
        for (let k = 0; k < px; k++) x[i * px + k] = fit[k] * 2 - 1;
      });
      const r = (await this.ck.session.invoke(JUDGE_STEP, new Map([["x", x]]))).get("return")!;
      const c = this.names.length;
      for (let i = 0; i < part.length; i++)
        out.push(Float32Array.from(r.subarray(i * c, (i + 1) * c)));
    }
    return out;
  }

  /** Held-out-style (test split) real images of the judge's data, with labels. */
  heldOut(): { images: Float32Array[]; labels: number[] } {
    const items = emojiItems({ ...this.data, split: "test" });
    const px = 3 * items.size * items.size;
    const images = Array.from({ length: items.n }, (_, i) =>
      items.x.slice(i * px, (i + 1) * px).map((v) => (v + 1) / 2),
    );
    return { images, labels: [...items.y] };
  }
}
