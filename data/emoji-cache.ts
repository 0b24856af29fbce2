// On-disk raster cache: ~/.cache/cld/emoji/<set>-<size>.bin + <set>-<size>.json.
// Rasterizing ~16k icons takes a while; cached bytes load in milliseconds.
//
// bin  = "CLDEMOJ1" + u32 token + u32 count + count × (3·size·size) CHW RGB bytes
// json = {version, set, size, setVersion, resvg, token, count, slots: {rawName: slot}}
// Both files are written atomically (temp + rename). A crash or a concurrent writer can
// still pair a bin with another run's index, so the random token must match in both;
// otherwise the cache is treated as empty and rebuilt.

import { mkdirSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../runtime/io/atomic.ts";
import { homedir } from "node:os";
import { join } from "node:path";
import { randomInt } from "node:crypto";
import {
  type EmojiSet,
  iconSetVersion,
  iconGeometry,
  rasterizeIconU8,
  resvgVersion,
} from "./emoji-render.ts";

const MAGIC = "CLDEMOJ1";
const HEADER = 16;
const FORMAT_VERSION = 1;

export function emojiCacheDir(): string {
  if (process.env.CLD_EMOJI_CACHE) return process.env.CLD_EMOJI_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "cld", "emoji");
}

interface IndexJson {
  version: number;
  set: string;
  size: number;
  setVersion: string;
  resvg: string;
  token: number;
  count: number;
  slots: Record<string, number>;
}

/** Rasters of one set at one size, backed by the disk cache. */
export class EmojiRasterCache {
  readonly set: EmojiSet;
  readonly size: number;
  readonly bytesPerImage: number;
  private slots = new Map<string, number>();
  private images: Uint8Array[] = [];
  /** Number of icons rasterized (not read from disk) by this instance. */
  rendered = 0;

  private readonly dir: string;

  constructor(set: EmojiSet, size: number, dir = emojiCacheDir()) {
    this.dir = dir;
    this.set = set;
    this.size = size;
    this.bytesPerImage = 3 * size * size;
    this.load();
  }

  private paths(): { bin: string; index: string } {
    const stem = join(this.dir, `${this.set}-${this.size}`);
    return { bin: `${stem}.bin`, index: `${stem}.json` };
  }

  private load(): void {
    const { bin, index } = this.paths();
    let idx: IndexJson;
    let buf: Buffer;
    try {
      idx = JSON.parse(readFileSync(index, "utf8")) as IndexJson;
      buf = readFileSync(bin);
    } catch {
      return; // no cache yet (or unreadable): start empty
    }
    const ok =
      idx.version === FORMAT_VERSION &&
      idx.set === this.set &&
      idx.size === this.size &&
      idx.setVersion === iconSetVersion(this.set) &&
      idx.resvg === resvgVersion() &&
      buf.length === HEADER + idx.count * this.bytesPerImage &&
      buf.toString("latin1", 0, 8) === MAGIC &&
      buf.readUInt32LE(8) === idx.token &&
      buf.readUInt32LE(12) === idx.count;
    if (!ok) return; // stale or mismatched: rebuild on demand
    for (let s = 0; s < idx.count; s++) {
      const start = HEADER + s * this.bytesPerImage;
      this.images.push(new Uint8Array(buf.buffer, buf.byteOffset + start, this.bytesPerImage));
    }
    for (const [name, slot] of Object.entries(idx.slots)) {
      if (Number.isInteger(slot) && slot >= 0 && slot < idx.count) this.slots.set(name, slot);
    }
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  /** Raster bytes (CHW RGB) of a raw icon name; renders and remembers it if missing. */
  get(name: string): Uint8Array {
    const slot = this.slots.get(name);
    if (slot !== undefined) return this.images[slot];
    // A machine that carries only the cache (scripts/device-pretrain.sh: the icon sets'
    // SVG bodies stay behind) must not quietly rasterize an empty icon.
    if (process.env.CLD_EMOJI_CACHE_ONLY)
      throw new Error(
        `emoji ${this.set}/${name} at ${this.size}px is not in the raster cache ${this.dir} (CLD_EMOJI_CACHE_ONLY is set)`,
      );
    const img = rasterizeIconU8(iconGeometry(this.set, name), this.size);
    this.slots.set(name, this.images.length);
    this.images.push(img);
    this.rendered++;
    return img;
  }

  /** Persist if anything new was rendered. Returns true when files were written. */
  save(): boolean {
    if (this.rendered === 0) return false;
    mkdirSync(this.dir, { recursive: true });
    const { bin, index } = this.paths();
    const token = randomInt(2 ** 32 - 1);
    const header = new Uint8Array(HEADER);
    header.set(Buffer.from(MAGIC, "latin1"), 0);
    const dv = new DataView(header.buffer);
    dv.setUint32(8, token, true);
    dv.setUint32(12, this.images.length, true);
    writeFileAtomic(bin, [header, ...this.images]);
    const idx: IndexJson = {
      version: FORMAT_VERSION,
      set: this.set,
      size: this.size,
      setVersion: iconSetVersion(this.set),
      resvg: resvgVersion(),
      token,
      count: this.images.length,
      slots: Object.fromEntries(this.slots),
    };
    writeFileAtomic(index, [Buffer.from(JSON.stringify(idx))]);
    this.rendered = 0;
    return true;
  }
}
