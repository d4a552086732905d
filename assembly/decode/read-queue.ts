// The read queue of one sample: reads queued with their destinations and issued together, at
// most MAX_IOV per host call (one process_vm_readv each for a live target), so a sample costs few
// syscalls. qOk tells which entries came back whole.
// Must not know: what the reads are for (CPython layouts, threads, frames), errno values.
// Source of truth: process_vm_readv(2) (a read stops at the first unreadable iovec); io.ts.
//
// The sample (walk.ts) queues the previous sample's addresses (thread states, stack chunks,
// frames outside chunks, code objects) speculatively in the same batch as what the current sample
// needs for sure; it then takes what still links up and reads the rest one by one. Data read this
// way is as fresh as a single read: only the choice of addresses is speculative.

import { batchReset, batchAdd, batchRun, MAX_IOV } from "../io";
import { OK, ERR_GONE, ERR_PERM, fail } from "../status";

export const MAX_QUEUE: i32 = 16384;
export const qAddr = new StaticArray<u64>(MAX_QUEUE);
export const qLen = new StaticArray<i32>(MAX_QUEUE);
export const qDst = new StaticArray<usize>(MAX_QUEUE);
export const qOk = new StaticArray<bool>(MAX_QUEUE);
/** Entries queued this batch; walk code resets it with qReset. */
export let qCount: i32 = 0;

/** Empties the queue (the next batch starts at index 0). */
@inline export function qReset(): void { qCount = 0; }

/** Queues a read of len bytes at addr into dst; its index, or -1 (queue full or addr 0). */
export function qAdd(addr: u64, len: i32, dst: usize): i32 {
  if (qCount >= MAX_QUEUE || addr == 0) return -1;
  const i = qCount++;
  unchecked(qAddr[i] = addr);
  unchecked(qLen[i] = len);
  unchecked(qDst[i] = dst);
  unchecked(qOk[i] = false);
  return i;
}

// Coalescing: consecutive entries of the same length (a thread's frame windows for the proof,
// code-object windows, thread-state windows) whose addresses lie within SPAN_MAX bytes go as one
// iovec into MERGE_BUF and are copied to their destinations after. The kernel pins and walks the
// pages of every iovec: fifty 72-byte frame windows in two pages cost fifty page lookups as
// fifty iovecs, two as one. Only neighbours in the queue merge, so the queue's order (a second
// read after a first one, a word read before and after a proof's reads) is kept; merged entries
// are read at once, which is never less fresh. A merged read that fails is read entry by entry.
const SPAN_MAX: u64 = 8192;
const MERGE_BUF_SIZE: i32 = 256 * 1024;
const MERGE_BUF: usize = memory.data(MERGE_BUF_SIZE, 16);
// per iovec of the current call: the queue entries it serves, and where its merged copy is (0: not merged)
const gFirst = new StaticArray<i32>(MAX_IOV);
const gLast = new StaticArray<i32>(MAX_IOV);
const gLo = new StaticArray<u64>(MAX_IOV);
const gBuf = new StaticArray<usize>(MAX_IOV);

/** Issues the queued reads from index `from` on (MAX_IOV iovecs per syscall). OK, or ERR_GONE / ERR_PERM. */
const MAX_RESTARTS: i32 = 4;
export function qFlush(from: i32): i32 {
  let i = from;
  let restarts = 0;
  let singleUntil = from; // entries before this index are not merged (a merged read of them failed)
  while (i < qCount) {
    batchReset();
    let g = 0;
    let used: i32 = 0;
    while (i < qCount && g < MAX_IOV) {
      const addr = unchecked(qAddr[i]);
      const len = unchecked(qLen[i]);
      let j = i;
      let lo = addr, hi = addr + <u64>len;
      if (i >= singleUntil && len > 0 && addr <= ~(<u64>len)) {
        while (j + 1 < qCount && unchecked(qLen[j + 1]) == len) {
          const b = unchecked(qAddr[j + 1]);
          if (b == 0 || b > ~(<u64>len)) break;
          const nlo = b < lo ? b : lo;
          const nhi = b + <u64>len > hi ? b + <u64>len : hi;
          if (nhi - nlo > SPAN_MAX || <i64>used + <i64>(nhi - nlo) > <i64>MERGE_BUF_SIZE) break;
          lo = nlo;
          hi = nhi;
          j++;
        }
      }
      unchecked(gFirst[g] = i);
      unchecked(gLast[g] = j);
      if (j == i) {
        batchAdd(addr, len, unchecked(qDst[i]));
        unchecked(gBuf[g] = 0);
      } else {
        const span = <i32>(hi - lo);
        const buf = MERGE_BUF + <usize>used;
        batchAdd(lo, span, buf);
        unchecked(gLo[g] = lo);
        unchecked(gBuf[g] = buf);
        used += (span + 7) & ~7;
      }
      g++;
      i = j + 1;
    }
    const done = batchRun();
    if (done < 0) {
      const st = -done;
      if (st == ERR_GONE || st == ERR_PERM) return fail(st, 0);
      continue; // this call's entries stay failed
    }
    for (let k = 0; k < done; k++) {
      const buf = unchecked(gBuf[k]);
      for (let e = unchecked(gFirst[k]); e <= unchecked(gLast[k]); e++) {
        if (buf != 0) memory.copy(unchecked(qDst[e]), buf + <usize>(unchecked(qAddr[e]) - unchecked(gLo[k])), <usize>unchecked(qLen[e]));
        unchecked(qOk[e] = true);
      }
    }
    if (done < g) {
      if (unchecked(gBuf[done]) != 0) {
        // a merged read failed (a gap unmapped, a short read): its entries again, one by one
        i = unchecked(gFirst[done]);
        singleUntil = unchecked(gLast[done]) + 1;
      } else {
        // process_vm_readv stops at the first unreadable iovec: go on after it, a few times (a
        // stack that shrank leaves many speculative addresses unmapped; those are read alone if needed)
        if (++restarts > MAX_RESTARTS) break;
        i = unchecked(gFirst[done]) + 1;
      }
    }
  }
  return OK;
}
