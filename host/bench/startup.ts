// `npm run bench` (part "startup"): how long a one-shot command takes, beside bare Node and the
// peers where they are found. Runs alternate (node -e 0, wspy --version, wspy dump, py-spy dump,
// austin -w), so a machine that slows down slows all of them; each figure is the median of
// WSPY_BENCH_STARTUP_RUNS (default 21) runs, wall clock from spawn to exit. The dump runs also
// give the start-up breakdown (WSPY_TRACE_STARTUP, host/trace.ts): median milliseconds per phase.
// One unmeasured dump first warms wspy's cache (code cache, ELF facts), so the medians are of a
// warm machine; a first run's dump (an empty cache folder) is timed on its own. When the
// environment sets NODE_EXTRA_CA_CERTS, Node 20 loads those certificates at every start
// (nodejs/node#40524): node -e 0 and wspy dump are also timed without it, and said apart.
// Then a 5 s recording at 1 kHz: wspy's total CPU beside Austin's, and the samples it kept.
// Must not know: CPython layouts; what the phases do (trace.ts names them).
// Source of truth: issue "Start-up and one-shot latency" (the figures and how they are compared).

import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PACKAGE_ROOT } from "../core/core.js";

/** The installed command: package.json's bin. */
export const CLI = path.join(PACKAGE_ROOT, JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")).bin.wspy as string);
const RUNS = Number(process.env.WSPY_BENCH_STARTUP_RUNS ?? 21);

/** The median of the finite values (NaN when none). */
export const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : NaN;
};

/** Milliseconds from spawn to exit of a command (its output discarded), and its stderr. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { ms: number; ok: boolean; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  return { ms: performance.now() - t0, ok: r.status === 0, stderr: r.stderr ?? "" };
}

/** Is NODE_EXTRA_CA_CERTS set (Node 20 then loads those certificates at every start)? */
const EXTRA_CA = !!process.env.NODE_EXTRA_CA_CERTS;
/** This environment without NODE_EXTRA_CA_CERTS: the same commands timed as on a machine without it. */
function envWithoutExtraCa(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

export interface StartupRow {
  runs: number;
  /** medians, ms */
  nodeMs: number; versionMs: number; dumpMs: number;
  pyspyDumpMs: number | null; austinWhereMs: number | null;
  /** wspy dump's phases: median ms each took (from the previous phase's end) */
  phases: { name: string; ms: number }[];
  /** a dump with an empty cache folder (the first run after an install), median of 3 */
  firstDumpMs: number;
  /** when NODE_EXTRA_CA_CERTS is set: node -e 0 and wspy dump without it (medians), else null */
  noExtraCa: { nodeMs: number; dumpMs: number } | null;
  failures: number;
}

/** The one-shot figures against a running target pid (a 3.12 process with four threads). */
export function benchStartup(pid: number): StartupRow {
  const node = [], version = [], dump = [], pyspy: number[] = [], austin: number[] = [];
  const phaseRuns: Map<string, number[]> = new Map();
  const order: string[] = [];
  let failures = 0;
  const pyspyBin = process.env.WSPY_BENCH_PYSPY, austinBin = process.env.WSPY_BENCH_AUSTIN;
  const dumpArgs = [CLI, "dump", "-p", String(pid)];
  timed(process.execPath, dumpArgs); // warms the cache: the runs below are a warm machine's
  const first: number[] = [];
  for (let i = 0; i < 3; i++) {
    const empty = mkdtempSync(path.join(os.tmpdir(), "wspy-bench-cache-"));
    try {
      first.push(timed(process.execPath, dumpArgs, { ...process.env, WSPY_CACHE_DIR: empty }).ms);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }
  const plainEnv = envWithoutExtraCa();
  const plainNode: number[] = [], plainDump: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    if (EXTRA_CA) {
      plainNode.push(timed(process.execPath, ["-e", "0"], plainEnv).ms);
      plainDump.push(timed(process.execPath, dumpArgs, plainEnv).ms);
    }
    node.push(timed(process.execPath, ["-e", "0"]).ms);
    const v = timed(process.execPath, [CLI, "--version"]);
    version.push(v.ms);
    const d = timed(process.execPath, dumpArgs, { ...process.env, WSPY_TRACE_STARTUP: "1" });
    if (!d.ok || !v.ok) failures++;
    dump.push(d.ms);
    const line = /^wspy-startup: (.*)$/m.exec(d.stderr)?.[1];
    if (line) {
      let prev = 0;
      for (const part of line.split(" ")) {
        const m = /^([a-z-]+)=([\d.]+)$/.exec(part);
        if (!m) continue;
        const at = Number(m[2]);
        if (!phaseRuns.has(m[1])) { phaseRuns.set(m[1], []); order.push(m[1]); }
        phaseRuns.get(m[1])!.push(at - prev);
        prev = at;
      }
    }
    if (pyspyBin) pyspy.push(timed(pyspyBin, ["dump", "--pid", String(pid)]).ms);
    if (austinBin) austin.push(timed(austinBin, ["-w", String(pid)]).ms);
  }
  const r1 = (x: number) => +x.toFixed(1);
  return {
    runs: RUNS, nodeMs: r1(median(node)), versionMs: r1(median(version)), dumpMs: r1(median(dump)),
    pyspyDumpMs: pyspyBin ? r1(median(pyspy)) : null, austinWhereMs: austinBin ? r1(median(austin)) : null,
    phases: order.map((name) => ({ name, ms: r1(median(phaseRuns.get(name)!)) })),
    firstDumpMs: r1(median(first)),
    noExtraCa: EXTRA_CA ? { nodeMs: r1(median(plainNode)), dumpMs: r1(median(plainDump)) } : null,
    failures,
  };
}

export interface RecordCostRow {
  seconds: number; rate: number;
  /** CPU seconds of the whole command (start-up, sampling, writing), median of runs */
  wspyCpuSec: number; austinCpuSec: number | null;
  /** when NODE_EXTRA_CA_CERTS is set: wspy's CPU without it, median of runs (else null) */
  wspyNoExtraCaCpuSec: number | null;
  /** samples kept / samples asked (rate x seconds), median of runs */
  keptShare: number;
  runs: number;
}

/**
 * `wspy record -r RATE -d SECONDS` against pid (a 50-deep spinning target): its CPU, Austin's
 * (`austin -i` at the same interval, `-x` seconds) beside it, and the share of asked samples kept.
 * cpuOf measures a command's CPU (bench.ts: perf's task-clock, else rusage).
 */
export function benchRecordCost(pid: number, rate: number, seconds: number, runs: number,
  cpuOf: (args: string[], env?: NodeJS.ProcessEnv) => { cpu: number; ok: boolean }, out: string): RecordCostRow {
  const wspy: number[] = [], austin: number[] = [], kept: number[] = [], plain: number[] = [];
  const austinBin = process.env.WSPY_BENCH_AUSTIN;
  const plainEnv = envWithoutExtraCa();
  const args = [process.execPath, CLI, "record", "-p", String(pid), "-r", String(rate), "-d", String(seconds), "-f", "raw", "-o", out];
  for (let i = 0; i < runs; i++) {
    if (EXTRA_CA) plain.push(cpuOf(args, plainEnv).cpu);
    wspy.push(cpuOf(args).cpu);
    // the kept samples: the raw profile's counts
    let n = 0;
    try {
      for (const line of readFileSync(out, "utf8").split("\n")) {
        const m = / (\d+)$/.exec(line);
        if (m) n += Number(m[1]);
      }
    } catch { /* no output: counted as none */ }
    kept.push(n / (rate * seconds));
    if (austinBin) austin.push(cpuOf([austinBin, "-i", `${Math.round(1e6 / rate)}`, "-x", String(seconds), "-o", "/dev/null", "-p", String(pid)]).cpu);
  }
  return {
    seconds, rate, runs, wspyCpuSec: +median(wspy).toFixed(3), austinCpuSec: austinBin ? +median(austin).toFixed(3) : null,
    wspyNoExtraCaCpuSec: EXTRA_CA ? +median(plain).toFixed(3) : null,
    keptShare: +median(kept).toFixed(4),
  };
}
