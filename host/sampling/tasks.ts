// Task frames in profiles (record/top --async): after a walk, the thread records of threads that
// run an asyncio task get their stack rooted at the task's awaiter chain (`<task NAME>` frames
// above each task's coroutine frames, the event loop's frames dropped), and with --idle every
// suspended task that awaits no other task adds a sample at its await line, so the time requests
// spend waiting shows per await point.
// Must not know: CPython layouts (the core reads the tasks: Core.tasks), output formats.
// Source of truth: docs/cpython-layouts.md §8 (what the core reads); README "asyncio".

import { Core, CoreTask, R_THREAD, R_NODE, R_STATUS, R_KEEP, R_DEPTH, R_FIRST_KEPT, ST_OK } from "../core/core.js";
import type { Target } from "../target/attach.js";

/** How often a target whose asyncio is not imported yet is asked again (ms). */
const RETRY_MS = 1000;
/** Most awaiters followed up from one task (a cycle or a very deep graph is cut there). */
const MAX_AWAITER_CHAIN = 64;

export class TaskAttribution {
  private ready = false;
  private retryAt = 0;
  /** `<task NAME>` frame ids by name, for the core's current stack generation */
  private frames = new Map<string, number>();
  private gen = -1;
  private fileId = -1;
  /** the interned thread that last ran a task: suspended tasks are counted under it */
  private loopThread = -1;

  constructor(private readonly target: Target) {
    target.core.x.walkSetKeepFrames(1);
  }

  private get core(): Core { return this.target.core; }

  /** Is the task decoder ready (asyncio imported)? Asks the target again at most every RETRY_MS. Throws UNSUPPORTED. */
  private ensureReady(now: number): boolean {
    if (this.ready) return true;
    if (now < this.retryAt) return false;
    this.retryAt = now + RETRY_MS;
    this.ready = this.target.configureTasks();
    return this.ready;
  }

  private taskFrame(name: string): number {
    const x = this.core.x;
    if (this.gen !== x.stackGeneration()) {
      this.frames.clear();
      this.gen = x.stackGeneration();
      this.fileId = this.core.internString("");
    }
    let id = this.frames.get(name);
    if (id === undefined) {
      id = x.internFrame(this.core.internString(`<task ${name}>`), this.fileId, 0, x.FRAME_TASK.value, 0);
      this.frames.set(name, id);
    }
    return id;
  }

  /**
   * The stack node of task i's awaiter chain down to and including task i's `<task>` frame (and
   * its own frames when withOwnFrames), or -1 when a task whose frames it would show was not read
   * whole or moved while it was read (its chain is not proven).
   */
  private chainNode(tasks: CoreTask[], i: number, withOwnFrames: boolean): number {
    const path: number[] = [i];
    const seen = new Set<number>([i]);
    for (let k = i; path.length < MAX_AWAITER_CHAIN;) {
      const up = tasks[k].awaiters.find((a) => !seen.has(a));
      if (up === undefined) break;
      seen.add(up);
      path.push(up);
      k = up;
    }
    for (let j = withOwnFrames ? 0 : 1; j < path.length; j++) if (tasks[path[j]].status !== ST_OK) return -1;
    const x = this.core.x;
    let node = -1;
    for (let j = path.length - 1; j >= 0; j--) {
      const t = tasks[path[j]];
      node = x.internNode(node, this.taskFrame(t.name || "?"));
      if (j > 0 || withOwnFrames) for (const f of t.frames) node = x.internNode(node, f);
    }
    return node;
  }

  /**
   * Roots the kept thread records of the last walk (n records at base, i32 view v) at their
   * running task, and returns the suspended leaf tasks' stack nodes with the thread to count
   * them under (idle: true), or a negative status when the tasks could not be read. torn: the
   * chains left out because they were not proven (a thread record then keeps its own stack).
   */
  attribute(v: Int32Array, base: number, stride: number, n: number, idle: boolean, now: number): { nodes: number[]; thread: number; torn: number } | number {
    if (!this.ensureReady(now)) return { nodes: [], thread: -1, torn: 0 };
    const tasks = this.core.tasks();
    if (typeof tasks === "number") return tasks;
    const running = new Map<bigint, number>();
    tasks.forEach((t, i) => { if (t.running) running.set(t.frameAddr, i); });
    const x = this.core.x;
    let torn = 0;
    for (let r = 0; r < n && running.size; r++) {
      const rec = base + r * stride;
      if (v[rec + R_STATUS] !== ST_OK || v[rec + R_NODE] < 0) continue;
      const first = v[rec + R_FIRST_KEPT], depth = v[rec + R_DEPTH];
      // the innermost running task on this thread: its coroutine's own frame is on the stack
      let at = -1, task = -1;
      for (let j = 0; j < depth; j++) {
        const t = running.get(BigInt.asUintN(64, x.keptFrameAddr(first + j)));
        if (t !== undefined) { at = j; task = t; break; }
      }
      if (task < 0) continue;
      this.loopThread = v[rec + R_THREAD];
      if (v[rec + R_KEEP] === 0) continue;
      let node = this.chainNode(tasks, task, false);
      if (node < 0) { torn++; continue; }
      const stack = this.core.stackOf(v[rec + R_NODE]); // innermost first
      for (let j = at; j >= 0; j--) node = x.internNode(node, stack[j]);
      v[rec + R_NODE] = node;
    }
    if (!idle) return { nodes: [], thread: -1, torn };
    // tasks some other task awaits are on their awaiters' chains: only leaves get a sample
    const awaiting = new Set<number>();
    for (const t of tasks) for (const a of t.awaiters) awaiting.add(a);
    const nodes: number[] = [];
    tasks.forEach((t, i) => {
      if (t.running || awaiting.has(i) || t.state !== 0 || !t.frames.length) return;
      const node = this.chainNode(tasks, i, true);
      if (node < 0) torn++;
      else nodes.push(node);
    });
    const thread = this.loopThread >= 0 ? this.loopThread : n > 0 ? v[base + R_THREAD] : -1;
    return { nodes, thread, torn };
  }
}
