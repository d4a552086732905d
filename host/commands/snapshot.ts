// Snapshots and offline dumps. `takeSnapshot` attaches to a live process with a recording reader,
// dumps every thread once, and keeps exactly what the decoder read plus what it learnt from the
// ELF file (symbol addresses, load bias, version, the version table as plugin JSON), so that
// `dump --snapshot` decodes it on any machine without the interpreter or its files.
// With --native it pauses the threads (ptrace) while it dumps, unwinds their native stacks then,
// and keeps each thread's registers and what the unwind asked of the ELF files (header field
// "native": host/target/native-record.ts); the bytes the unwind read are in the recorded memory.
// `dumpCoreFile` and `dumpSnapshotFile` run the same dump over a core file or a snapshot, with
// --native over the core's NT_PRSTATUS registers (objects from its NT_FILE files) or the
// snapshot's record.
// Must not know: CPython layouts (the core decodes), the file format's bytes (target/snapshot-file.ts),
// how a native stack is unwound (host/target/native.ts).
// Source of truth: host/target/snapshot-file.ts (format), host/target/attach.ts (RecordedAttach, ProcessView),
// host/target/native-record.ts (the field "native"), README ("Core dumps and snapshots").

import { Core } from "../core/core.js";
import { Target, ProcessView, RecordedAttach, ElfFacts, ThreadStates, elfFactsToJson, elfFactsFromJson, hexAddress, parseHexAddress } from "../target/attach.js";
import { dumpTarget, DumpResult, NativeSource, nativeSource, stopThreads, threadRegisters } from "./dump.js";
import { exportTable } from "../core/tables.js";
import { WspyError } from "../errors.js";
import { readInputFile } from "../io/files.js";
import { RecordingReader, encodeSnapshot, decodeSnapshot, SnapshotMemory, SNAPSHOT_FORMAT } from "../target/snapshot-file.js";
import { OfflineReader, CoreFile, viewOfCoreFile, CoreFileOptions } from "../target/core-file.js";
import { NativeStacks, NativeObjects, targetObjects } from "../target/native.js";
import { NativeRecord, RecordingNativeObjects, RecordedNativeObjects, nativeRecordFromJson } from "../target/native-record.js";
import type { Tracer } from "../target/ptrace.js";
import { readComm } from "../sampling/threads.js";
import { stderrLine } from "../io/escape.js";
import { VERSION } from "../version.js";


export interface SnapshotOptions {
  versionTables?: string[];
  forceVersion?: string;
  /** also record what `dump --locals` reads (1: short values, 2: longer ones) */
  locals?: number;
  /** also record what `dump --async` reads (asyncio's tasks) */
  async?: boolean;
  /** also record what `dump --native` reads (pauses the threads while the snapshot is taken) */
  native?: boolean;
}

export interface SnapshotResult {
  /** the file's bytes */
  bytes: Buffer;
  /** the dump made while recording (what `dump --snapshot` of the file prints) */
  dump: DumpResult;
  ranges: number;
  memoryBytes: number;
}

/** Records one dump of process pid: what was read, and the facts attach found. */
export async function takeSnapshot(pid: number, opts: SnapshotOptions = {}): Promise<SnapshotResult> {
  let recorder: RecordingReader | null = null;
  const target = await Target.attach(pid, {
    versionTables: opts.versionTables, forceVersion: opts.forceVersion, wantGil: true,
    notice: stderrLine,
    wrapReader: (reader, core) => (recorder = new RecordingReader(reader, core)),
  });
  let tracer: Tracer | null = null;
  let stacks: NativeStacks | null = null;
  try {
    let source: NativeSource | undefined, objects: RecordingNativeObjects | null = null, states: ThreadStates | undefined;
    let regsOf = new Map<number, BigUint64Array | null>();
    if (opts.native) {
      // as `dump --native` does: every thread stopped while it is read (its run state read before)
      ({ tracer, states } = stopThreads(pid));
      regsOf = threadRegisters(tracer);
      objects = new RecordingNativeObjects(targetObjects(target));
      stacks = new NativeStacks(target, objects);
      source = nativeSource(stacks, regsOf, [...regsOf.keys()], (tid) => readComm(pid, tid), false);
    }
    const d = dumpTarget(target, { locals: opts.locals, async: opts.async, nativeSource: source, ...(states ? { states } : {}) });
    const info = target.info, facts = target.facts;
    const header = {
      format: SNAPSHOT_FORMAT,
      wspy: VERSION,
      created: new Date().toISOString(),
      note: "the memory wspy read for one stack dump of every thread: it may contain data of the program",
      pid: info.pid,
      command: info.command,
      exe: target.view.exe(),
      binary: info.binary,
      python: info.version,
      versionHex: info.versionHex,
      tableSource: info.tableSource,
      table: JSON.parse(exportTable(target.core, info.tableId, info.versionHex, info.tableSource, info.version)),
      elf: elfFactsToJson(facts.elf),
      bias: hexAddress(facts.bias),
      locals: opts.locals ?? 0,
      async: !!opts.async,
      ...(target.asyncioDebugAt ? { asyncioDebug: { addr: hexAddress(target.asyncioDebugAt.addr), size: target.asyncioDebugAt.size } } : {}),
      threads: d.threads.map((t) => ({ tid: t.tid, active: t.active, name: t.name })),
      ...(objects ? { native: objects.toJson([...regsOf].map(([tid, regs]) => ({ tid, regs }))) } : {}),
    };
    const ranges = recorder!.ranges();
    const bytes = encodeSnapshot(header, ranges);
    return { bytes, dump: d, ranges: ranges.length, memoryBytes: ranges.reduce((s, r) => s + r.data.length, 0) };
  } finally {
    stacks?.close();
    if (tracer) {
      tracer.resume();
      tracer.detach();
    }
    target.close();
  }
}

// ---- reading a snapshot back ----

function damaged(file: string, what: string): WspyError {
  return new WspyError("BAD_INPUT", `${file} is a damaged wspy snapshot: ${what}`, "take it again with `wspy snapshot -p PID -o FILE`");
}

function bigHex(file: string, v: unknown, field: string): bigint {
  const a = parseHexAddress(v);
  if (a === null) throw damaged(file, `header field ${field} must be a hex address like "0x7f00"`);
  return a;
}

function str(file: string, v: unknown, field: string): string {
  if (typeof v !== "string") throw damaged(file, `header field ${field} must be a string`);
  return v;
}

function int(file: string, v: unknown, field: string, min = 0, max = 2 ** 32 - 1): number {
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) throw damaged(file, `header field ${field} must be an integer from ${min} to ${max}`);
  return v as number;
}

export interface SnapshotInfo {
  pid: number;
  command: string[];
  exe: string;
  locals: number;
  /** taken with --async: it holds what `dump --async` reads */
  async: boolean;
  /** taken with --native: the threads' registers and the objects' facts `dump --native` uses (null without) */
  native: NativeRecord | null;
  threads: { tid: number; active: boolean; name: string }[];
  recorded: RecordedAttach;
}

function asyncioDebugOf(file: string, v: unknown): { addr: bigint; size: number } {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw damaged(file, "header field asyncioDebug must be an object");
  const r = v as Record<string, unknown>;
  return { addr: bigHex(file, r.addr, "asyncioDebug.addr"), size: int(file, r.size, "asyncioDebug.size", 1, 4096) };
}

/** Checks a decoded header strictly; every problem names its field. */
export function snapshotInfo(file: string, h: Record<string, unknown>): SnapshotInfo {
  const command = h.command;
  if (!Array.isArray(command) || !command.every((c) => typeof c === "string")) throw damaged(file, "header field command must be a list of strings");
  const facts: ElfFacts = elfFactsFromJson(h.elf, (what) => { throw damaged(file, `header field ${what}`); });
  const table = h.table;
  if (typeof table !== "object" || table === null || Array.isArray(table)) throw damaged(file, "header field table must be a version table (an object)");
  const threadsIn = h.threads;
  if (!Array.isArray(threadsIn)) throw damaged(file, "header field threads must be a list");
  const threads = threadsIn.map((t, i) => {
    if (typeof t !== "object" || t === null) throw damaged(file, `header field threads[${i}] must be an object`);
    const r = t as Record<string, unknown>;
    if (typeof r.active !== "boolean") throw damaged(file, `header field threads[${i}].active must be true or false`);
    return { tid: int(file, r.tid, `threads[${i}].tid`, -(2 ** 31), 2 ** 31 - 1), active: r.active, name: r.name === undefined ? "" : str(file, r.name, `threads[${i}].name`) };
  });
  return {
    pid: int(file, h.pid, "pid", 0, 2 ** 31 - 1),
    command: command as string[],
    exe: h.exe === undefined ? "" : str(file, h.exe, "exe"),
    locals: h.locals === undefined ? 0 : int(file, h.locals, "locals", 0, 9),
    async: h.async === undefined ? false : h.async === true ? true : h.async === false ? false : (() => { throw damaged(file, "header field async must be true or false"); })(),
    native: h.native === undefined ? null : nativeRecordFromJson(h.native, (what) => { throw damaged(file, `header field ${what}`); }),
    threads,
    recorded: {
      binary: str(file, h.binary, "binary"),
      elf: facts,
      bias: bigHex(file, h.bias, "bias"),
      versionHex: int(file, h.versionHex, "versionHex", 1),
      tableJson: JSON.stringify(table),
      tableSource: str(file, h.tableSource, "tableSource"),
      ...(h.asyncioDebug === undefined ? {} : { asyncioDebug: asyncioDebugOf(file, h.asyncioDebug) }),
    },
  };
}

/** A snapshot file as a ProcessView for core (whose memory the reader serves). */
export function snapshotView(core: Core, file: string): ProcessView & { info: SnapshotInfo } {
  // bounded, regular files only (host/io/files.ts): /dev/zero or a link to it is refused
  return snapshotViewOf(core, readInputFile(file, { kind: "snapshot" }), file);
}

/** A snapshot's bytes as a ProcessView (file: how messages name it). */
export function snapshotViewOf(core: Core, bytes: Uint8Array, file: string): ProcessView & { info: SnapshotInfo } {
  const snap = decodeSnapshot(bytes, file);
  const info = snapshotInfo(file, snap.header);
  const memory = new SnapshotMemory(snap.ranges);
  const active = new Map(info.threads.map((t) => [t.tid, t.active]));
  const states: ThreadStates = { active: (tid) => active.get(tid) ?? true, close: () => {} };
  const names = new Map(info.threads.map((t) => [t.tid, t.name]));
  const reader = new OfflineReader(core, (addr, len, dst, at) => memory.serve(addr, len, dst, at));
  return {
    describe: `snapshot ${file}`,
    kind: "snapshot",
    pid: info.pid,
    reader,
    maps: () => [],
    command: () => info.command,
    exe: () => info.exe,
    readMappedFile: (p: string): Buffer => {
      throw new WspyError("INTERNAL", `a snapshot holds no files (${p} was asked for)`);
    },
    threadStates: () => states,
    // OS thread names are not in memory: the ones recorded when the snapshot was taken
    osThreadName: (tid: number) => names.get(tid) ?? "",
    recorded: info.recorded,
    readProblems: () => (reader.misses ? "the snapshot does not hold all the memory this wspy reads (taken by another version of wspy, or damaged?)" : ""),
    close: () => {},
    info,
  };
}

export interface OfflineDumpOptions extends CoreFileOptions {
  versionTables?: string[];
  forceVersion?: string;
  locals?: number;
  /** read asyncio's tasks too (--async) */
  async?: boolean;
  /** merge each thread's native frames (--native): a core's registers, a snapshot's record */
  native?: boolean;
  /** with native: keep the interpreter's plumbing frames (--native-all) */
  nativeAll?: boolean;
  /** where one-line notices and warnings go (default: stderr) */
  notice?: (line: string) => void;
}

/** What an offline view gives for native stacks: each thread's registers, every thread id, and where the objects' facts come from (null: the target's own files). */
interface OfflineNative {
  regs: Map<number, BigUint64Array | null>;
  tids: number[];
  objects: NativeObjects | null;
  /** threads whose stack memory the file lacks */
  noStack?: Set<number>;
}

/** Attaches to view (whose reader serves core) and dumps every thread once (native: with its native stacks). */
export function dumpView(core: Core, view: ProcessView, opts: OfflineDumpOptions = {}, native: OfflineNative | null = null): DumpResult {
  const notice = opts.notice ?? stderrLine;
  for (const w of view.warnings?.() ?? []) notice(w);
  const target = Target.open(view, { versionTables: opts.versionTables, forceVersion: opts.forceVersion, wantGil: true, notice }, core);
  let stacks: NativeStacks | null = null;
  try {
    let source: NativeSource | undefined;
    if (native) {
      stacks = new NativeStacks(target, native.objects ?? targetObjects(target));
      source = nativeSource(stacks, native.regs, native.tids, (tid) => view.osThreadName?.(tid) ?? "", !!opts.nativeAll, native.noStack);
    }
    const d = dumpTarget(target, { locals: opts.locals, async: opts.async, nativeSource: source });
    // OS thread names are not in memory: the view's (a snapshot's record, a core's process name)
    if (view.osThreadName) for (const t of d.threads) if (!t.name) t.name = view.osThreadName(t.tid);
    return d;
  } finally {
    stacks?.close();
    target.close();
  }
}

/** Every thread's stack in an ELF core file (--native: unwound from each thread's NT_PRSTATUS registers). */
export function dumpCoreFile(file: string, opts: OfflineDumpOptions = {}): DumpResult {
  const core = new Core();
  const cf = CoreFile.open(core, file, { exe: opts.exe, sysroot: opts.sysroot, notice: opts.notice });
  const view = viewOfCoreFile(core, cf);
  // the core file's objects are its NT_FILE files (found as named, or under --sysroot), read like the interpreter's
  const native: OfflineNative | null = opts.native
    ? { regs: new Map(cf.threads.map((t) => [t.tid, t.regs])), tids: cf.threads.map((t) => t.tid), objects: null, noStack: new Set(cf.threadsWithoutStack()) } : null;
  return dumpView(core, view, opts, native);
}

/** Every thread's stack as a snapshot recorded it. */
export function dumpSnapshotFile(file: string, opts: OfflineDumpOptions = {}): DumpResult {
  const core = new Core();
  const view = snapshotView(core, file);
  if (opts.async && !view.info.async) {
    throw new WspyError("BAD_INPUT", `${file} was taken without --async, so it holds no asyncio tasks`, "take the snapshot with `wspy snapshot --async -p PID -o FILE`");
  }
  if ((opts.locals ?? 0) > view.info.locals) {
    throw new WspyError("BAD_INPUT", view.info.locals ? `${file} was taken with locals up to level ${view.info.locals}` : `${file} was taken without --locals, so it holds no local variables`,
      `take the snapshot with \`wspy snapshot ${"-l".repeat(opts.locals ?? 1)} -p PID -o FILE\``);
  }
  const rec = view.info.native;
  if (opts.native && !rec) {
    throw new WspyError("BAD_INPUT", `${file} was taken without --native, so it holds no native stacks`, "take the snapshot with `wspy snapshot --native -p PID -o FILE`");
  }
  const native: OfflineNative | null = opts.native && rec
    ? { regs: new Map(rec.threads.map((t) => [t.tid, t.regs])), tids: rec.threads.map((t) => t.tid), objects: new RecordedNativeObjects(rec) } : null;
  return dumpView(core, view, opts, native);
}
