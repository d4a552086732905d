// `wspy agent`: profile a process (-p) or every process whose command line matches (--match,
// attached as each appears, again after a restart) for as long as the agent runs, at a low rate, and every
// --period close a segment (the sampler's segmentSec: the core's tables reset, memory flat) that
// goes to a local history (--dir, host/agent/history.ts) and/or Grafana Pyroscope (--push,
// host/agent/push.ts), labelled (app, host, pid, python, wspy, --label k=v). A segment that cannot
// be written (a full disk) is dropped with one warning, the agent goes on; SIGINT/SIGTERM close the
// current segment and give the push queue a moment; SIGHUP does not stop it (segment files are
// opened per write, so a rotated or re-created --dir is simply used again); the summary counts
// segments written, sent and dropped by reason.
// Must not know: CPython layouts, the core, how profiles render (render/), Pyroscope's wire format
// (push.ts).
// Source of truth: docs/agent.md (labels, files, Pyroscope's ingest API).

import os from "node:os";
import { Sampler, Segment } from "../sampling/sampler.js";
import { renderProfile, renderPprof } from "../render/index.js";
import type { Profile } from "../profile/profile.js";
import { History, segmentName } from "../agent/history.js";
import { Pusher } from "../agent/push.js";
import { VERSION } from "../version.js";
import { stderrLine } from "../io/escape.js";
import { WspyError } from "../errors.js";

export interface AgentOptions {
  pid?: number;
  /** every process whose command line matches, instead of pid */
  match?: RegExp;
  rate: number;
  periodSec: number;
  app?: string;
  labels: Record<string, string>;
  dir?: string;
  format: "wspy" | "pprof";
  keepMs: number | null;
  maxBytes: number | null;
  push?: string;
  bearer?: string;
  tenant?: string;
  idle?: boolean;
  subprocesses?: boolean;
  /** asyncio task frames (record --async) */
  async?: boolean;
  /** native frames merged (record --native) */
  native?: boolean;
  duration?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface AgentResult {
  segments: number;
  written: number;
  writeErrors: number;
  /** processes sampled over the agent's life */
  processes: number;
  pushed: number;
  dropped: Record<string, number>;
  /** what the last failed push met, "" if none */
  lastFailure: string;
}

export async function agent(opts: AgentOptions): Promise<AgentResult> {
  const log = opts.log ?? stderrLine;
  if (!opts.dir && !opts.push) throw new WspyError("BAD_INPUT", "the agent needs somewhere to put its segments", "give --dir DIR, --push URL, or both");
  const history = opts.dir ? new History(opts.dir, opts.keepMs, opts.maxBytes) : null;
  const host = os.hostname();
  const pusher = opts.push ? new Pusher({ url: opts.push, app: opts.app ?? "python", labels: { hostname: host, ...opts.labels }, sampleRate: opts.rate, bearer: opts.bearer, tenant: opts.tenant }) : null;
  const res: AgentResult = { segments: 0, written: 0, writeErrors: 0, processes: 0, pushed: 0, dropped: {}, lastFailure: "" };
  let warnedWrite = false;
  // each window in wall-clock time: from where the last one ended (no gap, no overlap), as long as
  // the sampler's monotonic clock says, the first one anchored at the sampler's own start (not
  // this function's: attaching takes a while)
  let lastUntilMs: number | null = null;
  const onSegment = (s: Segment): void => {
    res.segments++;
    const fromMs = lastUntilMs ?? Date.parse(s.startedAt);
    const untilMs = fromMs + Math.max(0, (s.untilSec - s.fromSec) * 1000);
    lastUntilMs = untilMs;
    for (const { process: p, profile } of s.parts) {
      if (!profile.sampleNode.length) continue;
      const app = opts.app ?? appName(p.command);
      const labels = { app, hostname: host, pid: String(p.pid), python: p.info.version, wspy: VERSION, ...opts.labels };
      profile.meta = { ...profile.meta, target: `${app} (pid ${p.pid})`, startedAt: new Date(fromMs).toISOString(), durationSec: s.untilSec - s.fromSec, labels };
      if (history) {
        try {
          const data = renderProfile(profile, opts.format === "pprof" ? "pprof" : "wspy");
          history.write(segmentName(app, p.pid, fromMs, untilMs, opts.format), typeof data === "string" ? Buffer.from(data) : data);
          res.written++;
        } catch (e) {
          res.writeErrors++;
          if (!warnedWrite) log(`wspy: agent: a segment could not be written to ${opts.dir} (${(e as Error).message}); sampling goes on, segments are dropped until writes work again`);
          warnedWrite = true;
        }
      }
      if (pusher) {
        // without --idle only running threads were kept: their time is CPU time (Pyroscope's process_cpu)
        const body = renderPprof(profile, opts.idle ? "wall" : "cpu");
        pusher.enqueue({ from: fromMs / 1000, until: untilMs / 1000, body, app, labels: { pid: String(p.pid), python: p.info.version, wspy: VERSION } });
      }
    }
  };
  if ((opts.pid === undefined) === (opts.match === undefined)) throw new WspyError("BAD_INPUT", "the agent profiles -p PID or --match REGEX", "give one of them");
  // the renderers load and compile their schemas now, not in the first segment's turn of the
  // sampling loop (protobufjs's first pprof took ~300 ms here: a third of a second of missed ticks)
  const empty: Profile = {
    frames: [], nodeParent: new Int32Array(0), nodeFrame: new Int32Array(0), sampleTime: new Float64Array(0), sampleThread: new Int32Array(0),
    sampleNode: new Int32Array(0), sampleWeight: new Float64Array(0), threads: [],
    meta: { target: "", pid: 0, pythonVersion: "", rate: opts.rate, durationSec: 0, samples: 0, errors: {}, startedAt: new Date().toISOString() },
  };
  if (history) renderProfile(empty, opts.format === "pprof" ? "pprof" : "wspy");
  if (pusher) renderPprof(empty, opts.idle ? "wall" : "cpu");
  const sampler = await Sampler.start({
    pid: opts.pid, match: opts.match, rate: opts.rate, async: opts.async, native: opts.native, idle: opts.idle, subprocesses: opts.subprocesses, segmentSec: opts.periodSec,
    duration: opts.duration, signal: opts.signal, log,
  }, {
    onSegment,
    onAttach: (p) => {
      res.processes++;
      if (opts.match) log(`wspy: agent: sampling process ${p.pid} (${p.command.join(" ")}, Python ${p.info.version})`);
    },
  });
  // SIGHUP (logrotate, a reload): go on; the next write finds --dir again, a failure is said again
  const onHup = Object.assign((): void => {
    warnedWrite = false;
    log(`wspy: agent: SIGHUP: going on (${res.segments} segments so far)`);
  }, { ownsSignal: true });
  process.on("SIGHUP", onHup);
  try {
    await sampler.run();
  } finally {
    process.off("SIGHUP", onHup);
    sampler.close();
  }
  if (pusher) {
    await pusher.flush(5000);
    pusher.close();
    res.pushed = pusher.stats.sent;
    res.dropped = pusher.stats.dropped;
    res.lastFailure = pusher.stats.lastFailure;
  }
  const drops = Object.entries(res.dropped).map(([k, n]) => `${k}: ${n}`).join(", ");
  log(`wspy: agent: ${sampler.stopReason}; ${res.segments} segments of ${opts.periodSec} s from ${res.processes} process${res.processes === 1 ? "" : "es"}; ${history ? `${res.written} written to ${opts.dir}${res.writeErrors ? `, ${res.writeErrors} not written` : ""}` : ""}${history && pusher ? "; " : ""}${pusher ? `${res.pushed} pushed to ${pusher.where}${drops ? `, dropped: ${drops}` : ""}${res.lastFailure ? ` (last failure: ${res.lastFailure})` : ""}` : ""}`);
  if (sampler.fatal) throw sampler.fatal;
  return res;
}

/**
 * An application's name from its command line: the script (app.py → app) or the module
 * (-m uvicorn → uvicorn) after the interpreter's own options; the program's name otherwise.
 */
export function appName(command: string[]): string {
  const prog = (command[0] ?? "").split("/").pop() || "python";
  if (!/python|^py/i.test(prog)) return prog;
  for (let i = 1; i < command.length; i++) {
    const a = command[i];
    if (a === "-m" && command[i + 1]) return command[i + 1];
    if (a.startsWith("-m") && a.length > 2) return a.slice(2);
    if (a === "-c") return prog;
    if (a === "-W" || a === "-X" || a === "--check-hash-based-pycs") { i++; continue; }
    if (a.startsWith("-")) continue;
    return a.split("/").pop()!.replace(/\.pyw?$/, "") || prog;
  }
  return prog;
}
