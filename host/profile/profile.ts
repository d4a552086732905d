// A profile as every renderer sees it: interned frames, a stack trie, and the sample sequence;
// and what a frame or a thread is as the user reads it: its label, a thread's id, whose code a
// frame runs (your code, the standard library, third-party packages).
// Must not know: the core, the reader, the terminal or any CPython layout. Renderers take a
// Profile and return text or bytes.
// Source of truth: the core's aggregate tables (assembly/aggregate/), lifted by host/core/core.ts;
// CPython's install layout (PREFIX/lib/pythonX.Y/, site-packages; Debian's dist-packages).

export interface ProfileFrame {
  /** function name as the user should read it: qualified name where the version has one */
  name: string;
  /** file path as recorded by the interpreter (co_filename) */
  file: string;
  /** line number, 0 when unknown */
  line: number;
  /** kind of frame: "python" for interpreted code; "thread" / "process" for synthetic roots; "task" an asyncio task (--async) */
  kind?: "python" | "thread" | "process" | "task" | "native";
  /** first line of the function (co_firstlineno), when known */
  firstLine?: number;
  /** whose code it is, decided from the whole file path before the name was shortened (absent:
   *  judge `file`, which is then whole; codeOrigin below) */
  origin?: "user" | "stdlib" | "thirdparty" | "native";
}

export interface ProfileThread {
  /** Python's thread id (threading.get_ident()) */
  ident: number;
  /** OS thread id (/proc/PID/task/TID), 0 when unknown */
  tid: number;
  /** display name */
  name: string;
}

export interface ProfileMeta {
  /** what was profiled: the command line, or "pid 1234" */
  target: string;
  pid: number;
  pythonVersion: string;
  /** requested rate in Hz */
  rate: number;
  /** wall-clock seconds from the first to the last sampling tick */
  durationSec: number;
  /** sampling ticks that produced at least one stack */
  samples: number;
  /** failed samples by kind ("torn read", "target gone", ...) */
  errors: Record<string, number>;
  /** ISO time the recording started */
  startedAt: string;
  /** an agent's segment: its labels (app, hostname, pid, python, wspy, --label k=v) */
  labels?: Record<string, string>;
}

export interface Profile {
  frames: ProfileFrame[];
  /** stack trie: node i's parent (-1 for a root-level node) and frame id; roots are outermost frames */
  nodeParent: Int32Array;
  nodeFrame: Int32Array;
  /** samples in time order: seconds since the recording began, thread index, leaf node id */
  sampleTime: Float64Array;
  sampleThread: Int32Array;
  sampleNode: Int32Array;
  /** weight of each sample in seconds (the sampling interval it stands for) */
  sampleWeight: Float64Array;
  threads: ProfileThread[];
  meta: ProfileMeta;
}

/** Samples per leaf node (how many samples ended exactly at each node). */
export function countByNode(profile: Profile): Float64Array {
  const counts = new Float64Array(profile.nodeParent.length);
  for (let i = 0; i < profile.sampleNode.length; i++) {
    const n = profile.sampleNode[i];
    if (n >= 0) counts[n] += 1;
  }
  return counts;
}

/** A frame as one line of text: `name (file:line)`. */
export function frameLabel(frame: ProfileFrame, withLine = true): string {
  if (frame.kind === "thread" || frame.kind === "process" || frame.kind === "task") return frame.name;
  return withLine && frame.line > 0 ? `${frame.name} (${frame.file}:${frame.line})` : `${frame.name} (${frame.file})`;
}

/**
 * What identifies a thread in a label: its OS thread id, else its Python ident (hex, as
 * threading.get_ident() and `wspy dump` show it), else nothing known yet: "starting" (a thread
 * state the interpreter had not bound to an OS thread when it was read runs no Python code, so
 * it has no samples; renderers leave such threads out unless a sample names them).
 */
export function threadId(t: ProfileThread): string {
  return t.tid > 0 ? String(t.tid) : t.ident > 0 ? `ident 0x${t.ident.toString(16)}` : "starting";
}

/** user = your code, stdlib, thirdparty = site-/dist-packages, native = C frames (`<built-in>`;
 *  the recorder does not walk native stacks yet), synthetic = thread/process roots. */
export type CodeOrigin = "user" | "stdlib" | "thirdparty" | "native" | "synthetic";

// `…/lib/python3.12/`, `…/lib64/python2.7/`, `…/lib/python3.13t/`: an interpreter's own library
// folder (PREFIX/lib/pythonX.Y/). A bare `/lib/python` (a user's `lib/python_utils/`) is not one.
const STDLIB_DIR = /\/lib(?:64)?\/python\d+\.\d+[a-z]*\//;
// a folder pip installs into: any site-packages (a venv's, the user site, PREFIX/lib/pythonX.Y's)
// or Debian's dist-packages (/usr/lib/python3/dist-packages)
const PACKAGES_DIR = /\/(?:site|dist)-packages\//;

/**
 * Where a frame's code comes from, judged from its FULL file path (a shortened name such as
 * `threading.py` says nothing: shorten after deciding, see frameOrigin), native by its kind:
 * third-party = inside a `site-packages` or `dist-packages` folder (checked first: those live
 * under PREFIX/lib/pythonX.Y/ too); standard library = inside PREFIX/lib/pythonX.Y/, or a frozen
 * module (`<frozen importlib._bootstrap>`); native = a native frame or `<built-in>`; else your code
 * (including `<string>`, `<stdin>`, relative paths). Patterns rather than the target's prefix: they
 * hold for every layout the recorder meets (pyenv, Debian, venvs, conda) and for a recording
 * converted on another machine, where the target's prefix is unknown.
 */
export function codeOrigin(file: string, kind?: string): CodeOrigin {
  if (kind === "thread" || kind === "process" || kind === "task") return "synthetic";
  if (kind === "native") return "native";
  const f = file.replace(/\\/g, "/").toLowerCase();
  if (f === "<built-in>" || f === "<native>") return "native";
  if (PACKAGES_DIR.test(f)) return "thirdparty";
  if (STDLIB_DIR.test(f) || f.startsWith("<frozen ")) return "stdlib";
  return "user";
}

/** A frame's origin: the one decided before its file name was shortened (host/profile/transform.ts
 *  aggregateFrames), else judged from its file name, which is then whole. */
export function frameOrigin(f: ProfileFrame): CodeOrigin {
  return f.origin ?? codeOrigin(f.file, f.kind);
}
