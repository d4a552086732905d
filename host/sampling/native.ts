// Native frames in profiles (record/top --native): while the tracer holds the threads stopped, each
// sampled thread's registers and stack window are copied (capture); once they run again, each
// kept thread record's stack is rebuilt with its native frames merged in (attribute: the C frames
// of extensions, BLAS, time.sleep around the Python frames, see native-merge.ts), and threads with
// no Python thread state (started from C) add a sample of their native stack.
// Must not know: CPython layouts (the core marks blocks, the ELF facts give the eval ranges),
// output formats.
// Source of truth: docs/native-stacks.md §6; README "Native stacks".

import { R_TID, R_NODE, R_STATUS, R_KEEP, R_DEPTH, R_FIRST_KEPT, ST_OK } from "../core/core.js";
import type { Core } from "../core/core.js";
import type { Target } from "../target/attach.js";
import type { Tracer } from "../target/ptrace.js";
import { NativeStacks, NativeFrame, USER_REGS_WORDS, nativeFrameName } from "../target/native.js";
import { mergeNative, Merged } from "./native-merge.js";

/** user_regs_struct word of fs_base: a thread's pthread_t (docs/native-stacks.md §1.2, M9). */
const USER_FS_BASE = 21;

export interface NativeAttributionResult {
  /** native-only threads' samples: interned thread and stack node */
  samples: { thread: number; node: number }[];
  /** per-sample errors by kind (the summary's) */
  errors: [string, number][];
}

export class NativeAttribution {
  private readonly stacks: NativeStacks;
  private readonly regs = new BigUint64Array(USER_REGS_WORDS);
  /** threads captured in this stop: tid -> the thread's pthread_t (fs_base) */
  private captured = new Map<number, bigint>();
  private frameIds = new Map<string, number>();
  private gen = -1;
  private kindCounts = new Map<string, number>();

  constructor(private readonly target: Target, private readonly tracer: Tracer, private readonly all: boolean) {
    target.core.x.walkSetKeepFrames(1);
    this.stacks = new NativeStacks(target);
  }

  private get core(): Core { return this.target.core; }

  /** threads planned this stop: [tid, the walk's extra-read index, window length], -1: read alone */
  private planned: [number, number, number][] = [];

  /**
   * In the stop, before the walk: every held thread's registers, and its stack window added to the
   * walk's first batch of reads (one syscall for the Python frames and every window).
   */
  plan(): void {
    const x = this.core.x;
    this.captured.clear();
    this.planned.length = 0;
    x.walkExtraReadsClear();
    for (const tid of this.tracer.threadIds()) {
      if (!this.tracer.regs(tid, this.regs)) continue;
      this.captured.set(tid, this.regs[USER_FS_BASE]);
      const w = this.stacks.planWindow(tid, this.regs);
      this.planned.push([tid, w ? x.walkExtraRead(w.addr, w.len, w.ptr) : -1, w ? w.len : 0]);
    }
  }

  /** In the stop, after the walk: the windows its batch did not read whole, read alone (the threads are still stopped). */
  capture(): void {
    const x = this.core.x;
    for (const [tid, q, len] of this.planned) {
      if (!this.stacks.windowRead(tid, len, q >= 0 && x.walkExtraReadOk(q) !== 0)) this.captured.delete(tid);
    }
    x.walkExtraReadsClear();
  }

  private count(kind: string): void {
    this.kindCounts.set(kind, (this.kindCounts.get(kind) ?? 0) + 1);
  }

  /** The stack node of merged frames (innermost first): native frames interned, Python ones as they are. */
  private internStack(frames: Merged<number>[]): number {
    const x = this.core.x;
    let node = -1;
    for (let k = frames.length - 1; k >= 0; k--) {
      const f = frames[k];
      node = x.internNode(node, f.native ? this.frameId(f.native) : f.python!);
    }
    return node;
  }

  private frameId(f: NativeFrame): number {
    const x = this.core.x;
    if (this.gen !== x.stackGeneration()) {
      this.frameIds.clear();
      this.gen = x.stackGeneration();
    }
    const name = nativeFrameName(f);
    const key = `${f.module}\u0000${name}`;
    let id = this.frameIds.get(key);
    if (id === undefined) {
      id = x.internFrame(this.core.internString(name), this.core.internString(f.module), 0, x.FRAME_NATIVE.value, 0);
      this.frameIds.set(key, id);
    }
    return id;
  }

  /**
   * After the threads run again: rebuilds the stacks of the kept records (n at base, stride i32
   * units apart) with their native frames, and returns the samples of native-only threads (active ones; all
   * with idle) and the errors met.
   */
  attribute(base: number, stride: number, n: number, idle: boolean, active: (tid: number) => boolean): NativeAttributionResult {
    this.kindCounts.clear();
    const x = this.core.x;
    const blockEnd = x.PF_BLOCK_END.value;
    const seen = new Set<number>();
    for (let r = 0; r < n; r++) {
      const rec = base + r * stride;
      // a fresh view each time: an unwind that meets a new object grows the core's memory, which
      // empties views made before it (the caller's too: records are written through fresh ones)
      let v = this.core.i32();
      const tid = v[rec + R_TID];
      if (tid > 0) seen.add(tid);
      if (v[rec + R_STATUS] !== ST_OK || v[rec + R_KEEP] === 0 || v[rec + R_NODE] < 0 || !this.captured.has(tid)) continue;
      const first = v[rec + R_FIRST_KEPT], depth = v[rec + R_DEPTH], pyNode = v[rec + R_NODE];
      const stack = this.stacks.unwind(tid, false);
      if (stack.stop) this.count(`native: ${stack.stop}`);
      if (!stack.frames.length) continue;
      const ids = this.core.stackOf(pyNode); // innermost first
      const py = ids.map((frame, j) => ({ frame, blockEnd: j < depth && (x.keptFrameFlags(first + j) & blockEnd) !== 0 }));
      const m = mergeNative(stack.frames, py, this.all);
      if (!m.ok) this.count("native: frames did not pair up");
      const node = this.internStack(m.frames);
      v = this.core.i32();
      v[rec + R_NODE] = node;
    }
    // threads started from C: no thread record, their native stack is their sample
    const samples: { thread: number; node: number }[] = [];
    for (const [tid, ident] of this.captured) {
      if (seen.has(tid)) continue;
      if (!idle && !active(tid)) continue;
      const stack = this.stacks.unwind(tid, false);
      if (stack.stop) this.count(`native: ${stack.stop}`);
      const m = mergeNative<number>(stack.frames, [], this.all);
      if (!m.frames.length) continue;
      const node = this.internStack(m.frames);
      const thread = x.internThread(ident, tid);
      if (node >= 0 && thread >= 0) samples.push({ thread, node });
    }
    // threads that ended: their windows go (threads come and go in a long recording)
    if (this.stacks.threadCount > this.captured.size) this.stacks.retain(new Set(this.captured.keys()));
    return { samples, errors: [...this.kindCounts] };
  }

  close(): void {
    this.stacks.close();
  }
}
