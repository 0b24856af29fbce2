// The text side of the emoji corpus: one fixed vocabulary for every program and checkpoint
// (all non-reserved captions, prompt words, and slots for learned concept tokens), so a
// base model and every customization of it agree on token ids.
import { emojiNames } from "./emoji.ts";
import { Tokenizer } from "./tokenizer.ts";

export const MAX_TOKENS = 10;
/** Learned-concept tokens `<v1>`..`<vN>` reserved in every vocabulary. */
export const CONCEPT_SLOTS = 32;
const PROMPT_WORDS = ["a", "photo", "of", "and", "an", "emoji", "picture"];

let cached: Tokenizer | null = null;

/** Captions of the names the corpus uses: non-reserved, short enough to encode. */
export function corpusCaptions(): string[] {
  return emojiNames()
    .filter((n) => !n.reserved && n.caption.split(" ").length + 2 <= MAX_TOKENS)
    .map((n) => n.caption);
}

export function emojiTokenizer(): Tokenizer {
  if (cached) return Tokenizer.fromJSON(cached.toJSON());
  const t = Tokenizer.fromCaptions([...corpusCaptions(), PROMPT_WORDS.join(" ")]);
  for (let i = 1; i <= CONCEPT_SLOTS; i++) t.addToken(`<v${i}>`);
  cached = t;
  return Tokenizer.fromJSON(t.toJSON());
}
