// writeFileAtomic: a failed write leaves the old file and no temp behind; temp files of
// killed writers are cleared by the next write, those of live ones are not.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../runtime/io/atomic.ts";

const dir = mkdtempSync(join(tmpdir(), "cld-atomic-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("writeFileAtomic", () => {
  it("replaces the file whole", () => {
    const p = join(dir, "a.bin");
    writeFileAtomic(p, new Uint8Array([1, 2, 3]));
    writeFileAtomic(p, [new Uint8Array([4]), new Uint8Array([5, 6])]);
    expect([...readFileSync(p)]).toEqual([4, 5, 6]);
    expect(readdirSync(dir).filter((f) => f.startsWith("a.bin"))).toEqual(["a.bin"]);
  });

  it("fails in one line and leaves no temp file when the target cannot be replaced", () => {
    const p = join(dir, "is-a-dir");
    mkdirSync(p);
    let msg = "";
    try {
      writeFileAtomic(p, new Uint8Array(10));
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toBe(`cannot write ${p} (EISDIR); the previous file, if any, is unchanged`);
    expect(readdirSync(dir).filter((f) => f.startsWith("is-a-dir"))).toEqual(["is-a-dir"]);
  });

  it("clears temp files of dead writers, keeps those of live ones", () => {
    const p = join(dir, "ck.safetensors");
    const dead = `ck.safetensors.tmp-${2 ** 22 + 12345}-7`; // above Linux's pid_max default
    const live = `ck.safetensors.tmp-${process.ppid}-7`;
    writeFileSync(join(dir, dead), "torn");
    writeFileSync(join(dir, live), "in progress elsewhere");
    writeFileAtomic(p, new Uint8Array([9]));
    const left = readdirSync(dir).filter((f) => f.startsWith("ck.safetensors"));
    expect(left.sort()).toEqual(["ck.safetensors", live].sort());
  });
});
