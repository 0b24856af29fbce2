// Word-level tokenizer. No pretrained text vocabulary exists offline, so the vocabulary is
// built from the training captions, plus learned concept tokens (`<v1>`) added at run
// time. There is deliberately no <unk>: a prompt word the model never saw would silently
// become noise, so encoding it throws with the closest known words instead.

export class TokenizerError extends Error {
  /** Unknown words of the failing text, each with its closest vocabulary entries. */
  readonly suggestions: Record<string, string[]>;
  constructor(message: string, suggestions: Record<string, string[]> = {}) {
    super(message);
    this.name = "TokenizerError";
    this.suggestions = suggestions;
  }
}

export const PAD = "<pad>";
export const BOS = "<bos>";
export const EOS = "<eos>";
export const SPECIAL_TOKENS = [PAD, BOS, EOS] as const;

const FORMAT = "cld-word-tokenizer";
const CUSTOM_TOKEN = /^<[^\s<>]+>$/;

/** Lowercase, split on whitespace/punctuation; `<...>` tokens stay whole. */
export function splitWords(text: string): string[] {
  return text.toLowerCase().match(/<[^\s<>]+>|[\p{L}\p{N}]+/gu) ?? [];
}

export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

export interface TokenizerJSON {
  format: typeof FORMAT;
  version: 1;
  tokens: string[];
}

export class Tokenizer {
  private readonly tokens: string[];
  private readonly ids = new Map<string, number>();

  private constructor(tokens: string[]) {
    this.tokens = [];
    for (const t of tokens) this.push(t);
  }

  /** Specials first, then every caption word in sorted order (independent of caption order). */
  static fromCaptions(captions: Iterable<string>): Tokenizer {
    const words = new Set<string>();
    for (const c of captions) for (const w of splitWords(c)) words.add(w);
    for (const s of SPECIAL_TOKENS) words.delete(s);
    return new Tokenizer([...SPECIAL_TOKENS, ...[...words].sort()]);
  }

  static fromJSON(json: unknown): Tokenizer {
    const j = json as Partial<TokenizerJSON>;
    if (!j || j.format !== FORMAT || j.version !== 1 || !Array.isArray(j.tokens)) {
      throw new TokenizerError(`not a ${FORMAT} v1 JSON object`);
    }
    SPECIAL_TOKENS.forEach((s, i) => {
      if (j.tokens![i] !== s)
        throw new TokenizerError(`token ${i} must be ${s}, got ${JSON.stringify(j.tokens![i])}`);
    });
    return new Tokenizer(j.tokens.map(String));
  }

  toJSON(): TokenizerJSON {
    return { format: FORMAT, version: 1, tokens: [...this.tokens] };
  }

  get size(): number {
    return this.tokens.length;
  }
  get padId(): number {
    return 0;
  }
  get bosId(): number {
    return 1;
  }
  get eosId(): number {
    return 2;
  }

  has(token: string): boolean {
    return this.ids.has(token);
  }

  token(id: number): string {
    const t = this.tokens[id];
    if (t === undefined) throw new TokenizerError(`token id ${id} outside 0..${this.size - 1}`);
    return t;
  }

  /** Add a learned token (e.g. `<v1>`) or a new word; returns its id. */
  addToken(token: string): number {
    const t = token.toLowerCase();
    if (!CUSTOM_TOKEN.test(t) && !/^[\p{L}\p{N}]+$/u.test(t)) {
      throw new TokenizerError(`cannot add ${JSON.stringify(token)}: use <name> or a single word`);
    }
    if (this.ids.has(t))
      throw new TokenizerError(`token ${t} already exists (id ${this.ids.get(t)})`);
    return this.push(t);
  }

  /** Closest vocabulary entries by edit distance (specials excluded). */
  closeMatches(word: string, k = 5): string[] {
    const limit = Math.max(2, Math.floor(word.length / 3));
    return this.tokens
      .slice(SPECIAL_TOKENS.length)
      .map((t) => ({ t, d: editDistance(word, t) }))
      .filter((x) => x.d <= limit)
      .sort((a, b) => a.d - b.d || (a.t < b.t ? -1 : a.t > b.t ? 1 : 0))
      .slice(0, k)
      .map((x) => x.t);
  }

  /** Token ids of the words (no <bos>/<eos>); throws listing every unknown word. */
  tokenize(text: string): number[] {
    const out: number[] = [];
    const unknown: Record<string, string[]> = {};
    for (const w of splitWords(text)) {
      const id = this.ids.get(w);
      if (id === undefined) unknown[w] ??= this.closeMatches(w);
      else out.push(id);
    }
    const bad = Object.keys(unknown);
    if (bad.length) {
      const parts = bad.map((w) => {
        const s = unknown[w];
        return `"${w}" (${s.length ? `did you mean ${s.join(", ")}?` : "no close match"})`;
      });
      throw new TokenizerError(
        `unknown word${bad.length > 1 ? "s" : ""} ${parts.join("; ")} in ${JSON.stringify(text)}; ` +
          `the vocabulary (${this.size} tokens) comes from the training captions plus added tokens`,
        unknown,
      );
    }
    return out;
  }

  /** [<bos>, words..., <eos>, <pad>...] of exactly maxLen ids; throws if it does not fit. */
  encode(text: string, maxLen: number): Int32Array {
    const ids = this.tokenize(text);
    if (ids.length + 2 > maxLen) {
      throw new TokenizerError(
        `${JSON.stringify(text)} needs ${ids.length + 2} tokens with <bos>/<eos>, but maxLen is ${maxLen}`,
      );
    }
    const out = new Int32Array(maxLen); // zero-filled = <pad>
    out[0] = this.bosId;
    out.set(ids, 1);
    out[ids.length + 1] = this.eosId;
    return out;
  }

  /** Words of an id sequence, stopping at <eos> and skipping <bos>/<pad>. */
  decode(ids: ArrayLike<number>): string {
    const words: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === this.eosId) break;
      if (id === this.bosId || id === this.padId) continue;
      words.push(this.token(id));
    }
    return words.join(" ");
  }

  private push(t: string): number {
    if (this.ids.has(t)) throw new TokenizerError(`duplicate token ${JSON.stringify(t)}`);
    const id = this.tokens.length;
    this.tokens.push(t);
    this.ids.set(t, id);
    return id;
  }
}
