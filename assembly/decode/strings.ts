// Names and byte strings from the target: PEP 393 str (3.x), PyStringObject (2.7) and bytes,
// read remotely, decoded to UTF-8 locally and interned.
// Must not know: versions (the string model and offsets come from the active table).
// Source of truth: CPython Include/cpython/unicodeobject.h (PyASCIIObject state bits, identical
// 3.3–3.15 in default builds; free-threaded 3.14+ moves them up a byte) and Include/stringobject.h (2.7); docs/cpython-layouts.md §4.5.

import { readRemote } from "../io";
import { OK, ERR_LIMIT, ERR_CHAIN, ERR_TABLE, fail } from "../status";
import { fitsIn } from "../util/bounds";
import { internString } from "../aggregate/intern";
import * as F from "../python/fields";
import { STRING_MODEL_PYSTRING, STRING_STATE_INTERNED_BYTE } from "../python/capabilities";
import { O as o, stringModel as activeStringModel, stringState as activeStringState } from "../python/active";

/** Longest name decoded, in code points; longer names are cut (never a failure). */
export const MAX_NAME_CHARS: i32 = 4096;
/** Longest byte string (line tables) read. */
export const MAX_BYTES: i32 = 1 << 20;

const HEADER_MAX: i32 = 128;
const HEADER: usize = memory.data(HEADER_MAX, 16);
const RAW: usize = memory.data(MAX_NAME_CHARS * 4, 16);
const UTF8: usize = memory.data(MAX_NAME_CHARS * 4, 16);

// the active table's string offsets, taken from python/active.ts at attach (configureStrings)
let stringModel: i32 = 1;
// the bit where `kind` starts in the state word (compact and ascii follow it)
let kindShift: u32 = 2;
let uniState: i32 = 32, uniLength: i32 = 16, uniAsciiSize: i32 = 48, uniCompactSize: i32 = 72, uniData: i32 = 72;
let bytesSize: i32 = 16, bytesSval: i32 = 32;
let obType: i32 = 8;
// remote addresses of the exact types names and byte strings have (0: unchecked)
let strTypeAddr: u64 = 0;
let bytesTypeAddr: u64 = 0;

/** Names (co_name, co_filename) are exact str objects, line tables exact bytes: check types. */
export function setStringTypes(strType: u64, bytesType: u64): void {
  strTypeAddr = strType;
  bytesTypeAddr = bytesType;
}

/** Do the active table's string headers fit HEADER (set by configureStrings)? */
let headersFit: bool = true;

/** Takes the string model and offsets of the active table (python/active.ts activeSet calls it). */
export function configureStrings(): void {
  const model = activeStringModel;
  stringModel = model;
  kindShift = activeStringState == STRING_STATE_INTERNED_BYTE ? 8 : 2;
  // every header field is loaded from HEADER: a table (a plugin, or a 3.13+ target's own
  // _Py_DebugOffsets) whose headers do not fit is refused at each read, never overrun
  headersFit = fitsIn(o[F.F_PYOBJECT_OB_TYPE], 8, HEADER_MAX);
  if (model == STRING_MODEL_PYSTRING) {
    headersFit = headersFit && fitsIn(o[F.F_STRING_OB_SIZE], 8, HEADER_MAX) && fitsIn(o[F.F_STRING_OB_SVAL], 0, HEADER_MAX) &&
      fitsIn(o[F.F_PYOBJECT_OB_TYPE], 8, o[F.F_STRING_OB_SVAL]) && fitsIn(o[F.F_STRING_OB_SIZE], 8, o[F.F_STRING_OB_SVAL]);
  } else {
    const data = o[F.F_UNICODE_DATA], compact = o[F.F_UNICODE_COMPACTOBJECT_SIZE];
    headersFit = headersFit && fitsIn(data, 8, HEADER_MAX) && fitsIn(compact, 0, HEADER_MAX) &&
      fitsIn(o[F.F_UNICODE_STATE], 4, compact > data + 8 ? compact : data + 8) &&
      fitsIn(o[F.F_UNICODE_LENGTH], 8, compact > data + 8 ? compact : data + 8) &&
      fitsIn(o[F.F_PYOBJECT_OB_TYPE], 8, compact > data + 8 ? compact : data + 8) &&
      fitsIn(o[F.F_BYTES_OB_SIZE], 8, HEADER_MAX) && fitsIn(o[F.F_BYTES_OB_SVAL], 0, HEADER_MAX) &&
      fitsIn(o[F.F_PYOBJECT_OB_TYPE], 8, o[F.F_BYTES_OB_SVAL]) && fitsIn(o[F.F_BYTES_OB_SIZE], 8, o[F.F_BYTES_OB_SVAL]) &&
      o[F.F_UNICODE_ASCIIOBJECT_SIZE] >= 0 && compact >= 0;
  }
  obType = o[F.F_PYOBJECT_OB_TYPE];
  if (model == STRING_MODEL_PYSTRING) {
    bytesSize = o[F.F_STRING_OB_SIZE];
    bytesSval = o[F.F_STRING_OB_SVAL];
  } else {
    uniState = o[F.F_UNICODE_STATE];
    uniLength = o[F.F_UNICODE_LENGTH];
    uniAsciiSize = o[F.F_UNICODE_ASCIIOBJECT_SIZE];
    uniCompactSize = o[F.F_UNICODE_COMPACTOBJECT_SIZE];
    uniData = o[F.F_UNICODE_DATA];
    bytesSize = o[F.F_BYTES_OB_SIZE];
    bytesSval = o[F.F_BYTES_OB_SVAL];
  }
}

let lastLen: i32 = 0;
/** Length in bytes of the last byte string read by readBytes. */
export function lastBytesLen(): i32 { return lastLen; }

/**
 * Reads a bytes object (or a 2.7 str used as bytes) at addr into newly allocated local memory.
 * Returns the local pointer (caller owns it, heap.free), 0 on failure (status via lastError).
 */
export function readBytes(addr: u64): usize {
  lastLen = 0;
  if (!headersFit) { fail(ERR_TABLE, 40); return 0; }
  if (readRemote(addr, HEADER, bytesSval) != OK) return 0;
  if (bytesTypeAddr != 0 && load<u64>(HEADER + obType) != bytesTypeAddr) { fail(ERR_CHAIN, 6, addr); return 0; }
  const size = load<i64>(HEADER + bytesSize);
  if (size < 0 || size > <i64>MAX_BYTES) { fail(ERR_LIMIT, 1, addr); return 0; }
  const len = <i32>size;
  const p = heap.alloc(len > 0 ? <usize>len : 1);
  if (len > 0 && readRemote(addr + <u64>bytesSval, p, len) != OK) { heap.free(p); return 0; }
  lastLen = len;
  return p;
}

@inline function putUtf8(out: usize, n: i32, cp: u32): i32 {
  if (cp < 0x80) { store<u8>(out + n, <u8>cp); return n + 1; }
  if (cp < 0x800) {
    store<u8>(out + n, <u8>(0xc0 | (cp >> 6)));
    store<u8>(out + n + 1, <u8>(0x80 | (cp & 0x3f)));
    return n + 2;
  }
  if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd; // lone surrogate: replacement character
  if (cp < 0x10000) {
    store<u8>(out + n, <u8>(0xe0 | (cp >> 12)));
    store<u8>(out + n + 1, <u8>(0x80 | ((cp >> 6) & 0x3f)));
    store<u8>(out + n + 2, <u8>(0x80 | (cp & 0x3f)));
    return n + 3;
  }
  if (cp > 0x10ffff) {
    store<u8>(out + n, 0xef); store<u8>(out + n + 1, 0xbf); store<u8>(out + n + 2, 0xbd); // U+FFFD
    return n + 3;
  }
  store<u8>(out + n, <u8>(0xf0 | (cp >> 18)));
  store<u8>(out + n + 1, <u8>(0x80 | ((cp >> 12) & 0x3f)));
  store<u8>(out + n + 2, <u8>(0x80 | ((cp >> 6) & 0x3f)));
  store<u8>(out + n + 3, <u8>(0x80 | (cp & 0x3f)));
  return n + 4;
}

/** Reads the str object at addr and interns it as UTF-8. Returns the string id or -1. */
export function readName(addr: u64): i32 {
  if (addr == 0) { fail(ERR_CHAIN, 2, addr); return -1; }
  if (!headersFit) { fail(ERR_TABLE, 40); return -1; }
  if (stringModel == STRING_MODEL_PYSTRING) {
    // 2.7: raw bytes, normally ASCII or UTF-8 source text
    if (readRemote(addr, HEADER, bytesSval) != OK) return -1;
    if (strTypeAddr != 0 && load<u64>(HEADER + obType) != strTypeAddr) { fail(ERR_CHAIN, 7, addr); return -1; }
    let n = load<i64>(HEADER + bytesSize);
    if (n < 0) { fail(ERR_CHAIN, 3, addr); return -1; }
    if (n > <i64>MAX_NAME_CHARS) n = MAX_NAME_CHARS;
    if (n > 0 && readRemote(addr + <u64>bytesSval, UTF8, <i32>n) != OK) return -1;
    return internString(UTF8, <i32>n);
  }
  const headerLen = uniCompactSize > uniData + 8 ? uniCompactSize : uniData + 8;
  if (readRemote(addr, HEADER, headerLen) != OK) return -1;
  if (strTypeAddr != 0 && load<u64>(HEADER + obType) != strTypeAddr) { fail(ERR_CHAIN, 7, addr); return -1; }
  const state = load<u32>(HEADER + uniState);
  let length = load<i64>(HEADER + uniLength);
  if (length < 0) { fail(ERR_CHAIN, 3, addr); return -1; }
  if (length > <i64>MAX_NAME_CHARS) length = MAX_NAME_CHARS;
  const n = <i32>length;
  const kind = <i32>((state >> kindShift) & 7);
  const compact = (state >> (kindShift + 3)) & 1;
  const ascii = (state >> (kindShift + 4)) & 1;
  if (kind != 1 && kind != 2 && kind != 4) { fail(ERR_CHAIN, 4, addr); return -1; }
  let dataAddr: u64;
  if (compact) dataAddr = addr + <u64>(ascii ? uniAsciiSize : uniCompactSize);
  else {
    dataAddr = load<u64>(HEADER + uniData);
    if (dataAddr == 0) { fail(ERR_CHAIN, 5, addr); return -1; }
  }
  if (n == 0) return internString(UTF8, 0);
  if (ascii && compact) {
    if (readRemote(dataAddr, UTF8, n) != OK) return -1;
    return internString(UTF8, n);
  }
  if (readRemote(dataAddr, RAW, n * kind) != OK) return -1;
  let out = 0;
  for (let i = 0; i < n; i++) {
    let cp: u32;
    if (kind == 1) cp = <u32>load<u8>(RAW + i);
    else if (kind == 2) cp = <u32>load<u16>(RAW + (<usize>i << 1));
    else cp = load<u32>(RAW + (<usize>i << 2));
    out = putUtf8(UTF8, out, cp);
  }
  return internString(UTF8, out);
}
