// Source positions: converting tokens and offsets to the AST's SourceRange.
import type { IToken } from "chevrotain";
import type { SourcePos, SourceRange } from "./ast.ts";

/** Offset -> line/column lookup for one source text. */
export class LineMap {
  private starts: number[] = [0];
  constructor(private text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      // \r\n counts once; a lone \r is a line break too (as in Chevrotain).
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) this.starts.push(i + 1);
    }
  }

  pos(offset: number): SourcePos {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    return { offset: o, line: lo + 1, column: o - this.starts[lo] + 1 };
  }

  range(file: string, start: number, end: number): SourceRange {
    return { file, start: this.pos(start), end: this.pos(end) };
  }

  /** The text of the 1-based line, without its terminator. */
  lineText(line: number): string {
    const s = this.starts[line - 1] ?? this.text.length;
    const e = this.starts[line] ?? this.text.length;
    return this.text.slice(s, e).replace(/\r?\n$|\r$/, "");
  }
}

export const isRealToken = (t: IToken | undefined): t is IToken =>
  !!t && !t.isInsertedInRecovery && !isNaN(t.startOffset) && t.tokenType?.name !== "EOF";

export function tokenStart(t: IToken): SourcePos {
  return { offset: t.startOffset, line: t.startLine ?? 1, column: t.startColumn ?? 1 };
}

/** Exclusive end of a token (Chevrotain's end offsets and columns are inclusive). */
export function tokenEnd(t: IToken): SourcePos {
  return {
    offset: (t.endOffset ?? t.startOffset) + 1,
    line: t.endLine ?? t.startLine ?? 1,
    column: (t.endColumn ?? t.startColumn ?? 0) + 1,
  };
}

export function tokenRange(file: string, t: IToken): SourceRange {
  return { file, start: tokenStart(t), end: tokenEnd(t) };
}

/** A zero-width range just after a token: where something missing should have been. */
export function rangeAfter(file: string, t: IToken): SourceRange {
  const e = tokenEnd(t);
  return { file, start: e, end: e };
}

/** The smallest range covering both. */
export function span(a: SourceRange, b: SourceRange): SourceRange {
  return {
    file: a.file,
    start: a.start.offset <= b.start.offset ? a.start : b.start,
    end: a.end.offset >= b.end.offset ? a.end : b.end,
  };
}
