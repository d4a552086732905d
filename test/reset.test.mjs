// The core's tables reset: a long run keeps the memory of one window. Against a real Python
// process whose ~20 threads run changing, varied stacks (fixtures/varied_threads.py), the core is
// driven for over 1,000,000 thread samples with a reset every window (the three depths in turn:
// samples, stacks, all): the WASM memory and the process RSS after the first resets do not grow
// to the end, each window's lifted profile has exactly the samples committed in it, and frames
// and thread names stay right after hundreds of resets (a stale id would name a frame wrongly).
// Then the sampler with `segmentSec`: segments follow each other, and their samples add up to
// what was sampled.
import t from "tap";
import v8 from "node:v8";
import vm from "node:vm";
import { findByLabel, findPythons } from "./helpers/pythons.mjs";
import { startFixture, FIXTURE_LIFETIME } from "./helpers/run.mjs";
import { Target } from "../build/host/target/attach.js";
import { Sampler } from "../build/host/sampling/sampler.js";
import { R_STATUS, R_NODE, R_KEEP, ST_OK } from "../build/host/core/core.js";

const python = findByLabel("pyenv 3.12") ?? findPythons().find((p) => !p.version.startsWith("2.")) ?? null;
const THREADS = 20;
const N = 40;
const GENERATED = "varied_generated.py";

/** What is wrong with a window's frames (empty: each is named as the fixture defines it). */
function misnamed(profile) {
  const bad = [];
  for (const f of profile.frames) {
    const m = /^f(\d+)$/.exec(f.name);
    if (m) {
      const i = Number(m[1]);
      const first = 1 + 6 * i;
      if (i >= N || f.file !== GENERATED || f.firstLine !== first || f.line < first || f.line > first + 4) bad.push(`${f.name} (${f.file}:${f.line}, first line ${f.firstLine})`);
    } else if (f.name === "spin" || f.name === "worker") {
      if (!f.file.endsWith("varied_threads.py")) bad.push(`${f.name} (${f.file}:${f.line})`);
    } else if (f.file === GENERATED) {
      bad.push(`${f.name} (${f.file}:${f.line})`);
    }
  }
  return bad;
}

const meta = { target: "varied_threads.py", pid: 0, pythonVersion: "", rate: 0, durationSec: 1, samples: 0, errors: {}, startedAt: "" };
const mb = (bytes) => (bytes / 2 ** 20).toFixed(1);
// a full collection before each RSS reading: what is measured is what is kept, not garbage the
// collector has not come to yet (the lifted windows are garbage once checked)
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");

t.test("memory stays flat over 1,000,000 thread samples across resets", { skip: python ? false : "no Python 3 found" }, async (t) => {
  const fx = await startFixture(python.path, "varied_threads.py", [THREADS, FIXTURE_LIFETIME]);
  t.teardown(() => fx.kill());
  const target = await Target.attach(fx.pid, { wantGil: true });
  t.teardown(() => target.close());
  const core = target.core;
  const x = core.x;
  const stride = x.RESULT_SIZE.value >> 2;
  const DEPTHS = ["samples", "stacks", "all"];
  /** walks per window: ~40,000 thread samples */
  const WINDOW = 2000;
  const WARM_WINDOWS = 6;
  const TOTAL = 1_000_000;
  let threadSamples = 0, walks = 0, windows = 0, committed = 0, failedWalks = 0;
  let committedTotal = 0, liftedTotal = 0;
  const countMismatch = [];
  const misnamedFrames = new Set();
  let namedWindows = 0, unnamedWindows = 0, resetsAll = 0;
  let wasmWarm = 0, rssWarm = 0, wasmPeak = 0, rssPeak = 0;
  while (threadSamples < TOTAL) {
    const n = x.walkSample();
    if (n < 0) {
      failedWalks++;
      t.ok(failedWalks < 1000, "walks mostly succeed");
      if (failedWalks >= 1000) return;
      continue;
    }
    const v = core.i32();
    const base = x.walkResultsPtr() >> 2;
    for (let i = 0; i < n; i++) {
      const r = base + i * stride;
      v[r + R_KEEP] = v[r + R_STATUS] === ST_OK && v[r + R_NODE] >= 0 ? 1 : 0;
    }
    const c = x.walkCommit(walks, 0.001);
    if (c > 0) committed += c;
    core.refreshThreadNamesIfNew(); // as the sampler does: names of threads met anew (after an "all" reset)
    threadSamples += n;
    walks++;
    if (walks % WINDOW !== 0) continue;
    const depth = DEPTHS[windows % DEPTHS.length];
    const profile = core.takeWindow({ ...meta, samples: committed }, { depth });
    if (depth === "all") resetsAll++;
    if (profile.sampleNode.length !== committed) countMismatch.push(`window ${windows}: ${profile.sampleNode.length} lifted, ${committed} committed`);
    committedTotal += committed;
    liftedTotal += profile.sampleNode.length;
    committed = 0;
    for (const b of misnamed(profile)) misnamedFrames.add(b);
    // the workers' names (Python's, read again after each "all" reset)
    const named = profile.threads.filter((th) => /^varied-\d+$/.test(th.name)).length;
    if (named >= THREADS - 2) namedWindows++;
    else unnamedWindows++;
    windows++;
    gc();
    const wasm = x.memory.buffer.byteLength, rss = process.memoryUsage().rss;
    if (windows === WARM_WINDOWS) { wasmWarm = wasm; rssWarm = rss; }
    if (windows > WARM_WINDOWS) { wasmPeak = Math.max(wasmPeak, wasm); rssPeak = Math.max(rssPeak, rss); }
  }
  t.ok(threadSamples >= TOTAL, `${threadSamples} thread samples in ${walks} walks, ${windows} windows (${resetsAll} resets of everything)`);
  t.ok(windows > WARM_WINDOWS + 6, "many windows after the first few");
  t.same(countMismatch, [], "each window's profile has exactly the samples committed in it");
  t.equal(liftedTotal, committedTotal, `lifted samples add up to the committed ones (${committedTotal})`);
  t.ok(committedTotal > TOTAL * 0.5, "most thread samples were kept");
  t.same([...misnamedFrames], [], "every frame is named as the fixture defines it, after every reset");
  t.ok(namedWindows >= windows - 1, `worker threads carry their Python names in the windows (${namedWindows} of ${windows}; ${unnamedWindows} without)`);
  // a run without resets would grow by 24 bytes a sample (24 MB here) and the trie on top
  t.ok(wasmPeak - wasmWarm <= 1 << 20, `WASM memory after ${WARM_WINDOWS} windows: ${mb(wasmWarm)} MB, at most ${mb(wasmPeak)} MB to the end`);
  t.ok(rssPeak - rssWarm <= 16 << 20, `RSS after ${WARM_WINDOWS} windows: ${mb(rssWarm)} MB, at most ${mb(rssPeak)} MB to the end`);
});

t.test("the sampler closes segments that add up to what it sampled", { skip: python ? false : "no Python 3 found" }, async (t) => {
  const fx = await startFixture(python.path, "varied_threads.py", [THREADS, FIXTURE_LIFETIME]);
  t.teardown(() => fx.kill());
  const ac = new AbortController();
  const segments = [];
  const WANT = 8;
  const sampler = await Sampler.start({ pid: fx.pid, rate: 200, idle: true, segmentSec: 0.5, signal: ac.signal, handleSignals: false }, {
    onSegment: (s) => {
      segments.push(s);
      if (segments.length >= WANT) ac.abort();
    },
  });
  try {
    await sampler.run();
  } finally {
    sampler.close();
  }
  t.ok(segments.length >= WANT, `${segments.length} segments`);
  t.equal(segments.reduce((a, s) => a + s.samples, 0), sampler.samples, `the segments' samples add up to the sampler's (${sampler.samples})`);
  t.ok(sampler.samples > 0, "samples were kept");
  const bad = [];
  let prevUntil = 0;
  segments.forEach((s, k) => {
    if (s.index !== k) bad.push(`segment ${k} has index ${s.index}`);
    if (s.fromSec !== prevUntil) bad.push(`segment ${k} starts at ${s.fromSec}, the previous ended at ${prevUntil}`);
    prevUntil = s.untilSec;
    const lifted = s.parts.reduce((a, p) => a + p.profile.sampleNode.length, 0);
    if (lifted !== s.samples) bad.push(`segment ${k}: ${lifted} samples lifted, ${s.samples} kept`);
    for (const p of s.parts) {
      if (p.profile.meta.samples !== p.profile.sampleNode.length) bad.push(`segment ${k}: meta says ${p.profile.meta.samples}`);
      for (const time of p.profile.sampleTime) if (time < s.fromSec - 1e-6 || time > s.untilSec + 1e-6) { bad.push(`segment ${k}: a sample at ${time} s`); break; }
      for (const m of misnamed(p.profile)) bad.push(`segment ${k}: ${m}`);
    }
  });
  t.same(bad, [], "segments follow each other, each with its own samples, frames named right");
});

t.test("top folds each window into its sums and resets the core's window", { skip: python ? false : "no Python 3 found" }, async (t) => {
  const { TopModel } = await import("../build/host/commands/top.js");
  const fx = await startFixture(python.path, "varied_threads.py", [THREADS, FIXTURE_LIFETIME]);
  t.teardown(() => fx.kill());
  const ac = new AbortController();
  let model = null;
  const early = [];
  const sampler = await Sampler.start({ pid: fx.pid, rate: 200, idle: true, alwaysClassify: true, signal: ac.signal, handleSignals: false }, {
    onAttach: (p) => (model ? model.attach(p) : early.push(p)),
    onSample: (p, _n, time, weight) => model.add(p, time, weight),
    onRetire: (p) => model.retire(p),
  });
  model = new TopModel(sampler, false, false);
  for (const p of early) model.attach(p);
  const WANT = 10;
  const bad = [];
  let rolls = 0, lastSamples = sampler.samples, windowSamples = 0;
  const timer = setInterval(() => {
    model.roll(Date.now());
    const kept = sampler.samples - lastSamples;
    lastSamples = sampler.samples;
    for (const p of sampler.processes) if (p.core.x.sampleCount() !== 0) bad.push(`roll ${rolls}: ${p.core.x.sampleCount()} samples left in the core`);
    // each kept sample has one innermost function: the %Own column adds up to the window's samples
    for (const byFunction of [false, true]) {
      model.setFunctionMode(byFunction);
      const own = model.rows().reduce((a, r) => a + (r.ownPct * model.lastWindowTicks) / 100, 0);
      if (rolls > 0 && Math.abs(own - kept) > 1e-6 * Math.max(1, kept)) bad.push(`roll ${rolls} (${byFunction ? "functions" : "lines"}): %Own adds up to ${own}, ${kept} samples kept`);
    }
    windowSamples += rolls > 0 ? kept : 0;
    if (++rolls > WANT) ac.abort();
  }, 300);
  try {
    await sampler.run();
  } finally {
    clearInterval(timer);
    sampler.close();
  }
  t.ok(rolls > WANT, `${rolls} windows`);
  t.ok(windowSamples > 0, `${windowSamples} samples in them`);
  t.same(bad, [], "after each refresh the core's window is empty and the window's %Own adds up to its samples");
  const rows = model.rows();
  t.ok(rows.some((r) => /^f\d+ \(varied_generated\.py\)$/.test(r.label)), "the generated functions are among the rows by function");
});
