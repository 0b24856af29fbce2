import { describe, expect, it } from "vitest";
import { Tokenizer, TokenizerError, editDistance, splitWords } from "../../data/tokenizer.ts";

const captions = [
  "face with tears of joy",
  "octopus",
  "a photo of a cat",
  "digit three",
  "Red Apple!",
];

describe("Tokenizer", () => {
  it("splits on whitespace and punctuation, keeping <tokens> whole", () => {
    expect(splitWords("A photo of <V1>, red-apple!")).toEqual([
      "a",
      "photo",
      "of",
      "<v1>",
      "red",
      "apple",
    ]);
  });

  it("builds a sorted vocabulary after the special tokens", () => {
    const t = Tokenizer.fromCaptions(captions);
    expect(t.token(0)).toBe("<pad>");
    expect(t.token(1)).toBe("<bos>");
    expect(t.token(2)).toBe("<eos>");
    expect(t.token(3)).toBe("a");
    expect(Tokenizer.fromCaptions([...captions].reverse()).toJSON()).toEqual(t.toJSON());
  });

  it("encodes with <bos>/<eos>/<pad> and decodes back", () => {
    const t = Tokenizer.fromCaptions(captions);
    const ids = t.encode("a photo of a cat", 10);
    expect(ids).toBeInstanceOf(Int32Array);
    expect(ids.length).toBe(10);
    expect(ids[0]).toBe(t.bosId);
    expect(ids[6]).toBe(t.eosId);
    expect(Array.from(ids.slice(7))).toEqual([0, 0, 0]);
    expect(t.decode(ids)).toBe("a photo of a cat");
    expect(() => t.encode("a photo of a cat", 6)).toThrow(/needs 7 tokens/);
  });

  it("throws on unknown words with close matches instead of a silent <unk>", () => {
    const t = Tokenizer.fromCaptions(captions);
    let err: unknown;
    try {
      t.encode("a photo of an octopos", 16);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TokenizerError);
    const msg = (err as Error).message;
    expect(msg).toContain('"octopos" (did you mean octopus?)');
    expect(msg).toContain('"an"');
    expect((err as TokenizerError).suggestions.octopos).toEqual(["octopus"]);
    expect(() => t.encode("zzzzzzzz", 8)).toThrow(/no close match/);
  });

  it("adds learned tokens at run time, once", () => {
    const t = Tokenizer.fromCaptions(captions);
    const n = t.size;
    expect(t.addToken("<v1>")).toBe(n);
    expect(t.addToken("<V2>")).toBe(n + 1);
    expect(() => t.addToken("<v1>")).toThrow(/already exists/);
    expect(() => t.addToken("two words")).toThrow(/cannot add/);
    const ids = t.encode("a photo of <v1> with <v2>", 10);
    expect(ids[4]).toBe(n);
    expect(() => t.encode("a photo of <v3>", 10)).toThrow(
      /unknown word "<v3>".*did you mean <v1>, <v2>/,
    );
  });

  it("round-trips through JSON (stored with checkpoints)", () => {
    const t = Tokenizer.fromCaptions(captions);
    t.addToken("<v1>");
    const back = Tokenizer.fromJSON(JSON.parse(JSON.stringify(t)));
    expect(back.toJSON()).toEqual(t.toJSON());
    expect(Array.from(back.encode("<v1> octopus", 5))).toEqual(
      Array.from(t.encode("<v1> octopus", 5)),
    );
    expect(() => Tokenizer.fromJSON({ format: "x" })).toThrow(TokenizerError);
    expect(() =>
      Tokenizer.fromJSON({
        format: "cld-word-tokenizer",
        version: 1,
        tokens: ["<pad>", "<bos>", "x"],
      }),
    ).toThrow(/token 2 must be <eos>/);
  });

  it("computes edit distance", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
  });
});
