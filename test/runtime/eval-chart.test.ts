// The font check behind svgToPng's warning: resvg silently drops every label without fonts.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hasSystemFonts } from "../../runtime/eval/chart.ts";

describe("system font check", () => {
  const root = mkdtempSync(join(tmpdir(), "cld-fonts-"));
  const empty = join(root, "empty");
  const full = join(root, "full");
  mkdirSync(empty);
  mkdirSync(join(full, "truetype"), { recursive: true });
  writeFileSync(join(full, "truetype", "X.ttf"), "");

  it("finds no fonts in missing or empty folders", () => {
    expect(hasSystemFonts([join(root, "missing")])).toBe(false);
    expect(hasSystemFonts([empty, join(root, "missing")])).toBe(false);
    expect(hasSystemFonts([join(full, "truetype", "X.ttf")])).toBe(false); // a file, not a folder
  });
  it("finds fonts when any folder holds something", () => {
    expect(hasSystemFonts([empty, full])).toBe(true);
  });
});
