// Two profiles compared (`wspy diff A B`): each one normalised by its own number of samples, so a
// longer recording does not look slower; their frames matched by what they are (name, file, and
// line unless lines are ignored), never by their ids; their stacks merged into one call tree
// holding both profiles' shares per call path; per function, the self and total shares in each;
// and whether a change is larger than sampling noise.
// Must not know: the core, the reader, files, the terminal or any output format (the renderers in
// host/render/diffsvg.ts and difftext.ts draw what this computes).
// Source of truth: host/profile/profile.ts (the Profile shape); the normal approximation of the
// difference of two binomial proportions (its standard error) for "within noise".

import type { Profile, ProfileFrame } from "./profile.js";
import { pathFold } from "./paths.js";

/** A difference within NOISE_Z standard errors of the difference of two sampled shares is noise. */
export const NOISE_Z = 3;

export interface DiffSide {
  /** samples with a stack: what the shares are of */
  samples: number;
}

/** One function: shares of its profile's samples (0..1), in A and in B. */
export interface FunctionChange {
  /** index into ProfileDiff.frames */
  frame: number;
  /** samples whose innermost frame is this function */
  selfA: number;
  selfB: number;
  /** samples with this function anywhere on the stack (a recursion counted once) */
  totalA: number;
  totalB: number;
}

/**
 * The merged call tree of both profiles: node 0 is the synthetic root (frame -1); children are
 * linked lists (firstChild / nextSibling), always created after their parent. Shares are of each
 * profile's own total (0..1): self = stacks ending at the node, total = the node and its callees.
 */
export interface ProfileDiff {
  /** the frames of both, once each (shown as B has them where both have one) */
  frames: ProfileFrame[];
  parent: number[];
  frame: number[];
  depth: number[];
  firstChild: number[];
  nextSibling: number[];
  selfA: Float64Array;
  selfB: Float64Array;
  totalA: Float64Array;
  totalB: Float64Array;
  /** every function with a share in A or B */
  functions: FunctionChange[];
  a: DiffSide;
  b: DiffSide;
}

export interface DiffOptions {
  /** match frames by line too (default: by function, name and file; the line shown is B's) */
  lines?: boolean;
}

/** (parent, frame id) as one exact number key: frame ids stay below 2^24, nodes below 2^29. */
const FRAME_KEY = 2 ** 24;

/**
 * Compares A (before) with B (after). Thread and process root frames are left out (thread ids
 * and pids differ from one run to the next); each profile's shares are of its own samples (with a
 * stack). Samples are counted, not weighted by their intervals, as the flame graph counts them: a
 * sampler held up for a while (a busy machine) then loses ticks, rather than giving the whole gap
 * to whatever runs at the next one.
 */
export function diffProfiles(a: Profile, b: Profile, opts: DiffOptions = {}): ProfileDiff {
  const frames: ProfileFrame[] = [];
  const frameIds = new Map<string, number>();
  const keyOf = (f: ProfileFrame): string =>
    `${f.kind ?? "python"}\u0000${f.name}\u0000${f.file}${opts.lines ? `\u0000${f.line}` : ""}`;
  const d: ProfileDiff = {
    frames, parent: [-1], frame: [-1], depth: [0], firstChild: [-1], nextSibling: [-1],
    selfA: new Float64Array(0), selfB: new Float64Array(0), totalA: new Float64Array(0), totalB: new Float64Array(0),
    functions: [], a: { samples: 0 }, b: { samples: 0 },
  };
  const childOf = new Map<number, number>();
  const child = (parent: number, fid: number): number => {
    const key = parent * FRAME_KEY + (fid >= 0 && fid < FRAME_KEY ? fid : FRAME_KEY - 1);
    let c = childOf.get(key);
    if (c === undefined || d.frame[c] !== fid) {
      c = d.frame.length;
      d.frame.push(fid);
      d.parent.push(parent);
      d.depth.push(d.depth[parent] + 1);
      d.firstChild.push(-1);
      d.nextSibling.push(d.firstChild[parent]);
      d.firstChild[parent] = c;
      childOf.set(key, c);
    }
    return c;
  };

  // B first: where both have a frame, it is shown as B has it (B's line, after an edit)
  const selfN: number[][] = [[], []];
  for (const [side, p] of [[1, b], [0, a]] as const) {
    const fmap = p.frames.map((f): number => {
      if (f.kind === "thread" || f.kind === "process") return -1;
      const k = keyOf(f);
      let id = frameIds.get(k);
      if (id === undefined) {
        id = frames.length;
        frames.push(f);
        frameIds.set(k, id);
      }
      return id;
    });
    const mapNode = pathFold(p.nodeParent, 0, (m, node) => {
      const fid = fmap[p.nodeFrame[node]] ?? -1;
      return fid < 0 ? m : child(m, fid);
    });
    const acc = selfN[side];
    let samples = 0;
    for (let i = 0; i < p.sampleNode.length; i++) {
      const node = p.sampleNode[i];
      if (node < 0 || node >= p.nodeParent.length) continue;
      const m = mapNode(node);
      acc[m] = (acc[m] ?? 0) + 1;
      samples++;
    }
    d[side === 0 ? "a" : "b"] = { samples };
  }

  const n = d.frame.length;
  d.selfA = new Float64Array(n);
  d.selfB = new Float64Array(n);
  d.totalA = new Float64Array(n);
  d.totalB = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    d.selfA[i] = d.a.samples > 0 ? (selfN[0][i] ?? 0) / d.a.samples : 0;
    d.selfB[i] = d.b.samples > 0 ? (selfN[1][i] ?? 0) / d.b.samples : 0;
  }
  // children come after their parent: a reverse sweep sums subtrees
  for (let i = n - 1; i >= 0; i--) {
    d.totalA[i] += d.selfA[i];
    d.totalB[i] += d.selfB[i];
    if (i > 0) {
      d.totalA[d.parent[i]] += d.totalA[i];
      d.totalB[d.parent[i]] += d.totalB[i];
    }
  }

  // per function: self adds up over its nodes; total over its outermost nodes only (a node with
  // the same function above it is already inside that one's total)
  const selfA = new Float64Array(frames.length), selfB = new Float64Array(frames.length);
  const totA = new Float64Array(frames.length), totB = new Float64Array(frames.length);
  const onPath = new Int32Array(frames.length);
  // iterative depth-first walk; a node is entered, then its children, then left
  const stack: number[] = [0];
  const entered = new Uint8Array(n);
  while (stack.length) {
    const m = stack[stack.length - 1];
    const f = d.frame[m];
    if (!entered[m]) {
      entered[m] = 1;
      if (f >= 0) {
        selfA[f] += d.selfA[m];
        selfB[f] += d.selfB[m];
        if (onPath[f] === 0) {
          totA[f] += d.totalA[m];
          totB[f] += d.totalB[m];
        }
        onPath[f]++;
      }
      for (let c = d.firstChild[m]; c >= 0; c = d.nextSibling[c]) stack.push(c);
    } else {
      stack.pop();
      if (f >= 0) onPath[f]--;
    }
  }
  for (let f = 0; f < frames.length; f++) {
    if (totA[f] > 0 || totB[f] > 0) d.functions.push({ frame: f, selfA: selfA[f], selfB: selfB[f], totalA: totA[f], totalB: totB[f] });
  }
  return d;
}

/**
 * Is B's share pB of a path or function within sampling noise of A's share pA? The difference
 * is noise when it is within NOISE_Z standard errors of the difference of two proportions
 * sampled with the two profiles' sample counts (sqrt(pA(1-pA)/nA + pB(1-pB)/nB)).
 */
export function withinNoise(d: Pick<ProfileDiff, "a" | "b">, pA: number, pB: number): boolean {
  const delta = pB - pA;
  if (delta === 0) return true;
  const nA = Math.max(1, d.a.samples), nB = Math.max(1, d.b.samples);
  const clamp = (p: number): number => Math.min(1, Math.max(0, p));
  const se = Math.sqrt((clamp(pA) * (1 - clamp(pA))) / nA + (clamp(pB) * (1 - clamp(pB))) / nB);
  return Math.abs(delta) <= NOISE_Z * se;
}
