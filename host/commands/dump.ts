// One-shot stack dump: every thread's stack, innermost frame first, as text or JSON.
// Must not know: CPython layouts (the core walks); it formats what the core found.
// Source of truth: the JSON shape documented in README ("wspy dump --json").

import { Target, TargetInfo } from "../target/attach.js";
import { isCoreTrap, coreTrapError, ST_OK, ST_GONE, ST_PERM, STATUS_NAMES, R_TID, R_THREAD, R_NODE, R_STATUS, R_GIL, R_DEPTH, R_FIRST_KEPT, R_STRIDE } from "../core/core.js";
import { WspyError, permissionHint } from "../errors.js";
import { escapeText, stderrLine } from "../io/escape.js";
import { ThreadNames, WaitingFrames } from "../sampling/threads.js";
import { Tracer } from "../target/ptrace.js";
import { ProcessTree } from "../target/proctree.js";
import { readCmdline } from "../target/proc.js";
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
}
export interface DumpResult {
  pid: number;
  command: string[];
  python: string;
  binary: string;
  tableSource: string;
  threads: DumpThread[];
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
    if (opts.blocking) {
      tracer = new Tracer(pid);
      tracer.attach();
      tracer.pause();
    }
    const d = dumpTarget(target, opts);
    traceMark("sampled");
    return d;
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

export function dumpTarget(target: Target, opts: { locals?: number } = {}): DumpResult {
  const core = target.core;
  const localsChars = opts.locals ? LOCALS_CHARS[Math.min(opts.locals, LOCALS_CHARS.length) - 1] : 0;
  core.x.walkSetKeepFrames(localsChars ? 1 : 0);
  const tasks = target.threadStates(); // /proc, a core file's notes or a snapshot's record
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
      const v = core.i32();
      const base = core.x.walkResultsPtr() >> 2;
      threads = [];
      let torn = false;
      for (let i = 0; i < n; i++) {
        const r = base + i * R_STRIDE;
        const st = v[r + R_STATUS];
        const info = core.thread(v[r + R_THREAD]);
        const node = v[r + R_NODE];
        const firstKept = v[r + R_FIRST_KEPT], depth = v[r + R_DEPTH];
        const frames: DumpFrame[] = st === ST_OK && node >= 0 ? core.stackOf(node).map((f, j) => {
          const fr = core.frame(f);
          const frame: DumpFrame = { name: fr.name, file: fr.file, line: fr.line };
          if (localsChars && j < depth) frame.locals = orderLocals(core.locals(firstKept + j, localsChars) ?? []);
          return frame;
        }) : [];
        if (st !== ST_OK) torn = true;
        threads.push({
          ident: info.ident,
          tid: v[r + R_TID],
          name: names.name(v[r + R_THREAD]),
          active: node >= 0 && waiting.waiting(node) ? false : tasks.active(v[r + R_TID]),
          gil: v[r + R_GIL] === 1,
          ...(st !== ST_OK ? { error: STATUS_NAMES[st] } : {}),
          frames,
        });
      }
      if (!torn) break;
    }
  } catch (e) {
    // a trap of the core is a bug: one INTERNAL line, never a stack trace (nor a "torn stack")
    throw isCoreTrap(e) ? coreTrapError(e, `reading the stacks of process ${target.info.pid}`) : e;
  } finally {
    tasks.close();
  }
  const i: TargetInfo = target.info;
  return { pid: i.pid, command: i.command, python: i.version, binary: i.binary, tableSource: i.tableSource, threads };
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
      // a thread state not bound to an OS thread yet has neither id: said so, never "ident 0x0"
      const id = t.ident > 0 ? `ident 0x${t.ident.toString(16)}` : "starting (no thread id yet)";
      out.push(`Thread ${t.tid || "?"} (${flags}): ${name}${id}${t.error ? ` [${escapeText(t.error)}]` : ""}`);
      for (const f of t.frames) {
        out.push(`    ${escapeText(f.name)} (${escapeText(f.file)}:${f.line})`);
        const locals = f.locals ?? [];
        for (const [title, arg] of [["arguments", true], ["locals", false]] as const) {
          const some = locals.filter((l) => l.arg === arg);
          if (some.length) out.push(`      ${title}:`);
          for (const l of some) out.push(`        ${escapeText(l.name)} = ${escapeText(l.value)}`);
        }
      }
    }
  };
  one(d);
  for (const c of d.subprocesses ?? []) {
    out.push("");
    one(c, c.ppid);
  }
  return out.join("\n") + "\n";
}
