// Local variables of a kept frame (dump --locals): each local's name, whether it is an argument,
// and its value as Python's repr() would write it — ints, floats, bool, None, str, bytes, 2.7
// unicode, list, tuple, dict, set and frozenset (their items likewise), numpy scalars as their
// plain value — bounded (strings cut to a limit, at most MAX_ITEMS items and MAX_DEPTH levels of
// containers, a byte budget per value; "..." marks a cut), other objects as "<Type at 0x…>".
// Interned as (name id, value id) pairs the host reads. Characters str.isprintable() rejects
// above U+009F are left to the host to escape (it has Unicode's categories).
// Must not know: version numbers (frame model, offsets and tag bits come from the active table),
// how the host prints the pairs.
// Source of truth: ≤3.10 Include/frameobject.h (f_localsplus: the first len(co_varnames) slots are
// the fast locals); 3.11+ Include/internal/pycore_frame.h (_PyInterpreterFrame.localsplus, one
// slot per co_localsplusnames entry) and pycore_code.h (co_localspluskinds: CO_FAST_HIDDEN 0x10,
// CO_FAST_LOCAL 0x20, CO_FAST_CELL 0x40, CO_FAST_FREE 0x80); 3.14+ pycore_stackref.h (tagged
// _PyStackRef: Py_TAG_BITS 3, Py_INT_TAG 3, Py_TAGGED_SHIFT 2); Objects/floatobject.c
// float_repr (repr: 17 significant digits at most, exponent when decpt <= -4 or > 16);
// Objects/listobject.c, tupleobject.c, dictobject.c, setobject.c (repr of each, "[...]" for a
// container inside itself); 2.7 Objects/stringobject.c and unicodeobject.c (repr escapes every
// byte / character past 0x7e); numpy scalartypes.c (str of a scalar: the value alone, floats
// as the shortest digits of their own precision, scientific below 1e-4 and from 1e16).

import { readRemote } from "../io";
import { OK, ERR_READ, ERR_CHAIN, ERR_LIMIT, ERR_TABLE, ERR_NO_MEMORY, fail, lastErrorCode } from "../status";
import * as F from "../python/fields";
import * as C from "../python/capabilities";
import { frameModel } from "../python/active";
import { PROBLEM_MISSING } from "../python/tables";
import { internString } from "../aggregate/intern";
import { readName } from "./strings";
import { walkInterpAddr, keptFrameAddr, keptFrameCode, keptFrameCount } from "./walk";
import {
  objectsBegin, objectsCheckDicts, objField, objTagBits, objStringModel, objectTypeSlot, typeKind, typeNameId, typeWidth,
  readInt, intDigitCount, intDigit, intNegative, intTotalDigitCount, readFloat, readFloatStatus, readLength,
  readStrCodePoints, readByteString, readUnicode27, readScalarBits, readSetKeys, setHasMore, stringFullLength,
  scanDict, scanNext, scanDone, scanItemKey, scanItemValue, MAX_DICT_ENTRIES, SCAN_CHUNK,
  KIND_OTHER, KIND_INT, KIND_LONG, KIND_BOOL, KIND_FLOAT, KIND_NONE, KIND_STR, KIND_PYSTRING, KIND_BYTES,
  KIND_UNICODE, KIND_LIST, KIND_TUPLE, KIND_DICT, KIND_SET, KIND_FROZENSET, KIND_CELL, KIND_NP_BOOL, KIND_NP_INT,
  KIND_NP_UINT, KIND_NP_FLOAT, MAX_INT_DIGITS, readCellContents, objWordStatus, objReadWord, dictGetStr, readAttr,
} from "./objects";
import { stringPtr, stringLen } from "../aggregate/intern";

/** Most locals listed per frame. */
export const MAX_LOCALS: i32 = 64;
/** Most localsplus slots looked at (names, kinds, values). */
const MAX_SLOTS: i32 = 1024;
/** Longest value text asked for (the host asks 40, or 200 with -ll). */
export const MAX_VALUE_CHARS: i32 = 1024;

/** Most items shown per container ("..." after them). */
export const MAX_ITEMS: i32 = 100;
/** Containers nested deeper than this are shown as "[...]" (like a list inside itself). */
export const MAX_DEPTH: i32 = 6;
/** A value's text is cut near BUDGET_PER_CHAR × maxChars bytes ("..." and the closing brackets). */
const BUDGET_PER_CHAR: i32 = 4;
/** Returned by a renderer when there is nothing to list (an empty cell). */
const SKIP: i32 = -1;

const CO_FAST_HIDDEN: u8 = 0x10;
const CO_FAST_LOCAL: u8 = 0x20;
const CO_FAST_CELL: u8 = 0x40;
const CO_FAST_FREE: u8 = 0x80;
const CO_VARARGS: i32 = 0x4;
const CO_VARKEYWORDS: i32 = 0x8;
const STACKREF_INT_TAG: u64 = 3;   // Py_INT_TAG: a tagged int, value << Py_TAGGED_SHIFT (2)
const STACKREF_TAGGED_SHIFT: i64 = 2;

const PAIRS: usize = memory.data(MAX_LOCALS * 8, 8);
const ARGS: usize = memory.data(MAX_LOCALS, 8);
// per container level: up to MAX_ITEMS + 1 items (a dict's key and value), read before rendering
const LEVEL_ITEMS: i32 = (MAX_ITEMS + 1) * 2;
const ITEMS: usize = memory.data(MAX_DEPTH * LEVEL_ITEMS * 8, 8);
const openAddrs = new StaticArray<u64>(MAX_DEPTH + 1);
const NAME_ADDRS: usize = memory.data(MAX_SLOTS * 8, 8);
const SLOT_VALUES: usize = memory.data(MAX_SLOTS * 8, 8);
const KINDS: usize = memory.data(MAX_SLOTS, 8);
const OUT_CAP: i32 = MAX_VALUE_CHARS * 12 + 256;
const OUT: usize = memory.data(OUT_CAP, 16);
const CPS: usize = memory.data(MAX_VALUE_CHARS * 4 + 16, 16);
const RAW: usize = memory.data(MAX_VALUE_CHARS * 4 + 16, 16);
const DEC: usize = memory.data(MAX_INT_DIGITS * 10 + 16, 16);
const WORK = new StaticArray<u32>(MAX_INT_DIGITS + 4);

/** (name id, value id) pairs of the last localsRead, i32 each. */
export function localsPtr(): usize { return PAIRS; }
/** One byte per local of the last localsRead: 0, or 1 + its position among the function's
 *  arguments (255 from the 254th on). */
export function localsArgsPtr(): usize { return ARGS; }

// ---- text output ----
let outLen: i32 = 0;
@inline function putByte(b: i32): void { if (outLen < OUT_CAP) store<u8>(OUT + <usize>(outLen++), <u8>b); }
function putAscii(s: string): void { for (let i = 0; i < s.length; i++) putByte(s.charCodeAt(i)); }
function putHex(v: u64, minDigits: i32): void {
  let n = 0;
  for (let x = v; x != 0; x >>= 4) n++;
  if (n < minDigits) n = minDigits;
  for (let i = n - 1; i >= 0; i--) {
    const d = <i32>((v >> (<u64>i * 4)) & 0xf);
    putByte(d < 10 ? 48 + d : 87 + d);
  }
}
function putCodePoint(cp: u32): void {
  if (cp < 0x80) putByte(<i32>cp);
  else if (cp < 0x800) { putByte(<i32>(0xc0 | (cp >> 6))); putByte(<i32>(0x80 | (cp & 0x3f))); }
  else if (cp < 0x10000) {
    putByte(<i32>(0xe0 | (cp >> 12))); putByte(<i32>(0x80 | ((cp >> 6) & 0x3f))); putByte(<i32>(0x80 | (cp & 0x3f)));
  } else {
    putByte(<i32>(0xf0 | (cp >> 18))); putByte(<i32>(0x80 | ((cp >> 12) & 0x3f)));
    putByte(<i32>(0x80 | ((cp >> 6) & 0x3f))); putByte(<i32>(0x80 | (cp & 0x3f)));
  }
}
function putU64(m: u64): void {
  let k = 0;
  do { store<u8>(DEC + <usize>(k++), <u8>(48 + <i32>(m % 10))); m /= 10; } while (m != 0);
  for (let i = k - 1; i >= 0; i--) putByte(<i32>load<u8>(DEC + <usize>i));
}
function putInterned(id: i32): void {
  if (id < 0) { putByte(63); return; }
  const p = stringPtr(id), n = stringLen(id);
  for (let i = 0; i < n; i++) putByte(<i32>load<u8>(p + <usize>i));
}

/** One character of a quoted str/bytes, escaped as Python's repr does for the common cases. */
function putQuoted(cp: u32, quote: u32, bytesMode: bool): void {
  if (cp == quote || cp == 0x5c) { putByte(0x5c); putByte(<i32>cp); return; }
  if (cp == 0x0a) { putAscii("\\n"); return; }
  if (cp == 0x0d) { putAscii("\\r"); return; }
  if (cp == 0x09) { putAscii("\\t"); return; }
  if (cp < 0x20 || cp == 0x7f || (bytesMode && cp >= 0x80) || (cp >= 0x80 && cp < 0xa0)) {
    putAscii("\\x"); putHex(cp, 2); return;
  }
  if (cp >= 0xd800 && cp < 0xe000) { putAscii("\\u"); putHex(cp, 4); return; }
  putCodePoint(cp);
}

/** Python's choice of quote: ' unless the text has ' and no ". */
function quoteFor(ptr: usize, n: i32, wide: bool): u32 {
  let single = false, dbl = false;
  for (let i = 0; i < n; i++) {
    const c = wide ? load<u32>(ptr + (<usize>i << 2)) : <u32>load<u8>(ptr + <usize>i);
    if (c == 0x27) single = true;
    else if (c == 0x22) dbl = true;
  }
  return single && !dbl ? 0x22 : 0x27;
}

// ---- ints ----
/** The decimal text of the last readInt. */
function putIntDecimal(): void {
  const n = intDigitCount();
  if (intNegative()) putByte(45);
  if (n == 0) { putByte(48); return; }
  for (let i = 0; i < n; i++) unchecked(WORK[i] = intDigit(i));
  // repeated division by 10^9, most significant digit first
  let top = n;
  let chunks = 0;
  while (top > 0 && chunks < (MAX_INT_DIGITS * 10) / 9) {
    let rem: u64 = 0;
    for (let i = top - 1; i >= 0; i--) {
      const cur = (rem << 30) | <u64>unchecked(WORK[i]);
      unchecked(WORK[i] = <u32>(cur / 1000000000));
      rem = cur % 1000000000;
    }
    while (top > 0 && unchecked(WORK[top - 1]) == 0) top--;
    // 9 decimal digits, least significant chunk first, stored reversed
    for (let k = 0; k < 9; k++) {
      store<u8>(DEC + <usize>(chunks * 9 + k), <u8>(48 + <i32>(rem % 10)));
      rem /= 10;
    }
    chunks++;
  }
  let len = chunks * 9;
  while (len > 1 && load<u8>(DEC + <usize>(len - 1)) == 48) len--;
  for (let i = len - 1; i >= 0; i--) putByte(<i32>load<u8>(DEC + <usize>i));
}

// ---- floats: Python's repr, the shortest digits that read back as the same double ----
// Burger & Dybvig's free-format algorithm ("Printing Floating-Point Numbers Quickly and
// Accurately", PLDI 1996) on fixed-size bignums: exact, so it agrees with CPython's
// _Py_dg_dtoa mode 0 (shortest round-trip, the nearest such when several are as short).

const BIG_LIMBS: i32 = 48; // 1536 bits: r, s, m± stay below 2^1200 for every double
class Big {
  w: StaticArray<u32> = new StaticArray<u32>(BIG_LIMBS + 1);
  n: i32 = 0;
  setU64(v: u64): void {
    this.n = 0;
    while (v != 0) { unchecked(this.w[this.n++] = <u32>v); v >>= 32; }
  }
  copyFrom(o: Big): void {
    for (let i = 0; i < o.n; i++) unchecked(this.w[i] = o.w[i]);
    this.n = o.n;
  }
  mulSmall(m: u32): void {
    let carry: u64 = 0;
    for (let i = 0; i < this.n; i++) {
      const t = <u64>unchecked(this.w[i]) * <u64>m + carry;
      unchecked(this.w[i] = <u32>t);
      carry = t >> 32;
    }
    if (carry != 0 && this.n < BIG_LIMBS) unchecked(this.w[this.n++] = <u32>carry);
  }
  mulPow10(k: i32): void {
    for (; k >= 9; k -= 9) this.mulSmall(1000000000);
    let m: u32 = 1;
    for (; k > 0; k--) m *= 10;
    if (m != 1) this.mulSmall(m);
  }
  shl(bits: i32): void {
    if (this.n == 0) return;
    const limbs = bits >> 5, rest = bits & 31;
    let n = this.n + limbs + 1;
    if (n > BIG_LIMBS) n = BIG_LIMBS;
    for (let i = n - 1; i >= 0; i--) {
      const src = i - limbs;
      let v: u32 = 0;
      if (src >= 0 && src < this.n) v = rest == 0 ? unchecked(this.w[src]) : unchecked(this.w[src]) << <u32>rest;
      if (rest != 0 && src - 1 >= 0 && src - 1 < this.n) v |= unchecked(this.w[src - 1]) >> <u32>(32 - rest);
      unchecked(this.w[i] = v);
    }
    this.n = n;
    this.trim();
  }
  trim(): void { while (this.n > 0 && unchecked(this.w[this.n - 1]) == 0) this.n--; }
  /** this += o */
  add(o: Big): void {
    let carry: u64 = 0;
    const n = this.n > o.n ? this.n : o.n;
    for (let i = 0; i < n; i++) {
      const t = (i < this.n ? <u64>unchecked(this.w[i]) : 0) + (i < o.n ? <u64>unchecked(o.w[i]) : 0) + carry;
      unchecked(this.w[i] = <u32>t);
      carry = t >> 32;
    }
    this.n = n;
    if (carry != 0 && this.n < BIG_LIMBS) unchecked(this.w[this.n++] = <u32>carry);
  }
  /** this -= o (this >= o) */
  sub(o: Big): void {
    let borrow: i64 = 0;
    for (let i = 0; i < this.n; i++) {
      let t = <i64>unchecked(this.w[i]) - (i < o.n ? <i64>unchecked(o.w[i]) : 0) - borrow;
      borrow = t < 0 ? 1 : 0;
      if (t < 0) t += <i64>1 << 32;
      unchecked(this.w[i] = <u32>t);
    }
    this.trim();
  }
  cmp(o: Big): i32 {
    if (this.n != o.n) return this.n > o.n ? 1 : -1;
    for (let i = this.n - 1; i >= 0; i--) {
      const a = unchecked(this.w[i]), b = unchecked(o.w[i]);
      if (a != b) return a > b ? 1 : -1;
    }
    return 0;
  }
}
const bR = new Big(), bS = new Big(), bMp = new Big(), bMm = new Big(), bT = new Big();

/** (a + b) compared with c. */
function cmpSum(a: Big, b: Big, c: Big): i32 {
  bT.copyFrom(a);
  bT.add(b);
  return bT.cmp(c);
}

/** The shortest digits of v > 0 (finite) into DEC; returns the count, sets floatDecpt. */
let floatDecpt: i32 = 0;
function shortestDigits(v: f64): i32 {
  const bits = reinterpret<u64>(v);
  const be = <i32>((bits >> 52) & 0x7ff);
  let f = bits & 0xfffffffffffff;
  let e: i32;
  if (be == 0) e = -1074; // subnormal
  else { f |= <u64>1 << 52; e = be - 1075; }
  return shortestDigitsOf(f, e, <u64>1 << 52, be <= 1);
}

/** The shortest digits of f × 2^e, a float whose hidden bit is `hidden` (2^52 for a double, 2^23
 *  for a float32, 2^10 for a float16); lowestExp: the smallest exponent (no narrower gap below). */
function shortestDigitsOf(f: u64, e: i32, hidden: u64, lowestExp: bool): i32 {
  const even = (f & 1) == 0;
  if (e >= 0) {
    if (f != hidden) {
      bR.setU64(f); bR.shl(e + 1); bS.setU64(2); bMp.setU64(1); bMp.shl(e); bMm.setU64(1); bMm.shl(e);
    } else {
      bR.setU64(f); bR.shl(e + 2); bS.setU64(4); bMp.setU64(1); bMp.shl(e + 1); bMm.setU64(1); bMm.shl(e);
    }
  } else {
    if (lowestExp || f != hidden) {
      bR.setU64(f); bR.shl(1); bS.setU64(1); bS.shl(1 - e); bMp.setU64(1); bMm.setU64(1);
    } else {
      bR.setU64(f); bR.shl(2); bS.setU64(1); bS.shl(2 - e); bMp.setU64(2); bMm.setU64(1);
    }
  }
  // k = ceil(log10(v)), estimated (may be one too small), then fixed up
  const bitLen = 64 - <i32>clz(f);
  let k = <i32>Math.ceil(<f64>(e + bitLen - 1) * 0.30102999566398119521 - 1e-10);
  if (k >= 0) bS.mulPow10(k);
  else { bR.mulPow10(-k); bMp.mulPow10(-k); bMm.mulPow10(-k); }
  const hi = cmpSum(bR, bMp, bS);
  if (even ? hi >= 0 : hi > 0) { bS.mulSmall(10); k++; }
  floatDecpt = k;
  let nd = 0;
  for (let guard = 0; guard < 20; guard++) {
    bR.mulSmall(10); bMp.mulSmall(10); bMm.mulSmall(10);
    let d = 0;
    while (d < 10 && bR.cmp(bS) >= 0) { bR.sub(bS); d++; }
    const low = bR.cmp(bMm);
    const tc1 = even ? low <= 0 : low < 0;
    const high = cmpSum(bR, bMp, bS);
    const tc2 = even ? high >= 0 : high > 0;
    if (!tc1 && !tc2) { store<u8>(DEC + <usize>(nd++), <u8>(48 + d)); continue; }
    if (tc1 && tc2) {
      bT.copyFrom(bR); bT.shl(1);
      const c = bT.cmp(bS);
      if (c > 0 || (c == 0 && (d & 1) != 0)) d++; // the nearer digit; a tie goes to the even one (as _Py_dg_dtoa)
    } else if (tc2) d++;
    store<u8>(DEC + <usize>(nd++), <u8>(48 + d));
    break;
  }
  return nd;
}

function putFloat(v: f64): void {
  if (isNaN(v)) { putAscii("nan"); return; }
  if (!isFinite(v)) { putAscii(v < 0 ? "-inf" : "inf"); return; }
  if (v == 0) { putAscii((reinterpret<u64>(v) >> 63) != 0 ? "-0.0" : "0.0"); return; }
  if (v < 0) { putByte(45); v = -v; }
  putDigits(shortestDigits(v), 16);
}

/** numpy's str of a float16 (w 2) or float32 (w 4) scalar from its bits: the shortest digits that
 *  read back as the same value of that precision, laid out as Python's float repr — scientific
 *  from 1e16, or (numpy 2.3+, numpy PR 28703) from 1e3 for float16 and 1e6 for float32. */
function putNarrowFloat(bits: u64, w: i32): void {
  const maxDecpt = numpyPrecisionCutoffs() ? (w == 2 ? 3 : 6) : 16;
  const expBits = w == 2 ? 5 : 8, mantBits = w == 2 ? 10 : 23;
  const neg = ((bits >> <u64>(expBits + mantBits)) & 1) != 0;
  const be = <i32>((bits >> <u64>mantBits) & ((<u64>1 << <u64>expBits) - 1));
  const m = bits & ((<u64>1 << <u64>mantBits) - 1);
  if (be == (1 << expBits) - 1) { putAscii(m != 0 ? "nan" : neg ? "-inf" : "inf"); return; }
  if (be == 0 && m == 0) { putAscii(neg ? "-0.0" : "0.0"); return; }
  if (neg) putByte(45);
  const bias = (1 << (expBits - 1)) - 1;
  const hidden = <u64>1 << <u64>mantBits;
  if (be == 0) putDigits(shortestDigitsOf(m, 1 - bias - mantBits, hidden, true), maxDecpt);
  else putDigits(shortestDigitsOf(m | hidden, be - bias - mantBits, hidden, be <= 1), maxDecpt);
}

/** Does the target's numpy (sys.modules["numpy"].__version__) print float16/float32 in scientific
 *  notation past their precision (2.3+)? Looked up once per localsRead; false when unknown. */
let numpyCutoffsKnown = false;
let numpyCutoffs = false;
function numpyPrecisionCutoffs(): bool {
  if (numpyCutoffsKnown) return numpyCutoffs;
  numpyCutoffsKnown = true;
  numpyCutoffs = false;
  const interp = walkInterpAddr();
  if (interp == 0 || objField(F.F_INTERP_IMPORTS_MODULES) < 0 || objStringModel() != C.STRING_MODEL_UNICODE) return false;
  const modules = objReadWord(interp + <u64>objField(F.F_INTERP_IMPORTS_MODULES));
  if (objWordStatus() != OK || modules == 0) return false;
  const slot = objectTypeSlot(modules);
  if (slot < 0 || typeKind(slot) != KIND_DICT || objectsCheckDicts() != OK) return false;
  const module = dictGetStr(modules, "numpy");
  if (module == 0) return false;
  const version = readAttr(module, "__version__");
  if (version == 0) return false;
  const vslot = objectTypeSlot(version);
  if (vslot < 0 || typeKind(vslot) != KIND_STR) return false;
  const n = readStrCodePoints(version, 16, CPS);
  // "MAJOR.MINOR…"
  let major = 0, minor = 0, i = 0;
  for (; i < n && load<u32>(CPS + (<usize>i << 2)) != 46; i++) major = major * 10 + <i32>load<u32>(CPS + (<usize>i << 2)) - 48;
  for (i++; i < n; i++) {
    const c = <i32>load<u32>(CPS + (<usize>i << 2));
    if (c < 48 || c > 57) break;
    minor = minor * 10 + c - 48;
  }
  numpyCutoffs = major > 2 || (major == 2 && minor >= 3);
  return numpyCutoffs;
}

/** Lays out nd digits in DEC (value 0.DIGITS × 10^floatDecpt) as float_repr_style "short". */
function putDigits(n: i32, maxDecpt: i32): void {
  let nd = n;
  const decpt = floatDecpt; // value = 0.DIGITS × 10^decpt
  while (nd > 1 && load<u8>(DEC + <usize>(nd - 1)) == 48) nd--;
  // float_repr_style "short", mode 'r': an exponent when decpt <= -4 or decpt > 16
  if (decpt <= -4 || decpt > maxDecpt) {
    putByte(<i32>load<u8>(DEC));
    if (nd > 1) {
      putByte(46);
      for (let k = 1; k < nd; k++) putByte(<i32>load<u8>(DEC + <usize>k));
    }
    const e = decpt - 1;
    putByte(101);
    putByte(e < 0 ? 45 : 43);
    const a = e < 0 ? -e : e;
    if (a < 10) putByte(48);
    putU64(<u64>a);
    return;
  }
  if (decpt <= 0) {
    putAscii("0.");
    for (let k = 0; k < -decpt; k++) putByte(48);
    for (let k = 0; k < nd; k++) putByte(<i32>load<u8>(DEC + <usize>k));
    return;
  }
  for (let k = 0; k < decpt; k++) putByte(k < nd ? <i32>load<u8>(DEC + <usize>k) : 48);
  putByte(46);
  if (decpt >= nd) { putByte(48); return; }
  for (let k = decpt; k < nd; k++) putByte(<i32>load<u8>(DEC + <usize>k));
}

/** Python's repr of v as UTF-8 at localsTextPtr(); returns its length (tests compare it with
 *  the interpreters' own repr). */
export function floatRepr(v: f64): i32 {
  outLen = 0;
  putFloat(v);
  return outLen;
}
export function localsTextPtr(): usize { return OUT; }

// ---- strings ----
function putStr(obj: u64, maxChars: i32): i32 {
  const n = readStrCodePoints(obj, maxChars, CPS);
  if (n < 0) return -n;
  const q = quoteFor(CPS, n, true);
  putByte(<i32>q);
  for (let i = 0; i < n; i++) putQuoted(load<u32>(CPS + (<usize>i << 2)), q, false);
  putByte(<i32>q);
  if (stringFullLength() > <i64>n) putAscii("...");
  return OK;
}

/** 2.7 unicode: u'…', every character past 0x7e escaped (\xNN, \uNNNN, \UNNNNNNNN), a narrow
 *  build's surrogate pairs joined first, as 2.7's unicode repr does. */
function putUnicode27(obj: u64, maxChars: i32): i32 {
  const n = readUnicode27(obj, maxChars, CPS);
  if (n < 0) return -n;
  const q = quoteFor(CPS, n, true);
  putByte(117); // u
  putByte(<i32>q);
  for (let i = 0; i < n; i++) {
    let cp = load<u32>(CPS + (<usize>i << 2));
    if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < n) {
      const lo = load<u32>(CPS + (<usize>(i + 1) << 2));
      if (lo >= 0xdc00 && lo < 0xe000) { cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); i++; }
    }
    if (cp >= 0x10000) { putAscii("\\U"); putHex(cp, 8); }
    else if (cp >= 0x100) { putAscii("\\u"); putHex(cp, 4); }
    else putQuoted(cp, q, true);
  }
  putByte(<i32>q);
  if (stringFullLength() > <i64>n) putAscii("...");
  return OK;
}

/** bytes (3.x: b'…') and 2.7 str ('…'): every byte past 0x7e escaped, as repr does. */
function putByteString(obj: u64, kind: i32, maxChars: i32): i32 {
  const got = readByteString(obj, kind, maxChars, RAW);
  if (got < 0) return -got;
  const q = quoteFor(RAW, got, false);
  if (kind == KIND_BYTES) putByte(98); // b
  putByte(<i32>q);
  for (let i = 0; i < got; i++) putQuoted(<u32>load<u8>(RAW + <usize>i), q, true);
  putByte(<i32>q);
  if (stringFullLength() > <i64>got) putAscii("...");
  return OK;
}

function putAddressed(nameId: i32, obj: u64): void {
  putByte(60); // <
  putInterned(nameId);
  putAscii(" at 0x");
  putHex(obj, 1);
  putByte(62); // >
}

/** Renders the value in a localsplus slot (raw bits) into OUT. OK, SKIP (an empty cell), or a
 *  status (then "<unreadable>" text). */
function renderValue(bits: u64, maxChars: i32): i32 {
  const tagBits = objTagBits();
  if (tagBits >= 2 && (bits & 3) == STACKREF_INT_TAG) {
    // a tagged int (3.14+ stack slots; not seen in locals so far)
    const v = <i64>bits >> STACKREF_TAGGED_SHIFT;
    if (v < 0) putByte(45);
    putU64(v < 0 ? <u64>(-v) : <u64>v);
    return OK;
  }
  const obj = tagBits > 0 ? bits & ~((<u64>1 << <u64>tagBits) - 1) : bits;
  budget = maxChars * BUDGET_PER_CHAR;
  cut = false;
  return renderObject(obj, maxChars, true, 0);
}

// ---- containers ----
/** Bytes a value may take before its containers stop ("..."); set per value. */
let budget: i32 = 0;
/** A container ran out of budget: every open one closes without more items. */
let cut: bool = false;

@inline function levelItems(depth: i32): usize { return ITEMS + <usize>(depth * LEVEL_ITEMS * 8); }
@inline function itemAt(depth: i32, i: i32): u64 { return load<u64>(levelItems(depth) + (<usize>i << 3)); }

function isContainer(kind: i32): bool {
  return kind == KIND_LIST || kind == KIND_TUPLE || kind == KIND_DICT || kind == KIND_SET || kind == KIND_FROZENSET;
}

/** The opening of a container's repr: "[", "(", "{", "{" or "set([" / "frozenset({"… */
function putOpen(kind: i32, empty: bool): void {
  const py2 = objStringModel() == C.STRING_MODEL_PYSTRING;
  if (kind == KIND_LIST) putByte(91);
  else if (kind == KIND_TUPLE) putByte(40);
  else if (kind == KIND_DICT) putByte(123);
  else {
    if (kind == KIND_FROZENSET) putAscii("frozenset(");
    else if (py2 || empty) putAscii("set(");
    if (py2) putByte(91);
    else if (!empty) putByte(123);
  }
}
function putClose(kind: i32, empty: bool): void {
  const py2 = objStringModel() == C.STRING_MODEL_PYSTRING;
  if (kind == KIND_LIST) putByte(93);
  else if (kind == KIND_TUPLE) putByte(41);
  else if (kind == KIND_DICT) putByte(125);
  else {
    if (py2) putByte(93);
    else if (!empty) putByte(125);
    if (kind == KIND_FROZENSET || py2 || empty) putByte(41);
  }
}

/**
 * Reads a container's items for level depth into ITEMS (a dict's as key, value pairs). Returns
 * how many (at most MAX_ITEMS), or -status; itemsMore tells whether it has more.
 */
let itemsMore: bool = false;
function readItems(obj: u64, kind: i32, depth: i32): i32 {
  itemsMore = false;
  const dst = levelItems(depth);
  if (kind == KIND_LIST || kind == KIND_TUPLE) {
    const len = readLength(obj, kind);
    if (len < 0) return -lastErrorCode();
    const m = len > <i64>MAX_ITEMS ? MAX_ITEMS : <i32>len;
    itemsMore = len > <i64>m;
    if (m == 0) return 0;
    let from: u64;
    if (kind == KIND_TUPLE) {
      if (objField(F.F_TUPLE_OB_ITEM) < 0) return -fail(ERR_TABLE, PROBLEM_MISSING * 1000 + F.F_TUPLE_OB_ITEM);
      from = obj + <u64>objField(F.F_TUPLE_OB_ITEM);
    } else {
      if (objField(F.F_LIST_OB_ITEM) < 0) return -fail(ERR_TABLE, PROBLEM_MISSING * 1000 + F.F_LIST_OB_ITEM);
      if (readRemote(obj + <u64>objField(F.F_LIST_OB_ITEM), dst, 8) != OK) return -lastErrorCode();
      from = load<u64>(dst);
      if (from == 0) return -fail(ERR_CHAIN, 34, obj);
    }
    if (readRemote(from, dst, m * 8) != OK) return -lastErrorCode();
    return m;
  }
  if (kind == KIND_DICT) {
    let st = objectsCheckDicts();
    if (st != OK) return -st;
    st = scanDict(obj);
    if (st != OK) return -st;
    let got = 0;
    for (let guard = 0; guard <= MAX_DICT_ENTRIES / SCAN_CHUNK + 1 && !scanDone(); guard++) {
      const items = scanNext();
      if (items < 0) return items;
      for (let i = 0; i < items; i++) {
        if (got >= MAX_ITEMS) { itemsMore = true; return got; }
        store<u64>(dst + (<usize>got << 4), scanItemKey(i));
        store<u64>(dst + (<usize>got << 4) + 8, scanItemValue(i));
        got++;
      }
    }
    return got;
  }
  const got = readSetKeys(obj, MAX_ITEMS, dst);
  itemsMore = setHasMore();
  return got;
}

/** An item of a container at level depth: cut to what is left of the budget. */
function renderItem(obj: u64, maxChars: i32, depth: i32): i32 {
  let room = budget - outLen;
  if (room < 1) room = 1;
  return renderObject(obj, maxChars < room ? maxChars : room, false, depth);
}

function renderContainer(obj: u64, kind: i32, nameId: i32, maxChars: i32, depth: i32): i32 {
  // a container inside itself, or nested too deep: Python's own elision
  let inside = depth >= MAX_DEPTH;
  for (let i = 0; i < depth && !inside; i++) inside = unchecked(openAddrs[i]) == obj;
  if (inside) {
    if (kind == KIND_SET || kind == KIND_FROZENSET) { putAscii(kind == KIND_SET ? "set(...)" : "frozenset(...)"); return OK; }
    putOpen(kind, false); putAscii("..."); putClose(kind, false);
    return OK;
  }
  unchecked(openAddrs[depth] = obj);
  const n = readItems(obj, kind, depth);
  if (n == -ERR_TABLE) {
    // a (plugin) table without the fields to read the items: the type and length, as before
    const len = readLength(obj, kind);
    if (len < 0) return lastErrorCode();
    putInterned(nameId);
    putAscii(" (len ");
    putU64(<u64>len);
    putByte(41); // )
    return OK;
  }
  if (n < 0) return -n;
  const more = itemsMore;
  const empty = n == 0 && !more;
  putOpen(kind, empty);
  for (let i = 0; i < n; i++) {
    const start = outLen;
    if (i > 0) putAscii(", ");
    let st: i32;
    if (kind == KIND_DICT) {
      st = renderItem(itemAt(depth, i * 2), maxChars, depth + 1);
      if (st == OK && !cut) { putAscii(": "); st = renderItem(itemAt(depth, i * 2 + 1), maxChars, depth + 1); }
    } else st = renderItem(itemAt(depth, i), maxChars, depth + 1);
    if (st != OK) return st;
    if (cut) break;
    if (outLen > budget) {
      outLen = start;
      putAscii(i > 0 ? ", ..." : "...");
      cut = true;
      break;
    }
  }
  if (!cut && more) { putAscii(", ..."); }
  else if (!cut && kind == KIND_TUPLE && n == 1) putByte(44); // (x,)
  putClose(kind, empty);
  return OK;
}

function renderObject(obj: u64, maxChars: i32, followCell: bool, depth: i32): i32 {
  const slot = objectTypeSlot(obj);
  if (slot < 0) return lastErrorCode();
  const kind = typeKind(slot);
  if (kind == KIND_CELL && followCell) {
    // a variable a closure captured (its cell variable, or a free variable): show what it holds
    const inner = readCellContents(obj);
    if (objWordStatus() != OK) return objWordStatus();
    if (inner == 0) return SKIP; // not assigned yet
    return renderObject(inner, maxChars, false, depth);
  }
  if (kind == KIND_NONE) { putAscii("None"); return OK; }
  if (kind == KIND_INT || kind == KIND_LONG || kind == KIND_BOOL) {
    const st = readInt(obj, kind);
    if (kind == KIND_BOOL) {
      if (st != OK) return st;
      putAscii(intDigitCount() == 0 ? "False" : "True");
      return OK;
    }
    if (st == ERR_LIMIT) {
      putAscii("<int of ");
      // 30 bits per digit: say how big, not the value
      putU64(<u64>intTotalDigitCount() * 30);
      putAscii(" bits>");
      return OK;
    }
    if (st != OK) return st;
    const start = outLen;
    putIntDecimal();
    if (outLen - start > maxChars) { outLen = start + maxChars; putAscii("..."); }
    else if (kind == KIND_LONG) putByte(76); // 2.7 repr: 123L
    return OK;
  }
  if (kind == KIND_FLOAT) {
    const v = readFloat(obj);
    if (readFloatStatus() != OK) return readFloatStatus();
    putFloat(v);
    return OK;
  }
  if (kind == KIND_STR) return putStr(obj, maxChars);
  if (kind == KIND_PYSTRING || kind == KIND_BYTES) return putByteString(obj, kind, maxChars);
  if (kind == KIND_UNICODE) return putUnicode27(obj, maxChars);
  if (isContainer(kind)) return renderContainer(obj, kind, typeNameId(slot), maxChars, depth);
  if (kind == KIND_NP_BOOL || kind == KIND_NP_INT || kind == KIND_NP_UINT || kind == KIND_NP_FLOAT) {
    const w = typeWidth(slot);
    const bits = readScalarBits(obj, w);
    if (objWordStatus() != OK) return objWordStatus();
    if (kind == KIND_NP_BOOL) putAscii(bits != 0 ? "True" : "False");
    else if (kind == KIND_NP_UINT) putU64(bits);
    else if (kind == KIND_NP_INT) {
      const sh = <u64>(64 - w * 8);
      const v = <i64>(bits << sh) >> <i64>sh; // sign-extended
      if (v < 0) putByte(45);
      putU64(v < 0 ? <u64>0 - <u64>v : <u64>v);
    } else if (w == 8) putFloat(reinterpret<f64>(bits));
    else putNarrowFloat(bits, w);
    return OK;
  }
  putAddressed(typeNameId(slot), obj);
  return OK;
}

/** Reads a tuple of names (co_varnames, co_cellvars…) at tupleAddr into NAME_ADDRS from index
 *  at, at most MAX_SLOTS - at of them. Returns how many, or -status. */
function readNameTuple(tupleAddr: u64, at: i32): i32 {
  if (tupleAddr == 0) return 0;
  if (readRemote(tupleAddr + <u64>objField(F.F_TUPLE_OB_SIZE), RAW, 8) != OK) return -lastErrorCode();
  let n64 = load<i64>(RAW);
  if (n64 < 0) return -fail(ERR_CHAIN, 32, tupleAddr);
  if (n64 > <i64>(MAX_SLOTS - at)) n64 = MAX_SLOTS - at;
  const n = <i32>n64;
  if (n > 0 && readRemote(tupleAddr + <u64>objField(F.F_TUPLE_OB_ITEM), NAME_ADDRS + (<usize>at << 3), n * 8) != OK) return -lastErrorCode();
  return n;
}

/** A 4-byte int field of the code object (0 when the table lacks it). */
function codeInt(code: u64, f: i32): i32 {
  if (objField(f) < 0) return 0;
  if (readRemote(code + <u64>objField(f), RAW, 4) != OK) return 0;
  return load<i32>(RAW);
}

/**
 * Decodes the locals of kept frame k (walkSetKeepFrames; innermost first per thread) into
 * (name id, value id) pairs at localsPtr() and argument flags at localsArgsPtr(), values cut
 * to maxChars characters, in slot order: locals (arguments first), then (≤3.10) the cell and
 * free variables — an argument a closure captured among them, with its argument position. Returns how many (at most MAX_LOCALS; unset locals and
 * empty cells are skipped), or a negative status.
 */
export function localsRead(k: i32, maxChars: i32): i32 {
  if (k < 0 || k >= keptFrameCount()) return -fail(ERR_LIMIT, 30);
  if (maxChars < 1) maxChars = 1;
  if (maxChars > MAX_VALUE_CHARS) maxChars = MAX_VALUE_CHARS;
  let st = objectsBegin();
  if (st != OK) return -st;
  numpyCutoffsKnown = false;
  const frame = keptFrameAddr(k);
  const code = keptFrameCode(k);
  if (frame == 0 || code == 0) return -fail(ERR_CHAIN, 30);
  const objectFrames = frameModel == C.FRAME_MODEL_FRAME_OBJECT;
  const fCode = objectFrames ? F.F_FRAME_F_CODE : F.F_IFRAME_EXECUTABLE;
  const fPlus = objectFrames ? F.F_FRAME_F_LOCALSPLUS : F.F_IFRAME_LOCALSPLUS;
  const need: StaticArray<i32> = [fCode, fPlus, F.F_CODE_VARNAMES, F.F_TUPLE_OB_SIZE, F.F_TUPLE_OB_ITEM];
  for (let i = 0; i < need.length; i++) if (objField(need[i]) < 0) return -fail(ERR_TABLE, PROBLEM_MISSING * 1000 + need[i]);
  if (!objectFrames && objField(F.F_CODE_LOCALSPLUSKINDS) < 0) return -fail(ERR_TABLE, PROBLEM_MISSING * 1000 + F.F_CODE_LOCALSPLUSKINDS);
  const tagBits = objTagBits();
  const tagMask: u64 = tagBits > 0 ? ~((<u64>1 << <u64>tagBits) - 1) : ~(<u64>0);

  // the frame must still run the code it was sampled in
  if (readRemote(frame + <u64>objField(fCode), RAW, 8) != OK) return -lastErrorCode();
  if ((load<u64>(RAW) & tagMask) != code) return -fail(ERR_CHAIN, 31, frame);

  // arguments: the first co_argcount + co_kwonlyargcount slots, then *args and **kwargs
  const flags = codeInt(code, F.F_CODE_FLAGS);
  let nArgs = codeInt(code, F.F_CODE_ARGCOUNT) + codeInt(code, F.F_CODE_KWONLYARGCOUNT);
  if ((flags & CO_VARARGS) != 0) nArgs++;
  if ((flags & CO_VARKEYWORDS) != 0) nArgs++;

  // names: co_varnames (≤3.10, then co_cellvars and co_freevars) or co_localsplusnames (3.11+)
  if (readRemote(code + <u64>objField(F.F_CODE_VARNAMES), RAW, 8) != OK) return -lastErrorCode();
  let n = readNameTuple(load<u64>(RAW), 0);
  if (n < 0) return n;
  const nLocals = n;
  if (objectFrames && objField(F.F_CODE_CELLVARS) >= 0 && objField(F.F_CODE_FREEVARS) >= 0) {
    // f_localsplus: co_nlocals fast locals, then one cell per co_cellvars, then co_freevars
    if (codeInt(code, F.F_CODE_NLOCALS) != nLocals) return -fail(ERR_CHAIN, 34, code);
    for (let j = 0; j < 2; j++) {
      if (readRemote(code + <u64>objField(j == 0 ? F.F_CODE_CELLVARS : F.F_CODE_FREEVARS), RAW, 8) != OK) return -lastErrorCode();
      const got = readNameTuple(load<u64>(RAW), n);
      if (got < 0) return got;
      n += got;
    }
  }
  if (n == 0) return 0;
  if (!objectFrames) {
    if (readRemote(code + <u64>objField(F.F_CODE_LOCALSPLUSKINDS), RAW, 8) != OK) return -lastErrorCode();
    const kinds = load<u64>(RAW);
    const got = readByteString(kinds, objStringModel() == C.STRING_MODEL_PYSTRING ? KIND_PYSTRING : KIND_BYTES, n, KINDS);
    if (got < 0) return got;
    if (got < n) return -fail(ERR_CHAIN, 33, kinds);
  }
  if (readRemote(frame + <u64>objField(fPlus), SLOT_VALUES, n * 8) != OK) return -lastErrorCode();

  let count = 0;
  for (let i = 0; i < n && count < MAX_LOCALS; i++) {
    if (!objectFrames) {
      const kind = load<u8>(KINDS + <usize>i);
      // this function's own variables: plain locals (arguments too), cells and free variables
      if ((kind & (CO_FAST_LOCAL | CO_FAST_CELL | CO_FAST_FREE)) == 0 || (kind & CO_FAST_HIDDEN) != 0) continue;
    }
    const bits = load<u64>(SLOT_VALUES + (<usize>i << 3));
    if ((bits & tagMask) == 0) continue; // unset (3.14+: PyStackRef_NULL is a tagged 0)
    const nameId = readName(load<u64>(NAME_ADDRS + (<usize>i << 3)));
    if (nameId < 0) continue;
    let argIndex = i < nArgs ? i : -1;
    // ≤3.10: an argument a closure captured lives in its cell (2.7 also keeps a stale copy in
    // the argument's own slot: the cell's value replaces it)
    let at = count;
    if (i >= nLocals) {
      for (let j = 0; j < nArgs && j < nLocals; j++) {
        if (readName(load<u64>(NAME_ADDRS + (<usize>j << 3))) == nameId) { argIndex = j; break; }
      }
      for (let j = 0; j < count; j++) if (load<i32>(PAIRS + <usize>(j * 8)) == nameId) { at = j; break; }
    }
    outLen = 0;
    st = renderValue(bits, maxChars);
    if (st == SKIP) continue;
    if (st != OK) { outLen = 0; putAscii("<unreadable>"); }
    const valueId = internString(OUT, outLen);
    if (valueId < 0) return -fail(ERR_NO_MEMORY, 30);
    store<i32>(PAIRS + <usize>(at * 8), nameId);
    store<i32>(PAIRS + <usize>(at * 8 + 4), valueId);
    store<u8>(ARGS + <usize>at, argIndex < 0 ? 0 : argIndex < 254 ? <u8>(argIndex + 1) : 255);
    if (at == count) count++;
  }
  return count;
}
