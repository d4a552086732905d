// Chrome's Trace Event Format, for Perfetto (ui.perfetto.dev) and chrome://tracing: per thread, one
// complete ("X") event for each stretch of time a frame stayed on that thread's stack across
// consecutive samples, plus process/thread names as metadata ("M") events.
// Must not know: the core, the reader, or any CPython layout; it reads only a Profile.
// Source of truth: "Trace Event Format" (Google, the JSON Object Format with traceEvents; phases
// X, M; ts/dur in microseconds). Events are emitted grouped by thread, each thread's in the
// order its frames opened (by start time, a parent before its children), so that every event
// lies inside its parent even for readers that nest by file order on equal timestamps.

import type { Profile } from "../profile/profile.js";
import { frameOrigin } from "../profile/profile.js";
import { displayProfile, listedThreads, threadLabel } from "./common.js";
import { stackPaths } from "../profile/paths.js";

interface TraceEvent {
  name: string;
  ph: "X" | "M";
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  args?: Record<string, unknown>;
}

/** Two samples of one thread are contiguous when the later one's interval starts within this
 *  many seconds of the earlier one's end (float noise; the recorder's ticks share one clock). */
const CONTIGUOUS_EPS = 1e-6;

/** seconds -> microseconds, rounded to the nanosecond (a monotone rounding keeps nesting) */
const us = (sec: number): number => Math.round(sec * 1e9) / 1000;

/** past this many UTF-16 units the trace is returned as UTF-8 bytes (V8 strings stop near 2^29) */
const MAX_STRING_CHARS = 2 ** 28;

/** The trace as JSON text; as UTF-8 bytes when it is too long for one string. */
export function renderChrometrace(raw: Profile): string | Uint8Array {
  const profile = displayProfile(raw);
  const nNodes = profile.nodeParent.length;
  const pid = profile.meta.pid > 0 ? profile.meta.pid : 1;
  const tidOf = (t: number): number => {
    const th = profile.threads[t];
    return th && th.tid > 0 ? th.tid : 1_000_000 + t; // no OS tid known: a stable stand-in
  };

  // per trie node: its path of nodes, root first (parents may be numbered after children in a
  // hand-built profile: paths.ts walks up rather than assume an order)
  const pathOf = stackPaths(profile).nodesOf;

  // events as parallel arrays (a long recording makes millions), allocated when a frame opens so
  // that each thread's list is already in (start, parent-before-child) order: start and end in
  // µs (rounded once, monotonically, so nesting survives), and the trie node
  const evStart: number[] = [], evEnd: number[] = [], evNode: number[] = [];
  const perThread = new Map<number, number[]>();

  // walk each thread's samples in time order, keeping the stack that is open
  interface Open { path: number[]; events: number[]; end: number; list: number[] }
  const open = new Map<number, Open>();
  const closeFrom = (o: Open, keep: number, at: number): void => {
    const atUs = us(at);
    for (let i = o.path.length - 1; i >= keep; i--) evEnd[o.events[i]] = atUs;
    o.path.length = keep;
    o.events.length = keep;
  };
  const seenThreads = new Set<number>();
  for (let i = 0; i < profile.sampleNode.length; i++) {
    const t = profile.sampleThread[i];
    const node = profile.sampleNode[i];
    const end = profile.sampleTime[i];
    const w = profile.sampleWeight[i] > 0 ? profile.sampleWeight[i] : 0;
    const start = end - w; // a sample stands for the interval since the previous tick
    let o = open.get(t);
    if (!o) {
      let list = perThread.get(t);
      if (!list) perThread.set(t, (list = []));
      open.set(t, (o = { path: [], events: [], end: start, list }));
    }
    if (node < 0 || node >= nNodes) { closeFrom(o, 0, o.end); continue; } // no Python stack
    seenThreads.add(t);
    if (start > o.end + CONTIGUOUS_EPS) closeFrom(o, 0, o.end); // a gap: the thread was not sampled
    const path = pathOf(node);
    let same = 0;
    while (same < o.path.length && same < path.length && o.path[same] === path[same]) same++;
    const at = Math.max(start, o.end);
    closeFrom(o, same, at);
    const atUs = us(at);
    for (let k = same; k < path.length; k++) {
      const idx = evStart.length;
      evStart.push(atUs);
      evEnd.push(atUs);
      evNode.push(path[k]);
      o.path.push(path[k]);
      o.events.push(idx);
      o.list.push(idx);
    }
    o.end = Math.max(end, o.end);
  }
  for (const o of open.values()) closeFrom(o, 0, o.end);

  const tids = profile.threads.map((_, t) => tidOf(t));
  const tidAt = (t: number): number => tids[t] ?? tidOf(t);
  const threadOrder = [...perThread.keys()].sort((a, b) => tidAt(a) - tidAt(b) || a - b);

  // the constant part of each frame's event, serialized once per frame
  const fragments = new Map<number, string>();
  const fragmentOf = (fid: number): string => {
    let frag = fragments.get(fid);
    if (frag === undefined) {
      const f = profile.frames[fid];
      const parts: Record<string, unknown> = { name: f ? f.name : `frame #${fid}`, cat: f ? frameOrigin(f) : "user" };
      if (f && f.kind !== "thread" && f.kind !== "process" && f.kind !== "task") parts.args = f.line > 0 ? { file: f.file, line: f.line } : { file: f.file };
      frag = JSON.stringify(parts).slice(1, -1);
      fragments.set(fid, frag);
    }
    return frag;
  };

  const metaEvents: TraceEvent[] = [
    { name: "process_name", ph: "M", pid, tid: 0, args: { name: profile.meta.target || `pid ${pid}` } },
  ];
  // the listed threads (common.ts listedThreads), and any other a sample names
  const threadIdx = [...new Set([...listedThreads(profile), ...seenThreads])].sort((a, b) => a - b);
  for (const t of threadIdx) {
    metaEvents.push({ name: "thread_name", ph: "M", pid, tid: tidOf(t), args: { name: threadLabel(profile, t) } });
    metaEvents.push({ name: "thread_sort_index", ph: "M", pid, tid: tidOf(t), args: { sort_index: t } });
  }

  const m = profile.meta;
  const rest = {
    displayTimeUnit: "ms",
    otherData: {
      exporter: "wspy",
      target: m.target,
      python: m.pythonVersion,
      rate: m.rate,
      durationSec: m.durationSec,
      samples: m.samples,
      errors: m.errors,
      startedAt: m.startedAt,
    },
  };
  // {"traceEvents":[metadata..., frames...], displayTimeUnit, otherData}, the frame events written
  // one by one and joined: a very long trace goes out as bytes rather than failing on V8's
  // maximum string length
  const metaJson = JSON.stringify(metaEvents); // never empty: process_name comes first
  const chunks: string[] = [`{"traceEvents":${metaJson.slice(0, -1)}`];
  const tail = `],${JSON.stringify(rest).slice(1)}`;
  let length = chunks[0].length + tail.length;
  // events are joined in batches, so that short-lived strings die young
  let batch: string[] = [];
  const flush = (): void => {
    const c = batch.join("");
    chunks.push(c);
    length += c.length;
    batch = [];
  };
  for (const t of threadOrder) {
    const head = `,{"ph":"X","pid":${pid},"tid":${tidAt(t)},"ts":`;
    for (const i of perThread.get(t) as number[]) {
      const dur = Math.max(0, Math.round((evEnd[i] - evStart[i]) * 1000) / 1000);
      batch.push(`${head}${evStart[i]},"dur":${dur},${fragmentOf(profile.nodeFrame[evNode[i]])}}`);
      if (batch.length >= 4096) flush();
    }
  }
  flush();
  chunks.push(tail);
  if (length < MAX_STRING_CHARS) return chunks.join("");
  return new Uint8Array(Buffer.concat(chunks.map((c) => Buffer.from(c, "utf8"))));
}
