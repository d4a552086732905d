// A profile as every renderer sees it: interned frames, a stack trie, and the sample sequence.
// Must not know: the core, the reader, the terminal or any CPython layout. Renderers take a
// Profile and return text or bytes.
// Source of truth: the core's aggregate tables (assembly/aggregate/), lifted by host/core.ts.

export interface ProfileFrame {
  /** function name as the user should read it: qualified name where the version has one */
  name: string;
  /** file path as recorded by the interpreter (co_filename) */
  file: string;
  /** line number, 0 when unknown */
  line: number;
  /** kind of frame: "python" for interpreted code; "thread" / "process" for synthetic roots */
  kind?: "python" | "thread" | "process";
  /** first line of the function (co_firstlineno), when known */
  firstLine?: number;
  /** whose code it is, decided from the whole file path before the name was shortened (absent:
   *  judge `file`, which is then whole; host/render/common.ts codeOrigin) */
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
  if (frame.kind === "thread" || frame.kind === "process") return frame.name;
  return withLine && frame.line > 0 ? `${frame.name} (${frame.file}:${frame.line})` : `${frame.name} (${frame.file})`;
}
