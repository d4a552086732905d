// One thread's frames: local copies of its stack chunks (3.11+) and frames (prefetched, from a
// failed proof's second read, or read alone), and the walk of its frame chain into frameCode /
// frameOffset / frameAddr, every frame followed recorded as a check for the proof.
// Must not know: the thread list or the sample's phases (walk.ts), code objects (code-cache.ts),
// versions (only the active table, python/active.ts).
// Source of truth: docs/cpython-layouts.md §4 (frame models, skipped frames, stack chunks,
// instruction offsets).

import { readRemote } from "../io";
import { OK, ERR_CHAIN, ERR_LIMIT, ERR_NO_MEMORY, fail, lastErrorCode } from "../status";
import * as F from "../python/fields";
import * as C from "../python/capabilities";
import { O, frameModel, lineFormat, frameSkip, tagMask, chainEnd, bytecodeModel } from "../python/active";
import { rangeInside } from "../util/bounds";
import { LINE_TABLE_310 } from "./line-table";
import { qAddr, qOk } from "./read-queue";
import {
  CHUNK_FIRST_READ, C_ADDR, frameBlockEnd, C_CODE, C_INSTR, C_PREV, FRAME_BUF, MAX_CHUNKS, MAX_CHUNK_BYTES, MAX_CHUNK_COPIES, MAX_FRAMES, MAX_SPEC_LOOSE_FRAMES, OWNER_FIRST_NON_PYTHON, checks, chunkEnd, chunkFirst, chunkHi, chunkLo, chunkQ, curSlot, frameAddr, frameCode, frameLen, frameOffset, looseReads, nextChunkAddr, oRefcnt, pfAddr, pfArena, pfCursor, pfHi, pfQ, poolBuf, poolBuffer, poolUsed, retryCursor, retryHi, retryLo, retryQ, slotChunkQueued, slotChunkStart, specCur, speculate, verifyArena,
} from "./sample-state";

// ---- stack chunks ----

/** Registers a chunk copy whose first CHUNK_FIRST_READ bytes are in pool buffer i. */
export function registerChunk(i: i32, addr: u64): bool {
  let buf = unchecked(poolBuf[i]);
  const previous = load<u64>(buf + <usize>O[F.F_CHUNK_PREVIOUS]);
  let size = <i64>load<u64>(buf + <usize>O[F.F_CHUNK_CHUNK_SIZE]);
  if (size < <i64>O[F.F_CHUNK_SIZE] || size > <i64>MAX_CHUNK_BYTES) return false;
  if (size > <i64>CHUNK_FIRST_READ) {
    buf = poolBuffer(i, <i32>size);
    if (buf == 0) return false;
    const rest = <i32>size - CHUNK_FIRST_READ;
    if (readRemote(addr + <u64>CHUNK_FIRST_READ, buf + CHUNK_FIRST_READ, rest) != OK) return false;
  } else {
    size = CHUNK_FIRST_READ;
  }
  unchecked(chunkLo[i] = addr);
  if (addr > ~(<u64>size)) return false; // a chunk ending past 2^64 is garbage
  unchecked(chunkHi[i] = addr + <u64>size);
  nextChunkAddr = previous;
  return true;
}

/** Copies the chunk at addr alone (not prefetched) and registers it. */
export function copyChunk(addr: u64): bool {
  if (poolUsed >= MAX_CHUNK_COPIES || chunkEnd - chunkFirst >= MAX_CHUNKS) return false;
  const i = poolUsed;
  const buf = poolBuffer(i, CHUNK_FIRST_READ);
  if (buf == 0 || readRemote(addr, buf, CHUNK_FIRST_READ) != OK) return false;
  poolUsed++;
  if (!registerChunk(i, addr)) return false;
  chunkEnd = poolUsed;
  if (speculate) specCur.chunks.pushU64(addr);
  return true;
}

/** A prefetched copy of the frame at addr for the current thread, or 0. */
export function prefetchedFrame(addr: u64): usize {
  const hi = pfHi;
  let k = pfCursor;
  // the stack mostly keeps its order between samples: look a little ahead of the cursor
  const end = k + 16 < hi ? k + 16 : hi;
  for (; k < end; k++) {
    if (unchecked(pfAddr[k]) == addr) {
      if (!unchecked(qOk[unchecked(pfQ[k])])) return 0;
      pfCursor = k + 1;
      return pfArena + <usize>k * frameLen;
    }
  }
  return 0;
}

/** The failed proof's second read of the frame at addr, for a retry; 0 when it has none. */
export function verifiedCopy(addr: u64): usize {
  let k = retryCursor;
  const end = k + 16 < retryHi ? k + 16 : retryHi;
  for (; k < end; k++) {
    if (load<u64>(checks.at(k) + C_ADDR) != addr) continue;
    if (!unchecked(qOk[retryQ + (k - retryLo)])) return 0;
    retryCursor = k + 1;
    return verifyArena + <usize>k * frameLen;
  }
  return 0;
}

/** A local copy of the frame at addr: from a chunk copy, a prefetched frame, else read alone. */
export function localFrame(addr: u64): usize {
  for (let pass = 0; pass < MAX_CHUNKS + 1; pass++) {
    for (let i = chunkFirst; i < chunkEnd; i++) {
      // never `addr + frameLen <= hi`: a garbage link (0xffff…) wraps that sum past the check
      if (rangeInside(addr, <u64>frameLen, unchecked(chunkLo[i]), unchecked(chunkHi[i]))) return unchecked(poolBuf[i]) + <usize>(addr - unchecked(chunkLo[i]));
    }
    if (frameModel == C.FRAME_MODEL_FRAME_OBJECT || nextChunkAddr == 0 || !copyChunk(nextChunkAddr)) break;
  }
  // generator frames, C-stack entry frames, and every frame object ≤3.10
  if (retryHi > retryLo) {
    const p = verifiedCopy(addr);
    if (p != 0) return p;
  }
  if (speculate) {
    // interpreter frames outside chunks are few (entry and generator frames); many means the
    // chunks moved under this sample: not worth speculating on next time
    if (frameModel == C.FRAME_MODEL_FRAME_OBJECT || specCur.frames.len - unchecked(specCur.frameStart[curSlot]) < MAX_SPEC_LOOSE_FRAMES) {
      specCur.frames.pushU64(addr);
    }
    const p = prefetchedFrame(addr);
    if (p != 0) return p;
  }
  // interpreter frames outside every chunk are few; hundreds mean the chunks moved under this
  // sample (a stack that shrank and grew): give up on it as torn rather than read them one by one
  if (frameModel != C.FRAME_MODEL_FRAME_OBJECT && ++looseReads > MAX_SPEC_LOOSE_FRAMES) {
    fail(ERR_CHAIN, 10, addr);
    return 0;
  }
  return readRemote(addr, FRAME_BUF, frameLen) == OK ? FRAME_BUF : 0;
}

// ---- frames ----

/** Walks the frames from addr (innermost first) into frameCode/frameOffset. Returns depth or -status. */
export function walkFrameObjects(addr: u64): i32 {
  let depth = 0;
  const fBack = O[F.F_FRAME_F_BACK], fCode = O[F.F_FRAME_F_CODE], fLasti = O[F.F_FRAME_F_LASTI];
  const unitOffsets = lineFormat == LINE_TABLE_310;
  while (addr != 0) {
    if (depth >= MAX_FRAMES) return -fail(ERR_LIMIT, 2, addr);
    const p = localFrame(addr);
    if (p == 0) return -lastErrorCode();
    const code = load<u64>(p + <usize>fCode);
    const lasti = load<i32>(p + <usize>fLasti);
    if (code == 0) return -fail(ERR_CHAIN, 3, addr);
    // a freed frame (on the free list, or a code object's zombie) has no references
    if (oRefcnt >= 0 && load<i64>(p + <usize>oRefcnt) <= 0) return -fail(ERR_CHAIN, 11, addr);
    if (!pushCheck(addr, load<u64>(p + <usize>fBack), code, <u64>lasti)) return -fail(ERR_NO_MEMORY, 6);
    unchecked(frameCode[depth] = code);
    unchecked(frameAddr[depth] = addr);
    unchecked(frameOffset[depth] = lasti < 0 ? -1 : (unitOffsets ? lasti << 1 : lasti));
    unchecked(frameBlockEnd[depth] = 1); // ≤3.10: one eval-loop call per frame
    depth++;
    addr = load<u64>(p + <usize>fBack);
  }
  return depth;
}

/** The most copies of a code object's bytecode followed (one per thread that ran it). */
const MAX_TLBC_INDEX: i32 = 1 << 16;
const TLBC_BUF: usize = memory.data(8, 8);

/**
 * Free-threaded 3.14+: the start of copy idx of the bytecode of the code object at code
 * (`co_tlbc->entries[idx]`, a `_PyCodeArray {Py_ssize_t size; char *entries[size]}`), or 0 when
 * it cannot be read. Three 8-byte reads (co_tlbc, its size, the entry); only frames of threads
 * running their own copy (idx != 0) pay.
 * Source: Include/internal/pycore_code.h (_PyCodeArray), pycore_frame.h (_PyFrame_GetBytecode).
 */
function readTlbcBase(code: u64, idx: i32): u64 {
  if (idx <= 0 || idx >= MAX_TLBC_INDEX) return 0;
  if (readRemote(code + <u64>O[F.F_CODE_CO_TLBC], TLBC_BUF, 8) != OK) return 0;
  const arr = load<u64>(TLBC_BUF);
  if (arr == 0 || arr > 0xfffffffffff00000) return 0;
  if (readRemote(arr, TLBC_BUF, 8) != OK) return 0;
  const size = load<i64>(TLBC_BUF);
  if (size <= <i64>idx || size > <i64>MAX_TLBC_INDEX) return 0;
  if (readRemote(arr + 8 + (<u64>idx << 3), TLBC_BUF, 8) != OK) return 0;
  return load<u64>(TLBC_BUF);
}

export function walkInterpreterFrames(addr: u64, baseFrame: u64): i32 {
  let depth = 0;
  const oPrev = O[F.F_IFRAME_PREVIOUS], oExec = O[F.F_IFRAME_EXECUTABLE], oInstr = O[F.F_IFRAME_INSTR_PTR],
    oOwner = O[F.F_IFRAME_OWNER], oIsEntry = O[F.F_IFRAME_IS_ENTRY];
  // free-threaded 3.14+: a frame's instr_ptr may point into its thread's own bytecode copy
  const oTlbc = bytecodeModel == C.BYTECODE_THREAD_LOCAL ? O[F.F_IFRAME_TLBC_INDEX] : -1;
  const adaptive = <u64>O[F.F_CODE_CO_CODE_ADAPTIVE];
  let last: u64 = 0;
  let lastOwner: u8 = 0xff;
  for (let n = 0; addr != 0; n++) {
    if (n >= MAX_FRAMES) return -fail(ERR_LIMIT, 2, addr);
    const p = localFrame(addr);
    if (p == 0) return -lastErrorCode();
    last = addr;
    const prev = load<u64>(p + <usize>oPrev);
    const owner = load<u8>(p + <usize>oOwner);
    if (!pushCheck(addr, prev, load<u64>(p + <usize>oExec), load<u64>(p + <usize>oInstr))) return -fail(ERR_NO_MEMORY, 6);
    lastOwner = owner;
    if (frameSkip == C.FRAME_SKIP_OWNER && owner >= OWNER_FIRST_NON_PYTHON) {
      // 3.12+: an eval loop's entry frame; the frame inside it is the outermost of that call's block
      if (depth > 0) unchecked(frameBlockEnd[depth - 1] = 1);
      addr = prev;
      continue;
    }
    const code = load<u64>(p + <usize>oExec) & tagMask;
    if (code == 0) { addr = prev; continue; } // a frame being pushed or torn down
    const instr = load<u64>(p + <usize>oInstr);
    let base = code + adaptive;
    if (oTlbc >= 0) {
      const idx = load<i32>(p + <usize>oTlbc);
      if (idx != 0) base = readTlbcBase(code, idx);
    }
    const units = base == 0 ? -1 : (<i64>instr - <i64>base) >> 1;
    unchecked(frameCode[depth] = code);
    unchecked(frameAddr[depth] = addr);
    unchecked(frameOffset[depth] = units < 0 || units > 0x3fffffff ? -1 : <i32>units);
    // 3.11: the frame the eval loop was entered with says so itself
    unchecked(frameBlockEnd[depth] = oIsEntry >= 0 && load<u8>(p + <usize>oIsEntry) != 0 ? 1 : 0);
    depth++;
    addr = prev;
  }
  if (depth > 0) unchecked(frameBlockEnd[depth - 1] = 1); // the outermost frame ends a block
  if (chainEnd == C.CHAIN_END_BASE_FRAME && baseFrame != 0 && last != baseFrame) return -fail(ERR_CHAIN, 4, last);
  // 3.12+: every eval loop pushes an entry frame, so a whole stack ends at one
  if (frameSkip == C.FRAME_SKIP_OWNER && last != 0 && lastOwner < OWNER_FIRST_NON_PYTHON) return -fail(ERR_CHAIN, 9, last);
  return depth;
}

/** Records what the walk read of the frame at addr, to be compared with a second read. */
export function pushCheck(addr: u64, prev: u64, code: u64, instr: u64): bool {
  const k = checks.grow(1);
  if (k < 0) return false;
  const c = checks.at(k);
  store<u64>(c + C_ADDR, addr);
  store<u64>(c + C_PREV, prev);
  store<u64>(c + C_CODE, code);
  store<u64>(c + C_INSTR, instr);
  return true;
}

/**
 * Makes this thread's chunk copies current: the newest chunk (prefetched with its tstate's
 * address when the slot's chunk did not move, else copied now) and the previous sample's older
 * chunks where they still link up.
 */
export function adoptChunks(slot: i32, chunk: u64): void {
  if (chunk == 0) return;
  const first = unchecked(slotChunkStart[slot]);
  const queued = unchecked(slotChunkQueued[slot]);
  let expected = chunk;
  let i = first;
  if (speculate) {
    for (; i < first + queued; i++) {
      const q = unchecked(chunkQ[i]);
      if (unchecked(qAddr[q]) != expected || !unchecked(qOk[q])) break;
      if (!registerChunk(i, expected)) break;
      if (i > first) specCur.chunks.pushU64(expected);
      expected = nextChunkAddr;
    }
  }
  if (i == first) {
    // nothing prefetched links up: copy the newest chunk now
    chunkFirst = poolUsed;
    chunkEnd = poolUsed;
    if (!copyChunk(chunk)) { nextChunkAddr = 0; return; }
    // copyChunk recorded it as an older chunk: the newest is implied by the tstate
    if (speculate) specCur.chunks.len--;
    return;
  }
  chunkFirst = first;
  chunkEnd = i;
  nextChunkAddr = expected;
}

/** The newest data-stack chunk in a tstate window (0 where frames are objects, ≤3.10). */
export function tstateChunk(ts: usize): u64 {
  return frameModel != C.FRAME_MODEL_FRAME_OBJECT ? load<u64>(ts + <usize>O[F.F_TSTATE_DATASTACK_CHUNK]) : 0;
}

/** The cframe in a tstate window (3.11 only, else 0). */
export function tstateCframe(ts: usize): u64 {
  return frameModel == C.FRAME_MODEL_CFRAME ? load<u64>(ts + <usize>O[F.F_TSTATE_CFRAME]) : 0;
}
