// Chrome's Trace Event Format, for Perfetto (ui.perfetto.dev) and chrome://tracing: per thread, one
// complete ("X") event for each stretch of time a frame stayed on that thread's stack across
// consecutive samples, plus process/thread names as metadata ("M") events.
// Must not know: the core, the reader, or any CPython layout; it reads only a Profile.
// Source of truth: "Trace Event Format" (Google, the JSON Object Format with traceEvents; phases
// X, M; ts/dur in microseconds). Events are emitted sorted by (pid, tid, ts, longer first,
// shallower first) so that every event lies inside its parent even for readers that nest by
// file order on equal timestamps.

import type { Profile } from "../profile.js";
import { threadLabel, codeOrigin } from "./common.js";

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

export function renderChrometrace(profile: Profile): string {
  const nNodes = profile.nodeParent.length;
  const pid = profile.meta.pid > 0 ? profile.meta.pid : 1;
  const tidOf = (t: number): number => {
    const th = profile.threads[t];
    return th && th.tid > 0 ? th.tid : 1_000_000 + t; // no OS tid known: a stable stand-in
  };

  // per trie node: its depth, computed once (parents may be numbered after children in a
  // hand-built profile, so walk up rather than assume an order)
  const depth = new Int32Array(nNodes).fill(-1);
  const depthOf = (node: number): number => {
    const chain: number[] = [];
    let n = node;
    for (let guard = 0; n >= 0 && n < nNodes && depth[n] < 0 && guard <= nNodes; guard++) {
      chain.push(n);
      n = profile.nodeParent[n];
    }
    let d = n >= 0 && n < nNodes ? depth[n] : -1;
    for (let i = chain.length - 1; i >= 0; i--) depth[chain[i]] = ++d;
    return depth[node];
  };
  const pathOf = (node: number): number[] => {
    const d = depthOf(node);
    const path = new Array<number>(d + 1);
    for (let n = node, i = d; i >= 0 && n >= 0; i--, n = profile.nodeParent[n]) path[i] = n;
    return path;
  };

  const events: { ev: TraceEvent; d: number }[] = [];
  const frameEvent = (node: number, t: number, start: number, end: number, d: number): void => {
    const f = profile.frames[profile.nodeFrame[node]];
    const ev: TraceEvent = {
      name: f ? f.name : `frame #${profile.nodeFrame[node]}`,
      ph: "X",
      pid,
      tid: tidOf(t),
      ts: us(start),
      dur: Math.max(0, Math.round((us(end) - us(start)) * 1000) / 1000),
      cat: f ? codeOrigin(f.file, f.kind) : "user",
    };
    if (f && f.kind !== "thread" && f.kind !== "process") ev.args = f.line > 0 ? { file: f.file, line: f.line } : { file: f.file };
    events.push({ ev, d });
  };

  // walk each thread's samples in time order, keeping the stack that is open
  interface Open { path: number[]; starts: number[]; end: number }
  const open = new Map<number, Open>();
  const closeFrom = (t: number, o: Open, keep: number, at: number): void => {
    for (let i = o.path.length - 1; i >= keep; i--) frameEvent(o.path[i], t, o.starts[i], at, i);
    o.path.length = keep;
    o.starts.length = keep;
  };
  const seenThreads = new Set<number>();
  for (let i = 0; i < profile.sampleNode.length; i++) {
    const t = profile.sampleThread[i];
    const node = profile.sampleNode[i];
    const end = profile.sampleTime[i];
    const w = profile.sampleWeight[i] > 0 ? profile.sampleWeight[i] : 0;
    const start = end - w; // a sample stands for the interval since the previous tick
    let o = open.get(t);
    if (!o) open.set(t, (o = { path: [], starts: [], end: start }));
    if (node < 0 || node >= nNodes) { closeFrom(t, o, 0, o.end); continue; } // no Python stack
    seenThreads.add(t);
    if (start > o.end + CONTIGUOUS_EPS) closeFrom(t, o, 0, o.end); // a gap: the thread was not sampled
    const path = pathOf(node);
    let same = 0;
    while (same < o.path.length && same < path.length && o.path[same] === path[same]) same++;
    closeFrom(t, o, same, Math.max(start, o.end));
    for (let k = same; k < path.length; k++) {
      o.path.push(path[k]);
      o.starts.push(Math.max(start, o.end));
    }
    o.end = Math.max(end, o.end);
  }
  for (const [t, o] of open) closeFrom(t, o, 0, o.end);

  events.sort((a, b) =>
    a.ev.tid - b.ev.tid || (a.ev.ts as number) - (b.ev.ts as number) || (b.ev.dur as number) - (a.ev.dur as number) || a.d - b.d);

  const metaEvents: TraceEvent[] = [
    { name: "process_name", ph: "M", pid, tid: 0, args: { name: profile.meta.target || `pid ${pid}` } },
  ];
  const threadIdx = [...new Set([...profile.threads.keys(), ...seenThreads])].sort((a, b) => a - b);
  for (const t of threadIdx) {
    metaEvents.push({ name: "thread_name", ph: "M", pid, tid: tidOf(t), args: { name: threadLabel(profile, t) } });
    metaEvents.push({ name: "thread_sort_index", ph: "M", pid, tid: tidOf(t), args: { sort_index: t } });
  }

  const m = profile.meta;
  const doc = {
    traceEvents: [...metaEvents, ...events.map((e) => e.ev)],
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
  return JSON.stringify(doc);
}
