// ELF core files (ET_CORE) as the Linux kernel and gdb's `gcore` write them: which addresses the
// file holds and where (PT_LOAD), and from the notes (PT_NOTE) the threads (NT_PRSTATUS: id,
// signal, in a system call or not, and the registers, for native stacks), the process
// (NT_PRPSINFO), the file-backed mappings (NT_FILE) and the auxiliary vector (NT_AUXV).
// The host copies in the file's head (ELF header and program headers; coreFileParse says how
// much it needs), then each note segment (coreFileParseNotes); results are flat records the host
// reads once. Every count, size and offset is checked against the bytes given and a named bound:
// a truncated, corrupted or foreign file ends in a status, never a trap.
// Must not know: CPython, files on disk, how memory is later served (host/target/core-file.ts).
// Source of truth: System V gABI ELF-64 (header, program headers, notes, PN_XNUM); Linux
// include/uapi/linux/elfcore.h and include/linux/elfcore.h (elf_prstatus, elf_prpsinfo, x86-64),
// fs/binfmt_elf.c (fill_files_note: the NT_FILE layout), include/uapi/linux/auxvec.h.

import {
  DETAIL_CORE_SHORT, DETAIL_CORE_NOT_ELF, DETAIL_CORE_NOT_ELF64LE, DETAIL_CORE_NOT_CORE, DETAIL_CORE_OTHER_ARCH,
  DETAIL_CORE_BAD_HEADERS, DETAIL_CORE_TRUNCATED, DETAIL_CORE_NO_LOAD, DETAIL_CORE_NEED_MORE,
} from "../contract";
import { OK, ERR_ELF, ERR_LIMIT, ERR_NO_MEMORY, fail } from "../status";
import { Vec } from "../util/vec";

const ET_CORE: u16 = 4;
const EM_X86_64: u16 = 62;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const PN_XNUM: i32 = 0xffff;
const NT_PRSTATUS: u32 = 1;
const NT_PRPSINFO: u32 = 3;
const NT_AUXV: u32 = 6;
const NT_FILE: u32 = 0x46494c45; // "FILE"

/** Program headers read at most (the kernel's vm.max_map_count defaults to 65530). */
export const MAX_SEGMENTS: i32 = 1 << 20;
/** Notes read at most across all note segments (one NT_PRSTATUS etc. per thread). */
const MAX_NOTES: i32 = 1 << 20;
/** Threads recorded at most. */
const MAX_CORE_THREADS: i32 = 1 << 16;
/** File-backed mappings recorded at most. */
const MAX_MAPPINGS: i32 = 1 << 20;
/** Bytes of mapped-file paths kept at most. */
const MAX_PATH_BYTES: i32 = 64 << 20;
/** A path longer than this is cut (PATH_MAX). */
const MAX_PATH: i32 = 4096;

// elf_prstatus on x86-64 (include/uapi/linux/elfcore.h): pr_cursig at 12, pr_pid at 32,
// pr_reg (user_regs_struct, 27 longs) at 112; orig_rax is register 15.
const PRSTATUS_CURSIG: i32 = 12;
const PRSTATUS_PID: i32 = 32;
const PRSTATUS_REGS: i32 = 112;
/** user_regs_struct: 27 u64 words (docs/native-stacks.md §4.1). */
export const CORE_REGS_WORDS: i32 = 27;
const PRSTATUS_REGS_END: i32 = PRSTATUS_REGS + CORE_REGS_WORDS * 8;
const PRSTATUS_ORIG_RAX: i32 = PRSTATUS_REGS + 15 * 8;
const PRSTATUS_RSP: i32 = PRSTATUS_REGS + 19 * 8;
const PRSTATUS_MIN: i32 = PRSTATUS_RSP + 8;
// elf_prpsinfo on x86-64: pr_sname at 1, pr_pid at 24, pr_fname[16] at 40, pr_psargs[80] at 56.
const PRPSINFO_SNAME: i32 = 1;
const PRPSINFO_PID: i32 = 24;
const PRPSINFO_FNAME: i32 = 40;
const PRPSINFO_FNAME_LEN: i32 = 16;
const PRPSINFO_PSARGS: i32 = 56;
const PRPSINFO_PSARGS_LEN: i32 = 80;
const PRPSINFO_MIN: i32 = PRPSINFO_PSARGS + PRPSINFO_PSARGS_LEN;

// auxiliary vector entries kept
const AT_PHDR: u64 = 3;
const AT_ENTRY: u64 = 9;
const AT_EXECFN: u64 = 31;
const AT_PAGESZ: u64 = 6;
const AT_SYSINFO_EHDR: u64 = 33;

/** Detail of ERR_ELF when the head given is too short: coreFileHeadNeeded() says how much. */
export const CORE_NEED_MORE: i32 = DETAIL_CORE_NEED_MORE;

// ---- results ----
/** PT_LOAD record: vaddr u64, memsz u64, file offset u64, filesz u64 (clipped to the file), flags u32, pad. */
export const CORE_LOAD_SIZE: i32 = 40;
/** PT_NOTE record: file offset u64, size u64 (clipped to the file). */
export const CORE_NOTE_SIZE: i32 = 16;
/**
 * Thread record: tid i32, signal i32, in a system call i32 (orig_rax >= 0), registers present i32
 * (1 when the note holds the whole pr_reg), stack pointer u64, then at CORE_THREAD_REGS pr_reg's
 * CORE_REGS_WORDS u64 words in user_regs_struct order (zeros when absent).
 */
export const CORE_THREAD_SIZE: i32 = 24 + CORE_REGS_WORDS * 8;
export const CORE_THREAD_REGS: i32 = 24;
/** Mapping record: start u64, end u64, file offset u64 (bytes), path offset u32, path length u32 (in the path arena). */
export const CORE_MAPPING_SIZE: i32 = 32;

const loads = new Vec(CORE_LOAD_SIZE);
const noteSegs = new Vec(CORE_NOTE_SIZE);
const threads = new Vec(CORE_THREAD_SIZE);
const mappings = new Vec(CORE_MAPPING_SIZE);
const paths = new Vec(1);
let headNeeded: u64 = 0;
let elfTypeSeen: u32 = 0;
let elfMachineSeen: u32 = 0;
let truncated: bool = false;
let notesSeen: i32 = 0;
let notesBad: i32 = 0;
let processId: i32 = 0;
let processState: u8 = 0;
const FNAME: usize = memory.data(PRPSINFO_FNAME_LEN + 1, 8);
const PSARGS: usize = memory.data(PRPSINFO_PSARGS_LEN + 1, 8);
let fnameLen: i32 = 0;
let psargsLen: i32 = 0;
let auxPhdr: u64 = 0, auxEntry: u64 = 0, auxExecfn: u64 = 0, auxPagesz: u64 = 0, auxSysinfoEhdr: u64 = 0;

export function coreFileHeadNeeded(): u64 { return headNeeded; }
/** e_type and e_machine of the last file given (the host names what a non-core file is). */
export function coreFileElfType(): u32 { return elfTypeSeen; }
export function coreFileElfMachine(): u32 { return elfMachineSeen; }
/** Did a segment or note reach past the end of the file (a truncated core)? */
export function coreFileTruncated(): bool { return truncated; }
export function coreFileLoadsPtr(): usize { return loads.ptr; }
export function coreFileLoadCount(): i32 { return loads.len; }
export function coreFileNotesPtr(): usize { return noteSegs.ptr; }
export function coreFileNoteCount(): i32 { return noteSegs.len; }
export function coreFileThreadsPtr(): usize { return threads.ptr; }
export function coreFileThreadCount(): i32 { return threads.len; }
export function coreFileMappingsPtr(): usize { return mappings.ptr; }
export function coreFileMappingCount(): i32 { return mappings.len; }
export function coreFilePathsPtr(): usize { return paths.ptr; }
/** Notes parsed, and notes skipped as malformed. */
export function coreFileNotesSeen(): i32 { return notesSeen; }
export function coreFileNotesBad(): i32 { return notesBad; }
/** NT_PRPSINFO: the process id (0 when absent), its state letter, name and arguments. */
export function coreFilePid(): i32 { return processId; }
export function coreFileState(): u8 { return processState; }
export function coreFileNamePtr(): usize { return FNAME; }
export function coreFileNameLen(): i32 { return fnameLen; }
export function coreFileArgsPtr(): usize { return PSARGS; }
export function coreFileArgsLen(): i32 { return psargsLen; }
/** NT_AUXV: AT_PHDR (the executable's program headers in memory), AT_ENTRY, AT_EXECFN, AT_PAGESZ. */
export function coreFileAuxPhdr(): u64 { return auxPhdr; }
export function coreFileAuxEntry(): u64 { return auxEntry; }
export function coreFileAuxExecfn(): u64 { return auxExecfn; }
export function coreFileAuxPagesz(): u64 { return auxPagesz; }
/** NT_AUXV: AT_SYSINFO_EHDR, where the vdso's ELF image is (0 when absent); not in NT_FILE, it is no file. */
export function coreFileAuxSysinfoEhdr(): u64 { return auxSysinfoEhdr; }

function reset(): void {
  loads.clear(); noteSegs.clear(); threads.clear(); mappings.clear(); paths.clear();
  headNeeded = 0; elfTypeSeen = 0; elfMachineSeen = 0; truncated = false; notesSeen = 0; notesBad = 0;
  processId = 0; processState = 0; fnameLen = 0; psargsLen = 0;
  auxPhdr = 0; auxEntry = 0; auxExecfn = 0; auxPagesz = 0; auxSysinfoEhdr = 0;
}

/** Bytes [off, off+n) lie inside [0, len)? (u64 arithmetic: no wrap-around.) */
@inline function inside(off: u64, n: u64, len: u64): bool {
  return off <= len && n <= len - off;
}

/**
 * Parses the head of a core file: [ptr, ptr+len) holds the file's first len bytes, fileSize is
 * the whole file's size. OK; ERR_ELF with detail CORE_NEED_MORE when the program headers lie
 * past len (coreFileHeadNeeded() bytes are needed); other ERR_ELF details: 1 shorter than an ELF
 * header, 2 not ELF, 3 not 64-bit little-endian, 4 not a core file (coreFileElfType()), 5 not
 * x86-64, 6 malformed program header table, 7 program headers past the end of the file,
 * 8 no PT_LOAD segment. ERR_LIMIT: more than MAX_SEGMENTS program headers.
 */
export function coreFileParse(ptr: usize, len: i32, fileSize: u64): i32 {
  reset();
  const n = <u64>len;
  if (len < 64) return fail(ERR_ELF, DETAIL_CORE_SHORT);
  if (load<u32>(ptr) != 0x464c457f) return fail(ERR_ELF, DETAIL_CORE_NOT_ELF);
  if (load<u8>(ptr, 4) != 2 || load<u8>(ptr, 5) != 1) return fail(ERR_ELF, DETAIL_CORE_NOT_ELF64LE);
  elfTypeSeen = <u32>load<u16>(ptr, 16);
  elfMachineSeen = <u32>load<u16>(ptr, 18);
  if (<u16>elfTypeSeen != ET_CORE) return fail(ERR_ELF, DETAIL_CORE_NOT_CORE);
  if (<u16>elfMachineSeen != EM_X86_64) return fail(ERR_ELF, DETAIL_CORE_OTHER_ARCH);
  const phoff = load<u64>(ptr, 32);
  const shoff = load<u64>(ptr, 40);
  const phentsize = <u64>load<u16>(ptr, 54);
  let phnum = <i32>load<u16>(ptr, 56);
  if (phentsize < 56) return fail(ERR_ELF, DETAIL_CORE_BAD_HEADERS);
  if (phnum == PN_XNUM) {
    // more than 0xfffe segments: the real count is section header 0's sh_info
    if (shoff == 0 || !inside(shoff, 64, fileSize)) return fail(ERR_ELF, DETAIL_CORE_BAD_HEADERS);
    if (!inside(shoff, 64, n)) { headNeeded = shoff + 64; return fail(ERR_ELF, CORE_NEED_MORE); }
    const info = load<u32>(ptr + <usize>shoff, 44);
    if (info > <u32>MAX_SEGMENTS) return fail(ERR_LIMIT, 10);
    phnum = <i32>info;
  }
  if (phnum == 0) return fail(ERR_ELF, DETAIL_CORE_NO_LOAD);
  const tableBytes = phentsize * <u64>phnum;
  if (!inside(phoff, tableBytes, fileSize)) return fail(ERR_ELF, DETAIL_CORE_TRUNCATED);
  if (!inside(phoff, tableBytes, n)) { headNeeded = phoff + tableBytes; return fail(ERR_ELF, CORE_NEED_MORE); }
  for (let i = 0; i < phnum; i++) {
    const ph = ptr + <usize>(phoff + <u64>i * phentsize);
    const type = load<u32>(ph);
    const offset = load<u64>(ph, 8);
    let filesz = load<u64>(ph, 32);
    // clip to the file: a truncated core still serves what it holds
    if (offset >= fileSize) { if (filesz > 0) truncated = true; filesz = 0; }
    else if (filesz > fileSize - offset) { truncated = true; filesz = fileSize - offset; }
    if (type == PT_LOAD) {
      const vaddr = load<u64>(ph, 16);
      let memsz = load<u64>(ph, 40);
      if (memsz == 0 || vaddr + memsz < vaddr) continue; // empty or wraps around: ignored
      if (filesz > memsz) filesz = memsz;
      const k = loads.grow(1);
      if (k < 0) return fail(ERR_NO_MEMORY, 20);
      const r = loads.at(k);
      store<u64>(r, vaddr);
      store<u64>(r, memsz, 8);
      store<u64>(r, offset, 16);
      store<u64>(r, filesz, 24);
      store<u32>(r, load<u32>(ph, 4), 32);
      store<u32>(r, 0, 36);
    } else if (type == PT_NOTE) {
      if (filesz == 0) continue;
      const k = noteSegs.grow(1);
      if (k < 0) return fail(ERR_NO_MEMORY, 21);
      const r = noteSegs.at(k);
      store<u64>(r, offset);
      store<u64>(r, filesz, 8);
    }
  }
  if (loads.len == 0) return fail(ERR_ELF, DETAIL_CORE_NO_LOAD);
  return OK;
}

/** Copies the NUL-terminated string at [p, p+max) into dst (at most max bytes); its length. */
function copyCString(p: usize, max: i32, dst: usize): i32 {
  let k = 0;
  while (k < max && load<u8>(p + k) != 0) k++;
  memory.copy(dst, p, <usize>k);
  store<u8>(dst + k, 0);
  return k;
}

function notePrstatus(d: usize, size: u64): void {
  if (size < <u64>PRSTATUS_MIN) { notesBad++; return; }
  if (threads.len >= MAX_CORE_THREADS) return;
  const k = threads.grow(1);
  if (k < 0) return;
  const r = threads.at(k);
  store<i32>(r, load<i32>(d + PRSTATUS_PID));
  store<i32>(r, <i32>load<i16>(d + PRSTATUS_CURSIG), 4);
  store<i32>(r, load<i64>(d + PRSTATUS_ORIG_RAX) >= 0 ? 1 : 0, 8);
  store<u64>(r, load<u64>(d + PRSTATUS_RSP), 16);
  // the whole pr_reg (native stacks): only from a note long enough to hold it
  if (size >= <u64>PRSTATUS_REGS_END) {
    store<i32>(r, 1, 12);
    memory.copy(r + <usize>CORE_THREAD_REGS, d + <usize>PRSTATUS_REGS, <usize>(CORE_REGS_WORDS * 8));
  } else {
    store<i32>(r, 0, 12);
    memory.fill(r + <usize>CORE_THREAD_REGS, 0, <usize>(CORE_REGS_WORDS * 8));
  }
}

function notePrpsinfo(d: usize, size: u64): void {
  if (size < <u64>PRPSINFO_MIN) { notesBad++; return; }
  processState = load<u8>(d + PRPSINFO_SNAME);
  processId = load<i32>(d + PRPSINFO_PID);
  fnameLen = copyCString(d + PRPSINFO_FNAME, PRPSINFO_FNAME_LEN, FNAME);
  psargsLen = copyArgs(d + PRPSINFO_PSARGS, PRPSINFO_PSARGS_LEN, PSARGS);
}

/**
 * pr_psargs: the kernel writes the command line with NULs turned to spaces; gdb's gcore keeps
 * the NULs between arguments. Both: up to the last non-NUL byte, NULs as spaces.
 */
function copyArgs(p: usize, max: i32, dst: usize): i32 {
  let end = max;
  while (end > 0 && load<u8>(p + end - 1) == 0) end--;
  for (let k = 0; k < end; k++) {
    const c = load<u8>(p + k);
    store<u8>(dst + k, c == 0 ? 0x20 : c);
  }
  store<u8>(dst + end, 0);
  return end;
}

function noteAuxv(d: usize, size: u64): void {
  const count = <i32>(size >> 4);
  for (let i = 0; i < count && i < 4096; i++) {
    const type = load<u64>(d + (<usize>i << 4));
    const value = load<u64>(d + (<usize>i << 4), 8);
    if (type == 0) break; // AT_NULL
    if (type == AT_PHDR) auxPhdr = value;
    else if (type == AT_ENTRY) auxEntry = value;
    else if (type == AT_EXECFN) auxExecfn = value;
    else if (type == AT_PAGESZ) auxPagesz = value;
    else if (type == AT_SYSINFO_EHDR) auxSysinfoEhdr = value;
  }
}

/** NT_FILE: u64 count, u64 page size, count × {start, end, page offset}, count NUL-terminated paths. */
function noteFile(d: usize, size: u64): i32 {
  if (size < 16) { notesBad++; return OK; }
  const count = load<u64>(d);
  const pageSize = load<u64>(d, 8);
  if (count > <u64>MAX_MAPPINGS || count * 24 > size - 16 || pageSize == 0 || pageSize > (1 << 30)) { notesBad++; return OK; }
  const n = <i32>count;
  let s = d + 16 + <usize>n * 24;
  const end = d + <usize>size;
  for (let i = 0; i < n; i++) {
    const e = d + 16 + <usize>i * 24;
    const start = load<u64>(e);
    const stop = load<u64>(e, 8);
    const pgoff = load<u64>(e, 16);
    // the path: NUL-terminated, inside the note
    let k: usize = 0;
    while (s + k < end && load<u8>(s + k) != 0) k++;
    if (s + k >= end) { notesBad++; break; } // no terminator: the rest is unreadable
    const pathLen = k > <usize>MAX_PATH ? MAX_PATH : <i32>k;
    const pathStart = s;
    s += k + 1;
    if (stop <= start || pgoff > u64.MAX_VALUE / pageSize) continue; // empty or nonsense: skipped
    if (mappings.len >= MAX_MAPPINGS || paths.len + pathLen > MAX_PATH_BYTES) return fail(ERR_LIMIT, 11);
    const at = paths.grow(pathLen);
    if (at < 0) return fail(ERR_NO_MEMORY, 22);
    memory.copy(paths.at(at), pathStart, <usize>pathLen);
    const m = mappings.grow(1);
    if (m < 0) return fail(ERR_NO_MEMORY, 23);
    const r = mappings.at(m);
    store<u64>(r, start);
    store<u64>(r, stop, 8);
    store<u64>(r, pgoff * pageSize, 16);
    store<u32>(r, <u32>at, 24);
    store<u32>(r, <u32>pathLen, 28);
  }
  return OK;
}

/** Is the note name at p (namesz bytes, NUL included) "CORE"? */
function nameIsCore(p: usize, namesz: u32): bool {
  return namesz == 5 && load<u32>(p) == 0x45524f43 && load<u8>(p + 4) == 0;
}

/**
 * Parses one note segment copied to [ptr, ptr+len) (call once per coreFileNotesPtr record; the
 * results accumulate). A malformed note ends the segment (counted in coreFileNotesBad); OK unless
 * a bound was hit or memory ran out.
 */
export function coreFileParseNotes(ptr: usize, len: i32): i32 {
  const n = <u64>len;
  let off: u64 = 0;
  while (off + 12 <= n) {
    if (notesSeen >= MAX_NOTES) return fail(ERR_LIMIT, 12);
    notesSeen++;
    const h = ptr + <usize>off;
    const namesz = load<u32>(h);
    const descsz = load<u32>(h, 4);
    const type = load<u32>(h, 8);
    const nameOff = off + 12;
    const descOff = nameOff + ((<u64>namesz + 3) & ~(<u64>3));
    const next = descOff + ((<u64>descsz + 3) & ~(<u64>3));
    if (descOff > n || <u64>descsz > n - descOff) { notesBad++; truncated = true; break; }
    if (nameIsCore(ptr + <usize>nameOff, namesz)) {
      const d = ptr + <usize>descOff;
      const size = <u64>descsz;
      if (type == NT_PRSTATUS) notePrstatus(d, size);
      else if (type == NT_PRPSINFO) notePrpsinfo(d, size);
      else if (type == NT_AUXV) noteAuxv(d, size);
      else if (type == NT_FILE) {
        const st = noteFile(d, size);
        if (st != OK) return st;
      }
    }
    off = next;
  }
  return OK;
}
