// Attaching to a live process: find the ELF file that holds the interpreter in its memory map,
// let the core parse it, learn the version, pick the version table and start the walk.
// Nothing here stops or traces the target: it only reads /proc and its memory.
// Must not know: CPython struct layouts (the core knows them); it passes symbol addresses.
// Source of truth: ../shared/docs/cpython-layouts.md §2 (which file, load bias, symbols) and §3
// (version detection order).

import { readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import { Core, ST_OK, ST_GONE, ST_PERM, ST_NO_RUNTIME, ST_CHAIN, ST_FREE_THREADED, STATUS_NAMES, R_STATUS } from "./core.js";
import { LiveReader } from "./reader.js";
import { WspyError, permissionHint } from "./errors.js";
import { checkPid, readMaps, targetPath, readCmdline, Mapping, isAlive } from "./proc.js";
import { loadAllTables, TableInfo } from "./tables.js";

// symbol indices of assembly/locate/elf.ts
const SYM_PY_RUNTIME = 0, SYM_PY_VERSION = 1, SYM_INTERP_HEAD = 2, SYM_THREADSTATE_CURRENT = 3,
  SYM_PYCODE_TYPE = 4, SYM_VERSION_BUFFER = 6, SYM_UNICODE_TYPE = 7, SYM_STRING_TYPE = 8, SYM_BYTES_TYPE = 9;
const PAGE = 4096;

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
}

const LIBPYTHON = /\/libpython(\d)\.(\d+)([a-z]*)\.so/;

/** The mapped file that holds the interpreter: libpython, else the executable, else anything python. */
export function findPythonModule(pid: number, maps: Mapping[]): { path: string; maps: Mapping[] } | null {
  const files = new Map<string, Mapping[]>();
  for (const m of maps) {
    if (!m.path.startsWith("/")) continue;
    const p = m.path.replace(/ \(deleted\)$/, "");
    if (!files.has(p)) files.set(p, []);
    files.get(p)!.push(m);
  }
  for (const [p, ms] of files) if (LIBPYTHON.test(p)) return { path: p, maps: ms };
  let exe = "";
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch { /* permission or gone: the maps decide */ }
  if (exe && files.has(exe) && /python/i.test(path.basename(exe))) return { path: exe, maps: files.get(exe)! };
  // started through ld-linux (exe is the loader), or an executable not named python*
  for (const [p, ms] of files) {
    const base = path.basename(p);
    if (/python/i.test(base) && !base.endsWith(".so") && !/\.so\./.test(base)) return { path: p, maps: ms };
  }
  for (const [p, ms] of files) if (/python/i.test(path.basename(p)) && /\.so/.test(p)) return { path: p, maps: ms };
  if (exe && files.has(exe)) return { path: exe, maps: files.get(exe)! };
  return null;
}

function hexToVersion(hex: number): string {
  const major = hex >>> 24, minor = (hex >>> 16) & 0xff, micro = (hex >>> 8) & 0xff;
  const level = (hex >>> 4) & 0xf, serial = hex & 0xf;
  const tag = level === 0xa ? `a${serial}` : level === 0xb ? `b${serial}` : level === 0xc ? `rc${serial}` : "";
  return `${major}.${minor}.${micro}${tag}`;
}

function versionToHex(major: number, minor: number, micro: number): number {
  return ((major << 24) | (minor << 16) | (micro << 8) | 0xf0) >>> 0;
}

/** A live target: the core attached to a process through the live reader. */
export class Target {
  readonly core: Core;
  readonly info: TargetInfo;
  readonly tables: TableInfo[];
  private readonly reader: LiveReader;

  private constructor(core: Core, reader: LiveReader, info: TargetInfo, tables: TableInfo[]) {
    this.core = core;
    this.reader = reader;
    this.info = info;
    this.tables = tables;
  }

  static async attach(pid: number, opts: AttachOptions = {}): Promise<Target> {
    checkPid(pid);
    const core = new Core();
    const reader = new LiveReader(pid);
    core.setReader(reader);
    const tables = loadAllTables(core, opts.versionTables ?? []);
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      try {
        const info = Target.locate(core, reader, pid, tables, opts);
        core.x.walkSetWantGil(opts.wantGil ? 1 : 0);
        return new Target(core, reader, info, tables);
      } catch (e) {
        const retriable = e instanceof WspyError && (e.code === "NOT_PYTHON" || (e as WspyError & { retriable?: boolean }).retriable);
        if (!retriable || Date.now() >= deadline || !isAlive(pid)) {
          if (!isAlive(pid) && e instanceof WspyError && e.code === "NOT_PYTHON" && opts.waitMs) {
            throw new WspyError("NO_SUCH_PROCESS", `process ${pid} exited before its Python interpreter started`, "check the command runs on its own");
          }
          throw e;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  /** One attempt at finding the interpreter, its version and table. */
  private static locate(core: Core, reader: LiveReader, pid: number, tables: TableInfo[], opts: AttachOptions): TargetInfo {
    const maps = readMaps(pid);
    const command = readCmdline(pid);
    const mod = findPythonModule(pid, maps);
    if (!mod) {
      throw new WspyError("NOT_PYTHON", `process ${pid} (${command.join(" ") || "?"}) is not a Python process: no libpython or python executable is mapped`,
        "pass the pid of a CPython interpreter; for a launcher script, the pid of the python process it started");
    }
    // the ELF file, through the target's root (containers), else the mapping itself
    let bytes: Buffer;
    try {
      bytes = readFileSync(targetPath(pid, mod.path));
    } catch {
      const first = mod.maps.reduce((a, b) => (a.offset <= b.offset ? a : b));
      try {
        bytes = readFileSync(`/proc/${pid}/map_files/${first.start.toString(16)}-${first.end.toString(16)}`);
      } catch (e2) {
        const code = (e2 as NodeJS.ErrnoException).code;
        if (code === "EACCES" || code === "EPERM") throw new WspyError("PERMISSION", `permission denied reading ${mod.path} of process ${pid}`, permissionHint());
        throw new WspyError("NOT_PYTHON", `cannot read ${mod.path}, the interpreter of process ${pid}`, "the file may have been replaced or deleted since the process started");
      }
    }
    const ptr = core.copyIn(bytes);
    const st = core.x.elfParse(ptr, bytes.length);
    core.x.freeBuffer(ptr);
    if (st !== ST_OK) throw new WspyError("NOT_PYTHON", `${mod.path} is not a readable ELF file (${STATUS_NAMES[st]} ${core.x.lastErrorDetail()})`, "pass the pid of a CPython interpreter");
    const hasInterpreter = [SYM_PY_RUNTIME, SYM_PY_VERSION, SYM_INTERP_HEAD, SYM_THREADSTATE_CURRENT].some((i) => core.x.elfSymbol(i) !== 0n) ||
      core.x.elfPyRuntimeSection() !== 0n;
    if (!hasInterpreter) {
      throw new WspyError("NOT_PYTHON", `process ${pid} (${command.join(" ") || mod.path}) is not a Python process: ${mod.path} holds no CPython interpreter`,
        "pass the pid of a CPython interpreter; for a launcher script, the pid of the python process it started");
    }

    // load bias: the mapping of file offset 0 against the first PT_LOAD
    const lowest = mod.maps.reduce((a, b) => (a.offset <= b.offset ? a : b));
    const firstVaddr = Number(core.x.elfFirstLoadVaddr());
    const firstOffset = Number(core.x.elfFirstLoadOffset());
    const bias = BigInt(lowest.start - lowest.offset - (Math.floor(firstVaddr / PAGE) * PAGE - Math.floor(firstOffset / PAGE) * PAGE));
    const sym = (i: number): bigint => {
      const v = core.x.elfSymbol(i);
      return v === 0n ? 0n : v + bias;
    };
    let runtime = sym(SYM_PY_RUNTIME);
    if (runtime === 0n && core.x.elfPyRuntimeSection() !== 0n) runtime = core.x.elfPyRuntimeSection() + bias;

    // permission: one small read tells EPERM apart from everything else
    const probe = Target.readRemote(core, reader, runtime !== 0n ? runtime : BigInt(lowest.start), 8);
    if (probe === -1 || probe === -13) throw new WspyError("PERMISSION", `permission denied reading the memory of process ${pid}`, permissionHint());
    if (probe === -3) throw new WspyError("NO_SUCH_PROCESS", `process ${pid} exited`, "");

    // the version: Py_Version, the debug offsets' header, Py_GetVersion's buffer, the file name
    let hex = 0;
    let freeThreaded = /libpython\d\.\d+[a-z]*t[a-z]*\.so/.test(mod.path);
    const pyVersion = sym(SYM_PY_VERSION);
    if (pyVersion !== 0n) {
      const b = Target.readBuf(core, reader, pyVersion, 8);
      if (b) hex = b.readUInt32LE(0);
    }
    let debugHeader: Buffer | null = null;
    if (runtime !== 0n) {
      debugHeader = Target.readBuf(core, reader, runtime, core.x.DEBUG_OFFSETS_HEADER.value);
      if (debugHeader && debugHeader.toString("latin1", 0, 8) === "xdebugpy") {
        if (!hex) hex = debugHeader.readUInt32LE(8);
        if (debugHeader.readUInt32LE(16) !== 0) freeThreaded = true;
      }
    }
    if (!hex && core.x.elfSymbol(SYM_VERSION_BUFFER) !== 0n) {
      const b = Target.readBuf(core, reader, sym(SYM_VERSION_BUFFER), 250);
      const m = b ? /^(\d+)\.(\d+)\.(\d+)/.exec(b.toString("latin1")) : null;
      if (m) hex = versionToHex(+m[1], +m[2], +m[3]);
    }
    if (!hex) {
      const m = LIBPYTHON.exec(mod.path) ?? /python(\d)\.(\d+)/.exec(path.basename(mod.path));
      if (m) hex = versionToHex(+m[1], +m[2], 0);
    }
    if (!hex) {
      const e = new WspyError("NOT_PYTHON", `cannot tell the Python version of process ${pid} (${mod.path})`, "it may still be starting; try again in a moment") as WspyError & { retriable?: boolean };
      e.retriable = true;
      throw e;
    }
    let version = hexToVersion(hex);
    if (opts.forceVersion) {
      const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(opts.forceVersion);
      if (!m) throw new WspyError("BAD_INPUT", `--force-version takes a version like 3.12, not ${JSON.stringify(opts.forceVersion)}`, "");
      const forced = versionToHex(+m[1], +m[2], +(m[3] ?? 0));
      opts.notice?.(`wspy: reading Python ${version} (process ${pid}) as ${opts.forceVersion}, as --force-version asks: stacks may be wrong`);
      hex = forced;
      version = hexToVersion(hex);
    }
    if (freeThreaded) {
      throw new WspyError("UNSUPPORTED", `process ${pid} runs a free-threaded build of Python ${version}, which wspy cannot read yet`, "profile a default (GIL) build of the same program");
    }

    // the table: a plugin for this version, else built-in, else the target's debug offsets
    let tableId = core.x.registrySelect(hex, 1);
    let tableSource = tableId >= 0 ? tables.find((t) => t.id === tableId)?.file ?? "plugin" : "";
    if (tableId < 0 && core.x.versionHasDebugOffsets(hex)) {
      const size = core.x.debugOffsetsSize(hex);
      if (size > 0 && runtime !== 0n) {
        const ptr = core.x.scratchPtr();
        const n = Target.readRemote(core, reader, runtime, size);
        if (n === size) {
          const id = core.x.registryFromDebugOffsets(ptr, size, 1);
          if (id >= 0) {
            tableId = id;
            tableSource = `_Py_DebugOffsets of process ${pid}`;
            if (core.x.registryLastWasTrial()) {
              tableSource += " (read with the newest layout wspy knows)";
              opts.notice?.(`wspy: Python ${version} is newer than this wspy; its _Py_DebugOffsets validated with the newest layout wspy knows (3.15), so it is read with that`);
            }
          } else if (-id === ST_FREE_THREADED) {
            throw new WspyError("UNSUPPORTED", `process ${pid} runs a free-threaded build of Python ${version}, which wspy cannot read yet`, "profile a default (GIL) build of the same program");
          } else {
            throw new WspyError("UNSUPPORTED", `the _Py_DebugOffsets of Python ${version} in process ${pid} did not validate (${STATUS_NAMES[-id]}, detail ${core.x.lastErrorDetail()})`,
              "supply a version table with --version-table FILE (see README, \"Version tables\")");
          }
        }
      }
    }
    if (tableId < 0) {
      tableId = core.x.registrySelect(hex, 0);
      if (tableId >= 0) tableSource = tables.find((t) => t.id === tableId)?.file ?? "built-in";
    }
    if (tableId < 0) {
      throw new WspyError("UNSUPPORTED", `Python ${version} (process ${pid}) has no version table`,
        "supply one with --version-table FILE, or export one from a 3.13+ process with `wspy tables export` (see README, \"Version tables\")");
    }

    const hasRuntime = core.x.versionHasRuntime(hex) !== 0;
    if (hasRuntime && runtime === 0n) {
      throw new WspyError("NOT_PYTHON", `no _PyRuntime symbol or .PyRuntime section in ${mod.path}`, "a stripped interpreter older than 3.10 cannot be read yet");
    }
    const interpHead = hasRuntime ? 0n : sym(SYM_INTERP_HEAD);
    if (!hasRuntime && interpHead === 0n) {
      throw new WspyError("NOT_PYTHON", `no interp_head symbol in ${mod.path} (stripped?)`, "use an interpreter with its symbol table");
    }
    // 2.7 has PyString_Type for names and line tables; 3.x PyUnicode_Type and PyBytes_Type
    const pyString = sym(SYM_STRING_TYPE);
    core.x.setStringTypes(pyString !== 0n ? pyString : sym(SYM_UNICODE_TYPE), pyString !== 0n ? pyString : sym(SYM_BYTES_TYPE));
    const ast = core.x.walkAttach(tableId, hasRuntime ? runtime : 0n, interpHead, sym(SYM_THREADSTATE_CURRENT), sym(SYM_PYCODE_TYPE));
    if (ast !== ST_OK) {
      if (ast === ST_GONE) throw new WspyError("NO_SUCH_PROCESS", `process ${pid} exited`, "");
      if (ast === ST_PERM) throw new WspyError("PERMISSION", `permission denied reading the memory of process ${pid}`, permissionHint());
      const e = new WspyError(ast === ST_NO_RUNTIME ? "NOT_PYTHON" : "UNSUPPORTED",
        ast === ST_NO_RUNTIME ? `the Python ${version} interpreter in process ${pid} is not running Python code (not initialised, or finalised)`
          : `cannot walk the threads of Python ${version} in process ${pid}: ${ast === ST_CHAIN ? "the thread list does not point back to its interpreter" : `${STATUS_NAMES[ast]} at 0x${core.x.lastErrorAddr().toString(16)}`}, so the version table ${tableSource} does not match this build`,
        ast === ST_NO_RUNTIME ? "try again once the program has started" : "supply a matching table with --version-table FILE") as WspyError & { retriable?: boolean };
      e.retriable = true;
      throw e;
    }
    Target.verifyWalk(core, pid, version, tableSource);
    return { pid, binary: mod.path, version, versionHex: hex, tableSource, tableId, command };
  }

  /**
   * One trial walk of every thread: a table that does not match the build shows as stacks that
   * never decode (chains that do not close, pointers that are not code objects). Refuse it then,
   * rather than produce garbage. Threads without Python frames pass.
   */
  private static verifyWalk(core: Core, pid: number, version: string, tableSource: string): void {
    let lastBad = 0;
    for (let attempt = 0; attempt < 8; attempt++) {
      const n = core.x.walkSample();
      if (n < 0) {
        if (-n === ST_GONE) throw new WspyError("NO_SUCH_PROCESS", `process ${pid} exited`, "");
        if (-n === ST_PERM) throw new WspyError("PERMISSION", `permission denied reading the memory of process ${pid}`, permissionHint());
        lastBad = -n;
        continue;
      }
      const v = core.i32();
      const base = core.x.walkResultsPtr() >> 2;
      let ok = 0;
      for (let i = 0; i < n; i++) {
        const st = v[base + i * 8 + R_STATUS];
        if (st === ST_OK) ok++;
        else lastBad = st;
      }
      if (ok > 0) return;
    }
    throw new WspyError("UNSUPPORTED",
      `the stacks of Python ${version} in process ${pid} do not decode with the version table ${tableSource} (${STATUS_NAMES[lastBad] ?? lastBad}): it does not match this build`,
      "check the table with `wspy tables check FILE`, or supply a matching one with --version-table FILE");
  }

  /** Reads n bytes at addr into the core's scratch region; returns bytes read or -errno. */
  private static readRemote(core: Core, reader: LiveReader, addr: bigint, n: number): number {
    const ptr = core.x.scratchPtr();
    // one iovec pair, built here (attach time only) in the scratch region's tail
    const iov = ptr + core.x.scratchSize() - 64;
    const view = new DataView(core.x.memory.buffer);
    const base = core.memoryBaseNow();
    view.setBigUint64(iov, BigInt(base + ptr), true);
    view.setBigUint64(iov + 8, BigInt(n), true);
    view.setBigUint64(iov + 16, addr, true);
    view.setBigUint64(iov + 24, BigInt(n), true);
    return reader.readv(base + iov, base + iov + 16, 1);
  }

  private static readBuf(core: Core, reader: LiveReader, addr: bigint, n: number): Buffer | null {
    const got = Target.readRemote(core, reader, addr, n);
    if (got !== n) return null;
    const ptr = core.x.scratchPtr();
    return Buffer.from(core.u8().slice(ptr, ptr + n));
  }

  close(): void {
    this.core.setReader(null);
    this.reader.close();
  }
}
