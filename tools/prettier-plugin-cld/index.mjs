// Prettier plugin for .cld files: `"plugins": ["./tools/prettier-plugin-cld/index.mjs"]` in a
// prettier config, or `prettier.format(text, { parser: "cld", plugins: [plugin] })`.
// Plain JavaScript so that prettier can load it without a TypeScript loader; the layout
// itself (layout.ts) is imported on first use, through tsx when prettier runs in plain Node.
import { doc } from "prettier";

const { hardline, join } = doc.builders;

let layoutModule;
async function layout() {
  if (!layoutModule) {
    try {
      layoutModule = await import("./layout.ts"); // already under tsx (cldc, vitest)
    } catch {
      const { register } = await import("tsx/esm/api");
      register();
      // A new URL: the failed import above stays cached under the plain one.
      layoutModule = await import("./layout.ts?with-tsx");
    }
  }
  return layoutModule;
}

export const languages = [
  { name: "cld", parsers: ["cld"], extensions: [".cld"], vscodeLanguageIds: ["cld"] },
];

export const parsers = {
  cld: {
    astFormat: "cld-layout",
    /** The "AST" is the file with its canonical layout already computed (see layout.ts). */
    async parse(text, options) {
      const { formatCld, FormatError } = await layout();
      try {
        return {
          type: "CldFile",
          formatted: formatCld(text, options?.filepath),
          start: 0,
          end: text.length,
        };
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        const range = e.diagnostics[0]?.range;
        const err = new SyntaxError(e.message);
        if (range) err.loc = { start: { line: range.start.line, column: range.start.column } };
        throw err;
      }
    },
    locStart: (node) => node.start,
    locEnd: (node) => node.end,
  },
};

export const printers = {
  "cld-layout": {
    print(path) {
      const text = path.node.formatted;
      if (text === "") return "";
      return [join(hardline, text.replace(/\n$/, "").split("\n")), hardline];
    },
  },
};

export default { languages, parsers, printers };
