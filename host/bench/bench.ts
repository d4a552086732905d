// `npm run bench`: per-sample cost of the core on real interpreters, as counts and ratios of one
// run (never a pass/fail test). For each interpreter found and each stack shape it attaches to
// test/fixtures/bench_target.py and samples back-to-back, then reports µs per sample (median,
// p99), remote reads per sample, the sustained rate on one core, and the error rate. Part
// "native" (host/bench/native.ts): what --native costs, beside py-spy --native when one is found.
// Part "soak" (host/bench/soak.ts, only when named): the agent over an hour, RSS and CPU.
// Must not know: CPython layouts. Source of truth: issue "Performance" (what to report).

import { spawn, spawnSync, ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import { Target } from "../target/attach.js";
import { TaskAttribution } from "../sampling/tasks.js";
import { PACKAGE_ROOT, R_STATUS, R_KEEP, R_STRIDE, ST_OK } from "../core/core.js";
import { benchRender } from "./render.js";
import { CLI, benchStartup, benchRecordCost, median, StartupRow, RecordCostRow } from "./startup.js";
import { benchNative, nativeMarkdown, NativeReport } from "./native.js";
import { benchSoak, soakMarkdown } from "./soak.js";

interface Python { label: string; version: string; path: string; freeThreaded?: boolean }
interface Row {
  python: string; depth: number; threads: number; changing: boolean; samples: number;
  usPerSampleMedian: number; usPerSampleP99: number; readsPerSample: number;
  samplesPerSecond: number; errorRate: number;
}

const SHAPES: { depth: number; threads: number; changing?: boolean }[] = [
  { depth: 10, threads: 1 }, { depth: 50, threads: 1 }, { depth: 500, threads: 1 },
  { depth: 50, threads: 10 }, { depth: 50, threads: 100 },
  // recursion down to 500 and back without pause: torn reads at the highest rate
  { depth: 500, threads: 1, changing: true },
  // recursion between 0 and 20 frames without pause (issue #11's recursive.py): frames freed,
  // reused and re-pushed while they are read; the error rate counts the stacks not proven
  { depth: 20, threads: 1, changing: true },
];
/** WSPY_BENCH_SHAPES=10x1,20x1~,paced: the shapes to run, DEPTHxTHREADS ("~": a changing stack;
 * "paced": the changing 500-deep stack at 10 kHz), default all */
const PICKED = process.env.WSPY_BENCH_SHAPES?.split(",");
const shapeName = (s: { depth: number; threads: number; changing?: boolean }): string => `${s.depth}x${s.threads}${s.changing ? "~" : ""}`;
const SAMPLES = Number(process.env.WSPY_BENCH_SAMPLES ?? 5000);
const WANT = (process.env.WSPY_BENCH_PYTHONS ?? "3.11,3.12,3.13,3.14").split(",");
/** WSPY_BENCH_ONLY=samples,freethreaded,async,cost,startup,native,memory,soak: the parts to run (default all but soak, an hour) */
const ONLY = (process.env.WSPY_BENCH_ONLY ?? "samples,freethreaded,async,cost,startup,native,memory").split(",");

/** Starts a fixture of test/fixtures; resolves once it prints "ready", with all it prints until it exits. */
function startFixture(py: string, fixture: string, args: string[]): Promise<{ child: ChildProcess; output: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(py, [path.join(PACKAGE_ROOT, "test", "fixtures", fixture), ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    const output = new Promise<string>((res) => child.on("exit", () => res(buf)));
    child.stdout!.on("data", (d) => { buf += d; if (buf.includes("ready")) resolve({ child, output }); });
    child.on("exit", (c) => { if (!buf.includes("ready")) reject(new Error(`bench target ${fixture} exited ${c}`)); });
  });
}

async function startTarget(py: string, depth: number, threads: number, changing = false): Promise<ChildProcess> {
  const started = changing ? await startFixture(py, "changing_stack.py", [String(depth), "120"])
    : await startFixture(py, "bench_target.py", [String(depth), String(threads), "120"]);
  return started.child;
}

/** Thread records of the last walk (n of them) that failed; with keep, the others are marked kept. */
function failedRecords(core: Target["core"], n: number, keep: boolean): number {
  const v = core.i32();
  const base = core.x.walkResultsPtr() >> 2;
  const stride = R_STRIDE;
  let failed = 0;
  for (let k = 0; k < n; k++) {
    if (v[base + k * stride + R_STATUS] !== ST_OK) failed++;
    else if (keep) v[base + k * stride + R_KEEP] = 1;
  }
  return failed;
}

async function benchOne(py: Python, depth: number, threads: number, changing = false): Promise<Row> {
  const child = await startTarget(py.path, depth, threads, changing);
  try {
    const target = await Target.attach(child.pid!, {});
    const core = target.core;
    // warm the caches
    for (let i = 0; i < 50; i++) core.x.walkSample();
    const times = new Float64Array(SAMPLES);
    const reads0 = core.x.readCallCount();
    let errors = 0, records = 0;
    const t0 = performance.now();
    for (let i = 0; i < SAMPLES; i++) {
      const s = performance.now();
      const n = core.x.walkSample();
      records += Math.max(0, n);
      errors += failedRecords(core, n, true);
      core.x.walkCommit(i, 0.001);
      times[i] = performance.now() - s;
    }
    const elapsed = performance.now() - t0;
    const reads = core.x.readCallCount() - reads0;
    target.close();
    times.sort();
    return {
      python: py.label, depth, threads, changing, samples: SAMPLES,
      usPerSampleMedian: +(times[SAMPLES >> 1] * 1000).toFixed(1),
      usPerSampleP99: +(times[Math.floor(SAMPLES * 0.99)] * 1000).toFixed(1),
      readsPerSample: +(reads / SAMPLES).toFixed(2),
      samplesPerSecond: Math.round(SAMPLES / (elapsed / 1000)),
      errorRate: +(errors / Math.max(1, records)).toFixed(4),
    };
  } finally {
    child.kill("SIGKILL");
  }
}

interface AsyncRow { python: string; tasks: number; samples: number; usPerSampleMedian: number; usPerSampleP99: number; readsPerSample: number; taskSamples: number }

/**
 * --async's cost per sample (issue #16): a walk plus the whole task graph read and attributed
 * (TaskAttribution, as record --async --idle does it) against test/fixtures/asyncio_service.py
 * holding about `tasks` live tasks (its 12 named ones plus idle ones).
 */
async function benchAsync(py: Python, tasks: number): Promise<AsyncRow> {
  const { child } = await startFixture(py.path, "asyncio_service.py", [String(Math.max(0, tasks - 12)), "300"]);
  try {
    const target = await Target.attach(child.pid!, {});
    const core = target.core;
    const attr = new TaskAttribution(target);
    const samples = tasks >= 10_000 ? 100 : tasks >= 1000 ? 500 : 2000;
    const one = (): number => {
      const n = core.x.walkSample();
      const res = attr.attribute(core.i32(), core.x.walkResultsPtr() >> 2, R_STRIDE, Math.max(0, n), true, performance.now());
      return typeof res === "number" ? 0 : res.nodes.length;
    };
    for (let i = 0; i < 5; i++) one(); // warm the caches (and configure the task decoder)
    const times = new Float64Array(samples);
    const reads0 = core.x.readCallCount();
    let taskSamples = 0;
    for (let i = 0; i < samples; i++) {
      const s = performance.now();
      taskSamples += one();
      times[i] = performance.now() - s;
    }
    const reads = core.x.readCallCount() - reads0;
    target.close();
    times.sort();
    return {
      python: py.label, tasks, samples, usPerSampleMedian: +(times[samples >> 1] * 1000).toFixed(0),
      usPerSampleP99: +(times[Math.floor(samples * 0.99)] * 1000).toFixed(0), readsPerSample: +(reads / samples).toFixed(1),
      taskSamples: Math.round(taskSamples / samples),
    };
  } finally {
    child.kill("SIGKILL");
  }
}

/** How CPU is measured: perf's task-clock where perf works (exact), else rusage (sampled per tick). */
let cpuMethod: "perf task-clock" | "rusage" | null = null;
function cpuMeasure(): "perf task-clock" | "rusage" {
  if (cpuMethod) return cpuMethod;
  const r = spawnSync("perf", ["stat", "-x,", "-e", "task-clock", "true"], { encoding: "utf8" });
  cpuMethod = r.status === 0 && /task-clock/.test(r.stderr ?? "") && !/not supported/.test(r.stderr ?? "") ? "perf task-clock" : "rusage";
  return cpuMethod;
}

/** CPU seconds of a command (every thread, user + system) and whether it exited 0. */
function cpuOf(args: string[], env: NodeJS.ProcessEnv = process.env): { cpu: number; ok: boolean } {
  if (cpuMeasure() === "perf task-clock") {
    const r = spawnSync("perf", ["stat", "-x,", "-e", "task-clock", "--", ...args], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"], env });
    const m = /^([\d.]+),msec,task-clock/m.exec(r.stderr ?? "");
    return { cpu: m ? +m[1] / 1000 : NaN, ok: r.status === 0 };
  }
  const quoted = args.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const r = spawnSync("bash", ["-c", `TIMEFORMAT='%U %S'; { time ${quoted} >/dev/null 2>/dev/null; } 2>&1`], { encoding: "utf8", env });
  const m = /([\d.]+) ([\d.]+)\s*$/.exec(r.stdout ?? "");
  return { cpu: m ? +m[1] + +m[2] : NaN, ok: r.status === 0 };
}

const REPEATS = Number(process.env.WSPY_BENCH_REPEATS ?? 3);

interface CostRow {
  python: string; rate: number; seconds: number; repeats: number; cpuMeasure: string;
  /** median CPU of `wspy record` beyond start-up, s */
  profilerCpuSec: number;
  /** median CPU of start-up alone (`wspy tables list`: node, the CLI, the core and the tables), s */
  startupCpuSec: number;
  /** the same over the ticks only: (CPU of the recording - CPU of a 0.2 s recording) / extra ticks, µs */
  usPerTick: number;
  /** what merely waking up this often costs a Node process here (no reads, no decoding), µs per wake-up */
  wakeFloorUsPerTick: number;
  /** unprofiled work / profiled work, median of the pairs; and the spread of plain runs against each other */
  targetSlowdown: number; slowdownPairs: number[]; plainNoise: number;
  /** the same per CPU second of the target (insensitive to the machine lending its CPU elsewhere) */
  slowdownPerCpu: number; slowdownPerCpuPairs: number[]; plainPerCpuNoise: number;
  /** the work counts: plain runs, and profiled runs between them */
  plainWork: Work[]; profiledWork: Work[];
}

/** What a bench target did: loop iterations, and its own CPU seconds. */
interface Work { work: number; cpu: number }

/** A bench target doing work for `seconds`; resolves with its work when it exits. */
async function workTarget(py: Python, seconds: number): Promise<{ child: ChildProcess; work: Promise<Work> }> {
  const { child, output } = await startFixture(py.path, "bench_target.py", ["50", "1", String(seconds), "work"]);
  const work = output.then((out) => {
    const m = /work (\d+) cpu ([\d.]+)/.exec(out);
    return { work: Number(m?.[1] ?? NaN), cpu: Number(m?.[2] ?? NaN) };
  });
  return { child, work };
}

/** CPU of a Node process that only sleeps on the sampler's schedule (jittered, rate per second) for seconds. */
function wakeFloor(rate: number, seconds: number): number {
  const script = `const c=new Int32Array(new SharedArrayBuffer(4));const end=performance.now()+${seconds * 1000};let next=performance.now();` +
    `for(;;){const now=performance.now();if(now>=end)break;next+=${1000 / rate}*(0.5+Math.random());const w=next-now;if(w>0)Atomics.wait(c,0,0,w);}`;
  const idle = median(Array.from({ length: REPEATS }, () => cpuOf([process.execPath, "-e", ""]).cpu));
  const busy = median(Array.from({ length: REPEATS }, () => cpuOf([process.execPath, "-e", script]).cpu));
  return ((busy - idle) / (rate * seconds)) * 1e6;
}

/**
 * The profiler's CPU and the target's slowdown at a given rate, with the real CLI on a 50-deep
 * spinning 3.12 target. CPU: the median of REPEATS recordings, less start-up. Slowdown: plain and
 * profiled runs of the same workload alternate (plain, profiled, plain, ...), one at a time so
 * wspy's own CPU does not steal from a neighbour; each profiled run is set against the mean of
 * the plain runs either side, and the plain runs against each other give the noise.
 */
async function costAt(py: Python, rate: number, seconds: number): Promise<CostRow> {
  const cli = CLI;
  const out = path.join(PACKAGE_ROOT, "build", "bench", `cost-${process.pid}.txt`);
  const record = (pid: number, d: number) => cpuOf([process.execPath, cli, "record", "-p", String(pid), "-r", String(rate), "-d", String(d), "-f", "raw", "-o", out]);
  const plain: Work[] = [];
  const cpu: number[] = [];
  const short: number[] = [];
  const pairs: number[] = [];
  const cpuPairs: number[] = [];
  const profiledWork: Work[] = [];
  plain.push(await (await workTarget(py, seconds + 1)).work);
  const perCpu = (w: Work) => w.work / w.cpu;
  for (let k = 0; k < REPEATS; k++) {
    const p = await workTarget(py, seconds + 1);
    cpu.push(record(p.child.pid!, seconds).cpu);
    const profiled = await p.work;
    profiledWork.push(profiled);
    plain.push(await (await workTarget(py, seconds + 1)).work);
    const [a, b] = [plain[plain.length - 2], plain[plain.length - 1]];
    pairs.push(+(((a.work + b.work) / 2) / profiled.work).toFixed(3));
    cpuPairs.push(+(((perCpu(a) + perCpu(b)) / 2) / perCpu(profiled)).toFixed(3));
  }
  // a short recording (same attach and output, few ticks) for the per-tick cost
  {
    const p = await workTarget(py, 3);
    for (let k = 0; k < REPEATS; k++) short.push(record(p.child.pid!, 0.2).cpu);
    p.child.kill("SIGKILL");
  }
  const startup = median(Array.from({ length: REPEATS }, () => cpuOf([process.execPath, cli, "tables", "list"]).cpu));
  const noise = plain.slice(1).map((w, i) => Math.abs(w.work / plain[i].work - 1));
  const cpuNoise = plain.slice(1).map((w, i) => Math.abs(perCpu(w) / perCpu(plain[i]) - 1));
  return {
    python: py.label, rate, seconds, repeats: REPEATS, cpuMeasure: cpuMeasure(),
    profilerCpuSec: +(median(cpu) - startup).toFixed(3),
    startupCpuSec: +startup.toFixed(3),
    usPerTick: +(((median(cpu) - median(short)) / (rate * (seconds - 0.2))) * 1e6).toFixed(1),
    wakeFloorUsPerTick: +wakeFloor(rate, seconds).toFixed(1),
    targetSlowdown: median(pairs), slowdownPairs: pairs,
    plainNoise: +Math.max(0, ...noise).toFixed(3),
    slowdownPerCpu: median(cpuPairs), slowdownPerCpuPairs: cpuPairs, plainPerCpuNoise: +Math.max(0, ...cpuNoise).toFixed(3),
    plainWork: plain, profiledWork,
  };
}

/**
 * The changing 500-deep stack sampled at a steady 10 kHz (paced, not back-to-back): the error
 * rate the issue sets a bound on.
 */
interface PacedRow { python: string; shape: string; rate: number; samples: number; errorRate: number; readsPerSample: number }
async function pacedErrors(py: Python, rate: number, samples: number, shape = { depth: 500, threads: 1, changing: true }): Promise<PacedRow> {
  const child = await startTarget(py.path, shape.depth, shape.threads, shape.changing);
  try {
    const target = await Target.attach(child.pid!, {});
    const core = target.core;
    const cell = new Int32Array(new SharedArrayBuffer(4));
    let errors = 0, records = 0;
    const reads0 = core.x.readCallCount();
    let next = performance.now();
    for (let i = 0; i < samples; i++) {
      next += 1000 / rate;
      const w = next - performance.now();
      if (w > 0) Atomics.wait(cell, 0, 0, w);
      const n = core.x.walkSample();
      records += Math.max(0, n);
      errors += failedRecords(core, n, false);
    }
    const reads = core.x.readCallCount() - reads0;
    target.close();
    const what = shape.changing ? `changing ${shape.depth}-deep stack` : `${shape.threads} threads spinning ${shape.depth} deep`;
    return { python: py.label, shape: what, rate, samples, errorRate: +(errors / Math.max(1, records)).toFixed(4), readsPerSample: +(reads / samples).toFixed(2) };
  } finally {
    child.kill("SIGKILL");
  }
}

/**
 * Memory after an hour at 100 Hz, in a fresh process of its own (as a wspy recording would be):
 * 360,000 samples over 10,000 distinct stacks 20 deep, interned by the core as a recording would,
 * lifted into a Profile and rendered as a flame graph. RSS in MB at each step.
 */
interface MemoryRow { samples: number; stacks: number; rssStartMb: number; rssTablesMb: number; rssRenderedMb: number; peakRssMb: number }
function memoryAfterAnHour(): MemoryRow {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--memory-child"], { encoding: "utf8" });
  const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  try { return JSON.parse(line) as MemoryRow; } catch { throw new Error(`memory measurement failed: ${r.stderr}`); }
}

async function memoryChild(): Promise<void> {
  const { Core } = await import("../core/core.js");
  const { renderProfile } = await import("../render/index.js");
  const mb = () => +(process.memoryUsage().rss / 2 ** 20).toFixed(1);
  const rssStartMb = mb();
  const core = new Core();
  const names: number[] = [];
  for (let i = 0; i < 500; i++) names.push(core.internString(`function_${i}`));
  const file = core.internString("/srv/app/module.py");
  const leaves: number[] = [];
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let s = 0; s < 10_000; s++) {
    let node = -1;
    for (let d = 0; d < 20; d++) {
      const name = d < 3 ? names[d] : names[Math.floor(rand() * names.length)];
      node = core.x.internNode(node, core.x.internFrame(name, file, 10 + d, 0, 1));
    }
    leaves.push(node);
  }
  const thread = 0;
  for (let i = 0; i < 360_000; i++) core.x.pushSample(i / 100, 0.01, thread, leaves[i % leaves.length]);
  const rssTablesMb = mb();
  const profile = core.liftProfile({ target: "synthetic", pid: 0, pythonVersion: "3.12", rate: 100, durationSec: 3600, samples: 360_000, errors: {}, startedAt: new Date().toISOString() });
  renderProfile(profile, "flamegraph", {});
  const rssRenderedMb = mb();
  const peak = Number(/VmHWM:\s*(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? NaN) / 1024;
  process.stdout.write(JSON.stringify({ samples: 360_000, stacks: leaves.length, rssStartMb, rssTablesMb, rssRenderedMb, peakRssMb: +peak.toFixed(1) }) + "\n");
}

async function main(): Promise<void> {
  if (process.argv.includes("--memory-child")) return memoryChild();
  const helpers = await import(pathToFileURL(path.join(PACKAGE_ROOT, "test", "helpers", "pythons.mjs")).href);
  const all = helpers.findPythons() as Python[];
  const pythons = all.filter((p) => WANT.some((w) => p.version.startsWith(w + ".")) && !p.label.startsWith("debian") && !p.freeThreaded);
  const log = (s: string) => process.stderr.write(s + "\n");
  const logRow = (row: Row) => log(`${row.python} depth ${row.depth}${row.changing ? " (changing)" : ""} threads ${row.threads}: ${row.usPerSampleMedian} µs/sample (p99 ${row.usPerSampleP99}), ${row.readsPerSample} reads/sample, ${row.samplesPerSecond}/s, errors ${(row.errorRate * 100).toFixed(2)}%`);
  const logPaced = (e: PacedRow) => log(`${e.python} ${e.shape} at ${e.rate} Hz: errors ${(e.errorRate * 100).toFixed(2)}% of ${e.samples}, ${e.readsPerSample} reads/sample`);
  const rows: Row[] = [];
  const paced: PacedRow[] = [];
  for (const py of ONLY.includes("samples") ? pythons : []) {
    for (const s of SHAPES) {
      if (PICKED && !PICKED.includes(shapeName(s))) continue;
      const row = await benchOne(py, s.depth, s.threads, !!s.changing);
      rows.push(row);
      logRow(row);
    }
    if (PICKED && !PICKED.includes("paced")) continue;
    const e = await pacedErrors(py, 10_000, 30_000);
    paced.push(e);
    logPaced(e);
  }
  // free-threaded builds (issue #15): ten threads spinning in parallel, 50 deep, beside the same
  // target on the default build of the same minor; paced at 1 and 10 kHz for the error rate
  if (ONLY.includes("freethreaded")) {
    for (const ft of all.filter((p) => p.freeThreaded)) {
      const minor = ft.version.split(".").slice(0, 2).join(".");
      const twin = all.find((p) => !p.freeThreaded && p.version.startsWith(minor + ".") && !p.label.startsWith("debian"));
      for (const py of twin ? [ft, twin] : [ft]) {
        const row = await benchOne(py, 50, 10);
        rows.push(row);
        logRow(row);
        for (const rate of [1000, 10_000]) {
          const e = await pacedErrors(py, rate, rate === 1000 ? 5000 : 30_000, { depth: 50, threads: 10, changing: false });
          paced.push(e);
          logPaced(e);
        }
      }
    }
  }
  const asyncRows: AsyncRow[] = [];
  if (ONLY.includes("async")) {
    for (const py of pythons.filter((p) => /^3\.1[1-9]\./.test(p.version))) {
      for (const n of [10, 1000, 10_000]) {
        const a = await benchAsync(py, n);
        asyncRows.push(a);
        log(`${a.python} --async, ${a.tasks} tasks: ${a.usPerSampleMedian} µs/sample (p99 ${a.usPerSampleP99}), ${a.readsPerSample} reads/sample, ${a.taskSamples} suspended-task samples per sample`);
      }
    }
  }
  const dir = path.join(PACKAGE_ROOT, "build", "bench");
  mkdirSync(dir, { recursive: true });
  const costs: CostRow[] = [];
  const costPy = pythons.find((p) => p.version.startsWith("3.12.")) ?? pythons[0];
  if (costPy && ONLY.includes("cost")) {
    for (const rate of [100, 1000]) {
      const c = await costAt(costPy, rate, 5);
      costs.push(c);
      log(`${c.python} at ${c.rate} Hz for ${c.seconds} s (${c.cpuMeasure}, median of ${c.repeats}): profiler CPU ${c.profilerCpuSec} s beyond start-up (${c.startupCpuSec} s), ${c.usPerTick} µs/tick (waking alone: ${c.wakeFloorUsPerTick} µs), target slowdown ×${c.targetSlowdown} (pairs ${c.slowdownPairs.join(", ")}; plain runs differ by up to ${(c.plainNoise * 100).toFixed(1)}%), per target CPU second ×${c.slowdownPerCpu} (pairs ${c.slowdownPerCpuPairs.join(", ")}; plain runs differ by up to ${(c.plainPerCpuNoise * 100).toFixed(1)}%)`);
    }
  }
  let startup: StartupRow | null = null;
  let recordCost: RecordCostRow | null = null;
  if (costPy && ONLY.includes("startup")) {
    const four = await startTarget(costPy.path, 10, 4);
    try {
      startup = benchStartup(four.pid!);
    } finally {
      four.kill("SIGKILL");
    }
    const s = startup;
    const vs = (ms: number | null) => (ms === null ? "" : ` (×${(s.dumpMs / ms).toFixed(1)} of it)`);
    log(`start-up (${costPy.label}, four threads, median of ${s.runs}): node -e 0 ${s.nodeMs} ms; wspy --version ${s.versionMs} ms (×${(s.versionMs / s.nodeMs).toFixed(2)} node); wspy dump ${s.dumpMs} ms (×${(s.dumpMs / s.nodeMs).toFixed(2)} node)` +
      `${s.pyspyDumpMs !== null ? `; py-spy dump ${s.pyspyDumpMs} ms${vs(s.pyspyDumpMs)}` : "; py-spy: not found (set WSPY_BENCH_PYSPY)"}` +
      `${s.austinWhereMs !== null ? `; austin -w ${s.austinWhereMs} ms${vs(s.austinWhereMs)}` : "; austin: not found (set WSPY_BENCH_AUSTIN)"}${s.failures ? `; ${s.failures} runs failed` : ""}`);
    log(`  wspy dump's phases (median ms each): ${s.phases.map((p) => `${p.name} ${p.ms}`).join(", ")}`);
    log(`  first run (an empty cache folder, median of 3): wspy dump ${s.firstDumpMs} ms`);
    if (s.noExtraCa) log(`  NODE_EXTRA_CA_CERTS is set here (Node 20 loads it at every start): without it, node -e 0 ${s.noExtraCa.nodeMs} ms, wspy dump ${s.noExtraCa.dumpMs} ms (×${(s.noExtraCa.dumpMs / s.noExtraCa.nodeMs).toFixed(2)} node)`);
    const deep = await startTarget(costPy.path, 50, 1);
    try {
      recordCost = benchRecordCost(deep.pid!, 1000, 5, REPEATS, cpuOf, path.join(dir, `record-${process.pid}.txt`));
    } finally {
      deep.kill("SIGKILL");
    }
    const c = recordCost;
    log(`record -r ${c.rate} -d ${c.seconds} (${costPy.label}, 50 deep, ${cpuMeasure()}, median of ${c.runs}): wspy ${c.wspyCpuSec} s CPU in all` +
      `${c.austinCpuSec !== null ? `, austin ${c.austinCpuSec} s (×${(c.wspyCpuSec / c.austinCpuSec).toFixed(2)})` : ", austin: not found (set WSPY_BENCH_AUSTIN)"}; samples kept ${(c.keptShare * 100).toFixed(1)}% of those asked` +
      `${c.wspyNoExtraCaCpuSec !== null ? `; without NODE_EXTRA_CA_CERTS wspy ${c.wspyNoExtraCaCpuSec} s${c.austinCpuSec !== null ? ` (×${(c.wspyNoExtraCaCpuSec / c.austinCpuSec).toFixed(2)})` : ""}` : ""}`);
  }
  // --native (issue #13): wspy's cost per sample, the target's pause from outside, the highest
  // rate and dump --native, beside py-spy --native when one is found (host/bench/native.ts)
  let native: NativeReport | null = null;
  if (ONLY.includes("native")) native = await benchNative(pythons, log);
  // the agent over an hour (issue #17): only when asked (WSPY_BENCH_ONLY=soak), never by default
  if (ONLY.includes("soak") && costPy) {
    const soak = await benchSoak(costPy, log);
    writeFileSync(path.join(dir, "soak.json"), JSON.stringify({ date: new Date().toISOString(), soak }, null, 2) + "\n");
    process.stdout.write(soakMarkdown(soak).join("\n") + "\n");
  }
  if (!ONLY.includes("memory")) {
    // a partial run: the lines above are its result; the report is left as it was (the native
    // part's table is printed, and kept in build/bench/native.json)
    if (native) {
      writeFileSync(path.join(dir, "native.json"), JSON.stringify({ date: new Date().toISOString(), native }, null, 2) + "\n");
      process.stdout.write(nativeMarkdown(native).join("\n") + "\n");
    }
    return;
  }
  const memory = memoryAfterAnHour();
  log(`memory: ${memory.samples} samples, ${memory.stacks} stacks: RSS ${memory.rssStartMb} MB at start, ${memory.rssTablesMb} MB with the tables, ${memory.rssRenderedMb} MB after lifting and rendering (peak ${memory.peakRssMb} MB)`);
  const render = benchRender();
  log(`render: ${render.stacks} distinct stacks, ${render.samples} samples → SVG in ${render.ms.toFixed(0)} ms, ${render.rects} rects, ${(render.bytes / 1024).toFixed(0)} KiB`);
  writeFileSync(path.join(dir, "report.json"), JSON.stringify({ date: new Date().toISOString(), samples: SAMPLES, rows, paced, asyncRows, costs, startup, recordCost, native, render, memory }, null, 2) + "\n");
  const pacedMd = ["", "| python | target | paced at | samples | errors | reads/sample |", "|---|---|---:|---:|---:|---:|",
    ...paced.map((e) => `| ${e.python} | ${e.shape} | ${e.rate} Hz | ${e.samples} | ${(e.errorRate * 100).toFixed(2)}% | ${e.readsPerSample} |`)];
  const asyncMd = !asyncRows.length ? [] : ["", "`--async` (a walk plus the whole task graph read and attributed, as `record --async --idle` does; py-spy has no asyncio support, Austin's is not installed here):", "",
    "| python | live tasks | µs/sample (median) | µs/sample (p99) | reads/sample | task samples per sample |", "|---|---:|---:|---:|---:|---:|",
    ...asyncRows.map((a) => `| ${a.python} | ${a.tasks} | ${a.usPerSampleMedian} | ${a.usPerSampleP99} | ${a.readsPerSample} | ${a.taskSamples} |`)];
  const costMd = ["", `CPU by ${costs[0]?.cpuMeasure ?? "-"}, median of ${REPEATS} runs; slowdown from alternating plain and profiled runs.`, "",
    "| python | rate | seconds | profiler CPU (s, beyond start-up) | start-up CPU (s) | µs per tick | of which waking up alone | target slowdown, work per second (pairs; plain-run noise) | per target CPU second (pairs; noise) |", "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ...costs.map((c) => `| ${c.python} | ${c.rate} | ${c.seconds} | ${c.profilerCpuSec} | ${c.startupCpuSec} | ${c.usPerTick} | ${c.wakeFloorUsPerTick} | ×${c.targetSlowdown} (${c.slowdownPairs.join(", ")}; ±${(c.plainNoise * 100).toFixed(1)}%) | ×${c.slowdownPerCpu} (${c.slowdownPerCpuPairs.join(", ")}; ±${(c.plainPerCpuNoise * 100).toFixed(1)}%) |`)];
  const memMd = ["", `Memory after an hour at 100 Hz, in a process of its own (${memory.samples} samples over ${memory.stacks} distinct stacks, 20 deep): RSS ${memory.rssTablesMb} MB with the core's tables, ${memory.rssRenderedMb} MB after lifting and rendering a flame graph (${memory.rssStartMb} MB at start, peak ${memory.peakRssMb} MB).`];
  const renderMd = ["", `Rendering a synthetic hour at 100 Hz with ${render.stacks} distinct stacks (${render.samples} samples) to SVG: ${render.ms.toFixed(0)} ms, ${render.rects} rectangles, ${(render.bytes / 1024).toFixed(0)} KiB.`];
  const startupMd = !startup ? [] : ["", `Start-up, median of ${startup.runs} alternating runs (wall clock, spawn to exit; ${costPy?.label}, four threads):`, "",
    "| command | ms | × node -e 0 |", "|---|---:|---:|",
    `| node -e 0 | ${startup.nodeMs} | 1 |`, `| wspy --version | ${startup.versionMs} | ${(startup.versionMs / startup.nodeMs).toFixed(2)} |`,
    `| wspy dump -p PID | ${startup.dumpMs} | ${(startup.dumpMs / startup.nodeMs).toFixed(2)} |`,
    ...(startup.pyspyDumpMs !== null ? [`| py-spy dump | ${startup.pyspyDumpMs} | ${(startup.pyspyDumpMs / startup.nodeMs).toFixed(2)} |`] : []),
    ...(startup.austinWhereMs !== null ? [`| austin -w | ${startup.austinWhereMs} | ${(startup.austinWhereMs / startup.nodeMs).toFixed(2)} |`] : []),
    "", `wspy dump's phases, median ms each: ${startup.phases.map((p) => `${p.name} ${p.ms}`).join(", ")}.`,
    "", `First run (an empty cache folder): wspy dump ${startup.firstDumpMs} ms.`,
    ...(startup.noExtraCa ? ["", `NODE_EXTRA_CA_CERTS is set on this machine; Node 20 loads it at every start. Without it: node -e 0 ${startup.noExtraCa.nodeMs} ms, wspy dump ${startup.noExtraCa.dumpMs} ms (×${(startup.noExtraCa.dumpMs / startup.noExtraCa.nodeMs).toFixed(2)}).`] : []),
    ...(recordCost ? ["", `\`wspy record -r ${recordCost.rate} -d ${recordCost.seconds}\` on a 50-deep target: ${recordCost.wspyCpuSec} s CPU in all (median of ${recordCost.runs})${recordCost.austinCpuSec !== null ? `, Austin ${recordCost.austinCpuSec} s` : ""}; ${(recordCost.keptShare * 100).toFixed(1)}% of the asked samples kept${recordCost.wspyNoExtraCaCpuSec !== null ? `; without NODE_EXTRA_CA_CERTS, wspy ${recordCost.wspyNoExtraCaCpuSec} s` : ""}.`] : [])];
  const md = ["| python | depth | threads | µs/sample (median) | µs/sample (p99) | reads/sample | samples/s | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.python} | ${r.depth}${r.changing ? " changing" : ""} | ${r.threads} | ${r.usPerSampleMedian} | ${r.usPerSampleP99} | ${r.readsPerSample} | ${r.samplesPerSecond} | ${(r.errorRate * 100).toFixed(2)}% |`), ...pacedMd, ...asyncMd, ...costMd, ...startupMd, ...(native ? nativeMarkdown(native) : []), ...memMd, ...renderMd].join("\n");
  writeFileSync(path.join(dir, "report.md"), md + "\n");
  process.stdout.write(md + "\n");
  log(`wrote ${path.join(dir, "report.json")} and report.md`);
}

main().catch((e) => { process.stderr.write(`bench: ${(e as Error).message}\n`); process.exit(1); });
