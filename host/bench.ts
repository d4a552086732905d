// `npm run bench`: per-sample cost of the core on real interpreters, as counts and ratios of one
// run (never a pass/fail test). For each interpreter found and each stack shape it attaches to
// test/fixtures/bench_target.py and samples back-to-back, then reports µs per sample (median,
// p99), remote reads per sample, the sustained rate on one core, and the error rate.
// Must not know: CPython layouts. Source of truth: issue "Performance" (what to report).

import { spawn, spawnSync, ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Target } from "./attach.js";
import { PACKAGE_ROOT, R_STATUS, R_KEEP } from "./core.js";
import { benchRender } from "./render/bench-render.js";

interface Python { label: string; version: string; path: string }
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
];
const SAMPLES = Number(process.env.WSPY_BENCH_SAMPLES ?? 5000);
const WANT = (process.env.WSPY_BENCH_PYTHONS ?? "3.11,3.12,3.13,3.14").split(",");
/** WSPY_BENCH_ONLY=samples,cost,memory: the parts to run (default all) */
const ONLY = (process.env.WSPY_BENCH_ONLY ?? "samples,cost,memory").split(",");

function startTarget(py: string, depth: number, threads: number, changing = false): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const args = changing ? [path.join(PACKAGE_ROOT, "test", "fixtures", "changing_stack.py"), String(depth), "120"]
      : [path.join(PACKAGE_ROOT, "test", "fixtures", "bench_target.py"), String(depth), String(threads), "120"];
    const child = spawn(py, args, { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    child.stdout!.on("data", (d) => { buf += d; if (buf.includes("ready")) resolve(child); });
    child.on("exit", (c) => reject(new Error(`bench target exited ${c}`)));
  });
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
      const v = core.i32();
      const base = core.x.walkResultsPtr() >> 2;
      for (let k = 0; k < n; k++) {
        records++;
        if (v[base + k * 8 + R_STATUS] !== 0) errors++;
        v[base + k * 8 + R_KEEP] = 1;
      }
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

/** CPU seconds (user + system) of a command, from bash's `time`. */
function cpuOf(args: string[]): { cpu: number; ok: boolean } {
  const quoted = args.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const r = spawnSync("bash", ["-c", `TIMEFORMAT='%U %S'; { time ${quoted} >/dev/null 2>/dev/null; } 2>&1`], { encoding: "utf8" });
  const m = /([\d.]+) ([\d.]+)\s*$/.exec(r.stdout ?? "");
  return { cpu: m ? +m[1] + +m[2] : NaN, ok: r.status === 0 };
}

interface CostRow {
  python: string; rate: number; seconds: number; profilerCpuSec: number; startupCpuSec: number;
  targetSlowdown: number;
}

/**
 * The profiler's CPU and the target's slowdown, at a given rate, measured with the real CLI on
 * a 50-deep spinning target: work done in SECONDS profiled vs the same workload unprofiled
 * (run side by side in the same run, so machine load hits both).
 */
async function costAt(py: Python, rate: number, seconds: number): Promise<CostRow> {
  const cli = path.join(PACKAGE_ROOT, "build", "host", "cli.js");
  const workOf = (child: ChildProcess): Promise<number> => new Promise((resolve) => {
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.on("exit", () => resolve(Number(/work (\d+)/.exec(out)?.[1] ?? NaN)));
  });
  const start = (): Promise<ChildProcess> => new Promise((resolve, reject) => {
    const c = spawn(py.path, [path.join(PACKAGE_ROOT, "test", "fixtures", "bench_target.py"), "50", "1", String(seconds + 1), "work"], { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    const on = (d: Buffer) => { buf += d; if (buf.includes("ready")) { c.stdout!.off("data", on); resolve(c); } };
    c.stdout!.on("data", on);
    c.on("exit", (code) => reject(new Error(`bench target exited ${code}`)));
  });
  // one after another, so wspy's own CPU does not steal from a neighbour: plain, profiled, plain
  const plain1 = await start();
  const work1 = await workOf(plain1);
  const profiled = await start();
  const profWork = workOf(profiled);
  const out = path.join(PACKAGE_ROOT, "build", "bench", `cost-${process.pid}.txt`);
  const rec = cpuOf([process.execPath, cli, "record", "-p", String(profiled.pid), "-r", String(rate), "-d", String(seconds), "-f", "raw", "-o", out]);
  const b = await profWork;
  const plain2 = await start();
  const work2 = await workOf(plain2);
  const a = (work1 + work2) / 2;
  const startup = cpuOf([process.execPath, cli, "tables", "list"]);
  return {
    python: py.label, rate, seconds,
    profilerCpuSec: +(rec.cpu - startup.cpu).toFixed(3),
    startupCpuSec: +startup.cpu.toFixed(3),
    targetSlowdown: +(a / b).toFixed(3),
  };
}

/**
 * Memory after an hour at 100 Hz: 360,000 samples over 10,000 distinct stacks 20 deep, interned
 * by the core as a recording would, lifted into a Profile and rendered as a flame graph.
 * Returns the process's RSS in MB at each step.
 */
async function memoryAfterAnHour(): Promise<{ samples: number; stacks: number; rssStartMb: number; rssTablesMb: number; rssRenderedMb: number }> {
  const { Core } = await import("./core.js");
  const { renderProfile } = await import("./render/index.js");
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
  return { samples: 360_000, stacks: leaves.length, rssStartMb, rssTablesMb, rssRenderedMb };
}

async function main(): Promise<void> {
  const helpers = await import(pathToFileURL(path.join(PACKAGE_ROOT, "test", "helpers", "pythons.mjs")).href);
  const pythons = (helpers.findPythons() as Python[]).filter((p) => WANT.some((w) => p.version.startsWith(w + ".")) && !p.label.startsWith("debian"));
  const rows: Row[] = [];
  for (const py of ONLY.includes("samples") ? pythons : []) {
    for (const s of SHAPES) {
      const row = await benchOne(py, s.depth, s.threads, !!s.changing);
      rows.push(row);
      process.stderr.write(`${row.python} depth ${row.depth}${row.changing ? " (changing)" : ""} threads ${row.threads}: ${row.usPerSampleMedian} µs/sample (p99 ${row.usPerSampleP99}), ${row.readsPerSample} reads/sample, ${row.samplesPerSecond}/s, errors ${(row.errorRate * 100).toFixed(2)}%\n`);
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
      process.stderr.write(`${c.python} at ${c.rate} Hz for ${c.seconds} s: profiler CPU ${c.profilerCpuSec} s beyond start-up (${c.startupCpuSec} s), target slowdown ×${c.targetSlowdown}\n`);
    }
  }
  if (!ONLY.includes("memory")) return; // a partial run: the lines above are its result; the report is left as it was
  const memory = await memoryAfterAnHour();
  process.stderr.write(`memory: ${memory.samples} samples, ${memory.stacks} stacks: RSS ${memory.rssStartMb} MB at start, ${memory.rssTablesMb} MB with the tables, ${memory.rssRenderedMb} MB after lifting and rendering\n`);
  const render = benchRender();
  process.stderr.write(`render: ${render.stacks} distinct stacks, ${render.samples} samples → SVG in ${render.ms.toFixed(0)} ms, ${render.rects} rects, ${(render.bytes / 1024).toFixed(0)} KiB\n`);
  writeFileSync(path.join(dir, "report.json"), JSON.stringify({ date: new Date().toISOString(), samples: SAMPLES, rows, costs, render, memory }, null, 2) + "\n");
  const costMd = ["", "| python | rate | seconds | profiler CPU (s, beyond start-up) | start-up CPU (s) | target slowdown (unprofiled work / profiled work) |", "|---|---:|---:|---:|---:|---:|",
    ...costs.map((c) => `| ${c.python} | ${c.rate} | ${c.seconds} | ${c.profilerCpuSec} | ${c.startupCpuSec} | ${c.targetSlowdown} |`)];
  const memMd = ["", `Memory after an hour at 100 Hz (${memory.samples} samples over ${memory.stacks} distinct stacks, 20 deep): RSS ${memory.rssTablesMb} MB with the core's tables, ${memory.rssRenderedMb} MB after lifting and rendering a flame graph (${memory.rssStartMb} MB at start).`];
  const renderMd = ["", `Rendering a synthetic hour at 100 Hz with ${render.stacks} distinct stacks (${render.samples} samples) to SVG: ${render.ms.toFixed(0)} ms, ${render.rects} rectangles, ${(render.bytes / 1024).toFixed(0)} KiB.`];
  const md = ["| python | depth | threads | µs/sample (median) | µs/sample (p99) | reads/sample | samples/s | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.python} | ${r.depth}${r.changing ? " changing" : ""} | ${r.threads} | ${r.usPerSampleMedian} | ${r.usPerSampleP99} | ${r.readsPerSample} | ${r.samplesPerSecond} | ${(r.errorRate * 100).toFixed(2)}% |`), ...costMd, ...memMd, ...renderMd].join("\n");
  writeFileSync(path.join(dir, "report.md"), md + "\n");
  process.stdout.write(md + "\n");
  process.stderr.write(`wrote ${path.join(dir, "report.json")} and report.md\n`);
}

main().catch((e) => { process.stderr.write(`bench: ${(e as Error).message}\n`); process.exit(1); });
