// Recording: sample a target on a jittered schedule until the duration ends, the user
// interrupts, or the target exits; then render and write the profile atomically and report.
// Must not know: CPython layouts (the core walks), output formats (renderers render).
// Source of truth: docs/design.md §1 (flags), DEVELOPERS brief ("Nothing lost").

import type { Launched } from "../sampling/launch.js";
import { TargetInfo } from "../target/attach.js";
import { WspyError } from "../errors.js";
import { renderProfile, OutputFormat, type RenderOptions } from "../render/index.js";
import { writeOutput, checkWritable } from "../io/output.js";
import type { Profile } from "../profile/profile.js";
import { Sampler, SampledProcess } from "../sampling/sampler.js";
import { joinProfiles } from "../core/core.js";
import { aggregateFrames, fileShortener, mergeProcesses, withThreadRoots, type ProcessProfile } from "../profile/transform.js";
import { stderrLine } from "../io/escape.js";

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
  /** asyncio task frames (--async) */
  async?: boolean;
  /** keep only the samples of the thread holding the GIL (--gil) */
  gil?: boolean;
  /** a root frame per thread, `thread NAME (TID)` (--threads) */
  threads?: boolean;
  /** follow child processes, each under a root frame `process PID: "command"` (--subprocesses) */
  subprocesses?: boolean;
  /** pause the target's threads while each sample is read (--blocking) */
  blocking?: boolean;
  /** native (C/C++) frames merged with the Python frames (--native; pauses the threads for each sample) */
  native?: boolean;
  /** with native: keep the interpreter's plumbing frames (--native-all) */
  nativeAll?: boolean;
  /** one frame per function (--function) */
  function?: boolean;
  /** no line numbers (--nolineno) */
  nolineno?: boolean;
  /** keep file names whole (--full-filenames); by default they are shortened */
  fullFilenames?: boolean;
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
  /** the launched command's exit status (launch mode), unless wspy ended it at the end of --duration */
  childExitCode?: number;
  /** launch mode, --duration: the program was still running at the end and wspy ended it with this signal */
  endedProgram?: "SIGTERM" | "SIGKILL";
  /** one-line notes of the summary (a target that exec'd, a root that is not Python) */
  notes: string[];
  /** --blocking / --native: the mean time the target's threads were stopped per sample, µs */
  pauseUsPerSample?: number;
  stopReason: "duration" | "interrupted" | "target exited";
  target: TargetInfo;
  /** share of ticks in which some sampled thread held the GIL, 0..1 (0 for a free-threaded build) */
  gilShare: number;
  /** threads found running Python, per tick on average and at most (counted where threads were
   *  classified: always for a free-threaded build, without --idle for the others) */
  concurrency: { mean: number; max: number; ticks: number };
  /** processes sampled (more than one with --subprocesses) */
  processes: number;
}

/** The Profile of one process as recorded by its core, with the host's thread names. */
function liftProcess(p: SampledProcess, meta: Profile["meta"]): Profile {
  const profile = p.core.liftProfile(meta);
  profile.threads = profile.threads.map((t, i) => (t.name ? t : { ...t, name: p.names.name(i) }));
  return profile;
}

/**
 * The transforms the user asked for (file names shortened unless --full-filenames, --function,
 * --nolineno, --threads), per process; then several processes merged under process roots.
 * The wspy format is a recording for `wspy convert`: file names stay whole there.
 */
export function shapeProfiles(list: (ProcessProfile & { cwd: string })[], opts: Pick<RecordOptions, "function" | "nolineno" | "fullFilenames" | "threads" | "format" | "subprocesses">, meta: Profile["meta"]): Profile {
  const shorten = !opts.fullFilenames && opts.format !== "wspy";
  const shaped = list.map((pp) => {
    let p = aggregateFrames(pp.profile, { function: opts.function, nolineno: opts.nolineno, file: shorten ? fileShortener([pp.cwd]) : undefined });
    if (opts.threads) p = withThreadRoots(p);
    return { ...pp, profile: p };
  });
  if (!opts.subprocesses && shaped.length === 1) return shaped[0].profile;
  return mergeProcesses(shaped, meta);
}

/** Sampling rates wspy accepts, Hz (README: record options). */
export const MIN_RATE = 1, MAX_RATE = 10_000;

/** Throws BAD_INPUT unless rate is a number of samples per second in MIN_RATE..MAX_RATE. */
export function checkRate(rate: number): void {
  if (!(Number.isFinite(rate) && rate >= MIN_RATE && rate <= MAX_RATE)) {
    throw new WspyError("BAD_INPUT", `rate must be between ${MIN_RATE} and ${MAX_RATE} samples per second, not ${rate}`, "e.g. -r 100");
  }
}

export async function record(opts: RecordOptions): Promise<RecordResult> {
  const log = opts.log ?? stderrLine;
  checkRate(opts.rate);
  if (opts.duration !== undefined && !(opts.duration > 0 && Number.isFinite(opts.duration))) throw new WspyError("BAD_INPUT", `duration must be a positive number of seconds, not ${opts.duration}`, "");
  checkWritable(opts.output);

  let samples = 0;
  const recorded: (ProcessProfile & { cwd: string; version: string })[] = [];
  let sampler: Sampler | null = null;
  const metaOf = (p: SampledProcess, s: Sampler): Profile["meta"] => ({
    target: p.root && opts.command ? opts.command.join(" ") : `pid ${p.pid}: ${p.info.command.join(" ")}`,
    pid: p.pid,
    pythonVersion: p.info.version,
    rate: opts.rate,
    durationSec: s.durationSec,
    samples: p.samples,
    errors: s.errors,
    startedAt: s.startedAt,
  });
  sampler = await Sampler.start({
    pid: opts.pid, command: opts.command, rate: opts.rate, duration: opts.duration, idle: opts.idle,
    async: opts.async, gil: opts.gil, subprocesses: opts.subprocesses, blocking: opts.blocking, native: opts.native, nativeAll: opts.nativeAll,
    versionTables: opts.versionTables, forceVersion: opts.forceVersion, signal: opts.signal, log,
  }, {
    onSample: (p, _n, time, weight) => {
      const kept = p.core.x.walkCommit(time, weight);
      if (kept > 0) samples += kept;
      samples += p.tickTaskSamples; // --async --idle: suspended tasks' samples, pushed by the sampler
    },
    // a process's profile is lifted when it leaves the loop (exit, exec, or the end)
    onRetire: (p) => {
      const profile = liftProcess(p, metaOf(p, sampler!));
      // a later part of the same process (its core was replaced after a trap): one profile
      const earlier = p.part > 0 ? [...recorded].reverse().find((r) => r.pid === p.pid) : undefined;
      if (earlier) earlier.profile = joinProfiles(earlier.profile, profile);
      else recorded.push({ pid: p.pid, command: p.command, cwd: p.cwd, version: p.info.version, profile });
    },
  });
  const s = sampler;
  try {
    await s.run();
  } finally {
    s.close();
  }

  const durationSec = s.durationSec;
  const root = s.rootInfo;
  const meta: Profile["meta"] = {
    target: opts.command ? opts.command.join(" ") : `pid ${root.pid}: ${root.command.join(" ")}`,
    pid: root.pid,
    pythonVersion: root.version,
    rate: opts.rate,
    durationSec,
    samples,
    errors: s.errors,
    startedAt: s.startedAt,
  };
  // the root first, then children in the order they were met
  recorded.sort((a, b) => (a.pid === root.pid ? -1 : b.pid === root.pid ? 1 : 0));
  for (const r of recorded) r.profile.meta = { ...r.profile.meta, durationSec, errors: s.errors };
  const profile = shapeProfiles(recorded, opts, meta);
  if (recorded.length === 1 && !opts.subprocesses) profile.meta = meta;
  // the summary is printed whether or not the write succeeds; a failed write (the profile kept
  // elsewhere) is thrown after it
  let writeError: unknown = null;
  try {
    writeOutput(opts.output, renderProfile(profile, opts.format, opts.render ?? {}), { what: "profile" });
  } catch (e) {
    writeError = e;
  }
  const lateness = s.latenessStats();
  const rateAchieved = s.ticks / durationSec;
  const gilShare = s.ticks ? s.gilTicks / s.ticks : 0;
  const result: RecordResult = {
    profile,
    output: opts.output,
    samples,
    ticks: s.ticks,
    errors: s.errors,
    rateAchieved,
    latenessMedianMs: lateness.median,
    latenessMaxMs: lateness.max,
    stopReason: s.stopReason,
    target: root,
    gilShare,
    concurrency: { mean: s.classifiedTicks ? s.activeThreadSum / s.classifiedTicks : 0, max: s.activeThreadMax, ticks: s.classifiedTicks },
    processes: recorded.length,
    notes: s.notes,
    ...(s.pauses ? { pauseUsPerSample: (1000 * s.pauseMs) / s.pauses } : {}),
  };
  const procText = recorded.length > 1 ? ` from ${recorded.length} processes` : "";
  log(`wspy: ${s.stopReason}; ${samples} samples${procText} over ${durationSec.toFixed(2)} s, ${s.ticks} ticks at ${rateAchieved.toFixed(1)}/s (asked ${opts.rate}), ${s.errorText()}; median lateness ${result.latenessMedianMs.toFixed(2)} ms; ${root.freeThreaded
    ? `no GIL (free-threaded): ${result.concurrency.mean.toFixed(2)} threads active at once on average (on a CPU or waiting for one), at most ${result.concurrency.max}`
    : `GIL held in ${(100 * gilShare).toFixed(1)}% of ticks`}`);
  for (const note of s.notes) log(`wspy: ${note}`);
  if (result.pauseUsPerSample !== undefined) log(`wspy: the target's threads were stopped ${result.pauseUsPerSample.toFixed(0)} µs per sample on average (${opts.native ? "--native" : "--blocking"})`);
  const attachErrors = s.attachErrorText();
  if (attachErrors) log(`wspy: ${attachErrors}`);
  // the profile is safe (written, or kept elsewhere by a failed write): the program wspy started
  // ends with the recording
  if (s.child && s.childExit && s.stopReason === "duration" && running(s.child)) {
    result.endedProgram = await endProgram(s.child, s.childExit);
    log(`wspy: ended ${opts.command![0]} (pid ${s.child.pid}) with ${result.endedProgram} at the end of --duration`);
  }
  if (writeError) throw writeError;
  log(`wspy: wrote ${opts.format} to ${opts.output}`);
  if (s.fatal) throw s.fatal;
  if (result.endedProgram) return result;
  if (s.childExit) result.childExitCode = await s.childExit;
  return result;
}

/** How long a launched program has to exit after SIGTERM before SIGKILL, ms. */
export const END_GRACE_MS = 5000;

function running(child: Launched): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Ends a program wspy launched: SIGTERM (Python's default handler exits at once; a program may
 * clean up), then SIGKILL if it is still there after END_GRACE_MS. Only the program itself is
 * signalled: it runs in wspy's process group (so Ctrl-C from the terminal reaches both), and
 * its own children are its business. Returns the signal that ended it.
 */
async function endProgram(child: Launched, exited: Promise<number>): Promise<"SIGTERM" | "SIGKILL"> {
  child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), END_GRACE_MS); })]);
  clearTimeout(timer);
  if (inTime) return "SIGTERM";
  child.kill("SIGKILL");
  await exited;
  return "SIGKILL";
}
