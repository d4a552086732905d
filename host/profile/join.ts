// Joining profiles into one: the parts of a recording made by several cores of one process, or
// the segments of an agent's history chosen for `wspy view DIR` and `wspy diff`. Frames, stack
// nodes and threads are interned once across all parts (linear in their total size, whatever the
// number of parts), each part's samples shifted to a common clock, and optionally hung under a
// root frame of its own (a "process PID" frame when parts come from several processes).
// Must not know: the core, files, renderers.
// Source of truth: host/profile/profile.ts (the Profile shape).

import type { Profile, ProfileFrame, ProfileThread } from "./profile.js";

export interface JoinPart {
  profile: Profile;
  /** seconds added to this part's sample times */
  offsetSec?: number;
  /** a frame every stack of this part is put under */
  root?: ProfileFrame;
}

const frameKey = (f: ProfileFrame): string => `${f.kind ?? "python"}\u0000${f.name}\u0000${f.file}\u0000${f.line}\u0000${f.firstLine ?? 0}`;

/** One profile holding every part's samples, in part order; meta from the first part (samples, errors and duration summed over all). */
export function joinAll(parts: JoinPart[]): Profile {
  if (parts.length === 0) throw new RangeError("joinAll: no parts");
  const frames: ProfileFrame[] = [];
  const frameIndex = new Map<string, number>();
  const internFrame = (f: ProfileFrame): number => {
    const k = frameKey(f);
    let id = frameIndex.get(k);
    if (id === undefined) { id = frames.length; frames.push(f); frameIndex.set(k, id); }
    return id;
  };
  const parents: number[] = [], nodeFrames: number[] = [];
  const nodeIndex = new Map<string, number>();
  const internNode = (parent: number, frame: number): number => {
    const k = `${parent},${frame}`;
    let id = nodeIndex.get(k);
    if (id === undefined) { id = parents.length; parents.push(parent); nodeFrames.push(frame); nodeIndex.set(k, id); }
    return id;
  };
  const threads: ProfileThread[] = [];
  const threadIndex = new Map<string, number>();
  let total = 0;
  for (const p of parts) total += p.profile.sampleNode.length;
  const sampleTime = new Float64Array(total), sampleWeight = new Float64Array(total);
  const sampleThread = new Int32Array(total), sampleNode = new Int32Array(total);
  let at = 0;
  const first = parts[0].profile.meta;
  const errors: Record<string, number> = {};
  let samples = 0, durationSec = 0;
  for (const part of parts) {
    const b = part.profile;
    const frameMap = b.frames.map(internFrame);
    const rootNode = part.root ? internNode(-1, internFrame(part.root)) : -1;
    const nodeMap = new Int32Array(b.nodeParent.length);
    for (let i = 0; i < b.nodeParent.length; i++) {
      // a node's parent comes before it (the trie is built root first)
      const parent = b.nodeParent[i] >= 0 ? nodeMap[b.nodeParent[i]] : rootNode;
      nodeMap[i] = internNode(parent, frameMap[b.nodeFrame[i]]);
    }
    const threadMap = b.threads.map((t) => {
      const k = `${t.ident}/${t.tid}`;
      let id = threadIndex.get(k);
      if (id === undefined) { id = threads.length; threads.push(t); threadIndex.set(k, id); }
      else if (!threads[id].name && t.name) threads[id] = { ...threads[id], name: t.name };
      return id;
    });
    const off = part.offsetSec ?? 0;
    for (let i = 0; i < b.sampleNode.length; i++, at++) {
      sampleTime[at] = b.sampleTime[i] + off;
      sampleWeight[at] = b.sampleWeight[i];
      const t = b.sampleThread[i];
      sampleThread[at] = t >= 0 ? threadMap[t] : t;
      const n = b.sampleNode[i];
      sampleNode[at] = n >= 0 ? nodeMap[n] : n;
    }
    samples += b.meta.samples;
    durationSec = Math.max(durationSec, off + b.meta.durationSec);
    for (const [k, v] of Object.entries(b.meta.errors)) errors[k] = (errors[k] ?? 0) + v;
  }
  return {
    frames,
    nodeParent: Int32Array.from(parents),
    nodeFrame: Int32Array.from(nodeFrames),
    sampleTime, sampleWeight, sampleThread, sampleNode,
    threads,
    meta: { ...first, samples, durationSec, errors },
  };
}
