// Loads the WASM core once, serves its imports (`read` through a Reader, `locateMemory`), and
// lifts its profile tables into a Profile for the renderers.
// Must not know: CPython layouts (the core decodes), output formats (renderers render).
// Source of truth: assembly/index.ts (the exports), assembly/aggregate/intern.ts (table shapes).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import * as loader from "@assemblyscript/loader";
import type { Reader } from "../target/reader.js";
import { addressOf } from "../target/reader.js";
import { WspyError, CoreTrap } from "../errors.js";
import type { Profile, ProfileFrame, ProfileThread, ProfileMeta } from "../profile/profile.js";

/** The core's exports, typed where the host uses them. */
export interface CoreExports {
  memory: WebAssembly.Memory;
  __getString(ptr: number): string;
  readCallCount(): number;
  ioForgetBase(): void;
  lastErrorCode(): number;
  lastErrorDetail(): number;
  lastErrorAddr(): bigint;
  readLastErrno(): number;
  allocBuffer(len: number): number;
  freeBuffer(ptr: number): void;
  scratchPtr(): number;
  scratchSize(): number;
  elfParse(ptr: number, len: number): number;
  elfNextRanges(ptr: number, len: number, stage: number): number;
  elfRangesPtr(): number;
  elfSymbol(i: number): bigint;
  elfSymbolSize(i: number): bigint;
  elfType(): number;
  elfFirstLoadVaddr(): bigint;
  elfFirstLoadOffset(): bigint;
  elfPyRuntimeSection(): bigint;
  elfPyRuntimeSectionSize(): bigint;
  elfBss(): bigint;
  elfBssSize(): bigint;
  elfData(): bigint;
  elfDataSize(): bigint;
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
  pushSample(time: number, weight: number, threadId: number, node: number): number;
  sampleCount(): number;
  sampleTimesPtr(): number;
  sampleWeightsPtr(): number;
  sampleThreadsPtr(): number;
  sampleNodesPtr(): number;
  decodeLineNumber(format: number, ptr: number, len: number, first: number, offset: number): number;
  threadNamesRefresh(): number;
  localsRead(k: number, maxChars: number): number;
  localsPtr(): number;
  localsArgsPtr(): number;
  MAX_LOCALS: { value: number };
  floatRepr(v: number): number;
  localsTextPtr(): number;
}

// traps are host errors: declared in errors.ts (the CLI needs them without loading the core)
export { CoreTrap, isCoreTrap, coreTrapError } from "../errors.js";

/**
 * Appends profile b (recorded later, by another core instance, of the same process) to a:
 * frames, stack nodes and threads are interned again so equal ones are shared.
 */
export function joinProfiles(a: Profile, b: Profile): Profile {
  const frames = a.frames.slice();
  const frameKey = (f: ProfileFrame): string => `${f.kind ?? "python"}\u0000${f.name}\u0000${f.file}\u0000${f.line}\u0000${f.firstLine ?? 0}`;
  const frameIndex = new Map<string, number>();
  frames.forEach((f, i) => { if (!frameIndex.has(frameKey(f))) frameIndex.set(frameKey(f), i); });
  const frameMap = b.frames.map((f) => {
    const k = frameKey(f);
    let id = frameIndex.get(k);
    if (id === undefined) { id = frames.length; frames.push(f); frameIndex.set(k, id); }
    return id;
  });
  const parents = Array.from(a.nodeParent), nodeFrames = Array.from(a.nodeFrame);
  const nodeIndex = new Map<string, number>();
  for (let i = 0; i < parents.length; i++) nodeIndex.set(`${parents[i]},${nodeFrames[i]}`, i);
  const nodeMap = new Int32Array(b.nodeParent.length);
  for (let i = 0; i < b.nodeParent.length; i++) {
    // a node's parent comes before it (the trie is built root first)
    const parent = b.nodeParent[i] >= 0 ? nodeMap[b.nodeParent[i]] : -1;
    const frame = frameMap[b.nodeFrame[i]];
    const k = `${parent},${frame}`;
    let id = nodeIndex.get(k);
    if (id === undefined) { id = parents.length; parents.push(parent); nodeFrames.push(frame); nodeIndex.set(k, id); }
    nodeMap[i] = id;
  }
  const threads = a.threads.slice();
  const threadMap = b.threads.map((t) => {
    let id = threads.findIndex((u) => u.ident === t.ident && u.tid === t.tid);
    if (id < 0) { id = threads.length; threads.push(t); }
    else if (!threads[id].name && t.name) threads[id] = { ...threads[id], name: t.name };
    return id;
  });
  const cat = <T extends Float64Array | Int32Array>(x: T, y: T, make: (n: number) => T): T => {
    const out = make(x.length + y.length);
    out.set(x);
    out.set(y, x.length);
    return out;
  };
  return {
    frames,
    nodeParent: Int32Array.from(parents),
    nodeFrame: Int32Array.from(nodeFrames),
    sampleTime: cat(a.sampleTime, b.sampleTime, (n) => new Float64Array(n)),
    sampleWeight: cat(a.sampleWeight, b.sampleWeight, (n) => new Float64Array(n)),
    sampleThread: cat(a.sampleThread, Int32Array.from(b.sampleThread, (t) => (t >= 0 ? threadMap[t] : t)), (n) => new Int32Array(n)),
    sampleNode: cat(a.sampleNode, Int32Array.from(b.sampleNode, (n) => (n >= 0 ? nodeMap[n] : n)), (n) => new Int32Array(n)),
    threads,
    meta: { ...a.meta, samples: a.meta.samples + b.meta.samples },
  };
}

/** Status codes of assembly/status.ts, by value. */
export const STATUS_NAMES = [
  "ok", "read failed", "target gone", "permission denied", "torn stack", "limit hit", "no runtime",
  "version", "bad table", "bad ELF", "not a code object", "free-threaded build", "out of memory",
  "stack changed while read",
] as const;
export const ST_OK = 0, ST_READ = 1, ST_GONE = 2, ST_PERM = 3, ST_CHAIN = 4, ST_LIMIT = 5, ST_NO_RUNTIME = 6,
  ST_VERSION = 7, ST_TABLE = 8, ST_ELF = 9, ST_NOT_CODE = 10, ST_FREE_THREADED = 11, ST_NO_MEMORY = 12,
  ST_TORN = 13;

/** Per-sample thread record fields (assembly/decode/walk.ts RESULT_SIZE record, in i32 units). */
export const R_TID = 0, R_THREAD = 1, R_NODE = 2, R_STATUS = 3, R_GIL = 4, R_DEPTH = 5, R_KEEP = 6, R_FIRST_KEPT = 7;

const here = path.dirname(fileURLToPath(import.meta.url));
/** The package root (build/host/core/../../..). */
export const PACKAGE_ROOT = path.resolve(here, "..", "..", "..");

let compiled: WebAssembly.Module | null = null;

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
    if (!compiled) {
      const file = process.env.WSPY_CORE_WASM ?? path.join(PACKAGE_ROOT, "build", "core.wasm");
      compiled = new WebAssembly.Module(readFileSync(file));
    }
    const imports = {
      env: {
        read: (localIov: number, remoteIov: number, count: number): number =>
          this.reader ? this.reader.readv(this.base + localIov, this.base + remoteIov, count) : -3,
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
    const inst = loader.instantiateSync<CoreExports & Record<string, unknown>>(compiled, imports as loader.Imports);
    // the loader wraps each exported function to pass an argument count (rest arguments: an
    // array per call); no export has optional parameters, so the hot path calls them directly
    const x = inst.exports as unknown as Record<string, unknown>;
    for (const k of Object.keys(x)) {
      const original = (x[k] as { original?: unknown } | null)?.original;
      if (typeof original === "function") x[k] = original;
    }
    this.x = x as unknown as CoreExports;
    this.frameStride = this.x.frameStride();
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
      kind: kind === 1 ? "thread" : kind === 2 ? "process" : "python",
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
    } catch {
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

  /** Everything recorded so far, as a Profile. */
  liftProfile(meta: ProfileMeta): Profile {
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
    const n = this.x.sampleCount();
    const buf = this.x.memory.buffer;
    const sampleTime = n ? new Float64Array(buf, this.x.sampleTimesPtr(), n).slice() : new Float64Array(0);
    const sampleWeight = n ? new Float64Array(buf, this.x.sampleWeightsPtr(), n).slice() : new Float64Array(0);
    const sampleThread = n ? new Int32Array(buf, this.x.sampleThreadsPtr(), n).slice() : new Int32Array(0);
    const sampleNode = n ? new Int32Array(buf, this.x.sampleNodesPtr(), n).slice() : new Int32Array(0);
    const threads: ProfileThread[] = [];
    for (let i = 0, t = this.x.threadCount(); i < t; i++) threads.push(this.thread(i));
    return { frames, nodeParent, nodeFrame, sampleTime, sampleThread, sampleNode, sampleWeight, threads, meta };
  }
}
