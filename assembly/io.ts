// Remote reads: the core's one door to the world. Reads are queued as iovec pairs in fixed
// regions of linear memory and served by the host's imported `read` in one call, which for a
// live process is one process_vm_readv writing straight into this memory.
// Must not know: how the host reads (live process, core file, snapshot), errno values (the host
// turns them into read statuses, host/target/errno.ts), or any CPython layout.
// Source of truth: process_vm_readv(2) (struct iovec {void *base; size_t len}); contract.ts (read statuses).

import { OK, ERR_READ, ERR_GONE, ERR_PERM, fail } from "./status";
import { READ_GONE, READ_PERM, DETAIL_READ_SHORT } from "./contract";

// The host serves `count` iovec pairs. Local bases are absolute addresses of this memory
// (memory base + offset); returns the bytes read, or -(a read status of contract.ts).
@external("env", "read")
declare function hostRead(localIovPtr: usize, remoteIovPtr: usize, count: i32): i32;

// The host writes the absolute address of linear memory's first byte (u64) at dstPtr.
@external("env", "locateMemory")
declare function hostLocateMemory(dstPtr: usize): void;

export const MAX_IOV: i32 = 1024; // IOV_MAX on Linux
const LOCAL_IOV: usize = memory.data(16 * 1024, 16);
const REMOTE_IOV: usize = memory.data(16 * 1024, 16);
const BASE_SLOT: usize = memory.data(8, 8);

let memBase: u64 = 0;
let memPages: i32 = -1;
let batchCount: i32 = 0;
let batchWanted: i64 = 0;

/** Remote read calls made (each one syscall for a live target), for reads-per-sample figures. */
let readCalls: u32 = 0;
let lastReadStatus: i32 = 0;

export function readCallCount(): u32 { return readCalls; }

function ensureBase(): void {
  const pages = <i32>memory.size();
  if (pages != memPages) {
    const oldBase = memBase;
    hostLocateMemory(BASE_SLOT);
    memBase = load<u64>(BASE_SLOT);
    memPages = pages;
    // rebase iovecs already queued against the old base
    if (oldBase != memBase) {
      for (let i = 0; i < batchCount; i++) {
        const p = LOCAL_IOV + (<usize>i << 4);
        store<u64>(p, load<u64>(p) - oldBase + memBase);
      }
    }
  }
}

/** The reader changed: ask the host for the memory's base again before the next read. */
export function ioForgetBase(): void { memPages = -1; }

export function batchReset(): void {
  batchCount = 0;
  batchWanted = 0;
}

export function batchSize(): i32 { return batchCount; }

/** Queues a read of len bytes at remote addr into local dstPtr. False when the batch is full. */
export function batchAdd(addr: u64, len: i32, dstPtr: usize): bool {
  if (batchCount >= MAX_IOV) return false;
  ensureBase();
  const l = LOCAL_IOV + (<usize>batchCount << 4);
  const r = REMOTE_IOV + (<usize>batchCount << 4);
  store<u64>(l, memBase + <u64>dstPtr);
  store<u64>(l, <u64>len, 8);
  store<u64>(r, addr);
  store<u64>(r, <u64>len, 8);
  batchCount++;
  batchWanted += len;
  return true;
}

/** Maps a read status from the host (contract.ts READ_*) to a status, remembering it. */
function statusOfRead(readStatus: i32): i32 {
  lastReadStatus = readStatus;
  if (readStatus == READ_GONE) return ERR_GONE;
  if (readStatus == READ_PERM) return ERR_PERM;
  return ERR_READ;
}

/**
 * Runs the queued batch. Returns the number of leading iovecs read completely
 * (a live read stops at the first unreadable one), or a negative status.
 */
export function batchRun(): i32 {
  if (batchCount == 0) return 0;
  ensureBase();
  readCalls++;
  const n = hostRead(LOCAL_IOV, REMOTE_IOV, batchCount);
  const count = batchCount;
  batchCount = 0;
  if (n < 0) {
    const st = statusOfRead(-n);
    if (st == ERR_READ) return 0; // nothing readable: every entry counts as failed
    return -st;
  }
  if (<i64>n >= batchWanted) return count;
  // find how many leading iovecs were served whole
  let left: i64 = n;
  let i = 0;
  while (i < count) {
    const len = <i64>load<u64>(LOCAL_IOV + (<usize>i << 4), 8);
    if (left < len) break;
    left -= len;
    i++;
  }
  return i;
}

/** Reads len bytes at remote addr into dstPtr. Returns OK or a status (recorded with fail). */
export function readRemote(addr: u64, dstPtr: usize, len: i32): i32 {
  if (addr == 0) return fail(ERR_READ, 0, addr);
  // a length from bad data never becomes a huge iovec, nor a write past linear memory
  if (len < 0 || <u64>dstPtr + <u64>len > (<u64>memory.size() << 16)) return fail(ERR_READ, 15, addr);
  batchReset();
  batchAdd(addr, len, dstPtr);
  const n = batchRun();
  if (n == 1) return OK;
  if (n < 0) return fail(-n, lastReadStatus, addr);
  return fail(ERR_READ, DETAIL_READ_SHORT, addr);
}

const WORD: usize = memory.data(8, 8);

/** Reads one u64 at addr; 0 and a failed status go together (check readWordStatus). */
let wordStatus: i32 = OK;
export function readWord(addr: u64): u64 {
  wordStatus = readRemote(addr, WORD, 8);
  return wordStatus == OK ? load<u64>(WORD) : 0;
}
export function readWordStatus(): i32 { return wordStatus; }
