// The `concept_images` data source: the real images of a list of concepts (built-in emoji
// or folders of the user's own images), labelled by their position in the list, for training the classifier `cldc eval` scores samples with
// (examples/concept_judge.cld). One artist style (`hold_out`) can be kept out of training
// and form the test split, so the classifier's accuracy is measured on drawings it never
// saw — leave-one-artist-out.
import type { DataSpec } from "../../compiler/elab/program.ts";
import { BatchSource, imageAugment } from "../../data/batches.ts";
import { conceptFolder, resolveConcepts } from "../../data/concept-list.ts";
import { emojiConcepts } from "../../data/emoji.ts";
import type { DataRuntime } from "../data-sources.ts";
import { labelledRuntime } from "../labelled-runtime.ts";

/** The comma-separated concept names of a data source's `names` argument. */
export function conceptNames(arg: unknown): string[] {
  return String(arg)
    .split(",")
    .map((n) => n.trim())
    .filter(Boolean);
}

export interface ConceptImages {
  /** [n, 3, size, size] in [-1, 1]. */
  x: Float32Array;
  y: Int32Array;
  /** The artist style of each image (`own` for a folder's images). */
  sets: string[];
  n: number;
  size: number;
}

/** The style name of a user's folder images, which have no artist. */
export const FOLDER_STYLE = "own";

interface Picture {
  pixels: Float32Array;
  set: string;
  /** In the test split as well as the training one (a folder's only image). */
  both?: boolean;
}

/**
 * Every image of the named concepts — built-in emoji or folders of the user's own images
 * (entries as in a `concepts` data source) — or only (test) / all but (train) the
 * `holdOut` style. A folder has no artist to hold out: its last image (in file-name order)
 * stands in for the held-out drawing, so every concept has one test image; a folder of one
 * image lends it to both splits.
 */
export function conceptImages(
  names: string[],
  size: number,
  split: "train" | "test" | "all" = "all",
  holdOut = "",
): ConceptImages {
  const entries = resolveConcepts(names.join(","), size);
  const emojiNames = entries.flatMap((e) => (e.kind === "emoji" ? [e.name] : []));
  const emoji = new Map(
    emojiConcepts({ size, include: emojiNames, excludeReserved: false }).map((c) => [c.name, c]),
  );
  const keep: { ci: number; im: Picture }[] = [];
  entries.forEach((e, ci) => {
    const pictures: Picture[] =
      e.kind === "emoji"
        ? emoji.get(e.name)!.images
        : conceptFolder(e, size).images.map((im, k, all) => ({
            pixels: im.pixels,
            set: holdOut && k === all.length - 1 && all.length > 1 ? holdOut : FOLDER_STYLE,
            both: holdOut !== "" && all.length === 1,
          }));
    for (const im of pictures) {
      const inTest = im.set === holdOut || !!im.both;
      const inTrain = im.set !== holdOut;
      if (split === "all" || (split === "test" ? inTest : inTrain)) keep.push({ ci, im });
    }
  });
  const px = 3 * size * size;
  const x = new Float32Array(keep.length * px);
  const y = new Int32Array(keep.length);
  keep.forEach(({ ci, im }, i) => {
    for (let k = 0; k < px; k++) x[i * px + k] = im.pixels[k] * 2 - 1;
    y[i] = ci;
  });
  return { x, y, sets: keep.map((k) => k.im.set), n: keep.length, size };
}

export function openConceptImages(spec: DataSpec): DataRuntime {
  const a = spec.args;
  const split = a.split as "train" | "test";
  const holdOut = a.hold_out as string;
  const items = conceptImages(conceptNames(a.names), a.size as number, split, holdOut);
  if (items.n === 0)
    throw new Error(
      `concept_images(split: "${split}", hold_out: "${holdOut}"): no images${split === "test" ? " (name an artist style in hold_out, e.g. twemoji)" : ""}`,
    );
  const src = new BatchSource({
    n: items.n,
    fields: {
      x: { data: items.x, shape: [3, items.size, items.size] },
      y: { data: items.y, shape: [] },
    },
    batch: a.batch as number,
    shuffle: a.shuffle as boolean,
    seed: a.seed as number,
    augment: split === "train" ? { x: imageAugment({ flip: true }) } : undefined,
  });
  return labelledRuntime(src, items.n);
}
