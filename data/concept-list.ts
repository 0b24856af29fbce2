// The `names` list of a concept sequence: each entry is a built-in emoji concept or a folder
// of the user's own images ("./photos/dog"). Resolved once at compile time, so a typo or a
// corrupt photo is reported by `cldc check` and before `cldc train` opens the GPU or writes
// anything; the loaded folders are cached for the runtime's data source.
import { existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { suggest } from "../compiler/diagnostics.ts";
import { emojiNames } from "./emoji.ts";
import { ImageFolderError, readImageFolder, type FolderImage } from "./image-folder.ts";

export type ConceptEntry =
  { kind: "emoji"; name: string } | { kind: "folder"; name: string; path: string };

export interface ConceptFolder {
  /** CHW float32 [3, size, size] in [0, 1], one per image, in file-name order. */
  images: FolderImage[];
  /** One line for the training log: how many images, resized from what. */
  notice: string;
}

/** Pixels of random crop shift for folder concepts: a few pixels at any size. */
export function folderCropPad(size: number): number {
  return Math.max(1, Math.round(size / 16));
}

export function splitConceptNames(names: string): string[] {
  return names
    .split(",")
    .map((n) => n.trim())
    .filter(Boolean);
}

let emojiIndex: Set<string> | undefined;
function knownEmoji(): Set<string> {
  emojiIndex ??= new Set(emojiNames().map((n) => n.name));
  return emojiIndex;
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/**
 * What each entry is. Throws a one-line Error for an unknown name (with close matches), a
 * missing or empty folder, an undecodable image, or the same concept listed twice.
 */
export function resolveConcepts(names: string, size: number): ConceptEntry[] {
  const seen = new Map<string, number>();
  return splitConceptNames(names).map((entry, i) => {
    let c: ConceptEntry;
    if (!entry.includes("/") && knownEmoji().has(entry)) c = { kind: "emoji", name: entry };
    else if (entry.includes("/") || isDir(entry)) {
      const path = entry.replace(/\/+$/, "") || entry;
      c = { kind: "folder", name: basename(path), path };
      conceptFolder(c, size); // loads (and caches) it now, so problems surface at compile time
    } else {
      const close = suggest(entry, knownEmoji());
      throw new Error(
        `unknown concept '${entry}'${close.length ? ` (did you mean ${close.map((x) => `'${x}'`).join(", ")}?)` : ""}; a folder of your own images is a path, e.g. ./photos/${entry}`,
      );
    }
    const key = c.kind === "emoji" ? `emoji:${c.name}` : `folder:${resolve(c.path)}`;
    const first = seen.get(key);
    if (first !== undefined)
      throw new Error(
        `concept '${entry}' is listed twice in names (entries ${first + 1} and ${i + 1}); each concept gets one token`,
      );
    seen.set(key, i);
    return c;
  });
}

const folders = new Map<string, ConceptFolder>();

/** A folder concept's images at `size` (cached per resolved path and size). */
export function conceptFolder(c: { name: string; path: string }, size: number): ConceptFolder {
  const key = `${resolve(c.path)}\u0000${size}`;
  const hit = folders.get(key);
  if (hit) return hit;
  const what = `concept '${c.name}' (${c.path})`;
  if (!existsSync(c.path)) throw new Error(`${what}: no such folder`);
  if (!statSync(c.path).isDirectory()) throw new Error(`${what}: not a folder`);
  let images: FolderImage[];
  try {
    ({ images } = readImageFolder(c.path, size));
  } catch (e) {
    if (e instanceof ImageFolderError) throw new Error(`${what}: ${e.message}`);
    throw e;
  }
  const sizes = [
    ...new Set(
      images
        .filter((im) => im.originalWidth !== size || im.originalHeight !== size)
        .map((im) => `${im.originalWidth}×${im.originalHeight}`),
    ),
  ];
  const resized = sizes.length
    ? `resized from ${sizes[0]}${sizes.length > 1 ? " etc." : ""} to ${size}×${size}`
    : `${size}×${size}`;
  const n = images.length;
  const pad = folderCropPad(size);
  const notice = `${what}: ${n} image${n === 1 ? "" : "s"}, ${resized} (center-cropped to square), augmented with flips and ±${pad}-pixel crops`;
  const out = { images, notice };
  folders.set(key, out);
  return out;
}
