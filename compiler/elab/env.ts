// Lexical environments and elaboration frames: what names are bound to while the elaborator
// walks a block body, and which parameter scope `param` statements in it land in.
import type { Value } from "./values.ts";

/** A lexical environment: a chain of frames. */
export class Env {
  private vars = new Map<string, Value>();
  constructor(private parent: Env | null = null) {}
  get(name: string): Value | undefined {
    return this.vars.get(name) ?? this.parent?.get(name);
  }
  has(name: string): boolean {
    return this.vars.has(name) || (this.parent?.has(name) ?? false);
  }
  hasOwn(name: string): boolean {
    return this.vars.has(name);
  }
  define(name: string, v: Value) {
    this.vars.set(name, v);
  }
  set(name: string, v: Value): boolean {
    if (this.vars.has(name)) {
      this.vars.set(name, v);
      return true;
    }
    return this.parent?.set(name, v) ?? false;
  }
  names(): string[] {
    return [...this.vars.keys(), ...(this.parent?.names() ?? [])];
  }
  child(): Env {
    return new Env(this);
  }
}

/** Where parameters created by `param` statements go: a dotted path and its used names. */
export interface ParamScope {
  path: string;
  used: Map<string, number>;
  /** When false, `param` statements are errors (e.g. inside a step body outside any block). */
  allowParams: boolean;
}

export interface Frame {
  env: Env;
  scope: ParamScope;
  /** The binding a block call's result is assigned to: names the call's parameter scope. */
  binding: string | null;
  returned?: Value;
}
