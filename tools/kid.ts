// KID between two image sets in the feature space of MobileNetV2's global average pool
// (runtime/features.ts): real emoji images against generated samples.
//
//   npx tsx tools/kid.ts --real octopus,snail --fake samples.png
//   npx tsx tools/kid.ts --real judge-test --fake runs/judge-samples/prompted.png
//
// An image set is named by one of
//   FILE.png          a sample grid written by `cldc sample` (cells of --size pixels, --pad apart)
//   judge-test        the judge's held-out-style images (examples/judge.cld: --min-styles, --hold-out)
//   judge-train       the judge's training images
//   FILE.txt          emoji names, one per line: every style of each
//   NAME,NAME,...     emoji names (kebab-case or captions): every style of each
//
// In-process: `kid(realFeatures, fakeFeatures)` and `kidSubsets(...)`, re-exported here.
import { existsSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { emojiConcepts } from "../data/emoji.ts";
import { emojiItems } from "../runtime/data-sources.ts";
import {
  gridImages,
  kid,
  kidSubsets,
  loadFeatureExtractor,
  resizeCHW,
  type FeatureExtractor,
} from "../runtime/features.ts";
import { readPng } from "../runtime/io/png.ts";

export { kid, kidSubsets, loadFeatureExtractor };

export interface ImageSetOptions {
  /** Side of the images (grid cells; emoji are rendered at this size). Default 32. */
  size?: number;
  /** Grid padding in pixels. Default 2 (what `cldc sample` writes). */
  pad?: number;
  /** Keep only the first n images of a grid. */
  n?: number;
  /** The judge's data settings, for judge-test / judge-train. */
  minStyles?: number;
  holdOut?: string;
}

export interface ImageSet {
  label: string;
  /** RGB CHW images in [0, 1], size × size. */
  images: Float32Array[];
  size: number;
}

/** Resolves an image-set spec (see the file header) to images. */
export function imageSet(spec: string, opts: ImageSetOptions = {}): ImageSet {
  const size = opts.size ?? 32;
  if (spec.toLowerCase().endsWith(".png")) {
    const images = gridImages(readPng(spec), { size, pad: opts.pad ?? 2, n: opts.n });
    return { label: `${spec} (${images.length} samples)`, images, size };
  }
  if (spec === "judge-test" || spec === "judge-train") {
    const split = spec === "judge-test" ? "test" : "train";
    const holdOut = opts.holdOut ?? "twemoji";
    const items = emojiItems({
      split,
      size,
      min_styles: opts.minStyles ?? 7,
      hold_out: holdOut,
    });
    const px = 3 * size * size;
    const images = Array.from({ length: items.n }, (_, i) =>
      items.x.slice(i * px, (i + 1) * px).map((v) => (v + 1) / 2),
    );
    return {
      label: `${spec}: ${items.n} images of ${items.concepts.length} names (${split === "test" ? "only" : "all but"} ${holdOut})`,
      images,
      size,
    };
  }
  let names: string[];
  if (spec.toLowerCase().endsWith(".txt") && existsSync(spec)) {
    names = readFileSync(spec, "utf8").split("\n");
  } else {
    names = spec.split(",");
  }
  names = names.map((s) => s.trim().replace(/\s+/g, "-")).filter(Boolean);
  if (names.length === 0) throw new Error(`no emoji names in '${spec}'`);
  const concepts = emojiConcepts({ size, include: names, excludeReserved: false });
  const images = concepts.flatMap((c) => c.images.map((im) => im.pixels));
  return {
    label: `${names.length === 1 ? names[0] : `${names.length} names`}: ${images.length} real images, every style`,
    images,
    size,
  };
}

/** Features of a set (upsampled to the network input inside the extractor). */
export async function setFeatures(fx: FeatureExtractor, set: ImageSet): Promise<Float32Array[]> {
  return fx.features(set.images, 3, set.size);
}

/** Makes two sets the same size (the smaller side), for sets rendered at different sizes. */
export function sameSize(a: ImageSet, b: ImageSet): [ImageSet, ImageSet] {
  if (a.size === b.size) return [a, b];
  const to = Math.min(a.size, b.size);
  const fit = (s: ImageSet): ImageSet =>
    s.size === to
      ? s
      : { ...s, images: s.images.map((im) => resizeCHW(im, 3, s.size, to)), size: to };
  return [fit(a), fit(b)];
}

const USAGE = `usage: npx tsx tools/kid.ts --real SET --fake SET [--size 32] [--fake-size S] [--pad 2] [--n N]
                           [--subsets 100] [--subset-size 1000] [--seed 0] [--min-styles 7] [--hold-out twemoji]
SET: FILE.png (a sample grid), judge-test, judge-train, FILE.txt (emoji names) or NAME,NAME,... (emoji names)`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      real: { type: "string" },
      fake: { type: "string" },
      size: { type: "string" },
      "fake-size": { type: "string" },
      pad: { type: "string" },
      n: { type: "string" },
      subsets: { type: "string" },
      "subset-size": { type: "string" },
      seed: { type: "string" },
      "min-styles": { type: "string" },
      "hold-out": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !values.real || !values.fake) {
    console.error(USAGE);
    return values.help ? 0 : 1;
  }
  const int = (v: string | undefined, d: number) => {
    if (v === undefined) return d;
    const x = Number(v);
    if (!Number.isInteger(x)) throw new Error(`expected an integer, got '${v}'`);
    return x;
  };
  const size = int(values.size, 32);
  const common = {
    pad: int(values.pad, 2),
    minStyles: int(values["min-styles"], 7),
    holdOut: values["hold-out"] ?? "twemoji",
  };
  let real = imageSet(values.real, { ...common, size });
  let fake = imageSet(values.fake, {
    ...common,
    size: int(values["fake-size"], size),
    n: values.n === undefined ? undefined : int(values.n, 0),
  });
  [real, fake] = sameSize(real, fake);
  console.log(`real: ${real.label}`);
  console.log(`fake: ${fake.label}`);
  const fx = await loadFeatureExtractor();
  console.log(
    `MobileNetV2 (nsfwjs) on tfjs-${fx.backend}: loaded in ${fx.loadSeconds.toFixed(1)} s`,
  );
  const t0 = performance.now();
  const fr = await setFeatures(fx, real);
  const ff = await setFeatures(fx, fake);
  const secs = (performance.now() - t0) / 1000;
  const count = real.images.length + fake.images.length;
  console.log(
    `features of ${count} images in ${secs.toFixed(1)} s (${((1000 * secs) / count).toFixed(0)} ms per image)`,
  );
  const full = kid(fr, ff);
  const sub = kidSubsets(fr, ff, {
    subsets: int(values.subsets, 100),
    size: values["subset-size"] === undefined ? undefined : int(values["subset-size"], 1000),
    seed: int(values.seed, 0),
  });
  console.log(`KID ×10³ (all ${fr.length} × ${ff.length}): ${(1000 * full).toFixed(3)}`);
  console.log(
    `KID ×10³ (${sub.subsets} subsets of ${sub.size}): ${(1000 * sub.mean).toFixed(3)} ± ${(1000 * sub.std).toFixed(3)}`,
  );
  fx.dispose();
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: Error) => {
      console.error(`kid: ${e.message}`);
      process.exitCode = 1;
    },
  );
}
