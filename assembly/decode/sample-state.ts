// The state one sample shares between its jobs: the thread list as last seen, the windows read
// of thread states and frames, stack chunk copies, the frames each walk followed (checks) and
// pending to intern, the speculation kept from the previous sample, and the arenas the second
// reads land in. Declared here so that walk.ts (threads), frames.ts and proof.ts read one state.
// Must not know: how the state is used (those files), versions (python/active.ts), I/O.
// Source of truth: docs/cpython-layouts.md §4 (what the windows hold); walk.ts (the phases).

import { Vec, U64Map } from "../util/vec";
import { MAX_QUEUE } from "./read-queue";
import { MAX_THREADS } from "./results";

// ---- bounds ----
export const MAX_FRAMES: i32 = 16384;
export const MAX_CHUNKS: i32 = 64;
export const CHUNK_FIRST_READ: i32 = 16 * 1024;    // _PY_DATA_STACK_CHUNK_SIZE: no chunk is smaller
export const MAX_CHUNK_BYTES: i32 = 4 * 1024 * 1024;
export const MAX_WINDOW: i32 = 4096;
/** offsetof(struct pthread, tid) in the target's libc, handed over by the host (0: unknown, no OS tid). */
export let pthreadTidOffset: u64 = 0;
/** Owner values >= this are not Python frames (3.12 CSTACK shims, 3.13+ entry frames). */
export const OWNER_FIRST_NON_PYTHON: u8 = 3;

export let attached: bool = false;

// ---- addresses found at attach ----
export let runtimeAddr: u64 = 0;
export let interpHeadSymAddr: u64 = 0;
export let tstateCurrentSymAddr: u64 = 0;
export let interpAddr: u64 = 0;
export let wantGil: bool = false;

// ---- windows: the part of each struct that is read ----
export let tstateLen: i32 = 0;
export let frameLen: i32 = 0;      // PyFrameObject window or _PyInterpreterFrame size

export const FRAME_BUF: usize = memory.data(MAX_WINDOW, 16);
export const GIL_BUF: usize = memory.data(64, 16);
export const TID_BUF: usize = memory.data(8, 8);
export const tidCache = new U64Map(6);

// per-frame scratch of the current thread
export const frameCode = new StaticArray<u64>(MAX_FRAMES);
export const frameOffset = new StaticArray<i32>(MAX_FRAMES);
export const frameEntry = new StaticArray<i32>(MAX_FRAMES);
/** 1 where a frame is the outermost of the block one eval-loop call ran (a native stack's merge key) */
export const frameBlockEnd = new StaticArray<u8>(MAX_FRAMES);
export const frameIds = new StaticArray<i32>(MAX_FRAMES);
export const frameAddr = new StaticArray<u64>(MAX_FRAMES);

// ---- frames kept for the last sample (dump --locals): remote frame address, code entry ----
export let keepFrames: bool = false;
export const keptAddr = new Vec(8);
export const keptEntry = new Vec(4);
export const keptFlags = new Vec(4);

// the thread list as last seen: tstate addresses in list order
export let listCount: i32 = 0;
export const listAddr = new StaticArray<u64>(MAX_THREADS);
export const listOk = new StaticArray<bool>(MAX_THREADS);
export let tstateArena: usize = 0; // MAX_THREADS windows of tstateLen
export let interpLo: i32 = 0, interpLen: i32 = 0;
export const INTERP_BUF: usize = memory.data(MAX_WINDOW, 16);
export const CFRAME_SLOTS: usize = memory.data(MAX_THREADS * 8, 16);

// what a walk saw of each frame it followed (the proof's check records)
export const CHECK_SIZE: i32 = 32; // {frame addr u64, previous u64, code u64, instruction u64}
export const C_ADDR = 0, C_PREV = 8, C_CODE = 16, C_INSTR = 24;

// speculation recorded per thread slot: two generations of flat address lists
export class SpecGen {
  frames: Vec = new Vec(8);
  chunks: Vec = new Vec(8);
  codes: Vec = new Vec(8);
  /** every frame the walk followed (its proof's addresses) */
  proof: Vec = new Vec(8);
  proofStart: StaticArray<i32> = new StaticArray<i32>(MAX_THREADS + 1);
  frameStart: StaticArray<i32> = new StaticArray<i32>(MAX_THREADS + 1);
  chunkStart: StaticArray<i32> = new StaticArray<i32>(MAX_THREADS + 1);
  codeStart: StaticArray<i32> = new StaticArray<i32>(MAX_THREADS + 1);
  owner: StaticArray<u64> = new StaticArray<u64>(MAX_THREADS);
  /**
   * the check records of every stack this sample kept (proven), per slot [keptStart, keptEnd)
   * when keptOk; stable: that stack was the one the sample before kept (proof.ts sameAsKept)
   */
  kept: Vec = new Vec(CHECK_SIZE);
  keptStart: StaticArray<i32> = new StaticArray<i32>(MAX_THREADS);
  keptEnd: StaticArray<i32> = new StaticArray<i32>(MAX_THREADS);
  keptOk: StaticArray<bool> = new StaticArray<bool>(MAX_THREADS);
  stable: StaticArray<bool> = new StaticArray<bool>(MAX_THREADS);
  /** the tstate's newest data-stack chunk and (3.11) cframe address, as the walk found them */
  newest: StaticArray<u64> = new StaticArray<u64>(MAX_THREADS);
  cframe: StaticArray<u64> = new StaticArray<u64>(MAX_THREADS);
  count: i32 = 0;
  clear(): void { this.frames.clear(); this.chunks.clear(); this.codes.clear(); this.proof.clear(); this.kept.clear(); this.count = 0; }
}
export let specPrev = new SpecGen();
export let specCur = new SpecGen();

// prefetched frames outside chunks, per slot: [pfStart[slot], pfEnd[slot])
export let pfArena: usize = 0;
export let pfCap: i32 = 0;
export let pfCount: i32 = 0;
export const pfAddr = new StaticArray<u64>(MAX_QUEUE);
export const pfQ = new StaticArray<i32>(MAX_QUEUE);
export const pfStart = new StaticArray<i32>(MAX_THREADS);
export const pfEnd = new StaticArray<i32>(MAX_THREADS);
// what each slot's reads were queued for in the first batch: its tstate (0: not queued)
export const slotSpecOwner = new StaticArray<u64>(MAX_THREADS);
export let pfCursor: i32 = 0;
export let pfLo: i32 = 0, pfHi: i32 = 0; // the current thread's range
export let speculate: bool = true;        // off while a torn thread is retried
export const MAX_SPEC_LOOSE_FRAMES: i32 = 64;
/** Fresh attempts at a thread whose stack tore under the reads (each a few reads). */
export const MAX_TORN_RETRIES: i32 = 3;
export let looseReads: i32 = 0;

// prefetched code windows
export let pcArena: usize = 0;
export let pcCap: i32 = 0;

// ---- proving a sample: every frame a walk followed is read again after the walks ----
// The target runs while it is read: ≤3.10 frame objects are freed onto a free list (whose
// f_back links free frames) or kept as a code object's zombie, and 3.11+ frames in a chunk are
// popped and pushed while the chunk is copied. A stack built from such reads may be one the
// thread never had (a recursion 0–20 deep read 46 deep, rooted at a freed frame, or with a
// caller on its def line; seen on every version, up to 73% of samples at 200 Hz on 3.8). So
// after every thread is walked, the frames each walk followed are read again, all threads in
// one batch, and a thread is kept only when every frame still links to the same caller, runs
// the same code, and (a caller waits at its call) every caller is at the same instruction; a
// frame object must also still be allocated (a freed one has no references). A thread that
// fails is walked again from fresh reads (MAX_TORN_RETRIES times), then counted as ERR_TORN.
// Only the innermost frame's instruction may move meanwhile: it is the one running. And no
// caller may be the thread's current frame when the second reads are made (read just before and
// just after them): a caller that runs is not waiting at a call, so a walk that shows it under a
// callee started at a frame that had returned (its memory unchanged) while the caller went on, or
// started again at the same address (a caller "at line 3" of a recursion, seen under load).
export const checks = new Vec(CHECK_SIZE);
export const PEND_SIZE: i32 = 24;  // {frame addr u64, code entry i32, instruction offset i32, flags i32}
export const P_ADDR = 0, P_ENTRY = 8, P_OFFSET = 12, P_FLAGS = 16;
/** P_FLAGS / keptFrameFlags: the frame ends a block (the outermost frame one eval-loop call ran) */
export const PF_BLOCK_END: i32 = 1;
export const pending = new Vec(PEND_SIZE);
export const slotCheckStart = new StaticArray<i32>(MAX_THREADS);
export const slotCheckEnd = new StaticArray<i32>(MAX_THREADS);
export const slotPendStart = new StaticArray<i32>(MAX_THREADS);
export const slotPendEnd = new StaticArray<i32>(MAX_THREADS);
export const slotStatus = new StaticArray<i32>(MAX_THREADS);
export const slotVerifyQ = new StaticArray<i32>(MAX_THREADS);
export let verifyArena: usize = 0; // one frame window per check record
export let verifyCap: i32 = 0;
export let verifyTsArena: usize = 0; // MAX_THREADS tstate windows, read with the frames for a retry
export const slotVerifyTsQ = new StaticArray<i32>(MAX_THREADS);
// the thread's current-frame word, read just before and just after the frames' second reads
// (per slot: before, after), for the proof (D) and for phase A's second reads (early)
export const CUR_BUF: usize = memory.data(MAX_THREADS * 16, 16);
export const EARLY_CUR_BUF: usize = memory.data(MAX_THREADS * 16, 16);
export const slotCurQ = new StaticArray<i32>(MAX_THREADS * 2);
export const slotEarlyCurQ = new StaticArray<i32>(MAX_THREADS * 2);
// the second reads at the end of phase A's batch: the frames the previous sample's walks
// followed, per slot. A thread whose walk followed the same frames, from that batch alone, is
// proven by them without a batch of its own (a stack that holds still costs one read per sample).
export let earlyArena: usize = 0;
export let earlyCap: i32 = 0;
export const slotEarlyQ = new StaticArray<i32>(MAX_THREADS);
export const slotProven = new StaticArray<bool>(MAX_THREADS);
export const slotSame = new StaticArray<bool>(MAX_THREADS);  // the walk showed the stack the sample before kept
export const slotFromA = new StaticArray<bool>(MAX_THREADS); // the walk read nothing after phase A
// a retry walks from the frames its failed proof read (one batch), not one read per frame
export let retryLo: i32 = 0, retryHi: i32 = 0, retryQ: i32 = 0, retryCursor: i32 = 0;
/** PyObject_HEAD: ob_refcnt is the word before ob_type in every build with a GIL. */
export const REFCNT_BEFORE_TYPE: i32 = 8;
export let oRefcnt: i32 = -1;       // ≤3.10 frame objects only, else -1

// stack chunk copies of this sample: a pool of buffers, ranges per slot
export const MAX_CHUNK_COPIES: i32 = 4096;
export const poolBuf = new StaticArray<usize>(MAX_CHUNK_COPIES);
export const poolCap = new StaticArray<i32>(MAX_CHUNK_COPIES);
export let poolUsed: i32 = 0;
export const chunkLo = new StaticArray<u64>(MAX_CHUNK_COPIES);
export const chunkHi = new StaticArray<u64>(MAX_CHUNK_COPIES);
export const chunkQ = new StaticArray<i32>(MAX_CHUNK_COPIES);
export const slotChunkStart = new StaticArray<i32>(MAX_THREADS);
export const slotChunkCount = new StaticArray<i32>(MAX_THREADS);
export const slotChunkQueued = new StaticArray<i32>(MAX_THREADS);
export let curSlot: i32 = 0;
export let chunkFirst: i32 = 0;  // the current thread's chunk copies: [chunkFirst, chunkEnd)
export let chunkEnd: i32 = 0;
export let nextChunkAddr: u64 = 0;
export let specMark: i32 = 0;

/** A pooled buffer of at least len bytes for chunk copy i. 0 when memory cannot grow. */
export function poolBuffer(i: i32, len: i32): usize {
  if (unchecked(poolCap[i]) >= len) return unchecked(poolBuf[i]);
  const p = unchecked(poolBuf[i]) == 0 ? heap.alloc(<usize>len) : heap.realloc(unchecked(poolBuf[i]), <usize>len);
  if (p == 0) return 0;
  unchecked(poolBuf[i] = p);
  unchecked(poolCap[i] = len);
  return p;
}

/** Grows an arena to hold n records of len bytes; returns the arena (0: no memory). */
export function growArena(arena: usize, cap: i32, n: i32, len: i32): usize {
  if (n * len <= cap) return arena;
  const p = arena == 0 ? heap.alloc(<usize>(n * len)) : heap.realloc(arena, <usize>(n * len));
  return p;
}

// the cframe's current frame, prefetched per slot (3.11), and its queue index
export const slotCframeQ = new StaticArray<i32>(MAX_THREADS);
