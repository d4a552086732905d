// `npm run bench`: per-sample cost of the core on real interpreters, as counts and ratios of one
// run (never a pass/fail test). For each interpreter found and each stack shape it attaches to
// test/fixtures/bench_target.py and samples back-to-back, then reports µs per sample (median,
// p99), remote reads per sample, the sustained rate on one core, and the error rate.
// Must not know: CPython layouts. Source of truth: issue "Performance" (what to report).

import { spawn, ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Target } from "./attach.js";
import { PACKAGE_ROOT, R_STATUS, R_KEEP } from "./core.js";

interface Python { label: string; version: string; path: string }
interface Row {
  python: string; depth: number; threads: number; samples: number;
  usPerSampleMedian: number; usPerSampleP99: number; readsPerSample: number;
  samplesPerSecond: number; errorRate: number;
}

const SHAPES = [
  { depth: 10, threads: 1 }, { depth: 50, threads: 1 }, { depth: 500, threads: 1 },
  { depth: 50, threads: 10 },
];
const SAMPLES = Number(process.env.WSPY_BENCH_SAMPLES ?? 5000);
const WANT = (process.env.WSPY_BENCH_PYTHONS ?? "3.11,3.12,3.13,3.14").split(",");

function startTarget(py: string, depth: number, threads: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(py, [path.join(PACKAGE_ROOT, "test", "fixtures", "bench_target.py"), String(depth), String(threads), "120"], { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    child.stdout!.on("data", (d) => { buf += d; if (buf.includes("ready")) resolve(child); });
    child.on("exit", (c) => reject(new Error(`bench target exited ${c}`)));
  });
}

async function benchOne(py: Python, depth: number, threads: number): Promise<Row> {
  const child = await startTarget(py.path, depth, threads);
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
      python: py.label, depth, threads, samples: SAMPLES,
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

async function main(): Promise<void> {
  const helpers = await import(pathToFileURL(path.join(PACKAGE_ROOT, "test", "helpers", "pythons.mjs")).href);
  const pythons = (helpers.findPythons() as Python[]).filter((p) => WANT.some((w) => p.version.startsWith(w + ".")) && !p.label.startsWith("debian"));
  const rows: Row[] = [];
  for (const py of pythons) {
    for (const s of SHAPES) {
      const row = await benchOne(py, s.depth, s.threads);
      rows.push(row);
      process.stderr.write(`${row.python} depth ${row.depth} threads ${row.threads}: ${row.usPerSampleMedian} µs/sample (p99 ${row.usPerSampleP99}), ${row.readsPerSample} reads/sample, ${row.samplesPerSecond}/s, errors ${(row.errorRate * 100).toFixed(2)}%\n`);
    }
  }
  const dir = path.join(PACKAGE_ROOT, "build", "bench");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "report.json"), JSON.stringify({ date: new Date().toISOString(), samples: SAMPLES, rows }, null, 2) + "\n");
  const md = ["| python | depth | threads | µs/sample (median) | µs/sample (p99) | reads/sample | samples/s | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.python} | ${r.depth} | ${r.threads} | ${r.usPerSampleMedian} | ${r.usPerSampleP99} | ${r.readsPerSample} | ${r.samplesPerSecond} | ${(r.errorRate * 100).toFixed(2)}% |`)].join("\n");
  writeFileSync(path.join(dir, "report.md"), md + "\n");
  process.stdout.write(md + "\n");
  process.stderr.write(`wrote ${path.join(dir, "report.json")} and report.md\n`);
}

main().catch((e) => { process.stderr.write(`bench: ${(e as Error).message}\n`); process.exit(1); });
