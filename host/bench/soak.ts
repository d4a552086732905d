// `WSPY_BENCH_ONLY=soak npm run bench`: the always-on agent over a long run (WSPY_SOAK_MINUTES,
// default 60) at 100 Hz with 10 s segments into a history pruned to 10 minutes, against the demo
// program (several threads, varied stacks): the agent's resident memory and CPU time, read from
// /proc every 30 s, reported per minute, with the figures the issue asks for: RSS at the 5th
// minute and at the end, CPU seconds per hour from the 5th minute on, in the first and second
// halves of that span. Never part of `npm test`: an hour is a bench's business.
// Must not know: CPython layouts, the agent's internals (it runs the CLI as a user would).
// Source of truth: issue #17 ("a one-hour soak in the bench"), proc(5) (stat fields 14-15, status VmRSS).

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PACKAGE_ROOT } from "../core/core.js";
import { CLI } from "./startup.js";

export interface SoakPoint { minute: number; rssMiB: number; cpuSec: number }
export interface SoakReport {
  python: string; minutes: number; rate: number; periodSec: number;
  points: SoakPoint[];
  rssMiBAt5: number; rssMiBEnd: number; rssMiBMax: number;
  /** agent CPU seconds per hour, from minute 5 to the end, and in each half of that span */
  cpuSecPerHour: number; cpuSecPerHourFirstHalf: number; cpuSecPerHourSecondHalf: number;
  segmentFilesKept: number; summary: string;
}

const TICKS = 100; // USER_HZ on Linux

function readAgent(pid: number): { rssMiB: number; cpuSec: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { rssMiB: rss, cpuSec: (Number(f[11]) + Number(f[12])) / TICKS };
  } catch {
    return null;
  }
}

export async function benchSoak(py: { label: string; path: string }, log: (s: string) => void): Promise<SoakReport> {
  const minutes = Number(process.env.WSPY_SOAK_MINUTES ?? 60);
  const rate = 100, periodSec = 10;
  const dir = mkdtempSync(path.join(tmpdir(), "wspy-soak-"));
  const tag = `${minutes * 60 + 300}.${process.pid}`;
  // the target at the lowest priority: it takes what CPU is spare, the agent's figures are its own
  const target = spawn("nice", ["-n", "19", py.path, path.join(PACKAGE_ROOT, "test", "fixtures", "demo_app.py"), tag], { stdio: "ignore" });
  const agent = spawn(process.execPath, [CLI, "agent", "--match", `demo_app\\.py ${tag.replace(".", "\\.")}$`, "-r", String(rate), "--period", String(periodSec), "--dir", dir, "--keep", "10m"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  agent.stderr!.on("data", (d) => { stderr += d; });
  const points: SoakPoint[] = [];
  const t0 = Date.now();
  try {
    while (Date.now() - t0 < minutes * 60_000) {
      await new Promise((r) => setTimeout(r, 30_000));
      const at = readAgent(agent.pid!);
      if (!at) throw new Error(`the agent ended early: ${stderr}`);
      const minute = (Date.now() - t0) / 60_000;
      points.push({ minute: Math.round(minute * 10) / 10, rssMiB: Math.round(at.rssMiB * 10) / 10, cpuSec: Math.round(at.cpuSec * 100) / 100 });
      if (points.length % 10 === 0) log(`soak: minute ${minute.toFixed(1)}: RSS ${at.rssMiB.toFixed(1)} MiB, CPU ${at.cpuSec.toFixed(1)} s`);
    }
  } finally {
    agent.kill("SIGTERM");
    await new Promise((r) => agent.on("exit", r));
    target.kill("SIGKILL");
  }
  const kept = readdirSync(dir).filter((n) => n.endsWith(".wspy")).length;
  rmSync(dir, { recursive: true, force: true });
  const from = points.find((p) => p.minute >= 5) ?? points[0];
  const end = points[points.length - 1];
  const mid = points.find((p) => p.minute >= (from.minute + end.minute) / 2) ?? end;
  const perHour = (a: SoakPoint, b: SoakPoint): number => (b.minute > a.minute ? Math.round(((b.cpuSec - a.cpuSec) / (b.minute - a.minute)) * 60 * 10) / 10 : 0);
  return {
    python: py.label, minutes, rate, periodSec, points,
    rssMiBAt5: from.rssMiB, rssMiBEnd: end.rssMiB, rssMiBMax: Math.max(...points.map((p) => p.rssMiB)),
    cpuSecPerHour: perHour(from, end), cpuSecPerHourFirstHalf: perHour(from, mid), cpuSecPerHourSecondHalf: perHour(mid, end),
    segmentFilesKept: kept, summary: stderr.trim().split("\n").slice(-1)[0] ?? "",
  };
}

export function soakMarkdown(r: SoakReport): string[] {
  return [
    "", `### The agent over ${r.minutes} minutes (${r.python}, ${r.rate} Hz, ${r.periodSec} s segments, history kept 10 min)`, "",
    "| | RSS (MiB) | CPU s per hour |", "|---|---|---|",
    `| minute 5 → end | ${r.rssMiBAt5} → ${r.rssMiBEnd} (max ${r.rssMiBMax}) | ${r.cpuSecPerHour} |`,
    `| first half / second half | | ${r.cpuSecPerHourFirstHalf} / ${r.cpuSecPerHourSecondHalf} |`,
    "", `Segment files in the folder at the end: ${r.segmentFilesKept}. The agent's summary: \`${r.summary}\``,
  ];
}
