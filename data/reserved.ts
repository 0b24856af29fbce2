// Concepts that must never appear in any pre-training data (see shared/DATA.md): they are
// the continual-customization sequences we demo and evaluate on, so the base model must
// not have seen them under any caption.

/** Exactly the 40 reserved names, in DATA.md order (first ten = default sequence). */
export const RESERVED = [
  "octopus",
  "snail",
  "koala",
  "crocodile",
  "mushroom",
  "cactus",
  "saxophone",
  "microscope",
  "sailboat",
  "moai",
  "honeybee",
  "guitar",
  "tractor",
  "helicopter",
  "lemon",
  "snake",
  "violin",
  "rocket",
  "telescope",
  "turtle",
  "anchor",
  "ambulance",
  "bathtub",
  "bicycle",
  "camel",
  "dolphin",
  "elephant",
  "fountain",
  "grapes",
  "kimono",
  "lipstick",
  "penguin",
  "pineapple",
  "radio",
  "scroll",
  "sushi",
  "tent",
  "trumpet",
  "watch",
  "wrench",
] as const;

export type ReservedName = (typeof RESERVED)[number];

const RESERVED_SET: ReadonlySet<string> = new Set(RESERVED);

/** The default concept sequence for demos and benchmarks: the first ten reserved names. */
export function defaultConceptSequence(): ReservedName[] {
  return RESERVED.slice(0, 10);
}

/** A word names a reserved concept itself or its plain plural (`no-bicycles` shows a bicycle). */
function reservedWord(w: string): boolean {
  return (
    RESERVED_SET.has(w) ||
    (w.endsWith("s") && RESERVED_SET.has(w.slice(0, -1))) ||
    (w.endsWith("es") && RESERVED_SET.has(w.slice(0, -2)))
  );
}

/**
 * True when a kebab-case name is a reserved name or contains one (or its plural) as a
 * whole word: `snake`, `water-snake`, `no-bicycles` → true; `snakeskin`, `stopwatch`,
 * `radioactive` → false (other concepts that merely share letters).
 */
export function isReserved(name: string): boolean {
  return name.toLowerCase().split("-").some(reservedWord);
}

/**
 * Conservative check for names WITHOUT word boundaries (e.g. fxemoji's
 * `dromedarycamel`, `circustent`): any reserved name as a substring counts, because we
 * cannot tell words apart there.
 */
export function isReservedCompact(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED.some((r) => lower.includes(r));
}

/** The reserved name(s) that make `name` reserved (for error messages). */
export function reservedWordsIn(name: string): string[] {
  return name.toLowerCase().split("-").filter(reservedWord);
}
