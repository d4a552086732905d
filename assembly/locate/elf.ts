// ELF64 little-endian parsing of the objects a target maps (the interpreter's libpython or
// executable, extension modules, libc, the vdso), from bytes the host copied into local memory.
// The core holds the facts of many objects at once, each keyed by the file's identity (as the
// host describes it: device, inode, size and mtime) and the address its file offset 0 maps at,
// each parsed only when asked: the first PT_LOAD (for the load bias), the symbols wspy needs
// (.dynsym, then .symtab), the .PyRuntime / .AsyncioDebug / .bss / .data sections and, when asked, a copy of
// the symbol tables for lookups by name.
// Must not know: CPython struct layouts or versions; it only finds names and addresses.
// Source of truth: the System V gABI ELF-64 object file format; elf.h.

import { OK, ERR_ELF, ERR_LIMIT, fail } from "../status";
import { rangeInside } from "../util/bounds";

// The symbols wspy looks for in every object, by index.
export const SYM_PY_RUNTIME = 0;          // _PyRuntime (3.7+)
export const SYM_PY_VERSION = 1;          // Py_Version (3.11+)
export const SYM_INTERP_HEAD = 2;         // interp_head (≤3.6, .symtab only)
export const SYM_THREADSTATE_CURRENT = 3; // _PyThreadState_Current (≤3.6)
export const SYM_PYCODE_TYPE = 4;         // PyCode_Type
export const SYM_NONE = 5;                // _Py_NoneStruct
export const SYM_VERSION_BUFFER = 6;      // Py_GetVersion's static buffer ("version", "version.0")
export const SYM_UNICODE_TYPE = 7;        // PyUnicode_Type (3.x str)
export const SYM_STRING_TYPE = 8;         // PyString_Type (2.7 str)
export const SYM_BYTES_TYPE = 9;          // PyBytes_Type (3.x bytes)
export const SYM_COUNT = 10;

export const SYM_NAMES: StaticArray<string> = [
  "_PyRuntime", "Py_Version", "interp_head", "_PyThreadState_Current", "PyCode_Type",
  "_Py_NoneStruct", "version", "PyUnicode_Type", "PyString_Type", "PyBytes_Type",
];

const PT_LOAD: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_DYNSYM: u32 = 11;
const SHT_NOBITS: u32 = 8;
const STT_OBJECT: u8 = 1;
const MAX_SECTIONS: i32 = 4096;
const MAX_SYMBOLS: i32 = 4_000_000;
const VERSION_BUFFER_SIZE: u64 = 250; // `static char version[250]` in Python/getversion.c
/** Objects held at once (a process maps a few hundred files at most). */
export const ELF_MAX_OBJECTS: i32 = 4096;
/** Bytes of a file identity the host may pass. */
export const ELF_MAX_KEY: i32 = 256;

// object states (elfObjectState)
export const ELF_NEW: i32 = 0;     // known, not parsed yet
export const ELF_PARSED: i32 = 1;  // parsed (a failed parse leaves the negative status)

/** Eval-loop ranges an object holds at most (the function and its .cold parts). */
export const MAX_EVAL_RANGES: i32 = 8;
const EVAL_DEFAULT = "_PyEval_EvalFrameDefault";
const EVAL_EX = "PyEval_EvalFrameEx";

/** Symbols kept for lookups by name: [name offset u32, pad u32, value u64, size u64] in a heap block. */
const KEPT_STRIDE: usize = 24;

/** The facts of one mapped ELF object. Addresses are the file's own (unbiased). */
class ElfObject {
  key: StaticArray<u8>;
  base: u64;              // the address the file's offset 0 maps at (as the host's memory map says)
  state: i32 = ELF_NEW;
  type: u32 = 0;
  firstLoadVaddr: u64 = 0;
  firstLoadOffset: u64 = 0;
  pyRuntimeAddr: u64 = 0;
  pyRuntimeSize: u64 = 0;
  pyRuntimeOffset: u64 = 0;
  asyncioDebugAddr: u64 = 0;  // .AsyncioDebug (3.14+: _asyncio's offsets, in its .so or the executable)
  asyncioDebugSize: u64 = 0;
  ehFrameHdrAddr: u64 = 0;    // .eh_frame_hdr / .eh_frame (native unwinding, #13)
  ehFrameHdrSize: u64 = 0;
  ehFrameAddr: u64 = 0;
  ehFrameSize: u64 = 0;
  buildIdAddr: u64 = 0;       // .note.gnu.build-id (native stacks: where a separate debug file is)
  buildIdSize: u64 = 0;
  hasSymtab: bool = false;    // a .symtab (not stripped)
  bssAddr: u64 = 0;
  bssSize: u64 = 0;
  dataAddr: u64 = 0;
  dataSize: u64 = 0;
  // the interpreter's eval loop (native stacks: each of its frames is one block of Python
  // frames): [lo, hi) of the named function and its named .cold parts; slot 0.. from
  // _PyEval_EvalFrameDefault (3.6+), else PyEval_EvalFrameEx (2.7)
  evalLo: StaticArray<u64> = new StaticArray<u64>(MAX_EVAL_RANGES);
  evalHi: StaticArray<u64> = new StaticArray<u64>(MAX_EVAL_RANGES);
  evalCount: i32 = 0;
  evalFromEx: bool = false;
  symAddr: StaticArray<u64> = new StaticArray<u64>(SYM_COUNT);
  symSize: StaticArray<u64> = new StaticArray<u64>(SYM_COUNT);
  // kept symbol tables (only when the parse was asked to keep them)
  kept: usize = 0;        // heap block of keptCount entries
  keptCount: i32 = 0;
  keptNames: usize = 0;   // heap block: the string tables, concatenated
  keptNamesLen: usize = 0;

  constructor(key: StaticArray<u8>, base: u64) {
    this.key = key;
    this.base = base;
  }

  reset(): void {
    this.type = 0; this.firstLoadVaddr = 0; this.firstLoadOffset = 0;
    this.pyRuntimeAddr = 0; this.pyRuntimeSize = 0; this.pyRuntimeOffset = 0;
    this.asyncioDebugAddr = 0; this.asyncioDebugSize = 0;
    this.ehFrameHdrAddr = 0; this.ehFrameHdrSize = 0; this.ehFrameAddr = 0; this.ehFrameSize = 0;
    this.buildIdAddr = 0; this.buildIdSize = 0; this.hasSymtab = false;
    this.bssAddr = 0; this.bssSize = 0; this.dataAddr = 0; this.dataSize = 0;
    for (let k = 0; k < SYM_COUNT; k++) { this.symAddr[k] = 0; this.symSize[k] = 0; }
    this.evalCount = 0; this.evalFromEx = false;
    if (this.kept != 0) heap.free(this.kept);
    if (this.keptNames != 0) heap.free(this.keptNames);
    this.kept = 0; this.keptCount = 0; this.keptNames = 0; this.keptNamesLen = 0;
  }
}

const objects = new Array<ElfObject>();

@inline function objectAt(id: i32): ElfObject | null {
  return id >= 0 && id < objects.length ? unchecked(objects[id]) : null;
}

/**
 * The object with this identity (keyLen bytes at keyPtr, as the host describes the file) mapped
 * with its file offset 0 at base: its id, the same id when it is already known, or -ERR_LIMIT.
 */
export function elfObjectNew(keyPtr: usize, keyLen: i32, base: u64): i32 {
  if (keyLen < 0 || keyLen > ELF_MAX_KEY) return -fail(ERR_LIMIT, 1);
  for (let i = 0; i < objects.length; i++) {
    const o = unchecked(objects[i]);
    if (o.base != base || o.key.length != keyLen) continue;
    let same = true;
    for (let k = 0; k < keyLen; k++) if (o.key[k] != load<u8>(keyPtr + <usize>k)) { same = false; break; }
    if (same) return i;
  }
  if (objects.length >= ELF_MAX_OBJECTS) return -fail(ERR_LIMIT, 2);
  const key = new StaticArray<u8>(keyLen);
  for (let k = 0; k < keyLen; k++) key[k] = load<u8>(keyPtr + <usize>k);
  objects.push(new ElfObject(key, base));
  return objects.length - 1;
}

/** How many objects the core holds. */
export function elfObjectCount(): i32 { return objects.length; }
/** ELF_NEW, ELF_PARSED, or the negative status of a failed parse (-1 for an unknown id). */
export function elfObjectState(id: i32): i32 { const o = objectAt(id); return o === null ? -1 : o.state; }
/** The address the object's file offset 0 maps at, as given to elfObjectNew. */
export function elfObjectBase(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.base; }
/** How many symbols the object keeps for lookups by name (0 unless parsed with keepSymbols). */
export function elfObjectKeptSymbols(id: i32): i32 { const o = objectAt(id); return o === null ? 0 : o.keptCount; }

export function elfSymbol(id: i32, i: i32): u64 { const o = objectAt(id); return o !== null && i >= 0 && i < SYM_COUNT ? o.symAddr[i] : 0; }
export function elfSymbolSize(id: i32, i: i32): u64 { const o = objectAt(id); return o !== null && i >= 0 && i < SYM_COUNT ? o.symSize[i] : 0; }
export function elfType(id: i32): u32 { const o = objectAt(id); return o === null ? 0 : o.type; }
export function elfFirstLoadVaddr(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.firstLoadVaddr; }
export function elfFirstLoadOffset(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.firstLoadOffset; }
export function elfPyRuntimeSection(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.pyRuntimeAddr; }
export function elfPyRuntimeSectionSize(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.pyRuntimeSize; }
export function elfPyRuntimeSectionOffset(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.pyRuntimeOffset; }
/** The .AsyncioDebug section's address (unbiased; 0: none) and size. */
export function elfAsyncioDebugSection(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.asyncioDebugAddr; }
export function elfAsyncioDebugSectionSize(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.asyncioDebugSize; }
export function elfBss(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.bssAddr; }
export function elfBssSize(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.bssSize; }
export function elfData(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.dataAddr; }
export function elfDataSize(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.dataSize; }

let foundSize: u64 = 0;
/** .eh_frame_hdr's and .eh_frame's addresses (unbiased; 0: none) and sizes. */
export function elfEhFrameHdr(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.ehFrameHdrAddr; }
export function elfEhFrameHdrSize(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.ehFrameHdrSize; }
export function elfEhFrame(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.ehFrameAddr; }
export function elfEhFrameSize(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.ehFrameSize; }

let atValue: u64 = 0;
/**
 * The kept symbol whose [value, value + size) holds addr (the file's own address, unbiased): a
 * pointer to its NUL-terminated name, 0 when none does (a symbol without a size never matches:
 * the nearest symbol below would mislabel a static function). elfSymbolAtValue: its start.
 */
export function elfSymbolAt(id: i32, addr: u64): usize {
  atValue = 0;
  const o = objectAt(id);
  if (o === null || o.kept == 0) return 0;
  for (let i = 0; i < o.keptCount; i++) {
    const e = o.kept + <usize>i * KEPT_STRIDE;
    const value = load<u64>(e, 8), size = load<u64>(e, 16);
    if (size == 0 || addr < value || addr - value >= size) continue;
    const off = <usize>load<u32>(e);
    if (off >= o.keptNamesLen) continue;
    atValue = value;
    return o.keptNames + off;
  }
  return 0;
}
export function elfSymbolAtValue(): u64 { return atValue; }

/** The size of the symbol the last elfSymbolFind found. */
export function elfSymbolFoundSize(): u64 { return foundSize; }

/**
 * The address (the file's own, unbiased) of the symbol named by the nameLen bytes at namePtr in
 * the object's kept symbol tables (.dynsym first, then .symtab), 0 when absent or not kept.
 */
export function elfSymbolFind(id: i32, namePtr: usize, nameLen: i32): u64 {
  foundSize = 0;
  const o = objectAt(id);
  if (o === null || nameLen <= 0 || o.kept == 0) return 0;
  const first = load<u8>(namePtr);
  for (let i = 0; i < o.keptCount; i++) {
    const e = o.kept + <usize>i * KEPT_STRIDE;
    const off = <usize>load<u32>(e);
    // every kept name ends inside keptNames (checked when kept): compare, then its NUL
    if (off + <usize>nameLen >= o.keptNamesLen) continue;
    const p = o.keptNames + off;
    if (load<u8>(p) != first) continue;
    let same = true;
    for (let k = 1; k < nameLen; k++) if (load<u8>(p + <usize>k) != load<u8>(namePtr + <usize>k)) { same = false; break; }
    if (same && load<u8>(p + <usize>nameLen) == 0) {
      foundSize = load<u64>(e, 16);
      return load<u64>(e, 8);
    }
  }
  return 0;
}

/** Does the name at ptr (inside [lo, hi)) equal s, or s followed by "." and anything (".cold", ".cold.12")? */
function nameIsOrPart(ptr: usize, hi: usize, s: string): bool {
  const n = s.length;
  if (ptr + <usize>n >= hi) return false;
  for (let i = 0; i < n; i++) {
    if (<i32>load<u8>(ptr + i) != s.charCodeAt(i)) return false;
  }
  const after = load<u8>(ptr + n);
  return after == 0 || after == 0x2e;
}

/** Records an eval-loop symbol (see ElfObject.evalLo): _PyEval_EvalFrameDefault wins over PyEval_EvalFrameEx. */
function noteEvalSymbol(o: ElfObject, name: usize, hi: usize, value: u64, size: u64): void {
  const isDefault = nameIsOrPart(name, hi, EVAL_DEFAULT);
  if (!isDefault && !nameIsOrPart(name, hi, EVAL_EX)) return;
  if (isDefault && o.evalFromEx) { o.evalCount = 0; o.evalFromEx = false; }
  if (!isDefault) {
    if (o.evalCount > 0 && !o.evalFromEx) return;
    o.evalFromEx = true;
  }
  if (value > ~size) return;
  for (let i = 0; i < o.evalCount; i++) if (o.evalLo[i] == value) return; // .dynsym and .symtab both list it
  if (o.evalCount >= MAX_EVAL_RANGES) return;
  o.evalLo[o.evalCount] = value;
  o.evalHi[o.evalCount] = value + size;
  o.evalCount++;
}

/** The .note.gnu.build-id section's address (the file's own) and size, 0 when absent. */
export function elfBuildIdNote(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.buildIdAddr; }
export function elfBuildIdNoteSize(id: i32): u64 { const o = objectAt(id); return o === null ? 0 : o.buildIdSize; }
/** Does the object have a .symtab (or is it stripped to .dynsym)? */
export function elfHasSymtab(id: i32): bool { const o = objectAt(id); return o !== null && o.hasSymtab; }

/**
 * Decodes a GNU build-id note (namesz 4, descsz, type 3, "GNU\0", desc) copied at [ptr, ptr+len):
 * the id's length (its bytes at ptr + 16), 0 when it is not one.
 */
export function elfDecodeBuildId(ptr: usize, len: i32): i32 {
  if (len < 16) return 0;
  const namesz = load<u32>(ptr), descsz = load<u32>(ptr, 4), type = load<u32>(ptr, 8);
  if (namesz != 4 || type != 3 || load<u32>(ptr, 12) != 0x00554e47) return 0; // "GNU\0"
  if (descsz < 8 || descsz > 64 || <u64>16 + <u64>descsz > <u64>len) return 0;
  return <i32>descsz;
}

/** How many eval-loop ranges the object's symbols give (its named function and .cold parts). */
export function elfEvalRangeCount(id: i32): i32 { const o = objectAt(id); return o === null ? 0 : o.evalCount; }
/** Eval range i's start and end (the file's own addresses, unbiased). */
export function elfEvalRangeLo(id: i32, i: i32): u64 { const o = objectAt(id); return o === null || i < 0 || i >= o.evalCount ? 0 : o.evalLo[i]; }
export function elfEvalRangeHi(id: i32, i: i32): u64 { const o = objectAt(id); return o === null || i < 0 || i >= o.evalCount ? 0 : o.evalHi[i]; }

/** Does the NUL-terminated name at ptr (inside [lo, hi)) equal s (ASCII)? */
function nameIs(ptr: usize, hi: usize, s: string): bool {
  const n = s.length;
  if (ptr + <usize>n >= hi) return false;
  for (let i = 0; i < n; i++) {
    if (<i32>load<u8>(ptr + i) != s.charCodeAt(i)) return false;
  }
  return load<u8>(ptr + n) == 0;
}

/** "version", "version.0", "version.1"...: the static buffer's local symbol names. */
function isVersionBufferName(ptr: usize, hi: usize): bool {
  if (nameIs(ptr, hi, "version")) return true;
  if (ptr + 9 >= hi) return false;
  for (let i = 0; i < 7; i++) if (<i32>load<u8>(ptr + i) != "version".charCodeAt(i)) return false;
  return load<u8>(ptr + 7) == 0x2e && load<u8>(ptr + 8) >= 0x30 && load<u8>(ptr + 8) <= 0x39 && load<u8>(ptr + 9) == 0;
}

function scanSymbols(o: ElfObject, base: usize, len: usize, symOff: u64, symSizeBytes: u64, entSize: u64, strOff: u64, strSize: u64, keep: bool): void {
  if (entSize < 24 || !rangeInside(symOff, symSizeBytes, 0, <u64>len) || !rangeInside(strOff, strSize, 0, <u64>len)) return;
  let count = <i32>(symSizeBytes / entSize);
  if (count > MAX_SYMBOLS) count = MAX_SYMBOLS;
  const strLo = base + <usize>strOff;
  const strHi = strLo + <usize>strSize;
  const symAddr = o.symAddr, symSize = o.symSize;
  // kept tables: this string table appended to the kept names, room for count more entries
  let namesAt: usize = 0;
  if (keep && count > 0 && strSize > 0) {
    namesAt = o.keptNamesLen;
    o.keptNames = o.keptNames == 0 ? heap.alloc(<usize>strSize) : heap.realloc(o.keptNames, namesAt + <usize>strSize);
    memory.copy(o.keptNames + namesAt, strLo, <usize>strSize);
    o.keptNamesLen = namesAt + <usize>strSize;
    const bytes = <usize>(o.keptCount + count) * KEPT_STRIDE;
    o.kept = o.kept == 0 ? heap.alloc(bytes) : heap.realloc(o.kept, bytes);
  } else {
    keep = false;
  }
  for (let i = 0; i < count; i++) {
    const s = base + <usize>(symOff + <u64>i * entSize);
    const nameOff = load<u32>(s);
    const value = load<u64>(s, 8);
    if (value == 0 || <u64>nameOff >= strSize) continue;
    const name = strLo + nameOff;
    const size = load<u64>(s, 16);
    if (keep) {
      const e = o.kept + <usize>o.keptCount * KEPT_STRIDE;
      store<u32>(e, <u32>(namesAt + <usize>nameOff));
      store<u32>(e, 0, 4);
      store<u64>(e, value, 8);
      store<u64>(e, size, 16);
      o.keptCount++;
    }
    const first = load<u8>(name);
    // cheap filter: every wanted name starts with '_', 'P', 'i' or 'v'
    if (first != 0x5f && first != 0x50 && first != 0x69 && first != 0x76) continue;
    if (size != 0) noteEvalSymbol(o, name, strHi, value, size);
    for (let k = 0; k < SYM_COUNT; k++) {
      if (symAddr[k] != 0) continue;
      if (k == SYM_VERSION_BUFFER) {
        const info = load<u8>(s, 4);
        if ((info & 0xf) == STT_OBJECT && size == VERSION_BUFFER_SIZE && isVersionBufferName(name, strHi)) {
          symAddr[k] = value;
          symSize[k] = size;
        }
      } else if (nameIs(name, strHi, SYM_NAMES[k])) {
        symAddr[k] = value;
        symSize[k] = size;
      }
    }
  }
}

/**
 * Parses object id's ELF file, loaded (at least the ranges elfNextRanges lists) at [ptr, ptr+len).
 * keepSymbols: also keep a copy of its symbol tables for elfSymbolFind. OK or ERR_ELF (detail:
 * what was wrong); a parse again replaces the object's facts.
 */
export function elfParse(id: i32, ptr: usize, len: usize, keepSymbols: bool): i32 {
  const o = objectAt(id);
  if (o === null) return fail(ERR_ELF, 8);
  o.reset();
  const st = parseInto(o, ptr, len, keepSymbols);
  o.state = st == OK ? ELF_PARSED : -st;
  return st;
}

function parseInto(o: ElfObject, ptr: usize, len: usize, keepSymbols: bool): i32 {
  if (len < 64) return fail(ERR_ELF, 1);
  if (load<u32>(ptr) != 0x464c457f) return fail(ERR_ELF, 2); // "\x7fELF"
  if (load<u8>(ptr, 4) != 2 || load<u8>(ptr, 5) != 1) return fail(ERR_ELF, 3); // 64-bit LE
  o.type = load<u16>(ptr, 16);
  const phoff = load<u64>(ptr, 32);
  const shoff = load<u64>(ptr, 40);
  const phentsize = <u64>load<u16>(ptr, 54);
  const phnum = <i32>load<u16>(ptr, 56);
  const shentsize = <u64>load<u16>(ptr, 58);
  const shnum = <i32>load<u16>(ptr, 60);
  const shstrndx = <i32>load<u16>(ptr, 62);

  // program headers: the first PT_LOAD
  if (phentsize < 56 || !rangeInside(phoff, phentsize * <u64>phnum, 0, <u64>len)) return fail(ERR_ELF, 4);
  let found = false;
  for (let i = 0; i < phnum; i++) {
    const ph = ptr + <usize>(phoff + <u64>i * phentsize);
    if (load<u32>(ph) == PT_LOAD) {
      o.firstLoadOffset = load<u64>(ph, 8);
      o.firstLoadVaddr = load<u64>(ph, 16);
      found = true;
      break;
    }
  }
  if (!found) return fail(ERR_ELF, 5);

  // section headers (may be absent in odd files; then only program headers are known)
  if (shnum == 0 || shoff == 0) return OK;
  if (shnum > MAX_SECTIONS || shentsize < 64 || !rangeInside(shoff, shentsize * <u64>shnum, 0, <u64>len) || shstrndx >= shnum) {
    return fail(ERR_ELF, 6);
  }
  const shstr = ptr + <usize>(shoff + <u64>shstrndx * shentsize);
  const shstrOff = load<u64>(shstr, 24);
  const shstrSize = load<u64>(shstr, 32);
  if (!rangeInside(shstrOff, shstrSize, 0, <u64>len)) return fail(ERR_ELF, 7);
  const namesLo = ptr + <usize>shstrOff;
  const namesHi = namesLo + <usize>shstrSize;

  let dynsym = -1, symtab = -1;
  for (let i = 0; i < shnum; i++) {
    const sh = ptr + <usize>(shoff + <u64>i * shentsize);
    const nameOff = load<u32>(sh);
    const type = load<u32>(sh, 4);
    if (type == SHT_DYNSYM) dynsym = i;
    else if (type == SHT_SYMTAB) { symtab = i; o.hasSymtab = true; }
    if (<u64>nameOff >= shstrSize) continue;
    const name = namesLo + nameOff;
    if (nameIs(name, namesHi, ".PyRuntime")) {
      o.pyRuntimeAddr = load<u64>(sh, 16);
      o.pyRuntimeOffset = load<u64>(sh, 24);
      o.pyRuntimeSize = load<u64>(sh, 32);
    } else if (nameIs(name, namesHi, ".eh_frame_hdr")) {
      o.ehFrameHdrAddr = load<u64>(sh, 16);
      o.ehFrameHdrSize = load<u64>(sh, 32);
    } else if (nameIs(name, namesHi, ".eh_frame")) {
      o.ehFrameAddr = load<u64>(sh, 16);
      o.ehFrameSize = load<u64>(sh, 32);
    } else if (nameIs(name, namesHi, ".note.gnu.build-id")) {
      o.buildIdAddr = load<u64>(sh, 16);
      o.buildIdSize = load<u64>(sh, 32);
    } else if (nameIs(name, namesHi, ".AsyncioDebug")) {
      o.asyncioDebugAddr = load<u64>(sh, 16);
      o.asyncioDebugSize = load<u64>(sh, 32);
    } else if (type == SHT_NOBITS && nameIs(name, namesHi, ".bss")) {
      o.bssAddr = load<u64>(sh, 16);
      o.bssSize = load<u64>(sh, 32);
    } else if (nameIs(name, namesHi, ".data")) {
      o.dataAddr = load<u64>(sh, 16);
      o.dataSize = load<u64>(sh, 32);
    }
  }
  // .dynsym first (exported names), then .symtab (locals such as interp_head)
  for (let pass = 0; pass < 2; pass++) {
    const idx = pass == 0 ? dynsym : symtab;
    if (idx < 0) continue;
    const sh = ptr + <usize>(shoff + <u64>idx * shentsize);
    const link = <i32>load<u32>(sh, 40);
    if (link < 0 || link >= shnum) continue;
    const strSh = ptr + <usize>(shoff + <u64>link * shentsize);
    scanSymbols(o, ptr, len, load<u64>(sh, 24), load<u64>(sh, 32), load<u64>(sh, 56),
      load<u64>(strSh, 24), load<u64>(strSh, 32), keepSymbols);
  }
  return OK;
}

// ---- loading only what parsing needs: the host asks which byte ranges to read next ----
const MAX_RANGES: i32 = 16;
const RANGES: usize = memory.data(MAX_RANGES * 8, 8); // (i32 file offset, i32 length) pairs
let rangeCount: i32 = 0;

export function elfRangesPtr(): usize { return RANGES; }

function addRange(off: u64, len: u64, fileLen: usize): void {
  if (rangeCount >= MAX_RANGES || len == 0 || off >= <u64>fileLen) return;
  if (len > <u64>fileLen - off) len = <u64>fileLen - off; // never off + len: it can wrap
  store<i32>(RANGES + (<usize>rangeCount << 3), <i32>off);
  store<i32>(RANGES + (<usize>rangeCount << 3), <i32>len, 4);
  rangeCount++;
}

/**
 * The file ranges elfParse needs that are not loaded yet, for a file of fileLen bytes loaded
 * sparsely at ptr (its first 64 bytes first). Call with stage 0 after loading the header, then
 * with the next stage after loading the ranges it listed, until it returns 0. Returns the number
 * of (offset, length) pairs at elfRangesPtr(), or -1 when the file is not a 64-bit ELF.
 */
export function elfNextRanges(ptr: usize, fileLen: usize, stage: i32): i32 {
  rangeCount = 0;
  if (fileLen < 64 || load<u32>(ptr) != 0x464c457f || load<u8>(ptr, 4) != 2 || load<u8>(ptr, 5) != 1) return -1;
  const phoff = load<u64>(ptr, 32);
  const shoff = load<u64>(ptr, 40);
  const phentsize = <u64>load<u16>(ptr, 54);
  const phnum = <u64>load<u16>(ptr, 56);
  const shentsize = <u64>load<u16>(ptr, 58);
  const shnum = <i32>load<u16>(ptr, 60);
  if (stage == 0) {
    addRange(phoff, phentsize * phnum, fileLen);
    addRange(shoff, shentsize * <u64>shnum, fileLen);
    return rangeCount;
  }
  if (stage == 1) {
    if (shnum == 0 || shnum > MAX_SECTIONS || shentsize < 64 || !rangeInside(shoff, shentsize * <u64>shnum, 0, <u64>fileLen)) return 0;
    const shstrndx = <i32>load<u16>(ptr, 62);
    if (shstrndx < shnum) {
      const sh = ptr + <usize>(shoff + <u64>shstrndx * shentsize);
      addRange(load<u64>(sh, 24), load<u64>(sh, 32), fileLen);
    }
    for (let i = 0; i < shnum; i++) {
      const sh = ptr + <usize>(shoff + <u64>i * shentsize);
      const type = load<u32>(sh, 4);
      if (type != SHT_SYMTAB && type != SHT_DYNSYM) continue;
      addRange(load<u64>(sh, 24), load<u64>(sh, 32), fileLen);
      const link = <i32>load<u32>(sh, 40);
      if (link >= 0 && link < shnum) {
        const strSh = ptr + <usize>(shoff + <u64>link * shentsize);
        addRange(load<u64>(strSh, 24), load<u64>(strSh, 32), fileLen);
      }
    }
    return rangeCount;
  }
  return 0;
}
