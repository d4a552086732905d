// The stack walk: interpreter → thread states → frames → code objects → (name, file, line),
// interned into the profile tables. One call samples every thread of the target once.
// Must not know: version numbers (only the active table's offsets and capabilities), I/O
// beyond io.ts, the clock or the OS (the host decides which thread samples to keep).
// Source of truth: docs/cpython-layouts.md §4 (thread list, frame models, skipped
// frames, stack chunks, instruction offsets) and §5 (GIL holder, OS thread ids).

import { readRemote, readWord, readWordStatus, batchReset, batchAdd, batchRun, readCallCount, MAX_IOV } from "../io";
import { OK, ERR_READ, ERR_CHAIN, ERR_LIMIT, ERR_NO_RUNTIME, ERR_NOT_CODE, ERR_NO_MEMORY, ERR_TABLE, ERR_GONE, ERR_PERM, ERR_TORN, fail, lastErrorCode } from "../status";
import * as F from "../python/fields";
import * as C from "../python/capabilities";
import { tableAt, tableCount } from "../python/tables";
import { Vec, U64Map } from "../util/vec";
import { rangeInside } from "../util/bounds";
import { configureStrings, readName, readBytes, lastBytesLen } from "./strings";
import { decodeLineNumber, LINE_TABLE_310 } from "./line-table";
import { internFrame, internNode, internThread, pushSample, stringGeneration, FRAME_PYTHON } from "../aggregate/intern";

// ---- bounds ----
export const MAX_THREADS: i32 = 4096;
export const MAX_FRAMES: i32 = 16384;
const MAX_CHUNKS: i32 = 64;
const CHUNK_FIRST_READ: i32 = 16 * 1024;    // _PY_DATA_STACK_CHUNK_SIZE: no chunk is smaller
const MAX_CHUNK_BYTES: i32 = 4 * 1024 * 1024;
const MAX_WINDOW: i32 = 4096;
/** glibc x86-64: offsetof(struct pthread, tid); verified for 2.7–3.15 on glibc 2.36 and sid. */
const PTHREAD_TID_OFFSET: u64 = 720;
/** Owner values >= this are not Python frames (3.12 CSTACK shims, 3.13+ entry frames). */
const OWNER_FIRST_NON_PYTHON: u8 = 3;

// ---- the active table, copied at attach ----
let O: StaticArray<i32> = new StaticArray<i32>(F.FIELD_COUNT);
let frameModel: i32 = 0;
let lineFormat: i32 = 0;
let frameSkip: i32 = 0;
let tagMask: u64 = ~(<u64>0);
let nativeIdModel: i32 = 0;
let gilModel: i32 = 0;
let chainEnd: i32 = 0;
let attached: bool = false;
let activeTable: i32 = -1;
/** The id of the version table the walk uses (tables.ts tableAt), -1 before attach. */
export function walkTableId(): i32 { return activeTable; }

// ---- addresses found at attach ----
let runtimeAddr: u64 = 0;
let interpHeadSymAddr: u64 = 0;
let tstateCurrentSymAddr: u64 = 0;
let codeTypeAddr: u64 = 0;
let interpAddr: u64 = 0;
let wantGil: bool = false;

// ---- windows: the part of each struct that is read ----
let tstateLen: i32 = 0;
let frameLen: i32 = 0;      // PyFrameObject window or _PyInterpreterFrame size
let codeLo: i32 = 0, codeLen: i32 = 0;

const FRAME_BUF: usize = memory.data(MAX_WINDOW, 16);
const CODE_BUF: usize = memory.data(MAX_WINDOW, 16);
const GIL_BUF: usize = memory.data(64, 16);
const TID_BUF: usize = memory.data(8, 8);

// per-frame scratch of the current thread
const frameCode = new StaticArray<u64>(MAX_FRAMES);
const frameOffset = new StaticArray<i32>(MAX_FRAMES);
const frameEntry = new StaticArray<i32>(MAX_FRAMES);
const frameIds = new StaticArray<i32>(MAX_FRAMES);
const frameAddr = new StaticArray<u64>(MAX_FRAMES);

// ---- frames kept for the last sample (dump --locals): remote frame address, code entry ----
let keepFrames: bool = false;
const keptAddr = new Vec(8);
const keptEntry = new Vec(4);
export function walkSetKeepFrames(on: bool): void { keepFrames = on; }
/** Remote address of kept frame k (a PyFrameObject ≤3.10, a _PyInterpreterFrame 3.11+). */
export function keptFrameAddr(k: i32): u64 { return k >= 0 && k < keptAddr.len ? keptAddr.getU64(k) : 0; }
/** Remote address of kept frame k's code object. */
export function keptFrameCode(k: i32): u64 {
  if (k < 0 || k >= keptEntry.len) return 0;
  return load<u64>(entries.at(keptEntry.getI32(k)) + E_ADDR);
}
export function keptFrameCount(): i32 { return keptAddr.len; }
let validateBuf: usize = 0; // MAX_IOV code windows
const validateEntry = new StaticArray<i32>(MAX_IOV);

// ---- one sample's reads, queued and issued together (few syscalls per sample) ----
// The previous sample's addresses (thread states, stack chunks, frames outside chunks, code
// objects) are read speculatively in the same batch as what the current sample needs for sure;
// the walk then takes what still links up and reads the rest one by one. Data read this way is
// as fresh as a single read: only the choice of addresses is speculative.
const MAX_QUEUE: i32 = 16384;
const qAddr = new StaticArray<u64>(MAX_QUEUE);
const qLen = new StaticArray<i32>(MAX_QUEUE);
const qDst = new StaticArray<usize>(MAX_QUEUE);
const qOk = new StaticArray<bool>(MAX_QUEUE);
let qCount: i32 = 0;

function qAdd(addr: u64, len: i32, dst: usize): i32 {
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
function qFlush(from: i32): i32 {
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

// the thread list as last seen: tstate addresses in list order
let listCount: i32 = 0;
const listAddr = new StaticArray<u64>(MAX_THREADS);
const listOk = new StaticArray<bool>(MAX_THREADS);
let tstateArena: usize = 0; // MAX_THREADS windows of tstateLen
let interpLo: i32 = 0, interpLen: i32 = 0;
const INTERP_BUF: usize = memory.data(MAX_WINDOW, 16);
const CFRAME_SLOTS: usize = memory.data(MAX_THREADS * 8, 16);

// speculation recorded per thread slot: two generations of flat address lists
class SpecGen {
  frames: Vec = new Vec(8);
  chunks: Vec = new Vec(8);
  codes: Vec = new Vec(8);
  /** every frame the walk followed (its proof's addresses) */
  proof: Vec = new Vec(8);
  proofStart: StaticArray<i32> = new StaticArray<i32>(MAX_THREADS + 1);
  frameStart: StaticArray<i32> = new StaticArray<i32>(MAX_THREADS + 1);
  chunkStart: StaticArray<i32> = new StaticArray<i32>(MAX_THREADS + 1);
  codeStart: StaticArray<i32> = new StaticArray<i32>(MAX_THREADS + 1);
  owner: StaticArray<u64> = new StaticArray<u64>(MAX_THREADS);
  /** the tstate's newest data-stack chunk and (3.11) cframe address, as the walk found them */
  newest: StaticArray<u64> = new StaticArray<u64>(MAX_THREADS);
  cframe: StaticArray<u64> = new StaticArray<u64>(MAX_THREADS);
  count: i32 = 0;
  clear(): void { this.frames.clear(); this.chunks.clear(); this.codes.clear(); this.proof.clear(); this.count = 0; }
}
let specPrev = new SpecGen();
let specCur = new SpecGen();

// prefetched frames outside chunks, per slot: [pfStart[slot], pfEnd[slot])
let pfArena: usize = 0;
let pfCap: i32 = 0;
let pfCount: i32 = 0;
const pfAddr = new StaticArray<u64>(MAX_QUEUE);
const pfQ = new StaticArray<i32>(MAX_QUEUE);
const pfStart = new StaticArray<i32>(MAX_THREADS);
const pfEnd = new StaticArray<i32>(MAX_THREADS);
// what each slot's reads were queued for in the first batch: its tstate (0: not queued)
const slotSpecOwner = new StaticArray<u64>(MAX_THREADS);
let pfCursor: i32 = 0;
let pfLo: i32 = 0, pfHi: i32 = 0; // the current thread's range
let speculate: bool = true;        // off while a torn thread is retried
const MAX_SPEC_LOOSE_FRAMES: i32 = 64;
/** Fresh attempts at a thread whose stack tore under the reads (each a few reads). */
const MAX_TORN_RETRIES: i32 = 3;
let looseReads: i32 = 0;

// prefetched code windows
let pcArena: usize = 0;
let pcCap: i32 = 0;

// ---- proving a sample: every frame a walk followed is read again after the walks ----
// The target runs while it is read: ≤3.10 frame objects are freed onto a free list (whose
// f_back links free frames) or kept as a code object's zombie, and 3.11+ frames in a chunk are
// popped and pushed while the chunk is copied. A stack built from such reads may be one the
// thread never had (a recursion 0–20 deep read 46 deep, rooted at a freed frame, or with a
// caller on its def line; seen on every version, up to 73% of samples at 200 Hz on 3.8). So
// after every thread is walked, the frames each walk followed are read again, all threads in
// one batch, and a thread is kept only when every frame still links to the same caller, runs
// the same code, and (a caller waits at its call) every caller is at the same instruction; a
// frame object must also still be allocated (a freed one has no references). A thread that
// fails is walked again from fresh reads (MAX_TORN_RETRIES times), then counted as ERR_TORN.
// Only the innermost frame's instruction may move meanwhile: it is the one running.
const CHECK_SIZE: i32 = 32; // {frame addr u64, previous u64, code u64, instruction u64}
const C_ADDR = 0, C_PREV = 8, C_CODE = 16, C_INSTR = 24;
const checks = new Vec(CHECK_SIZE);
const PEND_SIZE: i32 = 16;  // {frame addr u64, code entry i32, instruction offset i32}
const P_ADDR = 0, P_ENTRY = 8, P_OFFSET = 12;
const pending = new Vec(PEND_SIZE);
const slotCheckStart = new StaticArray<i32>(MAX_THREADS);
const slotCheckEnd = new StaticArray<i32>(MAX_THREADS);
const slotPendStart = new StaticArray<i32>(MAX_THREADS);
const slotPendEnd = new StaticArray<i32>(MAX_THREADS);
const slotStatus = new StaticArray<i32>(MAX_THREADS);
const slotVerifyQ = new StaticArray<i32>(MAX_THREADS);
let verifyArena: usize = 0; // one frame window per check record
let verifyCap: i32 = 0;
let verifyTsArena: usize = 0; // MAX_THREADS tstate windows, read with the frames for a retry
const slotVerifyTsQ = new StaticArray<i32>(MAX_THREADS);
// the second reads at the end of phase A's batch: the frames the previous sample's walks
// followed, per slot. A thread whose walk followed the same frames, from that batch alone, is
// proven by them without a batch of its own (a stack that holds still costs one read per sample).
let earlyArena: usize = 0;
let earlyCap: i32 = 0;
const slotEarlyQ = new StaticArray<i32>(MAX_THREADS);
const slotProven = new StaticArray<bool>(MAX_THREADS);
const slotFromA = new StaticArray<bool>(MAX_THREADS); // the walk read nothing after phase A
// a retry walks from the frames its failed proof read (one batch), not one read per frame
let retryLo: i32 = 0, retryHi: i32 = 0, retryQ: i32 = 0, retryCursor: i32 = 0;
/** PyObject_HEAD: ob_refcnt is the word before ob_type in every build with a GIL. */
const REFCNT_BEFORE_TYPE: i32 = 8;
let oRefcnt: i32 = -1;       // ≤3.10 frame objects only, else -1

// stack chunk copies of this sample: a pool of buffers, ranges per slot
const MAX_CHUNK_COPIES: i32 = 4096;
const poolBuf = new StaticArray<usize>(MAX_CHUNK_COPIES);
const poolCap = new StaticArray<i32>(MAX_CHUNK_COPIES);
let poolUsed: i32 = 0;
const chunkLo = new StaticArray<u64>(MAX_CHUNK_COPIES);
const chunkHi = new StaticArray<u64>(MAX_CHUNK_COPIES);
const chunkQ = new StaticArray<i32>(MAX_CHUNK_COPIES);
const slotChunkStart = new StaticArray<i32>(MAX_THREADS);
const slotChunkCount = new StaticArray<i32>(MAX_THREADS);
const slotChunkQueued = new StaticArray<i32>(MAX_THREADS);
let curSlot: i32 = 0;
let chunkFirst: i32 = 0;  // the current thread's chunk copies: [chunkFirst, chunkEnd)
let chunkEnd: i32 = 0;
let nextChunkAddr: u64 = 0;
let specMark: i32 = 0;

/** A pooled buffer of at least len bytes for chunk copy i. 0 when memory cannot grow. */
function poolBuffer(i: i32, len: i32): usize {
  if (unchecked(poolCap[i]) >= len) return unchecked(poolBuf[i]);
  const p = unchecked(poolBuf[i]) == 0 ? heap.alloc(<usize>len) : heap.realloc(unchecked(poolBuf[i]), <usize>len);
  if (p == 0) return 0;
  unchecked(poolBuf[i] = p);
  unchecked(poolCap[i] = len);
  return p;
}

/** Grows an arena to hold n records of len bytes; returns the arena (0: no memory). */
function growArena(arena: usize, cap: i32, n: i32, len: i32): usize {
  if (n * len <= cap) return arena;
  const p = arena == 0 ? heap.alloc(<usize>(n * len)) : heap.realloc(arena, <usize>(n * len));
  return p;
}

// ---- code object cache: remote address -> entry ----
const ENTRY_SIZE: i32 = 72;
const E_ADDR = 0, E_FILENAME = 8, E_NAME = 16, E_LINETABLE = 24, E_FIRSTLINE = 32, E_NAME_ID = 36,
  E_FILE_ID = 40, E_TABLE_LEN = 44, E_TABLE_PTR = 48, E_STAMP = 52, E_LAST_OFFSET = 56, E_LAST_LINE = 60,
  E_SPEC = 64, E_FLAGS = 68;
/** co_flags of generators and coroutines (CO_GENERATOR, CO_COROUTINE, CO_ITERABLE_COROUTINE,
 * CO_ASYNC_GENERATOR): identical in 2.7–3.15. Such a frame never ends a thread's stack. */
const CO_SUSPENDABLE: i32 = 0x20 | 0x80 | 0x100 | 0x200;
const entries = new Vec(ENTRY_SIZE);
const codeMap = new U64Map(12);
let stamp: i32 = 0;
const tidCache = new U64Map(6);
/** The string generation (intern.ts) the entries' name and file ids belong to. */
let codeCacheGen: i32 = 0;

/** Forgets every code object: their interned names went with a reset of the strings (RESET_ALL). */
function codeCacheDrop(): void {
  for (let e = 0; e < entries.len; e++) {
    const t = <usize>load<u32>(entries.at(e) + E_TABLE_PTR);
    if (t != 0) heap.free(t);
  }
  entries.clear();
  codeMap.clear();
  codeCacheGen = stringGeneration();
}

// ---- results of the last sample, one record per thread, read by the host ----
// {tid i32, threadId i32, node i32, status i32, gil i32, depth i32, keep i32, first kept frame i32}
export const RESULT_SIZE: i32 = 32;
const results: usize = memory.data(MAX_THREADS * 32, 16);
let resultCount: i32 = 0;

export function walkResultsPtr(): usize { return results; }
export function walkResultCount(): i32 { return resultCount; }
export function walkInterpAddr(): u64 { return interpAddr; }
export function walkSetWantGil(on: bool): void { wantGil = on; }

function windowEnd(fields: StaticArray<i32>): i32 {
  let hi = 0;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const v = O[f];
    if (v < 0) continue;
    const end = v + <i32>F.FIELD_WIDTHS[f];
    if (end > hi) hi = end;
  }
  return hi;
}

function windowStart(fields: StaticArray<i32>): i32 {
  let lo = 0x7fffffff;
  for (let i = 0; i < fields.length; i++) {
    const v = O[fields[i]];
    if (v >= 0 && v < lo) lo = v;
  }
  return lo == 0x7fffffff ? 0 : lo;
}

/**
 * Prepares a walk with version table tableId. runtimeAddr is `_PyRuntime` (0 when the version
 * has none), interpHeadAddr the `interp_head` static (≤3.6), tstateCurrentAddr
 * `_PyThreadState_Current` (≤3.6), codeTypeAddr `PyCode_Type` (0: unchecked); all remote.
 * OK when the interpreter is found and its thread list closes.
 */
export function walkAttach(tableId: i32, runtime: u64, interpHead: u64, tstateCurrent: u64, codeType: u64): i32 {
  if (tableId < 0 || tableId >= tableCount()) return fail(ERR_TABLE, 0);
  const t = tableAt(tableId);
  activeTable = tableId;
  for (let i = 0; i < F.FIELD_COUNT; i++) O[i] = t.offsets[i];
  frameModel = t.caps[C.CAP_FRAME_MODEL];
  lineFormat = t.caps[C.CAP_LINE_TABLE];
  frameSkip = t.caps[C.CAP_FRAME_SKIP];
  tagMask = ~((<u64>1 << <u64>t.caps[C.CAP_POINTER_TAG_BITS]) - 1);
  nativeIdModel = t.caps[C.CAP_THREAD_NATIVE_ID];
  gilModel = t.caps[C.CAP_GIL_MODEL];
  chainEnd = t.caps[C.CAP_CHAIN_END];
  oRefcnt = frameModel == C.FRAME_MODEL_FRAME_OBJECT && O[F.F_PYOBJECT_OB_TYPE] >= REFCNT_BEFORE_TYPE
    ? O[F.F_PYOBJECT_OB_TYPE] - REFCNT_BEFORE_TYPE : -1;
  configureStrings(t.caps[C.CAP_STRING_MODEL], O);
  runtimeAddr = runtime;
  interpHeadSymAddr = interpHead;
  tstateCurrentSymAddr = tstateCurrent;
  codeTypeAddr = codeType;

  tstateLen = windowEnd([F.F_TSTATE_NEXT, F.F_TSTATE_INTERP, F.F_TSTATE_FRAME, F.F_TSTATE_CFRAME,
    F.F_TSTATE_CURRENT_FRAME, F.F_TSTATE_BASE_FRAME, F.F_TSTATE_THREAD_ID, F.F_TSTATE_NATIVE_THREAD_ID,
    F.F_TSTATE_DATASTACK_CHUNK]);
  if (frameModel == C.FRAME_MODEL_FRAME_OBJECT) {
    frameLen = windowEnd([F.F_FRAME_F_BACK, F.F_FRAME_F_CODE, F.F_FRAME_F_LASTI]);
  } else {
    frameLen = windowEnd([F.F_IFRAME_PREVIOUS, F.F_IFRAME_EXECUTABLE, F.F_IFRAME_INSTR_PTR, F.F_IFRAME_OWNER]);
  }
  const codeFields: StaticArray<i32> = [F.F_PYOBJECT_OB_TYPE, F.F_CODE_FILENAME, F.F_CODE_NAME, F.F_CODE_QUALNAME,
    F.F_CODE_LINETABLE, F.F_CODE_FIRSTLINENO, F.F_CODE_FLAGS];
  codeLo = windowStart(codeFields);
  codeLen = windowEnd(codeFields) - codeLo;
  // the interpreter window: the thread list head, and the GIL where the interpreter holds it
  const interpFields: StaticArray<i32> = gilModel == C.GIL_MODEL_INTERP_GIL
    ? [F.F_INTERP_THREADS_HEAD, F.F_INTERP_GIL_LOCKED, F.F_INTERP_GIL_HOLDER] : [F.F_INTERP_THREADS_HEAD];
  interpLo = windowStart(interpFields);
  interpLen = windowEnd(interpFields) - interpLo;
  if (tstateLen <= 0 || tstateLen > MAX_WINDOW || frameLen <= 0 || frameLen > MAX_WINDOW ||
      codeLen <= 0 || codeLen > MAX_WINDOW || interpLen <= 0 || interpLen > MAX_WINDOW) return fail(ERR_TABLE, 1);
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
  if (validateBuf != 0) heap.free(validateBuf);
  validateBuf = heap.alloc(<usize>MAX_IOV * codeLen);
  if (validateBuf == 0) return fail(ERR_NO_MEMORY, 0);
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
  if (readRemote(ident + PTHREAD_TID_OFFSET, TID_BUF, 4) != OK) return 0;
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

// ---- stack chunks ----

/** Registers a chunk copy whose first CHUNK_FIRST_READ bytes are in pool buffer i. */
function registerChunk(i: i32, addr: u64): bool {
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
function copyChunk(addr: u64): bool {
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
function prefetchedFrame(addr: u64): usize {
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
function verifiedCopy(addr: u64): usize {
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
function localFrame(addr: u64): usize {
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
function walkFrameObjects(addr: u64): i32 {
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
    depth++;
    addr = load<u64>(p + <usize>fBack);
  }
  return depth;
}

function walkInterpreterFrames(addr: u64, baseFrame: u64): i32 {
  let depth = 0;
  const oPrev = O[F.F_IFRAME_PREVIOUS], oExec = O[F.F_IFRAME_EXECUTABLE], oInstr = O[F.F_IFRAME_INSTR_PTR],
    oOwner = O[F.F_IFRAME_OWNER];
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
      addr = prev;
      continue;
    }
    const code = load<u64>(p + <usize>oExec) & tagMask;
    if (code == 0) { addr = prev; continue; } // a frame being pushed or torn down
    const instr = load<u64>(p + <usize>oInstr);
    const units = (<i64>instr - <i64>(code + adaptive)) >> 1;
    unchecked(frameCode[depth] = code);
    unchecked(frameAddr[depth] = addr);
    unchecked(frameOffset[depth] = units < 0 || units > 0x3fffffff ? -1 : <i32>units);
    depth++;
    addr = prev;
  }
  if (chainEnd == C.CHAIN_END_BASE_FRAME && baseFrame != 0 && last != baseFrame) return -fail(ERR_CHAIN, 4, last);
  // 3.12+: every eval loop pushes an entry frame, so a whole stack ends at one
  if (frameSkip == C.FRAME_SKIP_OWNER && last != 0 && lastOwner < OWNER_FIRST_NON_PYTHON) return -fail(ERR_CHAIN, 9, last);
  return depth;
}

// ---- code objects ----

/** Fills entry e from the code object at addr (window already in win). OK or a status. */
function loadCode(addr: u64, win: usize, e: i32): i32 {
  const type = load<u64>(win + <usize>(O[F.F_PYOBJECT_OB_TYPE] - codeLo));
  if (codeTypeAddr != 0 && type != codeTypeAddr) return fail(ERR_NOT_CODE, 0, addr);
  const filename = load<u64>(win + <usize>(O[F.F_CODE_FILENAME] - codeLo));
  const nameField = O[F.F_CODE_QUALNAME] >= 0 ? F.F_CODE_QUALNAME : F.F_CODE_NAME;
  const name = load<u64>(win + <usize>(O[nameField] - codeLo));
  const linetable = load<u64>(win + <usize>(O[F.F_CODE_LINETABLE] - codeLo));
  const first = load<i32>(win + <usize>(O[F.F_CODE_FIRSTLINENO] - codeLo));
  const fileId = readName(filename);
  if (fileId < 0) return lastErrorCode();
  const nameId = readName(name);
  if (nameId < 0) return lastErrorCode();
  const table = readBytes(linetable);
  if (table == 0) return lastErrorCode();
  const p = entries.at(e);
  const old = <usize>load<u32>(p + E_TABLE_PTR);
  if (old != 0) heap.free(old);
  store<u64>(p + E_ADDR, addr);
  store<u64>(p + E_FILENAME, filename);
  store<u64>(p + E_NAME, name);
  store<u64>(p + E_LINETABLE, linetable);
  store<i32>(p + E_FIRSTLINE, first);
  store<i32>(p + E_NAME_ID, nameId);
  store<i32>(p + E_FILE_ID, fileId);
  store<i32>(p + E_TABLE_LEN, lastBytesLen());
  store<u32>(p + E_TABLE_PTR, <u32>table);
  store<i32>(p + E_STAMP, stamp);
  store<i32>(p + E_LAST_OFFSET, -2);
  store<i32>(p + E_LAST_LINE, 0);
  store<i32>(p + E_FLAGS, O[F.F_CODE_FLAGS] >= 0 ? load<i32>(win + <usize>(O[F.F_CODE_FLAGS] - codeLo)) : 0);
  return OK;
}

/** Does the window still show the code object entry e was made from? */
function entryMatches(e: i32, win: usize): bool {
  const p = entries.at(e);
  if (codeTypeAddr != 0 && load<u64>(win + <usize>(O[F.F_PYOBJECT_OB_TYPE] - codeLo)) != codeTypeAddr) return false;
  const nameField = O[F.F_CODE_QUALNAME] >= 0 ? F.F_CODE_QUALNAME : F.F_CODE_NAME;
  return load<u64>(win + <usize>(O[F.F_CODE_FILENAME] - codeLo)) == load<u64>(p + E_FILENAME) &&
    load<u64>(win + <usize>(O[nameField] - codeLo)) == load<u64>(p + E_NAME) &&
    load<u64>(win + <usize>(O[F.F_CODE_LINETABLE] - codeLo)) == load<u64>(p + E_LINETABLE) &&
    load<i32>(win + <usize>(O[F.F_CODE_FIRSTLINENO] - codeLo)) == load<i32>(p + E_FIRSTLINE);
}

/** Reads a code object not in the cache (or whose entry went stale) into entry e (-1: new). */
function resolveCode(addr: u64, e: i32): i32 {
  if (readRemote(addr + <u64>codeLo, CODE_BUF, codeLen) != OK) return -lastErrorCode();
  if (e < 0) {
    e = entries.grow(1);
    if (e < 0) return -fail(ERR_NO_MEMORY, 1);
    store<u32>(entries.at(e) + E_TABLE_PTR, 0);
    const st = loadCode(addr, CODE_BUF, e);
    if (st != OK) { entries.len--; return -st; }
    if (!codeMap.set(addr, e)) return -fail(ERR_NO_MEMORY, 2);
    return e;
  }
  const st = loadCode(addr, CODE_BUF, e);
  return st == OK ? e : -st;
}

/** Resolves frameCode[0..depth) to cache entries, validating cached ones in one batched read. */
function resolveFrames(depth: i32): i32 {
  let queued = 0;
  batchReset();
  for (let i = 0; i < depth; i++) {
    const addr = unchecked(frameCode[i]);
    const e = codeMap.get(addr);
    unchecked(frameEntry[i] = e);
    if (e < 0) continue;
    const p = entries.at(e);
    const s = load<i32>(p + E_STAMP);
    if (s == stamp || s == -stamp) continue; // validated or queued this sample
    if (queued == MAX_IOV) {
      const st = runValidation(queued);
      if (st != OK) return st;
      queued = 0;
      batchReset();
    }
    store<i32>(p + E_STAMP, -stamp);
    unchecked(validateEntry[queued] = e);
    batchAdd(addr + <u64>codeLo, codeLen, validateBuf + <usize>queued * codeLen);
    queued++;
  }
  if (queued > 0) {
    const st = runValidation(queued);
    if (st != OK) return st;
  }
  // misses and stale entries
  for (let i = 0; i < depth; i++) {
    let e = unchecked(frameEntry[i]);
    if (e >= 0 && load<i32>(entries.at(e) + E_STAMP) == stamp) continue;
    e = e >= 0 ? e : codeMap.get(unchecked(frameCode[i])); // an earlier frame may have loaded it
    if (e >= 0 && load<i32>(entries.at(e) + E_STAMP) == stamp) { unchecked(frameEntry[i] = e); continue; }
    const r = resolveCode(unchecked(frameCode[i]), e);
    if (r < 0) return -r;
    unchecked(frameEntry[i] = r);
  }
  if (speculate) {
    // the code objects to re-validate speculatively next sample, once each
    for (let i = 0; i < depth; i++) {
      const p = entries.at(unchecked(frameEntry[i]));
      if (load<i32>(p + E_SPEC) == specMark) continue;
      store<i32>(p + E_SPEC, specMark);
      specCur.codes.pushU64(load<u64>(p + E_ADDR));
    }
  }
  return OK;
}

function runValidation(queued: i32): i32 {
  const done = batchRun();
  if (done < 0) return fail(-done, 0);
  for (let k = 0; k < queued; k++) {
    const e = unchecked(validateEntry[k]);
    const p = entries.at(e);
    if (k < done && entryMatches(e, validateBuf + <usize>k * codeLen)) store<i32>(p + E_STAMP, stamp);
    else store<i32>(p + E_STAMP, 0); // stale or unreadable: reload below
  }
  return OK;
}

/** The line of frame i (entry resolved). */
function frameLine(e: i32, offset: i32): i32 {
  const p = entries.at(e);
  if (load<i32>(p + E_LAST_OFFSET) == offset) return load<i32>(p + E_LAST_LINE);
  const first = load<i32>(p + E_FIRSTLINE);
  let line = offset < 0 ? -1 : decodeLineNumber(lineFormat, <usize>load<u32>(p + E_TABLE_PTR), load<i32>(p + E_TABLE_LEN), first, offset);
  if (line < 0) line = first; // not started yet, or an instruction without a line
  store<i32>(p + E_LAST_OFFSET, offset);
  store<i32>(p + E_LAST_LINE, line);
  return line;
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
  const st = resolveFrames(depth);
  if (st != OK) return st;
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
  store<i32>(r, node, 2 * 4);
  store<i32>(r, hi - lo, 5 * 4);
  if (keepFrames) {
    // innermost first, like the stack a dump prints
    store<i32>(r, keptAddr.len, 7 * 4);
    for (let k = lo; k < hi; k++) {
      const q = pending.at(k);
      if (keptAddr.pushU64(load<u64>(q + P_ADDR)) < 0 || keptEntry.pushI32(load<i32>(q + P_ENTRY)) < 0) return fail(ERR_NO_MEMORY, 5);
    }
  }
  return OK;
}

/** Records what the walk read of the frame at addr, to be compared with a second read. */
function pushCheck(addr: u64, prev: u64, code: u64, instr: u64): bool {
  const k = checks.grow(1);
  if (k < 0) return false;
  const c = checks.at(k);
  store<u64>(c + C_ADDR, addr);
  store<u64>(c + C_PREV, prev);
  store<u64>(c + C_CODE, code);
  store<u64>(c + C_INSTR, instr);
  return true;
}

/** Makes the verify arena hold a frame window for every check record. False: no memory. */
function reserveVerify(): bool {
  const arena = growArena(verifyArena, verifyCap, checks.len, frameLen);
  if (arena == 0) return checks.len == 0;
  if (arena != verifyArena || checks.len * frameLen > verifyCap) { verifyArena = arena; verifyCap = checks.len * frameLen; }
  return true;
}

/** Queues the second read of every frame slot's walk followed (and its tstate, for a retry). */
function queueVerify(slot: i32): void {
  unchecked(slotVerifyTsQ[slot] = -1);
  unchecked(slotVerifyQ[slot] = qCount);
  for (let k = unchecked(slotCheckStart[slot]); k < unchecked(slotCheckEnd[slot]); k++) {
    if (qAdd(load<u64>(checks.at(k) + C_ADDR), frameLen, verifyArena + <usize>k * frameLen) < 0) {
      unchecked(slotVerifyQ[slot] = -1); // the queue is full: proven alone later
      return;
    }
  }
  unchecked(slotVerifyTsQ[slot] = qAdd(unchecked(listAddr[slot]), tstateLen, verifyTsArena + <usize>slot * tstateLen));
}

/** Does the second read (queueVerify, flushed) show every frame of slot's walk unchanged? */
function verified(slot: i32): bool {
  let q = unchecked(slotVerifyQ[slot]);
  if (q < 0) return false;
  const lo = unchecked(slotCheckStart[slot]), hi = unchecked(slotCheckEnd[slot]);
  for (let k = lo; k < hi; k++, q++) {
    if (!unchecked(qOk[q])) return false;
    if (!frameUnchanged(checks.at(k), verifyArena + <usize>k * frameLen, k == lo)) return false;
  }
  return true;
}

/** Does the second copy v of a frame show what check record c saw? (leaf: its instruction may move) */
function frameUnchanged(c: usize, v: usize, leaf: bool): bool {
  const objects = frameModel == C.FRAME_MODEL_FRAME_OBJECT;
  const oPrev = objects ? O[F.F_FRAME_F_BACK] : O[F.F_IFRAME_PREVIOUS];
  const oCode = objects ? O[F.F_FRAME_F_CODE] : O[F.F_IFRAME_EXECUTABLE];
  const oInstr = objects ? O[F.F_FRAME_F_LASTI] : O[F.F_IFRAME_INSTR_PTR];
  if (load<u64>(v + <usize>oPrev) != load<u64>(c + C_PREV) || load<u64>(v + <usize>oCode) != load<u64>(c + C_CODE)) return false;
  if (oRefcnt >= 0 && load<i64>(v + <usize>oRefcnt) <= 0) return false;
  if (leaf) return true; // the innermost frame runs on
  const instr: u64 = objects ? <u64>load<i32>(v + <usize>oInstr) : load<u64>(v + <usize>oInstr);
  return instr == load<u64>(c + C_INSTR);
}

/**
 * Is slot's walk proven by the second reads at the end of phase A? Only when the walk used
 * nothing read after that batch and followed exactly the frames the previous sample did.
 */
function verifiedEarly(slot: i32): bool {
  const q = unchecked(slotEarlyQ[slot]);
  if (q < 0 || !unchecked(slotFromA[slot])) return false;
  const prev = specPrev;
  const plo = unchecked(prev.proofStart[slot]), phi = unchecked(prev.proofStart[slot + 1]);
  const lo = unchecked(slotCheckStart[slot]), hi = unchecked(slotCheckEnd[slot]);
  if (hi - lo != phi - plo) return false;
  for (let j = 0; j < hi - lo; j++) {
    const c = checks.at(lo + j);
    if (load<u64>(c + C_ADDR) != prev.proof.getU64(plo + j) || !unchecked(qOk[q + j])) return false;
    if (!frameUnchanged(c, earlyArena + <usize>(plo + j) * frameLen, j == 0)) return false;
  }
  return true;
}

/** Queues, last in phase A's batch, the frames slot's previous walk followed. */
function queueEarly(slot: i32): void {
  unchecked(slotEarlyQ[slot] = -1);
  const prev = specPrev;
  const plo = unchecked(prev.proofStart[slot]), phi = unchecked(prev.proofStart[slot + 1]);
  if (phi <= plo) return;
  const first = qCount;
  for (let k = plo; k < phi; k++) {
    if (qAdd(prev.proof.getU64(k), frameLen, earlyArena + <usize>k * frameLen) < 0) return;
  }
  unchecked(slotEarlyQ[slot] = first);
}

/** Proves slot's latest walk alone (one batch). OK, ERR_TORN, or ERR_GONE / ERR_PERM. */
function verifyOne(slot: i32): i32 {
  if (!reserveVerify()) return fail(ERR_NO_MEMORY, 8);
  qCount = 0;
  queueVerify(slot);
  const st = qFlush(0);
  if (st != OK) return st;
  return verified(slot) ? OK : fail(ERR_TORN, 2);
}

/**
 * Makes this thread's chunk copies current: the newest chunk (prefetched with its tstate's
 * address when the slot's chunk did not move, else copied now) and the previous sample's older
 * chunks where they still link up.
 */
function adoptChunks(slot: i32, chunk: u64): void {
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
function tstateChunk(ts: usize): u64 {
  return frameModel != C.FRAME_MODEL_FRAME_OBJECT ? load<u64>(ts + <usize>O[F.F_TSTATE_DATASTACK_CHUNK]) : 0;
}

/** The cframe in a tstate window (3.11 only, else 0). */
function tstateCframe(ts: usize): u64 {
  return frameModel == C.FRAME_MODEL_CFRAME ? load<u64>(ts + <usize>O[F.F_TSTATE_CFRAME]) : 0;
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

const slotCframeQ = new StaticArray<i32>(MAX_THREADS);

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
  resultCount = 0;
  keptAddr.clear();
  keptEntry.clear();
  if (codeCacheGen != stringGeneration()) codeCacheDrop();
  if (!attached) return -fail(ERR_NO_RUNTIME, 4);
  if (interpAddr == 0) {
    const st = findInterpreter();
    if (st != OK) return -st;
  }
  stamp++;
  speculate = true;
  const oNext = <usize>O[F.F_TSTATE_NEXT], oInterp = <usize>O[F.F_TSTATE_INTERP], oIdent = <usize>O[F.F_TSTATE_THREAD_ID];

  // phase A, one batch: the interpreter's thread head (and GIL), the thread states seen last
  // time, and every thread's chunks, loose frames and code checks as last seen
  qCount = 0;
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
  const earlyArenaNew = growArena(earlyArena, earlyCap, prev.proof.len, frameLen);
  if (earlyArenaNew != 0) {
    if (earlyArenaNew != earlyArena || prev.proof.len * frameLen > earlyCap) { earlyArena = earlyArenaNew; earlyCap = prev.proof.len * frameLen; }
  }
  for (let i = 0; i < listCount; i++) {
    unchecked(slotEarlyQ[i] = -1);
    if (earlyArenaNew != 0 && unchecked(slotSpecOwner[i]) != 0) queueEarly(i);
  }
  let st = qFlush(0);
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

  // phase D, one batch: every frame each walk followed, read again, for the threads phase A's
  // second reads did not prove
  for (let i = 0; i < n; i++) unchecked(slotProven[i] = unchecked(slotStatus[i]) == OK && verifiedEarly(i));
  const swap = specPrev;
  specPrev = specCur;
  specCur = swap;
  if (!reserveVerify()) return -fail(ERR_NO_MEMORY, 9);
  qCount = 0;
  for (let i = 0; i < n; i++) {
    unchecked(slotVerifyQ[i] = -1);
    unchecked(slotVerifyTsQ[i] = -1);
    if (unchecked(slotStatus[i]) == OK && !unchecked(slotProven[i])) queueVerify(i);
  }
  st = qFlush(0);
  if (st != OK) return -st;

  // phase E: keep the proven stacks; walk the others again, each proven alone
  for (let i = 0; i < n; i++) {
    const r = results + <usize>resultCount * RESULT_SIZE;
    memory.fill(r, 0, RESULT_SIZE);
    store<i32>(r, -1, 2 * 4);
    const tAddr = unchecked(listAddr[i]);
    const ts = tstateArena + <usize>i * tstateLen;
    st = unchecked(slotStatus[i]);
    if (!unchecked(listOk[i])) {
      store<i32>(r, st, 3 * 4);
      resultCount++;
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
        if (rs != ERR_TORN) st = rs;
      }
      speculate = true;
    }
    if (st == OK) st = internStack(i, r);
    const ident = load<u64>(ts + oIdent);
    // a thread state not bound to an OS thread yet (or any more) runs no Python code: whatever
    // its frame pointers hold then is not a stack of this process
    if (ident == 0) store<i32>(r, -1, 2 * 4);
    const tid = ident == 0 ? 0 : threadTid(ts, ident);
    store<i32>(r, tid, 0);
    store<i32>(r, internThread(ident, tid), 4);
    store<i32>(r, st, 3 * 4);
    store<i32>(r, gil != 0 && gil == tAddr ? 1 : 0, 4 * 4);
    resultCount++;
  }
  return resultCount;
}

/** Adds the records the host marked `keep` to the sample sequence. Returns how many. */
export function walkCommit(time: f64, weight: f64): i32 {
  let n = 0;
  for (let i = 0; i < resultCount; i++) {
    const r = results + <usize>i * RESULT_SIZE;
    if (load<i32>(r, 6 * 4) == 0 || load<i32>(r, 3 * 4) != OK) continue;
    if (!pushSample(time, weight, load<i32>(r, 4), load<i32>(r, 2 * 4))) return -ERR_NO_MEMORY;
    n++;
  }
  return n;
}
