// Types of the plain-JavaScript plugin module, for the TypeScript importers (cli/fmt-command.ts).
import type { Plugin } from "prettier";

declare const plugin: Plugin;
export default plugin;
export declare const languages: Plugin["languages"];
export declare const parsers: Plugin["parsers"];
export declare const printers: Plugin["printers"];
