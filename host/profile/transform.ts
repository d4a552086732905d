// Profile → Profile transforms applied at render time: a root frame per thread (`--threads`), a
// root frame per process when the profiles of several processes are merged (`--subprocesses`),
// one frame per function (`--function`), no line numbers (`--nolineno`), and short file names
// (the default; `--full-filenames` keeps them whole), each shortened frame carrying the origin
// (your code / standard library / third-party) its whole path showed.
// Must not know: the core, the reader, the terminal, or any CPython layout; it reads and writes
// only the Profile shape. Where file names are shortened against is decided by the caller.
// Source of truth: host/profile/profile.ts (the Profile shape); py-spy's short file names (relative to
// the interpreter's library folders and site-/dist-packages, and to the target's directory).

import type { Profile, ProfileFrame, ProfileMeta, ProfileThread } from "./profile.js";
import { threadId, frameOrigin } from "./profile.js";
import { pathFold } from "./paths.js";

/** Interns (parent, frame) pairs into a new stack trie. */
class TrieBuilder {
  parent: number[] = [];
  frame: number[] = [];
  private index = new Map<number, number>();
  constructor(private frameCount: number) {}
  node(parent: number, frame: number): number {
    const key = (parent + 1) * (this.frameCount + 1) + frame;
    let n = this.index.get(key);
    if (n === undefined) {
      n = this.parent.length;
      this.parent.push(parent);
      this.frame.push(frame);
      this.index.set(key, n);
    }
    return n;
  }
}

/**
 * The general rebuild: every old frame is mapped to a new one (frameMap, merging allowed), and
 * every sample's stack is put under the root frames of its thread (threadRoots[t], outermost
 * first, may be empty). Samples keep their order, times, weights and threads.
 */
function rebuild(p: Profile, frames: ProfileFrame[], frameMap: Int32Array, threadRoots: number[][] | null): Profile {
  const trie = new TrieBuilder(frames.length);
  const nOld = p.nodeParent.length;
  // old node -> new node, per prefix (thread with roots), once per node
  const memo = new Map<number, (node: number) => number>();
  const prefixNode = (t: number): number => {
    let n = -1;
    if (threadRoots && threadRoots[t]) for (const f of threadRoots[t]) n = trie.node(n, f);
    return n;
  };
  const mapperOf = (prefix: number): ((node: number) => number) => {
    let m = memo.get(prefix);
    if (!m) memo.set(prefix, (m = pathFold(p.nodeParent, prefix, (parent, node) => trie.node(parent, frameMap[p.nodeFrame[node]]))));
    return m;
  };
  const nSamples = p.sampleNode.length;
  const sampleNode = new Int32Array(nSamples);
  const rootOfThread = new Map<number, number>();
  for (let i = 0; i < nSamples; i++) {
    const node = p.sampleNode[i];
    const t = p.sampleThread[i];
    let root = -1;
    if (threadRoots) {
      let r = rootOfThread.get(t);
      if (r === undefined) rootOfThread.set(t, (r = prefixNode(t)));
      root = r;
    }
    if (node < 0 || node >= nOld) {
      sampleNode[i] = node < 0 ? -1 : node;
      continue;
    }
    sampleNode[i] = mapperOf(root)(node);
  }
  return {
    ...p,
    frames,
    nodeParent: Int32Array.from(trie.parent),
    nodeFrame: Int32Array.from(trie.frame),
    sampleNode,
    sampleTime: p.sampleTime.slice(),
    sampleThread: p.sampleThread.slice(),
    sampleWeight: p.sampleWeight.slice(),
    threads: p.threads.slice(),
    meta: { ...p.meta },
  };
}

const identity = (n: number): Int32Array => {
  const m = new Int32Array(n);
  for (let i = 0; i < n; i++) m[i] = i;
  return m;
};

/** The label of a thread root frame: `thread NAME (TID)`. */
export function threadRootName(t: ProfileThread | undefined, index: number): string {
  if (!t) return `thread #${index}`;
  const id = threadId(t);
  return t.name ? `thread ${t.name} (${id})` : `thread (${id})`;
}

/** Every sample's stack under a root frame for its thread: `thread NAME (TID)` (kind "thread"). */
export function withThreadRoots(p: Profile): Profile {
  const frames = p.frames.slice();
  const roots: number[][] = [];
  const used = new Set<number>();
  for (let i = 0; i < p.sampleThread.length; i++) used.add(p.sampleThread[i]);
  for (const t of [...used].sort((a, b) => a - b)) {
    roots[t] = [frames.length];
    frames.push({ name: threadRootName(p.threads[t], t), file: "", line: 0, kind: "thread" });
  }
  return rebuild(p, frames, identity(p.frames.length), roots);
}

export interface ProcessProfile {
  pid: number;
  /** the process's command line, for its root frame */
  command: string[];
  profile: Profile;
}

/** The label of a process root frame: `process PID: "command line"`. */
export function processRootName(pid: number, command: string[]): string {
  return `process ${pid}: ${JSON.stringify(command.join(" "))}`;
}

/**
 * One profile from several processes' (each from its own core): frames, nodes and threads are
 * renumbered, samples merged in time order, and every stack put under its process's root frame
 * `process PID: "command"` (kind "process"). meta describes the whole recording.
 */
export function mergeProcesses(list: ProcessProfile[], meta: ProfileMeta): Profile {
  const frames: ProfileFrame[] = [];
  const nodeParent: number[] = [];
  const nodeFrame: number[] = [];
  const threads: ProfileThread[] = [];
  const threadRoots: number[][] = [];
  let nSamples = 0;
  for (const pp of list) nSamples += pp.profile.sampleNode.length;
  // (time, process, sample) merged by time; ties keep process order
  const order: { time: number; proc: number; i: number }[] = [];
  const frameBase: number[] = [], nodeBase: number[] = [], threadBase: number[] = [];
  list.forEach((pp, k) => {
    const p = pp.profile;
    frameBase.push(frames.length);
    nodeBase.push(nodeParent.length);
    threadBase.push(threads.length);
    for (const f of p.frames) frames.push(f);
    for (let n = 0; n < p.nodeParent.length; n++) {
      nodeParent.push(p.nodeParent[n] < 0 ? -1 : p.nodeParent[n] + nodeBase[k]);
      nodeFrame.push(p.nodeFrame[n] + frameBase[k]);
    }
    for (const t of p.threads) threads.push(t);
    for (let i = 0; i < p.sampleNode.length; i++) order.push({ time: p.sampleTime[i], proc: k, i });
  });
  list.forEach((pp, k) => {
    const root = frames.length;
    frames.push({ name: processRootName(pp.pid, pp.command), file: "", line: 0, kind: "process" });
    for (let t = 0; t < pp.profile.threads.length; t++) threadRoots[threadBase[k] + t] = [root];
    // samples of threads the profile's table does not list still get their process root
    for (let i = 0; i < pp.profile.sampleThread.length; i++) {
      const t = pp.profile.sampleThread[i] + threadBase[k];
      if (!threadRoots[t]) threadRoots[t] = [root];
    }
  });
  order.sort((a, b) => a.time - b.time || a.proc - b.proc || a.i - b.i);
  const sampleTime = new Float64Array(nSamples);
  const sampleWeight = new Float64Array(nSamples);
  const sampleThread = new Int32Array(nSamples);
  const sampleNode = new Int32Array(nSamples);
  order.forEach((o, j) => {
    const p = list[o.proc].profile;
    sampleTime[j] = p.sampleTime[o.i];
    sampleWeight[j] = p.sampleWeight[o.i];
    sampleThread[j] = p.sampleThread[o.i] + threadBase[o.proc];
    const node = p.sampleNode[o.i];
    sampleNode[j] = node < 0 ? -1 : node + nodeBase[o.proc];
  });
  const merged: Profile = {
    frames: frames.slice(0, frames.length), // roots included; rebuild keeps them
    nodeParent: Int32Array.from(nodeParent),
    nodeFrame: Int32Array.from(nodeFrame),
    sampleTime, sampleThread, sampleNode, sampleWeight,
    threads,
    meta,
  };
  return rebuild(merged, frames, identity(frames.length), threadRoots);
}

export interface AggregateOptions {
  /** one frame per function (same name and file): the line becomes the function's first line */
  function?: boolean;
  /** line numbers dropped (0): frames differing only by line merge */
  nolineno?: boolean;
  /** file name → the name to show (e.g. a shortener); frames that become equal merge */
  file?: (file: string) => string;
}

/**
 * Merges frames as asked: per function (`--function`, the line shown is the function's first
 * line when the core knows it, else the lowest line seen), without lines (`--nolineno`), with
 * file names mapped (short names). Synthetic frames (thread, process roots) are kept as they are.
 */
export function aggregateFrames(p: Profile, opts: AggregateOptions): Profile {
  if (!opts.function && !opts.nolineno && !opts.file) return p;
  const frames: ProfileFrame[] = [];
  const index = new Map<string, number>();
  const frameMap = new Int32Array(p.frames.length);
  const fileOf = new Map<string, string>();
  const mapFile = (f: string): string => {
    if (!opts.file) return f;
    let s = fileOf.get(f);
    if (s === undefined) fileOf.set(f, (s = opts.file(f)));
    return s;
  };
  // lowest line per function, for --function when the core gave no first line
  const lowest = new Map<string, number>();
  if (opts.function) {
    for (const f of p.frames) {
      if (f.kind === "thread" || f.kind === "process") continue;
      const key = `${f.name}\u0000${f.file}`;
      const line = f.firstLine && f.firstLine > 0 ? f.firstLine : f.line;
      const prev = lowest.get(key);
      if (line > 0 && (prev === undefined || line < prev)) lowest.set(key, line);
    }
  }
  p.frames.forEach((f, i) => {
    let nf: ProfileFrame;
    if (f.kind === "thread" || f.kind === "process") {
      nf = f;
    } else {
      let line = f.line;
      if (opts.function) line = lowest.get(`${f.name}\u0000${f.file}`) ?? 0;
      if (opts.nolineno) line = 0;
      nf = { ...f, file: mapFile(f.file), line };
      // whose code it is comes from the whole path: `threading.py` alone would read as yours
      if (opts.file) {
        const o = frameOrigin(f);
        if (o !== "synthetic") nf.origin = o;
      }
    }
    // the origin is part of the identity: a shortened `json/__init__.py` of yours and the
    // standard library's stay two frames
    const key = `${nf.kind ?? "python"}\u0000${nf.origin ?? ""}\u0000${nf.name}\u0000${nf.file}\u0000${nf.line}`;
    let id = index.get(key);
    if (id === undefined) {
      id = frames.length;
      frames.push(nf);
      index.set(key, id);
    }
    frameMap[i] = id;
  });
  return rebuild(p, frames, frameMap, null);
}

/**
 * A shortener for file names, in py-spy's manner: a path inside a `site-packages` or
 * `dist-packages` folder, or inside the interpreter's library folder (`…/lib/pythonX.Y/`),
 * becomes relative to it; a path under one of `dirs` (the target's current directory) becomes
 * relative to that. Anything else is kept whole.
 */
export function fileShortener(dirs: string[]): (file: string) => string {
  const prefixes = dirs.filter((d) => d && d.startsWith("/")).map((d) => (d.endsWith("/") ? d : d + "/"));
  return (file: string): string => {
    if (!file.startsWith("/")) return file;
    const pk = Math.max(file.lastIndexOf("/site-packages/"), file.lastIndexOf("/dist-packages/"));
    if (pk >= 0) return file.slice(pk + "/site-packages/".length);
    const m = /\/lib\/python\d+(?:\.\d+)?[a-z]*\//.exec(file);
    if (m) return file.slice(m.index + m[0].length);
    for (const d of prefixes) if (file.startsWith(d) && file.length > d.length) return file.slice(d.length);
    return file;
  };
}
