// The results of the last sample: one record per thread (contract.ts R_*: OS tid, interned thread,
// stack node, status, GIL, depth, the host's keep mark, first kept frame), which the host reads
// at walkResultsPtr, marks, and commits to the sample sequence (walkCommit).
// Must not know: how stacks are read (walk.ts fills the records), the clock, the OS.
// Source of truth: contract.ts (the record's layout, which the host reads from the core's description).

import { OK, ERR_NO_MEMORY } from "../status";
import { R_TID, R_THREAD, R_NODE, R_STATUS, R_GIL, R_DEPTH, R_KEEP, R_FIRST_KEPT, RESULT_SIZE } from "../contract";
import { pushSample } from "../aggregate/intern";

/** Threads sampled at most (records of one sample). */
export const MAX_THREADS: i32 = 4096;
const results: usize = memory.data(MAX_THREADS * RESULT_SIZE, 16);
let resultCount: i32 = 0;

export function walkResultsPtr(): usize { return results; }
export function walkResultCount(): i32 { return resultCount; }

/** Forgets the last sample's records. */
@inline export function resultsClear(): void { resultCount = 0; }

/** Appends a record: zeroed, no stack node (-1). Returns its pointer. */
@inline export function resultNew(): usize {
  const r = results + <usize>resultCount * RESULT_SIZE;
  memory.fill(r, 0, RESULT_SIZE);
  store<i32>(r + R_NODE, -1);
  resultCount++;
  return r;
}

@inline export function resultSetStatus(r: usize, st: i32): void { store<i32>(r + R_STATUS, st); }
@inline export function resultSetNode(r: usize, node: i32): void { store<i32>(r + R_NODE, node); }
@inline export function resultSetDepth(r: usize, depth: i32): void { store<i32>(r + R_DEPTH, depth); }
@inline export function resultSetFirstKept(r: usize, k: i32): void { store<i32>(r + R_FIRST_KEPT, k); }
@inline export function resultSetThread(r: usize, tid: i32, threadId: i32): void {
  store<i32>(r + R_TID, tid);
  store<i32>(r + R_THREAD, threadId);
}
@inline export function resultSetGil(r: usize, holds: bool): void { store<i32>(r + R_GIL, holds ? 1 : 0); }

/** Adds the records the host marked `keep` to the sample sequence. Returns how many. */
export function walkCommit(time: f64, weight: f64): i32 {
  let n = 0;
  for (let i = 0; i < resultCount; i++) {
    const r = results + <usize>i * RESULT_SIZE;
    if (load<i32>(r + R_KEEP) == 0 || load<i32>(r + R_STATUS) != OK) continue;
    if (!pushSample(time, weight, load<i32>(r + R_THREAD), load<i32>(r + R_NODE))) return -ERR_NO_MEMORY;
    n++;
  }
  return n;
}
