// The emoji corpus: the same emoji drawn by several artists (icon sets) is one concept.
// Icons are grouped across sets by a canonical kebab-case CLDR name, which also gives a
// free caption ("face-with-tears-of-joy" → "face with tears of joy").
//
// Set quirks handled here:
// - streamline-emojis numbers its variants ("cactus-1", "cactus-2"): both are "cactus".
// - fxemoji writes names without hyphens ("circustent"): mapped to the hyphenated name
//   used by the other sets, else split into known words, else dropped (no usable caption).
//   Such compact names are also checked for reserved names as plain substrings, because
//   "dromedarycamel" has no word boundaries to test.

import {
  EMOJI_SETS,
  type EmojiSet,
  assertEmojiSet,
  iconNames,
  loadIconSet,
  u8ToFloat,
} from "./emoji-render.ts";
import { EmojiRasterCache } from "./emoji-cache.ts";
import { isReserved, isReservedCompact } from "./reserved.ts";

export { EMOJI_SETS, type EmojiSet, renderIcon, iconSvg } from "./emoji-render.ts";

export interface EmojiImage {
  set: EmojiSet;
  /** The icon's own name inside its set (before canonicalization). */
  icon: string;
  /** CHW float32 [3, size, size] in [0, 1], composited on white. */
  pixels: Float32Array;
}

export interface EmojiConcept {
  name: string;
  caption: string;
  images: EmojiImage[];
}

export interface IconRef {
  set: EmojiSet;
  icon: string;
  name: string;
  reserved: boolean;
}

export function emojiCaption(name: string): string {
  return name.split("-").filter(Boolean).join(" ");
}

const KEBAB_SETS = EMOJI_SETS.filter((s) => s !== "fxemoji");

function stripVariant(set: EmojiSet, raw: string): string {
  if (set !== "streamline-emojis") return raw;
  const m = /^(.+?)-\d+$/.exec(raw);
  return m ? m[1] : raw;
}

interface Vocab {
  compact: Map<string, string>;
  words: Set<string>;
}
let vocab: Vocab | undefined;

/** Names and words of the hyphen-separated sets, to decode fxemoji's compact names. */
function knownVocab(): Vocab {
  if (vocab) return vocab;
  const compact = new Map<string, string>();
  const words = new Set<string>();
  for (const set of KEBAB_SETS) {
    for (const raw of iconNames(set)) {
      const name = stripVariant(set, raw);
      const key = name.replace(/-/g, "");
      if (!compact.has(key)) compact.set(key, name);
      for (const w of name.split("-")) if (w.length >= 2) words.add(w);
    }
  }
  vocab = { compact, words };
  return vocab;
}

/** Split a compact name into the fewest known words, or undefined. */
function segment(raw: string, words: Set<string>): string[] | undefined {
  if (raw.length > 64) return undefined;
  const best: (string[] | undefined)[] = [[]];
  for (let end = 1; end <= raw.length; end++) {
    for (let start = 0; start < end; start++) {
      const prev = best[start];
      const w = raw.slice(start, end);
      if (prev && words.has(w) && (!best[end] || best[end]!.length > prev.length + 1)) {
        best[end] = [...prev, w];
      }
    }
  }
  return best[raw.length];
}

/** Canonical name of a raw icon name, and whether it came from a compact name. */
function canonical(set: EmojiSet, raw: string): { name?: string; compact: boolean } {
  if (set !== "fxemoji" || raw.includes("-"))
    return { name: stripVariant(set, raw), compact: false };
  const v = knownVocab();
  const exact = v.compact.get(raw);
  if (exact) return { name: exact, compact: false };
  const parts = segment(raw, v.words);
  return { name: parts?.join("-"), compact: true };
}

const indexBySet = new Map<EmojiSet, IconRef[]>();

/** Every usable icon of a set with its canonical name and reserved flag (no rendering). */
export function setIndex(set: EmojiSet): IconRef[] {
  assertEmojiSet(set);
  let refs = indexBySet.get(set);
  if (refs) return refs;
  const j = loadIconSet(set);
  refs = [];
  for (const icon of iconNames(set).sort()) {
    const c = canonical(set, icon);
    if (!c.name) continue;
    let reserved = isReserved(c.name) || (c.compact && isReservedCompact(icon));
    // An alias must not smuggle in a reserved parent's drawing under another name.
    const parent = j.aliases?.[icon]?.parent;
    if (parent !== undefined) {
      const p = canonical(set, parent);
      reserved ||= isReserved(p.name ?? "") || (p.compact && isReservedCompact(parent));
    }
    refs.push({ set, icon, name: c.name, reserved });
  }
  indexBySet.set(set, refs);
  return refs;
}

export interface EmojiNameInfo {
  name: string;
  caption: string;
  reserved: boolean;
  /** Number of images (a set may contribute several numbered variants). */
  styles: number;
  sets: EmojiSet[];
}

/** All names across the given sets with their style counts, sorted by name. */
export function emojiNames(sets: readonly EmojiSet[] = EMOJI_SETS): EmojiNameInfo[] {
  const by = new Map<string, EmojiNameInfo>();
  for (const set of sets) {
    for (const r of setIndex(set)) {
      let info = by.get(r.name);
      if (!info) {
        info = {
          name: r.name,
          caption: emojiCaption(r.name),
          reserved: false,
          styles: 0,
          sets: [],
        };
        by.set(r.name, info);
      }
      info.reserved ||= r.reserved;
      info.styles++;
      if (!info.sets.includes(r.set)) info.sets.push(r.set);
    }
  }
  return [...by.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface EmojiConceptOptions {
  /** Raster side in pixels (32 to 64 is typical). */
  size: number;
  sets?: readonly EmojiSet[];
  /** Only these names, returned in this order (all must exist). */
  include?: readonly string[];
  /** Drop every reserved name (required for anything used in pre-training). */
  excludeReserved: boolean;
  /** Keep only names with at least this many images. Default 1. */
  minStyles?: number;
  /** Override the raster cache directory (tests). */
  cacheDir?: string;
}

/** Concepts with their rendered images (from the disk cache where possible). */
export function emojiConcepts(opts: EmojiConceptOptions): EmojiConcept[] {
  const sets = opts.sets ?? EMOJI_SETS;
  sets.forEach(assertEmojiSet);
  const groups = new Map<string, IconRef[]>();
  for (const set of sets) {
    for (const r of setIndex(set)) {
      if (opts.excludeReserved && r.reserved) continue;
      const g = groups.get(r.name);
      if (g) g.push(r);
      else groups.set(r.name, [r]);
    }
  }
  let names: string[];
  if (opts.include) {
    for (const n of opts.include) {
      if (opts.excludeReserved && isReserved(n)) {
        throw new Error(`emojiConcepts: "${n}" is reserved but excludeReserved is set`);
      }
      if (!groups.has(n))
        throw new Error(`unknown concept: no emoji named "${n}" in sets ${sets.join(", ")}`);
    }
    names = [...opts.include];
  } else {
    names = [...groups.keys()].sort();
  }
  const minStyles = opts.minStyles ?? 1;
  names = names.filter((n) => groups.get(n)!.length >= minStyles);
  // Render set by set so each set's cache file is written once.
  const pixels = new Map<IconRef, Float32Array>();
  for (const set of sets) {
    const wanted = names.flatMap((n) => groups.get(n)!.filter((r) => r.set === set));
    if (wanted.length === 0) continue;
    const cache = new EmojiRasterCache(set, opts.size, opts.cacheDir);
    for (const r of wanted) pixels.set(r, u8ToFloat(cache.get(r.icon)));
    cache.save();
  }
  return names.map((name) => ({
    name,
    caption: emojiCaption(name),
    images: groups.get(name)!.map((r) => ({ set: r.set, icon: r.icon, pixels: pixels.get(r)! })),
  }));
}

/**
 * The pre-training corpus: every non-reserved emoji concept. Reserved names are dropped
 * by the index and checked again here, so a bug upstream fails loudly instead of leaking
 * an evaluation concept into the base model.
 */
export function pretrainCorpus(
  opts: Omit<EmojiConceptOptions, "excludeReserved" | "include">,
): EmojiConcept[] {
  const concepts = emojiConcepts({ ...opts, excludeReserved: true });
  for (const c of concepts) {
    if (isReserved(c.name))
      throw new Error(`pretrainCorpus: reserved concept "${c.name}" leaked in`);
    for (const img of c.images) {
      const compact = img.set === "fxemoji" && !img.icon.includes("-");
      const exact = compact && knownVocab().compact.get(img.icon) === c.name;
      if (isReserved(img.icon) || (compact && !exact && isReservedCompact(img.icon))) {
        throw new Error(
          `pretrainCorpus: reserved icon ${img.set}:${img.icon} leaked in as "${c.name}"`,
        );
      }
    }
  }
  return concepts;
}
