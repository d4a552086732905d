// Bounded primitives over a target's Python objects: an object's type (name, flags, kind — numpy
// scalar types too), exact ints, float values, str, bytes and 2.7 unicode prefixes, numpy scalar
// values, container lengths, set keys, dict scans and lookups by str key for every dict layout,
// and instance attribute lookup (tp_dictoffset, managed dicts).
// Used off the sample path only (thread names, dump --locals): it may read more, never trap.
// Must not know: version numbers (the active table's offsets and capabilities say everything),
// what the values are for (thread-names.ts, locals.ts), how the host shows them.
// Source of truth: CPython Include/dictobject.h (2.7 PyDictEntry/ma_table); Objects/dict-common.h
// (3.6–3.10 PyDictKeysObject: dk_indices of 1/2/4/8 bytes, 24-byte entries, split ma_values);
// Include/internal/pycore_dict.h (3.11–3.15: dk_log2_index_bytes, dk_kind, 16-byte unicode
// entries, struct _dictvalues); Include/internal/pycore_object.h (managed dicts: 3.11
// _PyObject_ValuesPointer = obj-32 / _PyObject_ManagedDictPointer = obj-24; 3.12 PyDictOrValues
// at obj-24: a dict, or values - 1 (odd); 3.13–3.15 PyManagedDictPointer at obj-24, _PyObject_InlineValues
// = obj + tp_basicsize with keys in ht_cached_keys); Include/cpython/longintrepr.h (30-bit
// digits; 3.12+ lv_tag); Include/object.h (tp_flags bits); docs/cpython-layouts.md
// §4.5, §6, §7.6; Include/setobject.h (setentry {hash, key} in 2.7, {key, hash} in 3.x; deleted
// slots hold the module's dummy key); 2.7 Include/unicodeobject.h (PyUnicodeObject {length, str});
// numpy/core/include/numpy/arrayscalars.h (the value right after PyObject_HEAD). Each layout was checked against the real 2.7–3.15 interpreters
// (test/thread-names.test.mjs, test/locals.test.mjs).

import { readRemote, batchReset, batchAdd, batchRun } from "../io";
import { OK, ERR_READ, ERR_CHAIN, ERR_LIMIT, ERR_TABLE, ERR_NO_RUNTIME, ERR_GONE, ERR_PERM, fail, lastErrorCode } from "../status";
import * as F from "../python/fields";
import * as C from "../python/capabilities";
import { PROBLEM_MISSING } from "../python/tables";
import { internString } from "../aggregate/intern";
import { fitsIn } from "../util/bounds";
import { O, activeTableId, activeGeneration, dictModel, managedDict, longModel, stringModel, tagBits } from "../python/active";

// ---- bounds ----
/** Most entries a dict scan visits (2.7: ma_mask + 1; 3.x: dk_nentries). */
export const MAX_DICT_ENTRIES: i32 = 1 << 20;
/** Entries read per chunk; every candidate key of a chunk is read in one batch. */
export const SCAN_CHUNK: i32 = 1024;
/** Longest str key a lookup compares (all lookups here use short ASCII names). */
export const MAX_KEY_LEN: i32 = 64;
/** Most 30-bit digits an int may have to be decoded exactly (1200 bits, 362 decimal digits). */
export const MAX_INT_DIGITS: i32 = 40;
/** Longest type name read (tp_name, a C string). */
const MAX_TYPE_NAME: i32 = 128;
/** Distinct types remembered during one pass (objectsBegin clears them). */
const TYPE_CACHE: i32 = 128;
const PAGE: u64 = 4096;

// ---- CPython constants, each meaningful only under the capability that names it ----
/** Py_TPFLAGS_HEAPTYPE, bit 9 in every version (Include/object.h). */
const TPFLAGS_HEAPTYPE: u64 = 1 << 9;
/** Py_TPFLAGS_MANAGED_DICT, bit 4 (3.11+, managed_dict != none). */
const TPFLAGS_MANAGED_DICT: u64 = 1 << 4;
/** Py_TPFLAGS_INLINE_VALUES, bit 2 (3.13+, managed_dict == inline_313). */
const TPFLAGS_INLINE_VALUES: u64 = 1 << 2;
/** MANAGED_DICT_OFFSET: -3 * sizeof(PyObject *) in default (GIL) builds, 3.11–3.15. */
const MANAGED_DICT_OFFSET: u64 = 24;
/** MANAGED_DICT_OFFSET in free-threaded builds (no PyGC_Head before objects): -1 * sizeof(PyObject *). */
const MANAGED_DICT_OFFSET_FT: u64 = 8;
/** 3.11 _PyObject_ValuesPointer: -4 * sizeof(PyObject *). */
const MANAGED_VALUES_OFFSET_311: u64 = 32;
/** PYLONG_BITS_IN_DIGIT on 64-bit builds: sys.int_info.bits_per_digit = 30 on all 12 interpreters. */
const LONG_SHIFT: u64 = 30;
const LONG_MASK: u64 = (1 << 30) - 1;
/** lv_tag (3.12+): the digit count above NON_SIZE_BITS; sign 0 positive, 1 zero, 2 negative. */
const LV_NON_SIZE_BITS: u64 = 3;
/** Entry layouts: PyDictEntry (2.7) / PyDictKeyEntry (3.6+) {hash, key, value}; 3.11+
 *  PyDictUnicodeEntry {key, value} when dk_kind != DICT_KEYS_GENERAL (0). */
const ENTRY_GENERAL: i32 = 24;
const ENTRY_UNICODE: i32 = 16;

// ---- object kinds, from a static (non-heap) type's tp_name ----
export const KIND_OTHER = 0;
export const KIND_INT = 1;      // int: PyIntObject under long_model int27, else PyLongObject
export const KIND_LONG = 2;     // long (2.7): PyLongObject with ob_size
export const KIND_BOOL = 3;
export const KIND_FLOAT = 4;
export const KIND_NONE = 5;
export const KIND_STR = 6;      // PEP 393 str (string_model unicode)
export const KIND_PYSTRING = 7; // 2.7 str (string_model pystring)
export const KIND_BYTES = 8;    // 3.x bytes
export const KIND_UNICODE = 9;  // 2.7 unicode (its Py_UNICODE width is not in the table)
export const KIND_LIST = 10;
export const KIND_TUPLE = 11;
export const KIND_DICT = 12;
export const KIND_SET = 13;     // set
export const KIND_CELL = 14;    // cell (a closure's variable): PyCellObject {PyObject_HEAD; ob_ref}
export const KIND_FROZENSET = 15;
export const KIND_SET_DUMMY = 16; // 3.x: the key of a deleted set entry ("<dummy key> type")
// numpy scalars (numpy/core/include/numpy/arrayscalars.h: Py{Bool,Byte,…,Double}ScalarObject
// = PyObject_HEAD then the C value; typeWidth tells its bytes)
export const KIND_NP_BOOL = 17;
export const KIND_NP_INT = 18;
export const KIND_NP_UINT = 19;
export const KIND_NP_FLOAT = 20;

// ---- derived from the active table (python/active.ts), recomputed when it changes ----
let configured: i32 = -1;
let typeWindow: i32 = 0;

// ---- local buffers ----
const HDR_MAX: i32 = 512;
const HDR: usize = memory.data(HDR_MAX, 16);
const WORDS: usize = memory.data(16, 8);
const TYPE_BUF: usize = memory.data(512, 16);
const NAME_BUF: usize = memory.data(MAX_TYPE_NAME + 8, 16);
const ENTRY_BUF: usize = memory.data(SCAN_CHUNK * ENTRY_GENERAL, 16);
const VALUE_BUF: usize = memory.data(SCAN_CHUNK * 8, 16);
const KEY_SLOT: i32 = 128;
const KEY_BUF: usize = memory.data(SCAN_CHUNK * KEY_SLOT, 16);
const LOOKUP_KEY: usize = memory.data(MAX_KEY_LEN, 16);

/** Prepares a pass with the walk's table: copies it when it changed, forgets cached types. */
export function objectsBegin(): i32 {
  if (activeTableId < 0) return fail(ERR_NO_RUNTIME, 10);
  if (activeGeneration != configured) {
    let w = 0;
    const tf: StaticArray<i32> = [F.F_TYPE_TP_NAME, F.F_TYPE_TP_FLAGS, F.F_TYPE_TP_BASICSIZE, F.F_TYPE_TP_DICTOFFSET];
    for (let i = 0; i < tf.length; i++) if (O[tf[i]] >= 0 && O[tf[i]] + 8 > w) w = O[tf[i]] + 8; // ≤ MAX_STRUCT_SIZE + 8: no wrap
    typeWindow = w;
    configured = activeGeneration;
  }
  typeCount = 0;
  const base: StaticArray<i32> = [F.F_PYOBJECT_OB_TYPE, F.F_TYPE_TP_NAME, F.F_TYPE_TP_FLAGS];
  for (let i = 0; i < base.length; i++) if (O[base[i]] < 0) return fail(ERR_TABLE, PROBLEM_MISSING * 1000 + base[i]);
  if (typeWindow > 512) return fail(ERR_TABLE, 20);
  return OK;
}

/** Is the dict model of the active table known and its fields present? OK or ERR_TABLE. */
export function objectsCheckDicts(): i32 {
  let need: StaticArray<i32>;
  if (dictModel == C.DICT_MODEL_27) need = [F.F_DICT_SIZE, F.F_DICT_MA_MASK, F.F_DICT_MA_TABLE];
  else if (dictModel == C.DICT_MODEL_36) need = [F.F_DICT_SIZE, F.F_DICT_MA_KEYS, F.F_DICT_MA_VALUES, F.F_DICTKEYS_DK_SIZE, F.F_DICTKEYS_DK_NENTRIES, F.F_DICTKEYS_DK_INDICES];
  else if (dictModel == C.DICT_MODEL_311) need = [F.F_DICT_SIZE, F.F_DICT_MA_KEYS, F.F_DICT_MA_VALUES, F.F_DICTKEYS_DK_LOG2_SIZE, F.F_DICTKEYS_DK_LOG2_INDEX_BYTES, F.F_DICTKEYS_DK_KIND, F.F_DICTKEYS_DK_NENTRIES, F.F_DICTKEYS_DK_INDICES];
  else return fail(ERR_TABLE, PROBLEM_MISSING * 1000 + 900 + C.CAP_DICT_MODEL);
  for (let i = 0; i < need.length; i++) if (O[need[i]] < 0) return fail(ERR_TABLE, PROBLEM_MISSING * 1000 + need[i]);
  // headers are read into HDR: a (plugin) table with larger ones is refused, not overrun; every
  // field loaded from HDR lies inside what was read (checked in 64 bits: no sum wraps)
  if (O[F.F_DICT_SIZE] > HDR_MAX || O[F.F_DICTKEYS_DK_INDICES] > HDR_MAX) return fail(ERR_TABLE, 21);
  const inDict: StaticArray<i32> = [F.F_DICT_MA_MASK, F.F_DICT_MA_TABLE, F.F_DICT_MA_KEYS, F.F_DICT_MA_VALUES];
  for (let i = 0; i < inDict.length; i++) if (O[inDict[i]] >= 0 && !fitsIn(O[inDict[i]], 8, O[F.F_DICT_SIZE])) return fail(ERR_TABLE, 21);
  const inKeys: StaticArray<i32> = [F.F_DICTKEYS_DK_NENTRIES, F.F_DICTKEYS_DK_SIZE];
  for (let i = 0; i < inKeys.length; i++) if (O[inKeys[i]] >= 0 && !fitsIn(O[inKeys[i]], 8, O[F.F_DICTKEYS_DK_INDICES])) return fail(ERR_TABLE, 21);
  const inKeys1: StaticArray<i32> = [F.F_DICTKEYS_DK_LOG2_INDEX_BYTES, F.F_DICTKEYS_DK_KIND];
  for (let i = 0; i < inKeys1.length; i++) if (O[inKeys1[i]] >= 0 && !fitsIn(O[inKeys1[i]], 1, O[F.F_DICTKEYS_DK_INDICES])) return fail(ERR_TABLE, 21);
  return OK;
}

/** An offset of the active table (-1 when absent). */
export function objField(f: i32): i32 { return O[f]; }
export function objTagBits(): i32 { return tagBits; }
export function objStringModel(): i32 { return stringModel; }

// ---- reads ----

/** Reads want bytes at addr; when that crosses into an unreadable page, the part up to the page
 *  end (at least need bytes). Returns the bytes read or -status. */
function readClipped(addr: u64, dst: usize, want: i32, need: i32): i32 {
  if (readRemote(addr, dst, want) == OK) return want;
  const toPage = <i32>(PAGE - (addr & (PAGE - 1)));
  if (toPage < want && toPage >= need && readRemote(addr, dst, toPage) == OK) return toPage;
  return -lastErrorCode();
}

let wordSt: i32 = OK;
/** One u64 at addr (0 with objWordStatus() != OK on failure). */
export function objReadWord(addr: u64): u64 {
  if (addr == 0) { wordSt = fail(ERR_CHAIN, 20); return 0; }
  wordSt = readRemote(addr, WORDS, 8);
  return wordSt == OK ? load<u64>(WORDS) : 0;
}
export function objWordStatus(): i32 { return wordSt; }

// ---- types ----
const tcAddr = new StaticArray<u64>(TYPE_CACHE);
const tcKind = new StaticArray<i32>(TYPE_CACHE);
const tcFlags = new StaticArray<u64>(TYPE_CACHE);
const tcBasic = new StaticArray<i64>(TYPE_CACHE);
const tcDictOff = new StaticArray<i64>(TYPE_CACHE);
const tcName = new StaticArray<i32>(TYPE_CACHE);
const tcWidth = new StaticArray<i32>(TYPE_CACHE);
let typeCount: i32 = 0;
let nameWidth: i32 = 0;

@inline function nameIs(len: i32, s: string): bool {
  if (len != s.length) return false;
  for (let i = 0; i < len; i++) if (<i32>load<u8>(NAME_BUF + <usize>i) != s.charCodeAt(i)) return false;
  return true;
}

function kindOfName(len: i32): i32 {
  if (nameIs(len, "int")) return KIND_INT;
  if (nameIs(len, "long")) return KIND_LONG;
  if (nameIs(len, "bool")) return KIND_BOOL;
  if (nameIs(len, "float")) return KIND_FLOAT;
  if (nameIs(len, "NoneType")) return KIND_NONE;
  if (nameIs(len, "str")) return stringModel == C.STRING_MODEL_PYSTRING ? KIND_PYSTRING : KIND_STR;
  if (nameIs(len, "bytes")) return stringModel == C.STRING_MODEL_PYSTRING ? KIND_PYSTRING : KIND_BYTES;
  if (nameIs(len, "unicode")) return KIND_UNICODE;
  if (nameIs(len, "list")) return KIND_LIST;
  if (nameIs(len, "tuple")) return KIND_TUPLE;
  if (nameIs(len, "dict")) return KIND_DICT;
  if (nameIs(len, "set")) return KIND_SET;
  if (nameIs(len, "frozenset")) return KIND_FROZENSET;
  if (nameIs(len, "cell")) return KIND_CELL;
  if (nameIs(len, "<dummy key> type")) return KIND_SET_DUMMY;
  return numpyKind(len);
}

/** numpy.bool_ (numpy 1) / numpy.bool (2), numpy.intN, numpy.uintN, numpy.floatN: the kind,
 *  with the value's width in nameWidth. */
function numpyKind(len: i32): i32 {
  if (len < 8 || len > 14 || !hasPrefix("numpy.", 0, len)) return KIND_OTHER;
  if (nameIs(len, "numpy.bool_") || nameIs(len, "numpy.bool")) { nameWidth = 1; return KIND_NP_BOOL; }
  let kind = KIND_OTHER, pos = 6;
  if (hasPrefix("int", pos, len)) { kind = KIND_NP_INT; pos += 3; }
  else if (hasPrefix("uint", pos, len)) { kind = KIND_NP_UINT; pos += 4; }
  else if (hasPrefix("float", pos, len)) { kind = KIND_NP_FLOAT; pos += 5; }
  else return KIND_OTHER;
  let bits = 0;
  for (let i = pos; i < len; i++) {
    const c = <i32>load<u8>(NAME_BUF + <usize>i);
    if (c < 48 || c > 57 || bits > 100) return KIND_OTHER;
    bits = bits * 10 + c - 48;
  }
  if (bits != 8 && bits != 16 && bits != 32 && bits != 64) return KIND_OTHER;
  if (kind == KIND_NP_FLOAT && bits == 8) return KIND_OTHER;
  nameWidth = bits >> 3;
  return kind;
}
function hasPrefix(s: string, at: i32, len: i32): bool {
  if (at + s.length > len) return false;
  for (let i = 0; i < s.length; i++) if (<i32>load<u8>(NAME_BUF + <usize>(at + i)) != s.charCodeAt(i)) return false;
  return true;
}

/** Reads a NUL-terminated C string of at most MAX_TYPE_NAME bytes at addr into NAME_BUF. */
function readCString(addr: u64): i32 {
  let got = 0;
  while (got < MAX_TYPE_NAME) {
    const a = addr + <u64>got;
    let n = <i32>(PAGE - (a & (PAGE - 1)));
    if (n > MAX_TYPE_NAME - got) n = MAX_TYPE_NAME - got;
    if (readRemote(a, NAME_BUF + <usize>got, n) != OK) return -lastErrorCode();
    for (let i = 0; i < n; i++) if (load<u8>(NAME_BUF + <usize>(got + i)) == 0) return got + i;
    got += n;
  }
  return got; // cut
}

/** The cache slot of the type object at typeAddr (read on first use), or -1 (status via lastError). */
export function typeSlot(typeAddr: u64): i32 {
  for (let i = 0; i < typeCount; i++) if (unchecked(tcAddr[i]) == typeAddr) return i;
  if (typeAddr == 0) { fail(ERR_CHAIN, 21); return -1; }
  if (readRemote(typeAddr, TYPE_BUF, typeWindow) != OK) return -1;
  const nameAddr = load<u64>(TYPE_BUF + <usize>O[F.F_TYPE_TP_NAME]);
  const flags = load<u64>(TYPE_BUF + <usize>O[F.F_TYPE_TP_FLAGS]);
  const basic = O[F.F_TYPE_TP_BASICSIZE] >= 0 ? load<i64>(TYPE_BUF + <usize>O[F.F_TYPE_TP_BASICSIZE]) : -1;
  const dictOff = O[F.F_TYPE_TP_DICTOFFSET] >= 0 ? load<i64>(TYPE_BUF + <usize>O[F.F_TYPE_TP_DICTOFFSET]) : 0;
  const len = readCString(nameAddr);
  if (len < 0) return -1;
  nameWidth = 0;
  const kind = (flags & TPFLAGS_HEAPTYPE) != 0 ? KIND_OTHER : kindOfName(len);
  const nameId = internString(NAME_BUF, len);
  let slot = typeCount;
  if (slot >= TYPE_CACHE) slot = TYPE_CACHE - 1; // full: reuse the last slot
  else typeCount++;
  unchecked(tcAddr[slot] = typeAddr);
  unchecked(tcKind[slot] = kind);
  unchecked(tcFlags[slot] = flags);
  unchecked(tcBasic[slot] = basic);
  unchecked(tcDictOff[slot] = dictOff);
  unchecked(tcName[slot] = nameId);
  unchecked(tcWidth[slot] = nameWidth);
  return slot;
}
export function typeKind(slot: i32): i32 { return tcKind[slot]; }
/** Bytes of a numpy scalar type's value (0 for other types). */
export function typeWidth(slot: i32): i32 { return tcWidth[slot]; }
export function typeNameId(slot: i32): i32 { return tcName[slot]; }

/** The type slot of the object at obj, or -1. */
export function objectTypeSlot(obj: u64): i32 {
  const t = objReadWord(obj + <u64>O[F.F_PYOBJECT_OB_TYPE]);
  if (wordSt != OK) return -1;
  return typeSlot(t);
}

// ---- ints ----
const digits = new StaticArray<u32>(MAX_INT_DIGITS + 4);
let digitCount: i32 = 0;
let intNeg: bool = false;
let intTotalDigits: i64 = 0;

/** Digits (base 2^30, little-endian) of the last readInt. */
export function intDigitCount(): i32 { return digitCount; }
export function intDigit(i: i32): u32 { return digits[i]; }
export function intNegative(): bool { return intNeg; }
/** How many 30-bit digits the int had (may exceed MAX_INT_DIGITS: then only a count is known). */
export function intTotalDigitCount(): i64 { return intTotalDigits; }

/** The magnitude of the last readInt when it fits 64 bits. */
export function intFitsU64(): bool {
  if (digitCount > 3) return false;
  if (digitCount == 3 && digits[2] > 0xf) return false; // 60 + 4 bits
  return true;
}
export function intU64(): u64 {
  let v: u64 = 0;
  for (let i = digitCount - 1; i >= 0; i--) v = (v << LONG_SHIFT) | <u64>digits[i];
  return v;
}

function setSmall(v: i64): void {
  intNeg = v < 0;
  let m: u64 = intNeg ? <u64>(-v) : <u64>v; // -i64.MIN wraps to 2^63, still right as u64
  digitCount = 0;
  while (m != 0 && digitCount < 3) {
    digits[digitCount++] = <u32>(m & LONG_MASK);
    m >>= LONG_SHIFT;
  }
  intTotalDigits = digitCount;
}

/**
 * Reads the int (or bool, or 2.7 long) at obj of the given kind into digits and sign.
 * OK; ERR_LIMIT when it has more than MAX_INT_DIGITS digits (intTotalDigitCount holds how
 * many); or a read status.
 */
export function readInt(obj: u64, kind: i32): i32 {
  digitCount = 0;
  intNeg = false;
  intTotalDigits = 0;
  if (longModel == C.LONG_MODEL_INT27 && kind != KIND_LONG) {
    // PyIntObject (int, bool): a C long
    if (O[F.F_INT_OB_IVAL] < 0) return fail(ERR_TABLE, PROBLEM_MISSING * 1000 + F.F_INT_OB_IVAL);
    if (readRemote(obj + <u64>O[F.F_INT_OB_IVAL], WORDS, 8) != OK) return lastErrorCode();
    setSmall(load<i64>(WORDS));
    return OK;
  }
  const digitOff = O[F.F_LONG_OB_DIGIT];
  const sizeField = longModel == C.LONG_MODEL_LV_TAG ? F.F_LONG_LV_TAG : F.F_LONG_OB_SIZE;
  if (digitOff < 0 || O[sizeField] < 0) return fail(ERR_TABLE, PROBLEM_MISSING * 1000 + sizeField);
  if (!fitsIn(digitOff, MAX_INT_DIGITS * 4, HDR_MAX) || !fitsIn(O[sizeField], 8, digitOff)) return fail(ERR_TABLE, 22);
  // the header and the first 3 digits (every 64-bit value) in one read when possible
  const got = readClipped(obj, HDR, digitOff + 12, digitOff);
  if (got < 0) return -got;
  let n: i64;
  if (longModel == C.LONG_MODEL_LV_TAG) {
    const tag = load<u64>(HDR + <usize>O[F.F_LONG_LV_TAG]);
    n = <i64>(tag >> LV_NON_SIZE_BITS);
    intNeg = (tag & 3) == 2;
  } else {
    const size = load<i64>(HDR + <usize>O[F.F_LONG_OB_SIZE]);
    intNeg = size < 0;
    n = size < 0 ? -size : size;
  }
  intTotalDigits = n;
  if (n < 0 || n > <i64>MAX_INT_DIGITS) return fail(ERR_LIMIT, 20, obj);
  const cnt = <i32>n;
  const inHdr = (got - digitOff) >> 2;
  if (cnt > inHdr) {
    if (readRemote(obj + <u64>digitOff, HDR + <usize>digitOff, cnt * 4) != OK) return lastErrorCode();
  }
  for (let i = 0; i < cnt; i++) unchecked(digits[i] = load<u32>(HDR + <usize>(digitOff + i * 4)) & <u32>LONG_MASK);
  digitCount = cnt;
  while (digitCount > 0 && digits[digitCount - 1] == 0) digitCount--;
  if (digitCount == 0) intNeg = false;
  return OK;
}

/** The object in the cell at obj (PyCellObject.ob_ref, right after the object header), 0 when
 *  empty or unreadable (objWordStatus tells). */
export function readCellContents(obj: u64): u64 {
  if (O[F.F_PYOBJECT_SIZE] < 0) { wordSt = fail(ERR_TABLE, PROBLEM_MISSING * 1000 + F.F_PYOBJECT_SIZE); return 0; }
  return objReadWord(obj + <u64>O[F.F_PYOBJECT_SIZE]);
}

/** The float value at obj (NaN with a status via lastError on failure: check readFloatStatus). */
let floatSt: i32 = OK;
export function readFloat(obj: u64): f64 {
  if (O[F.F_FLOAT_OB_FVAL] < 0) { floatSt = fail(ERR_TABLE, PROBLEM_MISSING * 1000 + F.F_FLOAT_OB_FVAL); return NaN; }
  floatSt = readRemote(obj + <u64>O[F.F_FLOAT_OB_FVAL], WORDS, 8);
  return floatSt == OK ? load<f64>(WORDS) : NaN;
}
export function readFloatStatus(): i32 { return floatSt; }

/** len() of a list, tuple, dict or set at obj, or -1 (status via lastError). */
export function readLength(obj: u64, kind: i32): i64 {
  let f = -1;
  if (kind == KIND_LIST) f = F.F_LIST_OB_SIZE;
  else if (kind == KIND_TUPLE) f = F.F_TUPLE_OB_SIZE;
  else if (kind == KIND_DICT) f = F.F_DICT_MA_USED;
  else if (kind == KIND_SET || kind == KIND_FROZENSET) f = F.F_SET_USED;
  if (f < 0 || O[f] < 0) { fail(ERR_TABLE, PROBLEM_MISSING * 1000 + (f < 0 ? 0 : f)); return -1; }
  if (readRemote(obj + <u64>O[f], WORDS, 8) != OK) return -1;
  const n = load<i64>(WORDS);
  if (n < 0) { fail(ERR_CHAIN, 22, obj); return -1; }
  return n;
}

// ---- str and bytes ----
let strFullLen: i64 = 0;
/** The full length (code points, or bytes) of the last str or byte string read. */
export function stringFullLength(): i64 { return strFullLen; }

/**
 * Reads up to maxChars code points of the PEP 393 str at obj into out (u32 each).
 * Returns how many, or -status. stringFullLength() tells the str's own length.
 */
export function readStrCodePoints(obj: u64, maxChars: i32, out: usize): i32 {
  strFullLen = 0;
  const oState = O[F.F_UNICODE_STATE], oLen = O[F.F_UNICODE_LENGTH], ascii = O[F.F_UNICODE_ASCIIOBJECT_SIZE],
    compactSize = O[F.F_UNICODE_COMPACTOBJECT_SIZE], oData = O[F.F_UNICODE_DATA];
  if (oState < 0 || oLen < 0 || ascii < 0 || compactSize < 0 || oData < 0) return -fail(ERR_TABLE, PROBLEM_MISSING * 1000 + F.F_UNICODE_STATE);
  if (!fitsIn(oData, 8, HDR_MAX) || compactSize > HDR_MAX) return -fail(ERR_TABLE, 23);
  const hdr = compactSize > oData + 8 ? compactSize : oData + 8;
  if (!fitsIn(oState, 4, hdr) || !fitsIn(oLen, 8, hdr)) return -fail(ERR_TABLE, 23);
  const got = readClipped(obj, HDR, hdr, ascii);
  if (got < 0) return got;
  const state = load<u32>(HDR + <usize>oState);
  const length = load<i64>(HDR + <usize>oLen);
  const kind = <i32>((state >> 2) & 7);
  const compact = (state >> 5) & 1;
  const isAscii = (state >> 6) & 1;
  if (length < 0 || (kind != 1 && kind != 2 && kind != 4)) return -fail(ERR_CHAIN, 23, obj);
  strFullLen = length;
  const n = length > <i64>maxChars ? maxChars : <i32>length;
  let data: u64;
  if (compact) data = obj + <u64>(isAscii ? ascii : compactSize);
  else {
    if (got < oData + 8) return -fail(ERR_READ, 24, obj);
    data = load<u64>(HDR + <usize>oData);
    if (data == 0) return -fail(ERR_CHAIN, 24, obj);
  }
  if (n == 0) return 0;
  // raw units at the end of out's region, widened in place from the front
  const raw = out + <usize>(n * 4 - n * kind);
  if (readRemote(data, raw, n * kind) != OK) return -lastErrorCode();
  for (let i = 0; i < n; i++) {
    let cp: u32;
    if (kind == 1) cp = <u32>load<u8>(raw + <usize>i);
    else if (kind == 2) cp = <u32>load<u16>(raw + (<usize>i << 1));
    else cp = load<u32>(raw + (<usize>i << 2));
    store<u32>(out + (<usize>i << 2), cp);
  }
  return n;
}

/**
 * Reads up to maxBytes bytes of the bytes object (3.x) or str (2.7, kind KIND_PYSTRING) at obj
 * into out. Returns how many, or -status; stringFullLength() tells its own length.
 */
export function readByteString(obj: u64, kind: i32, maxBytes: i32, out: usize): i32 {
  strFullLen = 0;
  const fSize = kind == KIND_PYSTRING ? F.F_STRING_OB_SIZE : F.F_BYTES_OB_SIZE;
  const fSval = kind == KIND_PYSTRING ? F.F_STRING_OB_SVAL : F.F_BYTES_OB_SVAL;
  if (O[fSize] < 0 || O[fSval] < 0) return -fail(ERR_TABLE, PROBLEM_MISSING * 1000 + fSize);
  if (readRemote(obj + <u64>O[fSize], WORDS, 8) != OK) return -lastErrorCode();
  const size = load<i64>(WORDS);
  if (size < 0) return -fail(ERR_CHAIN, 25, obj);
  strFullLen = size;
  const n = size > <i64>maxBytes ? maxBytes : <i32>size;
  if (n > 0 && readRemote(obj + <u64>O[fSval], out, n) != OK) return -lastErrorCode();
  return n;
}

/** Reads the w bytes (1, 2, 4 or 8) of a numpy scalar's value, right after the object header, as
 *  a u64 (0 with objWordStatus() != OK on failure). */
export function readScalarBits(obj: u64, w: i32): u64 {
  if (O[F.F_PYOBJECT_SIZE] < 0) { wordSt = fail(ERR_TABLE, PROBLEM_MISSING * 1000 + F.F_PYOBJECT_SIZE); return 0; }
  wordSt = readRemote(obj + <u64>O[F.F_PYOBJECT_SIZE], WORDS, w);
  if (wordSt != OK) return 0;
  if (w == 1) return <u64>load<u8>(WORDS);
  if (w == 2) return <u64>load<u16>(WORDS);
  if (w == 4) return <u64>load<u32>(WORDS);
  return load<u64>(WORDS);
}

/**
 * Reads up to maxChars code units of the 2.7 unicode object at obj (Py_UNICODE: 2 or 4 bytes by
 * build, the table's py_unicode_size) into out (u32 each). Returns how many, or -status;
 * stringFullLength() tells its own length.
 */
export function readUnicode27(obj: u64, maxChars: i32, out: usize): i32 {
  strFullLen = 0;
  const oLen = O[F.F_UNICODE_LENGTH], oStr = O[F.F_UNICODE_DATA], w = O[F.F_UNICODE_PY_UNICODE_SIZE];
  if (oLen < 0 || oStr < 0 || (w != 2 && w != 4)) return -fail(ERR_TABLE, PROBLEM_MISSING * 1000 + F.F_UNICODE_PY_UNICODE_SIZE);
  if (readRemote(obj + <u64>oLen, WORDS, 8) != OK) return -lastErrorCode();
  const length = load<i64>(WORDS);
  if (readRemote(obj + <u64>oStr, WORDS, 8) != OK) return -lastErrorCode();
  const data = load<u64>(WORDS);
  if (length < 0) return -fail(ERR_CHAIN, 34, obj);
  strFullLen = length;
  const n = length > <i64>maxChars ? maxChars : <i32>length;
  if (n == 0) return 0;
  if (data == 0) return -fail(ERR_CHAIN, 35, obj);
  const raw = out + <usize>(n * 4 - n * w);
  if (readRemote(data, raw, n * w) != OK) return -lastErrorCode();
  for (let i = 0; i < n; i++) {
    const cu = w == 2 ? <u32>load<u16>(raw + (<usize>i << 1)) : load<u32>(raw + (<usize>i << 2));
    store<u32>(out + (<usize>i << 2), cu);
  }
  return n;
}

// ---- sets ----
/** setentry's size: {hash, key} (2.7) or {key, hash} (3.x), 16 bytes on 64-bit builds. */
const SET_ENTRY: i32 = 16;
const SET_CHUNK: i32 = 256;
const SET_BUF: usize = memory.data(SET_CHUNK * SET_ENTRY, 16);
const SET_TYPES: usize = memory.data(SET_CHUNK * 8, 16);
/** Most table slots a set scan visits. */
export const MAX_SET_SLOTS: i32 = 1 << 20;
let setMore: bool = false;
/** Did the last readSetKeys stop at max with keys left? */
export function setHasMore(): bool { return setMore; }

/**
 * The keys of the set at obj, in table order (the order repr shows), up to max, into out (u64
 * each): empty and deleted slots are skipped (their key is the set module's dummy: 3.x an object
 * of type "<dummy key> type", 2.7 the str "<dummy key>"). Returns how many, or -status.
 */
export function readSetKeys(obj: u64, max: i32, out: usize): i32 {
  setMore = false;
  const oMask = O[F.F_SET_MASK], oTable = O[F.F_SET_TABLE], oKey = O[F.F_SET_ENTRY_KEY], oUsed = O[F.F_SET_USED];
  if (oMask < 0 || oTable < 0 || oKey < 0 || oUsed < 0 || oKey + 8 > SET_ENTRY) return -fail(ERR_TABLE, PROBLEM_MISSING * 1000 + F.F_SET_TABLE);
  if (readRemote(obj + <u64>oUsed, WORDS, 8) != OK) return -lastErrorCode();
  const used = load<i64>(WORDS);
  if (readRemote(obj + <u64>oMask, WORDS, 8) != OK) return -lastErrorCode();
  const mask = load<i64>(WORDS);
  if (readRemote(obj + <u64>oTable, WORDS, 8) != OK) return -lastErrorCode();
  const table = load<u64>(WORDS);
  if (mask < 0 || mask >= <i64>MAX_SET_SLOTS || ((mask + 1) & mask) != 0 || table == 0 || used < 0) return -fail(ERR_CHAIN, 36, obj);
  const slots = <i32>mask + 1;
  let got = 0;
  for (let pos = 0; pos < slots && <i64>got < used; pos += SET_CHUNK) {
    const n = slots - pos > SET_CHUNK ? SET_CHUNK : slots - pos;
    if (readRemote(table + <u64>pos * SET_ENTRY, SET_BUF, n * SET_ENTRY) != OK) return -lastErrorCode();
    // 3.x: the keys' types in one batched read (the deleted-entry dummy is told by its type)
    const typed = stringModel != C.STRING_MODEL_PYSTRING;
    if (typed) {
      batchReset();
      let queued = 0;
      for (let i = 0; i < n; i++) {
        const key = load<u64>(SET_BUF + <usize>(i * SET_ENTRY + oKey));
        store<u64>(SET_TYPES + (<usize>i << 3), 0);
        if (key == 0) continue;
        batchAdd(key + <u64>O[F.F_PYOBJECT_OB_TYPE], 8, SET_TYPES + (<usize>i << 3));
        queued++;
      }
      const done = batchRun();
      if (done < 0) return -fail(-done, 0);
      if (done < queued) { // an unreadable key: types one by one from it on (as before)
        for (let i = 0; i < n; i++) store<u64>(SET_TYPES + (<usize>i << 3), 0);
      }
    }
    for (let i = 0; i < n; i++) {
      const key = load<u64>(SET_BUF + <usize>(i * SET_ENTRY + oKey));
      if (key == 0) continue;
      const keyType = typed ? load<u64>(SET_TYPES + (<usize>i << 3)) : 0;
      if (keyType != 0) {
        const ts = typeSlot(keyType);
        if (ts >= 0 && tcKind[ts] == KIND_SET_DUMMY) continue;
      } else if (isSetDummy(key)) continue;
      if (got >= max) { setMore = true; return got; }
      store<u64>(out + (<usize>got << 3), key);
      got++;
    }
  }
  return got;
}

const DUMMY27 = "<dummy key>";
function isSetDummy(key: u64): bool {
  const slot = objectTypeSlot(key);
  if (slot < 0) return false;
  const kind = tcKind[slot];
  if (kind == KIND_SET_DUMMY) return true;
  if (kind != KIND_PYSTRING || stringModel != C.STRING_MODEL_PYSTRING) return false;
  const oSize = O[F.F_STRING_OB_SIZE], oSval = O[F.F_STRING_OB_SVAL];
  if (oSize < 0 || oSval < 0 || oSval + DUMMY27.length > HDR_MAX) return false;
  if (readRemote(key, HDR, oSval + DUMMY27.length) != OK) return false;
  if (load<i64>(HDR + <usize>oSize) != <i64>DUMMY27.length) return false;
  for (let i = 0; i < DUMMY27.length; i++) if (<i32>load<u8>(HDR + <usize>(oSval + i)) != DUMMY27.charCodeAt(i)) return false;
  return true;
}

// ---- dicts ----
// A scan visits a dict's entries in chunks: scanDict / scanKeys set it up, scanNext reads the
// next chunk and lists the live (key, value) pairs of it.
let scanEntries: u64 = 0;
let scanCount: i32 = 0;
let scanPos: i32 = 0;
let scanEntrySize: i32 = 0;
let scanKeyOff: i32 = 0;
let scanValueOff: i32 = 0;   // -1: split, values from scanValues
let scanValues: u64 = 0;
const itemKey = new StaticArray<u64>(SCAN_CHUNK);
const itemValue = new StaticArray<u64>(SCAN_CHUNK);

export function scanItemKey(i: i32): u64 { return itemKey[i]; }
export function scanItemValue(i: i32): u64 { return itemValue[i]; }

/** Sets up a scan of a keys object (3.6+) with values inline in its entries, or in a split
 *  values array (values != 0: the address of the PyDictValues / PyObject ** it points to). */
export function scanKeys(keys: u64, values: u64): i32 {
  scanCount = 0;
  scanPos = 0;
  if (keys == 0) return fail(ERR_CHAIN, 26);
  const hdr = O[F.F_DICTKEYS_DK_INDICES];
  if (readRemote(keys, HDR, hdr) != OK) return lastErrorCode();
  const nentries = load<i64>(HDR + <usize>O[F.F_DICTKEYS_DK_NENTRIES]);
  let indexBytes: u64;
  if (dictModel == C.DICT_MODEL_36) {
    const size = load<i64>(HDR + <usize>O[F.F_DICTKEYS_DK_SIZE]);
    if (size <= 0 || size > <i64>(1 << 30) || (size & (size - 1)) != 0) return fail(ERR_CHAIN, 27, keys);
    // DK_IXSIZE: 1, 2, 4 or 8 bytes per index by table size
    const ix: i64 = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffff ? 4 : 8;
    indexBytes = <u64>(size * ix);
    scanEntrySize = ENTRY_GENERAL;
    scanKeyOff = 8;
    scanValueOff = 16;
  } else {
    const log2Index = <u32>load<u8>(HDR + <usize>O[F.F_DICTKEYS_DK_LOG2_INDEX_BYTES]);
    const kind = load<u8>(HDR + <usize>O[F.F_DICTKEYS_DK_KIND]);
    if (log2Index > 33 || kind > 2) return fail(ERR_CHAIN, 28, keys);
    indexBytes = <u64>1 << log2Index;
    const general = kind == 0; // DICT_KEYS_GENERAL; UNICODE (1) and SPLIT (2) use {key, value}
    scanEntrySize = general ? ENTRY_GENERAL : ENTRY_UNICODE;
    scanKeyOff = general ? 8 : 0;
    scanValueOff = general ? 16 : 8;
  }
  if (nentries < 0) return fail(ERR_CHAIN, 29, keys);
  if (nentries > <i64>MAX_DICT_ENTRIES) return fail(ERR_LIMIT, 21, keys);
  scanEntries = keys + <u64>hdr + indexBytes;
  scanCount = <i32>nentries;
  if (values != 0) {
    scanValueOff = -1;
    scanValues = values + <u64>(O[F.F_DICTVALUES_VALUES] >= 0 ? O[F.F_DICTVALUES_VALUES] : 0);
  }
  return OK;
}

/** Sets up a scan of the dict object at dict. */
export function scanDict(dict: u64): i32 {
  scanCount = 0;
  scanPos = 0;
  if (dict == 0) return fail(ERR_CHAIN, 30);
  if (readRemote(dict, HDR, O[F.F_DICT_SIZE]) != OK) return lastErrorCode();
  if (dictModel == C.DICT_MODEL_27) {
    const mask = load<i64>(HDR + <usize>O[F.F_DICT_MA_MASK]);
    if (mask < 0 || mask >= <i64>MAX_DICT_ENTRIES || ((mask + 1) & mask) != 0) return fail(ERR_CHAIN, 31, dict);
    scanEntries = load<u64>(HDR + <usize>O[F.F_DICT_MA_TABLE]);
    scanCount = <i32>mask + 1;
    scanEntrySize = ENTRY_GENERAL;
    scanKeyOff = 8;
    scanValueOff = 16;
    if (scanEntries == 0) return fail(ERR_CHAIN, 32, dict);
    return OK;
  }
  const keys = load<u64>(HDR + <usize>O[F.F_DICT_MA_KEYS]);
  const values = load<u64>(HDR + <usize>O[F.F_DICT_MA_VALUES]);
  return scanKeys(keys, values);
}

/** Reads the next chunk. Returns how many live items it listed (0 at the end: check scanDone),
 *  or -status. */
export function scanNext(): i32 {
  if (scanPos >= scanCount) return 0;
  const n = scanCount - scanPos > SCAN_CHUNK ? SCAN_CHUNK : scanCount - scanPos;
  const from = scanEntries + <u64>scanPos * <u64>scanEntrySize;
  if (readRemote(from, ENTRY_BUF, n * scanEntrySize) != OK) return -lastErrorCode();
  if (scanValueOff < 0 && readRemote(scanValues + <u64>scanPos * 8, VALUE_BUF, n * 8) != OK) return -lastErrorCode();
  let items = 0;
  for (let i = 0; i < n; i++) {
    const e = ENTRY_BUF + <usize>(i * scanEntrySize);
    const key = load<u64>(e + <usize>scanKeyOff);
    const value = scanValueOff < 0 ? load<u64>(VALUE_BUF + (<usize>i << 3)) : load<u64>(e + <usize>scanValueOff);
    if (key == 0 || value == 0) continue; // empty, deleted (2.7 dummy keys have no value)
    unchecked(itemKey[items] = key);
    unchecked(itemValue[items] = value);
    items++;
  }
  scanPos += n;
  return items;
}
export function scanDone(): bool { return scanPos >= scanCount; }

/** Index (among the items of the current chunk) of the str key equal to the ASCII key in
 *  LOOKUP_KEY, -1 when none, < -1 (-2 - status) on a fatal read error. */
function matchKey(items: i32, keyLen: i32): i32 {
  const pystring = stringModel == C.STRING_MODEL_PYSTRING;
  const dataOff = pystring ? O[F.F_STRING_OB_SVAL] : O[F.F_UNICODE_ASCIIOBJECT_SIZE];
  const window = dataOff + keyLen;
  if (dataOff < 0 || window > KEY_SLOT || O[F.F_PYOBJECT_OB_TYPE] + 8 > dataOff) return -1;
  if (pystring ? O[F.F_STRING_OB_SIZE] + 8 > dataOff : O[F.F_UNICODE_STATE] + 4 > dataOff || O[F.F_UNICODE_LENGTH] + 8 > dataOff) return -1;
  batchReset();
  for (let i = 0; i < items; i++) batchAdd(unchecked(itemKey[i]), window, KEY_BUF + <usize>(i * KEY_SLOT));
  let done = batchRun();
  if (done < 0) {
    if (-done == ERR_GONE || -done == ERR_PERM) return -2 - (-done);
    done = 0;
  }
  for (let i = 0; i < items; i++) {
    const p = KEY_BUF + <usize>(i * KEY_SLOT);
    if (i >= done) {
      // the batch stopped at an unreadable key: read the rest one by one
      if (readRemote(unchecked(itemKey[i]), p, window) != OK) continue;
    }
    const slot = typeSlot(load<u64>(p + <usize>O[F.F_PYOBJECT_OB_TYPE]));
    if (slot < 0) continue;
    const kind = tcKind[slot];
    if (pystring) {
      if (kind != KIND_PYSTRING) continue;
      if (load<i64>(p + <usize>O[F.F_STRING_OB_SIZE]) != <i64>keyLen) continue;
    } else {
      if (kind != KIND_STR) continue;
      const state = load<u32>(p + <usize>O[F.F_UNICODE_STATE]);
      if (((state >> 5) & 3) != 3) continue; // compact and ascii
      if (load<i64>(p + <usize>O[F.F_UNICODE_LENGTH]) != <i64>keyLen) continue;
    }
    if (memory.compare(p + <usize>dataOff, LOOKUP_KEY, keyLen) == 0) return i;
  }
  return -1;
}

let lookupSt: i32 = OK;
/** OK when the last lookup ran to the end (found or not), else the status that stopped it. */
export function lookupStatus(): i32 { return lookupSt; }

function setLookupKey(key: string): i32 {
  const n = key.length;
  if (n > MAX_KEY_LEN) return -1;
  for (let i = 0; i < n; i++) store<u8>(LOOKUP_KEY + <usize>i, <u8>key.charCodeAt(i));
  return n;
}

/** Finds key in the scan set up last; the value's address, or 0 (lookupStatus tells why). */
function findInScan(keyLen: i32): u64 {
  for (let guard = 0; guard <= MAX_DICT_ENTRIES / SCAN_CHUNK + 1; guard++) {
    if (scanDone()) return 0;
    const items = scanNext();
    if (items < 0) { lookupSt = -items; return 0; }
    const i = matchKey(items, keyLen);
    if (i < -1) { lookupSt = -2 - i; return 0; }
    if (i >= 0) return itemValue[i];
  }
  return 0;
}

/** The value of the ASCII str key `key` in the dict at dict, or 0 (lookupStatus tells why). */
export function dictGetStr(dict: u64, key: string): u64 {
  lookupSt = OK;
  const n = setLookupKey(key);
  if (n < 0) return 0;
  const st = scanDict(dict);
  if (st != OK) { lookupSt = st; return 0; }
  return findInScan(n);
}

/** Keys of a heap type's instances with inline/split values: ht_cached_keys. */
function cachedKeysOf(typeAddr: u64): u64 {
  if (O[F.F_HEAPTYPE_HT_CACHED_KEYS] < 0) { fail(ERR_TABLE, PROBLEM_MISSING * 1000 + F.F_HEAPTYPE_HT_CACHED_KEYS); return 0; }
  return objReadWord(typeAddr + <u64>O[F.F_HEAPTYPE_HT_CACHED_KEYS]);
}

/**
 * The instance attribute `name` (an ASCII str key of the object's own attributes) of the object
 * at obj, or 0 when it has none or it could not be read (lookupStatus tells which).
 */
export function readAttr(obj: u64, name: string): u64 {
  lookupSt = OK;
  const n = setLookupKey(name);
  if (n < 0) return 0;
  const typeAddr = objReadWord(obj + <u64>O[F.F_PYOBJECT_OB_TYPE]);
  if (wordSt != OK) { lookupSt = wordSt; return 0; }
  const slot = typeSlot(typeAddr);
  if (slot < 0) { lookupSt = lastErrorCode(); return 0; }
  const flags = tcFlags[slot];
  let dict: u64 = 0;
  let values: u64 = 0;
  if (managedDict != C.MANAGED_DICT_NONE && (flags & TPFLAGS_MANAGED_DICT) != 0) {
    if (managedDict == C.MANAGED_DICT_PRE_HEADER_311) {
      if (readRemote(obj - MANAGED_VALUES_OFFSET_311, WORDS, 16) != OK) { lookupSt = lastErrorCode(); return 0; }
      values = load<u64>(WORDS);
      dict = load<u64>(WORDS, 8);
      if (dict != 0) values = 0;
    } else if (managedDict == C.MANAGED_DICT_TAGGED_312) {
      const w = objReadWord(obj - MANAGED_DICT_OFFSET);
      if (wordSt != OK) { lookupSt = wordSt; return 0; }
      if ((w & 1) != 0) values = w + 1; // stored as values - 1 (_PyDictOrValues_SetValues)
      else dict = w;
    } else {
      dict = objReadWord(obj - (managedDict == C.MANAGED_DICT_INLINE_FT ? MANAGED_DICT_OFFSET_FT : MANAGED_DICT_OFFSET));
      if (wordSt != OK) { lookupSt = wordSt; return 0; }
      if (dict == 0 && (flags & TPFLAGS_INLINE_VALUES) != 0) {
        const basic = tcBasic[slot];
        if (basic <= 0 || basic > 1 << 20) { lookupSt = fail(ERR_CHAIN, 33, typeAddr); return 0; }
        values = obj + <u64>basic;
      }
    }
    if (dict == 0 && values == 0) return 0; // no attributes yet
    if (dict == 0) {
      const keys = cachedKeysOf(typeAddr);
      if (keys == 0) { lookupSt = lastErrorCode(); return 0; }
      const st = scanKeys(keys, values);
      if (st != OK) { lookupSt = st; return 0; }
      return findInScan(n);
    }
  } else {
    const off = tcDictOff[slot];
    if (off <= 0) return 0; // no instance dict (or a variable-size one: not followed)
    dict = objReadWord(obj + <u64>off);
    if (wordSt != OK) { lookupSt = wordSt; return 0; }
    if (dict == 0) return 0;
  }
  const st = scanDict(dict);
  if (st != OK) { lookupSt = st; return 0; }
  return findInScan(n);
}
