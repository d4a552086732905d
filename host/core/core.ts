// Loads the WASM core once, serves its imports (`read` through a Reader, `locateMemory`), and
// lifts its profile tables into a Profile for the renderers.
// Must not know: CPython layouts (the core decodes), output formats (renderers render).
// Source of truth: assembly/index.ts (the exports), assembly/aggregate/intern.ts (table shapes).

import { joinAll } from "../profile/join.js";
import { readFileSync, existsSync, statSync } from "node:fs";
import { fileIdentity } from "../io/files.js";
import { fileURLToPath } from "node:url";
import path from "node:path";
import * as loader from "@assemblyscript/loader";
import type { Reader } from "../target/reader.js";
import { addressOf } from "../target/reader.js";
import { WspyError, CoreTrap, isCoreTrap } from "../errors.js";
import {
  loadContract, ST_CHAIN, READ_GONE, type ContractExports, TK_STRIDE, TK_ADDR_LO, TK_ADDR_HI, TK_NAME, TK_STATE, TK_FRAME_FIRST,
  TK_FRAME_COUNT, TK_AWAITER_FIRST, TK_AWAITER_COUNT, TK_FRAME_ADDR_LO, TK_FRAME_ADDR_HI, TK_RUNNING, TK_STATUS,
} from "./contract.js";
import type { Profile, ProfileFrame, ProfileThread, ProfileMeta } from "../profile/profile.js";
import { traceMark } from "../trace.js";

/** The core's exports, typed where the host uses them. */
export interface CoreExports extends ContractExports {
  memory: WebAssembly.Memory;
  __getString(ptr: number): string;
  readCallCount(): number;
  ioForgetBase(): void;
  lastErrorCode(): number;
  lastErrorDetail(): number;
  lastErrorAddr(): bigint;
  allocBuffer(len: number): number;
  freeBuffer(ptr: number): void;
  scratchPtr(): number;
  scratchSize(): number;
  elfObjectNew(keyPtr: number, keyLen: number, base: bigint): number;
  elfObjectCount(): number;
  elfObjectState(id: number): number;
  elfObjectBase(id: number): bigint;
  elfObjectKeptSymbols(id: number): number;
  elfParse(id: number, ptr: number, len: number, keepSymbols: number): number;
  elfNextRanges(ptr: number, len: number, stage: number): number;
  elfRangesPtr(): number;
  elfSymbol(id: number, i: number): bigint;
  elfSymbolSize(id: number, i: number): bigint;
  elfSymbolFind(id: number, namePtr: number, nameLen: number): bigint;
  elfSymbolFoundSize(): bigint;
  elfType(id: number): number;
  elfFirstLoadVaddr(id: number): bigint;
  elfFirstLoadOffset(id: number): bigint;
  elfPyRuntimeSection(id: number): bigint;
  elfPyRuntimeSectionSize(id: number): bigint;
  elfPyRuntimeSectionOffset(id: number): bigint;
  elfEhFrameHdr(id: number): bigint;
  elfEhFrameHdrSize(id: number): bigint;
  elfEhFrame(id: number): bigint;
  elfEhFrameSize(id: number): bigint;
  elfSymbolAt(id: number, addr: bigint): number;
  elfSymbolAtValue(): bigint;
  cfiFindFde(hdrPtr: number, hdrLen: number, hdrAddr: bigint, pc: bigint): bigint;
  cfiRow(ehPtr: number, ehLen: number, ehAddr: bigint, fdeAddr: bigint, pc: bigint): number;
  cfiStep(ptr: number, len: number, addr: bigint): number;
  cfiRegsPtr(): number;
  cfiMissingAddr(): bigint;
  cfiFdeStart(): bigint;
  cfiFdeEnd(): bigint;
  elfEvalRangeCount(id: number): number;
  elfBuildIdNote(id: number): bigint;
  elfBuildIdNoteSize(id: number): bigint;
  elfHasSymtab(id: number): number;
  elfDecodeBuildId(ptr: number, len: number): number;
  elfEvalRangeLo(id: number, i: number): bigint;
  elfEvalRangeHi(id: number, i: number): bigint;
  nativeModuleSet(slot: number, lo: bigint, hi: bigint, hdrPtr: number, hdrLen: number, hdrAddr: bigint, ehPtr: number, ehLen: number, ehAddr: bigint): number;
  nativeModuleAddEval(slot: number, lo: bigint, hi: bigint): number;
  nativeModuleSetTrampolines(slot: number): number;
  nativeTrampolineChecked(pc: bigint, kind: number): number;
  nativeModulesClear(): void;
  nativeUnwind(winPtr: number, winLen: number, winAddr: bigint): number;
  nativeRegsPtr(): number;
  nativeStop(): number;
  nativeStopPc(): bigint;
  nativeFramePc(i: number): bigint;
  nativeFrameModule(i: number): number;
  nativeFrameFlags(i: number): number;
  nativeFrameFdeStart(i: number): bigint;
  nativeJumpTargets(ptr: number, len: number, addr: bigint): number;
  nativeJumpTarget(i: number): bigint;
  MAX_NATIVE_MODULES: { value: number };
  NF_EVAL: { value: number };
  NS_END: { value: number };
  NS_NO_OBJECT: { value: number };
  NS_NO_FDE: { value: number };
  NS_BAD_CFI: { value: number };
  NS_WINDOW: { value: number };
  NS_LIMIT: { value: number };
  NS_NO_PROGRESS: { value: number };
  NS_CHECK_TRAMPOLINE: { value: number };
  TRAMP_NONE: { value: number };
  TRAMP_SUB8: { value: number };
  TRAMP_PUSH_RBP: { value: number };
  keptFrameFlags(k: number): number;
  walkExtraReadsClear(): void;
  walkExtraRead(addr: bigint, len: number, dst: number): number;
  walkExtraReadOk(i: number): number;
  FRAME_NATIVE: { value: number };
  PF_BLOCK_END: { value: number };
  elfAsyncioDebugSection(id: number): bigint;
  elfAsyncioDebugSectionSize(id: number): bigint;
  elfBss(id: number): bigint;
  elfBssSize(id: number): bigint;
  elfData(id: number): bigint;
  elfDataSize(id: number): bigint;
  ELF_MAX_KEY: { value: number };
  ELF_NEW: { value: number };
  ELF_PARSED: { value: number };
  fieldCount(): number;
  fieldName(i: number): number;
  fieldSection(i: number): number;
  fieldWidth(i: number): number;
  capCount(): number;
  capName(i: number): number;
  capValues(i: number): number;
  capOptional(i: number): number;
  tableNew(minHex: number, maxHex: number, plugin: number): number;
  tableSetField(id: number, field: number, value: number): number;
  tableSetCap(id: number, cap: number, value: number): number;
  tableValidate(id: number): number;
  tableField(id: number, field: number): number;
  tableCap(id: number, cap: number): number;
  tableCount(): number;
  registrySelect(hex: number, plugin: number): number;
  registryFromDebugOffsets(ptr: number, len: number, allowNewer: number): number;
  registryLastWasTrial(): number;
  registryInspectRuntime(ptr: number, len: number): number;
  registryRuntimeVersion(): number;
  registryRuntimeFreeThreaded(): number;
  registryRuntimeHasDebugOffsets(): number;
  registryVersionFromPyVersion(ptr: number, len: number): number;
  registryVersionFromBanner(ptr: number, len: number): number;
  debugOffsetsSize(hex: number): number;
  debugOffsetsVersion(ptr: number): number;
  versionHasDebugOffsets(hex: number): number;
  versionHasRuntime(hex: number): number;
  DEBUG_OFFSETS_HEADER: { value: number };
  DEBUG_OFFSETS_MAX: { value: number };
  walkAttach(tableId: number, runtime: bigint, interpHead: bigint, tstateCurrent: bigint, codeType: bigint): number;
  walkSample(): number;
  setStringTypes(strType: bigint, bytesType: bigint): void;
  walkCommit(time: number, weight: number): number;
  walkResultsPtr(): number;
  walkResultCount(): number;
  walkSetWantGil(on: number): void;
  walkSetPthreadTidOffset(offset: bigint): void;
  RESULT_SIZE: { value: number };
  stringCount(): number;
  stringPtr(id: number): number;
  stringLen(id: number): number;
  frameCount(): number;
  frameStride(): number;
  walkSetKeepFrames(on: number): void;
  keptFrameAddr(k: number): bigint;
  keptFrameCode(k: number): bigint;
  keptFrameCount(): number;
  framesPtr(): number;
  nodeCount(): number;
  nodesPtr(): number;
  threadCount(): number;
  threadsPtr(): number;
  setThreadName(threadId: number, nameId: number): void;
  internString(ptr: number, len: number): number;
  internFrame(nameId: number, fileId: number, line: number, kind: number, firstLine: number): number;
  internNode(parent: number, frameId: number): number;
  internThread(ident: bigint, tid: number): number;
  pushSample(time: number, weight: number, threadId: number, node: number): number;
  sampleCount(): number;
  sampleTimesPtr(): number;
  sampleWeightsPtr(): number;
  sampleThreadsPtr(): number;
  sampleNodesPtr(): number;
  aggregateReset(depth: number): number;
  stackGeneration(): number;
  stringGeneration(): number;
  stringBytes(): number;
  RESET_SAMPLES: { value: number };
  FRAME_THREAD: { value: number };
  FRAME_PROCESS: { value: number };
  FRAME_TASK: { value: number };
  RESET_STACKS: { value: number };
  RESET_ALL: { value: number };
  decodeLineNumber(format: number, ptr: number, len: number, first: number, offset: number): number;
  threadNamesRefresh(): number;
  localsRead(k: number, maxChars: number): number;
  localsPtr(): number;
  localsArgsPtr(): number;
  MAX_LOCALS: { value: number };
  floatRepr(v: number): number;
  localsTextPtr(): number;
  tasksConfigure(hex: number, freeThreaded: number, ptr: number, len: number): number;
  tasksRead(): number;
  tasksRecordsPtr(): number;
  tasksFramesPtr(): number;
  tasksAwaitersPtr(): number;
  tasksTornCount(): number;
}

/** An asyncio task as the core read it (tasksRead): addresses are the target's. */
export interface CoreTask {
  addr: bigint;
  name: string;
  /** 0 pending, 1 cancelled, 2 finished */
  state: number;
  /** interned frame ids of its coroutine chain, outermost first */
  frames: number[];
  /** indices (into the same list) of the tasks that await it */
  awaiters: number[];
  /** the remote address of its coroutine's own frame (on a thread's stack while it runs) */
  frameAddr: bigint;
  running: boolean;
  /** the status of reading its name and chain */
  status: number;
}

// traps are host errors: declared in errors.ts (the CLI needs them without loading the core)
export { CoreTrap, isCoreTrap, coreTrapError } from "../errors.js";

/**
 * Appends profile b (recorded later, by another core instance, of the same process) to a:
 * frames, stack nodes and threads are interned again so equal ones are shared.
 */
export function joinProfiles(a: Profile, b: Profile): Profile {
  const joined = joinAll([{ profile: a }, { profile: b }]);
  // one recording: a's errors and duration stand (the caller counts them)
  return { ...joined, meta: { ...a.meta, samples: a.meta.samples + b.meta.samples } };
}

// the contract's names (status codes, result record fields), built from the core's description
export {
  STATUS_NAMES, ST_OK, ST_READ, ST_GONE, ST_PERM, ST_CHAIN, ST_LIMIT, ST_NO_RUNTIME, ST_VERSION, ST_TABLE, ST_ELF,
  ST_NOT_CODE, ST_FREE_THREADED, ST_NO_MEMORY, ST_TORN,
  R_TID, R_THREAD, R_NODE, R_STATUS, R_GIL, R_DEPTH, R_KEEP, R_FIRST_KEPT, R_STRIDE,
} from "./contract.js";

/**
 * How deep Core.resetAggregate empties the core's tables: the samples only (every id stays),
 * the stacks too (frame and node ids start again), or everything (strings and threads too: the
 * code cache is read afresh). assembly/aggregate/intern.ts RESET_*.
 */
export type ResetDepth = "samples" | "stacks" | "all";
/** Strings kept across "stacks" resets before Core.windowResetDepth asks for "all", bytes. */
export const MAX_KEPT_STRING_BYTES = 4 << 20;
/** Threads kept across "stacks" resets before Core.windowResetDepth asks for "all". */
export const MAX_KEPT_THREADS = 4096;

/** What Core.liftProfile lifts: everything, or the window since the last reset, compacted. */
export interface LiftOptions {
  /**
   * Only what the samples since the last reset use: their nodes (with every ancestor), frames
   * and threads, renumbered in their order (a segment of a long run carries its window only).
   */
  window?: boolean;
  /** a name for thread i (the core's id) when the core has none (the host's OS names) */
  threadName?: (i: number) => string;
}

/**
 * The package root: the nearest folder above this file holding package.json and build/ (this
 * file is build/host/core/core.js, or a chunk of the bundled command in build/bin/).
 */
export const PACKAGE_ROOT = ((): string => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here, i = 0; i < 6; i++, dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "build"))) return dir;
  }
  return path.resolve(here, "..", "..", "..");
})();

let compiled: WebAssembly.Module | null = null;
let compiledId = "";

/** The identity of the core's WASM file: what a fact cached across runs was found by (host/io/cache.ts). */
export function coreIdentity(): string {
  if (!compiledId) compileCore();
  return compiledId;
}

function compileCore(): WebAssembly.Module {
  if (!compiled) {
    const file = process.env.WSPY_CORE_WASM ?? path.join(PACKAGE_ROOT, "build", "core.wasm");
    const bytes = readFileSync(file);
    // the file's identity (not a digest of its bytes: hashing 100 KB costs a one-shot dump)
    compiledId = fileIdentity(statSync(file));
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

export class Core {
  readonly x: CoreExports;
  private frameStride = 8;
  private reader: Reader | null = null;
  private base = 0;
  private buffer: ArrayBuffer | null = null;
  private i32view = new Int32Array(0);
  private u8view = new Uint8Array(0);
  private decoder = new TextDecoder("utf-8");

  constructor() {
    const compiledModule = compileCore();
    const imports = {
      env: {
        read: (localIov: number, remoteIov: number, count: number): number =>
          this.reader ? this.reader.readv(this.base + localIov, this.base + remoteIov, count) : -READ_GONE,
        locateMemory: (dst: number): void => {
          this.base = this.nativeBase();
          new DataView(this.x.memory.buffer).setBigUint64(dst, BigInt(this.base), true);
        },
        abort: (msg: number, file: number, line: number, col: number): void => {
          let text = "";
          try { text = `${this.str(msg)} in ${this.str(file)}`; } catch { /* memory too broken to read the message */ }
          throw new CoreTrap(`wspy core aborted${text ? `: ${text}` : ""} at ${line}:${col}`);
        },
      },
    };
    traceMark("core-compiled");
    const inst = loader.instantiateSync<CoreExports & Record<string, unknown>>(compiledModule, imports as loader.Imports);
    // the loader wraps each exported function to pass an argument count (rest arguments: an
    // array per call); no export has optional parameters, so the hot path calls them directly
    const x = inst.exports as unknown as Record<string, unknown>;
    for (const k of Object.keys(x)) {
      const original = (x[k] as { original?: unknown } | null)?.original;
      if (typeof original === "function") x[k] = original;
    }
    this.x = x as unknown as CoreExports;
    loadContract(this.x);
    this.frameStride = this.x.frameStride();
    traceMark("core-ready");
  }

  setReader(reader: Reader | null): void {
    this.reader = reader;
    this.x.ioForgetBase();
  }

  /** The absolute address of linear memory for a live reader; offline readers take 0 (no koffi). */
  private nativeBase(): number {
    return this.reader?.native ? addressOf(this.x.memory.buffer) : 0;
  }

  /** The memory base the live reader uses; offline readers subtract it from local iovecs. */
  memoryBase(): number { return this.base; }

  /** Locates linear memory now (attach-time reads built outside the core). */
  memoryBaseNow(): number {
    this.base = this.nativeBase();
    return this.base;
  }

  /** Int32 view of core memory (re-made when memory grew). */
  i32(): Int32Array {
    if (this.buffer !== this.x.memory.buffer) this.refreshViews();
    return this.i32view;
  }
  u8(): Uint8Array {
    if (this.buffer !== this.x.memory.buffer) this.refreshViews();
    return this.u8view;
  }
  private refreshViews(): void {
    this.buffer = this.x.memory.buffer;
    this.i32view = new Int32Array(this.buffer);
    this.u8view = new Uint8Array(this.buffer);
  }

  str(ptr: number): string { return this.x.__getString(ptr); }

  /** Copies bytes into freshly allocated core memory; returns the pointer (free with freeBuffer). */
  copyIn(bytes: Uint8Array): number {
    const ptr = this.x.allocBuffer(bytes.length);
    if (!ptr) throw new Error("the core could not allocate memory");
    this.u8().set(bytes, ptr);
    return ptr;
  }

  internString(s: string): number {
    const bytes = Buffer.from(s, "utf8");
    const ptr = this.x.scratchPtr();
    const len = Math.min(bytes.length, this.x.scratchSize());
    this.u8().set(bytes.subarray(0, len), ptr);
    return this.x.internString(ptr, len);
  }

  stringAt(id: number): string {
    if (id < 0) return "";
    const ptr = this.x.stringPtr(id);
    return this.decoder.decode(this.u8().subarray(ptr, ptr + this.x.stringLen(id)));
  }

  /** Frame record i: name id, file id, line, kind, first line. */
  frame(i: number): ProfileFrame {
    const v = this.i32();
    const p = (this.x.framesPtr() >> 2) + i * this.frameStride;
    const kind = v[p + 3];
    return {
      name: this.stringAt(v[p]),
      file: this.stringAt(v[p + 1]),
      line: v[p + 2],
      kind: kind === this.x.FRAME_THREAD.value ? "thread" : kind === this.x.FRAME_PROCESS.value ? "process" : kind === this.x.FRAME_TASK.value ? "task"
        : kind === this.x.FRAME_NATIVE.value ? "native" : "python",
      firstLine: v[p + 4],
    };
  }

  /** Frame ids of a stack-trie node, innermost first. */
  stackOf(node: number): number[] {
    const v = this.i32();
    const base = this.x.nodesPtr() >> 2;
    const out: number[] = [];
    for (let n = node, guard = 0; n >= 0 && guard < 1 << 20; guard++) {
      out.push(v[base + n * 2 + 1]);
      n = v[base + n * 2];
    }
    return out;
  }

  /** Thread record i: Python ident, OS tid, name. */
  thread(i: number): ProfileThread {
    const v = this.i32();
    const p = (this.x.threadsPtr() >> 2) + i * 4;
    const ident = (v[p] >>> 0) + (v[p + 1] >>> 0) * 2 ** 32;
    const tid = v[p + 2];
    const nameId = v[p + 3];
    return { ident, tid, name: nameId >= 0 ? this.stringAt(nameId) : "" };
  }

  /**
   * Names the sampled threads from the target's threading._active (core: threadNamesRefresh).
   * Returns how many names were set, or a negative status; never throws.
   */
  refreshThreadNames(): number {
    this.namesTriedFor = this.x.threadCount();
    try {
      return this.x.threadNamesRefresh();
    } catch (e) {
      // a trap is a bug in the core: the caller reports it as one (INTERNAL), never as a status
      if (isCoreTrap(e)) throw e;
      return -ST_CHAIN;
    }
  }

  private namesTriedFor = 0;
  /**
   * Calls refreshThreadNames when threads were interned since the last try and one of them has
   * no name: cheap to call after every sample (a failed refresh is not retried until another
   * thread appears, so it never slows sampling down).
   */
  refreshThreadNamesIfNew(): number {
    const n = this.x.threadCount();
    if (n <= this.namesTriedFor) return 0;
    const v = this.i32();
    const base = this.x.threadsPtr() >> 2;
    let unnamed = false;
    for (let i = this.namesTriedFor; i < n && !unnamed; i++) unnamed = v[base + i * 4 + 3] < 0;
    if (!unnamed) { this.namesTriedFor = n; return 0; }
    return this.refreshThreadNames();
  }

  /**
   * The asyncio tasks the core read after the last walkSample (tasksConfigure first), or a
   * negative status. Task names are "" when unreadable.
   */
  tasks(): CoreTask[] | number {
    const n = this.x.tasksRead();
    if (n < 0) return n;
    const v = this.i32();
    const base = this.x.tasksRecordsPtr() >> 2, fr = this.x.tasksFramesPtr() >> 2, aw = this.x.tasksAwaitersPtr() >> 2;
    const out: CoreTask[] = [];
    const addr = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    for (let i = 0; i < n; i++) {
      const r = base + i * TK_STRIDE;
      const f0 = v[r + TK_FRAME_FIRST], fn = v[r + TK_FRAME_COUNT], a0 = v[r + TK_AWAITER_FIRST], an = v[r + TK_AWAITER_COUNT];
      out.push({
        addr: addr(v[r + TK_ADDR_LO], v[r + TK_ADDR_HI]),
        name: this.stringAt(v[r + TK_NAME]),
        state: v[r + TK_STATE],
        frames: Array.from(v.subarray(fr + f0, fr + f0 + fn)).filter((f) => f >= 0), // -1: a code object that did not read
        awaiters: Array.from(v.subarray(aw + a0, aw + a0 + an)),
        frameAddr: addr(v[r + TK_FRAME_ADDR_LO], v[r + TK_FRAME_ADDR_HI]),
        running: v[r + TK_RUNNING] === 1,
        status: v[r + TK_STATUS],
      });
    }
    return out;
  }

  /**
   * Local variables of kept frame k (walkSetKeepFrames(1) before the sample), values cut to
   * maxChars characters. Null when they could not be read.
   */
  locals(k: number, maxChars: number): { name: string; value: string; arg: boolean; argIndex: number }[] | null {
    const n = this.x.localsRead(k, maxChars);
    if (n < 0) return null;
    const v = this.i32();
    const p = this.x.localsPtr() >> 2;
    const args = new Uint8Array(this.x.memory.buffer, this.x.localsArgsPtr(), n);
    const out: { name: string; value: string; arg: boolean; argIndex: number }[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ name: this.stringAt(v[p + 2 * i]), value: this.stringAt(v[p + 2 * i + 1]), arg: args[i] > 0, argIndex: args[i] - 1 });
    }
    return out;
  }

  /**
   * Empties the core's tables to `depth` (their capacity is kept: a run that resets stays at
   * the memory of its largest window). Call between ticks, after the tick's records were
   * committed. Ids handed out before are void past their depth: frame and node ids after
   * "stacks", thread and string ids after "all" (stackGeneration/stringGeneration tell which).
   */
  resetAggregate(depth: ResetDepth): void {
    const x = this.x;
    x.aggregateReset(depth === "all" ? x.RESET_ALL.value : depth === "stacks" ? x.RESET_STACKS.value : x.RESET_SAMPLES.value);
    if (depth === "all") this.namesTriedFor = 0;
  }

  /** The generation of frame and node ids (bumped by "stacks" and "all" resets). */
  get stackGeneration(): number { return this.x.stackGeneration(); }
  /** The generation of thread and string ids (bumped by "all" resets). */
  get stringGeneration(): number { return this.x.stringGeneration(); }

  /**
   * The reset that closes a window of a long run: "stacks" (no decoder cache is lost, names
   * and threads carry over), or "all" once the strings or threads kept grew past their bound
   * (a target that makes new code or threads all the time), so memory stays bounded for days.
   */
  windowResetDepth(): ResetDepth {
    return this.x.stringBytes() > MAX_KEPT_STRING_BYTES || this.x.threadCount() > MAX_KEPT_THREADS ? "all" : "stacks";
  }

  /**
   * Lifts the window since the last reset (liftProfile's `window`), then resets to `depth`
   * (windowResetDepth when not given). The profile has exactly the samples committed since the
   * last reset.
   */
  takeWindow(meta: ProfileMeta, opts: { depth?: ResetDepth; threadName?: (i: number) => string } = {}): Profile {
    const profile = this.liftProfile(meta, { window: true, threadName: opts.threadName });
    this.resetAggregate(opts.depth ?? this.windowResetDepth());
    return profile;
  }

  /** Everything recorded so far (or since the last reset, with `window`), as a Profile. */
  liftProfile(meta: ProfileMeta, opts: LiftOptions = {}): Profile {
    if (opts.window) return this.liftWindow(meta, opts.threadName);
    const frames: ProfileFrame[] = [];
    for (let i = 0, n = this.x.frameCount(); i < n; i++) frames.push(this.frame(i));
    const nNodes = this.x.nodeCount();
    const nodeParent = new Int32Array(nNodes);
    const nodeFrame = new Int32Array(nNodes);
    const v = this.i32();
    const nb = this.x.nodesPtr() >> 2;
    for (let i = 0; i < nNodes; i++) {
      nodeParent[i] = v[nb + i * 2];
      nodeFrame[i] = v[nb + i * 2 + 1];
    }
    const { sampleTime, sampleWeight, sampleThread, sampleNode } = this.liftSamples();
    const threads: ProfileThread[] = [];
    for (let i = 0, t = this.x.threadCount(); i < t; i++) threads.push(this.named(i, opts.threadName));
    return { frames, nodeParent, nodeFrame, sampleTime, sampleThread, sampleNode, sampleWeight, threads, meta };
  }

  /** Copies of the core's sample sequence (since the last reset): times, weights, threads, nodes. */
  private liftSamples(): Pick<Profile, "sampleTime" | "sampleWeight" | "sampleThread" | "sampleNode"> {
    const x = this.x;
    const n = x.sampleCount();
    const buf = x.memory.buffer;
    return {
      sampleTime: n ? new Float64Array(buf, x.sampleTimesPtr(), n).slice() : new Float64Array(0),
      sampleWeight: n ? new Float64Array(buf, x.sampleWeightsPtr(), n).slice() : new Float64Array(0),
      sampleThread: n ? new Int32Array(buf, x.sampleThreadsPtr(), n).slice() : new Int32Array(0),
      sampleNode: n ? new Int32Array(buf, x.sampleNodesPtr(), n).slice() : new Int32Array(0),
    };
  }

  private named(i: number, threadName?: (i: number) => string): ProfileThread {
    const t = this.thread(i);
    return t.name || !threadName ? t : { ...t, name: threadName(i) };
  }

  /**
   * The samples since the last reset with only the nodes, frames and threads they use, renumbered
   * in the core's order (a parent before its children, as the trie was built).
   */
  private liftWindow(meta: ProfileMeta, threadName?: (i: number) => string): Profile {
    const x = this.x;
    const { sampleTime, sampleWeight, sampleThread, sampleNode } = this.liftSamples();
    const n = sampleNode.length;
    const v = this.i32();
    const nb = x.nodesPtr() >> 2;
    const nNodes = x.nodeCount(), nFrames = x.frameCount(), nThreads = x.threadCount();
    // mark every node a sample ends at, and its ancestors (up to the first already marked)
    const nodeNew = new Int32Array(nNodes).fill(-1);
    for (let i = 0; i < n; i++) {
      for (let a = sampleNode[i], guard = 0; a >= 0 && a < nNodes && nodeNew[a] < 0 && guard < nNodes; guard++) {
        nodeNew[a] = 0;
        a = v[nb + a * 2];
      }
    }
    const frameNew = new Int32Array(nFrames).fill(-1);
    const nodeParent: number[] = [], nodeFrame: number[] = [];
    const frames: ProfileFrame[] = [];
    for (let a = 0; a < nNodes; a++) {
      if (nodeNew[a] < 0) continue;
      nodeNew[a] = nodeParent.length;
      const parent = v[nb + a * 2], frame = v[nb + a * 2 + 1];
      if (frameNew[frame] < 0) { frameNew[frame] = frames.length; frames.push(this.frame(frame)); }
      nodeParent.push(parent >= 0 ? nodeNew[parent] : -1);
      nodeFrame.push(frameNew[frame]);
    }
    const threadNew = new Int32Array(nThreads).fill(-1);
    const threads: ProfileThread[] = [];
    for (let i = 0; i < n; i++) {
      const t = sampleThread[i];
      if (t >= 0 && t < nThreads && threadNew[t] < 0) threadNew[t] = 0;
    }
    for (let t = 0; t < nThreads; t++) if (threadNew[t] >= 0) { threadNew[t] = threads.length; threads.push(this.named(t, threadName)); }
    for (let i = 0; i < n; i++) {
      const node = sampleNode[i], t = sampleThread[i];
      sampleNode[i] = node >= 0 && node < nNodes ? nodeNew[node] : -1;
      sampleThread[i] = t >= 0 && t < nThreads ? threadNew[t] : -1;
    }
    return {
      frames, nodeParent: Int32Array.from(nodeParent), nodeFrame: Int32Array.from(nodeFrame),
      sampleTime, sampleThread, sampleNode, sampleWeight, threads, meta,
    };
  }
}
