// The sampling loop shared by `record` and `top`: start a command or attach to a pid (and, with
// --subprocesses, to every Python descendant, each with its own core), tick on a jittered
// schedule, walk every process once per tick, decide per thread record whether it is kept
// (idle, GIL), count errors by kind, and stop on the duration, a signal or the target's exit.
// What a kept sample becomes (a committed sample, a live table) is the caller's hook. A run may
// have no end (no --duration): with `segmentSec` the sampler commits every kept sample and, every
// segmentSec seconds, closes a segment: each process's window is lifted and its core's tables
// reset (Core.takeWindow), so memory stays what one window needs however long it runs; nothing
// else the sampler keeps grows with the run (lateness is a bounded reservoir, retired processes
// and notes are capped).
// Must not know: CPython layouts (the core walks), output formats, the terminal. The tick path
// allocates nothing: records are read from the core's memory through a kept Int32Array view.
// Source of truth: docs/design.md §1 (flags), §3 (reads); proc(5); ptrace(2) (--blocking).

import { launchProgram, type Launched } from "./launch.js";
import { readlinkSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Target, TargetInfo, procView, type AttachOptions } from "../target/attach.js";
import { TaskAttribution } from "./tasks.js";
import { Core, isCoreTrap, coreTrapError, ST_OK, ST_GONE, ST_PERM, ST_NO_MEMORY, ST_TORN, STATUS_NAMES, R_TID, R_NODE, R_STATUS, R_GIL, R_KEEP, R_STRIDE, type ResetDepth } from "../core/core.js";
import type { Profile, ProfileMeta } from "../profile/profile.js";
import { TaskStates, isAlive, readCmdline, checkPid, ProcessIdentity, ID_SAME, ID_GONE, ID_EXEC } from "../target/proc.js";
import { WspyError, permissionHint } from "../errors.js";
import { ThreadNames, WaitingFrames } from "./threads.js";
import { ProcessTree, MatchedProcesses, execSignature } from "../target/proctree.js";
import { Tracer, detachAll } from "../target/ptrace.js";
import { NativeAttribution } from "./native.js";
import { stderrLine } from "../io/escape.js";

export type StopReason = "duration" | "interrupted" | "target exited";

export interface SamplerOptions {
  pid?: number;
  command?: string[];
  /** samples per second */
  rate: number;
  duration?: number;
  /** keep samples of idle threads */
  idle?: boolean;
  /** keep only the GIL holder's samples */
  gil?: boolean;
  /** root the stacks of threads running an asyncio task at its awaiter chain; with idle, sample suspended tasks too */
  async?: boolean;
  /** follow child processes */
  subprocesses?: boolean;
  /**
   * Instead of a pid or a command: every process whose command line matches (`agent --match`),
   * attached as it appears, retired as it ends, for as long as the sampler runs (with
   * subprocesses, their children too).
   */
  match?: RegExp;
  /** pause the target's threads for each sample (ptrace) */
  blocking?: boolean;
  /** native (C/C++) frames merged with the Python frames (pauses the threads for each sample, like blocking) */
  native?: boolean;
  /** with native: keep the interpreter's plumbing frames */
  nativeAll?: boolean;
  /** decide active/idle for every record even when idle ones are kept (top's Active %) */
  alwaysClassify?: boolean;
  versionTables?: string[];
  forceVersion?: string;
  signal?: AbortSignal;
  /** catch SIGINT and SIGTERM as "stop" (default true) */
  handleSignals?: boolean;
  /**
   * Close a segment every this many seconds (and at the end): the sampler commits every kept
   * sample itself, lifts each process's window and resets its core (hooks.onSegment). Without
   * it, samples accumulate in the cores until the hooks lift them (record: at retirement).
   */
  segmentSec?: number;
  /** how deep a segment's reset goes (default: Core.windowResetDepth, "stacks" until tables grow large) */
  segmentReset?: ResetDepth;
  /** a launched command's standard streams (default: inherited) */
  stdio?: "inherit" | "ignore";
  log?: (line: string) => void;
}

export interface SamplerHooks {
  /** a process's records of this tick are marked (R_KEEP): commit or aggregate them */
  onSample?: (p: SampledProcess, records: number, time: number, weight: number) => void;
  onAttach?: (p: SampledProcess) => void;
  /** a process is retired (exited, exec'd, or the end): its core is still readable here */
  onRetire?: (p: SampledProcess) => void;
  /** a segment closed (segmentSec): every process's window, lifted; the cores are reset already */
  onSegment?: (segment: Segment) => void;
}

/** One closed segment of a run with `segmentSec`. */
export interface Segment {
  /** 0, 1, 2, ... */
  index: number;
  /** seconds since the recording began: from (the previous segment's end) to until */
  fromSec: number;
  untilSec: number;
  /** when the segment began (ISO time) */
  startedAt: string;
  ticks: number;
  /** records kept (committed) in this segment, over every process */
  samples: number;
  /** errors counted in this segment, by kind */
  errors: Record<string, number>;
  /** each process's window (processes retired during the segment included), root first */
  parts: { process: SampledProcess; profile: Profile }[];
}

/** How often the process tree and the traced threads are looked at, ms. */
const HOUSEKEEPING_MS = 100;
/**
 * How often a sampled process's identity (pid + start time, its program) is checked at least,
 * ms: no longer than the time a new process needs to take a freed pid and start an interpreter
 * (Python's startup alone takes over 10 ms), so a walk is never of another process for longer.
 * A check is a pread of /proc/PID/stat (7 µs back-to-back, more between ticks): at 5 ms it was
 * 7% of a 1 kHz recording's CPU.
 */
const IDENTITY_CHECK_MS = 10;
/** How often thread names are re-read, ms. */
const NAMES_MS = 1000;
/** Attaches tried per housekeeping round. */
const MAX_ATTACH_PER_ROUND = 1;
/** Core traps (bugs) one process may cause before its sampling may stop (each costs a fresh attach). */
const MAX_TRAPS = 20;
/**
 * Housekeeping (listing /proc, attaching to a child: a new core, the memory map, a trial walk;
 * a few ms, tens on a loaded machine) may take this share of the time at most: the next round
 * waits longer after a long one, so the processes already sampled keep their rate however many
 * children come and go (a child that exits before its turn is simply never attached).
 */
const HOUSEKEEPING_SHARE = 0.1;
/** An exec during an attach: how many times the new program is tried, and how long it may take to start, ms. */
const EXEC_RETRIES = 3;
const EXEC_WAIT_MS = 2000;
/** How long a new child may take to become a readable Python process, ms. */
const CHILD_ATTACH_MS = 10_000;

/** WSPY_DEBUG=sampler: one line per attach, retirement and stop, for diagnosing a recording. */
const DEBUG = /\bsampler\b/.test(process.env.WSPY_DEBUG ?? "");
const debug = (s: string): void => { if (DEBUG) process.stderr.write(`wspy[sampler] ${(performance.now() / 1000).toFixed(3)} ${s}\n`); };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const yieldNow = () => new Promise<void>((r) => setImmediate(r));
/** A cell nobody notifies: Atomics.wait on it is a precise sleep that burns no CPU. */
const WAIT_CELL = new Int32Array(new SharedArrayBuffer(4));
/** Ticks a late schedule may be behind and still be made up (see the sampling loop). */
const MAX_BEHIND_TICKS = 3;
/** The longest the event loop goes without a turn while sampling, ms (signals, child exits, top's keys). */
const YIELD_MS = 25;
/** Waits longer than this go through the event loop's timers; shorter ones block precisely, ms. */
const TIMER_WAIT_MS = 50;
/** Lateness values kept for the median (a uniform reservoir beyond: a run without an end stays bounded). */
const LATENESS_RESERVOIR = 1 << 16;
/** Retired processes, notes and trap messages kept (a run without an end meets ever more). */
const MAX_RETIRED_KEPT = 64, MAX_NOTES = 100, MAX_TRAP_MESSAGES = 100;

/** One attached process: its target (own core), /proc handles and caches. */
export class SampledProcess {
  readonly core: Core;
  readonly tasks: TaskStates;
  /** re-made when the core's thread ids start again (a reset of "all") */
  names: ThreadNames;
  /** re-made when the core's node ids start again (a reset of "stacks" or "all") */
  waiting: WaitingFrames;
  /** the target's current directory at attach (for short file names) */
  readonly cwd: string;
  readonly command: string[];
  /** i32 units per thread record of this core's walk results */
  readonly stride: number;
  alive = true;
  /** thread records of the last walk */
  threads = 0;
  /** records kept so far */
  samples = 0;
  /** seconds since the recording began, when attached */
  readonly since: number;
  /** how many cores before this one sampled the same process (each ended by a trap) */
  part = 0;
  /** when the identity was last checked (seconds since the recording began) */
  identityCheckedAt = -Infinity;
  /** records committed since the last segment (segmentSec) */
  windowSamples = 0;
  /** --async: task frames for this process's samples, made at its first sample */
  taskAttr: TaskAttribution | null = null;
  /** --native: the native stacks of this process's threads, made at its first sample */
  nativeAttr: NativeAttribution | null = null;
  /** --async --idle: samples of suspended tasks pushed this tick (the hooks count them with the committed records) */
  tickTaskSamples = 0;
  /** the core's id generations the host caches (names, waiting) were made for */
  private stackGen = 0;
  private stringGen = 0;

  /** identity: the process that had the pid when attached (checked after every walk) */
  constructor(readonly target: Target, readonly root: boolean, readonly tracer: Tracer | null, readonly identity: ProcessIdentity, since: number) {
    this.core = target.core;
    const pid = target.info.pid;
    this.tasks = new TaskStates(pid);
    this.names = new ThreadNames(pid, this.core);
    this.waiting = new WaitingFrames(this.core);
    this.command = target.info.command.length ? target.info.command : readCmdline(pid);
    this.stride = R_STRIDE;
    let cwd = "";
    try { cwd = readlinkSync(`/proc/${pid}/cwd`); } catch { /* gone or not allowed: paths stay whole */ }
    this.cwd = cwd;
    this.since = since;
  }

  get pid(): number { return this.target.info.pid; }

  /**
   * Re-makes the host's caches of core ids (waiting frames by node, thread names by thread) when
   * the core's tables were reset since: called once per tick before the records are read.
   */
  syncGenerations(): void {
    const x = this.core.x;
    if (x.stackGeneration() === this.stackGen && x.stringGeneration() === this.stringGen) return;
    this.stackGen = x.stackGeneration();
    this.waiting = new WaitingFrames(this.core);
    if (x.stringGeneration() !== this.stringGen) {
      this.stringGen = x.stringGeneration();
      this.names = new ThreadNames(this.pid, this.core);
    }
  }

  /**
   * The window since the last reset as a Profile (thread names as the host knows them), then the
   * core's tables reset to depth (Core.takeWindow).
   */
  takeWindow(meta: ProfileMeta, depth?: ResetDepth): Profile {
    this.names.update();
    const profile = this.core.takeWindow(meta, { depth, threadName: (i) => this.names.name(i) });
    this.windowSamples = 0;
    this.syncGenerations();
    return profile;
  }
  get info(): TargetInfo { return this.target.info; }

  /** Is thread record `node`/`tid` active: not a known waiting frame, and running per the OS? */
  active(tid: number, node: number): boolean {
    return !this.waiting.waiting(node) && this.tasks.active(tid);
  }

  /** A thread that holds the GIL is active unless its innermost frame is a known wait. */
  activeHoldingGil(node: number): boolean {
    return !this.waiting.waiting(node);
  }
}

/** A process to attach to at a later housekeeping round: a new child, or one that exec'd. */
interface PendingAttach {
  /** execSignature at the last failed attempt ("" before any) */
  signature: string;
  /** give up (until it exec's again) after this time, performance.now() ms */
  until: number;
  retriable: boolean;
  /** the root process after an exec: its stream goes on in the new program */
  root: boolean;
}

/**
 * Attaches to pid, checking that the process attached to is the one identified before: an exec
 * (a launcher exec'ing Python, a pyenv shim) or an exit during attach is tried again with the
 * new program until waitMs (at least execWaitMs after an exec). Returns the target and the identity it was found under.
 */
async function attachIdentified(pid: number, opts: AttachOptions, execWaitMs: number): Promise<{ target: Target; identity: ProcessIdentity }> {
  let deadline = performance.now() + (opts.waitMs ?? 0);
  for (let execs = 0; ; execs++) {
    const identity = new ProcessIdentity(pid);
    let target: Target;
    try {
      target = await Target.attach(pid, { ...opts, waitMs: Math.max(0, deadline - performance.now()) });
    } catch (e) {
      identity.close();
      throw e;
    }
    const now = identity.check();
    if (now === ID_SAME) return { target, identity };
    target.close();
    identity.close();
    if (now === ID_GONE) throw new WspyError("NO_SUCH_PROCESS", `process ${pid} exited while wspy attached`, "");
    // exec'd while we attached: the new program gets a moment to start its interpreter
    if (execs < EXEC_RETRIES) deadline = Math.max(deadline, performance.now() + execWaitMs);
    else if (performance.now() >= deadline) {
      throw new WspyError("NOT_PYTHON", `process ${pid} exec'd another program while wspy attached`, "try again", { retriable: true });
    }
  }
}

/** Is the program of pid (its executable's name) an interpreter that may be Python? */
function looksLikePython(pid: number): boolean {
  let exe = "";
  try { exe = readlinkSync(`/proc/${pid}/exe`); } catch { return true; /* cannot tell: let attach decide */ }
  return /python/i.test(exe.slice(exe.lastIndexOf("/") + 1));
}

export class Sampler {
  /** processes being sampled (the root first, when it is Python) */
  readonly processes: SampledProcess[] = [];
  /** the processes retired most recently (MAX_RETIRED_KEPT), in order */
  readonly retired: SampledProcess[] = [];
  ticks = 0;
  /** records kept */
  samples = 0;
  /** ticks where some sampled thread held the GIL */
  gilTicks = 0;
  /** ticks in which at least one error was counted (the summary's share: at most 100%) */
  errorTicks = 0;
  /** --blocking / --native: how long the target's threads were stopped, in total (ms), and how many times */
  pauseMs = 0;
  pauses = 0;
  /** ticks where some sampled thread was active */
  activeTicks = 0;
  /** threads found active, summed over ticks (with activeTicks: how many ran at once) */
  activeThreadSum = 0;
  /** the most threads found active in one tick */
  activeThreadMax = 0;
  /** ticks in which threads were classified (active or idle) at all */
  classifiedTicks = 0;
  readonly errors: Record<string, number> = {};
  /** child processes (or exec'd programs) wspy could not attach to, by kind (not the walk's errors) */
  readonly attachErrors: Record<string, number> = {};
  /** one-line notes for the summary (a root that exec'd, a root that is not Python) */
  readonly notes: string[] = [];
  stopReason: StopReason = "duration";
  fatal: WspyError | null = null;
  readonly startedAt = new Date().toISOString();
  t0 = performance.now();
  endedAt = 0;
  /** the root as attached; for a root that is not Python (--subprocesses), its pid and command, version "" */
  readonly rootInfo: TargetInfo;
  readonly rootPid: number;
  /** is the root process sampled (false: not Python, or exec'd into a program that is not) */
  rootSampled: boolean;
  readonly child: Launched | null;
  readonly childExit: Promise<number> | null;

  private stop = false;
  /** trap messages already said (each is said once) */
  private trapMessages = new Set<string>();
  private lateness = new Float64Array(1024);
  private latenessCount = 0;
  /** lateness values offered so far (more than latenessCount once the reservoir is full) */
  private latenessSeen = 0;
  private latenessMax = 0;
  /** the segment being gathered (segmentSec) */
  private segment = { index: 0, fromSec: 0, startedAt: this.startedAt, ticks: 0, samples: 0, errorsAtStart: {} as Record<string, number> };
  /** windows of processes retired during the current segment */
  private segmentRetired: { process: SampledProcess; profile: Profile }[] = [];
  private tickGil = false;
  private errorsBeforeTick = 0;
  private tickActive = false;
  private tickActiveThreads = 0;
  private tickClassified = false;
  private readonly tree: ProcessTree | MatchedProcesses | null;
  /** the root's identity while it is not sampled (its exit ends the recording) */
  private rootIdentity: ProcessIdentity | null = null;
  /** processes to attach to: pid -> attempt state */
  private pending = new Map<number, PendingAttach>();
  /** when the next housekeeping round is due (performance.now() ms; Infinity: none needed) */
  private housekeepAt = Infinity;
  private readonly onSignal: (sig: NodeJS.Signals) => void;
  private readonly onExit: () => void;

  private constructor(readonly opts: SamplerOptions, private hooks: SamplerHooks, root: SampledProcess | null, rootInfo: TargetInfo,
    child: Launched | null, childExit: Promise<number> | null, onSignal: (sig: NodeJS.Signals) => void) {
    if (root) this.processes.push(root);
    this.rootInfo = rootInfo;
    this.rootPid = rootInfo.pid;
    this.rootSampled = root !== null;
    if (!root && !opts.match) this.rootIdentity = new ProcessIdentity(rootInfo.pid);
    this.child = child;
    this.childExit = childExit;
    this.onSignal = onSignal;
    this.tree = opts.match ? new MatchedProcesses(opts.match, !!opts.subprocesses) : opts.subprocesses ? new ProcessTree(rootInfo.pid) : null;
    this.onExit = () => detachAll();
  }

  /** Starts the command (if any), attaches to the root process, and is ready to run. */
  static async start(opts: SamplerOptions, hooks: SamplerHooks = {}): Promise<Sampler> {
    const log = opts.log ?? stderrLine;
    if (!(opts.rate > 0 && opts.rate <= 100_000)) throw new WspyError("BAD_INPUT", `rate must be between 1 and 100000 samples per second, not ${opts.rate}`, "");
    if (opts.duration !== undefined && !(opts.duration > 0)) throw new WspyError("BAD_INPUT", `duration must be a positive number of seconds, not ${opts.duration}`, "");
    let child: Launched | null = null;
    let childExit: Promise<number> | null = null;
    let pid = opts.pid ?? 0;
    if (opts.command && opts.command.length) {
      child = await launchProgram(opts.command, opts.stdio ?? "inherit", !!(opts.blocking || opts.native));
      childExit = child.exited;
      pid = child.pid;
    }
    // signals before attaching: a Ctrl-C while waiting for the interpreter ends cleanly
    let sampler: Sampler | null = null;
    let early: StopReason | null = null;
    const onSignal = (sig: NodeJS.Signals) => {
      if (sampler) sampler.requestStop("interrupted");
      else early = "interrupted";
      // a SIGTERM to wspy ends a launched program too; Ctrl-C reaches it from the terminal
      if (sig === "SIGTERM" && child && child.exitCode === null) child.kill("SIGTERM");
    };
    if (opts.handleSignals !== false) {
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
    }
    if (opts.match) {
      if (opts.native && opts.async) throw new WspyError("BAD_INPUT", "--native and --async cannot be combined yet", "profile with one of them at a time");
      const info: TargetInfo = { pid: 0, binary: "", version: "", versionHex: 0, tableSource: "", tableId: -1, command: [`--match ${opts.match.source}`], freeThreaded: false };
      sampler = new Sampler(opts, hooks, null, info, null, null, onSignal);
      if (opts.blocking || opts.native) process.on("exit", sampler.onExit);
      opts.signal?.addEventListener("abort", () => sampler!.requestStop("interrupted"));
      if (early) sampler.requestStop(early);
      return sampler;
    }
    let target: Target | null = null;
    let identity: ProcessIdentity | null = null;
    let tracer: Tracer | null = null;
    let rootInfo: TargetInfo;
    try {
      // --subprocesses follows the Python descendants of any process: a launcher (bash, a
      // supervisor) is accepted as the root and not sampled itself. A launched program waits
      // for its interpreter to start, unless (with -s) its executable is not named python*:
      // then one attempt (an embedded interpreter already running is found) decides
      checkPid(pid);
      const waitMs = child && !(opts.subprocesses && !looksLikePython(pid)) ? 10_000 : 0;
      try {
        ({ target, identity } = await attachIdentified(pid, { versionTables: opts.versionTables, forceVersion: opts.forceVersion, waitMs, notice: log, wantGil: true }, EXEC_WAIT_MS));
      } catch (e) {
        if (!(opts.subprocesses && e instanceof WspyError && e.code === "NOT_PYTHON")) throw e;
      }
      if (target) {
        rootInfo = target.info;
        if (opts.gil && target.info.freeThreaded) {
          const t = target;
          target = null;
          t.close();
          throw new WspyError("BAD_INPUT", `--gil does not apply to process ${pid}: it runs a free-threaded build of Python ${rootInfo.version}, which has no GIL`,
            "leave out --gil; the summary says how many threads were active at once");
        }
        if (opts.native && opts.async) {
          target.close();
          throw new WspyError("BAD_INPUT", "--native and --async cannot be combined yet", "profile with one of them at a time");
        }
        if (opts.blocking || opts.native) {
          tracer = new Tracer(pid);
          try {
            tracer.attach();
          } catch (e) {
            target.close();
            throw e;
          }
        }
      } else {
        rootInfo = { pid, binary: "", version: "", versionHex: 0, tableSource: "", tableId: -1, command: child ? opts.command! : readCmdline(pid), freeThreaded: false };
      }
    } catch (e) {
      identity?.close();
      if (opts.handleSignals !== false) {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      if (child && childExit) {
        // the program ended (or never became Python) before we could attach: say so, keep its status
        const code = await Promise.race([childExit, sleep(50).then(() => null)]);
        if (code !== null && e instanceof WspyError && e.code === "NO_SUCH_PROCESS") {
          throw new WspyError("LAUNCH", `${opts.command![0]} exited (status ${code}) before wspy could attach`, "profile a program that runs longer, or attach with -p", { childExitCode: code });
        }
        if (child.exitCode === null) child.kill("SIGTERM");
      }
      throw e;
    }
    const root = target ? new SampledProcess(target, true, tracer, identity!, 0) : null;
    sampler = new Sampler(opts, hooks, root, rootInfo, child, childExit, onSignal);
    if (!root) sampler.note(`process ${pid} (${rootInfo.command.join(" ") || "?"}) is not Python: following its Python descendants, not sampling it`);
    if (opts.blocking || opts.native) process.on("exit", sampler.onExit);
    opts.signal?.addEventListener("abort", () => sampler!.requestStop("interrupted"));
    child?.once("exit", () => sampler!.requestStop("target exited"));
    if (early) sampler.requestStop(early);
    if (root) hooks.onAttach?.(root);
    return sampler;
  }

  /** Adds a note for the summary (the first MAX_NOTES; then one saying more were left out). */
  private note(line: string): void {
    if (this.notes.length < MAX_NOTES) this.notes.push(line);
    else if (this.notes.length === MAX_NOTES) this.notes.push("more notes left out");
  }

  get log(): (line: string) => void {
    return this.opts.log ?? stderrLine;
  }

  /** Ends the loop at its next turn (the first reason given wins). */
  requestStop(reason: StopReason): void {
    if (this.stop) return;
    debug(`stop: ${reason}`);
    this.stop = true;
    this.stopReason = reason;
  }

  get stopped(): boolean { return this.stop; }

  /** Ticks until a stop condition. */
  async run(): Promise<void> {
    const interval = 1000 / this.opts.rate;
    // the children already there are attached before the clock starts (each attach reads an ELF file)
    if (this.tree) await this.housekeeping(Infinity);
    this.t0 = performance.now();
    const endAt = this.opts.duration !== undefined ? this.t0 + this.opts.duration * 1000 : Infinity;
    const segmentMs = this.opts.segmentSec !== undefined && this.opts.segmentSec > 0 ? this.opts.segmentSec * 1000 : Infinity;
    let segmentAt = this.t0 + segmentMs;
    this.segment = { ...this.segment, fromSec: 0, startedAt: new Date().toISOString(), ticks: 0, samples: 0, errorsAtStart: { ...this.errors } };
    let next = this.t0;
    let lastTick = this.t0;
    // housekeeping (new children, traced threads, a root that exec'd) only when following children,
    // pausing threads or re-attaching: otherwise nothing wakes the loop between ticks
    this.housekeepAt = this.tree || this.opts.blocking || this.opts.native ? this.t0 : Infinity;
    let nextNames = this.t0 + NAMES_MS;
    let lastYield = this.t0;
    while (!this.stop) {
      let now = performance.now();
      if (now >= endAt) { this.stopReason = "duration"; break; }
      if (now >= this.housekeepAt) {
        const began = now;
        await this.housekeeping();
        // from its end, and the longer it took the later: sampling goes on between rounds
        now = performance.now();
        const gap = Math.max(HOUSEKEEPING_MS, (now - began) * (1 / HOUSEKEEPING_SHARE - 1));
        this.housekeepAt = this.tree || this.opts.blocking || this.opts.native || this.pending.size ? now + gap : Infinity;
        if (this.stop) break;
      }
      if (now >= segmentAt) {
        this.closeSegment((now - this.t0) / 1000);
        segmentAt += segmentMs;
        if (segmentAt <= now) segmentAt = now + segmentMs; // a late turn: the schedule is not caught up in a burst
        continue;
      }
      if (now >= nextNames) {
        nextNames = now + NAMES_MS;
        for (let k = 0; k < this.processes.length; k++) {
          const p = this.processes[k];
          try {
            p.names.refresh();
          } catch (e) {
            // Python's thread names are read by the core: a trap there is a bug like any other
            if (!isCoreTrap(e)) throw e;
            this.recoverFromTrap(p, e);
          }
        }
        continue;
      }
      const wait = Math.min(next, endAt, this.housekeepAt, segmentAt) - now;
      // one wake-up per tick (each costs the kernel a context switch): a precise blocking wait up
      // to TIMER_WAIT_MS, a timer beyond (low rates); the event loop gets a turn (no sleep) at
      // least every YIELD_MS so signals and child exits are seen
      if (wait > TIMER_WAIT_MS) { await sleep(wait - 1); lastYield = performance.now(); continue; }
      if (now - lastYield > YIELD_MS) { await yieldNow(); lastYield = performance.now(); continue; }
      if (wait > 0.02) { Atomics.wait(WAIT_CELL, 0, 0, wait); continue; }
      if (now < next) continue; // woke for housekeeping
      now = performance.now();
      this.pushLateness(now - next);
      // jittered schedule: the mean interval stays 1/rate, periodic work is not aliased
      next += interval * (0.5 + Math.random());
      // a tick a little late is made up by the next ones coming sooner (the rate asked holds); a
      // schedule more than MAX_BEHIND_TICKS behind (a stalled machine) starts again from now,
      // never a burst of samples of one moment
      if (next < now - MAX_BEHIND_TICKS * interval) next = now;
      const weight = (now - lastTick) / 1000 || interval / 1000;
      lastTick = now;
      this.tick((now - this.t0) / 1000, weight);
    }
    this.endedAt = performance.now();
    // the last segment, however short: a stop flushes what was gathered
    if (segmentMs !== Infinity) this.closeSegment((this.endedAt - this.t0) / 1000);
  }

  /** The meta of p's window in the current segment, up to untilSec. */
  private segmentMeta(p: SampledProcess, untilSec: number): ProfileMeta {
    const seg = this.segment;
    return {
      target: p.root && this.opts.command ? this.opts.command.join(" ") : `pid ${p.pid}: ${p.info.command.join(" ")}`,
      pid: p.pid,
      pythonVersion: p.info.version,
      rate: this.opts.rate,
      durationSec: Math.max(untilSec - Math.max(seg.fromSec, p.since), 1e-9),
      samples: p.windowSamples,
      errors: this.segmentErrors(),
      startedAt: seg.startedAt,
    };
  }

  /** Errors counted since the current segment began, by kind. */
  private segmentErrors(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k in this.errors) {
      const d = this.errors[k] - (this.segment.errorsAtStart[k] ?? 0);
      if (d > 0) out[k] = d;
    }
    return out;
  }

  /**
   * Ends the current segment at untilSec: lifts every live process's window and resets its core
   * (SampledProcess.takeWindow), adds the windows of processes retired during it, and hands the
   * segment to hooks.onSegment.
   */
  private closeSegment(untilSec: number): void {
    const seg = this.segment;
    const parts = this.segmentRetired;
    this.segmentRetired = [];
    for (let k = 0; k < this.processes.length; k++) {
      const p = this.processes[k];
      if (!p.alive) continue;
      parts.push({ process: p, profile: p.takeWindow(this.segmentMeta(p, untilSec), this.opts.segmentReset) });
    }
    parts.sort((a, b) => (a.process.root === b.process.root ? 0 : a.process.root ? -1 : 1));
    const errors = this.segmentErrors();
    this.segment = { index: seg.index + 1, fromSec: untilSec, startedAt: new Date().toISOString(), ticks: 0, samples: 0, errorsAtStart: { ...this.errors } };
    this.hooks.onSegment?.({ index: seg.index, fromSec: seg.fromSec, untilSec, startedAt: seg.startedAt, ticks: seg.ticks, samples: seg.samples, errors, parts });
  }

  /** Keeps every lateness up to LATENESS_RESERVOIR values, then a uniform sample of them (and the worst). */
  private pushLateness(ms: number): void {
    this.latenessSeen++;
    if (ms > this.latenessMax) this.latenessMax = ms;
    if (this.latenessCount < LATENESS_RESERVOIR) {
      if (this.latenessCount === this.lateness.length) {
        const l = new Float64Array(this.lateness.length * 2);
        l.set(this.lateness);
        this.lateness = l;
      }
      this.lateness[this.latenessCount++] = ms;
      return;
    }
    const k = Math.floor(Math.random() * this.latenessSeen);
    if (k < LATENESS_RESERVOIR) this.lateness[k] = ms;
  }

  /** Median (exact up to LATENESS_RESERVOIR ticks, estimated beyond) and worst lateness of a tick against its schedule, ms. */
  latenessStats(): { median: number; max: number } {
    if (this.latenessCount === 0) return { median: 0, max: 0 };
    const l = this.lateness.slice(0, this.latenessCount).sort();
    return { median: l[l.length >> 1], max: this.latenessMax };
  }

  /** Seconds from the first tick to the end (or now). */
  get durationSec(): number {
    return Math.max(((this.endedAt || performance.now()) - this.t0) / 1000, 1e-9);
  }

  private countError(st: number): void {
    this.countKind(STATUS_NAMES[st] ?? `status ${st}`);
  }

  /** Counts errors of a kind with no core status (a core trap: "internal error"; native stacks' kinds). */
  private countKind(kind: string, n = 1): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + n;
  }

  /** One sampling tick over every live process. */
  private tick(time: number, weight: number): void {
    this.ticks++;
    this.segment.ticks++;
    this.errorsBeforeTick = this.errorTotal();
    this.tickGil = false;
    this.tickActive = false;
    this.tickActiveThreads = 0;
    this.tickClassified = false;
    for (let k = 0; k < this.processes.length; k++) {
      const p = this.processes[k];
      if (!p.alive) continue;
      try {
        this.sampleProcess(p, time, weight);
      } catch (e) {
        if (!isCoreTrap(e)) throw e;
        this.recoverFromTrap(p, e);
      }
    }
    if (this.tickGil) this.gilTicks++;
    if (this.errorTotal() !== this.errorsBeforeTick) this.errorTicks++;
    if (this.tickActive) this.activeTicks++;
    if (this.tickClassified) {
      this.classifiedTicks++;
      this.activeThreadSum += this.tickActiveThreads;
      if (this.tickActiveThreads > this.activeThreadMax) this.activeThreadMax = this.tickActiveThreads;
    }
    // retire processes that ended during this tick (rare: allocation allowed)
    for (let k = this.processes.length - 1; k >= 0; k--) if (!this.processes[k].alive) this.retire(this.processes[k]);
  }

  /**
   * The process p was attached to is not what its pid shows any more: it exited (its pid may
   * already be another process's: that one is never sampled as p), or it exec'd another program
   * (attached afresh at the next housekeeping round: a Python program goes on being sampled).
   */
  private ended(p: SampledProcess, how: number): void {
    p.alive = false;
    debug(`${p.pid} ${how === ID_EXEC ? "exec'd" : "exited"}`);
    if (how === ID_EXEC) {
      this.pending.delete(p.pid);
      this.pending.set(p.pid, { signature: "", until: performance.now() + CHILD_ATTACH_MS, retriable: true, root: p.root });
      this.housekeepAt = 0;
      return;
    }
    if (p.root) this.requestStop("target exited");
  }

  private sampleProcess(p: SampledProcess, time: number, weight: number): void {
    const tracer = p.tracer;
    let late = 0;
    // --native: the frames' block marks come with the kept frames
    if (this.opts.native && !p.nativeAttr && tracer) p.nativeAttr = new NativeAttribution(p.target, tracer, !!this.opts.nativeAll);
    let pausedAt = 0;
    if (tracer) {
      late = tracer.late;
      pausedAt = performance.now();
      tracer.pause();
    }
    // --async: a running task is found by its frame's address on the stack, so frames are kept from the first walk
    if (this.opts.async && !p.taskAttr) p.taskAttr = new TaskAttribution(p.target);
    let n: number;
    try {
      // registers and stack windows in the same stop, the windows read in the walk's own batch
      // (decoded once the threads run again)
      p.nativeAttr?.plan();
      n = p.core.x.walkSample();
      p.nativeAttr?.capture();
    } finally {
      // even when the core traps: the target is never left stopped
      if (tracer) {
        tracer.resume();
        this.pauseMs += performance.now() - pausedAt;
        this.pauses++;
        if (tracer.late !== late) this.errors["thread not paused"] = (this.errors["thread not paused"] ?? 0) + tracer.late - late;
      }
    }
    // after the walk: if p is still the process attached to (same start time, same program),
    // what the walk read was p's, even if the pid is reused a moment later. Checked after any
    // failed walk, and at least every IDENTITY_CHECK_MS (a pread of /proc: at high rates not
    // every tick; a new process cannot take the pid and start its interpreter in between)
    if (n < 0 || time - p.identityCheckedAt >= IDENTITY_CHECK_MS / 1000) {
      p.identityCheckedAt = time;
      const who = p.identity.check();
      if (who !== ID_SAME) {
        this.ended(p, who);
        return;
      }
    }
    if (n < 0) {
      const st = -n;
      if (st !== ST_OK) debug(`walk of ${p.pid}: ${STATUS_NAMES[st] ?? st}`);
      if (st === ST_GONE) {
        this.ended(p, ID_GONE);
        return;
      }
      if (st === ST_PERM) {
        p.alive = false;
        if (p.root) {
          this.fatal = new WspyError("PERMISSION", `lost permission to read process ${p.pid}`, permissionHint());
          this.requestStop("interrupted");
        }
        return;
      }
      this.countError(st);
      return;
    }
    p.threads = n;
    p.syncGenerations(); // after a reset: the caches of node and thread ids start again
    const v = p.core.i32();
    const base = p.core.x.walkResultsPtr() >> 2;
    const stride = p.stride;
    const idle = !!this.opts.idle, gilOnly = !!this.opts.gil;
    // a free-threaded build has no GIL share to report: how many threads ran at once instead,
    // so its threads are classified with --idle too
    const freeThreaded = p.target.info.freeThreaded;
    const always = !!this.opts.alwaysClassify || freeThreaded;
    const classify = !idle || always;
    if (classify) this.tickClassified = true;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const r = base + i * stride;
      const st = v[r + R_STATUS];
      if (st !== ST_OK) {
        this.countError(st);
        v[r + R_KEEP] = 0;
        // a thread whose stack did not decode this tick ran or did not all the same: how many
        // were active at once (free-threaded builds) does not depend on the walk
        const tid = v[r + R_TID];
        if (freeThreaded && tid > 0 && p.tasks.active(tid)) { this.tickActive = true; this.tickActiveThreads++; }
        continue;
      }
      const node = v[r + R_NODE];
      const gil = v[r + R_GIL] === 1;
      if (gil) this.tickGil = true;
      let keep = node >= 0;
      if (gilOnly && !gil && !freeThreaded) keep = false; // (a free-threaded child has no GIL to filter by)
      if (classify && node >= 0 && (keep || always)) {
        // the GIL holder is running (Python code, or C code that kept the GIL): no /proc read
        const active = gil ? p.activeHoldingGil(node) : p.active(v[r + R_TID], node);
        if (active) { this.tickActive = true; this.tickActiveThreads++; }
        else if (!idle) keep = false;
      }
      v[r + R_KEEP] = keep ? 1 : 0;
      if (keep) kept++;
    }
    let taskSamples = 0;
    if (p.nativeAttr) {
      const res = p.nativeAttr.attribute(base, stride, n, idle, (tid) => p.tasks.active(tid));
      for (const [kind, count] of res.errors) this.countKind(kind, count);
      // threads without a Python thread state (started from C): their native stacks alone
      for (const s of res.samples) if (p.core.x.pushSample(time, weight, s.thread, s.node)) taskSamples++;
    }
    if (this.opts.async) {
      let res: { nodes: number[]; thread: number; torn: number } | number;
      try {
        res = p.taskAttr!.attribute(v, base, stride, n, idle, performance.now());
      } catch (e) {
        // a version or build without a task layout: said once, the recording ends (its root) or the child goes on without tasks
        if (!(e instanceof WspyError)) throw e;
        if (p.root) { this.fatal = e; this.requestStop("interrupted"); }
        res = { nodes: [], thread: -1, torn: 0 };
      }
      if (typeof res === "number") {
        if (-res === ST_GONE) { this.ended(p, ID_GONE); return; }
        this.countKind(`task graph: ${STATUS_NAMES[-res] ?? -res}`);
      } else {
        // chains that moved while read are counted, not kept (like a torn thread stack)
        for (let k = 0; k < res.torn; k++) this.countError(ST_TORN);
        if (res.thread >= 0) for (const node of res.nodes) if (p.core.x.pushSample(time, weight, res.thread, node)) taskSamples++;
      }
    }
    kept += taskSamples;
    p.tickTaskSamples = taskSamples;
    p.samples += kept;
    this.samples += kept;
    if (this.opts.segmentSec !== undefined && kept > 0) {
      const committed = p.core.x.walkCommit(time, weight);
      if (committed >= 0) {
        p.windowSamples += committed + taskSamples;
        this.segment.samples += committed + taskSamples;
      } else {
        this.countError(-committed || ST_NO_MEMORY);
      }
    }
    p.core.refreshThreadNamesIfNew(); // Python's names of new threads (cheap when none are new)
    p.names.update();
    this.hooks.onSample?.(p, n, time, weight);
  }

  /**
   * The core trapped while sampling p: a bug in wspy, counted as an "internal error" and said once
   * per message. The trapped instance may be half-way through an update, so it is not used
   * again: p is retired (the hook lifts the profile it gathered so far) and the same process is
   * attached afresh with a new core, whose later samples the hooks join to the earlier ones
   * (SampledProcess.part). Past MAX_TRAPS of one process, when they hit more than a tenth of the
   * ticks, its sampling stops; for the root the recording ends there, with everything gathered
   * written and the summary printed, as an INTERNAL error (exit 70).
   */
  private recoverFromTrap(p: SampledProcess, e: Error): void {
    this.countKind("internal error");
    const k = this.processes.indexOf(p);
    const first = !this.trapMessages.has(e.message);
    if (this.trapMessages.size < MAX_TRAP_MESSAGES) this.trapMessages.add(e.message);
    debug(`core trap sampling ${p.pid}: ${e.stack ?? e.message}`);
    this.retire(p, true);
    // a rare trap (a torn read hitting a bug) is lived with; one at most ticks is not
    const giveUp = p.part + 1 >= MAX_TRAPS && (p.part + 1) * 10 > this.ticks;
    if (first || giveUp) {
      this.log(`wspy: internal error in the core sampling process ${p.pid} (a bug: please report it): ${e.message}; ` +
        (giveUp ? "sampling of this process stops" : "sampling goes on with a fresh core"));
    }
    if (giveUp || !isAlive(p.pid)) {
      if (p.root) {
        if (giveUp) this.fatal ??= coreTrapError(e, `sampling process ${p.pid}`);
        this.requestStop(giveUp ? "interrupted" : "target exited");
      }
      return;
    }
    // the same process (pid and start time) or none: a pid taken by another process is not it
    const identity = new ProcessIdentity(p.pid);
    if (identity.start !== p.identity.start) {
      identity.close();
      if (p.root) this.requestStop("target exited");
      return;
    }
    let target: Target;
    try {
      const core = new Core();
      target = Target.open(procView(p.pid, core), { versionTables: this.opts.versionTables, forceVersion: p.root ? this.opts.forceVersion : undefined, wantGil: true }, core);
    } catch (e2) {
      debug(`re-attach ${p.pid} after a trap failed: ${(e2 as Error).message}`);
      identity.close();
      if (p.root) this.requestStop(isAlive(p.pid) ? "interrupted" : "target exited");
      return;
    }
    let tracer: Tracer | null = null;
    if (p.tracer) {
      tracer = new Tracer(p.pid);
      try { tracer.attach(); } catch { tracer = null; }
    }
    const q = new SampledProcess(target, p.root, tracer, identity, p.since);
    q.part = p.part + 1;
    this.processes.splice(Math.max(0, Math.min(k, this.processes.length)), 0, q);
    this.hooks.onAttach?.(q);
  }

  /** Every 100 ms: new and ended child processes, exec'd ones, new threads to pause. */
  private async housekeeping(maxAttach = MAX_ATTACH_PER_ROUND): Promise<void> {
    for (const p of this.processes) p.tracer?.refresh();
    // a root that is not sampled: its exit (or its pid taken by another process) ends the recording
    // (a launcher that exec's: its new program is looked at afresh)
    if (this.rootIdentity && !this.pending.get(this.rootPid)?.root) {
      const who = this.rootIdentity.check();
      if (who === ID_GONE) {
        this.requestStop("target exited");
        return;
      }
      if (who === ID_EXEC) {
        this.rootIdentity.close();
        this.rootIdentity = new ProcessIdentity(this.rootPid);
        this.pending.set(this.rootPid, { signature: "", until: performance.now() + CHILD_ATTACH_MS, retriable: true, root: true });
      }
    }
    if (this.tree) {
      const { added, gone } = this.tree.scan();
      for (const pid of gone) {
        if (!this.pending.get(pid)?.root) this.pending.delete(pid);
        const p = this.processes.find((q) => q.pid === pid);
        if (p && !p.root) { p.alive = false; this.retire(p); }
      }
      for (const pid of added) this.pending.set(pid, { signature: "", until: performance.now() + CHILD_ATTACH_MS, retriable: true, root: false });
    }
    // one attach per round (an attach may read the interpreter's ELF file): sampling goes on between
    let attached = 0;
    for (const [pid, st] of [...this.pending]) {
      if (this.stop || attached >= maxAttach) return;
      const sig = execSignature(pid);
      if (!sig || !isAlive(pid)) {
        // exited before it could be attached: not an error
        this.pending.delete(pid);
        if (st.root) this.rootEnded(pid, "exited");
        continue;
      }
      if (st.root && st.signature === sig && (!st.retriable || performance.now() > st.until)) {
        // the root exec'd a program that is not (or never became) Python
        this.pending.delete(pid);
        this.rootEnded(pid, "not Python");
        continue;
      }
      if (!st.retriable && sig === st.signature) continue; // not Python, and has not exec'd since
      if (st.retriable && performance.now() > st.until && sig === st.signature) continue;
      attached++;
      await this.attachPending(pid, sig, st);
    }
  }

  /** The root exec'd a program wspy cannot sample: its stream ends; without children to follow, so does the recording. */
  private rootEnded(pid: number, why: "exited" | "not Python"): void {
    this.rootSampled = false;
    if (why === "not Python") {
      const cmd = readCmdline(pid).join(" ") || "?";
      this.note(`process ${pid} exec'd ${JSON.stringify(cmd)}, which is not Python: its samples end there${this.tree ? "; its Python descendants are still followed" : ""}`);
    }
    if (!this.tree || why === "exited") { this.requestStop("target exited"); return; }
    this.rootIdentity?.close();
    this.rootIdentity = new ProcessIdentity(pid);
  }

  /** Counts a failed attach of kind (for the summary); a child that exited first is not counted. */
  private countAttachError(e: unknown): void {
    const kind = e instanceof WspyError ? e.code.toLowerCase().replace(/_/g, " ") : "internal";
    this.attachErrors[kind] = (this.attachErrors[kind] ?? 0) + 1;
  }

  private async attachPending(pid: number, signature: string, prev: PendingAttach): Promise<void> {
    let target: Target;
    let identity: ProcessIdentity;
    try {
      ({ target, identity } = await attachIdentified(pid, { versionTables: this.opts.versionTables, forceVersion: prev.root ? this.opts.forceVersion : undefined, waitMs: 0, wantGil: true }, 0));
    } catch (e) {
      debug(`attach ${pid} failed: ${(e as Error).message}`);
      const code = e instanceof WspyError ? e.code : "INTERNAL";
      // gone first: fine. Not Python: ignored (a non-Python child), or, right after an exec, tried
      // again while the new program may still be loading its interpreter. Others are counted.
      let retriable = e instanceof WspyError && e.retriable;
      if (code === "NO_SUCH_PROCESS" || !isAlive(pid)) { this.pending.delete(pid); if (prev.root) this.rootEnded(pid, "exited"); return; }
      // (a matched process just started: its interpreter may still be loading)
      if ((prev.root || this.opts.match) && code === "NOT_PYTHON" && looksLikePython(pid)) retriable = true;
      const final = !retriable || performance.now() > prev.until;
      if (final && code !== "NOT_PYTHON" && !(prev.signature === signature && !prev.retriable)) this.countAttachError(e);
      const until = prev.signature === signature || prev.signature === "" ? prev.until : performance.now() + CHILD_ATTACH_MS;
      this.pending.delete(pid); // to the back of the queue: the others get their turn
      this.pending.set(pid, { signature, until, retriable, root: prev.root });
      return;
    }
    this.pending.delete(pid);
    debug(`attached ${pid} (Python ${target.info.version})`);
    let tracer: Tracer | null = null;
    if (this.opts.blocking || this.opts.native) {
      tracer = new Tracer(pid);
      try { tracer.attach(); } catch { tracer = null; }
    }
    const p = new SampledProcess(target, prev.root, tracer, identity, (performance.now() - this.t0) / 1000);
    if (prev.root) {
      this.processes.unshift(p);
      this.rootSampled = true;
      this.rootIdentity?.close();
      this.rootIdentity = null;
      this.note(`process ${pid} exec'd ${JSON.stringify(p.command.join(" "))} (Python ${target.info.version}) at ${p.since.toFixed(2)} s: sampled on from there`);
    } else {
      this.processes.push(p);
    }
    this.hooks.onAttach?.(p);
  }

  /** Takes a process out of the loop: the hook sees its core, then it is detached and closed. */
  private retire(p: SampledProcess, trapped = false): void {
    const k = this.processes.indexOf(p);
    if (k < 0) return;
    debug(`retire ${p.pid}${p.root ? " (root)" : ""}`);
    this.processes.splice(k, 1);
    p.alive = false;
    p.tracer?.detach();
    try {
      p.names.refresh();
    } catch (e) {
      // a core that trapped (a bug, already counted when trapped) names no more threads
      if (!isCoreTrap(e)) throw e;
      debug(`core trap naming the threads of ${p.pid}: ${(e as Error).message}`);
      if (!trapped) this.countKind("internal error");
    }
    try {
      // its window joins the current segment (the core is read, not reset: it may have trapped)
      if (this.opts.segmentSec !== undefined) {
        const until = ((this.endedAt || performance.now()) - this.t0) / 1000;
        try {
          this.segmentRetired.push({ process: p, profile: p.core.liftProfile(this.segmentMeta(p, until), { window: true, threadName: (i) => p.names.name(i) }) });
        } catch (e) {
          // a core too broken to read (it trapped): its window is lost, and counted
          if (!isCoreTrap(e)) throw e;
          this.countKind("internal error");
        }
        p.windowSamples = 0;
      }
      this.hooks.onRetire?.(p);
    } finally {
      p.tasks.close();
      p.identity.close();
      p.target.close();
      this.retired.push(p);
      if (this.retired.length > MAX_RETIRED_KEPT) this.retired.shift();
    }
  }

  /** Retires every process and releases signals: call once after run(), even after an error. */
  close(): void {
    if (this.opts.handleSignals !== false) {
      process.off("SIGINT", this.onSignal);
      process.off("SIGTERM", this.onSignal);
    }
    if (!this.endedAt) this.endedAt = performance.now();
    let err: unknown = null;
    while (this.processes.length) {
      try {
        this.retire(this.processes[this.processes.length - 1]);
      } catch (e) {
        err ??= e;
      }
    }
    this.rootIdentity?.close();
    detachAll();
    process.off("exit", this.onExit);
    if (err) throw err;
  }

  /** Thread records of the last tick, over every live process. */
  get threadCount(): number {
    let n = 0;
    for (let k = 0; k < this.processes.length; k++) n += this.processes[k].threads;
    return n;
  }

  private errorTotal(): number {
    let total = 0;
    for (const k in this.errors) total += this.errors[k];
    return total;
  }

  /** The summary's error text: "no errors" or "N errors (kind: n, ...; in x% of ticks)", x ≤ 100. */
  errorText(): string {
    const total = this.errorTotal();
    return total === 0 ? "no errors" :
      `${total} errors (${Object.entries(this.errors).map(([k, c]) => `${k}: ${c}`).join(", ")}; in ${(100 * this.errorTicks / Math.max(1, this.ticks)).toFixed(2)}% of ticks)`;
  }

  /** The summary's line on attaches that failed ("" when none): "could not attach to 3 processes (permission: 2, unsupported: 1)". */
  attachErrorText(): string {
    const total = Object.values(this.attachErrors).reduce((a, b) => a + b, 0);
    return total === 0 ? "" : `could not attach to ${total} process${total === 1 ? "" : "es"} (${Object.entries(this.attachErrors).map(([k, c]) => `${k}: ${c}`).join(", ")})`;
  }
}
