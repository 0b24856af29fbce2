// The real images `cldc eval` scores against, for concept lists that mix built-in emoji and
// folders of the user's own images: labels by list position, the held-out split (a
// folder's last image stands in for the held-out artist's drawing), and a concept judge
// that trains and measures its held-out accuracy on such a list.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emojiConcepts } from "../../data/emoji.ts";
import { ConceptJudge } from "../../runtime/eval/concept-judge.ts";
import { conceptImages, FOLDER_STYLE } from "../../runtime/eval/concept-images.ts";
import { writePng } from "../../runtime/io/png.ts";
import { useGpu } from "../gpu-fixture.ts";

const SIZE = 32;
let root: string;
let dog: string;
let mug: string;
const gpu = useGpu();

/** A flat-colored w×h image (CHW), so each file's pixels are known after resizing. */
function flat(w: number, h: number, rgb: [number, number, number]): Float32Array {
  const px = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++) px.fill(rgb[c], c * w * h, (c + 1) * w * h);
  return px;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "cld-eval-images-"));
  dog = join(root, "my-dog");
  mug = join(root, "my-mug");
  mkdirSync(dog);
  mkdirSync(mug);
  writePng(join(dog, "a.png"), flat(40, 40, [1, 0, 0]), 40, 40);
  writePng(join(dog, "b.png"), flat(32, 32, [0, 1, 0]), 32, 32);
  writePng(join(dog, "c.png"), flat(50, 30, [0, 0, 1]), 50, 30);
  writePng(join(mug, "only.png"), flat(32, 32, [1, 1, 0]), 32, 32);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The first pixel of each channel of image k, back in [0, 1]. */
const color = (x: Float32Array, k: number) =>
  [0, 1, 2].map(
    (c) => Math.round(((x[k * 3 * SIZE * SIZE + c * SIZE * SIZE] + 1) / 2) * 100) / 100,
  );

describe("eval's real images", () => {
  it("mixes emoji and folders, labelled by position, every image in 'all'", () => {
    const octopus = emojiConcepts({ size: SIZE, include: ["octopus"], excludeReserved: false })[0];
    const all = conceptImages(["octopus", dog, mug], SIZE);
    expect(all.n).toBe(octopus.images.length + 3 + 1);
    expect([...all.y]).toEqual([...octopus.images.map(() => 0), 1, 1, 1, 2]);
    const o = octopus.images.length;
    expect([
      color(all.x, o),
      color(all.x, o + 1),
      color(all.x, o + 2),
      color(all.x, o + 3),
    ]).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [1, 1, 0],
    ]);
    expect(all.sets.slice(o)).toEqual([FOLDER_STYLE, FOLDER_STYLE, FOLDER_STYLE, FOLDER_STYLE]);
  });

  it("holds out one image per concept: the artist's drawing, a folder's last image", () => {
    const names = ["octopus", dog, mug];
    const test = conceptImages(names, SIZE, "test", "twemoji");
    expect([...test.y]).toEqual([0, 1, 2]);
    expect(test.sets).toEqual(["twemoji", "twemoji", FOLDER_STYLE]);
    expect(color(test.x, 1)).toEqual([0, 0, 1]); // c.png, the dog's last file
    expect(color(test.x, 2)).toEqual([1, 1, 0]); // the mug's only image, in both splits
    const train = conceptImages(names, SIZE, "train", "twemoji");
    const all = conceptImages(names, SIZE);
    expect(train.n).toBe(all.n - 2); // the octopus's twemoji drawing and c.png left out
    expect([...train.y].filter((y) => y === 1)).toHaveLength(2);
    expect([...train.y].filter((y) => y === 2)).toHaveLength(1);
    // No style held out: nothing to test on, everything to train on.
    expect(conceptImages(names, SIZE, "test", "").n).toBe(0);
    expect(conceptImages(names, SIZE, "train", "").n).toBe(all.n);
  });

  it("names an unknown concept in one line", () => {
    expect(() => conceptImages(["octopuss"], SIZE)).toThrow(
      /unknown concept 'octopuss' \(did you mean 'octopus'/,
    );
  });

  it("trains a concept judge on a list with a folder and measures it on the held-out images", async () => {
    const cache = mkdtempSync(join(tmpdir(), "cld-judge-cache-"));
    try {
      const judge = await ConceptJudge.open(gpu(), ["octopus", dog], {
        cacheRoot: cache,
        settings: { steps: "2", batch: "4" },
      });
      expect(judge.trainedNow).toBe(true);
      expect(judge.heldOutAccuracy).not.toBeNull();
      expect([0, 0.5, 1]).toContain(judge.heldOutAccuracy); // two held-out images
      const dogImages = conceptImages([dog], SIZE).x;
      const unit = [0, 1, 2].map((k) =>
        dogImages.slice(k * 3 * SIZE * SIZE, (k + 1) * 3 * SIZE * SIZE).map((v) => (v + 1) / 2),
      );
      expect(await judge.predict(unit)).toHaveLength(3);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
