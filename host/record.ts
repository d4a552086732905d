// Recording: sample a target on a jittered schedule until the duration ends, the user
// interrupts, or the target exits; then render and write the profile atomically and report.
// Must not know: CPython layouts (the core walks), output formats (renderers render).
// Source of truth: ../shared/docs/design.md §1 (flags), DEVELOPERS brief ("Nothing lost").

import { spawn, ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { Target, TargetInfo } from "./attach.js";
import { ST_GONE, ST_PERM, STATUS_NAMES, R_TID, R_NODE, R_STATUS, R_KEEP } from "./core.js";
import { TaskStates, isAlive } from "./proc.js";
import { WspyError, permissionHint } from "./errors.js";
import { renderProfile, OutputFormat, type RenderOptions } from "./render/index.js";
import { writeAtomic, checkWritable } from "./output.js";
import type { Profile } from "./profile.js";

export interface RecordOptions {
  pid?: number;
  command?: string[];
  output: string;
  format: OutputFormat;
  /** renderer options (e.g. reverse for an icicle flame graph) */
  render?: RenderOptions;
  rate: number;
  duration?: number;
  idle: boolean;
  versionTables?: string[];
  forceVersion?: string;
  /** stop when this resolves (library callers); the CLI uses signals */
  signal?: AbortSignal;
  /** where the summary goes (default: stderr) */
  log?: (line: string) => void;
}

export interface RecordResult {
  profile: Profile;
  output: string;
  samples: number;
  ticks: number;
  errors: Record<string, number>;
  rateAchieved: number;
  /** median and worst lateness of a tick against its schedule, ms */
  latenessMedianMs: number;
  latenessMaxMs: number;
  /** the launched command's exit status (launch mode) */
  childExitCode?: number;
  stopReason: "duration" | "interrupted" | "target exited";
  target: TargetInfo;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const yieldNow = () => new Promise<void>((r) => setImmediate(r));

function launch(command: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { stdio: "inherit" });
    child.once("spawn", () => resolve(child));
    child.once("error", (e) => reject(new WspyError("LAUNCH", `cannot start ${command[0]}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, "check the command and your PATH")));
  });
}

function exitStatus(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    if (child.signalCode !== null) return resolve(128 + (signalNumber(child.signalCode) ?? 0));
    child.once("exit", (code, sig) => resolve(code ?? 128 + (signalNumber(sig) ?? 0)));
  });
}

function signalNumber(sig: NodeJS.Signals | null): number | undefined {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return sig ? table[sig] : undefined;
}

export async function record(opts: RecordOptions): Promise<RecordResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(s + "\n"));
  if (!(opts.rate > 0 && opts.rate <= 100_000)) throw new WspyError("BAD_INPUT", `rate must be between 1 and 100000 samples per second, not ${opts.rate}`, "");
  if (opts.duration !== undefined && !(opts.duration > 0)) throw new WspyError("BAD_INPUT", `duration must be a positive number of seconds, not ${opts.duration}`, "");
  checkWritable(opts.output);

  let child: ChildProcess | null = null;
  let childExit: Promise<number> | null = null;
  let pid = opts.pid ?? 0;
  if (opts.command && opts.command.length) {
    child = await launch(opts.command);
    childExit = exitStatus(child);
    pid = child.pid!;
  }

  let stopReason: RecordResult["stopReason"] = "duration";
  let stop = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stop) {
      stop = true;
      stopReason = "interrupted";
    }
    // a SIGTERM to wspy ends a launched program too; Ctrl-C reaches it from the terminal
    if (sig === "SIGTERM" && child && child.exitCode === null) child.kill("SIGTERM");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  opts.signal?.addEventListener("abort", () => { stop = true; stopReason = "interrupted"; });
  child?.once("exit", () => { if (!stop) { stop = true; stopReason = "target exited"; } });

  let target: Target;
  try {
    target = await Target.attach(pid, { versionTables: opts.versionTables, forceVersion: opts.forceVersion, waitMs: child ? 10_000 : 0, notice: log });
  } catch (e) {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (child && childExit) {
      // the program ended (or never became Python) before we could attach: say so, keep its status
      const code = await Promise.race([childExit, sleep(50).then(() => null)]);
      if (code !== null && e instanceof WspyError && e.code === "NO_SUCH_PROCESS") {
        throw Object.assign(new WspyError("LAUNCH", `${opts.command![0]} exited (status ${code}) before wspy could attach`, "profile a program that runs longer, or attach with -p"), { childExitCode: code });
      }
      if (child.exitCode === null) child.kill("SIGTERM");
    }
    throw e;
  }
  const core = target.core;
  const tasks = new TaskStates(pid);
  const errors: Record<string, number> = {};
  const interval = 1000 / opts.rate;
  const lateness: number[] = [];
  let ticks = 0;
  let samples = 0;
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const endAt = opts.duration !== undefined ? t0 + opts.duration * 1000 : Infinity;
  let next = t0;
  let lastTick = t0;
  let fatal: WspyError | null = null;

  try {
    while (!stop) {
      let now = performance.now();
      if (now >= endAt) { stopReason = "duration"; break; }
      const wait = Math.min(next, endAt) - now;
      if (wait > 1.5) { await sleep(wait - 1); continue; }
      if (wait > 0) { await yieldNow(); continue; }
      now = performance.now();
      lateness.push(now - next);
      // jittered schedule: the mean interval stays 1/rate, periodic work is not aliased
      next += interval * (0.5 + Math.random());
      if (next < now) next = now;
      const n = core.x.walkSample();
      ticks++;
      const weight = (now - lastTick) / 1000 || interval / 1000;
      lastTick = now;
      if (n < 0) {
        const st = -n;
        if (st === ST_GONE || !isAlive(pid)) { stopReason = "target exited"; break; }
        if (st === ST_PERM) { fatal = new WspyError("PERMISSION", `lost permission to read process ${pid}`, permissionHint()); break; }
        const kind = STATUS_NAMES[st] ?? `status ${st}`;
        errors[kind] = (errors[kind] ?? 0) + 1;
        continue;
      }
      const v = core.i32();
      const base = core.x.walkResultsPtr() >> 2;
      for (let i = 0; i < n; i++) {
        const r = base + i * 8;
        const st = v[r + R_STATUS];
        if (st !== 0) {
          const kind = STATUS_NAMES[st] ?? `status ${st}`;
          errors[kind] = (errors[kind] ?? 0) + 1;
          v[r + R_KEEP] = 0;
          continue;
        }
        v[r + R_KEEP] = v[r + R_NODE] >= 0 && (opts.idle || tasks.active(v[r + R_TID])) ? 1 : 0;
      }
      const kept = core.x.walkCommit((now - t0) / 1000, weight);
      if (kept > 0) samples += kept;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    tasks.close();
  }

  const durationSec = Math.max((performance.now() - t0) / 1000, 1e-9);
  const errorTotal = Object.values(errors).reduce((a, b) => a + b, 0);
  const profile = core.liftProfile({
    target: child ? opts.command!.join(" ") : `pid ${pid}: ${target.info.command.join(" ")}`,
    pid,
    pythonVersion: target.info.version,
    rate: opts.rate,
    durationSec,
    samples,
    errors,
    startedAt,
  });
  target.close();
  writeAtomic(opts.output, renderProfile(profile, opts.format, opts.render ?? {}));
  lateness.sort((a, b) => a - b);
  const rateAchieved = ticks / durationSec;
  const result: RecordResult = {
    profile,
    output: opts.output,
    samples,
    ticks,
    errors,
    rateAchieved,
    latenessMedianMs: lateness.length ? lateness[lateness.length >> 1] : 0,
    latenessMaxMs: lateness.length ? lateness[lateness.length - 1] : 0,
    stopReason,
    target: target.info,
  };
  const errText = errorTotal === 0 ? "no errors" :
    `${errorTotal} errors (${Object.entries(errors).map(([k, c]) => `${k}: ${c}`).join(", ")}; ${(100 * errorTotal / Math.max(1, ticks)).toFixed(2)}% of ticks)`;
  log(`wspy: ${stopReason}; ${samples} samples over ${durationSec.toFixed(2)} s, ${ticks} ticks at ${rateAchieved.toFixed(1)}/s (asked ${opts.rate}), ${errText}; median lateness ${result.latenessMedianMs.toFixed(2)} ms`);
  log(`wspy: wrote ${opts.format} to ${opts.output}`);
  if (fatal) throw fatal;
  if (childExit) result.childExitCode = await childExit;
  return result;
}
