// Crash-safe file writes: a reader (or a resumed run) sees either the old file or the
// complete new one, never a torn write. Temp file in the same directory (rename is only
// atomic within one filesystem), fsync before rename so the data is on disk first.

import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { randomInt } from "node:crypto";
import { dirname } from "node:path";

export function writeFileAtomic(path: string, chunks: Uint8Array | Uint8Array[]): void {
  const parts = Array.isArray(chunks) ? chunks : [chunks];
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomInt(1 << 30)}`;
  const fd = openSync(tmp, "w");
  let ok = false;
  try {
    for (const c of parts) {
      let off = 0;
      while (off < c.length) off += writeSync(fd, c, off, c.length - off);
    }
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) {
      try {
        unlinkSync(tmp);
      } catch {
        /* nothing to clean up */
      }
    }
  }
  renameSync(tmp, path);
}
