// ELF64 little-endian parsing of the file that holds the interpreter (libpython or the python
// executable), from bytes the host copied into local memory: the first PT_LOAD (for the load
// bias), the symbols wspy needs (.dynsym, then .symtab), and the .PyRuntime / .bss sections.
// Must not know: CPython struct layouts or versions; it only finds names and addresses.
// Source of truth: the System V gABI ELF-64 object file format; elf.h.

import { OK, ERR_ELF, fail } from "../status";
import { rangeInside } from "../util/bounds";

// The symbols wspy looks for, by index.
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

// Results of the last parse (ELF virtual addresses; 0 = not found).
const symAddr = new StaticArray<u64>(SYM_COUNT);
const symSize = new StaticArray<u64>(SYM_COUNT);
let elfType: u32 = 0;
let firstLoadVaddr: u64 = 0;
let firstLoadOffset: u64 = 0;
let pyRuntimeSectionAddr: u64 = 0;
let pyRuntimeSectionSize: u64 = 0;
let pyRuntimeSectionOffset: u64 = 0;
let bssAddr: u64 = 0;
let bssSize: u64 = 0;
let dataAddr: u64 = 0;
let dataSize: u64 = 0;

export function elfSymbol(i: i32): u64 { return i >= 0 && i < SYM_COUNT ? symAddr[i] : 0; }
export function elfSymbolSize(i: i32): u64 { return i >= 0 && i < SYM_COUNT ? symSize[i] : 0; }
export function elfType_(): u32 { return elfType; }
export function elfFirstLoadVaddr(): u64 { return firstLoadVaddr; }
export function elfFirstLoadOffset(): u64 { return firstLoadOffset; }
export function elfPyRuntimeSection(): u64 { return pyRuntimeSectionAddr; }
export function elfPyRuntimeSectionSize(): u64 { return pyRuntimeSectionSize; }
export function elfPyRuntimeSectionOffset(): u64 { return pyRuntimeSectionOffset; }
export function elfBss(): u64 { return bssAddr; }
export function elfBssSize(): u64 { return bssSize; }
export function elfData(): u64 { return dataAddr; }
export function elfDataSize(): u64 { return dataSize; }

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

function scanSymbols(base: usize, len: usize, symOff: u64, symSizeBytes: u64, entSize: u64, strOff: u64, strSize: u64): void {
  if (entSize < 24 || !rangeInside(symOff, symSizeBytes, 0, <u64>len) || !rangeInside(strOff, strSize, 0, <u64>len)) return;
  let count = <i32>(symSizeBytes / entSize);
  if (count > MAX_SYMBOLS) count = MAX_SYMBOLS;
  const strLo = base + <usize>strOff;
  const strHi = strLo + <usize>strSize;
  for (let i = 0; i < count; i++) {
    const s = base + <usize>(symOff + <u64>i * entSize);
    const nameOff = load<u32>(s);
    const value = load<u64>(s, 8);
    if (value == 0 || <u64>nameOff >= strSize) continue;
    const name = strLo + nameOff;
    const first = load<u8>(name);
    // cheap filter: every wanted name starts with '_', 'P', 'i' or 'v'
    if (first != 0x5f && first != 0x50 && first != 0x69 && first != 0x76) continue;
    const size = load<u64>(s, 16);
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

/** Parses the ELF file at [ptr, ptr+len). OK or ERR_ELF (detail: what was wrong). */
export function elfParse(ptr: usize, len: usize): i32 {
  for (let k = 0; k < SYM_COUNT; k++) { symAddr[k] = 0; symSize[k] = 0; }
  elfType = 0; firstLoadVaddr = 0; firstLoadOffset = 0;
  pyRuntimeSectionAddr = 0; pyRuntimeSectionSize = 0; pyRuntimeSectionOffset = 0;
  bssAddr = 0; bssSize = 0; dataAddr = 0; dataSize = 0;
  if (len < 64) return fail(ERR_ELF, 1);
  if (load<u32>(ptr) != 0x464c457f) return fail(ERR_ELF, 2); // "\x7fELF"
  if (load<u8>(ptr, 4) != 2 || load<u8>(ptr, 5) != 1) return fail(ERR_ELF, 3); // 64-bit LE
  elfType = load<u16>(ptr, 16);
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
      firstLoadOffset = load<u64>(ph, 8);
      firstLoadVaddr = load<u64>(ph, 16);
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
    else if (type == SHT_SYMTAB) symtab = i;
    if (<u64>nameOff >= shstrSize) continue;
    const name = namesLo + nameOff;
    if (nameIs(name, namesHi, ".PyRuntime")) {
      pyRuntimeSectionAddr = load<u64>(sh, 16);
      pyRuntimeSectionOffset = load<u64>(sh, 24);
      pyRuntimeSectionSize = load<u64>(sh, 32);
    } else if (type == SHT_NOBITS && nameIs(name, namesHi, ".bss")) {
      bssAddr = load<u64>(sh, 16);
      bssSize = load<u64>(sh, 32);
    } else if (nameIs(name, namesHi, ".data")) {
      dataAddr = load<u64>(sh, 16);
      dataSize = load<u64>(sh, 32);
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
    scanSymbols(ptr, len, load<u64>(sh, 24), load<u64>(sh, 32), load<u64>(sh, 56),
      load<u64>(strSh, 24), load<u64>(strSh, 32));
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
