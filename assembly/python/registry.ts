// The registry: the one module that compares CPython version numbers. It judges the bytes at a
// target's `_PyRuntime` (debug offsets or not, the version they carry, a free-threaded build),
// chooses the version table for a target (a user's plugin first, then a built-in table), and for
// 3.13+ builds one from the target's own `_Py_DebugOffsets`, whose layout it picks by minor version.
// Must not know: how bytes were read, files, JSON.
// Source of truth: docs/cpython-layouts.md §2.5 (debug offsets positions per minor,
// dumped from real 3.13.0, 3.14.10 and 3.15.2 binaries); CPython's validate_debug_offsets.

import * as F from "./fields";
import * as C from "./capabilities";
import { tableCount, tableAt, tableNew, tableSetField, tableSetCap, tableValidate, VersionTable, MAX_STRUCT_SIZE, PROBLEM_BAD_VALUE } from "./tables";
import { OK, ERR_VERSION, ERR_TABLE, fail } from "../status";
import { DETAIL_TASKS_NO_LAYOUT, DETAIL_TASKS_NOT_IMPORTED } from "../contract";

/** PY_VERSION_HEX parts. */
@inline export function versionMajor(hex: u32): u32 { return hex >> 24; }
@inline export function versionMinor(hex: u32): u32 { return (hex >> 16) & 0xff; }
@inline function minorKey(hex: u32): u32 { return hex >> 16; }

/** The first minor version whose runtime carries `_Py_DebugOffsets`. */
const DEBUG_OFFSETS_FROM: u32 = 0x030d;
const DEBUG_COOKIE: u64 = 0x7970677562656478; // "xdebugpy" little-endian

/** Does this version carry `_Py_DebugOffsets` at the start of `_PyRuntime`? */
export function versionHasDebugOffsets(hex: u32): bool { return minorKey(hex) >= DEBUG_OFFSETS_FROM; }

/** Does this version find the interpreter list through `_PyRuntime` (3.7+)? */
export function versionHasRuntime(hex: u32): bool { return minorKey(hex) >= 0x0307; }

/**
 * The table for versionHex: a plugin table covering it first (the newest loaded wins), then a
 * built-in one. Returns the table id, or -1.
 */
export function registrySelect(versionHex: u32, wantPlugin: bool): i32 {
  for (let i = tableCount() - 1; i >= 0; i--) {
    const t = tableAt(i);
    if (t.plugin == wantPlugin && t.minHex <= versionHex && versionHex <= t.maxHex) return i;
  }
  return -1;
}

// ---- _Py_DebugOffsets layouts: [field id, byte position of its u64] per known minor ----
const POS_313: StaticArray<i32> = [
  F.F_RUNTIME_SIZE, 24, F.F_RUNTIME_INTERPRETERS_HEAD, 40,
  F.F_INTERP_SIZE, 48, F.F_INTERP_ID, 56, F.F_INTERP_NEXT, 64, F.F_INTERP_THREADS_HEAD, 72,
  F.F_INTERP_GIL_LOCKED, 136, F.F_INTERP_GIL_HOLDER, 144,
  F.F_TSTATE_SIZE, 152, F.F_TSTATE_NEXT, 168, F.F_TSTATE_INTERP, 176, F.F_TSTATE_CURRENT_FRAME, 184,
  F.F_TSTATE_THREAD_ID, 192, F.F_TSTATE_NATIVE_THREAD_ID, 200, F.F_TSTATE_DATASTACK_CHUNK, 208,
  F.F_IFRAME_SIZE, 224, F.F_IFRAME_PREVIOUS, 232, F.F_IFRAME_EXECUTABLE, 240, F.F_IFRAME_INSTR_PTR, 248,
  F.F_IFRAME_LOCALSPLUS, 256, F.F_IFRAME_OWNER, 264,
  F.F_CODE_SIZE, 272, F.F_CODE_FILENAME, 280, F.F_CODE_NAME, 288, F.F_CODE_QUALNAME, 296,
  F.F_CODE_LINETABLE, 304, F.F_CODE_FIRSTLINENO, 312, F.F_CODE_ARGCOUNT, 320, F.F_CODE_VARNAMES, 328,
  F.F_CODE_CO_CODE_ADAPTIVE, 344,
  F.F_PYOBJECT_SIZE, 352, F.F_PYOBJECT_OB_TYPE, 360,
  F.F_TYPE_SIZE, 368, F.F_TYPE_TP_NAME, 376, F.F_TYPE_TP_FLAGS, 392,
  F.F_BYTES_SIZE, 512, F.F_BYTES_OB_SIZE, 520, F.F_BYTES_OB_SVAL, 528,
  F.F_UNICODE_SIZE, 536, F.F_UNICODE_STATE, 544, F.F_UNICODE_LENGTH, 552, F.F_UNICODE_ASCIIOBJECT_SIZE, 560,
  F.F_INTERP_IMPORTS_MODULES, 88, F.F_CODE_LOCALSPLUSKINDS, 336,
  F.F_TUPLE_SIZE, 400, F.F_TUPLE_OB_ITEM, 408, F.F_TUPLE_OB_SIZE, 416,
  F.F_LIST_SIZE, 424, F.F_LIST_OB_ITEM, 432, F.F_LIST_OB_SIZE, 440,
  F.F_DICT_SIZE, 448, F.F_DICT_MA_KEYS, 456, F.F_DICT_MA_VALUES, 464,
  F.F_FLOAT_SIZE, 472, F.F_FLOAT_OB_FVAL, 480,
  F.F_LONG_SIZE, 488, F.F_LONG_LV_TAG, 496, F.F_LONG_OB_DIGIT, 504,
];
const POS_314: StaticArray<i32> = [
  F.F_RUNTIME_SIZE, 24, F.F_RUNTIME_INTERPRETERS_HEAD, 40,
  F.F_INTERP_SIZE, 48, F.F_INTERP_ID, 56, F.F_INTERP_NEXT, 64, F.F_INTERP_THREADS_HEAD, 72,
  F.F_INTERP_THREADS_MAIN, 80, F.F_INTERP_GIL_LOCKED, 144, F.F_INTERP_GIL_HOLDER, 152,
  F.F_TSTATE_SIZE, 176, F.F_TSTATE_NEXT, 192, F.F_TSTATE_INTERP, 200, F.F_TSTATE_CURRENT_FRAME, 208,
  F.F_TSTATE_THREAD_ID, 216, F.F_TSTATE_NATIVE_THREAD_ID, 224, F.F_TSTATE_DATASTACK_CHUNK, 232,
  F.F_IFRAME_SIZE, 248, F.F_IFRAME_PREVIOUS, 256, F.F_IFRAME_EXECUTABLE, 264, F.F_IFRAME_INSTR_PTR, 272,
  F.F_IFRAME_LOCALSPLUS, 280, F.F_IFRAME_OWNER, 288, F.F_IFRAME_TLBC_INDEX, 304,
  F.F_CODE_SIZE, 312, F.F_CODE_FILENAME, 320, F.F_CODE_NAME, 328, F.F_CODE_QUALNAME, 336,
  F.F_CODE_LINETABLE, 344, F.F_CODE_FIRSTLINENO, 352, F.F_CODE_ARGCOUNT, 360, F.F_CODE_VARNAMES, 368,
  F.F_CODE_CO_CODE_ADAPTIVE, 384, F.F_CODE_CO_TLBC, 392,
  F.F_PYOBJECT_SIZE, 400, F.F_PYOBJECT_OB_TYPE, 408,
  F.F_TYPE_SIZE, 416, F.F_TYPE_TP_NAME, 424, F.F_TYPE_TP_FLAGS, 440,
  F.F_BYTES_SIZE, 592, F.F_BYTES_OB_SIZE, 600, F.F_BYTES_OB_SVAL, 608,
  F.F_UNICODE_SIZE, 616, F.F_UNICODE_STATE, 624, F.F_UNICODE_LENGTH, 632, F.F_UNICODE_ASCIIOBJECT_SIZE, 640,
  F.F_INTERP_IMPORTS_MODULES, 96, F.F_CODE_LOCALSPLUSKINDS, 376,
  F.F_TUPLE_SIZE, 448, F.F_TUPLE_OB_ITEM, 456, F.F_TUPLE_OB_SIZE, 464,
  F.F_LIST_SIZE, 472, F.F_LIST_OB_ITEM, 480, F.F_LIST_OB_SIZE, 488,
  F.F_SET_SIZE, 496, F.F_SET_USED, 504, F.F_SET_TABLE, 512, F.F_SET_MASK, 520,
  F.F_DICT_SIZE, 528, F.F_DICT_MA_KEYS, 536, F.F_DICT_MA_VALUES, 544,
  F.F_FLOAT_SIZE, 552, F.F_FLOAT_OB_FVAL, 560,
  F.F_LONG_SIZE, 568, F.F_LONG_LV_TAG, 576, F.F_LONG_OB_DIGIT, 584,
];
const POS_315: StaticArray<i32> = [
  F.F_RUNTIME_SIZE, 24, F.F_RUNTIME_INTERPRETERS_HEAD, 40,
  F.F_INTERP_SIZE, 48, F.F_INTERP_ID, 56, F.F_INTERP_NEXT, 64, F.F_INTERP_THREADS_HEAD, 72,
  F.F_INTERP_THREADS_MAIN, 80, F.F_INTERP_GIL_LOCKED, 144, F.F_INTERP_GIL_HOLDER, 152,
  F.F_TSTATE_SIZE, 176, F.F_TSTATE_NEXT, 192, F.F_TSTATE_INTERP, 200, F.F_TSTATE_CURRENT_FRAME, 208,
  F.F_TSTATE_BASE_FRAME, 216,
  F.F_TSTATE_THREAD_ID, 240, F.F_TSTATE_NATIVE_THREAD_ID, 248, F.F_TSTATE_DATASTACK_CHUNK, 256,
  F.F_TSTATE_HOLDS_GIL, 272,
  F.F_IFRAME_SIZE, 312, F.F_IFRAME_PREVIOUS, 320, F.F_IFRAME_EXECUTABLE, 328, F.F_IFRAME_INSTR_PTR, 336,
  F.F_IFRAME_LOCALSPLUS, 344, F.F_IFRAME_OWNER, 352, F.F_IFRAME_TLBC_INDEX, 368,
  F.F_CODE_SIZE, 376, F.F_CODE_FILENAME, 384, F.F_CODE_NAME, 392, F.F_CODE_QUALNAME, 400,
  F.F_CODE_LINETABLE, 408, F.F_CODE_FIRSTLINENO, 416, F.F_CODE_ARGCOUNT, 424, F.F_CODE_VARNAMES, 432,
  F.F_CODE_CO_CODE_ADAPTIVE, 448, F.F_CODE_CO_TLBC, 456,
  F.F_PYOBJECT_SIZE, 464, F.F_PYOBJECT_OB_TYPE, 472,
  F.F_TYPE_SIZE, 480, F.F_TYPE_TP_NAME, 488, F.F_TYPE_TP_FLAGS, 504,
  F.F_BYTES_SIZE, 688, F.F_BYTES_OB_SIZE, 696, F.F_BYTES_OB_SVAL, 704,
  F.F_UNICODE_SIZE, 712, F.F_UNICODE_STATE, 720, F.F_UNICODE_LENGTH, 728, F.F_UNICODE_ASCIIOBJECT_SIZE, 736,
  F.F_UNICODE_COMPACTOBJECT_SIZE, 744,
  F.F_INTERP_IMPORTS_MODULES, 96, F.F_CODE_LOCALSPLUSKINDS, 440,
  F.F_TYPE_TP_BASICSIZE, 512, F.F_TYPE_TP_DICTOFFSET, 520,
  F.F_HEAPTYPE_SIZE, 528, F.F_HEAPTYPE_HT_CACHED_KEYS, 536,
  F.F_TUPLE_SIZE, 544, F.F_TUPLE_OB_ITEM, 552, F.F_TUPLE_OB_SIZE, 560,
  F.F_LIST_SIZE, 568, F.F_LIST_OB_ITEM, 576, F.F_LIST_OB_SIZE, 584,
  F.F_SET_SIZE, 592, F.F_SET_USED, 600, F.F_SET_TABLE, 608, F.F_SET_MASK, 616,
  F.F_DICT_SIZE, 624, F.F_DICT_MA_KEYS, 632, F.F_DICT_MA_VALUES, 640,
  F.F_FLOAT_SIZE, 648, F.F_FLOAT_OB_FVAL, 656,
  F.F_LONG_SIZE, 664, F.F_LONG_LV_TAG, 672, F.F_LONG_OB_DIGIT, 680,
];
// sizeof(_Py_DebugOffsets) per layout
const SIZE_313: i32 = 584;
const SIZE_314: i32 = 760;
const SIZE_315: i32 = 888;
/** Bytes to read at `_PyRuntime` before the version is known: cookie, version, free_threaded. */
export const DEBUG_OFFSETS_HEADER: i32 = 24;
/** The most bytes any known layout needs. */
export const DEBUG_OFFSETS_MAX: i32 = SIZE_315;

/** The newest `_Py_DebugOffsets` layout known, tried (and validated) for newer versions. */
const NEWEST_KNOWN: u32 = 0x030f;
let lastTrial: bool = false;
/** Did the last registryFromDebugOffsets read a newer version with the newest known layout? */
export function registryLastWasTrial(): bool { return lastTrial; }

function layoutFor(hex: u32): StaticArray<i32> | null {
  const k = minorKey(hex);
  if (k == 0x030d) return POS_313;
  if (k == 0x030e) return POS_314;
  if (k == 0x030f) return POS_315;
  return null;
}

/** sizeof(_Py_DebugOffsets) for this version, 0 when its layout is unknown. */
export function debugOffsetsSize(hex: u32): i32 {
  const k = minorKey(hex);
  if (k == 0x030d) return SIZE_313;
  if (k == 0x030e) return SIZE_314;
  if (k == 0x030f) return SIZE_315;
  if (k > NEWEST_KNOWN && versionMajor(hex) == 3) return SIZE_315; // tried as the newest layout
  return 0;
}

/** Checks a `_Py_DebugOffsets` header at ptr: cookie; returns the version (0 when no cookie). */
export function debugOffsetsVersion(ptr: usize): u32 {
  if (load<u64>(ptr) != DEBUG_COOKIE) return 0;
  return <u32>load<u64>(ptr, 8);
}

let runtimeVersion: u32 = 0;
let runtimeHasDebugOffsets: bool = false;
let runtimeFreeThreaded: bool = false;

/**
 * Judges the first bytes of a target's `_PyRuntime` (the symbol, or the .PyRuntime section),
 * copied to ptr (len bytes; DEBUG_OFFSETS_HEADER are enough): whether they start with
 * `_Py_DebugOffsets` (3.13+), the version they carry, and whether the build is free-threaded.
 * Returns OK (registryRuntimeFreeThreaded tells a free-threaded build). Bytes without the
 * cookie (a version before 3.13, or memory that is not `_PyRuntime`) have no version: the host
 * learns it elsewhere.
 */
export function registryInspectRuntime(ptr: usize, len: i32): i32 {
  runtimeVersion = 0;
  runtimeHasDebugOffsets = false;
  runtimeFreeThreaded = false;
  if (len < DEBUG_OFFSETS_HEADER) return OK;
  const hex = debugOffsetsVersion(ptr);
  if (hex == 0) return OK;
  runtimeHasDebugOffsets = true;
  runtimeVersion = hex;
  runtimeFreeThreaded = load<u64>(ptr, 16) != 0;
  return OK;
}
/** Did the last registryInspectRuntime find a free-threaded build's debug offsets? */
export function registryRuntimeFreeThreaded(): bool { return runtimeFreeThreaded; }
/** The version the last registryInspectRuntime read (PY_VERSION_HEX), 0 when none. */
export function registryRuntimeVersion(): u32 { return runtimeVersion; }
/** Did the last registryInspectRuntime find `_Py_DebugOffsets`? */
export function registryRuntimeHasDebugOffsets(): bool { return runtimeHasDebugOffsets; }

/** Is hex a plausible PY_VERSION_HEX of a CPython wspy could meet (2.x or 3.x, minor < 100)? */
function plausibleVersion(hex: u32): bool {
  const major = hex >> 24, minor = (hex >> 16) & 0xff;
  return (major == 2 || major == 3) && minor < 100;
}

/**
 * The version in `Py_Version` (3.11+: `const unsigned long Py_Version = PY_VERSION_HEX`), its
 * first len bytes copied to ptr: PY_VERSION_HEX, or 0 when the bytes are not one.
 * Source: Include/pylifecycle.h, Python/getversion.c.
 */
export function registryVersionFromPyVersion(ptr: usize, len: i32): u32 {
  if (len < 4) return 0;
  const hex = load<u32>(ptr);
  return plausibleVersion(hex) ? hex : 0;
}

/**
 * The version at the start of `Py_GetVersion()`'s buffer ("3.12.1 (main, ...") or a banner
 * copied to ptr: PY_VERSION_HEX with no release level (final), or 0 when it does not start
 * with MAJOR.MINOR.MICRO. Source: Python/getversion.c.
 */
export function registryVersionFromBanner(ptr: usize, len: i32): u32 {
  const parts = new StaticArray<u32>(3);
  let part = 0, digits = 0;
  for (let i = 0; i < len && i < 32; i++) {
    const c = <u32>load<u8>(ptr + <usize>i);
    if (c >= 48 && c <= 57) {
      if (++digits > 3) return 0;
      parts[part] = parts[part] * 10 + (c - 48);
    } else if (c == 46 && digits > 0 && part < 2) {
      part++;
      digits = 0;
    } else {
      break;
    }
  }
  if (part != 2 || digits == 0 || parts[1] > 255 || parts[2] > 255) return 0;
  const hex = (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | 0xf0;
  return plausibleVersion(hex) ? hex : 0;
}

/**
 * Builds a table from a target's `_Py_DebugOffsets` copied to ptr (len bytes). Returns the
 * table id, or a negative status (unknown layout, invalid values). A free-threaded build
 * (`free_threaded` set) gets its own fixed fields and capabilities: its objects carry a 32-byte
 * header (ob_tid, flags, mutex, gc bits, split reference counts), it has no GC pre-header before
 * instances (the managed dict at obj-8), no GIL, and from 3.14 thread-local bytecode and a
 * `state` whose `interned` is a byte of its own.
 */
export function registryFromDebugOffsets(ptr: usize, len: i32, allowNewer: bool): i32 {
  const hex = debugOffsetsVersion(ptr);
  lastTrial = false;
  if (hex == 0) return -fail(ERR_VERSION, 1);
  const freeThreaded = load<u64>(ptr, 16) != 0;
  let pos = layoutFor(hex);
  let size = debugOffsetsSize(hex);
  if (pos === null && allowNewer && minorKey(hex) > NEWEST_KNOWN) {
    // a version newer than wspy: its layout may have kept the newest known one; validation and
    // the attach-time walk decide, and the host says so in one line
    pos = POS_315;
    size = SIZE_315;
    lastTrial = true;
  }
  if (pos === null || len < size) return -fail(ERR_VERSION, 2);
  const layout = pos!;
  const id = tableNew(hex, hex, false);
  for (let i = 0; i < layout.length; i += 2) {
    const v = load<u64>(ptr + <usize>layout[i + 1]);
    if (v > 0x7fffffff) return -fail(ERR_VERSION, 3);
    tableSetField(id, layout[i], <i32>v);
  }
  const t = tableAt(id);
  // fields the debug offsets do not carry, fixed for every version that has them
  if (!t.has(F.F_UNICODE_COMPACTOBJECT_SIZE)) {
    // PyCompactUnicodeObject = PyASCIIObject + utf8_length + utf8 (3.12+)
    tableSetField(id, F.F_UNICODE_COMPACTOBJECT_SIZE, t.offsets[F.F_UNICODE_ASCIIOBJECT_SIZE] + 16);
  }
  tableSetField(id, F.F_UNICODE_DATA, t.offsets[F.F_UNICODE_COMPACTOBJECT_SIZE]);
  // fields the debug offsets do not all carry, from offsetof probes against pyenv 3.13.0, the
  // 3.13.15 free-threaded build and Debian 3.14.10 / 3.15.2 headers (with and without
  // Py_GIL_DISABLED; docs/cpython-layouts.md §7.8). Those inside an object move with its header:
  // a free-threaded PyObject is 16 bytes longer (32, not 16), which the record's own
  // pyobject.size says; the dict keys, dict values and stack chunks are not objects.
  const hdr = t.offsets[F.F_PYOBJECT_SIZE] - 16;
  if (hdr != (freeThreaded ? 16 : 0)) return -fail(ERR_VERSION, 4); // the flag and the header disagree
  if (!t.has(F.F_TYPE_TP_BASICSIZE)) tableSetField(id, F.F_TYPE_TP_BASICSIZE, 32 + hdr);
  if (!t.has(F.F_CODE_FLAGS)) tableSetField(id, F.F_CODE_FLAGS, 48 + hdr);
  if (!t.has(F.F_TYPE_TP_DICTOFFSET)) tableSetField(id, F.F_TYPE_TP_DICTOFFSET, 288 + hdr);
  if (!t.has(F.F_HEAPTYPE_SIZE)) {
    // 3.13: 928 (944 free-threaded); 3.14: 936 (960 free-threaded: ht_unique_id at the end)
    const k = minorKey(hex);
    tableSetField(id, F.F_HEAPTYPE_SIZE, (k == 0x030d ? 928 : 936) + hdr + (freeThreaded && k != 0x030d ? 8 : 0));
    tableSetField(id, F.F_HEAPTYPE_HT_CACHED_KEYS, 880 + hdr);
  }
  tableSetField(id, F.F_DICT_MA_USED, 16 + hdr);
  tableSetField(id, F.F_DICTKEYS_SIZE, 32);
  tableSetField(id, F.F_DICTKEYS_DK_LOG2_SIZE, 8);
  tableSetField(id, F.F_DICTKEYS_DK_LOG2_INDEX_BYTES, 9);
  tableSetField(id, F.F_DICTKEYS_DK_KIND, 10);
  tableSetField(id, F.F_DICTKEYS_DK_NENTRIES, 24);
  tableSetField(id, F.F_DICTKEYS_DK_INDICES, 32);
  tableSetField(id, F.F_DICTVALUES_SIZE, 16);
  tableSetField(id, F.F_DICTVALUES_VALUES, 8);
  if (!t.has(F.F_SET_SIZE)) { tableSetField(id, F.F_SET_SIZE, 200 + hdr); tableSetField(id, F.F_SET_USED, 24 + hdr); }
  if (!t.has(F.F_SET_TABLE)) { tableSetField(id, F.F_SET_MASK, 32 + hdr); tableSetField(id, F.F_SET_TABLE, 40 + hdr); }
  tableSetField(id, F.F_SET_ENTRY_KEY, 0);
  if (!t.has(F.F_CODE_KWONLYARGCOUNT)) tableSetField(id, F.F_CODE_KWONLYARGCOUNT, 60 + hdr);
  if (!freeThreaded) {
    // the default build's record carries tlbc_index and co_tlbc as 0: not fields of its structs
    t.offsets[F.F_IFRAME_TLBC_INDEX] = F.ABSENT;
    t.offsets[F.F_CODE_CO_TLBC] = F.ABSENT;
  }
  tableSetField(id, F.F_CHUNK_SIZE, 32);
  tableSetField(id, F.F_CHUNK_PREVIOUS, 0);
  tableSetField(id, F.F_CHUNK_CHUNK_SIZE, 8);
  tableSetField(id, F.F_CHUNK_TOP, 16);
  tableSetField(id, F.F_CHUNK_DATA, 24);
  setDebugOffsetsCaps(id, lastTrial ? (NEWEST_KNOWN << 16) | 0xf0 : hex, freeThreaded);
  const st = tableValidate(id);
  if (st != OK) return -st;
  return id;
}

/** Capabilities of a version whose table came from `_Py_DebugOffsets` (3.13+). */
function setDebugOffsetsCaps(id: i32, hex: u32, freeThreaded: bool): void {
  const k = minorKey(hex);
  tableSetCap(id, C.CAP_FRAME_MODEL, C.FRAME_MODEL_CURRENT_FRAME);
  tableSetCap(id, C.CAP_LINE_TABLE, 3); // the location table, unchanged 3.11 → 3.15
  tableSetCap(id, C.CAP_STRING_MODEL, C.STRING_MODEL_UNICODE);
  tableSetCap(id, C.CAP_RUNTIME_MODEL, C.RUNTIME_MODEL_RUNTIME);
  tableSetCap(id, C.CAP_GIL_MODEL, freeThreaded ? C.GIL_MODEL_NONE : C.GIL_MODEL_INTERP_GIL);
  tableSetCap(id, C.CAP_FRAME_SKIP, C.FRAME_SKIP_OWNER);
  // _PyStackRef tags from 3.14 (Include/internal/pycore_stackref.h): Py_TAG_BITS 3 (tagged ints),
  // but 1 in free-threaded 3.14 (deferred references only); 3 in every 3.15 build
  tableSetCap(id, C.CAP_POINTER_TAG_BITS, k >= 0x030f ? 3 : k == 0x030e ? (freeThreaded ? 1 : 3) : 0);
  tableSetCap(id, C.CAP_THREAD_NATIVE_ID, C.THREAD_NATIVE_ID_FIELD);
  tableSetCap(id, C.CAP_CHAIN_END, k >= 0x030f ? C.CHAIN_END_BASE_FRAME : C.CHAIN_END_NONE);
  tableSetCap(id, C.CAP_DICT_MODEL, C.DICT_MODEL_311);
  tableSetCap(id, C.CAP_MANAGED_DICT, freeThreaded ? C.MANAGED_DICT_INLINE_FT : C.MANAGED_DICT_INLINE_313);
  // free-threaded 3.14+: `interned` is a byte of its own, and threads may run their own bytecode copies
  const ft314 = freeThreaded && k >= 0x030e;
  tableSetCap(id, C.CAP_STRING_STATE, ft314 ? C.STRING_STATE_INTERNED_BYTE : C.STRING_STATE_PACKED);
  tableSetCap(id, C.CAP_BYTECODE, ft314 ? C.BYTECODE_THREAD_LOCAL : C.BYTECODE_SHARED);
  tableSetCap(id, C.CAP_LONG_MODEL, C.LONG_MODEL_LV_TAG);
}

// ---- asyncio (--async): the task graph's part of the record ----
// [minor key, task size, name, coro, fut_waiter, fut_state, gi_frame_state, gi_iframe, stack field]
// Values that no header declares (TaskObj lives in Modules/_asynciomodule.c): verified three ways
// per version (gcc probes of the struct, DWARF of the exact binaries, live reads), and on 3.14/3.15
// against the target's own .AsyncioDebug section, which then overrides them (docs/cpython-layouts.md §8).
const ASYNCIO_BY_MINOR: StaticArray<i32> = [
  0x030b, 176, 144, 136, 128, 88, 75, 80, 64,
  0x030c, 176, 144, 136, 128, 88, 67, 72, 64,
  0x030d, 144, 128, 120, 112, 96, 67, 72, 64,
  0x030e, 168, 136, 128, 120, 104, 67, 72, 64,
  0x030f, 168, 136, 128, 120, 104, 67, 72, 64,
];
const ASYNCIO_ROW: i32 = 9;
/** Bytes of `_Py_AsyncioModuleDebugOffsets` (3.14, 3.15): 13 u64. */
export const ASYNCIO_DEBUG_SIZE: i32 = 104;

/**
 * Completes table id with the task graph's fields and capabilities for a target of version hex
 * (fields a plugin table already has are kept), then takes what the target's `.AsyncioDebug`
 * section (copied to ptr, len bytes; len 0: none) says. OK; ERR_VERSION (detail 20) for a version
 * or build without a known task layout (before 3.11, free-threaded builds); ERR_TABLE for a
 * section whose values do not fit.
 */
export function registryAsyncio(id: i32, hex: u32, freeThreaded: bool, ptr: usize, len: i32): i32 {
  if (id < 0 || id >= tableCount()) return fail(ERR_TABLE, 0);
  const t = tableAt(id);
  const k = minorKey(hex);
  let row = -1;
  for (let i = 0; i < ASYNCIO_BY_MINOR.length; i += ASYNCIO_ROW) if (<u32>ASYNCIO_BY_MINOR[i] == k) row = i;
  // a newer 3.x than wspy knows: try the newest layout when the target publishes its section
  if (row < 0 && k > NEWEST_KNOWN && versionMajor(hex) == 3 && len >= ASYNCIO_DEBUG_SIZE) row = ASYNCIO_BY_MINOR.length - ASYNCIO_ROW;
  if (row < 0 || freeThreaded) return fail(ERR_VERSION, DETAIL_TASKS_NO_LAYOUT);
  const r = ASYNCIO_BY_MINOR;
  setIfAbsent(id, F.F_TASK_SIZE, r[row + 1]);
  setIfAbsent(id, F.F_TASK_NAME, r[row + 2]);
  setIfAbsent(id, F.F_TASK_CORO, r[row + 3]);
  setIfAbsent(id, F.F_TASK_FUT_WAITER, r[row + 4]);
  setIfAbsent(id, F.F_TASK_FUT_STATE, r[row + 5]);
  setIfAbsent(id, F.F_TASK_FUT_CALLBACK0, 24);
  setIfAbsent(id, F.F_TASK_FUT_CALLBACKS, 40);
  setIfAbsent(id, F.F_GEN_FRAME_STATE, r[row + 6]);
  setIfAbsent(id, F.F_GEN_IFRAME, r[row + 7]);
  // the part of a coroutine read: up to its frame's localsplus
  setIfAbsent(id, F.F_GEN_SIZE, r[row + 7] + t.offsets[F.F_IFRAME_LOCALSPLUS]);
  const modern = k >= 0x030e;
  setIfAbsent(id, modern ? F.F_IFRAME_STACKPOINTER : F.F_IFRAME_STACKTOP, r[row + 8]);
  setIfAbsent(id, F.F_WEAKREF_SIZE, 64); setIfAbsent(id, F.F_WEAKREF_WR_OBJECT, 16);
  setIfAbsent(id, F.F_METHOD_SIZE, 48); setIfAbsent(id, F.F_METHOD_IM_SELF, 24);
  setIfAbsent(id, F.F_CFUNCTION_SIZE, 56); setIfAbsent(id, F.F_CFUNCTION_M_SELF, 24);
  if (!t.capSet[C.CAP_TASK_REGISTRY]) {
    tableSetCap(id, C.CAP_TASK_REGISTRY, k == 0x030b ? C.TASK_REGISTRY_ALL_TASKS : k <= 0x030d ? C.TASK_REGISTRY_SCHEDULED : C.TASK_REGISTRY_THREAD_LIST);
  }
  if (!t.capSet[C.CAP_GEN_STATE]) tableSetCap(id, C.CAP_GEN_STATE, k <= 0x030c ? C.GEN_STATE_311 : k <= 0x030e ? C.GEN_STATE_313 : C.GEN_STATE_315);
  if (!t.capSet[C.CAP_AWAITED_SLOT]) {
    tableSetCap(id, C.CAP_AWAITED_SLOT, !modern ? C.AWAITED_SLOT_STACKTOP : k == 0x030e ? C.AWAITED_SLOT_STACKPOINTER_1 : C.AWAITED_SLOT_STACKPOINTER_2);
  }
  if (len >= ASYNCIO_DEBUG_SIZE) {
    // _Py_AsyncioModuleDebugOffsets: task_object {size, task_name, task_awaited_by, task_is_task,
    // task_awaited_by_is_set, task_coro, task_node}, interpreter_state {size, asyncio_tasks_head},
    // thread_state {size, asyncio_running_loop, asyncio_running_task, asyncio_tasks_head}
    const fields: StaticArray<i32> = [
      F.F_TASK_SIZE, F.F_TASK_NAME, F.F_TASK_AWAITED_BY, F.F_TASK_IS_TASK, F.F_TASK_AWAITED_BY_IS_SET, F.F_TASK_CORO, F.F_TASK_NODE,
      -1, F.F_INTERP_ASYNCIO_TASKS_HEAD, -1, -1, F.F_TSTATE_ASYNCIO_RUNNING_TASK, F.F_TSTATE_ASYNCIO_TASKS_HEAD,
    ];
    for (let i = 0; i < fields.length; i++) {
      const v = load<u64>(ptr + (<usize>i << 3));
      if (v > <u64>MAX_STRUCT_SIZE) return fail(ERR_TABLE, PROBLEM_BAD_VALUE * 1000 + (fields[i] >= 0 ? fields[i] : 0));
      if (fields[i] >= 0) tableSetField(id, fields[i], <i32>v);
    }
    // the section's struct sizes are the implementation structs' (_PyThreadStateImpl,
    // PyInterpreterState): the bounds its fields are checked against
    const interpSize = <i32>load<u64>(ptr, 56), tstateSize = <i32>load<u64>(ptr, 72);
    if (interpSize > t.offsets[F.F_INTERP_SIZE]) tableSetField(id, F.F_INTERP_SIZE, interpSize);
    if (tstateSize > t.offsets[F.F_TSTATE_SIZE]) tableSetField(id, F.F_TSTATE_SIZE, tstateSize);
  }
  if (tableAt(id).caps[C.CAP_TASK_REGISTRY] == C.TASK_REGISTRY_THREAD_LIST && !tableAt(id).has(F.F_TSTATE_ASYNCIO_TASKS_HEAD)) {
    // 3.14+ without the section: asyncio is not imported (its module carries the section)
    return fail(ERR_VERSION, DETAIL_TASKS_NOT_IMPORTED);
  }
  return tableValidate(id);
}

function setIfAbsent(id: i32, f: i32, v: i32): void {
  if (!tableAt(id).has(f)) tableSetField(id, f, v);
}
