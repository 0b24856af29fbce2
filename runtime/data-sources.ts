// Host-side loaders for the data sources a program declares. Each produces batches whose
// fields match the compile-time schema (compiler/elab/datasources.ts).
import type { DataSpec } from "../compiler/elab/program.ts";
import { BatchSource, imageAugment, type BatchState } from "../data/batches.ts";
import { conceptFolder, folderCropPad, resolveConcepts } from "../data/concept-list.ts";
import { emojiConcepts, pretrainCorpus } from "../data/emoji.ts";
import { corpusCaptions, emojiTokenizer, MAX_TOKENS } from "../data/emoji-text.ts";
import { hashSeed } from "../data/rng.ts";
import { hashU32 } from "../compiler/ops/source.ts";
import { loadFashionMnist } from "../data/fashion.ts";
import { mnistSplit } from "../data/mnist.ts";
import type { HostTensor } from "./executor.ts";
import { labelledRuntime } from "./labelled-runtime.ts";
import { openConceptImages } from "./eval/concept-images.ts";

export interface HostBatch {
  fields: Map<string, HostTensor>;
  /** Real items in the batch (an evaluation epoch's last batch may be padded). */
  count: number;
}

export interface DataRuntime {
  next(): HostBatch;
  epoch(): Generator<HostBatch>;
  state(): BatchState;
  restore(s: BatchState): void;
  size: number;
  /**
   * For concept sequences (run command `select`): make concept `t` the current one, or, for
   * a range [a, b), the mixture of concepts a..b-1.
   */
  select?(t: number | [number, number]): void;
  /** One-line facts for the training log (e.g. how a concept folder was resized). */
  notices?: string[];
}

export function openData(spec: DataSpec): DataRuntime {
  if (spec.source === "emoji") return openEmoji(spec);
  if (spec.source === "concepts") return openConcepts(spec);
  if (spec.source === "concept_images") return openConceptImages(spec);
  const batch = spec.args.batch as number;
  let images: Float32Array;
  let labels: Int32Array;
  let n: number;
  if (spec.source === "mnist") {
    ({ images, labels, n } = mnistSplit(spec.args.split as "train" | "test"));
  } else if (spec.source === "fashion_mnist") {
    ({ images, labels, n } = loadFashionMnist(spec.args.split as "train" | "test"));
  } else {
    throw new Error(`no loader for data source '${spec.source}'`);
  }
  const src = new BatchSource({
    n,
    fields: { x: { data: images, shape: [1, 28, 28] }, y: { data: labels, shape: [] } },
    batch,
    shuffle: spec.args.shuffle as boolean,
    seed: spec.args.seed as number,
  });
  return labelledRuntime(src, n);
}

/** Images and captions of the emoji corpus, as (x in [-1, 1], tokens, concept index). */
export function emojiItems(args: Record<string, number | string | boolean>) {
  const size = args.size as number;
  const holdOut = args.hold_out as string;
  const tok = emojiTokenizer();
  const allowed = new Set(corpusCaptions());
  const concepts = pretrainCorpus({ size, minStyles: args.min_styles as number }).filter((c) =>
    allowed.has(c.caption),
  );
  const px = 3 * size * size;
  const keep = concepts.flatMap((c, ci) =>
    c.images
      .filter((im) => (args.split === "test" ? im.set === holdOut : im.set !== holdOut))
      .map((im) => ({ c, ci, im })),
  );
  if (keep.length === 0)
    throw new Error(`emoji(${args.split}${holdOut ? `, hold_out: "${holdOut}"` : ""}): no images`);
  const x = new Float32Array(keep.length * px);
  const tokens = new Int32Array(keep.length * MAX_TOKENS);
  const y = new Int32Array(keep.length);
  keep.forEach(({ c, ci, im }, i) => {
    for (let k = 0; k < px; k++) x[i * px + k] = im.pixels[k] * 2 - 1;
    tokens.set(tok.encode(c.caption, MAX_TOKENS), i * MAX_TOKENS);
    y[i] = ci;
  });
  return { x, tokens, y, n: keep.length, concepts, tokenizer: tok, size };
}

function openEmoji(spec: DataSpec): DataRuntime {
  const a = spec.args;
  const items = emojiItems(a);
  const src = new BatchSource({
    n: items.n,
    fields: {
      x: { data: items.x, shape: [3, items.size, items.size] },
      tokens: { data: items.tokens, shape: [MAX_TOKENS] },
      y: { data: items.y, shape: [] },
    },
    batch: a.batch as number,
    shuffle: a.shuffle as boolean,
    seed: a.seed as number,
    augment: a.split === "train" ? { x: imageAugment({ flip: true }) } : undefined,
  });
  const empty = items.tokenizer.encode("", MAX_TOKENS);
  const drop = a.drop_caption as number;
  let draws = 0;
  const wrap = (
    b: { x: Float32Array; tokens: Int32Array; y: Int32Array; count: number },
    train: boolean,
  ): HostBatch => {
    const tokens = b.tokens;
    if (train && drop > 0) {
      // Classifier-free guidance: some captions become empty, deterministically per draw.
      const rows = tokens.length / MAX_TOKENS;
      for (let r = 0; r < rows; r++) {
        if (hashU32((hashSeed(a.seed as number, draws) ^ hashU32(r)) >>> 0) / 4294967296 < drop)
          tokens.set(empty, r * MAX_TOKENS);
      }
      draws++;
    }
    return {
      fields: new Map<string, HostTensor>([
        ["x", b.x],
        ["tokens", tokens],
        ["y", b.y],
      ]),
      count: b.count,
    };
  };
  return {
    next: () => wrap(src.next(), true),
    *epoch() {
      for (const b of src.epoch({ pad: true })) yield wrap(b, false);
    },
    state: () => ({ ...src.state(), draws }) as BatchState,
    restore: (s) => {
      src.restore(s);
      draws = (s as BatchState & { draws?: number }).draws ?? 0;
    },
    size: items.n,
  };
}

/**
 * One concept at a time from a sequence: all artist styles of the emoji `names[t]` (or the
 * images of a user's folder, with small random crops as well as flips), prompt
 * "a photo of <v{t+1}>" (the class noun is dropped, as in C-LoRA), flips as augmentation.
 * `select(seq, a..b)` mixes concepts a..b-1 in one shuffled stream, each image with its own
 * concept's prompt and token (joint training: the offline upper bound).
 */
function openConcepts(spec: DataSpec): DataRuntime {
  const a = spec.args;
  const size = a.size as number;
  const entries = resolveConcepts(String(a.names), size);
  const tok = emojiTokenizer();
  const px = 3 * size * size;
  const emoji = new Map(
    emojiConcepts({
      size,
      include: entries.filter((e) => e.kind === "emoji").map((e) => e.name),
      excludeReserved: false,
    }).map((c) => [c.name, c]),
  );
  const notices: string[] = [];
  const items = entries.map((e, t) => {
    let pixels: Float32Array[];
    if (e.kind === "emoji") pixels = emoji.get(e.name)!.images.map((im) => im.pixels);
    else {
      const f = conceptFolder(e, size);
      notices.push(f.notice);
      pixels = f.images.map((im) => im.pixels);
    }
    const n = pixels.length;
    const x = new Float32Array(n * px);
    pixels.forEach((p, i) => {
      for (let k = 0; k < px; k++) x[i * px + k] = p[k] * 2 - 1;
    });
    const token = `<v${t + 1}>`;
    const ids = tok.encode(`a photo of ${token}`, MAX_TOKENS);
    const tokens = new Int32Array(n * MAX_TOKENS);
    for (let i = 0; i < n; i++) tokens.set(ids, i * MAX_TOKENS);
    const concept = new Int32Array(n).fill(tok.tokenize(token)[0]);
    return { n, x, tokens, concept, folder: e.kind === "folder" };
  });
  // One stream per selection: a single concept t (key "t", as before mixtures existed, so old
  // checkpoints restore) or a mixture (key "a..b"), created when first selected.
  const sources = new Map<string, BatchSource<ConceptFields>>();
  const open = (picked: number[]) => {
    const parts = picked.map((t) => items[t]);
    const n = parts.reduce((s, p) => s + p.n, 0);
    const cat = <D extends Float32Array | Int32Array>(f: (p: (typeof items)[0]) => D, out: D) => {
      let o = 0;
      for (const p of parts) {
        out.set(f(p), o);
        o += f(p).length;
      }
      return out;
    };
    return new BatchSource<ConceptFields>({
      n,
      fields: {
        x: { data: cat((p) => p.x, new Float32Array(n * px)), shape: [3, size, size] },
        tokens: { data: cat((p) => p.tokens, new Int32Array(n * MAX_TOKENS)), shape: [MAX_TOKENS] },
        concept: { data: cat((p) => p.concept, new Int32Array(n)), shape: [] },
      },
      batch: a.batch as number,
      shuffle: true,
      seed:
        picked.length === 1
          ? hashSeed(a.seed as number, picked[0])
          : hashSeed(a.seed as number, -1, picked[0], picked.length),
      // A user's few photos also get small random crops; emoji-only streams stay as before.
      augment: {
        x: imageAugment({
          flip: true,
          pad: parts.some((p) => p.folder) ? folderCropPad(size) : 0,
        }),
      },
    });
  };
  const source = (key: string) => {
    let s = sources.get(key);
    if (!s) {
      const m = /^(\d+)\.\.(\d+)$/.exec(key);
      const picked = m ? range(Number(m[1]), Number(m[2])) : [Number(key)];
      s = open(picked);
      sources.set(key, s);
    }
    return s;
  };
  let current = "0";
  const wrap = (b: {
    x: Float32Array;
    tokens: Int32Array;
    concept: Int32Array;
    count: number;
  }): HostBatch => ({
    fields: new Map<string, HostTensor>([
      ["x", b.x],
      ["tokens", b.tokens],
      ["concept", b.concept],
    ]),
    count: b.count,
  });
  const inRange = (t: number) => Number.isInteger(t) && t >= 0 && t < items.length;
  return {
    notices,
    next: () => wrap(source(current).next()),
    *epoch() {
      for (const b of source(current).epoch({ pad: true })) yield wrap(b);
    },
    state: () =>
      ({
        epoch: 0,
        cursor: 0,
        current,
        sources: Object.fromEntries([...sources].map(([k, s]) => [k, s.state()])),
      }) as BatchState,
    restore: (st) => {
      const s2 = st as BatchState & {
        current?: number | string;
        sources?: BatchState[] | Record<string, BatchState>;
      };
      current = String(s2.current ?? 0);
      // Older checkpoints stored an array indexed by concept.
      for (const [k, v] of Object.entries(s2.sources ?? {})) source(k).restore(v);
    },
    get size() {
      return source(current).n;
    },
    select: (t) => {
      if (typeof t === "number") {
        if (!inRange(t)) throw new Error(`select: concept ${t} is outside 0..${items.length - 1}`);
        current = String(t);
        return;
      }
      const [from, to] = t;
      if (!inRange(from) || !inRange(to - 1) || to <= from)
        throw new Error(
          `select: ${from}..${to} is empty or reaches outside the concepts 0..${items.length}`,
        );
      current = to - from === 1 ? String(from) : `${from}..${to}`;
    },
  };
}

type ConceptFields = {
  x: { data: Float32Array; shape: number[] };
  tokens: { data: Int32Array; shape: number[] };
  concept: { data: Int32Array; shape: number[] };
};

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}
