// The native CPU target's device: buffers are 64-byte-aligned host allocations (made with
// libc through koffi, a maintained FFI with prebuilt binaries in its npm package, so no
// addon build step), and each compiled step is a shared library built from its C++.
import koffi from "koffi";
import { cpus } from "node:os";
import type { Target } from "../../compiler/codegen/heavy.ts";
import { findToolchain, requireToolchain } from "./toolchain.ts";

// libgomp's default spin-wait (~300k spins) stalls every parallel loop when another process
// shares the cores; a short spin keeps back-to-back kernels fast on an idle machine.
// libgomp reads this when the first step library loads.
if (!process.env.OMP_WAIT_POLICY && !process.env.GOMP_SPINCOUNT)
  process.env.GOMP_SPINCOUNT = "10000";

const libc = koffi.load("libc.so.6");
const alignedAlloc = libc.func("void *aligned_alloc(size_t, size_t)");
const memset = libc.func("void *memset(void *, int, size_t)");
const free = libc.func("void free(void *)");

export class NativeBuffer {
  /** The bytes, as an ArrayBuffer over the native allocation. */
  readonly view: ArrayBuffer;
  constructor(
    readonly pointer: unknown,
    readonly bytes: number,
    readonly label: string,
  ) {
    this.view = koffi.view(pointer, Math.max(bytes, 4));
  }
  get address(): bigint {
    return BigInt(koffi.address(this.pointer));
  }
}

export class NativeDevice {
  readonly kind = "native" as const;
  readonly hasSubgroups = false;
  readonly hasTimestamps = false;
  readonly adapterDescription: string;
  private live = new Set<NativeBuffer>();
  private destroyed = false;

  private constructor(toolchain: string) {
    this.adapterDescription = `native C++ (${toolchain}, ${cpus().length} threads)`;
  }

  /** Throws NativeUnavailableError (with what to install) when no C++ compiler exists. */
  static open(): NativeDevice {
    return new NativeDevice(requireToolchain().version);
  }

  static available(): boolean {
    return findToolchain() !== null;
  }

  get target(): Target {
    return { subgroups: false, language: "c" };
  }

  /** Host memory is the limit; these bound a single tensor like a GPU's would. */
  get bufferLimits(): { maxStorageBufferBindingSize: number; maxBufferSize: number } {
    return { maxStorageBufferBindingSize: 2 ** 31 - 4, maxBufferSize: 2 ** 31 - 4 };
  }

  createBuffer(bytes: number, label = ""): NativeBuffer {
    const size = Math.ceil(Math.max(bytes, 4) / 64) * 64;
    const p = alignedAlloc(64, size);
    if (!p) throw new Error(`cld: out of host memory allocating ${size} bytes for ${label}`);
    memset(p, 0, size);
    const b = new NativeBuffer(p, bytes, label);
    this.live.add(b);
    return b;
  }

  write(buf: NativeBuffer, data: ArrayBuffer | ArrayBufferView, offset = 0): void {
    const src = ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);
    new Uint8Array(buf.view, offset, src.byteLength).set(src);
  }

  async read(buf: NativeBuffer, bytes: number): Promise<ArrayBuffer> {
    return buf.view.slice(0, bytes);
  }

  /** A kernel table: the addresses of `buffers`, as a native array of pointers. */
  pointerTable(buffers: NativeBuffer[]): NativeBuffer {
    const t = this.createBuffer(buffers.length * 8, "pointer table");
    const a = new BigUint64Array(t.view, 0, buffers.length);
    buffers.forEach((b, i) => (a[i] = b.address));
    return t;
  }

  release(buf: NativeBuffer): void {
    if (!this.live.delete(buf)) return;
    free(buf.pointer);
  }

  async checkErrors(): Promise<void> {}

  checkLost(_label: string): void {}

  get lost(): string | null {
    return this.destroyed ? "destroyed" : null;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of this.live) free(b.pointer);
    this.live.clear();
  }
}
