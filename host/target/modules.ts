// The target as a list of modules: every file its memory map shows (and the vdso), with the
// address ranges it occupies, where its file offset 0 maps, what kind of object it is, and which
// one holds the interpreter. Built once per attach from the map of a live process
// (/proc/PID/maps), a core file (NT_FILE) or a snapshot (the recorded interpreter only).
// Must not know: CPython layouts; ELF layouts (the core parses the objects: host/target/attach.ts hands
// it their bytes and keeps the object ids).
// Source of truth: proc(5) for the map's fields; docs/cpython-layouts.md §2 (which file holds
// the interpreter, load bias).

import path from "node:path";
import type { Mapping } from "./proc.js";

/** What a mapped object is, as its name says (the interpreter is marked apart). */
export type ModuleKind = "executable" | "libpython" | "libc" | "loader" | "vdso" | "extension" | "library" | "other";

export interface ModuleRange {
  start: number;
  end: number;
  /** file offset of start */
  offset: number;
  perms: string;
}

/** One mapped object of the target. */
export interface Module {
  /** the file as the target sees it ("[vdso]" for the vdso) */
  readonly path: string;
  readonly kind: ModuleKind;
  /** its mappings, by address */
  readonly ranges: readonly ModuleRange[];
  /**
   * The address its file offset 0 maps at (the lowest-offset mapping's start minus its offset).
   * The load bias is this minus the page-aligned start of its first PT_LOAD (vaddr - offset):
   * equal for shared objects and PIE executables, 0 for a non-PIE executable.
   */
  readonly base: bigint;
  /** the file that holds the interpreter (libpython, else the python executable) */
  readonly isInterpreter: boolean;
  /** a libpython shared library (the interpreter of a --enable-shared build) */
  readonly isLibpython: boolean;
}

const LIBPYTHON = /\/libpython(\d)\.(\d+)([a-z]*)\.so/;
/** CPython extension modules: tagged (`_ctypes.cpython-312-x86_64-linux-gnu.so`, `.abi3.so`) or in lib-dynload (2.7: `_ctypes.so`). */
const EXTENSION = /\.cpython-[^/]*\.so$|\.abi3\.so$|\/lib-dynload\/[^/]+\.so$|\/site-packages\/.*\.so$/;

function kindOf(file: string, exe: string): ModuleKind {
  if (file === "[vdso]") return "vdso";
  if (LIBPYTHON.test(file)) return "libpython";
  const base = path.basename(file);
  if (/^libc(\.so[.\d]*|-[\d.]+\.so)$/.test(base)) return "libc";
  if (/^ld-linux[^/]*\.so[.\d]*$|^ld-[\d.]+\.so$|^ld-musl/.test(base)) return "loader";
  if (EXTENSION.test(file)) return "extension";
  if (file === exe) return "executable";
  if (/\.so(\.|$)/.test(base)) return "library";
  return "other"; // an executable seen through ld-linux, a data file mapped by the program
}

/** The mapped objects of a target, built once from its memory map. */
export class ModuleList {
  readonly modules: readonly Module[];
  /** the module that holds the interpreter, null when nothing looks like Python */
  readonly interpreter: Module | null;

  private constructor(modules: Module[], interpreter: Module | null) {
    this.modules = modules;
    this.interpreter = interpreter;
  }

  /**
   * The modules of a memory map: every file-backed mapping (by path; a " (deleted)" suffix is
   * dropped) and the vdso. exe: the executable as the process saw it ("" when unknown).
   */
  static fromMaps(maps: Mapping[], exe: string): ModuleList {
    const files = new Map<string, ModuleRange[]>();
    for (const m of maps) {
      if (!m.path.startsWith("/") && m.path !== "[vdso]") continue;
      const p = m.path.replace(/ \(deleted\)$/, "");
      if (!files.has(p)) files.set(p, []);
      files.get(p)!.push({ start: m.start, end: m.end, offset: m.offset, perms: m.perms });
    }
    const interp = pickInterpreter([...files.keys()], exe);
    const modules: Module[] = [];
    for (const [p, ranges] of files) {
      ranges.sort((a, b) => a.start - b.start);
      const lowest = ranges.reduce((a, b) => (a.offset <= b.offset ? a : b));
      const kind = kindOf(p, exe);
      modules.push({
        path: p, kind, ranges, base: BigInt(lowest.start - lowest.offset),
        isInterpreter: p === interp, isLibpython: kind === "libpython",
      });
    }
    modules.sort((a, b) => a.ranges[0].start - b.ranges[0].start);
    return new ModuleList(modules, modules.find((m) => m.isInterpreter) ?? null);
  }

  /** A snapshot's list: only the interpreter, as recorded (its ranges were not kept). */
  static recorded(binary: string, base: bigint): ModuleList {
    const kind = kindOf(binary, "");
    const mod: Module = { path: binary, kind, ranges: [], base, isInterpreter: true, isLibpython: kind === "libpython" };
    return new ModuleList([mod], mod);
  }

  /** The module mapped from this file (as the target names it). */
  byPath(file: string): Module | undefined {
    return this.modules.find((m) => m.path === file);
  }

  /** The modules of one kind, by address. */
  ofKind(kind: ModuleKind): Module[] {
    return this.modules.filter((m) => m.kind === kind);
  }

  /** The module whose mappings hold addr. */
  containing(addr: number): Module | undefined {
    return this.modules.find((m) => m.ranges.some((r) => r.start <= addr && addr < r.end));
  }
}

/** The mapped file that holds the interpreter: libpython, else the executable (exe, "" when unknown), else anything python. */
function pickInterpreter(files: string[], exe: string): string | null {
  const real = files.filter((p) => p.startsWith("/"));
  for (const p of real) if (LIBPYTHON.test(p)) return p;
  if (exe && real.includes(exe) && /python/i.test(path.basename(exe))) return exe;
  // started through ld-linux (exe is the loader), or an executable not named python*
  for (const p of real) {
    const base = path.basename(p);
    if (/python/i.test(base) && !base.endsWith(".so") && !/\.so\./.test(base)) return p;
  }
  for (const p of real) if (/python/i.test(path.basename(p)) && /\.so/.test(p)) return p;
  if (exe && real.includes(exe)) return exe;
  return null;
}

/**
 * The load bias of a module whose first PT_LOAD has this vaddr and file offset (from the core's
 * parse): base minus the page-aligned difference, as the loader maps it.
 */
export function loadBias(mod: Module, firstLoadVaddr: bigint, firstLoadOffset: bigint): bigint {
  const page = 4096n;
  return mod.base - ((firstLoadVaddr / page) * page - (firstLoadOffset / page) * page);
}
