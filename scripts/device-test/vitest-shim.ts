// The part of vitest's API that the GPU test files use, for running them on a machine
// without node_modules (the lent GPU machine): scripts/device-kit.sh bundles those files
// with `vitest` aliased to this module. Tests run in order, file by file, each file's
// beforeAll hooks first and afterAll hooks last; one line per test and a summary.
import { isDeepStrictEqual } from "node:util";

type Fn = () => unknown | Promise<unknown>;
interface FileGroup {
  name: string;
  before: Fn[];
  after: Fn[];
  tests: { name: string; fn: Fn }[];
}

const files: FileGroup[] = [];
const prefix: string[] = [];
const current = () => files[files.length - 1];

/** Starts the group that the next imported test file registers into. */
export function beginFile(name: string): void {
  files.push({ name, before: [], after: [], tests: [] });
}

export function describe(name: string, body: () => void): void {
  prefix.push(name);
  try {
    body();
  } finally {
    prefix.pop();
  }
}

export function it(name: string, fn: Fn): void {
  current().tests.push({ name: [...prefix, name].join(" › "), fn });
}
export const test = it;
export const beforeAll = (fn: Fn) => void current().before.push(fn);
export const afterAll = (fn: Fn) => void current().after.push(fn);

class AssertionError extends Error {}
const show = (v: unknown) =>
  ArrayBuffer.isView(v) ? `[${Array.from(v as Float32Array).slice(0, 8)}…]` : String(v);
// Typed arrays compare by value, as vitest's toEqual does.
const plain = (v: unknown): unknown =>
  ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : Array.isArray(v) ? v.map(plain) : v;

function matchers(actual: unknown, negate: boolean) {
  const check = (ok: boolean, what: string) => {
    if (ok === negate)
      throw new AssertionError(`expected ${show(actual)} ${negate ? "not " : ""}${what}`);
  };
  return {
    toBe: (v: unknown) => check(Object.is(actual, v), `to be ${show(v)}`),
    toEqual: (v: unknown) =>
      check(isDeepStrictEqual(plain(actual), plain(v)), `to equal ${show(v)}`),
    toBeLessThan: (v: number) => check((actual as number) < v, `to be < ${v}`),
    toBeGreaterThan: (v: number) => check((actual as number) > v, `to be > ${v}`),
    toBeGreaterThanOrEqual: (v: number) => check((actual as number) >= v, `to be >= ${v}`),
    toHaveLength: (n: number) =>
      check((actual as { length: number }).length === n, `to have length ${n}`),
  };
}

export function expect(actual: unknown) {
  return {
    ...matchers(actual, false),
    not: matchers(actual, true),
    rejects: {
      async toThrow(want?: string | RegExp) {
        try {
          await actual;
        } catch (e) {
          const msg = (e as Error).message;
          const ok =
            want === undefined || (typeof want === "string" ? msg.includes(want) : want.test(msg));
          if (!ok) throw new AssertionError(`expected a rejection matching ${want}, got: ${msg}`);
          return;
        }
        throw new AssertionError("expected a rejection, but it resolved");
      },
    },
  };
}
expect.fail = (message: string): never => {
  throw new AssertionError(message);
};

/** Runs everything registered; returns the number of failures. */
export async function runAll(log: (line: string) => void = console.log): Promise<number> {
  let failed = 0;
  let passed = 0;
  for (const f of files) {
    try {
      for (const h of f.before) await h();
      for (const t of f.tests) {
        const start = performance.now();
        try {
          await t.fn();
          passed++;
          log(`ok    ${f.name} › ${t.name} (${Math.round(performance.now() - start)} ms)`);
        } catch (e) {
          failed++;
          log(`FAIL  ${f.name} › ${t.name}: ${(e as Error).message}`);
        }
      }
    } catch (e) {
      failed++;
      log(`FAIL  ${f.name} (setup): ${(e as Error).message}`);
    } finally {
      for (const h of f.after) await h();
    }
  }
  log(`${passed} passed, ${failed} failed`);
  return failed;
}
