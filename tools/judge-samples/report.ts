// The Markdown report of tools/judge-samples.ts: the score table with the prompt-vs-no-prompt
// ratio, the optional KID line, and the optional saved sample grids.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { emojiItems } from "../../runtime/data-sources.ts";
import { kid, loadFeatureExtractor, resizeCHW } from "../../runtime/features.ts";
import { imageGrid, writePng } from "../../runtime/io/png.ts";
import { gridShape } from "../../runtime/sampler.ts";
import type { Judge } from "./judge.ts";
import type { Samples, Scored } from "./sampling.ts";

/** The report's first lines: what was judged, the score table and the prompt's effect. */
export function scoreTable(judgePath: string, judge: Judge, how: string, s: Scored): string[] {
  const c = judge.names.length;
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const md: string[] = [];
  md.push(
    `Judge ${judgePath} (${c} names; chance top-1 ${pct(1 / c)}, top-5 ${pct(Math.min(1, 5 / c))}); ${how}.`,
  );
  md.push("");
  md.push("| images | n | top-1 | top-5 |");
  md.push("| --- | ---: | ---: | ---: |");
  for (const [label, r] of s.rows)
    md.push(`| ${label} | ${r.n} | ${pct(r.top1)} | ${pct(r.top5)} |`);
  const base = s.baseline;
  const ps = s.prompted;
  if (base) {
    const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}×` : a > 0 ? "∞" : "—");
    md.push("");
    md.push(
      `Prompt vs. no prompt: top-1 ${ratio(ps.top1, base.top1)}, top-5 ${ratio(ps.top5, base.top5)} (the issue asks for ≥ 5×).`,
    );
  }
  return md;
}

/** KID of the samples against every real image (all styles) of the evaluated names. */
export async function kidLines(judge: Judge, samples: Samples, s: Scored): Promise<string[]> {
  const { prompted, unconditional } = samples;
  const md: string[] = [];
  const fx = await loadFeatureExtractor();
  const realAll = emojiItems({ ...judge.data, split: "train" });
  const px = 3 * realAll.size * realAll.size;
  const realImgs: Float32Array[] = [];
  for (let i = 0; i < realAll.n; i++)
    if (s.selected.has(realAll.y[i]))
      realImgs.push(realAll.x.slice(i * px, (i + 1) * px).map((v) => (v + 1) / 2));
  realImgs.push(...s.real.images);
  const fit = (imgs: Float32Array[]) =>
    imgs.map((im) => {
      const side = Math.round(Math.sqrt(im.length / 3));
      return side === realAll.size ? im : resizeCHW(im, 3, side, realAll.size);
    });
  const tk = performance.now();
  const fr = await fx.features(realImgs);
  const fp = await fx.features(fit(prompted.images));
  const fu = unconditional ? await fx.features(fit(unconditional.images)) : null;
  const count = fr.length + fp.length + (fu?.length ?? 0);
  const ms = (performance.now() - tk) / count;
  md.push("");
  md.push(
    `KID ×10³ against the ${fr.length} real images (every style) of these names, MobileNetV2 features (${ms.toFixed(0)} ms per image): ` +
      `prompted ${(1000 * kid(fr, fp)).toFixed(2)}` +
      (fu ? `, empty prompt ${(1000 * kid(fr, fu)).toFixed(2)}` : "") +
      ".",
  );
  fx.dispose();
  return md;
}

/** Writes the samples as grids and their labels into `dir`; returns the report's note. */
export function saveSamples(dir: string, judge: Judge, samples: Samples): string[] {
  const { prompted, unconditional } = samples;
  const md: string[] = [];
  mkdirSync(dir, { recursive: true });
  const save = (file: string, imgs: Float32Array[], size: number) => {
    const { rows: r, cols } = gridShape(imgs.length);
    const g = imageGrid(imgs, { rows: r, cols, size });
    writePng(join(dir, file), g.data, g.width, g.height);
  };
  const side = (imgs: Float32Array[]) => Math.round(Math.sqrt(imgs[0].length / 3));
  save("prompted.png", prompted.images, side(prompted.images));
  if (unconditional) save("unconditional.png", unconditional.images, side(unconditional.images));
  writeFileSync(
    join(dir, "labels.txt"),
    prompted.labels.map((y) => judge.names[y]).join("\n") + "\n",
  );
  md.push("");
  md.push(
    `Samples saved in ${dir}/ (prompted.png, unconditional.png, labels.txt: one name per image, row-major).`,
  );
  return md;
}
