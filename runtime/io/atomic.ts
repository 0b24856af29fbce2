// Crash-safe file writes: a reader (or a resumed run) sees either the old file or the
// complete new one, never a torn write. Temp file in the same directory (rename is only
// atomic within one filesystem), fsync before rename so the data is on disk first, and
// fsync of the directory after it so the rename itself survives a power cut.

import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { randomInt } from "node:crypto";
import { basename, dirname, join } from "node:path";

/**
 * Fault injection for tests (`test/runtime/kill-resume.test.ts`): when set, every atomic
 * write pauses this many ms half-way through its temp file, so a SIGKILL can be aimed at
 * the moment a checkpoint is being written. Never set in normal use.
 */
const PAUSE_ENV = "CLD_FAULT_WRITE_PAUSE_MS";

export function writeFileAtomic(path: string, chunks: Uint8Array | Uint8Array[]): void {
  const parts = Array.isArray(chunks) ? chunks : [chunks];
  const dir = dirname(path);
  const tmp = `${path}.tmp-${process.pid}-${randomInt(1 << 30)}`;
  const pauseMs = Number(process.env[PAUSE_ENV] ?? 0);
  let fd: number | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    removeStaleTemps(path);
    fd = openSync(tmp, "w");
    if (pauseMs > 0) {
      // Fault injection: write half, pause with the torn temp file on disk, write the rest.
      const all = Buffer.concat(parts);
      const half = all.length >> 1;
      writeAll(fd, all.subarray(0, half));
      sleepSync(pauseMs);
      writeAll(fd, all.subarray(half));
    } else {
      for (const c of parts) writeAll(fd, c);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    // Disk full, no permission, path is a directory...: the old file stays, the temp goes.
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* never created */
    }
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new Error(`cannot write ${path} (${why}); the previous file, if any, is unchanged`);
  }
  syncDir(dir);
}

function writeAll(fd: number, c: Uint8Array): void {
  let off = 0;
  while (off < c.length) off += writeSync(fd, c, off, c.length - off);
}

/** True for the temp files writeFileAtomic makes for `path`. */
export function isTempOf(path: string, candidate: string): boolean {
  return candidate.startsWith(`${basename(path)}.tmp-`);
}

/**
 * Temp files of `path` left by a process that was killed mid-write (their writer's pid is
 * gone). They are never read — only the renamed file is — so this only reclaims space.
 */
function removeStaleTemps(path: string): void {
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    if (!isTempOf(path, name)) continue;
    const pid = Number(/\.tmp-(\d+)-/.exec(name)?.[1]);
    if (pid === process.pid || (pid && alive(pid))) continue;
    try {
      unlinkSync(join(dirname(path), name));
    } catch {
      /* already gone */
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
