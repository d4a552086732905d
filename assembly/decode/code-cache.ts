// The code object cache: a code object's remote address -> its name, file, first line and line
// table, read once and interned, then validated (type, name, file, line table, first line
// unchanged) at most once per sample, in batched reads. Lines are decoded from the cached table.
// Must not know: threads or frames (the walk hands it code addresses), versions (the active
// table's offsets and line format, python/active.ts), errno values.
// Source of truth: docs/cpython-layouts.md §4 (code objects, line tables).

import { readRemote, batchReset, batchAdd, batchRun, MAX_IOV } from "../io";
import { OK, ERR_NOT_CODE, ERR_NO_MEMORY, ERR_TABLE, fail, lastErrorCode } from "../status";
import * as F from "../python/fields";
import { O, lineFormat, windowStart, windowEnd } from "../python/active";
import { Vec, U64Map } from "../util/vec";
import { readName, readBytes, lastBytesLen } from "./strings";
import { decodeLineNumber } from "./line-table";
import { stringGeneration } from "../aggregate/intern";

export const ENTRY_SIZE: i32 = 72;
export const E_ADDR = 0, E_FILENAME = 8, E_NAME = 16, E_LINETABLE = 24, E_FIRSTLINE = 32, E_NAME_ID = 36,
  E_FILE_ID = 40, E_TABLE_LEN = 44, E_TABLE_PTR = 48, E_STAMP = 52, E_LAST_OFFSET = 56, E_LAST_LINE = 60,
  E_SPEC = 64, E_FLAGS = 68;
/** co_flags of generators and coroutines (CO_GENERATOR, CO_COROUTINE, CO_ITERABLE_COROUTINE,
 * CO_ASYNC_GENERATOR): identical in 2.7–3.15. Such a frame never ends a thread's stack. */
export const CO_SUSPENDABLE: i32 = 0x20 | 0x80 | 0x100 | 0x200;
export const entries = new Vec(ENTRY_SIZE);
export const codeMap = new U64Map(12);
/** This sample's stamp: an entry stamped with it was validated this sample (-stamp: queued). */
export let stamp: i32 = 0;

/** The part of a code object that is read: [codeLo, codeLo + codeLen) */
export let codeLo: i32 = 0, codeLen: i32 = 0;
/** `PyCode_Type` in the target (0: unchecked) */
let codeTypeAddr: u64 = 0;
const MAX_CODE_WINDOW: i32 = 4096;
const CODE_BUF: usize = memory.data(MAX_CODE_WINDOW, 16);
let validateBuf: usize = 0; // MAX_IOV code windows
const validateEntry = new StaticArray<i32>(MAX_IOV);

/** The string generation (aggregate/intern.ts) the entries' name and file ids belong to. */
let codeCacheGen: i32 = 0;

/**
 * Forgets every code object when the interned strings were reset (RESET_ALL): their name and
 * file ids are void. One integer compare per sample otherwise.
 */
export function codeCacheSyncGeneration(): void {
  if (codeCacheGen == stringGeneration()) return;
  for (let e = 0; e < entries.len; e++) {
    const t = <usize>load<u32>(entries.at(e) + E_TABLE_PTR);
    if (t != 0) heap.free(t);
  }
  entries.clear();
  codeMap.clear();
  codeCacheGen = stringGeneration();
}

/** A new sample: entries validated before must be validated again before use. */
@inline export function codeCacheNextSample(): void { stamp++; }

/**
 * Takes the active table's code object window and the target's `PyCode_Type` (0: unchecked).
 * False when the window is empty or too large (the caller fails with ERR_TABLE).
 */
export function codeCacheWindow(codeType: u64): bool {
  codeTypeAddr = codeType;
  const codeFields: StaticArray<i32> = [F.F_PYOBJECT_OB_TYPE, F.F_CODE_FILENAME, F.F_CODE_NAME, F.F_CODE_QUALNAME,
    F.F_CODE_LINETABLE, F.F_CODE_FIRSTLINENO, F.F_CODE_FLAGS];
  codeLo = windowStart(codeFields);
  codeLen = windowEnd(codeFields) - codeLo;
  return codeLen > 0 && codeLen <= MAX_CODE_WINDOW;
}

/** Allocates the validation buffer for the window (codeCacheWindow). OK or ERR_NO_MEMORY. */
export function codeCacheAlloc(): i32 {
  if (validateBuf != 0) heap.free(validateBuf);
  validateBuf = heap.alloc(<usize>MAX_IOV * codeLen);
  if (validateBuf == 0) return fail(ERR_NO_MEMORY, 0);
  return OK;
}

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
export function entryMatches(e: i32, win: usize): bool {
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

/**
 * Resolves the code objects frameCode[0..depth) to cache entries in frameEntry, validating cached
 * ones in one batched read per MAX_IOV. OK or a status.
 */
export function resolveFrames(frameCode: StaticArray<u64>, frameEntry: StaticArray<i32>, depth: i32): i32 {
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
export function frameLine(e: i32, offset: i32): i32 {
  const p = entries.at(e);
  if (load<i32>(p + E_LAST_OFFSET) == offset) return load<i32>(p + E_LAST_LINE);
  const first = load<i32>(p + E_FIRSTLINE);
  let line = offset < 0 ? -1 : decodeLineNumber(lineFormat, <usize>load<u32>(p + E_TABLE_PTR), load<i32>(p + E_TABLE_LEN), first, offset);
  if (line < 0) line = first; // not started yet, or an instruction without a line
  store<i32>(p + E_LAST_OFFSET, offset);
  store<i32>(p + E_LAST_LINE, line);
  return line;
}
