// speedscope JSON: shared frames plus one "sampled" profile per thread, for https://speedscope.app.
// Must not know: the core, the reader, or any CPython layout; it reads only a Profile.
// Source of truth: speedscope's file-format-schema.json (node_modules/speedscope/dist/release/),
// i.e. FileFormat.File / FileFormat.SampledProfile in speedscope's src/lib/file-format-spec.ts.

import type { Profile } from "../profile/profile.js";
import { displayProfile, listedThreads, threadLabel } from "./common.js";
import { stackPaths } from "../profile/paths.js";

interface SpeedscopeFrame {
  name: string;
  file?: string;
  line?: number;
}

interface SampledProfile {
  type: "sampled";
  name: string;
  unit: "seconds";
  startValue: number;
  endValue: number;
  samples: number[][];
  weights: number[];
}

export function renderSpeedscope(raw: Profile): string {
  const profile = displayProfile(raw);
  const nNodes = profile.nodeParent.length;

  const frames: SpeedscopeFrame[] = profile.frames.map((f) => {
    const out: SpeedscopeFrame = { name: f.name };
    if (f.kind !== "thread" && f.kind !== "process" && f.kind !== "task") {
      if (f.file) out.file = f.file;
      if (f.line > 0) out.line = f.line;
    }
    return out;
  });

  // stack (frame indices, root first) per sampled trie node, made once
  const paths = stackPaths(profile);
  const stacks: (number[] | undefined)[] = new Array(nNodes);
  const stackFor = (node: number): number[] => (stacks[node] ??= paths.framesOf(node));

  // one profile per listed thread (common.ts listedThreads), in thread order
  const byThread = new Map<number, SampledProfile>();
  const profileFor = (t: number): SampledProfile => {
    let p = byThread.get(t);
    if (!p) {
      p = { type: "sampled", name: threadLabel(profile, t), unit: "seconds", startValue: 0, endValue: 0, samples: [], weights: [] };
      byThread.set(t, p);
    }
    return p;
  };
  for (const t of listedThreads(profile)) profileFor(t);

  for (let i = 0; i < profile.sampleNode.length; i++) {
    const node = profile.sampleNode[i];
    if (node < 0 || node >= nNodes) continue; // no Python stack in this sample
    const p = profileFor(profile.sampleThread[i]);
    const w = profile.sampleWeight[i];
    p.samples.push(stackFor(node));
    p.weights.push(w);
    p.endValue += w; // startValue 0, endValue = sum of weights: the span the weights cover
  }

  const profiles = [...byThread.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
  // open on the busiest thread (most sampled time; the first on a tie), not on an idle helper
  let active = 0;
  for (let i = 1; i < profiles.length; i++) if (profiles[i].endValue > profiles[active].endValue + 1e-12) active = i;
  const file = {
    $schema: "https://www.speedscope.app/file-format-schema.json",
    shared: { frames },
    profiles,
    name: profile.meta.target,
    activeProfileIndex: active,
    exporter: "wspy",
  };
  return JSON.stringify(file);
}
