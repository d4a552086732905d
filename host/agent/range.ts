// Reading a time range of an agent's history (`wspy view DIR --since 1h`, `wspy diff`): the
// segment files whose window meets the range, optionally only those whose labels match, decoded
// and joined into one profile on one clock. Segments kept as pprof (`--format pprof`) are for
// shipping elsewhere: they are counted and skipped, with a word on it.
// Must not know: the sampler, the core, how a profile is rendered.
// Source of truth: host/agent/history.ts (file names), host/render/wspy.ts (the segment format).

import { History, type SegmentFile } from "./history.js";
import { decodeRecording, readInput } from "../commands/convert.js";
import { joinAll, type JoinPart } from "../profile/join.js";
import type { Profile } from "../profile/profile.js";
import { statSync } from "node:fs";
import { WspyError } from "../errors.js";

export interface RangeSelection {
  sinceMs: number;
  untilMs: number;
  /** label=value pairs every chosen segment must carry (app and pid are labels too) */
  match: Record<string, string>;
}

export interface RangeResult {
  profile: Profile;
  segments: SegmentFile[];
  /** segments in the range kept as pprof (not readable back) */
  skippedPprof: number;
  /** segments in the range whose labels did not match */
  unmatched: number;
}

/**
 * A time for --since/--until: "now"; an age ("90s", "15m", "2h", "7d": that long ago); an ISO
 * date-time ("2026-11-28T14:00", local time unless it ends in Z or an offset); a clock time
 * today ("14:00", "14:00:30", local).
 */
export function parseTime(s: string, nowMs: number, what: string): number {
  const t = s.trim();
  if (t === "now") return nowMs;
  const age = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(t);
  if (age) return nowMs - Number(age[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[age[2] as "s"];
  const clock = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (clock) {
    const d = new Date(nowMs);
    d.setHours(Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0), 0);
    if (Number(clock[1]) < 24 && Number(clock[2]) < 60) return d.getTime();
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(t)) {
    const ms = Date.parse(t.length === 10 ? `${t}T00:00` : t.replace(" ", "T"));
    if (Number.isFinite(ms)) return ms;
  }
  throw new WspyError("BAD_INPUT", `${what} ${JSON.stringify(s)} is not a time`, "give an age (15m, 2h, 7d: that long ago), now, a clock time (14:00) or a date-time (2026-11-28T14:00)");
}

/** "k=v" options → a record; a bad one is a one-line BAD_INPUT. */
export function parseMatch(items: string[], what = "--match"): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items) {
    const i = it.indexOf("=");
    if (i <= 0) throw new WspyError("BAD_INPUT", `${what} ${JSON.stringify(it)} is not label=value`, `e.g. ${what} app=checkout`);
    out[it.slice(0, i)] = it.slice(i + 1);
  }
  return out;
}

/** The profile of dir's segments in the selection; NOT_FOUND-like BAD_INPUT when none is there. */
export function readHistoryRange(dir: string, sel: RangeSelection): RangeResult {
  if (!(sel.untilMs >= sel.sinceMs)) throw new WspyError("BAD_INPUT", "--until is before --since", "give a range whose end is after its start");
  const history = new History(dir, null, null, "the history folder");
  const parts: JoinPart[] = [];
  const segments: SegmentFile[] = [];
  let skippedPprof = 0, unmatched = 0;
  const inRange = history.between(sel.sinceMs, sel.untilMs);
  let originMs = Infinity;
  const pids = new Set<number>();
  const decoded: { seg: SegmentFile; profile: Profile }[] = [];
  for (const seg of inRange) {
    if (seg.file.endsWith(".pb.gz")) { skippedPprof++; continue; }
    const profile = decodeRecording(seg.file, readInput(seg.file));
    const labels: Record<string, string> = { app: seg.app, pid: String(seg.pid), ...(profile.meta.labels ?? {}) };
    if (!Object.entries(sel.match).every(([k, v]) => labels[k] === v)) { unmatched++; continue; }
    decoded.push({ seg, profile });
    originMs = Math.min(originMs, seg.fromMs);
    pids.add(seg.pid);
  }
  if (decoded.length === 0) {
    const why = inRange.length === 0 ? `no segment of ${dir} falls between ${new Date(sel.sinceMs).toISOString()} and ${new Date(sel.untilMs).toISOString()}`
      : skippedPprof === inRange.length ? `the ${skippedPprof} segments of ${dir} in that range are pprof files, which wspy does not read back`
      : `none of the ${inRange.length} segments of ${dir} in that range matches ${Object.entries(sel.match).map(([k, v]) => `${k}=${v}`).join(" ")}`;
    throw new WspyError("BAD_INPUT", why, "widen --since/--until or the --match labels (an agent records with --format wspy to be read back)");
  }
  const several = pids.size > 1;
  for (const { seg, profile } of decoded) {
    segments.push(seg);
    parts.push({
      profile,
      offsetSec: (seg.fromMs - originMs) / 1000,
      root: several ? { name: `process ${seg.pid}: ${seg.app}`, file: "", line: 0, kind: "process" } : undefined,
    });
  }
  const profile = joinAll(parts);
  profile.meta = { ...profile.meta, startedAt: new Date(originMs).toISOString(), durationSec: (Math.max(...segments.map((s) => s.untilMs)) - originMs) / 1000 };
  if (several) profile.meta = { ...profile.meta, target: `${pids.size} processes`, pid: 0 };
  return { profile, segments, skippedPprof, unmatched };
}

/** --since/--until/--match as the commands take them. */
export interface RangeOptions {
  since?: string;
  until?: string;
  match?: string[];
}

function isFolder(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Is spec a history folder, or FOLDER@RANGE? */
export function isHistoryInput(spec: string): boolean {
  const at = spec.lastIndexOf("@");
  return isFolder(spec) || (at > 0 && isFolder(spec.slice(0, at)));
}

/**
 * A profile named on a command line: a recording file, a history folder (every segment, or those
 * in --since/--until and --match), or FOLDER@SINCE..UNTIL (a range of its own, as `wspy diff`
 * takes two: `hist@2h..1h hist@1h..now`). Returns the profile and how to name it.
 */
export function readProfileInput(spec: string, o: RangeOptions = {}, nowMs = Date.now()): { profile: Profile; what: string; range?: RangeResult } {
  let dir = spec, since = o.since, until = o.until;
  const at = spec.lastIndexOf("@");
  if (!isFolder(spec) && at > 0 && isFolder(spec.slice(0, at))) {
    dir = spec.slice(0, at);
    const m = /^(.*?)\.\.(.*)$/.exec(spec.slice(at + 1));
    if (!m) throw new WspyError("BAD_INPUT", `${JSON.stringify(spec)}: the range after @ is not SINCE..UNTIL`, "e.g. /var/lib/wspy@2h..1h, or @14:00..14:10");
    since = m[1] || undefined;
    until = m[2] || undefined;
  }
  if (!isFolder(dir)) {
    if (o.since !== undefined || o.until !== undefined || (o.match && o.match.length)) {
      throw new WspyError("BAD_INPUT", `--since, --until and --match choose segments of an agent's history folder; ${spec} is not a folder`, "give the agent's --dir folder, or leave them out");
    }
    return { profile: decodeRecording(spec, readInput(spec)), what: spec };
  }
  const sel: RangeSelection = {
    sinceMs: since !== undefined ? parseTime(since, nowMs, "--since") : 0,
    untilMs: until !== undefined ? parseTime(until, nowMs, "--until") : nowMs,
    match: parseMatch(o.match ?? []),
  };
  const range = readHistoryRange(dir, sel);
  return { profile: range.profile, what: `${dir} (${range.segments.length} segments)`, range };
}
