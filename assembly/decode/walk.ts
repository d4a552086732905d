// The stack walk: interpreter → thread states → frames → code objects → (name, file, line),
// interned into the profile tables. One call samples every thread of the target once.
// Must not know: version numbers (only the active table's offsets and capabilities), I/O
// beyond io.ts, the clock or the OS (the host decides which thread samples to keep).
// Source of truth: ../shared/docs/cpython-layouts.md §4 (thread list, frame models, skipped
// frames, stack chunks, instruction offsets) and §5 (GIL holder, OS thread ids).

import { readRemote, readWord, readWordStatus, batchReset, batchAdd, batchRun, MAX_IOV } from "../io";
import { OK, ERR_READ, ERR_CHAIN, ERR_LIMIT, ERR_NO_RUNTIME, ERR_NOT_CODE, ERR_NO_MEMORY, ERR_TABLE, ERR_GONE, ERR_PERM, fail, lastErrorCode } from "../status";
import * as F from "../python/fields";
import * as C from "../python/capabilities";
import { tableAt, tableCount } from "../python/tables";
import { Vec, U64Map } from "../util/vec";
import { configureStrings, readName, readBytes, lastBytesLen } from "./strings";
import { decodeLineNumber, LINE_TABLE_310 } from "./line-table";
import { internFrame, internNode, internThread, pushSample, FRAME_PYTHON } from "../aggregate/intern";

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
let gilLo: i32 = 0, gilLen: i32 = 0;

const TSTATE_BUF: usize = memory.data(MAX_WINDOW, 16);
const FRAME_BUF: usize = memory.data(MAX_WINDOW, 16);
const CODE_BUF: usize = memory.data(MAX_WINDOW, 16);
const GIL_BUF: usize = memory.data(64, 16);

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

// copied stack chunks of the current thread (3.11+)
const chunkBuf = new StaticArray<usize>(MAX_CHUNKS);
const chunkCap = new StaticArray<i32>(MAX_CHUNKS);
const chunkLo = new StaticArray<u64>(MAX_CHUNKS);
const chunkHi = new StaticArray<u64>(MAX_CHUNKS);
let chunkCount: i32 = 0;
let nextChunkAddr: u64 = 0;

// ---- code object cache: remote address -> entry ----
const ENTRY_SIZE: i32 = 64;
const E_ADDR = 0, E_FILENAME = 8, E_NAME = 16, E_LINETABLE = 24, E_FIRSTLINE = 32, E_NAME_ID = 36,
  E_FILE_ID = 40, E_TABLE_LEN = 44, E_TABLE_PTR = 48, E_STAMP = 52, E_LAST_OFFSET = 56, E_LAST_LINE = 60;
const entries = new Vec(ENTRY_SIZE);
const codeMap = new U64Map(12);
let stamp: i32 = 0;
const tidCache = new U64Map(6);

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
    F.F_CODE_LINETABLE, F.F_CODE_FIRSTLINENO];
  codeLo = windowStart(codeFields);
  codeLen = windowEnd(codeFields) - codeLo;
  if (gilModel == C.GIL_MODEL_INTERP_GIL) {
    const g: StaticArray<i32> = [F.F_INTERP_GIL_LOCKED, F.F_INTERP_GIL_HOLDER];
    gilLo = windowStart(g);
    gilLen = windowEnd(g) - gilLo;
  }
  if (tstateLen <= 0 || tstateLen > MAX_WINDOW || frameLen <= 0 || frameLen > MAX_WINDOW ||
      codeLen <= 0 || codeLen > MAX_WINDOW || gilLen > 64) return fail(ERR_TABLE, 1);
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

/** The OS thread id of a thread whose tstate window is in TSTATE_BUF. */
function threadTid(ident: u64): i32 {
  if (nativeIdModel == C.THREAD_NATIVE_ID_FIELD) return <i32>load<u32>(TSTATE_BUF + <usize>O[F.F_TSTATE_NATIVE_THREAD_ID]);
  const cached = tidCache.get(ident);
  if (cached >= 0) return cached;
  const buf = GIL_BUF;
  if (readRemote(ident + PTHREAD_TID_OFFSET, buf, 4) != OK) return 0;
  const tid = load<i32>(buf);
  if (tid > 0) tidCache.set(ident, tid);
  return tid > 0 ? tid : 0;
}

/** The tstate address holding the GIL, 0 when none or unknown. */
function readGilHolder(): u64 {
  if (gilModel == C.GIL_MODEL_THREAD_STATE_CURRENT) return tstateCurrentSymAddr != 0 ? readWord(tstateCurrentSymAddr) : 0;
  if (gilModel == C.GIL_MODEL_RUNTIME_TSTATE_CURRENT) return runtimeAddr != 0 ? readWord(runtimeAddr + <u64>O[F.F_RUNTIME_TSTATE_CURRENT]) : 0;
  if (readRemote(interpAddr + <u64>gilLo, GIL_BUF, gilLen) != OK) return 0;
  const locked = load<i32>(GIL_BUF + <usize>(O[F.F_INTERP_GIL_LOCKED] - gilLo));
  return locked > 0 ? load<u64>(GIL_BUF + <usize>(O[F.F_INTERP_GIL_HOLDER] - gilLo)) : 0;
}

// ---- stack chunks ----

/** Copies the chunk at addr; registers its range. False on failure. */
function copyChunk(addr: u64): bool {
  if (chunkCount >= MAX_CHUNKS) return false;
  const i = chunkCount;
  if (chunkBuf[i] == 0) {
    chunkBuf[i] = heap.alloc(CHUNK_FIRST_READ);
    chunkCap[i] = CHUNK_FIRST_READ;
    if (chunkBuf[i] == 0) return false;
  }
  let buf = chunkBuf[i];
  if (readRemote(addr, buf, CHUNK_FIRST_READ) != OK) return false;
  const previous = load<u64>(buf + <usize>O[F.F_CHUNK_PREVIOUS]);
  let size = <i64>load<u64>(buf + <usize>O[F.F_CHUNK_CHUNK_SIZE]);
  if (size < <i64>O[F.F_CHUNK_SIZE] || size > <i64>MAX_CHUNK_BYTES) return false;
  if (size > <i64>CHUNK_FIRST_READ) {
    if (<i32>size > chunkCap[i]) {
      const nb = heap.realloc(buf, <usize>size);
      if (nb == 0) return false;
      chunkBuf[i] = nb;
      chunkCap[i] = <i32>size;
      buf = nb;
    }
    const rest = <i32>size - CHUNK_FIRST_READ;
    if (readRemote(addr + <u64>CHUNK_FIRST_READ, buf + CHUNK_FIRST_READ, rest) != OK) return false;
  } else {
    size = CHUNK_FIRST_READ;
  }
  chunkLo[i] = addr;
  chunkHi[i] = addr + <u64>size;
  chunkCount++;
  nextChunkAddr = previous;
  return true;
}

/** A local copy of the interpreter frame at addr: from a copied chunk, else read alone. */
function localFrame(addr: u64): usize {
  const end = addr + <u64>frameLen;
  for (let pass = 0; pass < MAX_CHUNKS + 1; pass++) {
    for (let i = 0; i < chunkCount; i++) {
      if (addr >= chunkLo[i] && end <= chunkHi[i]) return chunkBuf[i] + <usize>(addr - chunkLo[i]);
    }
    if (nextChunkAddr == 0 || !copyChunk(nextChunkAddr)) break;
  }
  // generator frames, C-stack entry frames
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
    const st = readRemote(addr, FRAME_BUF, frameLen);
    if (st != OK) return -st;
    const code = load<u64>(FRAME_BUF + <usize>fCode);
    const lasti = load<i32>(FRAME_BUF + <usize>fLasti);
    if (code == 0) return -fail(ERR_CHAIN, 3, addr);
    unchecked(frameCode[depth] = code);
    unchecked(frameAddr[depth] = addr);
    unchecked(frameOffset[depth] = lasti < 0 ? -1 : (unitOffsets ? lasti << 1 : lasti));
    depth++;
    addr = load<u64>(FRAME_BUF + <usize>fBack);
  }
  return depth;
}

function walkInterpreterFrames(addr: u64, chunk: u64, baseFrame: u64): i32 {
  chunkCount = 0;
  nextChunkAddr = chunk;
  let depth = 0;
  const oPrev = O[F.F_IFRAME_PREVIOUS], oExec = O[F.F_IFRAME_EXECUTABLE], oInstr = O[F.F_IFRAME_INSTR_PTR],
    oOwner = O[F.F_IFRAME_OWNER];
  const adaptive = <u64>O[F.F_CODE_CO_CODE_ADAPTIVE];
  let last: u64 = 0;
  for (let n = 0; addr != 0; n++) {
    if (n >= MAX_FRAMES) return -fail(ERR_LIMIT, 2, addr);
    const p = localFrame(addr);
    if (p == 0) return -lastErrorCode();
    last = addr;
    const prev = load<u64>(p + <usize>oPrev);
    const owner = load<u8>(p + <usize>oOwner);
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
  stamp++;
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

/** Walks one thread whose tstate is at tAddr. Fills result record r. Returns OK or a status. */
function sampleThread(tAddr: u64, r: usize): i32 {
  let frame: u64 = 0;
  let depth: i32;
  if (frameModel == C.FRAME_MODEL_FRAME_OBJECT) {
    frame = load<u64>(TSTATE_BUF + <usize>O[F.F_TSTATE_FRAME]);
    depth = walkFrameObjects(frame);
  } else {
    if (frameModel == C.FRAME_MODEL_CFRAME) {
      const cf = load<u64>(TSTATE_BUF + <usize>O[F.F_TSTATE_CFRAME]);
      frame = cf == 0 ? 0 : readWord(cf + <u64>O[F.F_CFRAME_CURRENT_FRAME]);
      if (cf != 0 && readWordStatus() != OK) return readWordStatus();
    } else {
      frame = load<u64>(TSTATE_BUF + <usize>O[F.F_TSTATE_CURRENT_FRAME]);
    }
    const chunk = load<u64>(TSTATE_BUF + <usize>O[F.F_TSTATE_DATASTACK_CHUNK]);
    const base = O[F.F_TSTATE_BASE_FRAME] >= 0 ? load<u64>(TSTATE_BUF + <usize>O[F.F_TSTATE_BASE_FRAME]) : 0;
    depth = walkInterpreterFrames(frame, chunk, base);
  }
  if (depth < 0) return -depth;
  const st = resolveFrames(depth);
  if (st != OK) return st;
  let node = -1;
  for (let i = depth - 1; i >= 0; i--) {
    const e = unchecked(frameEntry[i]);
    const p = entries.at(e);
    const line = frameLine(e, unchecked(frameOffset[i]));
    const fid = internFrame(load<i32>(p + E_NAME_ID), load<i32>(p + E_FILE_ID), line, FRAME_PYTHON, load<i32>(p + E_FIRSTLINE));
    if (fid < 0) return fail(ERR_NO_MEMORY, 3);
    node = internNode(node, fid);
    if (node < 0) return fail(ERR_NO_MEMORY, 4);
  }
  store<i32>(r, node, 2 * 4);
  store<i32>(r, depth, 5 * 4);
  if (keepFrames) {
    // innermost first, like the stack a dump prints
    store<i32>(r, keptAddr.len, 7 * 4);
    for (let i = 0; i < depth; i++) {
      if (keptAddr.pushU64(unchecked(frameAddr[i])) < 0 || keptEntry.pushI32(unchecked(frameEntry[i])) < 0) return fail(ERR_NO_MEMORY, 5);
    }
  }
  return OK;
}

/**
 * Samples every thread once. Returns the number of thread records (walkResultsPtr), or a
 * negative status when the thread list itself could not be read (target gone, no permission).
 * A thread whose stack was torn is retried once, then reported with its status.
 */
export function walkSample(): i32 {
  resultCount = 0;
  keptAddr.clear();
  keptEntry.clear();
  if (!attached) return -fail(ERR_NO_RUNTIME, 4);
  if (interpAddr == 0) {
    const st = findInterpreter();
    if (st != OK) return -st;
  }
  const gil = wantGil ? readGilHolder() : 0;
  let t = readWord(interpAddr + <u64>O[F.F_INTERP_THREADS_HEAD]);
  let st = readWordStatus();
  if (st != OK) return -st;
  const oNext = <usize>O[F.F_TSTATE_NEXT], oInterp = <usize>O[F.F_TSTATE_INTERP], oIdent = <usize>O[F.F_TSTATE_THREAD_ID];
  while (t != 0) {
    if (resultCount >= MAX_THREADS) return -fail(ERR_LIMIT, 1, t);
    const r = results + <usize>resultCount * RESULT_SIZE;
    memory.fill(r, 0, RESULT_SIZE);
    store<i32>(r, -1, 2 * 4);
    let next: u64 = 0;
    let tries = 0;
    do {
      st = readRemote(t, TSTATE_BUF, tstateLen);
      if (st == ERR_GONE || st == ERR_PERM) return -st;
      if (st != OK) break;
      if (load<u64>(TSTATE_BUF + oInterp) != interpAddr) { st = fail(ERR_CHAIN, 5, t); break; }
      next = load<u64>(TSTATE_BUF + oNext);
      st = sampleThread(t, r);
      if (st == ERR_GONE || st == ERR_PERM) return -st;
    } while (st != OK && ++tries < 2);
    if (st != OK && next == 0 && load<u64>(TSTATE_BUF + oInterp) != interpAddr) {
      // the thread list itself tore: stop here, the rest is counted by the status
      store<i32>(r, st, 3 * 4);
      resultCount++;
      break;
    }
    const ident = load<u64>(TSTATE_BUF + oIdent);
    const tid = threadTid(ident);
    store<i32>(r, tid, 0);
    store<i32>(r, internThread(ident, tid), 4);
    store<i32>(r, st, 3 * 4);
    store<i32>(r, gil != 0 && gil == t ? 1 : 0, 4 * 4);
    resultCount++;
    t = next;
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
