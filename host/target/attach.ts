// Attaching to a process: describe it as a list of modules (host/target/modules.ts) from its memory
// map, let the core parse the ELF object that holds the interpreter (and any other module's
// object later, when a feature asks), learn the version, pick the version table and start the
// walk. The process is seen through a ProcessView: a live one (/proc and process_vm_readv), an
// ELF core file (host/target/core-file.ts) or a wspy snapshot (host/commands/snapshot.ts); only the view
// changes. Nothing here stops or traces a live target: it only reads /proc and its memory.
// Must not know: CPython struct layouts (the core knows them, the debug-offsets header too: the
// registry judges the bytes at _PyRuntime); it passes bytes and symbol addresses.
// Source of truth: docs/cpython-layouts.md §2 (which file, load bias, symbols) and §3
// (version detection order).

import { readlinkSync, closeSync, readSync } from "node:fs";
import path from "node:path";
import { Core, coreIdentity, ST_OK, ST_GONE, ST_PERM, ST_NO_RUNTIME, ST_CHAIN, ST_TORN, ST_VERSION, STATUS_NAMES, R_STATUS, R_STRIDE } from "../core/core.js";
import { ModuleList, Module, loadBias } from "./modules.js";
import { DETAIL_TASKS_NO_LAYOUT, DETAIL_TASKS_NOT_IMPORTED } from "../core/contract.js";
import { LiveReader, Reader } from "./reader.js";
import { WspyError, permissionHint } from "../errors.js";
import { checkPid, readMaps, targetPath, readCmdline, Mapping, isAlive, TaskStates } from "./proc.js";
import { loadPluginTables, loadBuiltinFor, loadTableText, versionBounds, tableCapability, TableInfo } from "../core/tables.js";
import { readInputFile, openRegular, inputLimit, sizeText, raiseHint, shownName, fileIdentity, quoteText } from "../io/files.js";
import { cacheGet, cachePut } from "../io/cache.js";
import { traceMark } from "../trace.js";

/** Walks tried at attach before a table is refused (each retries a torn thread 3 times; µs each). */
const TRIAL_WALKS = 64;
/** After TRIAL_WALKS failed walks of a live process, how long to go on trying (ms), a walk every 2 ms. */
const TRIAL_SPAN_MS = 300;
const TRIAL_WAIT = new Int32Array(new SharedArrayBuffer(4));

// the symbol ids of assembly/locate/elf.ts, and their names (snapshot headers name them), from the core's description
import {
  SYM_PY_RUNTIME, SYM_PY_VERSION, SYM_INTERP_HEAD, SYM_THREADSTATE_CURRENT, SYM_PYCODE_TYPE, SYM_VERSION_BUFFER,
  SYM_UNICODE_TYPE, SYM_STRING_TYPE, SYM_BYTES_TYPE, SYM_COUNT, SYM_NAMES, READ_PERM, READ_GONE,
} from "../core/contract.js";
export { SYM_NAMES, SYM_COUNT } from "../core/contract.js";
const PAGE = 4096n;
/**
 * glibc x86-64: offsetof(struct pthread, tid), where a thread's OS id lies for Pythons without
 * native_thread_id (≤3.7: a tstate's thread_id is its pthread_t, the address of its struct
 * pthread). Verified for 2.7–3.15 on glibc 2.36 and sid (nptl/descr.h; `ptype struct pthread`).
 * Handed to the core as data: the host may know libc, the core does not.
 */
const PTHREAD_TID_OFFSET = 720n;

/** OS run states of a process's threads (live: /proc; core file: its notes; snapshot: recorded). */
export interface ThreadStates {
  /** Is the thread running or runnable (not idle)? Unknown counts as active. */
  active(tid: number): boolean;
  close(): void;
}

/** What the core found in the interpreter's ELF file (addresses as the file has them, unbiased). */
export interface ElfFacts {
  /** by symbol index (SYM_NAMES); 0n when absent */
  symbols: bigint[];
  firstLoadVaddr: bigint;
  firstLoadOffset: bigint;
  pyRuntimeSection: bigint;
  /** the .AsyncioDebug section (3.14+: _asyncio's offsets), 0n when the file has none; and its size */
  asyncioDebugSection: bigint;
  asyncioDebugSize: bigint;
}

/** What a snapshot recorded at attach, used instead of the ELF file, the version reads and the registry. */
export interface RecordedAttach {
  binary: string;
  elf: ElfFacts;
  bias: bigint;
  versionHex: number;
  /** the version table in use, as a plugin file's text (host/core/tables.ts exportTable) */
  tableJson: string;
  tableSource: string;
  /** where the target's .AsyncioDebug section was (snapshots taken with --async, 3.14+) */
  asyncioDebug?: { addr: bigint; size: number };
}

/**
 * A process as locate() sees it, wherever it comes from: /proc of a live process, an ELF core
 * file, or a wspy snapshot. Each provides its memory map, a way to read a mapped file, a Reader
 * for its memory, its pid and command, and its threads' OS states.
 */
export interface ProcessView {
  /** how messages name it: "process 1234", "core file core.1234", "snapshot app.wspy" */
  readonly describe: string;
  readonly kind: "process" | "core" | "snapshot";
  readonly pid: number;
  readonly reader: Reader;
  /** the memory map (a live process's is re-read on each call) */
  maps(): Mapping[];
  command(): string[];
  /** the executable as the process saw it, "" when unknown */
  exe(): string;
  /** The whole of a mapped file named as the process saw it (maps: its mappings). Throws WspyError. */
  readMappedFile(file: string, maps: Mapping[]): Buffer;
  /** An open handle on a mapped file, so only the parts ELF parsing needs are read (optional). */
  openMappedFile?(file: string, maps: Mapping[]): MappedFile | null;
  threadStates(): ThreadStates;
  /** snapshots: what attach found when the snapshot was taken */
  readonly recorded?: RecordedAttach;
  /** what else to say when memory could not be read (files a core file needs that are missing) */
  readProblems?(): string;
  /** one-line warnings about what the view lacks (a truncated core, threads without stack memory) */
  warnings?(): string[];
  /** offline views: a thread's OS name where known ("" otherwise); live ones read /proc */
  osThreadName?(tid: number): string;
  close(): void;
}

/** What locate found, beyond TargetInfo: enough to replay the attach (snapshots). */
export interface AttachFacts {
  elf: ElfFacts;
  bias: bigint;
}

/** A module's ELF object as the core holds it. */
export interface ElfObject {
  /** the core's id of the object */
  readonly id: number;
  readonly module: Module;
  /** the file's identity, as the core keys it (with the module's base) */
  readonly identity: string;
  /** the wanted symbols and load facts (addresses as the file has them) */
  readonly facts: ElfFacts;
  /** what to add to the file's addresses: where they are in the target */
  readonly bias: bigint;
  /** does the core keep its symbol tables (lookups by name)? */
  readonly keptSymbols: boolean;
}

export interface TargetInfo {
  pid: number;
  /** the ELF file holding the interpreter, as the target sees it */
  binary: string;
  version: string;
  versionHex: number;
  /** where the offsets came from */
  tableSource: string;
  /** the core's id of the table in use */
  tableId: number;
  command: string[];
  /** a free-threaded build (3.13t+): no GIL, threads run Python at once */
  freeThreaded: boolean;
}

export interface AttachOptions {
  versionTables?: string[];
  /** keep retrying while the interpreter is not initialised yet (launch mode), ms */
  waitMs?: number;
  wantGil?: boolean;
  /** treat the target as this version ("3.12") when choosing its table: for the brave */
  forceVersion?: string;
  /** one-line notices (a newer Python read with a known layout, a forced version) */
  notice?: (line: string) => void;
  /** wraps the live reader (snapshots record what it serves) */
  wrapReader?: (reader: Reader, core: Core) => Reader;
}

/** libpython's file name: a version hint when nothing in memory says it (and a "t" build: free-threaded). */
const LIBPYTHON = /\/libpython(\d)\.(\d+)([a-z]*)\.so/;

function hexToVersion(hex: number): string {
  const major = hex >>> 24, minor = (hex >>> 16) & 0xff, micro = (hex >>> 8) & 0xff;
  const level = (hex >>> 4) & 0xf, serial = hex & 0xf;
  const tag = level === 0xa ? `a${serial}` : level === 0xb ? `b${serial}` : level === 0xc ? `rc${serial}` : "";
  return `${major}.${minor}.${micro}${tag}`;
}

function versionToHex(major: number, minor: number, micro: number): number {
  return ((major << 24) | (minor << 16) | (micro << 8) | 0xf0) >>> 0;
}

/** The live view of process pid: /proc for its map, command, files and thread states; process_vm_readv for memory. */
export function procView(pid: number, core: Core, wrapReader?: (reader: Reader, core: Core) => Reader): ProcessView {
  const live = new LiveReader(pid);
  const reader = wrapReader ? wrapReader(live, core) : live;
  return {
    describe: `process ${pid}`,
    kind: "process",
    pid,
    reader,
    maps: () => readMaps(pid),
    command: () => readCmdline(pid),
    exe: () => {
      try {
        return readlinkSync(`/proc/${pid}/exe`);
      } catch {
        return ""; // permission or gone: the maps decide
      }
    },
    readMappedFile: (file: string, maps: Mapping[]): Buffer => {
      // the ELF file, through the target's root (containers), else the mapping itself
      // bounded, regular files only, never blocking (host/io/files.ts)
      try {
        return readInputFile(targetPath(pid, file), { kind: "ELF file", what: file });
      } catch {
        const first = maps.reduce((a, b) => (a.offset <= b.offset ? a : b));
        try {
          return readInputFile(`/proc/${pid}/map_files/${first.start.toString(16)}-${first.end.toString(16)}`, { kind: "ELF file", what: file });
        } catch (e2) {
          if (e2 instanceof WspyError && e2.code === "BAD_INPUT" && / limit /.test(e2.message)) throw e2;
          if (e2 instanceof WspyError && e2.code === "PERMISSION") throw new WspyError("PERMISSION", `permission denied reading ${file} of process ${pid}`, permissionHint());
          throw new WspyError("NOT_PYTHON", `cannot read ${file}, the interpreter of process ${pid}`, "the file may have been replaced or deleted since the process started");
        }
      }
    },
    openMappedFile: (file: string): MappedFile | null => {
      const o = openRegular(targetPath(pid, file)); // never blocks on a FIFO (host/io/files.ts)
      if (!("fd" in o)) return null; // readMappedFile tries the mapping itself and names the problem
      const st = o.stats, fd = o.fd;
      return { fd, size: st.size, key: fileIdentity(st), close: () => closeSync(fd) };
    },
    threadStates: () => new TaskStates(pid),
    close: () => reader.close(),
  };
}

/** An open mapped file: its descriptor, size, and an identity for caching what it holds. */
export interface MappedFile {
  fd: number;
  size: number;
  /** fileIdentity (host/io/files.ts): the same key means the same bytes */
  key: string;
  close(): void;
}

/** ELF facts by file identity: a second process on the same interpreter skips the parse. */
const ELF_CACHE = new Map<string, ElfFacts>();

/**
 * The same facts kept across runs (host/io/cache.ts), keyed by the file's identity, the core
 * that found them and the symbols it looked for: a one-shot dump of a known interpreter reads
 * its ELF headers not at all. A record that does not fit the shape is a miss.
 */
function elfFactsKey(fileKey: string): string {
  return `${fileKey}|${coreIdentity()}|${SYM_NAMES.join(",")}`;
}
function readCachedFacts(fileKey: string): ElfFacts | undefined {
  const v = cacheGet("elf-facts", elfFactsKey(fileKey));
  if (v === undefined) return undefined;
  try {
    return elfFactsFromJson(v, (what) => { throw new Error(what); });
  } catch {
    return undefined;
  }
}
function keepFacts(fileKey: string, f: ElfFacts): void {
  cachePut("elf-facts", elfFactsKey(fileKey), elfFactsToJson(f));
}

/** An address as JSON holds it (a snapshot's header, the cache): "0x7f00", "-0x…" below zero. */
export function hexAddress(v: bigint): string {
  return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}
/** hexAddress's text back, or null when v is not one. */
export function parseHexAddress(v: unknown): bigint | null {
  if (typeof v !== "string" || !/^-?0x[0-9a-f]{1,16}$/i.test(v)) return null;
  return v.startsWith("-") ? -BigInt(v.slice(1)) : BigInt(v);
}

/** ElfFacts as JSON (a snapshot's header field elf, the cache's records): symbols by name, the absent ones left out. */
export interface ElfFactsJson {
  symbols: Record<string, string>; firstLoadVaddr: string; firstLoadOffset: string; pyRuntimeSection: string;
  /** only when the file has the section (older snapshots never have it) */
  asyncioDebugSection?: string; asyncioDebugSize?: string;
}
export function elfFactsToJson(f: ElfFacts): ElfFactsJson {
  const symbols: Record<string, string> = {};
  f.symbols.forEach((v, i) => { if (v !== 0n) symbols[SYM_NAMES[i]] = hexAddress(v); });
  return {
    symbols, firstLoadVaddr: hexAddress(f.firstLoadVaddr), firstLoadOffset: hexAddress(f.firstLoadOffset), pyRuntimeSection: hexAddress(f.pyRuntimeSection),
    ...(f.asyncioDebugSection !== 0n ? { asyncioDebugSection: hexAddress(f.asyncioDebugSection), asyncioDebugSize: hexAddress(f.asyncioDebugSize) } : {}),
  };
}
/**
 * ElfFacts from elfFactsToJson's shape, checked strictly: bad(what) is called (and throws) with the
 * first problem, its field named from "elf" ("elf.symbols.X must be …").
 */
export function elfFactsFromJson(v: unknown, bad: (what: string) => never): ElfFacts {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad("elf must be an object");
  const elf = v as Record<string, unknown>;
  const symsIn = elf.symbols as Record<string, unknown>;
  if (typeof symsIn !== "object" || symsIn === null || Array.isArray(symsIn)) bad("elf.symbols must be an object");
  for (const k of Object.keys(symsIn)) if (!(SYM_NAMES as readonly string[]).includes(k)) bad(`elf.symbols.${quoteText(k)} is not a symbol wspy uses`);
  const address = (x: unknown, field: string): bigint => parseHexAddress(x) ?? bad(`${field} must be a hex address like "0x7f00"`);
  const symbols: bigint[] = [];
  for (let i = 0; i < SYM_COUNT; i++) symbols.push(SYM_NAMES[i] in symsIn ? address(symsIn[SYM_NAMES[i]], `elf.symbols.${SYM_NAMES[i]}`) : 0n);
  return {
    symbols,
    firstLoadVaddr: address(elf.firstLoadVaddr, "elf.firstLoadVaddr"),
    firstLoadOffset: address(elf.firstLoadOffset, "elf.firstLoadOffset"),
    pyRuntimeSection: address(elf.pyRuntimeSection, "elf.pyRuntimeSection"),
    asyncioDebugSection: elf.asyncioDebugSection === undefined ? 0n : address(elf.asyncioDebugSection, "elf.asyncioDebugSection"),
    asyncioDebugSize: elf.asyncioDebugSize === undefined ? 0n : address(elf.asyncioDebugSize, "elf.asyncioDebugSize"),
  };
}

/**
 * Cores with the version tables loaded that never used them on a target (an attach that failed
 * before choosing a table: a child gone first, a program that is not Python), by table list:
 * the next attach takes one instead of instantiating a core and loading the tables again. A
 * core that went further (a table from a target's debug offsets, interned frames, caches)
 * belongs to that process and is never reused.
 */
const SPARE_CORES = new Map<string, { core: Core; tables: TableInfo[] }[]>();
const MAX_SPARE_CORES = 2;
/** cores that went past choosing a table (not spare any more) */
const USED = new WeakSet<Core>();

/**
 * The version tables as the first core loaded them, by table list: later cores get copies field
 * by field from it (a few thousand calls into WASM) instead of reading and checking every file
 * again: tables are read once per wspy process.
 */
const TABLE_TEMPLATES = new Map<string, { core: Core; tables: TableInfo[] }>();

function takeCore(versionTables: string[]): { core: Core; tables: TableInfo[] } {
  const key = versionTables.join("\0");
  const spare = SPARE_CORES.get(key)?.pop();
  if (spare) return spare;
  const core = new Core();
  const template = TABLE_TEMPLATES.get(key);
  // each core gets its own list: a built-in table loaded later (loadBuiltinFor) is its own
  if (template && copyTables(template.core, core, template.tables)) return { core, tables: [...template.tables] };
  const tables = loadPluginTables(core, versionTables);
  if (!template) TABLE_TEMPLATES.set(key, { core, tables: [...tables] });
  return { core, tables };
}

/** Copies the tables `tables` of core `from` into the fresh core `to`, with the same ids. False if they did not come out the same. */
function copyTables(from: Core, to: Core, tables: TableInfo[]): boolean {
  const fields = from.x.fieldCount(), caps = from.x.capCount();
  for (const t of tables) {
    const min = versionBounds(t.min, false), max = versionBounds(t.max, true);
    if (min === null || max === null) return false;
    const id = to.x.tableNew(min, max, t.plugin ? 1 : 0);
    if (id !== t.id) return false;
    for (let c = 0; c < caps; c++) to.x.tableSetCap(id, c, from.x.tableCap(t.id, c));
    for (let f = 0; f < fields; f++) {
      const v = from.x.tableField(t.id, f);
      if (v >= 0) to.x.tableSetField(id, f, v);
    }
    if (to.x.tableValidate(id) !== ST_OK) return false;
  }
  return true;
}

function giveBackCore(versionTables: string[], c: { core: Core; tables: TableInfo[] }): void {
  c.core.setReader(null);
  if (USED.has(c.core)) return;
  const key = versionTables.join("\0");
  const list = SPARE_CORES.get(key) ?? [];
  if (list.length < MAX_SPARE_CORES) list.push(c);
  SPARE_CORES.set(key, list);
}

/** What one attempt of locate found. */
interface Located {
  info: TargetInfo;
  facts: AttachFacts;
  modules: ModuleList;
  /** the interpreter's ELF object (null for a snapshot: its facts were recorded) */
  interpreter: ElfObject | null;
}

/** A target: the core attached to a process (live, a core file or a snapshot) through its view. */
export class Target {
  readonly core: Core;
  readonly info: TargetInfo;
  readonly tables: TableInfo[];
  readonly view: ProcessView;
  readonly facts: AttachFacts;
  /** the target's mapped objects, from its memory map at attach (a snapshot: the interpreter only) */
  modules: ModuleList;
  /** the ELF objects the core holds for this target's modules, parsed when first asked */
  private readonly objects = new Map<Module, ElfObject>();

  private constructor(core: Core, view: ProcessView, found: Located, tables: TableInfo[]) {
    this.core = core;
    this.view = view;
    this.info = found.info;
    this.tables = tables;
    this.facts = found.facts;
    this.modules = found.modules;
    if (found.interpreter) this.objects.set(found.interpreter.module, found.interpreter);
  }

  /**
   * The ELF object of one of this target's modules, parsed by the core the first time it is
   * asked for (the interpreter's at attach). keepSymbols: the core also keeps its symbol tables,
   * for symbolAddress. Throws WspyError when its file cannot be read or is not ELF.
   */
  object(mod: Module, opts: { keepSymbols?: boolean } = {}): ElfObject {
    const had = this.objects.get(mod);
    if (had && (had.keptSymbols || !opts.keepSymbols)) return had;
    if (this.view.recorded) throw new WspyError("BAD_INPUT", `${this.view.describe} holds no files (${mod.path} was asked for)`, "");
    const obj = Target.loadObject(this.core, this.view, mod, !!opts.keepSymbols);
    this.objects.set(mod, obj);
    return obj;
  }

  /** Where symbol name of module mod is in the target (load bias added), 0n when it has none. */
  symbolAddress(mod: Module, name: string): bigint {
    const obj = this.object(mod, { keepSymbols: true });
    const bytes = Buffer.from(name, "latin1");
    if (!bytes.length || bytes.length > this.core.x.scratchSize()) return 0n;
    const ptr = this.core.x.scratchPtr();
    this.core.u8().set(bytes, ptr);
    const v = BigInt.asUintN(64, this.core.x.elfSymbolFind(obj.id, ptr, bytes.length));
    return v === 0n ? 0n : v + obj.bias;
  }

  /** where the last asyncioDebugBytes found the section (a snapshot records it) */
  asyncioDebugAt: { addr: bigint; size: number } | null = null;

  /**
   * Readies the core's asyncio task decoder (--async) with the task layout of this target: the
   * record's built-in part and, from 3.14, the target's own .AsyncioDebug section. True when
   * tasks can be read now; false when asyncio is not imported yet (the section comes with it:
   * call again later). Throws UNSUPPORTED for a version or build without a task layout.
   */
  configureTasks(): boolean {
    let sec = this.asyncioDebugBytes();
    if (!sec && this.live) {
      // _asyncio may have been mapped since attach (3.14: an extension module, loaded on import)
      this.modules = ModuleList.fromMaps(this.view.maps(), this.view.exe());
      sec = this.asyncioDebugBytes();
    }
    const bytes = sec?.bytes ?? Buffer.alloc(0);
    const ptr = this.core.x.scratchPtr();
    this.core.u8().set(bytes, ptr);
    const st = this.core.x.tasksConfigure(this.info.versionHex, this.info.freeThreaded ? 1 : 0, ptr, bytes.length);
    if (st === ST_OK) return true;
    const detail = this.core.x.lastErrorDetail();
    if (st === ST_VERSION && detail === DETAIL_TASKS_NOT_IMPORTED) return false;
    const what = `${this.info.freeThreaded ? "free-threaded " : ""}Python ${this.info.version}`;
    if (st === ST_VERSION && detail === DETAIL_TASKS_NO_LAYOUT) {
      throw new WspyError("UNSUPPORTED", `--async reads the asyncio tasks of CPython 3.11 to 3.15 built with the GIL; this is ${what}`,
        "leave out --async: the threads' stacks are still shown");
    }
    throw new WspyError("UNSUPPORTED", `wspy could not use the asyncio task layout of this ${what} (${STATUS_NAMES[st]})`,
      "leave out --async, or supply a version table with the task_object fields (--version-table)");
  }

  /**
   * The bytes of the target's .AsyncioDebug section (3.14+: the offsets _asyncio publishes for
   * its task objects and lists) and their remote address, or null when no mapped module has the
   * section (before 3.14, or asyncio not imported yet: 3.14's _asyncio is an extension module,
   * mapped on first import; 3.15's is built into the interpreter). Looked for in _asyncio's
   * module first, then in the interpreter's file. The core decodes them (knows the layout).
   */
  asyncioDebugBytes(): { addr: bigint; bytes: Buffer } | null {
    const rec = this.view.recorded;
    if (rec) {
      // a snapshot holds no files: the section's bytes are among the memory it recorded
      const bytes = rec.asyncioDebug ? Target.readBuf(this.core, this.view.reader, rec.asyncioDebug.addr, rec.asyncioDebug.size) : null;
      this.asyncioDebugAt = bytes ? { addr: rec.asyncioDebug!.addr, size: bytes.length } : null;
      return bytes ? { addr: rec.asyncioDebug!.addr, bytes } : null;
    }
    const named = this.modules.modules.filter((m) => /^_asyncio[.]/.test(path.basename(m.path)));
    const candidates = [...named, ...(this.modules.interpreter ? [this.modules.interpreter] : [])];
    for (const mod of candidates) {
      let obj: ElfObject;
      try {
        obj = this.object(mod);
      } catch {
        continue; // an unreadable file: the next candidate
      }
      const size = Number(obj.facts.asyncioDebugSize);
      if (obj.facts.asyncioDebugSection === 0n || size <= 0 || size > 4096) continue;
      const addr = obj.facts.asyncioDebugSection + obj.bias;
      const bytes = Target.readBuf(this.core, this.view.reader, addr, size);
      if (bytes) {
        this.asyncioDebugAt = { addr, size };
        return { addr, bytes };
      }
    }
    return null;
  }

  /** Is this a running process (not a core file or a snapshot)? */
  get live(): boolean { return this.view.kind === "process"; }

  /** The OS run states of the target's threads. */
  threadStates(): ThreadStates { return this.view.threadStates(); }

  static async attach(pid: number, opts: AttachOptions = {}): Promise<Target> {
    checkPid(pid);
    const versionTables = opts.versionTables ?? [];
    const made = takeCore(versionTables);
    const { core, tables } = made;
    const view = procView(pid, core, opts.wrapReader);
    core.setReader(view.reader);
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      try {
        const found = Target.locate(core, view, tables, opts);
        core.x.walkSetWantGil(opts.wantGil ? 1 : 0);
        traceMark("located");
        return new Target(core, view, found, tables);
      } catch (e) {
        const retriable = e instanceof WspyError && (e.code === "NOT_PYTHON" || e.retriable);
        if (!retriable || Date.now() >= deadline || !isAlive(pid)) {
          view.close();
          giveBackCore(versionTables, made);
          if (!isAlive(pid) && e instanceof WspyError && e.code === "NOT_PYTHON" && opts.waitMs) {
            throw new WspyError("NO_SUCH_PROCESS", `process ${pid} exited before its Python interpreter started`, "check the command runs on its own");
          }
          throw e;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  /**
   * Attaches to a process seen through view (a core file, a snapshot): one attempt, nothing to
   * wait for. core: the core the view's reader serves (a new one when omitted).
   */
  static open(view: ProcessView, opts: AttachOptions = {}, core: Core = new Core()): Target {
    core.setReader(view.reader);
    const tables = loadPluginTables(core, opts.versionTables ?? []);
    try {
      const found = Target.locate(core, view, tables, opts);
      core.x.walkSetWantGil(opts.wantGil ? 1 : 0);
      return new Target(core, view, found, tables);
    } catch (e) {
      core.setReader(null);
      if (e instanceof WspyError && view.readProblems) {
        const more = view.readProblems();
        if (more) e.message += `; ${more}`;
      }
      throw e;
    }
  }

  /**
   * Makes the core hold mod's ELF object (parsed, unless an earlier core of this wspy process
   * parsed the same file: its facts are cached by identity) and returns it. The file is read
   * through the view (the target's root, a core file's --sysroot); the vdso from memory.
   */
  private static loadObject(core: Core, view: ProcessView, mod: Module, keepSymbols: boolean): ElfObject {
    if (mod.kind === "vdso") return Target.loadVdso(core, view, mod, keepSymbols);
    const maps: Mapping[] = mod.ranges.map((r) => ({ ...r, path: mod.path }));
    const handle = view.openMappedFile?.(mod.path, maps) ?? null;
    if (handle) {
      try {
        const id = Target.objectId(core, handle.key, mod);
        const cached = keepSymbols ? undefined : ELF_CACHE.get(handle.key) ?? readCachedFacts(handle.key);
        if (cached) {
          ELF_CACHE.set(handle.key, cached);
          return Target.elfObject(id, mod, handle.key, cached, false);
        }
        // an ELF file is seen through its first inputLimit("ELF file") bytes at most: the core
        // asks for ranges (headers, section headers, symbol tables) inside that, each read into one buffer
        const size = Math.min(handle.size, inputLimit("ELF file"));
        const ptr = Target.loadElfSparse(core, handle, size);
        const facts = Target.parseObject(core, view, mod, id, ptr, size, handle.size, keepSymbols);
        traceMark("elf-parsed");
        if (!ELF_CACHE.has(handle.key)) keepFacts(handle.key, facts);
        ELF_CACHE.set(handle.key, facts);
        return Target.elfObject(id, mod, handle.key, facts, keepSymbols);
      } finally {
        handle.close();
      }
    }
    const bytes = view.readMappedFile(mod.path, maps);
    const identity = `path ${mod.path}`;
    const id = Target.objectId(core, identity, mod);
    const facts = Target.parseObject(core, view, mod, id, core.copyIn(bytes), bytes.length, bytes.length, keepSymbols);
    return Target.elfObject(id, mod, identity, facts, keepSymbols);
  }

  /** The vdso: no file, its image is in the target's memory (a live process's, a core file's segment). */
  private static loadVdso(core: Core, view: ProcessView, mod: Module, keepSymbols: boolean): ElfObject {
    const r = mod.ranges[0];
    const size = r ? Math.min(r.end - r.start, core.x.scratchSize() - 64) : 0;
    const bytes = r ? Target.readBuf(core, view.reader, BigInt(r.start), size) : null;
    if (!bytes) throw new WspyError("BAD_INPUT", `cannot read the vdso of ${view.describe}`, "");
    const identity = "[vdso]";
    const id = Target.objectId(core, identity, mod);
    const facts = Target.parseObject(core, view, mod, id, core.copyIn(bytes), bytes.length, bytes.length, keepSymbols);
    return Target.elfObject(id, mod, identity, facts, keepSymbols);
  }

  /** The core's id for the object with this identity mapped at mod's base. */
  private static objectId(core: Core, identity: string, mod: Module): number {
    const key = Buffer.from(identity, "utf8").subarray(0, core.x.ELF_MAX_KEY.value);
    const ptr = core.x.scratchPtr();
    core.u8().set(key, ptr);
    const id = core.x.elfObjectNew(ptr, key.length, BigInt.asUintN(64, mod.base));
    if (id < 0) throw new WspyError("BAD_INPUT", `too many mapped objects to hold (at ${mod.path})`, "");
    return id;
  }

  private static elfObject(id: number, mod: Module, identity: string, facts: ElfFacts, keptSymbols: boolean): ElfObject {
    return { id, module: mod, identity, facts, bias: loadBias(mod, facts.firstLoadVaddr, facts.firstLoadOffset), keptSymbols };
  }

  /**
   * Loads the parts of an ELF file that parsing needs (headers, section headers, symbol and
   * string tables: about a megabyte of a 20+ MB libpython) into core memory, at their file
   * offsets in a buffer the size of the file. The core says which ranges it needs.
   */
  private static loadElfSparse(core: Core, handle: MappedFile, size: number): number {
    let ptr = 0;
    try {
      ptr = core.x.allocBuffer(size);
    } catch { /* the core's allocator refused it: below */ }
    if (!ptr) throw new WspyError("BAD_INPUT", `cannot hold ${sizeText(size)} of an ELF file in memory`, "lower WSPY_MAX_INPUT_MB");
    const readInto = (off: number, len: number): void => {
      let done = 0;
      while (done < len) {
        const n = readSync(handle.fd, core.u8(), ptr + off + done, len - done, off + done);
        if (n <= 0) break;
        done += n;
      }
    };
    readInto(0, Math.min(64, size));
    for (let stage = 0; stage < 4; stage++) {
      const n = core.x.elfNextRanges(ptr, size, stage);
      if (n <= 0) break;
      const ranges = new Int32Array(core.x.memory.buffer, core.x.elfRangesPtr(), n * 2).slice();
      for (let i = 0; i < n; i++) readInto(ranges[2 * i], ranges[2 * i + 1]);
    }
    return ptr;
  }

  /** Parses the object's bytes loaded at ptr (size bytes of a fileSize-byte file) in the core; frees them. */
  private static parseObject(core: Core, view: ProcessView, mod: Module, id: number, ptr: number, size: number, fileSize: number,
    keepSymbols: boolean): ElfFacts {
    const st = core.x.elfParse(id, ptr, size, keepSymbols ? 1 : 0);
    core.x.freeBuffer(ptr);
    if (st !== ST_OK && fileSize > size) {
      throw new WspyError("BAD_INPUT", `${shownName(mod.path)} is ${sizeText(fileSize)} and its ELF headers or symbols are not in its first ${sizeText(size)} (the limit for an ELF file)`, raiseHint("ELF file"));
    }
    if (st !== ST_OK && !mod.isInterpreter) {
      throw new WspyError("BAD_INPUT", `${mod.path}, mapped by ${view.describe}, is not a readable ELF file (${STATUS_NAMES[st]} ${core.x.lastErrorDetail()})`,
        "the file may have been replaced since the process mapped it");
    }
    if (st !== ST_OK) {
      throw new WspyError("NOT_PYTHON", `${mod.path} is not a readable ELF file (${STATUS_NAMES[st]} ${core.x.lastErrorDetail()})`,
        view.kind === "process" ? "pass the pid of a CPython interpreter" : Target.notPythonHint(view));
    }
    const symbols: bigint[] = [];
    for (let i = 0; i < SYM_COUNT; i++) symbols.push(core.x.elfSymbol(id, i));
    return {
      symbols,
      firstLoadVaddr: core.x.elfFirstLoadVaddr(id),
      firstLoadOffset: core.x.elfFirstLoadOffset(id),
      pyRuntimeSection: core.x.elfPyRuntimeSection(id),
      asyncioDebugSection: core.x.elfAsyncioDebugSection(id),
      asyncioDebugSize: core.x.elfAsyncioDebugSectionSize(id),
    };
  }

  /** Refuses an interpreter module whose file holds no CPython interpreter. */
  private static checkInterpreter(view: ProcessView, mod: Module, facts: ElfFacts, command: string[]): void {
    const symbols = facts.symbols;
    const hasInterpreter = [SYM_PY_RUNTIME, SYM_PY_VERSION, SYM_INTERP_HEAD, SYM_THREADSTATE_CURRENT].some((i) => symbols[i] !== 0n) ||
      facts.pyRuntimeSection !== 0n;
    if (!hasInterpreter) {
      throw new WspyError("NOT_PYTHON", `${view.describe} (${command.join(" ") || mod.path}) is not a Python process: ${mod.path} holds no CPython interpreter`,
        Target.notPythonHint(view));
    }
  }

  private static notPythonHint(view: ProcessView): string {
    return view.kind === "process" ? "pass the pid of a CPython interpreter; for a launcher script, the pid of the python process it started"
      : "pass a core file of a CPython interpreter (for a launcher script, of the python process it started)";
  }

  /** One attempt at finding the interpreter, its version and table. */
  private static locate(core: Core, view: ProcessView, tables: TableInfo[], opts: AttachOptions): Located {
    const pid = view.pid;
    const what = view.describe;
    const reader = view.reader;
    const rec = view.recorded;
    const command = view.command();
    let binary: string;
    let elf: ElfFacts;
    let bias: bigint;
    let lowestStart: number;
    let modules: ModuleList;
    let interpreter: ElfObject | null = null;
    if (rec) {
      binary = rec.binary;
      elf = rec.elf;
      bias = rec.bias;
      lowestStart = 0;
      modules = ModuleList.recorded(binary, bias + (elf.firstLoadVaddr / PAGE) * PAGE - (elf.firstLoadOffset / PAGE) * PAGE);
    } else {
      modules = ModuleList.fromMaps(view.maps(), view.exe());
      const mod = modules.interpreter;
      if (!mod) {
        throw new WspyError("NOT_PYTHON", `${what} (${command.join(" ") || "?"}) is not a Python process: no libpython or python executable is mapped`,
          Target.notPythonHint(view));
      }
      binary = mod.path;
      interpreter = Target.loadObject(core, view, mod, false);
      Target.checkInterpreter(view, mod, interpreter.facts, command);
      elf = interpreter.facts;
      bias = interpreter.bias; // the mapping of file offset 0 against the first PT_LOAD
      lowestStart = mod.ranges.reduce((a, b) => (a.offset <= b.offset ? a : b)).start;
    }
    const sym = (i: number): bigint => {
      const v = elf.symbols[i] ?? 0n;
      return v === 0n ? 0n : v + bias;
    };
    let runtime = sym(SYM_PY_RUNTIME);
    if (runtime === 0n && elf.pyRuntimeSection !== 0n) runtime = elf.pyRuntimeSection + bias;

    // permission: one small read tells a refused read apart from everything else (read statuses: host/target/errno.ts)
    const probe = Target.readRemote(core, reader, runtime !== 0n ? runtime : BigInt(lowestStart), 8);
    if (probe === -READ_PERM) throw new WspyError("PERMISSION", `permission denied reading the memory of ${what}`, permissionHint());
    if (probe === -READ_GONE) throw new WspyError("NO_SUCH_PROCESS", `${what} exited`, "");

    // the version: Py_Version, the debug offsets' header, Py_GetVersion's buffer, the file name
    let hex = 0;
    // a file-name hint for when _PyRuntime cannot be read: libpython3.13t.so is a free-threaded build
    const tagged = LIBPYTHON.exec(binary);
    let freeThreaded = !!tagged && tagged[3].includes("t");
    if (rec) hex = rec.versionHex;
    const pyVersion = sym(SYM_PY_VERSION);
    // the core reads Py_Version's value and the banner's digits: the host only fetches the bytes
    if (!hex && pyVersion !== 0n && Target.readRemote(core, reader, pyVersion, 8) === 8) {
      hex = core.x.registryVersionFromPyVersion(core.x.scratchPtr(), 8) >>> 0;
    }
    if (runtime !== 0n) {
      // the core judges the bytes at _PyRuntime: debug offsets or not, their version, free-threaded
      const n = core.x.DEBUG_OFFSETS_HEADER.value;
      if (Target.readRemote(core, reader, runtime, n) === n) {
        core.x.registryInspectRuntime(core.x.scratchPtr(), n);
        if (!hex) hex = core.x.registryRuntimeVersion() >>> 0;
        if (core.x.registryRuntimeFreeThreaded()) freeThreaded = true;
      }
    }
    if (!hex && elf.symbols[SYM_VERSION_BUFFER] !== 0n && Target.readRemote(core, reader, sym(SYM_VERSION_BUFFER), 250) === 250) {
      hex = core.x.registryVersionFromBanner(core.x.scratchPtr(), 250) >>> 0;
    }
    if (!hex) {
      const m = LIBPYTHON.exec(binary) ?? /python(\d)\.(\d+)/.exec(path.basename(binary));
      if (m) hex = versionToHex(+m[1], +m[2], 0);
    }
    if (!hex) {
      const e = new WspyError("NOT_PYTHON", `cannot tell the Python version of ${what} (${binary})`,
        view.kind === "process" ? "it may still be starting; try again in a moment" : "the interpreter may not have started yet when it was taken",
        { retriable: true });
      throw e;
    }
    let version = hexToVersion(hex);
    if (opts.forceVersion) {
      const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(opts.forceVersion);
      if (!m) throw new WspyError("BAD_INPUT", `--force-version takes a version like 3.12, not ${JSON.stringify(opts.forceVersion)}`, "");
      const forced = versionToHex(+m[1], +m[2], +(m[3] ?? 0));
      opts.notice?.(`wspy: reading Python ${version} (${what}) as ${opts.forceVersion}, as --force-version asks: stacks may be wrong`);
      hex = forced;
      version = hexToVersion(hex);
    }

    USED.add(core);
    // the table: a plugin for this version, else (a snapshot's own table,) built-in, else the target's debug offsets
    let tableId = core.x.registrySelect(hex, 1);
    let tableSource = tableId >= 0 ? tables.find((t) => t.id === tableId)?.file ?? "plugin" : "";
    if (tableId >= 0 && rec && !(opts.versionTables ?? []).length) tableId = -1; // only an explicit --version-table overrides a snapshot's table
    if (tableId < 0 && rec) {
      const info = loadTableText(core, rec.tableJson, `the version table of ${what}`, true);
      tableId = info.id;
      tableSource = rec.tableSource;
    }
    if (tableId < 0 && core.x.versionHasDebugOffsets(hex)) {
      const size = core.x.debugOffsetsSize(hex);
      if (size > 0 && runtime !== 0n) {
        const ptr = core.x.scratchPtr();
        const n = Target.readRemote(core, reader, runtime, size);
        if (n === size) {
          const id = core.x.registryFromDebugOffsets(ptr, size, 1);
          if (id >= 0) {
            tableId = id;
            tableSource = `_Py_DebugOffsets of ${what}`;
            if (core.x.registryLastWasTrial()) {
              tableSource += " (read with the newest layout wspy knows)";
              opts.notice?.(`wspy: Python ${version} is newer than this wspy; its _Py_DebugOffsets validated with the newest layout wspy knows (3.15), so it is read with that`);
            }
          } else {
            throw new WspyError("UNSUPPORTED", `the _Py_DebugOffsets of Python ${version} in ${what} did not validate (${STATUS_NAMES[-id]}, detail ${core.x.lastErrorDetail()})`,
              "supply a version table with --version-table FILE (see README, \"Version tables\")");
          }
        }
      }
    }
    if (tableId < 0) {
      loadBuiltinFor(core, hex, tables);
      tableId = core.x.registrySelect(hex, 0);
      if (tableId >= 0) tableSource = tables.find((t) => t.id === tableId)?.file ?? "built-in";
    }
    if (tableId < 0) {
      throw new WspyError("UNSUPPORTED", `Python ${version} (${what}) has no version table`,
        "supply one with --version-table FILE, or export one from a 3.13+ process with `wspy tables export` (see README, \"Version tables\")");
    }

    // a free-threaded build needs a table made for one (its objects, GIL and strings differ): the
    // target's own debug offsets are; a plugin or snapshot table says so with gil_model "none"
    const tableFreeThreaded = tableCapability(core, tableId, "gil_model") === "none";
    if (tableFreeThreaded !== freeThreaded) {
      throw new WspyError("UNSUPPORTED",
        `${what} runs a ${freeThreaded ? "free-threaded" : "default (GIL)"} build of Python ${version}, but the version table ${tableSource} is for a ${tableFreeThreaded ? "free-threaded" : "default"} build`,
        "supply a table made from the same build with --version-table FILE (`wspy tables export`)");
    }

    const hasRuntime = core.x.versionHasRuntime(hex) !== 0;
    if (hasRuntime && runtime === 0n) {
      throw new WspyError("NOT_PYTHON", `no _PyRuntime symbol or .PyRuntime section in ${binary}`, "a stripped interpreter older than 3.10 cannot be read yet");
    }
    const interpHead = hasRuntime ? 0n : sym(SYM_INTERP_HEAD);
    if (!hasRuntime && interpHead === 0n) {
      throw new WspyError("NOT_PYTHON", `no interp_head symbol in ${binary} (stripped?)`, "use an interpreter with its symbol table");
    }
    // 2.7 has PyString_Type for names and line tables; 3.x PyUnicode_Type and PyBytes_Type
    const pyString = sym(SYM_STRING_TYPE);
    core.x.setStringTypes(pyString !== 0n ? pyString : sym(SYM_UNICODE_TYPE), pyString !== 0n ? pyString : sym(SYM_BYTES_TYPE));
    core.x.walkSetPthreadTidOffset(PTHREAD_TID_OFFSET);
    const ast = core.x.walkAttach(tableId, hasRuntime ? runtime : 0n, interpHead, sym(SYM_THREADSTATE_CURRENT), sym(SYM_PYCODE_TYPE));
    if (ast !== ST_OK) {
      if (ast === ST_GONE) throw new WspyError("NO_SUCH_PROCESS", `${what} exited`, "");
      if (ast === ST_PERM) throw new WspyError("PERMISSION", `permission denied reading the memory of ${what}`, permissionHint());
      const live = view.kind === "process";
      const e = new WspyError(ast === ST_NO_RUNTIME ? "NOT_PYTHON" : "UNSUPPORTED",
        ast === ST_NO_RUNTIME ? `the Python ${version} interpreter in ${what} is not running Python code (not initialised, or finalised)`
          : `cannot walk the threads of Python ${version} in ${what}: ${ast === ST_CHAIN ? "the thread list does not point back to its interpreter" : `${STATUS_NAMES[ast]} at 0x${core.x.lastErrorAddr().toString(16)}`}, so the version table ${tableSource} does not match this build`,
        ast === ST_NO_RUNTIME ? (live ? "try again once the program has started" : "it was taken before the program started or after it ended")
          : live ? "supply a matching table with --version-table FILE" : "the file may be damaged, or supply a matching table with --version-table FILE",
        { retriable: true });
      throw e;
    }
    Target.verifyWalk(core, view, version, tableSource);
    return { info: { pid, binary, version, versionHex: hex, tableSource, tableId, command, freeThreaded }, facts: { elf, bias }, modules, interpreter };
  }

  /**
   * Trial walks of every thread: a table that does not match the build shows as stacks that
   * never decode (chains that do not close, pointers that are not code objects). Refuse it then,
   * rather than produce garbage. Threads without Python frames pass.
   */
  private static verifyWalk(core: Core, view: ProcessView, version: string, tableSource: string): void {
    const what = view.describe;
    let lastBad = 0;
    // a live stack that changes fast (a recursion going up and down on 2.7–3.10, whose freed frame
    // objects fail the chain's proof) can fail 8 walks in a row on a loaded machine (seen: 2 dumps
    // of 43): a matching table decodes one walk of many, a wrong one none, so try enough of them;
    // then, for a live process, more walks 2 ms apart for TRIAL_SPAN_MS (a target descheduled in
    // the middle of a call fails every walk of a burst the same way: seen once in CI on 3.9)
    let spanEnd = 0;
    for (let attempt = 0; ; attempt++) {
      if (attempt >= TRIAL_WALKS) {
        if (view.kind !== "process") break;
        if (spanEnd === 0) spanEnd = Date.now() + TRIAL_SPAN_MS;
        if (Date.now() >= spanEnd) break;
        Atomics.wait(TRIAL_WAIT, 0, 0, 2);
      }
      const n = core.x.walkSample();
      if (n < 0) {
        if (-n === ST_GONE) throw new WspyError("NO_SUCH_PROCESS", `${what} exited`, "");
        if (-n === ST_PERM) throw new WspyError("PERMISSION", `permission denied reading the memory of ${what}`, permissionHint());
        lastBad = -n;
        if (view.kind !== "process") break; // a file does not change between attempts
        continue;
      }
      const v = core.i32();
      const base = core.x.walkResultsPtr() >> 2;
      let ok = 0;
      for (let i = 0; i < n; i++) {
        const st = v[base + i * R_STRIDE + R_STATUS];
        // a stack that decoded but changed under its second read says the table works
        if (st === ST_OK || st === ST_TORN) ok++;
        else lastBad = st;
      }
      if (ok > 0) return;
    }
    throw new WspyError("UNSUPPORTED",
      `the stacks of Python ${version} in ${what} do not decode with the version table ${tableSource} (${STATUS_NAMES[lastBad] ?? lastBad}): it does not match this build`,
      view.kind === "process" ? "check the table with `wspy tables check FILE`, or supply a matching one with --version-table FILE"
        : "the file may be damaged; check the table with `wspy tables check FILE`, or supply a matching one with --version-table FILE");
  }

  /** Reads n bytes at addr into the core's scratch region; returns bytes read or minus a read status (READ_*). */
  private static readRemote(core: Core, reader: Reader, addr: bigint, n: number): number {
    return Target.readRemoteInto(core, reader, core.x.scratchPtr(), addr, n);
  }

  /** Reads up to n bytes at addr into the core's memory at ptr, in one reader call; bytes read or minus a read status. */
  private static readRemoteInto(core: Core, reader: Reader, ptr: number, addr: bigint, n: number): number {
    // one iovec pair, built here (outside the core's samples) in the scratch region's tail
    const iov = core.x.scratchPtr() + core.x.scratchSize() - 64;
    const view = new DataView(core.x.memory.buffer);
    const base = core.memoryBaseNow();
    view.setBigUint64(iov, BigInt(base + ptr), true);
    view.setBigUint64(iov + 8, BigInt(n), true);
    view.setBigUint64(iov + 16, BigInt.asUintN(64, addr), true);
    view.setBigUint64(iov + 24, BigInt(n), true);
    return reader.readv(base + iov, base + iov + 16, 1);
  }

  /**
   * Reads up to n bytes of the target's memory at addr into the core's memory at ptr (through its
   * reader, one call). Returns how many bytes were read (fewer where the mapping ends), or a
   * negative read status.
   */
  readInto(ptr: number, addr: bigint, n: number): number {
    return Target.readRemoteInto(this.core, this.view.reader, ptr, addr, n);
  }

  /** n bytes of the target's memory at addr (through its reader), or null when they cannot be read. */
  readMemory(addr: bigint, n: number): Buffer | null {
    if (n <= 0 || n > this.core.x.scratchSize()) {
      // bigger than the scratch buffer: in pieces
      if (n <= 0) return null;
      const out = Buffer.alloc(n);
      const step = this.core.x.scratchSize();
      for (let at = 0; at < n; at += step) {
        const part = Target.readBuf(this.core, this.view.reader, addr + BigInt(at), Math.min(step, n - at));
        if (!part) return null;
        part.copy(out, at);
      }
      return out;
    }
    return Target.readBuf(this.core, this.view.reader, addr, n);
  }

  private static readBuf(core: Core, reader: Reader, addr: bigint, n: number): Buffer | null {
    const got = Target.readRemote(core, reader, addr, n);
    if (got !== n) return null;
    const ptr = core.x.scratchPtr();
    return Buffer.from(core.u8().slice(ptr, ptr + n));
  }

  close(): void {
    this.core.setReader(null);
    this.view.close();
  }
}
