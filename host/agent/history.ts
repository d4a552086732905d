// `wspy agent --dir DIR`: the local history of an always-on agent. One file per closed segment
// (a `wspy` recording or a gzipped pprof), named so a listing says what it holds without opening
// it: APP.PID.FROM-UNTIL.EXT with UTC times to the millisecond. Written atomically (never a half
// file), pruned after each write by age (--keep) and total size (--max-size), oldest first;
// listed by time range for `wspy view DIR --since/--until`. Only names of this shape are ever
// read or deleted: anything else in the folder is left alone, links included.
// Must not know: the sampler, the core, how segments are rendered.
// Source of truth: docs/agent.md ("The local history"); host/io/output.ts (atomic writes).

import { lstatSync, readdirSync, unlinkSync } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../io/output.js";
import { WspyError } from "../errors.js";

/** A segment file's name: app, pid, the window (UTC, ms), the format. */
const NAME = /^([A-Za-z0-9_.-]{1,64})\.(\d{1,10})\.(\d{8}T\d{9})Z-(\d{8}T\d{9})Z\.(wspy|pb\.gz)$/;

export interface SegmentFile {
  file: string;
  app: string;
  pid: number;
  fromMs: number;
  untilMs: number;
  bytes: number;
}

/** 20261128T212500123 (UTC, ms) */
function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(".", "").replace("Z", "");
}
function unstamp(s: string): number {
  const iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`;
  return Date.parse(iso);
}

/** The file name of a segment (app cleaned to [A-Za-z0-9_.-]). */
export function segmentName(app: string, pid: number, fromMs: number, untilMs: number, format: "wspy" | "pprof"): string {
  const a = app.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 64) || "python";
  return `${a}.${pid}.${stamp(fromMs)}Z-${stamp(untilMs)}Z.${format === "pprof" ? "pb.gz" : "wspy"}`;
}

/** Parses a segment file name; null for any other name. */
export function parseSegmentName(name: string): Omit<SegmentFile, "file" | "bytes"> | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const fromMs = unstamp(m[3]), untilMs = unstamp(m[4]);
  if (!Number.isFinite(fromMs) || !Number.isFinite(untilMs) || untilMs < fromMs) return null;
  return { app: m[1], pid: Number(m[2]), fromMs, untilMs };
}

/** "7d", "12h", "30m", "45s" → ms. */
export function parseAge(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(s.trim());
  if (!m) throw new WspyError("BAD_INPUT", `--keep ${JSON.stringify(s)} is not an age`, "e.g. --keep 7d (s, m, h, d or w)");
  return Number(m[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[m[2] as "s"];
}

/** "1GB", "500MB", "64KiB", "1000000" → bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(|B|[KMGT]i?B?)$/i.exec(s.trim());
  if (!m) throw new WspyError("BAD_INPUT", `--max-size ${JSON.stringify(s)} is not a size`, "e.g. --max-size 1GB");
  const unit = m[2].toUpperCase().replace(/I?B$/, "");
  const k = m[2].toUpperCase().includes("I") ? 1024 : 1000;
  const mult = unit === "" ? 1 : k ** ("KMGT".indexOf(unit) + 1);
  return Math.floor(Number(m[1]) * mult);
}

export class History {
  constructor(readonly dir: string, private readonly keepMs: number | null, private readonly maxBytes: number | null, what = "--dir") {
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      throw new WspyError("BAD_INPUT", `${what} ${dir} does not exist`, "create it first (wspy never creates folders as root)");
    }
    if (!st.isDirectory()) throw new WspyError("BAD_INPUT", `${what} ${dir} is not a folder${st.isSymbolicLink() ? " (a link)" : ""}`, "give a real folder");
  }

  /** Writes one segment atomically; then prunes. Returns the file, or throws what went wrong (the segment is lost, nothing half-written stays). */
  write(name: string, bytes: Uint8Array, nowMs = Date.now()): string {
    const file = path.join(this.dir, name);
    writeFileAtomic(file, bytes, { private: true });
    this.prune(nowMs);
    return file;
  }

  /** The segment files (regular files with a segment's name), oldest window first. */
  list(): SegmentFile[] {
    const out: SegmentFile[] = [];
    for (const name of readdirSync(this.dir)) {
      const p = parseSegmentName(name);
      if (!p) continue;
      const file = path.join(this.dir, name);
      try {
        const st = lstatSync(file);
        if (!st.isFile()) continue;
        out.push({ ...p, file, bytes: st.size });
      } catch {
        // gone meanwhile
      }
    }
    return out.sort((a, b) => a.untilMs - b.untilMs || a.fromMs - b.fromMs);
  }

  /** The segments whose window meets [sinceMs, untilMs]. */
  between(sinceMs: number, untilMs: number): SegmentFile[] {
    return this.list().filter((s) => s.untilMs >= sinceMs && s.fromMs <= untilMs);
  }

  /** Deletes segments older than the age kept, then the oldest until the total fits; returns how many. */
  prune(nowMs = Date.now()): number {
    let deleted = 0;
    const all = this.list();
    let total = all.reduce((n, s) => n + s.bytes, 0);
    for (const s of all) {
      const old = this.keepMs !== null && s.untilMs < nowMs - this.keepMs;
      const over = this.maxBytes !== null && total > this.maxBytes;
      if (!old && !over) continue;
      try {
        unlinkSync(s.file);
        deleted++;
        total -= s.bytes;
      } catch {
        // gone meanwhile, or not ours to delete
      }
    }
    return deleted;
  }
}
