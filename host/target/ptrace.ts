// `--blocking`: pausing every thread of the target while it is sampled, with ptrace. Each thread
// is seized once (PTRACE_SEIZE: no stop, no signal), then for each sample interrupted
// (PTRACE_INTERRUPT), waited for (waitpid __WALL), sampled by the caller, and continued
// (PTRACE_CONT, re-injecting any signal that arrived meanwhile); at the end every thread is
// stopped once more and detached (PTRACE_DETACH). If wspy dies, the kernel detaches and resumes
// the threads itself (exit_ptrace), so a target is never left stopped or traced.
// Must not know: CPython, the core, the terminal. It allocates nothing per sample: thread ids,
// states and the status word live in typed arrays made when threads are seized.
// Source of truth: ptrace(2) ("PTRACE_SEIZE", "PTRACE_INTERRUPT", "Group-stop", "Signal-delivery-
// stop", "PTRACE_LISTEN"), waitpid(2), <sys/ptrace.h> and <sys/wait.h> (request and option numbers).

import { loadKoffi } from "./ffi.js";
import type koffiType from "koffi";
import { readdirSync } from "node:fs";
import { WspyError, permissionHint } from "../errors.js";
import { EPERM, ESRCH, ECHILD, EINTR } from "./errno.js";

const PTRACE_CONT = 7, PTRACE_DETACH = 17, PTRACE_SEIZE = 0x4206, PTRACE_INTERRUPT = 0x4207, PTRACE_LISTEN = 0x4208;
const PTRACE_EVENT_STOP = 128;
const WNOHANG = 1, WALL = 0x40000000;
const SIGTRAP = 5, SIGSTOP = 19, SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22;
/** the sleep between two polls of a thread that has not stopped yet, ms */
const POLL_NAP_MS = 0.05;
/** how long one sample waits for a thread to stop before sampling without it, ms */
const STOP_WAIT_MS = 20;
/** how long a one-shot dump or snapshot waits for the threads to stop (a loaded machine), ms */
export const ONE_SHOT_STOP_WAIT_MS = 1000;
/** how long the final detach waits for each thread to stop, ms */
const DETACH_WAIT_MS = 500;
/** after re-injecting a signal, how long to wait for the interrupt that is still pending, ms */
const TRAP_WAIT_MS = 2;
const MAX_THREADS = 4096;

// thread states
const RUNNING = 0, STOPPED = 1, PENDING = 2, GROUP_STOPPED = 3, GONE = 4;

type PtraceFn = (request: number, pid: number, addr: number, data: number) => number;
type WaitpidFn = (pid: number, status: Int32Array, options: number) => number;
type GetregsFn = (request: number, pid: number, addr: number, data: BigUint64Array) => number;
let ptrace: PtraceFn | null = null;
let getregs: GetregsFn | null = null;
const PTRACE_GETREGS = 12;
let waitpid: WaitpidFn | null = null;

/** koffi, loaded with the first tracer (--blocking) */
let koffi: typeof koffiType;
function load(): void {
  if (ptrace) return;
  koffi = loadKoffi();
  const libc = koffi.load("libc.so.6");
  ptrace = libc.func("long ptrace(long request, int pid, intptr_t addr, intptr_t data)") as PtraceFn;
  waitpid = libc.func("int waitpid(int pid, void *status, int options)") as WaitpidFn;
  getregs = libc.func("ptrace", "long", ["long", "int", "intptr_t", "void *"]) as GetregsFn;
}

/** Every tracer alive in this process, detached on exit whatever the cause (see detachAll). */
const live = new Set<Tracer>();

/** Detaches every live tracer now (exit handlers, signal handlers). Never throws. */
export function detachAll(): void {
  for (const t of live) {
    try { t.detach(); } catch { /* best effort: the kernel detaches on exit anyway */ }
  }
}

export class Tracer {
  private tids = new Int32Array(64);
  private state = new Uint8Array(64);
  private pendingSig = new Int32Array(64);
  private count = 0;
  private readonly status = new Int32Array(1);
  private closed = false;
  /** threads that could not be stopped in time, by sample (reported as an error kind) */
  late = 0;
  /** a word to wait on (Atomics.wait: a short sleep between polls, nothing ever wakes it) */
  private readonly nap = new Int32Array(new SharedArrayBuffer(4));

  constructor(readonly pid: number) {
    load();
  }

  /** Seizes every thread of the process. Throws PERMISSION or NO_SUCH_PROCESS. */
  attach(): void {
    live.add(this);
    const n = this.refresh();
    if (n === 0 && this.count === 0) {
      this.detach();
      throw new WspyError("NO_SUCH_PROCESS", `process ${this.pid} exited`, "");
    }
  }

  /** Seizes threads that appeared since the last call; reaps those that ended. Returns how many were seized. */
  refresh(): number {
    if (this.closed) return 0;
    let names: string[];
    try {
      names = readdirSync(`/proc/${this.pid}/task`);
    } catch {
      return 0;
    }
    let seized = 0;
    for (const name of names) {
      const tid = Number(name);
      if (!(tid > 0) || this.indexOf(tid) >= 0) continue;
      if (this.count >= MAX_THREADS) break;
      const r = ptrace!(PTRACE_SEIZE, tid, 0, 0);
      if (r < 0) {
        const e = koffi.errno();
        if (e === EPERM && this.count === 0) {
          throw new WspyError("PERMISSION", `not allowed to pause process ${this.pid} (--blocking uses ptrace)`, permissionHint());
        }
        continue; // the thread ended meanwhile, or is traced by someone else
      }
      this.add(tid);
      seized++;
    }
    // reap threads that ended (a traced thread stays a zombie until its tracer waits for it)
    for (let i = 0; i < this.count; i++) if (this.state[i] === RUNNING) this.poll(i, WNOHANG);
    this.compact();
    return seized;
  }

  private indexOf(tid: number): number {
    for (let i = 0; i < this.count; i++) if (this.tids[i] === tid) return i;
    return -1;
  }

  private add(tid: number): void {
    if (this.count === this.tids.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => { const b = make(a.length * 2); b.set(a); return b; };
      this.tids = grow(this.tids, (n) => new Int32Array(n));
      this.state = grow(this.state, (n) => new Uint8Array(n));
      this.pendingSig = grow(this.pendingSig, (n) => new Int32Array(n));
    }
    this.tids[this.count] = tid;
    this.state[this.count] = RUNNING;
    this.pendingSig[this.count] = 0;
    this.count++;
  }

  private compact(): void {
    let j = 0;
    for (let i = 0; i < this.count; i++) {
      if (this.state[i] === GONE) continue;
      this.tids[j] = this.tids[i];
      this.state[j] = this.state[i];
      this.pendingSig[j] = this.pendingSig[i];
      j++;
    }
    this.count = j;
  }

  /**
   * One waitpid for thread i. Returns true when it reported a stop (the thread is now stopped),
   * false when nothing was reported (WNOHANG) or the thread is gone.
   */
  private poll(i: number, options: number): boolean {
    const tid = this.tids[i];
    let w: number;
    do {
      w = waitpid!(tid, this.status, WALL | options);
    } while (w < 0 && koffi.errno() === EINTR);
    if (w === 0) return false;
    if (w < 0) {
      if (koffi.errno() === ECHILD) this.state[i] = GONE; // not ours any more (ended and reaped)
      return false;
    }
    const s = this.status[0];
    if ((s & 0xff) !== 0x7f) {
      this.state[i] = GONE; // not a stop: exited or killed
      return false;
    }
    // stopped: event stop (our interrupt, or a group stop) or a signal-delivery stop
    const sig = (s >> 8) & 0xff;
    const event = (s >> 16) & 0xff;
    if (event === PTRACE_EVENT_STOP) {
      this.state[i] = sig === SIGSTOP || sig === SIGTSTP || sig === SIGTTIN || sig === SIGTTOU ? GROUP_STOPPED : STOPPED;
    } else if (event === 0 && sig !== SIGTRAP) {
      this.pendingSig[i] = sig; // re-injected when the thread is continued
      this.state[i] = STOPPED;
    } else {
      this.state[i] = STOPPED;
    }
    return true;
  }

  /**
   * Stops every thread, waiting at most waitMs in all (a sampler's tick: STOP_WAIT_MS; a one-shot
   * dump or snapshot, which has no next tick, longer). Returns how many are stopped.
   */
  pause(waitMs = STOP_WAIT_MS): number {
    if (this.closed) return 0;
    // a signal may have stopped a thread since the last sample: take those reports first
    for (let i = 0; i < this.count; i++) if (this.state[i] === RUNNING) this.poll(i, WNOHANG);
    for (let i = 0; i < this.count; i++) {
      if (this.state[i] !== RUNNING) continue;
      if (ptrace!(PTRACE_INTERRUPT, this.tids[i], 0, 0) < 0) {
        if (koffi.errno() === ESRCH) this.poll(i, WNOHANG); // ended: reap it
        continue;
      }
      this.state[i] = PENDING;
    }
    let stopped = 0;
    const deadline = performance.now() + waitMs;
    for (let i = 0; i < this.count; i++) {
      // polled, with a short sleep between polls: a poll that spins catches the thread stopped but
      // not yet off its CPU, and the next ptrace request then waits a whole scheduler tick for it
      // (wait_task_inactive: 4 ms at HZ=250; measured here: 8 ms per pause and resume instead of
      // 0.2). Never a blocking waitpid: a thread group leader that exits is reported only after
      // its other threads, whose reports would wait behind it (a hang, seen in launch mode)
      while (this.state[i] === PENDING) {
        if (this.poll(i, WNOHANG)) break;
        if (this.state[i] !== PENDING || performance.now() > deadline) break;
        Atomics.wait(this.nap, 0, 0, POLL_NAP_MS);
      }
      if (this.state[i] === PENDING) this.late++;
      if (this.state[i] === STOPPED || this.state[i] === GROUP_STOPPED) stopped++;
    }
    return stopped;
  }

  /**
   * The registers of stopped thread tid (struct user_regs_struct, 27 words) into out; false when
   * it is not stopped by this tracer or the kernel refused (native stacks, #13).
   */
  regs(tid: number, out: BigUint64Array): boolean {
    const i = this.indexOf(tid);
    if (i < 0 || (this.state[i] !== STOPPED && this.state[i] !== GROUP_STOPPED) || out.length < 27) return false;
    return getregs!(PTRACE_GETREGS, tid, 0, out) >= 0;
  }

  /** Thread ids seized (stopped or not). */
  threadIds(): number[] { return Array.from(this.tids.subarray(0, this.count)); }

  /** Continues every thread this tracer stopped (a group stop is listened to, not resumed). */
  resume(): void {
    let trapPending = false;
    for (let i = 0; i < this.count; i++) {
      // a thread that stopped only after the sample was read: continue it now, not next sample
      if (this.state[i] === PENDING) this.poll(i, WNOHANG);
      const st = this.state[i];
      if (st === STOPPED) {
        const sig = this.pendingSig[i];
        this.pendingSig[i] = 0;
        if (ptrace!(PTRACE_CONT, this.tids[i], 0, sig) < 0) { this.poll(i, WNOHANG); continue; }
        this.state[i] = sig !== 0 ? PENDING : RUNNING; // after a signal, our interrupt is still due
        if (sig !== 0) trapPending = true;
      } else if (st === GROUP_STOPPED) {
        ptrace!(PTRACE_LISTEN, this.tids[i], 0, 0);
        this.state[i] = RUNNING;
      }
    }
    if (!trapPending) return;
    // the interrupt left pending by a signal-delivery stop fires right after the signal is
    // delivered: catch it and continue the thread again rather than leave it stopped
    const deadline = performance.now() + TRAP_WAIT_MS;
    for (let i = 0; i < this.count; i++) {
      while (this.state[i] === PENDING && performance.now() <= deadline) {
        if (this.poll(i, WNOHANG)) break;
      }
      if (this.state[i] === STOPPED) {
        const sig = this.pendingSig[i];
        this.pendingSig[i] = 0;
        if (ptrace!(PTRACE_CONT, this.tids[i], 0, sig) >= 0) this.state[i] = sig !== 0 ? PENDING : RUNNING;
      } else if (this.state[i] === GROUP_STOPPED) {
        ptrace!(PTRACE_LISTEN, this.tids[i], 0, 0);
        this.state[i] = RUNNING;
      }
    }
  }

  /** Stops and detaches every thread (re-injecting pending signals). Safe to call twice. */
  detach(): void {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    for (let i = 0; i < this.count; i++) {
      if (this.state[i] === RUNNING && ptrace!(PTRACE_INTERRUPT, this.tids[i], 0, 0) >= 0) this.state[i] = PENDING;
    }
    const deadline = performance.now() + DETACH_WAIT_MS;
    for (let i = 0; i < this.count; i++) {
      while (this.state[i] === PENDING && performance.now() <= deadline) {
        if (this.poll(i, WNOHANG)) break;
      }
      if (this.state[i] === GONE) continue;
      // PTRACE_DETACH needs the thread in a ptrace stop; a thread not stopped in time is
      // detached by the kernel when wspy exits
      ptrace!(PTRACE_DETACH, this.tids[i], 0, this.pendingSig[i]);
      this.state[i] = GONE;
    }
    this.count = 0;
  }
}
