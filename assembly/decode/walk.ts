// The sample: attach (interpreter, windows), then per call the thread list and its phases: one
// batched read at the previous sample's addresses (read-queue.ts), each thread's frames walked
// from local copies (frames.ts), resolved by the code cache (code-cache.ts), proven by a second
// read (proof.ts), then interned into the records of results.ts. One call samples every thread
// of the target once. The state these files share lives in sample-state.ts.
// Must not know: version numbers (only the active table, python/active.ts), I/O beyond io.ts and
// read-queue.ts, the clock or the OS (the host decides which thread samples to keep), libc
// layouts (the host hands the pthread tid offset over, walkSetPthreadTidOffset).
// Source of truth: docs/cpython-layouts.md §4 (thread list, frame models, skipped
// frames, stack chunks, instruction offsets) and §5 (GIL holder, OS thread ids).

import { readRemote, readWord, readWordStatus, readCallCount } from "../io";
import {
  OK, ERR_READ, ERR_CHAIN, ERR_LIMIT, ERR_NO_RUNTIME, ERR_NO_MEMORY, ERR_TABLE, ERR_GONE, ERR_PERM, ERR_TORN, fail, lastErrorCode,
} from "../status";
import * as F from "../python/fields";
import * as C from "../python/capabilities";
import {
  O, activeSet, activeTableId, frameModel, nativeIdModel, gilModel, windowStart, windowEnd,
} from "../python/active";
import { internFrame, internNode, internThread, FRAME_PYTHON } from "../aggregate/intern";
import { MAX_QUEUE, qDst, qOk, qCount, qReset, qAdd, qFlush } from "./read-queue";
import {
  entries, codeMap, stamp, codeLo, codeLen, E_ADDR, E_NAME_ID, E_FILE_ID, E_FIRSTLINE, E_STAMP, E_SPEC, E_FLAGS, CO_SUSPENDABLE, codeCacheNextSample, codeCacheSyncGeneration, codeCacheWindow, codeCacheAlloc, entryMatches, resolveFrames, frameLine,
} from "./code-cache";
import {
  MAX_THREADS, resultsClear, resultNew, resultSetStatus, resultSetNode, resultSetDepth, resultSetFirstKept, resultSetThread, resultSetGil,
} from "./results";
import {
  CFRAME_SLOTS, CHUNK_FIRST_READ, C_ADDR, GIL_BUF, INTERP_BUF, MAX_CHUNK_COPIES, MAX_TORN_RETRIES, MAX_WINDOW, P_ADDR, P_ENTRY, P_OFFSET, P_FLAGS, frameBlockEnd, keptFlags, REFCNT_BEFORE_TYPE, TID_BUF, attached, checks, chunkEnd, chunkFirst, chunkQ, curSlot, earlyArena, earlyCap, frameAddr, frameCode, frameEntry, frameLen, frameOffset, growArena, interpAddr, interpHeadSymAddr, interpLen, interpLo, keepFrames, keptAddr, keptEntry, listAddr, listCount, listOk, looseReads, nextChunkAddr, oRefcnt, pcArena, pcCap, pending, pfAddr, pfArena, pfCap, pfCount, pfCursor, pfEnd, pfHi, pfLo, pfQ, pfStart, poolBuffer, poolUsed, pthreadTidOffset, retryCursor, retryHi, retryLo, retryQ, runtimeAddr, slotCframeQ, slotCheckEnd, slotCheckStart, slotChunkQueued, slotChunkStart, slotEarlyQ, slotFromA, slotPendEnd, slotPendStart, slotProven, slotSame, slotSpecOwner, slotStatus, slotVerifyQ, slotVerifyTsQ, specCur, specMark, specPrev, speculate, tidCache, tstateArena, tstateCurrentSymAddr, tstateLen, verifyTsArena, wantGil,
} from "./sample-state";
import { walkFrameObjects, walkInterpreterFrames, adoptChunks, tstateChunk, tstateCframe } from "./frames";
import { reserveVerify, queueVerify, verified, verifiedEarly, queueEarly, verifyOne, sameAsKept, keepProven } from "./proof";
export { MAX_THREADS, walkResultsPtr, walkResultCount, walkCommit } from "./results";

// ---- reads the host adds to the next sample's first batch (--native: stack windows) ----
const MAX_EXTRA: i32 = 1024;
const extraAddr = new StaticArray<u64>(MAX_EXTRA);
const extraLen = new StaticArray<i32>(MAX_EXTRA);
const extraDst = new StaticArray<usize>(MAX_EXTRA);
const extraQ = new StaticArray<i32>(MAX_EXTRA);
const extraOk = new StaticArray<bool>(MAX_EXTRA);
let extraCount: i32 = 0;
/** Forgets the reads added for the next walkSample. */
export function walkExtraReadsClear(): void { extraCount = 0; }
/**
 * Adds a read of len bytes at remote addr into local dst to the first batch of the next
 * walkSample (one syscall for the walk and these): its index, or -1 when full. The walk ignores
 * the bytes; walkExtraReadOk says after it whether they came back whole.
 */
export function walkExtraRead(addr: u64, len: i32, dst: usize): i32 {
  if (extraCount >= MAX_EXTRA || len <= 0) return -1;
  const i = extraCount++;
  unchecked(extraAddr[i] = addr);
  unchecked(extraLen[i] = len);
  unchecked(extraDst[i] = dst);
  unchecked(extraOk[i] = false);
  return i;
}
export function walkExtraReadOk(i: i32): bool { return i >= 0 && i < extraCount && unchecked(extraOk[i]); }

/** Where a thread's OS id lies in libc's struct pthread (0: unknown). The host knows libc, not the core. */
export function walkSetPthreadTidOffset(offset: u64): void { pthreadTidOffset = offset; }
/** The id of the version table the walk uses (tables.ts tableAt), -1 before attach. */
export function walkTableId(): i32 { return activeTableId; }
export function walkInterpAddr(): u64 { return interpAddr; }
export function walkSetWantGil(on: bool): void { wantGil = on; }
export function walkSetKeepFrames(on: bool): void { keepFrames = on; }
/** Remote address of kept frame k (a PyFrameObject ≤3.10, a _PyInterpreterFrame 3.11+). */
export function keptFrameAddr(k: i32): u64 { return k >= 0 && k < keptAddr.len ? keptAddr.getU64(k) : 0; }
/** Remote address of kept frame k's code object. */
export function keptFrameCode(k: i32): u64 {
  if (k < 0 || k >= keptEntry.len) return 0;
  return load<u64>(entries.at(keptEntry.getI32(k)) + E_ADDR);
}
export function keptFrameCount(): i32 { return keptAddr.len; }
/** Kept frame k's flags (PF_BLOCK_END: the outermost frame of one eval-loop call, the merge key of a native stack). */
export function keptFrameFlags(k: i32): i32 { return k >= 0 && k < keptFlags.len ? keptFlags.getI32(k) : 0; }

/**
 * Prepares a walk with version table tableId. runtimeAddr is `_PyRuntime` (0 when the version
 * has none), interpHeadAddr the `interp_head` static (≤3.6), tstateCurrentAddr
 * `_PyThreadState_Current` (≤3.6), codeTypeAddr `PyCode_Type` (0: unchecked); all remote.
 * OK when the interpreter is found and its thread list closes.
 */
export function walkAttach(tableId: i32, runtime: u64, interpHead: u64, tstateCurrent: u64, codeType: u64): i32 {
  const ast = activeSet(tableId);
  if (ast != OK) return ast;
  oRefcnt = frameModel == C.FRAME_MODEL_FRAME_OBJECT && O[F.F_PYOBJECT_OB_TYPE] >= REFCNT_BEFORE_TYPE
    ? O[F.F_PYOBJECT_OB_TYPE] - REFCNT_BEFORE_TYPE : -1;
  runtimeAddr = runtime;
  interpHeadSymAddr = interpHead;
  tstateCurrentSymAddr = tstateCurrent;

  tstateLen = windowEnd([F.F_TSTATE_NEXT, F.F_TSTATE_INTERP, F.F_TSTATE_FRAME, F.F_TSTATE_CFRAME,
    F.F_TSTATE_CURRENT_FRAME, F.F_TSTATE_BASE_FRAME, F.F_TSTATE_THREAD_ID, F.F_TSTATE_NATIVE_THREAD_ID,
    F.F_TSTATE_DATASTACK_CHUNK]);
  if (frameModel == C.FRAME_MODEL_FRAME_OBJECT) {
    frameLen = windowEnd([F.F_FRAME_F_BACK, F.F_FRAME_F_CODE, F.F_FRAME_F_LASTI]);
  } else {
    frameLen = windowEnd([F.F_IFRAME_PREVIOUS, F.F_IFRAME_EXECUTABLE, F.F_IFRAME_INSTR_PTR, F.F_IFRAME_OWNER, F.F_IFRAME_TLBC_INDEX]);
  }
  const codeWindowOk = codeCacheWindow(codeType);
  // the interpreter window: the thread list head, and the GIL where the interpreter holds it
  const interpFields: StaticArray<i32> = gilModel == C.GIL_MODEL_INTERP_GIL
    ? [F.F_INTERP_THREADS_HEAD, F.F_INTERP_GIL_LOCKED, F.F_INTERP_GIL_HOLDER] : [F.F_INTERP_THREADS_HEAD];
  interpLo = windowStart(interpFields);
  interpLen = windowEnd(interpFields) - interpLo;
  if (tstateLen <= 0 || tstateLen > MAX_WINDOW || frameLen <= 0 || frameLen > MAX_WINDOW ||
      !codeWindowOk || interpLen <= 0 || interpLen > MAX_WINDOW) return fail(ERR_TABLE, 1);
  // a chunk's header is decoded from its first CHUNK_FIRST_READ bytes
  if (frameModel != C.FRAME_MODEL_FRAME_OBJECT &&
      (O[F.F_CHUNK_PREVIOUS] < 0 || O[F.F_CHUNK_CHUNK_SIZE] < 0 || O[F.F_CHUNK_SIZE] < 0 ||
       <i64>O[F.F_CHUNK_PREVIOUS] + 8 > <i64>CHUNK_FIRST_READ || <i64>O[F.F_CHUNK_CHUNK_SIZE] + 8 > <i64>CHUNK_FIRST_READ)) return fail(ERR_TABLE, 1);
  if (tstateArena != 0) heap.free(tstateArena);
  tstateArena = heap.alloc(<usize>MAX_THREADS * tstateLen);
  if (tstateArena == 0) return fail(ERR_NO_MEMORY, 0);
  if (verifyTsArena != 0) heap.free(verifyTsArena);
  verifyTsArena = heap.alloc(<usize>MAX_THREADS * tstateLen);
  if (verifyTsArena == 0) return fail(ERR_NO_MEMORY, 0);
  listCount = 0;
  specPrev.clear();
  specCur.clear();
  const cst = codeCacheAlloc();
  if (cst != OK) return cst;
  attached = true;
  return findInterpreter();
}

/** Finds the main interpreter and checks its first thread points back to it. */
function findInterpreter(): i32 {
  let head: u64;
  if (runtimeAddr != 0) head = readWord(runtimeAddr + <u64>O[F.F_RUNTIME_INTERPRETERS_HEAD]);
  else if (interpHeadSymAddr != 0) head = readWord(interpHeadSymAddr);
  else return fail(ERR_NO_RUNTIME, 1);
  if (readWordStatus() != OK) return lastErrorCode();
  if (head == 0) return fail(ERR_NO_RUNTIME, 2); // not initialised yet (or finalised)
  // the list is newest-first; the main interpreter is the last one
  let interp = head;
  for (let i = 0; i < 256; i++) {
    const next = readWord(interp + <u64>O[F.F_INTERP_NEXT]);
    if (readWordStatus() != OK) return lastErrorCode();
    if (next == 0) break;
    interp = next;
  }
  const t = readWord(interp + <u64>O[F.F_INTERP_THREADS_HEAD]);
  if (readWordStatus() != OK) return lastErrorCode();
  if (t == 0) return fail(ERR_NO_RUNTIME, 3);
  const back = readWord(t + <u64>O[F.F_TSTATE_INTERP]);
  if (readWordStatus() != OK) return lastErrorCode();
  if (back != interp) return fail(ERR_CHAIN, 1, t);
  interpAddr = interp;
  return OK;
}

/** The OS thread id of a thread whose tstate window is at ts. */
function threadTid(ts: usize, ident: u64): i32 {
  if (nativeIdModel == C.THREAD_NATIVE_ID_FIELD) return <i32>load<u32>(ts + <usize>O[F.F_TSTATE_NATIVE_THREAD_ID]);
  const cached = tidCache.get(ident);
  if (cached >= 0) return cached;
  if (pthreadTidOffset == 0) return 0;
  if (readRemote(ident + pthreadTidOffset, TID_BUF, 4) != OK) return 0;
  const tid = load<i32>(TID_BUF);
  if (tid > 0) tidCache.set(ident, tid);
  return tid > 0 ? tid : 0;
}

/** The tstate holding the GIL from what phase A read (GIL_BUF / INTERP_BUF), 0 when none. */
function gilHolderFrom(gilQ: i32): u64 {
  if (gilModel == C.GIL_MODEL_INTERP_GIL) {
    const locked = load<i32>(INTERP_BUF + <usize>(O[F.F_INTERP_GIL_LOCKED] - interpLo));
    return locked > 0 ? load<u64>(INTERP_BUF + <usize>(O[F.F_INTERP_GIL_HOLDER] - interpLo)) : 0;
  }
  return gilQ >= 0 && unchecked(qOk[gilQ]) ? load<u64>(GIL_BUF) : 0;
}

/**
 * Walks thread slot `slot` whose tstate window is at ts: its frames, resolved to code entries,
 * go to `pending` and what the walk followed to `checks` (interned once proven, internStack).
 * Returns OK or a status.
 */
function decodeThread(slot: i32, ts: usize): i32 {
  let frame: u64 = 0;
  let depth: i32;
  unchecked(slotCheckStart[slot] = checks.len);
  unchecked(slotCheckEnd[slot] = checks.len);
  unchecked(slotPendStart[slot] = pending.len);
  unchecked(slotPendEnd[slot] = pending.len);
  specMark++;
  curSlot = slot;
  // this thread's prefetched frames and chunk copies
  pfLo = unchecked(pfStart[slot]);
  pfHi = unchecked(pfEnd[slot]);
  pfCursor = pfLo;
  chunkFirst = poolUsed;
  chunkEnd = poolUsed;
  nextChunkAddr = 0;
  looseReads = 0;
  if (frameModel == C.FRAME_MODEL_FRAME_OBJECT) {
    frame = load<u64>(ts + <usize>O[F.F_TSTATE_FRAME]);
    depth = walkFrameObjects(frame);
  } else {
    if (frameModel == C.FRAME_MODEL_CFRAME) {
      const cf = tstateCframe(ts);
      const q = unchecked(slotCframeQ[slot]);
      if (cf == 0) frame = 0;
      else if (speculate && q >= 0 && unchecked(qOk[q])) frame = load<u64>(CFRAME_SLOTS + (<usize>slot << 3));
      else {
        frame = readWord(cf + <u64>O[F.F_CFRAME_CURRENT_FRAME]);
        if (readWordStatus() != OK) return readWordStatus();
      }
    } else {
      frame = load<u64>(ts + <usize>O[F.F_TSTATE_CURRENT_FRAME]);
    }
    adoptChunks(slot, tstateChunk(ts));
    const base = O[F.F_TSTATE_BASE_FRAME] >= 0 ? load<u64>(ts + <usize>O[F.F_TSTATE_BASE_FRAME]) : 0;
    depth = walkInterpreterFrames(frame, base);
  }
  unchecked(slotCheckEnd[slot] = checks.len);
  if (depth < 0) return -depth;
  const st = resolveFrames(frameCode, frameEntry, depth);
  if (st != OK) return st;
  if (speculate) {
    // the code objects to re-validate speculatively next sample, once each
    for (let i = 0; i < depth; i++) {
      const p = entries.at(unchecked(frameEntry[i]));
      if (load<i32>(p + E_SPEC) == specMark) continue;
      store<i32>(p + E_SPEC, specMark);
      specCur.codes.pushU64(load<u64>(p + E_ADDR));
    }
  }
  // a suspended generator's frame has no caller: a stack that ends at one was read while the
  // generator yielded (torn); the thread's real stack continues below it
  if (depth > 0 && (load<i32>(entries.at(unchecked(frameEntry[depth - 1])) + E_FLAGS) & CO_SUSPENDABLE) != 0) {
    return fail(ERR_CHAIN, 8, unchecked(frameAddr[depth - 1]));
  }
  const first = pending.grow(depth);
  if (first < 0) return fail(ERR_NO_MEMORY, 7);
  for (let i = 0; i < depth; i++) {
    const q = pending.at(first + i);
    store<u64>(q + P_ADDR, unchecked(frameAddr[i]));
    store<i32>(q + P_ENTRY, unchecked(frameEntry[i]));
    store<i32>(q + P_OFFSET, unchecked(frameOffset[i]));
    store<i32>(q + P_FLAGS, <i32>unchecked(frameBlockEnd[i]));
  }
  unchecked(slotPendEnd[slot] = pending.len);
  return OK;
}

/** Interns slot's proven frames (decodeThread) as its stack in result record r. OK or a status. */
function internStack(slot: i32, r: usize): i32 {
  const lo = unchecked(slotPendStart[slot]), hi = unchecked(slotPendEnd[slot]);
  let node = -1;
  for (let k = hi - 1; k >= lo; k--) {
    const q = pending.at(k);
    const e = load<i32>(q + P_ENTRY);
    const p = entries.at(e);
    const line = frameLine(e, load<i32>(q + P_OFFSET));
    const fid = internFrame(load<i32>(p + E_NAME_ID), load<i32>(p + E_FILE_ID), line, FRAME_PYTHON, load<i32>(p + E_FIRSTLINE));
    if (fid < 0) return fail(ERR_NO_MEMORY, 3);
    node = internNode(node, fid);
    if (node < 0) return fail(ERR_NO_MEMORY, 4);
  }
  resultSetNode(r, node);
  resultSetDepth(r, hi - lo);
  if (keepFrames) {
    // innermost first, like the stack a dump prints
    resultSetFirstKept(r, keptAddr.len);
    for (let k = lo; k < hi; k++) {
      const q = pending.at(k);
      if (keptAddr.pushU64(load<u64>(q + P_ADDR)) < 0 || keptEntry.pushI32(load<i32>(q + P_ENTRY)) < 0 || keptFlags.pushI32(load<i32>(q + P_FLAGS)) < 0) return fail(ERR_NO_MEMORY, 5);
    }
  }
  return OK;
}

/**
 * Queues thread slot `slot`'s reads: its newest chunk `chunk` and cframe `cf` (from its tstate,
 * or as last seen), and the older chunks and loose frames seen last time.
 */
function queueThread(slot: i32, t: u64, chunk: u64, cf: u64): void {
  unchecked(slotCframeQ[slot] = -1);
  if (frameModel == C.FRAME_MODEL_CFRAME && cf != 0) {
    unchecked(slotCframeQ[slot] = qAdd(cf + <u64>O[F.F_CFRAME_CURRENT_FRAME], 8, CFRAME_SLOTS + (<usize>slot << 3)));
  }
  const prev = specPrev;
  const same = slot < prev.count && unchecked(prev.owner[slot]) == t;
  // chunks: the newest (from the tstate), then the older ones seen last time
  unchecked(slotChunkStart[slot] = poolUsed);
  unchecked(slotChunkQueued[slot] = 0);
  if (frameModel != C.FRAME_MODEL_FRAME_OBJECT) {
    if (chunk != 0) {
      queueChunk(slot, chunk);
      if (same) {
        for (let k = unchecked(prev.chunkStart[slot]); k < unchecked(prev.chunkStart[slot + 1]); k++) queueChunk(slot, prev.chunks.getU64(k));
      }
    }
  }
  // frames outside chunks (all frames ≤3.10)
  unchecked(pfStart[slot] = pfCount);
  if (same) {
    const lo = unchecked(prev.frameStart[slot]), hi = unchecked(prev.frameStart[slot + 1]);
    const need = pfCount + (hi - lo);
    if (need <= MAX_QUEUE) {
      const arena = growArena(pfArena, pfCap, need, frameLen);
      if (arena != 0) {
        if (arena != pfArena) { pfArena = arena; pfCap = need * frameLen; }
        for (let k = lo; k < hi; k++) {
          const a = prev.frames.getU64(k);
          const q = qAdd(a, frameLen, 0); // destination set after the arena stops moving
          if (q < 0) break;
          unchecked(pfAddr[pfCount] = a);
          unchecked(pfQ[pfCount] = q);
          pfCount++;
        }
      }
    }
  }
  unchecked(pfEnd[slot] = pfCount);
}

/** A slot with nothing queued. */
function queueNothing(slot: i32): void {
  unchecked(pfStart[slot] = pfCount);
  unchecked(pfEnd[slot] = pfCount);
  unchecked(slotChunkStart[slot] = poolUsed);
  unchecked(slotChunkQueued[slot] = 0);
  unchecked(slotCframeQ[slot] = -1);
}

function queueChunk(slot: i32, addr: u64): void {
  if (poolUsed >= MAX_CHUNK_COPIES) return;
  const i = poolUsed;
  const buf = poolBuffer(i, CHUNK_FIRST_READ);
  if (buf == 0) return;
  const q = qAdd(addr, CHUNK_FIRST_READ, buf);
  if (q < 0) return;
  unchecked(chunkQ[i] = q);
  poolUsed++;
  unchecked(slotChunkQueued[slot] = unchecked(slotChunkQueued[slot]) + 1);
}

/** Queues the previous sample's code objects for validation; returns the first queue index. */
let codesQueued: i32 = 0;
function queueCodes(): i32 {
  const prev = specPrev;
  const n = prev.codes.len;
  const first = qCount;
  codesQueued = 0;
  if (n == 0) return first;
  const arena = growArena(pcArena, pcCap, n, codeLen);
  if (arena == 0) return first;
  if (arena != pcArena) { pcArena = arena; pcCap = n * codeLen; }
  for (let k = 0; k < n; k++) {
    if (qAdd(prev.codes.getU64(k) + <u64>codeLo, codeLen, pcArena + <usize>k * codeLen) < 0) break;
    codesQueued++;
  }
  return first;
}

/** Marks the code entries whose prefetched windows still match as validated this sample. */
function checkCodes(first: i32): void {
  const prev = specPrev;
  const n = codesQueued;
  for (let k = 0; k < n && k < prev.codes.len; k++) {
    if (!unchecked(qOk[first + k])) continue;
    const e = codeMap.get(prev.codes.getU64(k));
    if (e < 0) continue;
    const p = entries.at(e);
    store<i32>(p + E_STAMP, entryMatches(e, pcArena + <usize>k * codeLen) ? stamp : 0);
  }
}

/**
 * Samples every thread once. Returns the number of thread records (walkResultsPtr), or a
 * negative status when the thread list itself could not be read (target gone, no permission).
 * A thread whose stack was torn is retried with fresh reads (MAX_TORN_RETRIES times), then
 * reported with its status.
 * At steady state this is one syscall: the thread list, every thread's chunks, frames outside
 * chunks and code-object checks, each at the previous sample's addresses; a second one only for
 * threads whose newest chunk (or cframe) moved, or that are new.
 */
export function walkSample(): i32 {
  resultsClear();
  keptAddr.clear();
  keptEntry.clear();
  keptFlags.clear();
  codeCacheSyncGeneration();
  if (!attached) return -fail(ERR_NO_RUNTIME, 4);
  if (interpAddr == 0) {
    const st = findInterpreter();
    if (st != OK) return -st;
  }
  codeCacheNextSample();
  speculate = true;
  const oNext = <usize>O[F.F_TSTATE_NEXT], oInterp = <usize>O[F.F_TSTATE_INTERP], oIdent = <usize>O[F.F_TSTATE_THREAD_ID];

  // phase A, one batch: the interpreter's thread head (and GIL), the thread states seen last
  // time, and every thread's chunks, loose frames and code checks as last seen
  qReset();
  poolUsed = 0;
  pfCount = 0;
  qAdd(interpAddr + <u64>interpLo, interpLen, INTERP_BUF);
  let gilQ = -1;
  if (wantGil) {
    if (gilModel == C.GIL_MODEL_THREAD_STATE_CURRENT && tstateCurrentSymAddr != 0) gilQ = qAdd(tstateCurrentSymAddr, 8, GIL_BUF);
    else if (gilModel == C.GIL_MODEL_RUNTIME_TSTATE_CURRENT && runtimeAddr != 0) gilQ = qAdd(runtimeAddr + <u64>O[F.F_RUNTIME_TSTATE_CURRENT], 8, GIL_BUF);
  }
  const firstT = qCount;
  for (let i = 0; i < listCount; i++) qAdd(unchecked(listAddr[i]), tstateLen, tstateArena + <usize>i * tstateLen);
  const prev = specPrev;
  for (let i = 0; i < listCount; i++) {
    const owner = unchecked(listAddr[i]);
    if (i < prev.count && unchecked(prev.owner[i]) == owner) {
      queueThread(i, owner, unchecked(prev.newest[i]), unchecked(prev.cframe[i]));
      unchecked(slotSpecOwner[i] = owner);
    } else {
      queueNothing(i);
      unchecked(slotSpecOwner[i] = 0);
    }
  }
  for (let k = 0; k < pfCount; k++) unchecked(qDst[unchecked(pfQ[k])] = pfArena + <usize>k * frameLen);
  const codesQ = queueCodes();
  // last in the batch: the frames each thread's previous walk followed, read a second time
  // (not for a thread whose stack held still between the last two samples: its walk is likely
  // the same again, proven by sameAsKept without them; if not, phase D reads them)
  const earlyArenaNew = growArena(earlyArena, earlyCap, prev.proof.len, frameLen);
  if (earlyArenaNew != 0) {
    if (earlyArenaNew != earlyArena || prev.proof.len * frameLen > earlyCap) { earlyArena = earlyArenaNew; earlyCap = prev.proof.len * frameLen; }
  }
  for (let i = 0; i < listCount; i++) {
    unchecked(slotEarlyQ[i] = -1);
    if (earlyArenaNew != 0 && unchecked(slotSpecOwner[i]) != 0 && !(i < prev.count && unchecked(prev.stable[i]))) queueEarly(i);
  }
  // the host's own reads of this stop (--native: each thread's stack window), in the same batch
  for (let i = 0; i < extraCount; i++) unchecked(extraQ[i] = qAdd(unchecked(extraAddr[i]), unchecked(extraLen[i]), unchecked(extraDst[i])));
  let st = qFlush(0);
  for (let i = 0; i < extraCount; i++) unchecked(extraOk[i] = unchecked(extraQ[i]) >= 0 && unchecked(qOk[unchecked(extraQ[i])]));
  if (st != OK) return -st;
  if (!unchecked(qOk[0])) return -fail(ERR_READ, 0, interpAddr);
  checkCodes(codesQ);
  const gil = wantGil ? gilHolderFrom(gilQ) : 0;
  let t = load<u64>(INTERP_BUF + <usize>(O[F.F_INTERP_THREADS_HEAD] - interpLo));
  // follow the list; slots that still hold the same thread use what was just read
  const specSlots = listCount;
  let n = 0;
  while (t != 0) {
    if (n >= MAX_THREADS) return -fail(ERR_LIMIT, 1, t);
    const ts = tstateArena + <usize>n * tstateLen;
    const fresh = n < listCount && unchecked(listAddr[n]) == t && unchecked(qOk[firstT + n]);
    if (!fresh) {
      st = readRemote(t, ts, tstateLen);
      if (st == ERR_GONE || st == ERR_PERM) return -st;
    } else st = OK;
    unchecked(listAddr[n] = t);
    unchecked(listOk[n] = st == OK && load<u64>(ts + oInterp) == interpAddr);
    n++;
    if (!unchecked(listOk[n - 1])) break; // the list tore here: the rest is unknown this time
    t = load<u64>(ts + oNext);
  }
  listCount = n;

  // phase B, only for threads whose chunk, cframe or tstate moved since last time (and new ones)
  const firstB = qCount;
  const pfB = pfCount;
  for (let i = 0; i < n; i++) {
    if (!unchecked(listOk[i])) { queueNothing(i); continue; }
    const ts = tstateArena + <usize>i * tstateLen;
    const chunk = tstateChunk(ts);
    const cf = tstateCframe(ts);
    const t = unchecked(listAddr[i]);
    if (i < specSlots && unchecked(slotSpecOwner[i]) == t && unchecked(prev.newest[i]) == chunk && unchecked(prev.cframe[i]) == cf) continue;
    unchecked(slotEarlyQ[i] = -1); // its data comes after the second reads (or it is new)
    queueThread(i, t, chunk, cf);
  }
  if (qCount > firstB) {
    for (let k = pfB; k < pfCount; k++) unchecked(qDst[unchecked(pfQ[k])] = pfArena + <usize>k * frameLen);
    st = qFlush(firstB);
    if (st != OK) return -st;
  }

  // phase C: decode each thread from local copies
  specCur.clear();
  checks.clear();
  pending.clear();
  for (let i = 0; i < n; i++) {
    const tAddr = unchecked(listAddr[i]);
    const ts = tstateArena + <usize>i * tstateLen;
    unchecked(specCur.owner[i] = tAddr);
    unchecked(specCur.frameStart[i] = specCur.frames.len);
    unchecked(specCur.chunkStart[i] = specCur.chunks.len);
    unchecked(specCur.codeStart[i] = specCur.codes.len);
    unchecked(specCur.proofStart[i] = specCur.proof.len);
    unchecked(slotFromA[i] = false);
    unchecked(specCur.keptOk[i] = false);
    unchecked(specCur.stable[i] = false);
    unchecked(slotCheckStart[i] = checks.len);
    unchecked(slotCheckEnd[i] = checks.len);
    unchecked(slotPendStart[i] = pending.len);
    unchecked(slotPendEnd[i] = pending.len);
    if (!unchecked(listOk[i])) {
      unchecked(slotStatus[i] = fail(ERR_CHAIN, 5, tAddr));
      continue;
    }
    const reads0 = readCallCount();
    st = decodeThread(i, ts);
    unchecked(slotFromA[i] = readCallCount() == reads0);
    if (st == ERR_GONE || st == ERR_PERM) return -st;
    // torn (the stack moved under the reads): again at once, every read fresh, a few times
    for (let retry = 0; st != OK && retry < MAX_TORN_RETRIES; retry++) {
      speculate = false;
      unchecked(slotFromA[i] = false);
      specCur.frames.len = unchecked(specCur.frameStart[i]);
      specCur.chunks.len = unchecked(specCur.chunkStart[i]);
      st = readRemote(tAddr, ts, tstateLen);
      if (st == OK && load<u64>(ts + oInterp) != interpAddr) st = fail(ERR_CHAIN, 5, tAddr);
      if (st == OK) st = decodeThread(i, ts);
      if (st == ERR_GONE || st == ERR_PERM) return -st;
      speculate = true;
      if (st == ERR_CHAIN && load<u64>(ts + oInterp) != interpAddr) break; // the thread is gone
    }
    unchecked(slotStatus[i] = st);
    if (st == OK) {
      for (let k = unchecked(slotCheckStart[i]); k < unchecked(slotCheckEnd[i]); k++) {
        if (specCur.proof.pushU64(load<u64>(checks.at(k) + C_ADDR)) < 0) break;
      }
    }
    // the addresses to read this thread at next time, as its tstate shows them now
    unchecked(specCur.newest[i] = tstateChunk(ts));
    unchecked(specCur.cframe[i] = tstateCframe(ts));
  }
  unchecked(specCur.frameStart[n] = specCur.frames.len);
  unchecked(specCur.chunkStart[n] = specCur.chunks.len);
  unchecked(specCur.codeStart[n] = specCur.codes.len);
  unchecked(specCur.proofStart[n] = specCur.proof.len);
  specCur.count = n;

  // phase D, one batch: every frame each walk followed, read again, for the threads neither the
  // stack the sample before kept nor phase A's second reads prove
  for (let i = 0; i < n; i++) {
    const ok = unchecked(slotStatus[i]) == OK;
    unchecked(slotSame[i] = ok && sameAsKept(i));
    unchecked(slotProven[i] = ok && (unchecked(slotSame[i]) || verifiedEarly(i)));
  }
  const swap = specPrev;
  specPrev = specCur;
  specCur = swap;
  if (!reserveVerify()) return -fail(ERR_NO_MEMORY, 9);
  qReset();
  for (let i = 0; i < n; i++) {
    unchecked(slotVerifyQ[i] = -1);
    unchecked(slotVerifyTsQ[i] = -1);
    if (unchecked(slotStatus[i]) == OK && !unchecked(slotProven[i])) queueVerify(i);
  }
  st = qFlush(0);
  if (st != OK) return -st;

  // phase E: keep the proven stacks; walk the others again, each proven alone
  for (let i = 0; i < n; i++) {
    const r = resultNew();
    const tAddr = unchecked(listAddr[i]);
    const ts = tstateArena + <usize>i * tstateLen;
    st = unchecked(slotStatus[i]);
    if (!unchecked(listOk[i])) {
      resultSetStatus(r, st);
      continue;
    }
    if (st == OK && !unchecked(slotProven[i]) && !verified(i)) {
      st = fail(ERR_TORN, 3, tAddr);
      speculate = false;
      for (let retry = 0; retry < MAX_TORN_RETRIES; retry++) {
        // the thread state and frames as the failed proof read them, else read now
        const tq = unchecked(slotVerifyTsQ[i]);
        let rs = OK;
        if (tq >= 0 && unchecked(qOk[tq])) memory.copy(ts, verifyTsArena + <usize>i * tstateLen, <usize>tstateLen);
        else rs = readRemote(tAddr, ts, tstateLen);
        retryLo = unchecked(slotCheckStart[i]);
        retryHi = unchecked(slotVerifyQ[i]) >= 0 ? unchecked(slotCheckEnd[i]) : retryLo;
        retryQ = unchecked(slotVerifyQ[i]);
        retryCursor = retryLo;
        if (rs == OK && load<u64>(ts + oInterp) != interpAddr) { st = fail(ERR_CHAIN, 5, tAddr); break; } // the thread is gone
        if (rs == OK) rs = decodeThread(i, ts);
        retryHi = retryLo;
        if (rs == OK) rs = verifyOne(i);
        else { unchecked(slotVerifyQ[i] = -1); unchecked(slotVerifyTsQ[i] = -1); }
        if (rs == ERR_GONE || rs == ERR_PERM) return -rs;
        if (rs == OK) { st = OK; break; }
        // a walk that decoded once and then tore, or broke its chain while read again, is a
        // stack that changed while read (ERR_TORN), not a broken one: its first decode worked
        if (rs != ERR_TORN && rs != ERR_CHAIN) st = rs;
      }
      speculate = true;
    }
    if (st == OK) {
      keepProven(i);
      st = internStack(i, r);
    }
    const ident = load<u64>(ts + oIdent);
    // a thread state not bound to an OS thread yet (or any more) runs no Python code: whatever
    // its frame pointers hold then is not a stack of this process
    if (ident == 0) resultSetNode(r, -1);
    const tid = ident == 0 ? 0 : threadTid(ts, ident);
    resultSetThread(r, tid, internThread(ident, tid));
    resultSetStatus(r, st);
    resultSetGil(r, gil != 0 && gil == tAddr);
  }
  return n;
}
