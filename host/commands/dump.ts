// One-shot stack dump: every thread's stack, innermost frame first, as text or JSON.
// Must not know: CPython layouts (the core walks); it formats what the core found.
// Source of truth: the JSON shape documented in README ("wspy dump --json").

import { Target, TargetInfo, type ThreadStates } from "../target/attach.js";
import { type CoreTask } from "../core/core.js";
import { isCoreTrap, coreTrapError, ST_OK, ST_GONE, ST_PERM, ST_TORN, STATUS_NAMES, R_TID, R_THREAD, R_NODE, R_STATUS, R_GIL, R_DEPTH, R_FIRST_KEPT, R_STRIDE } from "../core/core.js";
import { WspyError, permissionHint } from "../errors.js";
import { escapeText, stderrLine } from "../io/escape.js";
import { ThreadNames, WaitingFrames, readComm } from "../sampling/threads.js";
import { Tracer, ONE_SHOT_STOP_WAIT_MS } from "../target/ptrace.js";
import { NativeStacks, NativeStack, NativeFrame, USER_REGS_WORDS, nativeFrameName } from "../target/native.js";
import { mergeNative } from "../sampling/native-merge.js";
import { ProcessTree } from "../target/proctree.js";
import { readCmdline, TaskStates } from "../target/proc.js";
import { traceMark } from "../trace.js";

/** A local variable: its value as Python's repr() writes it (cut short: see README), and
 *  whether it is one of the function's arguments. */
export interface DumpLocal { name: string; value: string; arg: boolean }
export interface DumpFrame {
  name: string;
  file: string;
  line: number;
  /** with --locals: the frame's local variables that are set, values cut short */
  locals?: DumpLocal[];
  /** with --native, a C/C++ frame: name is its function (or object+0xstart), file its object, line 0;
   *  pc the address (hex), offset the pc as the object's file addresses it; eval: an eval-loop frame (--native-all only) */
  native?: { module: string; offset: string; pc: string; eval?: boolean };
}
export interface DumpThread {
  ident: number;
  tid: number;
  /** the thread's name: Python's when the core read it, else the OS name (/proc/.../comm); "" if unknown */
  name: string;
  active: boolean;
  gil: boolean;
  /** why the stack is missing or partial, when it is */
  error?: string;
  frames: DumpFrame[];
  /** with --native: why the native stack ends early, when it does ("" or absent: it reached the thread's start) */
  nativeStop?: string;
  /** with --native: the native and Python frames did not pair up (the Python stack is under the leaf C frames) */
  nativeMismatch?: boolean;
}
/** An asyncio task (--async). */
export interface DumpTask {
  /** the task object's address, as CPython's `python -m asyncio ps` prints it */
  id: string;
  name: string;
  state: "pending" | "cancelled" | "finished";
  /** the OS thread id of the thread running it now, null when it is suspended */
  thread: number | null;
  /** its coroutine chain, innermost first (a running task: its frames on the thread's stack) */
  frames: DumpFrame[];
  /** ids of the tasks that await it */
  awaitedBy: string[];
  /** why its name or frames are missing or partial, when they are */
  error?: string;
}
export interface DumpResult {
  pid: number;
  command: string[];
  python: string;
  binary: string;
  tableSource: string;
  threads: DumpThread[];
  /** with --async: every asyncio task of the interpreter (empty when asyncio is not in use) */
  tasks?: DumpTask[];
  /** with --subprocesses: every Python descendant, with its parent's pid */
  subprocesses?: (DumpResult & { ppid: number })[];
  /** with --subprocesses on a root that is not Python (a shell, a launcher): no threads of its own */
  notPython?: boolean;
}

export interface DumpOptions {
  versionTables?: string[];
  forceVersion?: string;
  /** pause the threads while they are read (ptrace; --blocking) */
  blocking?: boolean;
  /** dump every Python descendant too (--subprocesses); non-Python ones are skipped */
  subprocesses?: boolean;
  /** show each frame's local variables (--locals): 1 short values, 2 (-ll) longer ones */
  locals?: number;
  /** show asyncio's tasks and their await graph (--async) */
  async?: boolean;
  /** merge each thread's native (C/C++) frames with its Python frames (--native; implies pausing the threads) */
  native?: boolean;
  /** with native: keep the interpreter's plumbing frames too (--native-all) */
  nativeAll?: boolean;
}

/** Native stacks for dumpTarget: one thread's, read now (its thread is stopped, or offline). */
export interface NativeSource {
  stack(tid: number): NativeStack | null;
  /** every OS thread of the process (those without a Python thread state are shown native only) */
  tids(): number[];
  /** a thread's OS name, "" when unknown */
  osName(tid: number): string;
  /** keep interpreter plumbing (--native-all) */
  all: boolean;
}

/** Characters of a local's value shown with -l and with -ll. */
export const LOCALS_CHARS = [40, 200] as const;

/** Attaches, dumps (pausing the threads with --blocking), detaches. */
async function dumpOne(pid: number, opts: DumpOptions, root: boolean): Promise<DumpResult> {
  let target: Target;
  try {
    target = await Target.attach(pid, {
      versionTables: opts.versionTables, forceVersion: root ? opts.forceVersion : undefined, wantGil: true,
      notice: stderrLine,
    });
  } catch (e) {
    // a trap of the core is a bug: one INTERNAL line, never a stack trace
    throw isCoreTrap(e) ? coreTrapError(e, `attaching to process ${pid}`) : e;
  }
  let tracer: Tracer | null = null;
  try {
    let states: ThreadStates | undefined;
    if (opts.blocking || opts.native) ({ tracer, states } = stopThreads(pid));
    let stacks: NativeStacks | null = null;
    let source: NativeSource | undefined;
    if (opts.native && tracer) {
      // registers and stack of each thread while it is stopped; unwound at once (still stopped)
      const regsOf = threadRegisters(tracer);
      stacks = new NativeStacks(target);
      source = nativeSource(stacks, regsOf, [...regsOf.keys()], (tid) => readComm(pid, tid), !!opts.nativeAll);
    }
    try {
      const d = dumpTarget(target, { ...opts, nativeSource: source, states });
      traceMark("sampled");
      return d;
    } finally {
      stacks?.close();
    }
  } finally {
    if (tracer) {
      tracer.resume();
      tracer.detach();
    }
    target.close();
  }
}

/** Samples every thread of pid once (retrying torn stacks a few times). */
export async function dump(pid: number, opts: DumpOptions = {}): Promise<DumpResult> {
  let result: DumpResult;
  let rootError: WspyError | null = null;
  try {
    result = await dumpOne(pid, opts, true);
  } catch (e) {
    // with -s, a root that is not Python (bash, a supervisor) is a launcher: its Python
    // descendants are dumped, as record -s samples them
    if (!(opts.subprocesses && e instanceof WspyError && e.code === "NOT_PYTHON")) throw e;
    rootError = e;
    result = { pid, command: readCmdline(pid), python: "", binary: "", tableSource: "", threads: [], notPython: true };
  }
  if (opts.subprocesses) {
    const tree = new ProcessTree(pid);
    const { added } = tree.scan();
    result.subprocesses = [];
    for (const child of added) {
      try {
        result.subprocesses.push({ ...(await dumpOne(child, opts, false)), ppid: tree.parentOf(child) });
      } catch {
        // not Python, not started yet, or gone: skipped silently
      }
    }
    if (rootError && !result.subprocesses.length) {
      throw new WspyError("NOT_PYTHON", `${rootError.message}; none of its descendants is Python either`, rootError.hint);
    }
  }
  return result;
}

/** A native frame as dump shows it. */
function dumpNativeFrame(f: NativeFrame): DumpFrame {
  return { name: nativeFrameName(f), file: f.module, line: 0, native: { module: f.module, offset: "0x" + f.offset.toString(16), pc: "0x" + f.pc.toString(16), ...(f.eval ? { eval: true } : {}) } };
}

/**
 * Stops every thread of pid (ptrace) for a dump (--blocking, --native, snapshot --native), having
 * read first whether each one was running: a stopped thread reads as stopped in /proc. The caller
 * resumes and detaches the tracer.
 */
export function stopThreads(pid: number): { tracer: Tracer; states: ThreadStates } {
  const tracer = new Tracer(pid);
  tracer.attach();
  const live = new TaskStates(pid);
  const before = new Map(tracer.threadIds().map((tid) => [tid, live.active(tid)]));
  live.close();
  // one look, no next tick: a thread descheduled on a loaded machine is waited for, not left out
  tracer.pause(ONE_SHOT_STOP_WAIT_MS);
  return { tracer, states: { active: (tid) => before.get(tid) ?? true, close: () => {} } };
}

/** Every stopped thread's registers (user_regs_struct), null where they could not be read. */
export function threadRegisters(tracer: Tracer): Map<number, BigUint64Array | null> {
  const regsOf = new Map<number, BigUint64Array | null>();
  for (const tid of tracer.threadIds()) {
    const regs = new BigUint64Array(USER_REGS_WORDS);
    regsOf.set(tid, tracer.regs(tid, regs) ? regs : null);
  }
  return regsOf;
}

/**
 * Native stacks for dumpTarget from registers read once per thread (a paused process, a core's
 * notes, a snapshot's record): each unwound when the dump asks (the memory does not change).
 * noStack: threads whose stack memory the file lacks.
 */
export function nativeSource(stacks: NativeStacks, regsOf: Map<number, BigUint64Array | null>, tids: number[], osName: (tid: number) => string, all: boolean,
  noStack: Set<number> = new Set()): NativeSource {
  return {
    all,
    stack: (tid) => {
      const regs = tid > 0 ? regsOf.get(tid) : null;
      const s = regs && stacks.capture(tid, regs) ? stacks.unwind(tid, true) : null;
      // a stack the file lacks (zeros where it was) ends at once: said so, not passed off as whole
      if (s && !s.stop && noStack.has(tid)) s.stop = "the file holds no memory of this thread's stack";
      return s;
    },
    tids: () => tids,
    osName,
  };
}

export function dumpTarget(target: Target, opts: { locals?: number; async?: boolean; nativeSource?: NativeSource; states?: ThreadStates } = {}): DumpResult {
  const core = target.core;
  const localsChars = opts.locals ? LOCALS_CHARS[Math.min(opts.locals, LOCALS_CHARS.length) - 1] : 0;
  // --async: a running task's coroutine frame is found on its thread's stack by address
  const native = opts.nativeSource;
  core.x.walkSetKeepFrames(localsChars || opts.async || native ? 1 : 0);
  const withTasks = opts.async ? target.configureTasks() : false;
  let asyncTasks: DumpTask[] | undefined = opts.async ? [] : undefined;
  const tasks = opts.states ?? target.threadStates(); // /proc (as before a pause), a core file's notes or a snapshot's record
  const names = new ThreadNames(target.live ? target.info.pid : 0, core); // pid 0: no OS names offline
  const waiting = new WaitingFrames(core);
  let threads: DumpThread[] = [];
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const n = core.x.walkSample();
      if (n < 0) {
        if (-n === ST_GONE) throw new WspyError("NO_SUCH_PROCESS", `process ${target.info.pid} exited`, "");
        if (-n === ST_PERM) throw new WspyError("PERMISSION", `permission denied reading process ${target.info.pid}`, permissionHint());
        continue;
      }
      core.refreshThreadNames(); // Python's thread names, read once per sample of the dump
      const base = core.x.walkResultsPtr() >> 2;
      threads = [];
      let torn = false;
      const onStack = new Map<bigint, { thread: number; depth: number }>(); // kept frame address -> where
      for (let i = 0; i < n; i++) {
        const r = base + i * R_STRIDE;
        // the record's fields first: reading locals or native stacks may grow the core's memory,
        // which leaves an Int32Array view made before it empty
        const v = core.i32();
        const st = v[r + R_STATUS], threadId = v[r + R_THREAD], tid = v[r + R_TID], gil = v[r + R_GIL] === 1;
        const info = core.thread(threadId);
        const node = v[r + R_NODE];
        const firstKept = v[r + R_FIRST_KEPT], depth = v[r + R_DEPTH];
        if (opts.async && st === ST_OK) {
          for (let j = 0; j < depth; j++) onStack.set(BigInt.asUintN(64, core.x.keptFrameAddr(firstKept + j)), { thread: i, depth: j });
        }
        let frames: DumpFrame[] = st === ST_OK && node >= 0 ? core.stackOf(node).map((f, j) => {
          const fr = core.frame(f);
          const frame: DumpFrame = { name: fr.name, file: fr.file, line: fr.line };
          if (localsChars && j < depth) frame.locals = orderLocals(core.locals(firstKept + j, localsChars) ?? []);
          return frame;
        }) : [];
        if (st !== ST_OK) torn = true;
        let nativeStop: string | undefined, nativeMismatch = false;
        const stack = native && (st === ST_OK || node < 0) ? native.stack(tid) : null;
        if (stack) {
          // the blocks each eval-loop call ran: the core marks the outermost frame of each
          const py = frames.map((frame, j) => ({ frame, blockEnd: (core.x.keptFrameFlags(firstKept + j) & core.x.PF_BLOCK_END.value) !== 0 }));
          const m = mergeNative(stack.frames, py, native!.all);
          frames = m.frames.map((x) => (x.native ? dumpNativeFrame(x.native) : x.python!));
          nativeMismatch = !m.ok;
          nativeStop = stack.stop;
        }
        threads.push({
          ident: info.ident,
          tid,
          name: names.name(threadId),
          active: node >= 0 && waiting.waiting(node) ? false : tasks.active(tid),
          gil,
          ...(st !== ST_OK ? { error: STATUS_NAMES[st] } : {}),
          frames,
          ...(nativeStop ? { nativeStop } : {}),
          ...(nativeMismatch ? { nativeMismatch } : {}),
        });
      }
      if (withTasks && !torn) {
        const read = core.tasks();
        if (typeof read === "number") {
          if (-read === ST_GONE) throw new WspyError("NO_SUCH_PROCESS", `process ${target.info.pid} exited`, "");
          if (-read === ST_PERM) throw new WspyError("PERMISSION", `permission denied reading process ${target.info.pid}`, permissionHint());
          torn = true; // the task lists moved under the reads: read again
        } else {
          asyncTasks = dumpTasks(core, read, threads, onStack);
          // a chain that moved while it was read (its second read differs): read again
          if (read.some((k) => k.status === ST_TORN)) torn = true;
        }
      }
      if (!torn) break;
    }
    if (native) {
      // threads with no Python thread state (started from C): their native stack alone
      const seen = new Set(threads.map((t) => t.tid));
      for (const tid of native.tids()) {
        if (seen.has(tid)) continue;
        const s = native.stack(tid);
        if (!s) continue;
        threads.push({
          ident: 0, tid, name: native.osName(tid), active: tasks.active(tid), gil: false,
          frames: mergeNative(s.frames, [], native.all).frames.map((m) => dumpNativeFrame(m.native!)),
          ...(s.stop ? { nativeStop: s.stop } : {}),
        });
      }
    }
  } catch (e) {
    // a trap of the core is a bug: one INTERNAL line, never a stack trace (nor a "torn stack")
    throw isCoreTrap(e) ? coreTrapError(e, `reading the stacks of process ${target.info.pid}`) : e;
  } finally {
    tasks.close();
  }
  const i: TargetInfo = target.info;
  return { pid: i.pid, command: i.command, python: i.version, binary: i.binary, tableSource: i.tableSource, threads, ...(asyncTasks ? { tasks: asyncTasks } : {}) };
}

const TASK_STATES = ["pending", "cancelled", "finished"] as const;

/** The core's tasks as the dump shows them: a running one takes its frames from its thread's stack. */
function dumpTasks(core: Target["core"], read: CoreTask[], threads: DumpThread[], onStack: Map<bigint, { thread: number; depth: number }>): DumpTask[] {
  const id = (a: bigint): string => "0x" + a.toString(16);
  return read.map((k) => {
    const where = onStack.get(k.frameAddr);
    const frames: DumpFrame[] = where
      ? threads[where.thread].frames.slice(0, where.depth + 1).map((f) => ({ name: f.name, file: f.file, line: f.line }))
      : k.frames.map((f) => { const fr = core.frame(f); return { name: fr.name, file: fr.file, line: fr.line }; }).reverse();
    return {
      id: id(k.addr),
      name: k.name,
      state: TASK_STATES[k.state] ?? "pending",
      thread: where ? threads[where.thread].tid : null,
      frames,
      awaitedBy: k.awaiters.map((i) => id(read[i].addr)),
      ...(k.status !== ST_OK ? { error: STATUS_NAMES[k.status] ?? "unreadable" } : {}),
    };
  });
}

/**
 * The await graph as a tree, the way `python -m asyncio pstree` draws it: each task under every
 * task that awaits it, its coroutine chain (outermost first) between them; tasks nobody awaits
 * at the top. A cycle is cut where it closes.
 */
export function renderTaskTree(tasks: DumpTask[]): string[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const children = new Map<string, DumpTask[]>();
  for (const t of tasks) for (const a of t.awaitedBy) if (byId.has(a)) (children.get(a) ?? children.set(a, []).get(a)!).push(t);
  const out: string[] = [];
  const printed = new Set<string>();
  const node = (t: DumpTask, prefix: string, last: boolean, path: Set<string>): void => {
    printed.add(t.id);
    const running = t.thread !== null ? ` [running in thread ${t.thread}]` : "";
    const state = t.state !== "pending" ? ` [${t.state}]` : "";
    const cycle = path.has(t.id);
    out.push(`${prefix}${last ? "└── " : "├── "}(T) ${escapeText(t.name)}${running}${state}${t.error ? ` [${escapeText(t.error)}]` : ""}${cycle ? " (cycle)" : ""}`);
    if (cycle) return;
    let pre = prefix + (last ? "    " : "│   ");
    for (const f of [...t.frames].reverse()) {
      out.push(`${pre}└──  ${escapeText(f.name)} ${escapeText(f.file)}:${f.line}`);
      pre += "    ";
    }
    const kids = children.get(t.id) ?? [];
    const next = new Set(path).add(t.id);
    kids.forEach((k, i) => node(k, pre, i === kids.length - 1, next));
  };
  const roots = tasks.filter((t) => !t.awaitedBy.some((a) => byId.has(a)));
  roots.forEach((t, i) => node(t, "", i === roots.length - 1, new Set()));
  // tasks only reachable through a cycle
  for (const t of tasks) if (!printed.has(t.id)) node(t, "", true, new Set());
  return out;
}

// str.isprintable() is false for these general categories (Objects/unicodectype.c: every
// character but Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs other than the ASCII space is printable);
// Node's Unicode tables stand in for the target's unicodedata (the same for assigned characters).
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/gu;

/** Escapes what repr() escapes in a str and the core left as is: characters past U+009F that
 *  are not printable, as \xNN, \uNNNN or \UNNNNNNNN. */
export function reprEscape(value: string): string {
  return value.replace(NOT_PRINTABLE, (c) => {
    if (c === " ") return c;
    const cp = c.codePointAt(0)!;
    const hex = cp.toString(16);
    if (cp < 0x100) return "\\x" + hex.padStart(2, "0");
    if (cp < 0x10000) return "\\u" + hex.padStart(4, "0");
    return "\\U" + hex.padStart(8, "0");
  });
}

/** The arguments first, in the signature's order, then the other locals in slot order; values
 *  escaped as repr does. */
function orderLocals(locals: (DumpLocal & { argIndex: number })[]): DumpLocal[] {
  const args = locals.filter((l) => l.arg).sort((a, b) => a.argIndex - b.argIndex);
  return [...args, ...locals.filter((l) => !l.arg)].map((l) => ({ name: l.name, value: reprEscape(l.value), arg: l.arg }));
}

export function renderDumpText(d: DumpResult): string {
  const out: string[] = [];
  const one = (p: DumpResult, ppid?: number): void => {
    out.push(`Process ${p.pid}${ppid ? ` (child of ${ppid})` : ""}: ${escapeText(p.command.join(" "))}`);
    if (p.notPython) {
      out.push("not Python: its Python descendants follow");
      return;
    }
    out.push(`Python v${p.python} (${escapeText(p.binary)})`);
    for (const t of p.threads) {
      out.push("");
      const flags = [t.active ? "active" : "idle", ...(t.gil ? ["gil"] : [])].join(", ");
      const name = t.name ? `"${escapeText(t.name)}" ` : "";
      // a thread state not bound to an OS thread yet has neither id: said so, never "ident 0x0";
      // a thread started from C (--native) has no Python thread state at all
      const id = t.ident > 0 ? `ident 0x${t.ident.toString(16)}` : t.frames.length && t.frames.every((f) => f.native) ? "no Python thread state (native only)" : "starting (no thread id yet)";
      const notes = [...(t.error ? [escapeText(t.error)] : []), ...(t.nativeStop ? [`native stack ends: ${escapeText(t.nativeStop)}`] : []),
        ...(t.nativeMismatch ? ["native and Python frames did not pair up: Python frames under the leaf C frames"] : [])];
      out.push(`Thread ${t.tid || "?"} (${flags}): ${name}${id}${notes.map((s) => ` [${s}]`).join("")}`);
      for (const f of t.frames) {
        if (f.native) {
          out.push(`    ${escapeText(f.name)} (${escapeText(f.native.module)}+${f.native.offset})`);
          continue;
        }
        out.push(`    ${escapeText(f.name)} (${escapeText(f.file)}:${f.line})`);
        const locals = f.locals ?? [];
        for (const [title, arg] of [["arguments", true], ["locals", false]] as const) {
          const some = locals.filter((l) => l.arg === arg);
          if (some.length) out.push(`      ${title}:`);
          for (const l of some) out.push(`        ${escapeText(l.name)} = ${escapeText(l.value)}`);
        }
      }
    }
    if (p.tasks) {
      out.push("");
      const running = p.tasks.filter((t) => t.thread !== null).length;
      out.push(`Tasks: ${p.tasks.length} asyncio task${p.tasks.length === 1 ? "" : "s"}${running ? `, ${running} running` : ""}${p.tasks.length ? " (each under the tasks that await it)" : " (asyncio is not in use)"}`);
      out.push(...renderTaskTree(p.tasks));
    }
  };
  one(d);
  for (const c of d.subprocesses ?? []) {
    out.push("");
    one(c, c.ppid);
  }
  return out.join("\n") + "\n";
}
