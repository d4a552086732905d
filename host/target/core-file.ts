// ELF core files (the kernel's, gdb's `gcore`'s) as a ProcessView: the core parses the file's
// head and notes (assembly/locate/core-file.ts); this file opens the file, copies those parts
// in, and serves the core's reads: from the core file where a PT_LOAD segment holds the bytes,
// else from the file on disk that NT_FILE says was mapped there (read-only code and data of
// python and its libraries, which cores leave out), found as named, under --sysroot DIR, or at
// --exe PATH for the executable. A file that differs from the one the process mapped (its first
// page in the core does not match) counts as missing: its bytes would be wrong. Each thread's
// registers (NT_PRSTATUS's pr_reg) are kept for native stacks, and the memory map lists the
// vdso (AT_SYSINFO_EHDR's segment; no file, so NT_FILE leaves it out) for unwinding through it.
// Must not know: CPython layouts, which addresses the core will read or why.
// Source of truth: assembly/locate/core-file.ts (the records read here); System V gABI ELF-64;
// Linux fs/binfmt_elf.c (what a core holds: vma_dump_size, fill_files_note); process_vm_readv(2)
// (the semantics the reader imitates: iovecs served in order, stopping at the first that fails).

import { readSync, closeSync, fstatSync } from "node:fs";
import path from "node:path";
import type { Core } from "../core/core.js";
import type { Reader } from "./reader.js";
import type { Mapping } from "./proc.js";
import type { ProcessView, ThreadStates, MappedFile } from "./attach.js";
import { WspyError } from "../errors.js";
import {
  READ_FAULT, ST_ELF, DETAIL_CORE_SHORT, DETAIL_CORE_NOT_ELF, DETAIL_CORE_NOT_ELF64LE, DETAIL_CORE_NOT_CORE,
  DETAIL_CORE_OTHER_ARCH, DETAIL_CORE_TRUNCATED, DETAIL_CORE_NO_LOAD, DETAIL_CORE_NEED_MORE,
} from "../core/contract.js";
import { SNAPSHOT_MAGIC } from "./snapshot-file.js";
import { openInputFile, openRegular, inputLimit, sizeText, raiseHint, shownName, fileIdentity } from "../io/files.js";

/** The core's core-file exports (assembly/locate/core-file.ts), typed where used. */
export interface CoreFileExports {
  coreFileParse(ptr: number, len: number, fileSize: bigint): number;
  coreFileParseNotes(ptr: number, len: number): number;
  coreFileHeadNeeded(): bigint;
  coreFileElfType(): number;
  coreFileElfMachine(): number;
  coreFileTruncated(): number;
  coreFileLoadsPtr(): number;
  coreFileLoadCount(): number;
  coreFileNotesPtr(): number;
  coreFileNoteCount(): number;
  coreFileThreadsPtr(): number;
  coreFileThreadCount(): number;
  coreFileMappingsPtr(): number;
  coreFileMappingCount(): number;
  coreFilePathsPtr(): number;
  coreFileNotesBad(): number;
  coreFilePid(): number;
  coreFileNamePtr(): number;
  coreFileNameLen(): number;
  coreFileArgsPtr(): number;
  coreFileArgsLen(): number;
  coreFileAuxPhdr(): bigint;
  coreFileAuxExecfn(): bigint;
  coreFileAuxSysinfoEhdr(): bigint;
  CORE_LOAD_SIZE: { value: number };
  CORE_NOTE_SIZE: { value: number };
  CORE_THREAD_SIZE: { value: number };
  CORE_THREAD_REGS: { value: number };
  CORE_REGS_WORDS: { value: number };
  CORE_MAPPING_SIZE: { value: number };
}

export interface CoreFileOptions {
  /** the executable to use instead of the one the core names (cores from another machine) */
  exe?: string;
  /** a folder holding the mapped files at their paths (cores from another machine) */
  sysroot?: string;
  /** where a one-line warning goes when a file the core names is not a regular file (default: stderr) */
  notice?: (line: string) => void;
}

/** How much of a file's head is read first, and at most (program headers of a huge core). */
const HEAD_FIRST = 64 * 1024;
const HEAD_MAX = 64 * 1024 * 1024;
/** Bytes of note segments read at most (NT_FILE of a process with very many mappings). */
const NOTES_MAX = 256 * 1024 * 1024;
/** A read served from mapped files is compared with the core's copy of its first page, up to this. */
const CHECK_BYTES = 4096;
/** Addresses from 2^53 up (the vsyscall page) do not fit a double exactly: never served. */
const MAX_ADDR = 2 ** 53;

const ELF_TYPES: Record<number, string> = { 1: "a relocatable object file", 2: "an executable", 3: "a shared library or executable" };

/** Where a core file's bytes come from: a file (fileSource), or memory (tests, fuzzing). */
export interface ByteSource {
  readonly size: number;
  /** Copies up to len bytes at position into buf[offset...]; how many it copied. */
  read(buf: Uint8Array, offset: number, len: number, position: number): number;
  close(): void;
}

/** A ByteSource over an open file descriptor. */
export function fileSource(fd: number): ByteSource {
  const size = fstatSync(fd).size;
  let open = true;
  return {
    size,
    read: (buf, offset, len, position) => (open ? readExactly(fd, buf, offset, len, position) : 0),
    close: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

interface Segment { vaddr: number; end: number; offset: number; writable: boolean }
interface FileMapping { start: number; end: number; offset: number; path: string }
interface OpenFile { fd: number; path: string; problem: string; irregular: boolean; warned: boolean }

/** Two u32 halves as a number (exact below 2^53, imprecise but huge above). */
function u64(dv: DataView, p: number): number {
  return dv.getUint32(p, true) + dv.getUint32(p + 4, true) * 2 ** 32;
}

/** The first index i with keys[i] > x (keys sorted ascending). */
function upperBound(keys: Float64Array, x: number): number {
  let lo = 0, hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function readExactly(fd: number, buf: Uint8Array, offset: number, len: number, position: number): number {
  let done = 0;
  while (done < len) {
    const n = readSync(fd, buf, offset + done, len - done, position + done);
    if (n <= 0) break;
    done += n;
  }
  return done;
}

/** An ELF core file, parsed: its threads, process, segments and file-backed mappings. */
export class CoreFile {
  readonly file: string;
  readonly size: number;
  pid = 0;
  /** NT_PRPSINFO's arguments (the kernel keeps the first 80 bytes, spaces for NULs) */
  command: string[] = [];
  name = "";
  /** NT_PRSTATUS of each thread; regs: its pr_reg (user_regs_struct words), null when the note is too short to hold it */
  threads: { tid: number; signal: number; inSyscall: boolean; sp: number; regs: BigUint64Array | null }[] = [];
  truncated = false;
  /** the executable's path as the process saw it */
  exePath = "";
  /** the vdso's image (AT_SYSINFO_EHDR and the segment holding it), null when the core has none */
  vdso: { start: number; end: number } | null = null;
  private src: ByteSource;
  private segs: Segment[] = [];
  private segStart = new Float64Array(0);
  private maps: FileMapping[] = [];
  private mapStart = new Float64Array(0);
  private files = new Map<string, OpenFile>();
  private readonly opts: CoreFileOptions;
  /** files reads needed that are missing or differ, by the path the process saw */
  readonly missing = new Map<string, string>();
  /** files reads needed that are not regular files (FIFOs, devices), left out with a warning */
  skippedIrregular = 0;

  private constructor(file: string, src: ByteSource, opts: CoreFileOptions) {
    this.file = file;
    this.src = src;
    this.size = src.size;
    this.opts = opts;
  }

  /** Opens and parses file with core's help. Throws a WspyError saying what the file is when it is not a core. */
  static open(core: Core, file: string, opts: CoreFileOptions = {}): CoreFile {
    // a regular file, opened without blocking (host/io/files.ts); read by ranges, each bounded, never whole
    const { fd } = openInputFile(file);
    return CoreFile.fromSource(core, file, fileSource(fd), opts);
  }

  /** Parses a core file whose bytes src serves (name: for messages). Closes src on failure. */
  static fromSource(core: Core, name: string, src: ByteSource, opts: CoreFileOptions = {}): CoreFile {
    const cf = new CoreFile(name, src, opts);
    try {
      cf.parse(core);
      return cf;
    } catch (e) {
      src.close();
      throw e;
    }
  }

  private readAt(position: number, len: number): Buffer {
    const buf = Buffer.alloc(len);
    const n = this.src.read(buf, 0, len, position);
    return n === len ? buf : buf.subarray(0, n);
  }

  private parse(core: Core): void {
    const x = core.x as unknown as CoreFileExports;
    const file = this.file;
    if (this.size === 0) throw new WspyError("BAD_INPUT", `${file} is empty`, "pass an ELF core file (`gcore -o PREFIX PID` writes one)");
    let head = this.readAt(0, Math.min(this.size, HEAD_FIRST));
    if (head.subarray(0, SNAPSHOT_MAGIC.length).toString("latin1") === SNAPSHOT_MAGIC) {
      throw new WspyError("BAD_INPUT", `${file} is a wspy snapshot, not a core file`, "use `wspy dump --snapshot FILE`");
    }
    let st = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const ptr = core.copyIn(head);
      st = x.coreFileParse(ptr, head.length, BigInt(this.size));
      core.x.freeBuffer(ptr);
      if (st === ST_ELF && core.x.lastErrorDetail() === DETAIL_CORE_NEED_MORE) {
        const need = Number(x.coreFileHeadNeeded());
        if (need > HEAD_MAX) throw new WspyError("BAD_INPUT", `${file}: its program headers are too large (${need} bytes)`, "is it damaged?");
        head = this.readAt(0, need);
        continue;
      }
      break;
    }
    if (st !== 0) throw this.notACore(st, core.x.lastErrorDetail(), x);
    this.truncated = x.coreFileTruncated() !== 0;
    let dv = new DataView(core.x.memory.buffer);

    // notes: each segment copied in and parsed
    const notes: { offset: number; size: number }[] = [];
    for (let i = 0, n = x.coreFileNoteCount(), p = x.coreFileNotesPtr(); i < n; i++, p += x.CORE_NOTE_SIZE.value) {
      notes.push({ offset: u64(dv, p), size: u64(dv, p + 8) });
    }
    let total = 0;
    for (const note of notes) {
      total += note.size;
      if (total > NOTES_MAX) throw new WspyError("BAD_INPUT", `${file}: its notes are too large (over ${NOTES_MAX} bytes)`, "is it damaged?");
      const bytes = this.readAt(note.offset, note.size);
      const ptr = core.copyIn(bytes.length ? bytes : Buffer.alloc(1));
      const r = x.coreFileParseNotes(ptr, bytes.length);
      core.x.freeBuffer(ptr);
      if (r !== 0) throw new WspyError("BAD_INPUT", `${file}: its notes could not be read (status ${r}, detail ${core.x.lastErrorDetail()})`, "is it damaged?");
    }
    if (x.coreFileNotesBad() > 0) this.truncated = true;
    dv = new DataView(core.x.memory.buffer);
    const u8 = core.u8();
    const text = (ptr: number, len: number): string => Buffer.from(u8.subarray(ptr, ptr + len)).toString("utf8");

    for (let i = 0, n = x.coreFileThreadCount(), p = x.coreFileThreadsPtr(); i < n; i++, p += x.CORE_THREAD_SIZE.value) {
      const regsAt = p + x.CORE_THREAD_REGS.value, regsLen = x.CORE_REGS_WORDS.value * 8;
      const regs = dv.getInt32(p + 12, true) !== 0 ? new BigUint64Array(core.x.memory.buffer.slice(regsAt, regsAt + regsLen)) : null;
      this.threads.push({ tid: dv.getInt32(p, true), signal: dv.getInt32(p + 4, true), inSyscall: dv.getInt32(p + 8, true) !== 0, sp: u64(dv, p + 16), regs });
    }
    this.pid = x.coreFilePid() || (this.threads[0]?.tid ?? 0);
    this.name = text(x.coreFileNamePtr(), x.coreFileNameLen());
    const args = text(x.coreFileArgsPtr(), x.coreFileArgsLen()).trim();
    this.command = args ? args.split(/ +/) : this.name ? [this.name] : [];

    const segs: Segment[] = [];
    for (let i = 0, n = x.coreFileLoadCount(), p = x.coreFileLoadsPtr(); i < n; i++, p += x.CORE_LOAD_SIZE.value) {
      const vaddr = u64(dv, p), filesz = u64(dv, p + 24);
      if (filesz === 0 || vaddr >= MAX_ADDR || vaddr + filesz > MAX_ADDR) continue;
      segs.push({ vaddr, end: vaddr + filesz, offset: u64(dv, p + 16), writable: (dv.getUint32(p + 32, true) & 2) !== 0 });
    }
    segs.sort((a, b) => a.vaddr - b.vaddr);
    this.segs = segs;
    this.segStart = Float64Array.from(segs, (s) => s.vaddr);
    // the vdso: no file (NT_FILE leaves it out), its image is in the segment that starts at AT_SYSINFO_EHDR
    const ehdr = Number(x.coreFileAuxSysinfoEhdr());
    const vdsoSeg = ehdr ? segs[upperBound(this.segStart, ehdr) - 1] : undefined;
    if (vdsoSeg && vdsoSeg.vaddr === ehdr) this.vdso = { start: vdsoSeg.vaddr, end: vdsoSeg.end };

    const pathsPtr = x.coreFilePathsPtr();
    const maps: FileMapping[] = [];
    for (let i = 0, n = x.coreFileMappingCount(), p = x.coreFileMappingsPtr(); i < n; i++, p += x.CORE_MAPPING_SIZE.value) {
      const start = u64(dv, p), end = u64(dv, p + 8);
      if (end > MAX_ADDR) continue;
      maps.push({ start, end, offset: u64(dv, p + 16), path: text(pathsPtr + dv.getUint32(p + 24, true), dv.getUint32(p + 28, true)) });
    }
    maps.sort((a, b) => a.start - b.start);
    if (!maps.length) {
      throw new WspyError("BAD_INPUT", `core file ${file} does not list the files the process had mapped (no NT_FILE note), so the interpreter cannot be found in it`,
        "take the core with gdb's gcore or a Linux 3.7+ kernel, which write that note");
    }
    this.maps = maps;
    this.mapStart = Float64Array.from(maps, (m) => m.start);

    // the executable: the mapping holding its program headers (AT_PHDR), else the one named like the process
    const phdr = Number(x.coreFileAuxPhdr());
    const holder = phdr ? this.mappingAt(phdr) : null;
    this.exePath = holder?.path ?? maps.find((m) => this.name && path.basename(m.path).startsWith(this.name))?.path ?? "";
    // the whole command line, from the process's first stack (gcore's psargs is argv[0] only, the kernel's 80 bytes)
    const argv = this.argvFromStack(Number(x.coreFileAuxExecfn()));
    if (argv) this.command = argv;
  }

  /**
   * argv as execve(2) left it: the kernel copies the argument strings just below the environment
   * and AT_EXECFN's file name at the top of the first stack, and puts argc, then argv[0..argc)
   * pointing at those strings one after the other, then NULL, below them. Looks downward from
   * AT_EXECFN (at most ARGV_WINDOW bytes) for exactly that shape; null when not found.
   */
  private argvFromStack(execfn: number): string[] | null {
    const ARGV_WINDOW = 256 * 1024, MAX_ARGS = 4096;
    if (!execfn || execfn >= MAX_ADDR) return null;
    const seg = this.segs[upperBound(this.segStart, execfn) - 1];
    if (!seg || execfn >= seg.end) return null;
    const lo = Math.max(seg.vaddr, Math.floor((execfn - ARGV_WINDOW) / 8) * 8);
    const hi = Math.min(seg.end, execfn + 4096);
    const buf = Buffer.alloc(hi - lo);
    if (!this.serve(lo, hi - lo, buf, 0)) return null;
    const word = (q: number): number => buf.readUInt32LE(q) + buf.readUInt32LE(q + 4) * 2 ** 32;
    for (let q = Math.floor((execfn - lo) / 8) * 8 - 8; q >= 0; q -= 8) {
      const argc = word(q);
      if (argc < 1 || argc > MAX_ARGS || q + 8 * (argc + 2) > buf.length) continue;
      const first = word(q + 8);
      if (first <= lo + q || first >= execfn) continue;
      const out: string[] = [];
      let expect = first;
      for (let i = 0; i < argc; i++) {
        const p = word(q + 8 + 8 * i);
        if (p !== expect || p < lo || p >= hi) break;
        const end = buf.indexOf(0, p - lo);
        if (end < 0) break;
        out.push(buf.toString("utf8", p - lo, end));
        expect = lo + end + 1;
      }
      if (out.length === argc && word(q + 8 + 8 * argc) === 0) return out;
    }
    return null;
  }

  private notACore(st: number, detail: number, x: CoreFileExports): WspyError {
    const file = this.file;
    const hint = "pass an ELF core file (`gcore -o PREFIX PID` writes one) or, with --snapshot, a wspy snapshot";
    if (st === ST_ELF) {
      if (detail === DETAIL_CORE_SHORT || detail === DETAIL_CORE_NOT_ELF) return new WspyError("BAD_INPUT", `${file} is not an ELF core file or a wspy snapshot`, hint);
      if (detail === DETAIL_CORE_NOT_ELF64LE) return new WspyError("BAD_INPUT", `${file} is not a 64-bit little-endian ELF file`, "wspy reads x86-64 core files");
      if (detail === DETAIL_CORE_NOT_CORE) return new WspyError("BAD_INPUT", `${file} is ${ELF_TYPES[x.coreFileElfType()] ?? `an ELF file of type ${x.coreFileElfType()}`}, not a core file`, hint);
      if (detail === DETAIL_CORE_OTHER_ARCH) return new WspyError("UNSUPPORTED", `${file} is a core file of another architecture (ELF machine ${x.coreFileElfMachine()})`, "wspy reads x86-64 core files");
      if (detail === DETAIL_CORE_TRUNCATED) return new WspyError("BAD_INPUT", `${file} is truncated: its program headers end past its ${this.size} bytes`, "the core was cut short; take it again");
      if (detail === DETAIL_CORE_NO_LOAD) return new WspyError("BAD_INPUT", `${file} holds no memory (no PT_LOAD segment)`, "is it damaged?");
      return new WspyError("BAD_INPUT", `${file} is a malformed core file (ELF detail ${detail})`, "is it damaged?");
    }
    return new WspyError("BAD_INPUT", `${file} is a malformed core file (status ${st}, detail ${detail})`, "is it damaged?");
  }

  private mappingAt(addr: number): FileMapping | null {
    const i = upperBound(this.mapStart, addr) - 1;
    return i >= 0 && addr < this.maps[i].end ? this.maps[i] : null;
  }

  /**
   * Threads whose stack memory the core lacks: nothing readable, or only zeros, where their
   * stack pointer was (gdb 13's gcore skips a whole thread stack it cannot read in one piece,
   * which glibc 2.41's guard pages cause, and leaves zeros).
   */
  threadsWithoutStack(): number[] {
    const buf = new Uint8Array(256);
    return this.threads.filter((t) => t.sp > 0 && (!this.serve(t.sp, buf.length, buf, 0) || buf.every((b) => b === 0))).map((t) => t.tid);
  }

  /** The memory map, as /proc/PID/maps would have listed its file-backed part and the vdso. */
  mappings(): Mapping[] {
    const out = this.maps.map((m) => {
      const seg = this.segs[upperBound(this.segStart, m.start) - 1];
      const writable = !!seg && m.start < seg.end && seg.writable;
      return { start: m.start, end: m.end, perms: writable ? "rw-p" : "r--p", offset: m.offset, path: m.path };
    });
    if (this.vdso) out.push({ start: this.vdso.start, end: this.vdso.end, perms: "r-xp", offset: 0, path: "[vdso]" });
    return out;
  }

  /** Where a file the process mapped is on this machine (--exe, --sysroot). */
  resolve(file: string): string {
    const p = file.replace(/ \(deleted\)$/, "");
    if (this.opts.exe && p === this.exePath) return this.opts.exe;
    if (this.opts.sysroot) return path.join(this.opts.sysroot, p);
    return p;
  }

  /** The open file behind a mapping (checked once against the core's copy of its first page). */
  private fileOf(m: FileMapping): OpenFile {
    let f = this.files.get(m.path);
    if (f) return f;
    const local = this.resolve(m.path);
    f = { fd: -1, path: local, problem: "", irregular: false, warned: false };
    // never blocks: a FIFO or device named by the core (or planted under --sysroot) is not opened
    // for reading, nor waited on; it is left out like a missing file (host/io/files.ts openRegular)
    const named = `${shownName(local)}${local !== m.path ? ` (for ${shownName(m.path)})` : ""}`;
    const o = openRegular(local);
    if ("fd" in o) {
      f.fd = o.fd;
      f.problem = this.check(m, f.fd, local);
    } else if (o.irregular) {
      f.irregular = true;
      f.problem = `${named} is left out: ${o.why}`;
    } else {
      f.problem = `${named} is missing (${o.why})`;
    }
    this.files.set(m.path, f);
    return f;
  }

  /**
   * "" when the file can be the one the process mapped: every mapping of it starts inside it, and
   * its first page matches the core's copy of the mapping at file offset 0 (when the core has one).
   */
  private check(m: FileMapping, fd: number, local: string): string {
    const size = fstatSync(fd).size;
    const named = `${shownName(local)}${local !== m.path ? ` (for ${shownName(m.path)})` : ""}`;
    if (this.maps.some((o) => o.path === m.path && o.offset >= size)) return `${named} is not the file the process had mapped (it is smaller)`;
    const first = this.maps.find((o) => o.path === m.path && o.offset === 0);
    if (!first) return "";
    const i = upperBound(this.segStart, first.start) - 1;
    const seg = this.segs[i];
    if (!seg || seg.writable || first.start >= seg.end) return "";
    const n = Math.min(CHECK_BYTES, seg.end - first.start, first.end - first.start);
    const inCore = this.readAt(seg.offset + (first.start - seg.vaddr), n);
    const onDisk = Buffer.alloc(n);
    const got = readExactly(fd, onDisk, 0, n, 0);
    if (got === inCore.length && inCore.equals(onDisk.subarray(0, got))) return "";
    return `${named} is not the file the process had mapped (its first page differs)`;
  }

  /** Reads the whole of a mapped file (the interpreter's ELF file). Throws a WspyError naming it when missing. */
  readMappedFile(file: string): Buffer {
    const m = this.maps.find((o) => o.path === file) ?? { start: 0, end: 0, offset: 0, path: file };
    const f = this.fileOf(m);
    if (f.problem) {
      throw new WspyError("BAD_INPUT", `core file ${this.file} needs the interpreter's file, but ${f.problem}`,
        "copy the files of the machine the core came from into a folder and pass --sysroot DIR, or pass --exe PATH for the executable");
    }
    const size = fstatSync(f.fd).size;
    const limit = inputLimit("ELF file");
    if (size > limit) throw new WspyError("BAD_INPUT", `${shownName(f.path)} is ${sizeText(size)}, over the ${sizeText(limit)} limit for an ELF file read whole`, raiseHint("ELF file"));
    const buf = Buffer.alloc(size);
    readExactly(f.fd, buf, 0, size, 0);
    return buf;
  }

  /** An open handle on a mapped file (its own descriptor), null when missing or not the one mapped (readMappedFile names why). */
  openMappedFile(file: string): MappedFile | null {
    const m = this.maps.find((o) => o.path === file) ?? { start: 0, end: 0, offset: 0, path: file };
    const f = this.fileOf(m);
    if (f.problem) return null;
    const o = openRegular(f.path);
    if (!("fd" in o)) return null;
    const st = o.stats, fd = o.fd;
    return { fd, size: st.size, key: fileIdentity(st), close: () => closeSync(fd) };
  }

  /**
   * Copies [addr, addr+len) into dst[at...]: from the core where a segment holds it, else from a
   * mapped file. False when some byte is in neither (or its file is missing).
   */
  serve(addr: number, len: number, dst: Uint8Array, at: number): boolean {
    if (addr + len > MAX_ADDR) return false;
    let a = addr, d = at, left = len;
    for (let guard = 0; left > 0; guard++) {
      if (guard > this.segs.length + this.maps.length + 2) return false;
      const si = upperBound(this.segStart, a) - 1;
      const seg = si >= 0 ? this.segs[si] : null;
      if (seg && a < seg.end) {
        const n = Math.min(left, seg.end - a);
        if (this.src.read(dst, d, n, seg.offset + (a - seg.vaddr)) !== n) return false;
        a += n; d += n; left -= n;
        continue;
      }
      const m = this.mappingAt(a);
      if (!m) return false;
      const f = this.fileOf(m);
      if (f.problem) {
        this.missing.set(m.path, f.problem);
        if (f.irregular && !f.warned) {
          f.warned = true;
          this.skippedIrregular++;
          (this.opts.notice ?? ((l: string) => process.stderr.write(l + "\n")))(`wspy: warning: core file ${this.file}: ${f.problem}; reads from it fail`);
        }
        return false;
      }
      // up to the mapping's end or the next segment the core holds, whichever is first
      const nextSeg = si + 1 < this.segs.length ? this.segs[si + 1].vaddr : Infinity;
      const n = Math.min(left, m.end - a, nextSeg - a);
      const got = readExactly(f.fd, dst, d, n, m.offset + (a - m.start));
      if (got < n) dst.fill(0, d + got, d + n); // past the file's end, inside its last page: zeros
      a += n; d += n; left -= n;
    }
    return true;
  }

  /** A Reader serving core's reads from this file (iovecs in core's memory, as process_vm_readv would). */
  reader(core: Core): Reader {
    return new OfflineReader(core, (addr, len, dst, at) => this.serve(addr, len, dst, at), () => this.close());
  }

  close(): void {
    for (const f of this.files.values()) if (f.fd >= 0) { try { closeSync(f.fd); } catch { /* closed */ } }
    this.files.clear();
    this.src.close();
  }
}

/**
 * A Reader over bytes that are not a live process: the iovecs the core wrote into its memory
 * are read as u32 halves, each remote range served by serve() straight into core memory, in
 * order, stopping at the first that fails (as process_vm_readv does).
 */
export class OfflineReader implements Reader {
  /** iovecs that could not be served so far */
  misses = 0;
  constructor(
    private core: Core,
    private serveRange: (addr: number, len: number, dst: Uint8Array, at: number) => boolean,
    private onClose: () => void = () => {},
  ) {}

  readv(localIovAbs: number, remoteIovAbs: number, count: number): number {
    const base = this.core.memoryBase();
    const mem = this.core.u8();
    const dv = new DataView(mem.buffer);
    const local = localIovAbs - base, remote = remoteIovAbs - base;
    let total = 0;
    for (let i = 0; i < count; i++) {
      const l = local + i * 16, r = remote + i * 16;
      const at = u64(dv, l) - base;
      const len = u64(dv, l + 8);
      const addr = u64(dv, r);
      if (len === 0) continue;
      if (at < 0 || at + len > mem.length || !this.serveRange(addr, len, mem, at)) {
        this.misses++;
        break;
      }
      total += len;
    }
    return total === 0 && count > 0 ? -READ_FAULT : total;
  }

  close(): void { this.onClose(); }
}

/** A core file as a ProcessView: threads idle when stopped inside a system call. */
export function coreFileView(core: Core, file: string, opts: CoreFileOptions = {}): ProcessView {
  return viewOfCoreFile(core, CoreFile.open(core, file, opts));
}

/** The ProcessView of a parsed core file. */
export function viewOfCoreFile(core: Core, cf: CoreFile): ProcessView {
  const file = cf.file;
  const idle = new Set(cf.threads.filter((t) => t.inSyscall).map((t) => t.tid));
  const states: ThreadStates = { active: (tid) => !idle.has(tid), close: () => {} };
  const maps = cf.mappings();
  return {
    describe: `core file ${file}`,
    kind: "core",
    pid: cf.pid,
    reader: cf.reader(core),
    maps: () => maps,
    command: () => cf.command,
    exe: () => cf.exePath,
    readMappedFile: (p: string) => cf.readMappedFile(p),
    openMappedFile: (p: string) => cf.openMappedFile(p),
    threadStates: () => states,
    // NT_PRPSINFO names the process (its main thread's comm); other threads' names are not kept
    osThreadName: (tid: number) => (tid === cf.pid ? cf.name : ""),
    warnings: () => {
      const out: string[] = [];
      if (cf.truncated) out.push(`wspy: warning: core file ${file} is truncated or damaged (it ends before its segments or notes do): stacks may be incomplete`);
      const lost = cf.threadsWithoutStack();
      if (lost.length) {
        out.push(`wspy: warning: core file ${file} holds no stack memory for thread${lost.length > 1 ? "s" : ""} ${lost.join(", ")}: ` +
          "stacks through C calls may be cut or torn (gdb 13's gcore leaves out thread stacks with glibc 2.41+ guard pages; a kernel core dump has them)");
      }
      return out;
    },
    readProblems: () => {
      const parts = [...cf.missing.values()];
      if (cf.truncated) parts.push(`the core file is truncated or damaged`);
      return parts.length ? `${parts.join("; ")} (${parts.length && cf.missing.size ? "pass --sysroot DIR or --exe PATH" : "take the core again"})` : "";
    },
    close: () => cf.close(),
  };
}
