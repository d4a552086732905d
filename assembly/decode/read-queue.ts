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

/** Issues the queued reads from index `from` on (MAX_IOV per syscall). OK, or ERR_GONE / ERR_PERM. */
const MAX_RESTARTS: i32 = 4;
export function qFlush(from: i32): i32 {
  let i = from;
  let restarts = 0;
  while (i < qCount) {
    batchReset();
    const first = i;
    while (i < qCount && i - first < MAX_IOV) {
      batchAdd(unchecked(qAddr[i]), unchecked(qLen[i]), unchecked(qDst[i]));
      i++;
    }
    const done = batchRun();
    if (done < 0) {
      const st = -done;
      if (st == ERR_GONE || st == ERR_PERM) return fail(st, 0);
      continue;
    }
    for (let k = 0; k < done; k++) unchecked(qOk[first + k] = true);
    // process_vm_readv stops at the first unreadable iovec: go on after it, a few times (a stack
    // that shrank leaves many speculative addresses unmapped; those are read alone if needed)
    if (first + done < i) {
      if (++restarts > MAX_RESTARTS) break;
      i = first + done + 1;
    }
  }
  return OK;
}
