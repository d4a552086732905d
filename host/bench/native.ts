// `npm run bench` (part "native"): what `--native` costs, beside `py-spy --native` on the same
// target in the same run when a py-spy binary is found ($WSPY_BENCH_PYSPY, else PATH; never a
// dependency). For each interpreter, as counts and ratios of one run (never pass/fail):
//  1. wspy's own cost per sample, in-process against test/fixtures/native_stacks.py (4 threads):
//     the steps sampleProcess takes for one --native sample (host/sampling/sampler.ts: the tracer
//     stops the threads, the core walks, each thread's registers and stack window are copied, the
//     threads run again, NativeAttribution unwinds and merges, the sample is committed), back to
//     back, each thread's record kept (as --idle: every thread unwound). µs per sample, split into
//     time stopped (pause to resume) and the rest; the remote reads, counted by a reader wrapped
//     around the target's (every process_vm_readv: the core's walk, the host's stack windows and
//     tables) and by the tracer's register reads (PTRACE_GETREGS); the first sample on its own
//     (the unwind tables are read then).
//  2. the syscalls per sample of the real commands, the same way for both tools (when strace is
//     found; on one interpreter): `strace -f -c` of a 1 s `record --native` on native_stacks.py
//     at two rates; the difference over the difference in samples (start-up, the first sample's
//     table reads and the per-second housekeeping cancel out).
//  3. the target's pause per sample, from outside and the same way for both tools:
//     test/fixtures/native_bench.py (the same four threads, one of them counting chunks of a
//     Python busy loop) runs alone, then under `wspy record --native` and `py-spy record --native`
//     (which pauses by default) at RATE for SECONDS, alternating, with the target alone for GAP_S
//     between runs. The samples are counted by the kernel: the work thread's voluntary context
//     switches (a stopped thread switches out once per stop), polled every POLL_MS, which also
//     says when it was being sampled (the recorder's start-up and exit are left out). The work it
//     lost then, set against its rate alone just before and after, is time taken from it; over
//     the samples, the pause per sample. The kernel's own account of the work thread
//     (/proc/PID/task/TID/schedstat: on a CPU, waiting for one) says apart the time it was stopped
//     (neither) and the time it waited for a CPU beyond its share alone (this machine has 2 vCPUs:
//     the recorder busy on one, the target's work on the other, what else runs waits).
//  4. the highest sustained rate: the same at MAX_RATE (more than either reaches): the work
//     thread's stops per second while it was being sampled.
//  5. `dump --native` wall time, spawn to exit, median of DUMPS alternating runs (one warm-up
//     each), beside `node -e 0`.
// Must not know: CPython layouts; what the sampler, the tracer or the unwinder do inside (it calls
// them in sampleProcess's order).
// Source of truth: issue #13 ("npm run bench gains a native part": the figures and the goals).

import { spawn, spawnSync, ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { accessSync, constants, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Target } from "../target/attach.js";
import type { Reader } from "../target/reader.js";
import { Tracer } from "../target/ptrace.js";
import { NativeAttribution } from "../sampling/native.js";
import { PACKAGE_ROOT, R_STATUS, R_KEEP, R_NODE, R_STRIDE, ST_OK } from "../core/core.js";
import { CLI, median } from "./startup.js";

interface Python { label: string; version: string; path: string }

/** samples of the in-process measure (after the first and WARM more) */
const SAMPLES = Number(process.env.WSPY_BENCH_NATIVE_SAMPLES ?? 1000);
const WARM = 20;
/** a stop longer than this is counted apart (a scheduler tick is 4 ms at HZ=250), ms */
const SLOW_MS = 2;
/** the rate and duration of the recordings the pause is measured in */
const RATE = Number(process.env.WSPY_BENCH_NATIVE_RATE ?? 500);
const SECONDS = Number(process.env.WSPY_BENCH_NATIVE_SECONDS ?? 2);
/** the rate asked for the highest sustained rate (more than either tool reaches), and for how long (py-spy takes rate × seconds samples, however long that takes) */
const MAX_RATE = Number(process.env.WSPY_BENCH_NATIVE_MAX_RATE ?? 2000);
const MAX_SECONDS = 1;
const REPEATS = Number(process.env.WSPY_BENCH_REPEATS ?? 3);
const DUMPS = Number(process.env.WSPY_BENCH_NATIVE_DUMPS ?? 5);
/** the target alone between recordings, s */
const GAP_S = 0.7;
/** strace's recordings: 1 s at each of two rates, the difference counted (py-spy takes whole seconds only) */
const STRACE_RATES = [200, 50] as const;

/** wspy's own cost per sample (in-process, native_stacks.py). */
export interface NativeCostRow {
  python: string;
  /** OS threads the tracer holds, and thread records of the walk (Python threads) */
  threads: number; pythonThreads: number;
  samples: number;
  /** a whole sample, µs */
  usPerSampleMedian: number; usPerSampleP99: number;
  /** from the tracer's pause to the end of its resume, µs */
  stoppedUsMedian: number; stoppedUsP99: number;
  /** after the resume: unwind, merge, commit, µs */
  restUsMedian: number;
  /** means, µs (what a recording's own "stopped µs per sample" averages), and the stops longer than SLOW_MS: their share of samples and of the time stopped */
  usPerSampleMean: number; stoppedUsMean: number; slowShare: number; slowTimeShare: number;
  /** p99s, µs, of the phases (where the long stops are) */
  phasesP99Us: { pause: number; walk: number; capture: number; resume: number; unwind: number };
  /** medians, µs: tracer.pause, the core's walk, registers and stack windows, tracer.resume, unwind + merge + commit */
  phasesUs: { pause: number; walk: number; capture: number; resume: number; unwind: number };
  /** per sample at steady state: process_vm_readv by the core (the walk) and by the host (stack windows), PTRACE_GETREGS */
  reads: { walk: number; windows: number; getregs: number; total: number; perThread: number; kibPerSample: number };
  /** the first sample (objects' unwind tables read): µs, remote reads, KiB read */
  first: { us: number; reads: number; kib: number };
  /** thread records not walked, and native errors (frames that did not pair up, windows too short), per sample */
  walkErrorsPerSample: number; nativeErrorsPerSample: number;
  /** threads the tracer could not stop within its wait, per sample */
  latePerSample: number;
  nativeErrors: Record<string, number>;
}

/** Syscalls per sample of a real `record --native` (strace -f -c, the difference of two durations). */
export interface NativeSyscallRow {
  python: string; tool: "wspy" | "py-spy"; rates: number[]; threads: number;
  /** samples taken in the two recordings */
  samples: [number, number];
  perSample: { process_vm_readv: number; ptrace: number; wait4: number; other: number; total: number };
  /** the other syscalls with at least 0.5 per sample */
  others: Record<string, number>;
}

/** One tool against native_bench.py: the pause per sample from outside, the highest rate. */
export interface NativeOutsideRow {
  python: string; tool: "wspy" | "py-spy"; rate: number; seconds: number; threads: number;
  /** per recording at RATE: samples taken (the work thread's stops; the tool's own count), per second while sampling, the figures per sample (µs) */
  runs: { samples: number; toolSamples: number; samplesPerSecond: number; lostUs: number; offCpuUs: number; waitUs: number; noiseUs: number; ownPauseUs: number | null }[];
  /** medians of the runs */
  samplesPerSecond: number; lostUsPerSample: number; offCpuUsPerSample: number; waitUsPerSample: number; noiseUs: number;
  /** wspy's own figure (its summary: the threads stopped, µs per sample), median; null for py-spy */
  ownPauseUs: number | null;
  /** at MAX_RATE: samples per second of the recording, and the lost time per sample there */
  maxRate: number; maxSeconds: number; maxSamplesPerSecond: number; maxLostUsPerSample: number; maxOffCpuUsPerSample: number;
  /** samples per second of each recording at MAX_RATE */
  maxRuns: number[];
}

export interface NativeDumpRow {
  python: string; runs: number; wspyMs: number; pyspyMs: number | null;
  /** runs that exited non-zero, by tool, and the first one's last line of stderr */
  failures: { wspy: number; pyspy: number; first: string };
  /** node -e 0 in the same loop (Node's own start-up) */
  nodeMs: number;
}

export interface NativeReport {
  pyspy: { path: string; version: string } | null;
  strace: boolean;
  rate: number; seconds: number; maxRate: number; repeats: number; samples: number;
  cost: NativeCostRow[]; syscalls: NativeSyscallRow[]; outside: NativeOutsideRow[]; dumps: NativeDumpRow[];
  /** how long the part took, s */
  elapsedSec: number;
  /** the machine's 1-minute load average at the start and the end of the part, and its CPUs */
  loadAvg: [number, number]; cpus: number;
  skipped: string[];
}

/** A py-spy with --native: $WSPY_BENCH_PYSPY, else the first on PATH. */
export function findPyspy(): { path: string; version: string } | null {
  const env = process.env.WSPY_BENCH_PYSPY;
  const candidates = env ? [env] : (process.env.PATH ?? "").split(":").filter(Boolean).map((d) => path.join(d, "py-spy"));
  for (const c of candidates) {
    try { accessSync(c, constants.X_OK); } catch { continue; }
    const help = spawnSync(c, ["record", "--help"], { encoding: "utf8" });
    if (help.status !== 0 || !/--native/.test(help.stdout ?? "")) continue;
    const version = (spawnSync(c, ["--version"], { encoding: "utf8" }).stdout ?? "").trim();
    return { path: c, version };
  }
  return null;
}

function hasStrace(): boolean {
  return spawnSync("strace", ["-V"], { stdio: "ignore" }).status === 0;
}

/** Starts fixture with the spinext directory on PYTHONPATH; resolves once it prints "ready", with all it prints so far and later. */
function startFixture(py: Python, spinext: string, fixture: string, args: string[]): Promise<{ child: ChildProcess; out: { text: string } }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, PYTHONPATH: spinext, PYTHONDONTWRITEBYTECODE: "1" };
    const child = spawn(py.path, [path.join(PACKAGE_ROOT, "test", "fixtures", fixture), ...args], { stdio: ["ignore", "pipe", "inherit"], env });
    const out = { text: "" };
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => { out.text += d; if (/^ready$/m.test(out.text)) resolve({ child, out }); });
    child.on("exit", (c) => { if (!/^ready$/m.test(out.text)) reject(new Error(`${fixture} exited ${c}`)); });
  });
}

const us = (ms: number) => +(ms * 1000).toFixed(1);
const pct = (sorted: Float64Array, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];

/** 1. wspy's own cost per --native sample, in-process (sampleProcess's steps, back to back). */
async function costInProcess(py: Python, pid: number): Promise<NativeCostRow> {
  const counted = { calls: 0, bytes: 0 };
  const target = await Target.attach(pid, {
    wrapReader: (r: Reader): Reader => ({
      native: r.native,
      readv(local: number, remote: number, count: number): number {
        counted.calls++;
        const got = r.readv(local, remote, count);
        if (got > 0) counted.bytes += got;
        return got;
      },
      close: () => r.close(),
    }),
  });
  const tracer = new Tracer(pid);
  let attr: NativeAttribution | null = null;
  try {
    tracer.attach();
    let getregs = 0;
    const regs = tracer.regs.bind(tracer);
    tracer.regs = (tid: number, out: BigUint64Array): boolean => { getregs++; return regs(tid, out); };
    const core = target.core, x = core.x;
    attr = new NativeAttribution(target, tracer, false);
    const ph = { pause: new Float64Array(SAMPLES), walk: new Float64Array(SAMPLES), capture: new Float64Array(SAMPLES), resume: new Float64Array(SAMPLES), unwind: new Float64Array(SAMPLES) };
    const total = new Float64Array(SAMPLES), stopped = new Float64Array(SAMPLES);
    let walkErrors = 0, records = 0, nativeErrorCount = 0;
    const nativeErrors: Record<string, number> = {};
    let pythonThreads = 0;
    const one = (i: number, k: number): void => {
      const t0 = performance.now();
      tracer.pause();
      const t1 = performance.now();
      let n = -1, t2 = t1, t3 = t1;
      try {
        attr!.plan();
        n = x.walkSample();
        t2 = performance.now();
        attr!.capture();
        t3 = performance.now();
      } finally {
        tracer.resume();
      }
      const t4 = performance.now();
      const v = core.i32(), base = x.walkResultsPtr() >> 2;
      for (let r = 0; r < n; r++) {
        const rec = base + r * R_STRIDE;
        const ok = v[rec + R_STATUS] === ST_OK;
        if (!ok && k >= 0) walkErrors++;
        v[rec + R_KEEP] = ok && v[rec + R_NODE] >= 0 ? 1 : 0; // every thread kept (as --idle)
      }
      const res = attr!.attribute(base, R_STRIDE, Math.max(0, n), true, () => true);
      for (const s of res.samples) x.pushSample(i, 0.001, s.thread, s.node);
      x.walkCommit(i, 0.001);
      const t5 = performance.now();
      if (k < 0) return;
      records += Math.max(0, n);
      pythonThreads = Math.max(pythonThreads, n);
      for (const [kind, c] of res.errors) { nativeErrors[kind] = (nativeErrors[kind] ?? 0) + c; nativeErrorCount += c; }
      ph.pause[k] = t1 - t0; ph.walk[k] = t2 - t1; ph.capture[k] = t3 - t2; ph.resume[k] = t4 - t3; ph.unwind[k] = t5 - t4;
      stopped[k] = t4 - t0; total[k] = t5 - t0;
    };
    // the first sample: the objects' unwind tables are read and registered
    const c0 = counted.calls, b0 = counted.bytes, f0 = performance.now();
    one(0, -1);
    const first = { us: us(performance.now() - f0), reads: counted.calls - c0, kib: +((counted.bytes - b0) / 1024).toFixed(0) };
    for (let i = 1; i <= WARM; i++) one(i, -1);
    const calls0 = counted.calls, bytes0 = counted.bytes, core0 = x.readCallCount(), regs0 = getregs, late0 = tracer.late;
    for (let k = 0; k < SAMPLES; k++) one(WARM + 1 + k, k);
    const coreReads = x.readCallCount() - core0, allReads = counted.calls - calls0, regReads = getregs - regs0;
    const threads = tracer.threadIds().length;
    const med = (a: Float64Array) => us(median(Array.from(a)));
    const mean = (a: Float64Array) => a.reduce((x, y) => x + y, 0) / a.length;
    const slow = Array.from(stopped).filter((t) => t > SLOW_MS);
    const p99 = (a: Float64Array) => us(pct(Float64Array.from(a).sort(), 0.99));
    const usPerSampleMean = us(mean(total)), stoppedUsMean = us(mean(stopped));
    const slowShare = +(slow.length / SAMPLES).toFixed(4), slowTimeShare = +(slow.reduce((x, y) => x + y, 0) / (mean(stopped) * SAMPLES)).toFixed(3);
    const phasesP99Us = { pause: p99(ph.pause), walk: p99(ph.walk), capture: p99(ph.capture), resume: p99(ph.resume), unwind: p99(ph.unwind) };
    total.sort(); stopped.sort();
    const per = (c: number) => +(c / SAMPLES).toFixed(2);
    void records;
    return {
      python: py.label, threads, pythonThreads, samples: SAMPLES,
      usPerSampleMedian: us(total[SAMPLES >> 1]), usPerSampleP99: us(pct(total, 0.99)),
      stoppedUsMedian: us(stopped[SAMPLES >> 1]), stoppedUsP99: us(pct(stopped, 0.99)),
      restUsMedian: med(ph.unwind),
      usPerSampleMean, stoppedUsMean, slowShare, slowTimeShare, phasesP99Us,
      phasesUs: { pause: med(ph.pause), walk: med(ph.walk), capture: med(ph.capture), resume: med(ph.resume), unwind: med(ph.unwind) },
      reads: {
        walk: per(coreReads), windows: per(allReads - coreReads), getregs: per(regReads), total: per(allReads + regReads),
        perThread: +((allReads + regReads) / SAMPLES / Math.max(1, threads)).toFixed(2),
        kibPerSample: +((counted.bytes - bytes0) / SAMPLES / 1024).toFixed(1),
      },
      first,
      latePerSample: +((tracer.late - late0) / SAMPLES).toFixed(4),
      walkErrorsPerSample: +(walkErrors / SAMPLES).toFixed(3), nativeErrorsPerSample: +(nativeErrorCount / SAMPLES).toFixed(3), nativeErrors,
    };
  } finally {
    attr?.close();
    tracer.detach();
    target.close();
  }
}

/** Samples taken by a py-spy recording: the samples of a thread that runs at every sample (its raw output), plus its errors. */
function pyspySamples(rawFile: string, marker: string, stderr: string): number {
  let n = 0;
  try {
    for (const line of readFileSync(rawFile, "utf8").split("\n")) {
      if (!line.includes(marker)) continue;
      const m = / (\d+)$/.exec(line);
      if (m) n += Number(m[1]);
    }
  } catch { /* no output: none */ }
  const errors = Number(/Errors: (\d+)/.exec(stderr)?.[1] ?? 0);
  return n + errors;
}

/** Samples taken by a wspy recording (its summary's ticks: one pause each), and its own pause figure. */
function wspySamples(stderr: string): { samples: number; ownPauseUs: number | null } {
  const ticks = /(\d+) ticks at/.exec(stderr);
  const pause = /stopped (\d+) µs per sample/.exec(stderr);
  return { samples: ticks ? Number(ticks[1]) : NaN, ownPauseUs: pause ? Number(pause[1]) : null };
}

interface Recording { ok: boolean; samples: number; ownPauseUs: number | null; stderr: string }

/** The command line of one `record --native` (raw output to out). */
function recordArgs(tool: "wspy" | "py-spy", pyspy: string | null, pid: number, rate: number, seconds: number, out: string): string[] {
  return tool === "wspy"
    ? [process.execPath, CLI, "record", "--native", "-p", String(pid), "-r", String(rate), "-d", String(seconds), "-f", "raw", "-o", out]
    : [pyspy!, "record", "--native", "-p", String(pid), "-r", String(rate), "-d", String(seconds), "-f", "raw", "-o", out];
}

/** Runs one `record --native` of tool (spawnSync) and counts the samples it took; marker: a frame of a thread that runs at every sample. */
function record(tool: "wspy" | "py-spy", pyspy: string | null, pid: number, rate: number, seconds: number, out: string, marker: string, prefix: string[] = []): Recording {
  const args = recordArgs(tool, pyspy, pid, rate, seconds, out);
  rmSync(out, { force: true });
  const all = [...prefix, ...args];
  const r = spawnSync(all[0], all.slice(1), { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  const stderr = r.stderr ?? "";
  const got = tool === "wspy" ? wspySamples(stderr) : { samples: pyspySamples(out, marker, stderr), ownPauseUs: null };
  return { ok: r.status === 0, ...got, stderr };
}

/** strace -f -c's table: calls by syscall. */
function straceTable(file: string): Map<string, number> {
  const calls = new Map<string, number>();
  let text = "";
  try { text = readFileSync(file, "utf8"); } catch { return calls; }
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^[\d.]+$/.test(f[0])) continue;
    const name = f[f.length - 1];
    if (name === "total") continue;
    calls.set(name, Number(f[3]));
  }
  return calls;
}

/** 2. Syscalls per sample of the real command: 1 s at two rates under strace -f -c, the difference. */
function syscallsPerSample(py: Python, tool: "wspy" | "py-spy", pyspy: string | null, pid: number, threads: number, dir: string): NativeSyscallRow | null {
  const table = path.join(dir, `strace-${process.pid}.txt`), raw = path.join(dir, `native-strace-${process.pid}.txt`);
  const runs = STRACE_RATES.map((rate) => {
    rmSync(table, { force: true });
    const rec = record(tool, pyspy, pid, rate, 1, raw, "gen_spin", ["strace", "-f", "-c", "-o", table]);
    return { rec, calls: straceTable(table) };
  });
  rmSync(table, { force: true });
  rmSync(raw, { force: true });
  const [long, short] = runs;
  const ds = long.rec.samples - short.rec.samples;
  if (!long.rec.ok || !short.rec.ok || !(ds > 0)) return null;
  const names = new Set([...long.calls.keys(), ...short.calls.keys()]);
  const per = (name: string) => ((long.calls.get(name) ?? 0) - (short.calls.get(name) ?? 0)) / ds;
  let total = 0;
  const others: Record<string, number> = {};
  for (const name of names) {
    const p = per(name);
    total += p;
    if (!["process_vm_readv", "ptrace", "wait4"].includes(name) && p >= 0.5) others[name] = +p.toFixed(2);
  }
  const main = per("process_vm_readv") + per("ptrace") + per("wait4");
  const r2 = (x: number) => +x.toFixed(2);
  return {
    python: py.label, tool, rates: [...STRACE_RATES], threads, samples: [long.rec.samples, short.rec.samples],
    perSample: { process_vm_readv: r2(per("process_vm_readv")), ptrace: r2(per("ptrace")), wait4: r2(per("wait4")), other: r2(total - main), total: r2(total) },
    others,
  };
}

/** 5. dump --native, wall ms spawn to exit: median of DUMPS alternating runs after one warm-up each, beside node -e 0. */
function dumps(py: Python, pyspy: string | null, pid: number): NativeDumpRow {
  const timed = (args: string[]): { ms: number; ok: boolean; why: string } => {
    const t0 = performance.now();
    const r = spawnSync(args[0], args.slice(1), { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
    const ms = performance.now() - t0;
    return { ms, ok: r.status === 0, why: r.status === 0 ? "" : (r.stderr ?? "").trim().split("\n").slice(-1)[0] ?? `exit ${r.status}` };
  };
  const w = [process.execPath, CLI, "dump", "--native", "-p", String(pid)];
  const p = pyspy ? [pyspy, "dump", "--native", "--pid", String(pid)] : null;
  timed(w);
  if (p) timed(p);
  const wMs: number[] = [], pMs: number[] = [], nMs: number[] = [];
  const failures = { wspy: 0, pyspy: 0, first: "" };
  const count = (tool: "wspy" | "pyspy", r: { ok: boolean; why: string }) => {
    if (r.ok) return;
    failures[tool]++;
    if (!failures.first) failures.first = `${tool === "wspy" ? "wspy" : "py-spy"}: ${r.why}`;
  };
  for (let i = 0; i < DUMPS; i++) {
    nMs.push(timed([process.execPath, "-e", "0"]).ms);
    const a = timed(w);
    wMs.push(a.ms);
    count("wspy", a);
    if (p) {
      const b = timed(p);
      pMs.push(b.ms);
      count("pyspy", b);
    }
  }
  return { python: py.label, runs: DUMPS, wspyMs: +median(wMs).toFixed(1), pyspyMs: p ? +median(pMs).toFixed(1) : null, failures, nodeMs: +median(nMs).toFixed(1) };
}

/**
 * A point in time (CLOCK_MONOTONIC, s) with the work thread's kernel account: schedstat (on a CPU,
 * waiting for one; s) and its voluntary context switches (a stopped thread switches out once per
 * stop: the samples taken, counted from outside).
 */
interface Mark { t: number; run: number; wait: number; stops: number }
function mark(pid: number, tid: number): Mark {
  const t = Number(process.hrtime.bigint()) / 1e9;
  let run = NaN, wait = NaN, stops = NaN;
  try {
    const f = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").trim().split(/\s+/);
    run = Number(f[0]) / 1e9;
    wait = Number(f[1]) / 1e9;
    stops = Number(/^voluntary_ctxt_switches:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"))?.[1] ?? NaN);
  } catch { /* gone: NaN */ }
  return { t, run, wait, stops };
}

/** The target alone (tool null), or one recording: from spawn to exit, and the part of it in which the target was sampled. */
interface Segment { tool: "wspy" | "py-spy" | null; rate: number; from: Mark; to: Mark; rec?: Recording; sampled?: { from: Mark; to: Mark; rate: number } }

/** The work done by time t (chunks), interpolated in the target's "w T N" series. */
function workAt(series: [number, number][], t: number): number {
  let lo = 0, hi = series.length - 1;
  if (hi < 0 || t <= series[0][0] || t >= series[hi][0]) return NaN;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (series[mid][0] <= t) lo = mid; else hi = mid;
  }
  const [t0, n0] = series[lo], [t1, n1] = series[hi];
  return n0 + ((n1 - n0) * (t - t0)) / (t1 - t0);
}

/**
 * When the target was being sampled: from the first POLL_MS interval in which the work thread
 * stopped to the end of the last (the recorder's start-up and exit left out), and its stops per
 * second between those two intervals (both left out: partly outside).
 */
function sampling(polls: Mark[]): { from: Mark; to: Mark; rate: number } {
  const iv = polls.slice(1).map((p, i) => ({ dt: p.t - polls[i].t, n: p.stops - polls[i].stops }));
  let first = -1, last = -1;
  iv.forEach((x, i) => { if (x.n > 0) { if (first < 0) first = i; last = i; } });
  if (first < 0) return { from: polls[0], to: polls[polls.length - 1], rate: 0 };
  const inner = last - first >= 2 ? iv.slice(first + 1, last) : iv.slice(first, last + 1);
  const n = inner.reduce((a, x) => a + x.n, 0), dt = inner.reduce((a, x) => a + x.dt, 0);
  return { from: polls[first], to: polls[last + 1], rate: dt > 0 ? n / dt : NaN };
}
const POLL_MS = 20;
/** py-spy's recordings are stopped this long after their duration (start-up is about 0.1 to 0.3 s), s */
const PYSPY_GRACE_S = 0.5;

/** One recording, its window marked and the work thread's stops polled every POLL_MS while it runs. */
async function recordPolled(tool: "wspy" | "py-spy", pyspy: string | null, pid: number, tid: number, rate: number, seconds: number, out: string): Promise<Segment> {
  const args = recordArgs(tool, pyspy, pid, rate, seconds, out);
  rmSync(out, { force: true });
  const from = mark(pid, tid);
  const polls: Mark[] = [from];
  const child = spawn(args[0], args.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => (stderr += d));
  const timer = setInterval(() => polls.push(mark(pid, tid)), POLL_MS);
  // py-spy takes rate × seconds samples however long that takes: stopped (as by Control-C: it
  // writes what it has) once it has had its seconds and a start-up's worth more
  const watchdog = tool === "py-spy" ? setTimeout(() => child.kill("SIGINT"), (seconds + PYSPY_GRACE_S) * 1000) : null;
  const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
  clearInterval(timer);
  if (watchdog) clearTimeout(watchdog);
  const to = mark(pid, tid);
  polls.push(to);
  const got = tool === "wspy" ? wspySamples(stderr) : { samples: pyspySamples(out, "work_loop", stderr), ownPauseUs: null };
  return { tool, rate, from, to, rec: { ok: code === 0, ...got, stderr }, sampled: sampling(polls) };
}

/** 3 and 4. native_bench.py under each tool, alternating with the target alone. */
async function outside(py: Python, spinext: string, pyspy: string | null, dir: string): Promise<NativeOutsideRow[]> {
  const { child, out } = await startFixture(py, spinext, "native_bench.py", ["600"]);
  try {
    const pid = child.pid!;
    const tid = Number(/^work (\d+)$/m.exec(out.text)?.[1]);
    const file = path.join(dir, `native-out-${process.pid}.txt`);
    const tools: ("wspy" | "py-spy")[] = pyspy ? ["wspy", "py-spy"] : ["wspy"];
    const threads = readdirSync(`/proc/${pid}/task`).length;
    const segs: Segment[] = [];
    await sleep(300); // the work's first reports
    let at = mark(pid, tid);
    const alone = async () => {
      await sleep(GAP_S * 1000);
      const to = mark(pid, tid);
      segs.push({ tool: null, rate: 0, from: at, to });
      at = to;
    };
    const run = async (tool: "wspy" | "py-spy", rate: number, seconds: number) => {
      const s = await recordPolled(tool, pyspy, pid, tid, rate, seconds, file);
      segs.push(s);
      at = s.to;
    };
    await alone();
    for (let k = 0; k < REPEATS; k++) {
      for (const tool of tools) { await run(tool, RATE, SECONDS); await alone(); }
      for (const tool of tools) { await run(tool, MAX_RATE, MAX_SECONDS); await alone(); }
    }
    await sleep(200); // a report past the last mark
    const series: [number, number][] = [];
    for (const m of out.text.matchAll(/^w ([\d.]+) (\d+)$/gm)) series.push([Number(m[1]), Number(m[2])]);
    const wallOf = (s: { from: Mark; to: Mark }) => s.to.t - s.from.t;
    const rateOf = (s: { from: Mark; to: Mark }) => (workAt(series, s.to.t) - workAt(series, s.from.t)) / wallOf(s);
    const frac = (s: { from: Mark; to: Mark }, f: (m: Mark) => number) => (f(s.to) - f(s.from)) / wallOf(s);
    const offOf = (m: Mark) => m.t - m.run - m.wait;
    const measured = segs.map((seg, i) => {
      if (!seg.tool) return null;
      const before = segs[i - 1], after = segs[i + 1];
      const aloneRate = (rateOf(before) + rateOf(after)) / 2;
      const s = { ...seg, ...seg.sampled! }; // the part in which the target was being sampled
      const wall = wallOf(s);
      const base = (f: (m: Mark) => number) => (frac(before, f) + frac(after, f)) / 2;
      // the samples: the work thread's stops, less what it does alone (about none)
      const n = s.to.stops - s.from.stops - base((m) => m.stops) * wall;
      const lost = wall - (workAt(series, s.to.t) - workAt(series, s.from.t)) / aloneRate;
      const off = (frac(s, offOf) - base(offOf)) * wall;
      // waiting for a CPU beyond what it waits alone: alone, this share of its runnable time
      // (running or waiting) was spent waiting; a stopped thread cannot wait, so the share
      // applies to the time it was runnable in the run
      const runnable = (x: { from: Mark; to: Mark }) => (x.to.run - x.from.run) + (x.to.wait - x.from.wait);
      const waitShare = ((before.to.wait - before.from.wait) + (after.to.wait - after.from.wait)) / (runnable(before) + runnable(after));
      const wait = (s.to.wait - s.from.wait) - waitShare * runnable(s);
      // the rates alone before and after differ by this much: its share of the run's wall time, per sample
      const noise = Math.abs(rateOf(before) / rateOf(after) - 1) * wall;
      const perSample = (x: number) => +((x / n) * 1e6).toFixed(0);
      return {
        seg, samples: Math.round(n), toolSamples: seg.rec!.samples, samplesPerSecond: Math.round(s.rate),
        lostUs: perSample(lost), offCpuUs: perSample(off), waitUs: perSample(wait), noiseUs: perSample(noise), ownPauseUs: seg.rec!.ownPauseUs,
      };
    });
    const rows: NativeOutsideRow[] = [];
    for (const tool of tools) {
      const runs = measured.filter((m) => m && m.seg.tool === tool && m.seg.rate === RATE).map((m) => m!);
      const maxRuns = measured.filter((m) => m && m.seg.tool === tool && m.seg.rate === MAX_RATE).map((m) => m!);
      const failed = [...runs, ...maxRuns].filter((m) => !m.seg.rec!.ok);
      if (failed.length) process.stderr.write(`native: ${tool} failed ${failed.length} time(s): ${failed[0].seg.rec!.stderr.trim().split("\n").slice(-2).join(" / ")}\n`);
      const med = (f: (m: typeof runs[number]) => number, of = runs) => median(of.map(f));
      const own = runs.map((m) => m.ownPauseUs).filter((x): x is number => x !== null);
      rows.push({
        python: py.label, tool, rate: RATE, seconds: SECONDS, threads,
        runs: runs.map(({ samples, toolSamples, samplesPerSecond, lostUs, offCpuUs, waitUs, noiseUs, ownPauseUs }) => ({ samples, toolSamples, samplesPerSecond, lostUs, offCpuUs, waitUs, noiseUs, ownPauseUs })),
        samplesPerSecond: med((m) => m.samplesPerSecond),
        lostUsPerSample: med((m) => m.lostUs), offCpuUsPerSample: med((m) => m.offCpuUs), waitUsPerSample: med((m) => m.waitUs), noiseUs: med((m) => m.noiseUs),
        ownPauseUs: own.length ? median(own) : null,
        maxRate: MAX_RATE, maxSeconds: MAX_SECONDS, maxSamplesPerSecond: med((m) => m.samplesPerSecond, maxRuns), maxLostUsPerSample: med((m) => m.lostUs, maxRuns), maxOffCpuUsPerSample: med((m) => m.offCpuUs, maxRuns),
        maxRuns: maxRuns.map((m) => m.samplesPerSecond),
      });
    }
    rmSync(file, { force: true });
    return rows;
  } finally {
    child.kill("SIGKILL");
  }
}

/** The native part: every figure for each interpreter (those of WANT the caller picked). */
export async function benchNative(pythons: Python[], log: (s: string) => void): Promise<NativeReport> {
  const t0 = performance.now();
  const dir = path.join(PACKAGE_ROOT, "build", "bench");
  mkdirSync(dir, { recursive: true });
  const pyspy = findPyspy();
  const strace = hasStrace();
  const helpers = await import(pathToFileURL(path.join(PACKAGE_ROOT, "test", "helpers", "native.mjs")).href);
  const report: NativeReport = { pyspy, strace, rate: RATE, seconds: SECONDS, maxRate: MAX_RATE, repeats: REPEATS, samples: SAMPLES, cost: [], syscalls: [], outside: [], dumps: [], elapsedSec: 0, loadAvg: [NaN, NaN], cpus: os.cpus().length, skipped: [] };
  report.loadAvg[0] = +os.loadavg()[0].toFixed(2);
  log(`native: py-spy ${pyspy ? `${pyspy.version} (${pyspy.path})` : "not found (set WSPY_BENCH_PYSPY or put py-spy on PATH)"}; strace ${strace ? "found" : "not found: no syscall counts"}`);
  // the syscall counts (the same for every interpreter but a little): on one, 3.12 where there is one
  const straceOn = pythons.find((p) => p.version.startsWith("3.12.")) ?? pythons[0];
  for (const py of pythons) {
    let spinext: string;
    try {
      spinext = helpers.buildSpinext(py) as string;
    } catch (e) {
      report.skipped.push(`${py.label}: ${(e as Error).message.split("\n")[0]}`);
      log(`native: ${py.label} skipped: spinext does not build`);
      continue;
    }
    const { child } = await startFixture(py, spinext, "native_stacks.py", ["stacks", "600"]);
    try {
      const pid = child.pid!;
      const c = await costInProcess(py, pid);
      report.cost.push(c);
      log(`${c.python} --native in-process (${c.threads} threads, ${c.pythonThreads} Python): ${c.usPerSampleMedian} µs/sample (p99 ${c.usPerSampleP99}; ${(c.usPerSampleMedian / c.threads).toFixed(1)} per thread), stopped ${c.stoppedUsMedian} (p99 ${c.stoppedUsP99}, mean ${c.stoppedUsMean}; ${(c.slowShare * 100).toFixed(1)}% of stops over ${SLOW_MS} ms, ${(c.slowTimeShare * 100).toFixed(0)}% of the time stopped; p99 of pause ${c.phasesP99Us.pause}, regs+windows ${c.phasesP99Us.capture}, resume ${c.phasesP99Us.resume}) ` +
        `[pause ${c.phasesUs.pause}, walk ${c.phasesUs.walk}, regs+windows ${c.phasesUs.capture}, resume ${c.phasesUs.resume}], then ${c.restUsMedian} unwinding and merging; ` +
        `reads/sample: walk ${c.reads.walk}, windows ${c.reads.windows}, GETREGS ${c.reads.getregs} = ${c.reads.total} (${c.reads.perThread} per thread, ${c.reads.kibPerSample} KiB); ` +
        `first sample ${c.first.us} µs, ${c.first.reads} reads, ${c.first.kib} KiB; errors per sample: walk ${c.walkErrorsPerSample}, native ${c.nativeErrorsPerSample}, threads not stopped in time ${c.latePerSample}`);
      if (strace && py === straceOn) {
        for (const tool of pyspy ? ["wspy", "py-spy"] as const : ["wspy"] as const) {
          const s = syscallsPerSample(py, tool, pyspy?.path ?? null, pid, c.threads, dir);
          if (!s) { log(`${py.label} ${tool} under strace: no figures (a recording failed)`); continue; }
          report.syscalls.push(s);
          log(`${s.python} ${s.tool} record --native under strace -f -c, per sample: process_vm_readv ${s.perSample.process_vm_readv}, ptrace ${s.perSample.ptrace}, wait4 ${s.perSample.wait4}, other ${s.perSample.other} (${Object.entries(s.others).map(([k, v]) => `${k} ${v}`).join(", ")}); ${s.perSample.total} in all`);
        }
      }
      const d = dumps(py, pyspy?.path ?? null, pid);
      report.dumps.push(d);
      log(`${d.python} dump --native (median of ${d.runs}): wspy ${d.wspyMs} ms (node -e 0: ${d.nodeMs} ms)${d.pyspyMs !== null ? `, py-spy ${d.pyspyMs} ms` : ""}${d.failures.wspy + d.failures.pyspy ? `; failed: wspy ${d.failures.wspy}, py-spy ${d.failures.pyspy} (${d.failures.first})` : ""}`);
    } finally {
      child.kill("SIGKILL");
    }
    for (const o of await outside(py, spinext, pyspy?.path ?? null, dir)) {
      report.outside.push(o);
      log(`${o.python} ${o.tool} record --native -r ${o.rate} -d ${o.seconds} on native_bench.py: ${o.samplesPerSecond} samples/s; the target lost ${o.lostUsPerSample} µs of work per sample (runs ${o.runs.map((r) => r.lostUs).join(", ")}; ±${o.noiseUs}), ` +
        `stopped ${o.offCpuUsPerSample} µs (runs ${o.runs.map((r) => r.offCpuUs).join(", ")}), waited for a CPU ${o.waitUsPerSample} µs${o.ownPauseUs !== null ? `; wspy's own figure ${o.ownPauseUs} µs` : ""}; ` +
        `at -r ${o.maxRate}: ${o.maxSamplesPerSecond} samples/s (runs ${o.maxRuns.join(", ")}), lost ${o.maxLostUsPerSample} µs/sample, stopped ${o.maxOffCpuUsPerSample}`);
    }
  }
  report.elapsedSec = +((performance.now() - t0) / 1000).toFixed(1);
  report.loadAvg[1] = +os.loadavg()[0].toFixed(2);
  log(`native: the part took ${report.elapsedSec} s; load average (1 min) ${report.loadAvg[0]} at its start, ${report.loadAvg[1]} at its end (${os.cpus().length} CPUs)`);
  return report;
}

/** The native part's section of report.md. */
export function nativeMarkdown(r: NativeReport): string[] {
  if (!r.cost.length && !r.outside.length) return r.skipped.length ? ["", `\`--native\`: not measured (${r.skipped.join("; ")}).`] : [];
  const peer = r.pyspy ? `py-spy ${r.pyspy.version.replace(/^py-spy /, "")}` : "py-spy (not found: set WSPY_BENCH_PYSPY)";
  const ratio = (a: number, b: number | undefined) => (b && b > 0 ? `×${(a / b).toFixed(2)}` : "-");
  const lines = ["", "`--native` (issue #13). wspy's own cost per sample, in-process against test/fixtures/native_stacks.py (4 threads: main under a C callback, one spinning in C without the GIL, a generator sleeping, a C-only pthread): " +
    `sampleProcess's steps back to back, every thread unwound (as --idle), median of ${r.samples} samples after the first and ${WARM} more. ` +
    "Stopped: from the tracer's pause to the end of its resume (pause, the walk, registers + stack windows, resume); unwind+merge: after the resume, with the threads running (with the commit). " +
    "Reads: process_vm_readv calls, counted by a reader wrapped around the target's (walk: the core's; windows: the host's), plus PTRACE_GETREGS calls; per thread: over the 4 threads the tracer holds. " +
    `Stops over ${SLOW_MS} ms: their share of the samples, and of the time stopped (the mean, what a recording's own figure averages, beside the median). ` +
    "First sample: the objects' unwind tables are read then.", "",
    `| python | µs/sample (median) | p99 | per thread | stopped (median) | stopped p99 | stopped mean | stops over ${SLOW_MS} ms: samples, time | pause / walk / regs+windows / resume (p99 of pause, resume) | unwind+merge | reads/sample: walk + windows + GETREGS | reads per thread | KiB/sample | first sample: µs, reads, KiB | native errors/sample |`,
    "|---|---:|---:|---:|---:|---:|---:|---|---|---:|---|---:|---:|---|---:|",
    ...r.cost.map((c) => `| ${c.python} | ${c.usPerSampleMedian} | ${c.usPerSampleP99} | ${(c.usPerSampleMedian / c.threads).toFixed(1)} | ${c.stoppedUsMedian} | ${c.stoppedUsP99} | ${c.stoppedUsMean} | ${(c.slowShare * 100).toFixed(1)}%, ${(c.slowTimeShare * 100).toFixed(0)}% | ${c.phasesUs.pause} / ${c.phasesUs.walk} / ${c.phasesUs.capture} / ${c.phasesUs.resume} (${c.phasesP99Us.pause}, ${c.phasesP99Us.resume}) | ${c.restUsMedian} | ${c.reads.walk} + ${c.reads.windows} + ${c.reads.getregs} = ${c.reads.total} | ${c.reads.perThread} | ${c.reads.kibPerSample} | ${c.first.us}, ${c.first.reads}, ${c.first.kib} | ${c.nativeErrorsPerSample} |`)];
  if (r.syscalls.length) {
    lines.push("", `Syscalls per sample of the real \`record --native\` on the same target (one interpreter: 3.12 where there is one), the same way for both tools: \`strace -f -c\` of a 1 s recording at -r ${STRACE_RATES[0]} less one at -r ${STRACE_RATES[1]}, over the difference in samples (start-up, the first sample and the per-second housekeeping cancel out; wspy's samples: its summary's ticks; py-spy's: those of the thread spinning in C, plus its errors). Per thread: over the target's 4 threads.`, "",
      "| python | tool | process_vm_readv | ptrace | wait4 | other | in all | per thread | others ≥ 0.5 |", "|---|---|---:|---:|---:|---:|---:|---:|---|",
      ...r.syscalls.map((s) => `| ${s.python} | ${s.tool} | ${s.perSample.process_vm_readv} | ${s.perSample.ptrace} | ${s.perSample.wait4} | ${s.perSample.other} | ${s.perSample.total} | ${(s.perSample.total / s.threads).toFixed(2)} | ${Object.entries(s.others).map(([k, v]) => `${k} ${v}`).join(", ")} |`));
  }
  if (r.outside.length) {
    lines.push("", `The target's pause per sample, from outside, the same way for wspy and ${peer}: test/fixtures/native_bench.py (the same 4 threads, one of them counting chunks of a Python busy loop instead of spinning in C) under \`record --native -r ${r.rate} -d ${r.seconds}\` ` +
      `and \`-r ${r.maxRate} -d ${r.outside[0]?.maxSeconds ?? 1}\` (the highest rate), ${r.repeats} recordings of each per tool, alternating, the target alone ${GAP_S} s before and after each; medians of the runs. ` +
      `py-spy takes rate × seconds samples however long that takes: it is stopped (SIGINT, as by Control-C) ${PYSPY_GRACE_S} s after its duration. ` +
      `Samples: the work thread's stops, counted by the kernel (its voluntary context switches: one per stop), polled every ${POLL_MS} ms: the figures are over the part of each recording in which it was stopped at all (the recorder's start-up and exit left out); samples/s: its stops per second there. ` +
      "Lost: the seconds of work it did not do there, against its rate alone before and after, per sample (±: how far those two rates differ, in the same units: other work on this machine). " +
      "Stopped and waited: the kernel's account of the work thread (schedstat) over the same part, per sample: neither running nor runnable (stopped), and runnable without a CPU beyond its share alone (waited: the recorder's own CPU, and the other threads woken by each stop, on 2 vCPUs). " +
      `dump --native: wall time, spawn to exit, against native_stacks.py, median of ${DUMPS} alternating runs after one each (wspy's includes Node's start-up: \`node -e 0\` beside it).`, "",
      `| python | tool | samples/s at -r ${r.rate} | lost µs/sample (runs; ±) | stopped µs/sample (runs) | waited for a CPU µs/sample | lost, wspy ÷ py-spy | stopped, wspy ÷ py-spy | wspy's own figure | highest rate /s (runs) | lost / stopped µs/sample there | dump --native ms |`,
      "|---|---|---:|---|---|---:|---:|---:|---:|---|---|---:|",
      ...r.outside.map((o) => {
        const p = r.outside.find((x) => x.python === o.python && x.tool === "py-spy");
        const d = r.dumps.find((x) => x.python === o.python);
        const mine = o.tool === "wspy";
        const dumpMs = mine ? (d ? `${d.wspyMs} (node -e 0: ${d.nodeMs})` : "-") : (d?.pyspyMs ?? "-");
        return `| ${o.python} | ${o.tool} | ${o.samplesPerSecond} | ${o.lostUsPerSample} (${o.runs.map((x) => x.lostUs).join(", ")}; ±${o.noiseUs}) | ${o.offCpuUsPerSample} (${o.runs.map((x) => x.offCpuUs).join(", ")}) | ${o.waitUsPerSample} | ` +
          `${mine ? ratio(o.lostUsPerSample, p?.lostUsPerSample) : ""} | ${mine ? ratio(o.offCpuUsPerSample, p?.offCpuUsPerSample) : ""} | ${o.ownPauseUs ?? "-"} | ${o.maxSamplesPerSecond} (${o.maxRuns.join(", ")}) | ${o.maxLostUsPerSample} / ${o.maxOffCpuUsPerSample} | ${dumpMs} |`;
      }));
  }
  lines.push("", `The part took ${r.elapsedSec} s; the machine's load average (1 min) was ${r.loadAvg[0]} at its start and ${r.loadAvg[1]} at its end, on ${r.cpus} CPUs (other work shares them: the µs figures move with it).`);
  return lines;
}
