// Renderer benchmark for `npm run bench` (host/bench/bench.ts calls benchRender()): a synthetic hour of
// samples at 100 Hz spread over 10,000 distinct stacks, rendered to the SVG flame graph (and, for
// the record, to every other format), reporting time and size. Never a pass/fail test.
// Must not know: the core, the reader, CPython layouts; it builds a Profile by hand.
// Source of truth: issue #5 ("an hour at 100 Hz, 10k distinct stacks render in seconds").

import { performance } from "node:perf_hooks";
import type { Profile, ProfileFrame } from "../profile/profile.js";
import { renderProfile, OUTPUT_FORMATS, type OutputFormat } from "../render/index.js";

export interface RenderBench {
  /** distinct stacks in the profile */
  stacks: number;
  /** samples in the profile */
  samples: number;
  /** milliseconds to render the SVG flame graph */
  ms: number;
  /** <rect> elements drawn (frames, merged narrow frames, legend, background) */
  rects: number;
  /** size of the SVG in bytes */
  bytes: number;
  /** milliseconds and bytes for every output format */
  formats: Record<string, { ms: number; bytes: number }>;
}

/** xorshift32: a deterministic profile on every run */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

/**
 * `stacks` distinct stacks, 3 to 40 frames deep, drawn from a tree of modules and functions with
 * shared prefixes (as real programs have), and `samples` samples over 4 threads, Zipf-like
 * (a few hot stacks, a long tail of rare ones) at 1/rate seconds apart.
 */
export function syntheticProfile(stacks = 10_000, samples = 360_000, rate = 100): Profile {
  const rand = rng(0x5eed);
  const frames: ProfileFrame[] = [];
  const frameIds = new Map<string, number>();
  const frameOf = (name: string, file: string, line: number): number => {
    const key = `${name}\u0000${file}\u0000${line}`;
    let id = frameIds.get(key);
    if (id === undefined) {
      id = frames.length;
      frames.push({ name, file, line, kind: "python" });
      frameIds.set(key, id);
    }
    return id;
  };
  const nodeParent: number[] = [];
  const nodeFrame: number[] = [];
  const children = new Map<string, number>();
  const nodeOf = (parent: number, fid: number): number => {
    const key = `${parent}:${fid}`;
    let n = children.get(key);
    if (n === undefined) {
      n = nodeParent.length;
      nodeParent.push(parent);
      nodeFrame.push(fid);
      children.set(key, n);
    }
    return n;
  };
  const files = ["/srv/app/main.py", "/srv/app/handlers.py", "/srv/app/models.py",
    "/usr/lib/python3.12/json/encoder.py", "/usr/lib/python3.12/threading.py",
    "/venv/lib/python3.12/site-packages/sqlalchemy/orm/query.py",
    "/venv/lib/python3.12/site-packages/requests/sessions.py"];
  const leaves: number[] = [];
  const seen = new Set<number>();
  let guard = 0;
  while (leaves.length < stacks && guard++ < stacks * 50) {
    const depth = 3 + Math.floor(rand() * rand() * 38);
    let node = nodeOf(-1, frameOf("<module>", files[0], 1));
    for (let d = 1; d < depth; d++) {
      // narrow choices near the root, wider ones deeper: shared prefixes, a long tail
      const width = Math.min(2 + d * 3, 60);
      const k = Math.floor(rand() * width);
      const file = files[(k + d) % files.length];
      node = nodeOf(node, frameOf(`fn_${d}_${k}`, file, 10 + k));
    }
    if (!seen.has(node)) { seen.add(node); leaves.push(node); }
  }
  const sampleNode = new Int32Array(samples);
  const sampleThread = new Int32Array(samples);
  const sampleTime = new Float64Array(samples);
  const sampleWeight = new Float64Array(samples).fill(1 / rate);
  // 4 threads sampled on each tick; each thread stays in one stack for a run of ticks (mean 4),
  // as code does; every stack at least once, then Zipf-like: index ~ n * u^3
  const current = [0, 0, 0, 0];
  const runLeft = [0, 0, 0, 0];
  for (let i = 0; i < samples; i++) {
    const t = i % 4;
    if (runLeft[t] <= 0) {
      current[t] = i < leaves.length ? leaves[i] : leaves[Math.floor(leaves.length * rand() ** 3)];
      runLeft[t] = i < leaves.length ? 1 : 1 + Math.floor(rand() * 7);
    }
    runLeft[t]--;
    sampleNode[i] = current[t];
    sampleThread[i] = t;
    sampleTime[i] = (Math.floor(i / 4) + 1) / rate;
  }
  return {
    frames,
    nodeParent: Int32Array.from(nodeParent),
    nodeFrame: Int32Array.from(nodeFrame),
    sampleTime, sampleThread, sampleNode, sampleWeight,
    threads: [0, 1, 2, 3].map((t) => ({ ident: 140_000_000_000 + t, tid: 1000 + t, name: t === 0 ? "MainThread" : `worker-${t}` })),
    meta: {
      target: "synthetic benchmark profile", pid: 1, pythonVersion: "3.12.1", rate,
      durationSec: samples / 4 / rate, samples, errors: {}, startedAt: "2024-01-01T00:00:00.000Z",
    },
  };
}

export function benchRender(): RenderBench {
  const profile = syntheticProfile();
  const formats: RenderBench["formats"] = {};
  let svg = "";
  for (const f of OUTPUT_FORMATS) {
    const t0 = performance.now();
    const out = renderProfile(profile, f as OutputFormat);
    const ms = performance.now() - t0;
    const bytes = typeof out === "string" ? Buffer.byteLength(out) : out.length;
    formats[f] = { ms: +ms.toFixed(1), bytes };
    if (f === "flamegraph") svg = out as string;
  }
  return {
    stacks: new Set(profile.sampleNode).size,
    samples: profile.sampleNode.length,
    ms: formats.flamegraph.ms,
    rects: (svg.match(/<rect\b/g) ?? []).length,
    bytes: formats.flamegraph.bytes,
    formats,
  };
}
