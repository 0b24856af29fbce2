// The eval grid: one row per concept, one column per snapshot ("after task t"); each cell
// shows the first few samples of that concept from that snapshot, blank where the concept
// was not learned yet (i > t). Row and column labels in the 5×7 font.
import { drawText, GLYPH_ADVANCE, GLYPH_H } from "../io/font5x7.ts";
import type { RgbImage } from "../io/png.ts";

export interface EvalGridOptions {
  /** cells[t][i]: samples (RGB CHW in [0, 1], `size`² each) of concept i after task t, or null. */
  cells: (Float32Array[] | null)[][];
  concepts: string[];
  size: number;
  /** Samples per cell, laid out in a square (default up to 4: 2×2). */
  perCell?: number;
}

export function evalGrid(opts: EvalGridOptions): RgbImage {
  const { cells, concepts, size } = opts;
  const T = cells.length;
  const per = opts.perCell ?? 4;
  const side = Math.ceil(Math.sqrt(per));
  const cell = side * size;
  const gap = 4;
  const labelW = Math.max(...concepts.map((c) => c.length)) * GLYPH_ADVANCE + 2 * gap;
  const headH = GLYPH_H + 2 * gap;
  const width = labelW + T * (cell + gap) + gap;
  const height = headH + concepts.length * (cell + gap) + gap;
  const plane = width * height;
  const data = new Float32Array(3 * plane).fill(1);
  const text = (x: number, y: number, s: string) => {
    for (let k = 0; k < 3; k++)
      drawText(data.subarray(k * plane, (k + 1) * plane), width, height, x, y, s, 0);
  };
  for (let t = 0; t < T; t++) text(labelW + t * (cell + gap), gap, `after ${t + 1}`);
  concepts.forEach((name, i) => {
    const y0 = headH + i * (cell + gap);
    text(gap, y0 + Math.floor((cell - GLYPH_H) / 2), name);
    for (let t = 0; t < T; t++) {
      const imgs = cells[t]?.[i];
      const x0 = labelW + t * (cell + gap);
      if (!imgs) {
        // Not learned yet: a light grey cell, so the triangle of the matrix is visible.
        for (let k = 0; k < 3; k++)
          for (let y = 0; y < cell; y++)
            data.fill(
              0.93,
              k * plane + (y0 + y) * width + x0,
              k * plane + (y0 + y) * width + x0 + cell,
            );
        continue;
      }
      imgs.slice(0, side * side).forEach((img, j) => {
        const ox = x0 + (j % side) * size;
        const oy = y0 + Math.floor(j / side) * size;
        for (let k = 0; k < 3; k++)
          for (let y = 0; y < size; y++)
            for (let x = 0; x < size; x++)
              data[k * plane + (oy + y) * width + ox + x] = img[k * size * size + y * size + x];
      });
    }
  });
  return { data, width, height };
}
