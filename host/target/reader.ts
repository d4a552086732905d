// Readers serve the core's imported `read`: iovec pairs the core queued in its own memory.
// The live reader calls process_vm_readv through koffi with the absolute addresses of those
// iovecs, so the kernel writes straight into WASM memory: no copies, no per-read objects.
// Must not know: CPython layouts (it moves bytes), what the core does with them.
// Source of truth: process_vm_readv(2); koffi's documentation (primitive and pointer types).

import { loadKoffi } from "./ffi.js";
import type koffiType from "koffi";
import { readStatusOfErrno } from "./errno.js";

export interface Reader {
  /** true when local iovecs must hold real addresses (process_vm_readv); offline readers take any base */
  readonly native?: boolean;
  /**
   * Reads `count` iovec pairs (local at localIovAbs, remote at remoteIovAbs). Bytes read, or minus
   * a read status of the contract (host/core/contract.ts READ_*; host/target/errno.ts maps an errno to one).
   */
  readv(localIovAbs: number, remoteIovAbs: number, count: number): number;
  close(): void;
}

/** koffi (a native module, tens of ms to load): loaded by the first live read, not by offline commands */
let koffi: typeof koffiType;
let libc: koffiType.IKoffiLib | null = null;
let processVmReadv: ((pid: number, local: number, lcnt: number, remote: number, rcnt: number, flags: number) => number) | null = null;
let memmoveAddr: ((dst: Uint8Array, src: Uint8Array, n: number) => number) | null = null;

function loadLibc(): void {
  if (libc) return;
  koffi = loadKoffi();
  libc = koffi.load("libc.so.6");
  // pointers as intptr_t numbers: user-space addresses fit a double exactly (< 2^47)
  processVmReadv = libc.func("intptr_t process_vm_readv(int pid, intptr_t local_iov, uint64_t liovcnt, intptr_t remote_iov, uint64_t riovcnt, uint64_t flags)") as typeof processVmReadv;
  // memmove(dst, src, 0) returns dst: the absolute address of a buffer koffi passed by pointer
  memmoveAddr = libc.func("intptr_t memmove(void *dst, void *src, size_t n)") as typeof memmoveAddr;
}

/** The absolute address of the first byte of buffer (an ArrayBuffer, e.g. WASM memory). */
export function addressOf(buffer: ArrayBuffer): number {
  loadLibc();
  const view = new Uint8Array(buffer, 0, 1);
  return memmoveAddr!(view, view, 0);
}

export function errno(): number {
  loadLibc();
  return koffi.errno();
}

export class LiveReader implements Reader {
  readonly native = true;
  constructor(public readonly pid: number) {
    loadLibc();
  }
  readv(localIovAbs: number, remoteIovAbs: number, count: number): number {
    const n = processVmReadv!(this.pid, localIovAbs, count, remoteIovAbs, count, 0);
    return n < 0 ? -readStatusOfErrno(koffi.errno()) : n;
  }
  close(): void { /* nothing held */ }
}
