// docs/language.md region `keywords`: every reserved word of the lexer.
import { keywords } from "../../grammar/lexer.ts";
import { code } from "./markdown.ts";

export function keywordsSection(): string {
  return keywords.map(code).join(" ") + "\n";
}
