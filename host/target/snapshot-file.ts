// Snapshot memory: a RecordingReader wraps the live reader and keeps every (remote address,
// bytes) it served; the snapshot file format stores those ranges with a JSON header; a
// SnapshotReader serves them back to the core, failing exactly where nothing was recorded.
// File format (version 1): the magic line "wspy-snapshot 1\n" (magic, space, format version),
// then one gzip stream holding the header as one line of JSON, "\n", and the ranges, each
// {address: u32 low, u32 high; length: u32; the bytes}, sorted by address, not overlapping.
// Decoding checks every length and count against the bytes present and named bounds: a
// truncated or corrupted file ends in a WspyError naming what is wrong.
// Must not know: CPython layouts, what the header's facts mean (host/commands/snapshot.ts fills and uses them).
// Source of truth: this file (the format); process_vm_readv(2) (what the reader imitates).

import { gzipSync } from "node:zlib";
import type { Core } from "../core/core.js";
import type { Reader } from "./reader.js";
import { WspyError } from "../errors.js";
import { gunzipLimited, inputLimit, jsonProblem } from "../io/files.js";

export const SNAPSHOT_MAGIC = "wspy-snapshot ";
export const SNAPSHOT_FORMAT = 1;
// Decompressed size read at most: host/io/files.ts's limit for a snapshot (a few hundred KB is typical).
/** Header line read at most. */
const MAX_HEADER_BYTES = 16 * 1024 * 1024;
/** Ranges read at most. */
const MAX_RANGES = 1 << 22;
const RANGE_HEAD = 12;

/** One recorded range: remote address (below 2^53) and its bytes. */
export interface MemoryRange { addr: number; data: Uint8Array }

function u64(dv: DataView, p: number): number {
  return dv.getUint32(p, true) + dv.getUint32(p + 4, true) * 2 ** 32;
}

/**
 * Wraps a Reader and keeps a copy of every range it served (whole iovecs, and the served part of
 * the last one when a read stopped short).
 */
export class RecordingReader implements Reader {
  private reads: MemoryRange[] = [];
  private recordedBytes = 0;
  constructor(private inner: Reader, private core: Core) {}
  get native(): boolean | undefined { return this.inner.native; }

  readv(localIovAbs: number, remoteIovAbs: number, count: number): number {
    const n = this.inner.readv(localIovAbs, remoteIovAbs, count);
    if (n <= 0) return n;
    const base = this.core.memoryBase();
    const mem = this.core.u8();
    const dv = new DataView(mem.buffer);
    let left = n;
    for (let i = 0; i < count && left > 0; i++) {
      const l = localIovAbs - base + i * 16, r = remoteIovAbs - base + i * 16;
      const at = u64(dv, l) - base;
      const len = Math.min(u64(dv, l + 8), left);
      const addr = u64(dv, r);
      left -= len;
      if (len <= 0 || at < 0 || at + len > mem.length || addr + len > 2 ** 53) continue;
      this.reads.push({ addr, data: mem.slice(at, at + len) });
      this.recordedBytes += len;
    }
    return n;
  }

  /** Bytes recorded so far (counting overlaps). */
  get bytes(): number { return this.recordedBytes; }

  /** The recorded memory: sorted, merged ranges; where reads overlap, the later read's bytes win. */
  ranges(): MemoryRange[] { return mergeRanges(this.reads); }

  close(): void { this.inner.close(); }
}

/** Sorted, non-overlapping ranges covering every read; later reads overwrite earlier ones. */
export function mergeRanges(reads: MemoryRange[]): MemoryRange[] {
  const spans = reads.map((r) => [r.addr, r.addr + r.data.length]).sort((a, b) => a[0] - b[0]);
  const merged: number[][] = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]);
    else merged.push([s[0], s[1]]);
  }
  const out: MemoryRange[] = merged.map(([a, b]) => ({ addr: a, data: new Uint8Array(b - a) }));
  const starts = merged.map((m) => m[0]);
  for (const r of reads) {
    // the merged range holding r
    let lo = 0, hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= r.addr) lo = mid;
      else hi = mid - 1;
    }
    out[lo].data.set(r.data, r.addr - out[lo].addr);
  }
  return out;
}

/** The file's bytes for header and ranges (level: gzip's, 1 fast to 9 small). */
export function encodeSnapshot(header: Record<string, unknown>, ranges: MemoryRange[], level = 9): Buffer {
  const total = ranges.reduce((s, r) => s + r.data.length, 0);
  const head = Buffer.from(JSON.stringify({ ...header, ranges: ranges.length, bytes: total }) + "\n", "utf8");
  const body = Buffer.alloc(ranges.length * RANGE_HEAD + total);
  let p = 0;
  for (const r of ranges) {
    body.writeUInt32LE(r.addr % 2 ** 32, p);
    body.writeUInt32LE(Math.floor(r.addr / 2 ** 32), p + 4);
    body.writeUInt32LE(r.data.length, p + 8);
    body.set(r.data, p + RANGE_HEAD);
    p += RANGE_HEAD + r.data.length;
  }
  const gz = gzipSync(Buffer.concat([head, body]), { level });
  return Buffer.concat([Buffer.from(`${SNAPSHOT_MAGIC}${SNAPSHOT_FORMAT}\n`, "latin1"), gz]);
}

export interface DecodedSnapshot {
  header: Record<string, unknown>;
  ranges: MemoryRange[];
  /** the format version of the file */
  format: number;
}

/** Parses a snapshot file's bytes (name: for messages). Throws a WspyError saying what is wrong. */
export function decodeSnapshot(bytes: Uint8Array, name: string): DecodedSnapshot {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hint = "take it again with `wspy snapshot -p PID -o FILE`";
  if (buf.length === 0) throw new WspyError("BAD_INPUT", `${name} is empty`, "pass a snapshot written by `wspy snapshot`");
  if (buf.subarray(0, SNAPSHOT_MAGIC.length).toString("latin1") !== SNAPSHOT_MAGIC) {
    if (buf.length >= 4 && buf.readUInt32LE(0) === 0x464c457f) {
      throw new WspyError("BAD_INPUT", `${name} is an ELF file, not a wspy snapshot`, "for a core file use `wspy dump --core FILE`");
    }
    throw new WspyError("BAD_INPUT", `${name} is not a wspy snapshot (it does not start with "${SNAPSHOT_MAGIC.trim()}")`, "pass a snapshot written by `wspy snapshot`");
  }
  const nl = buf.indexOf(0x0a, SNAPSHOT_MAGIC.length);
  const vtext = buf.subarray(SNAPSHOT_MAGIC.length, nl < 0 ? Math.min(buf.length, SNAPSHOT_MAGIC.length + 16) : nl).toString("latin1");
  if (nl < 0 || nl > SNAPSHOT_MAGIC.length + 16 || !/^\d+$/.test(vtext)) {
    throw new WspyError("BAD_INPUT", `${name} is a damaged wspy snapshot: no format version on its first line`, hint);
  }
  const format = Number(vtext);
  if (format !== SNAPSHOT_FORMAT) {
    throw new WspyError("UNSUPPORTED", `${name} is a wspy snapshot of format ${format}; this wspy reads format ${SNAPSHOT_FORMAT}`,
      format > SNAPSHOT_FORMAT ? "decode it with the newer wspy that wrote it" : "take it again with this wspy");
  }
  let raw: Buffer;
  try {
    raw = gunzipLimited(buf.subarray(nl + 1), name, "snapshot", inputLimit("snapshot"));
  } catch (e) {
    if (e instanceof WspyError) throw e; // past the limit: named, with how to raise it
    const why = /unexpected end/i.test((e as Error).message) ? "it is truncated" : "its compressed data is corrupt";
    throw new WspyError("BAD_INPUT", `${name} is a damaged wspy snapshot: ${why}`, hint);
  }
  const hEnd = raw.indexOf(0x0a);
  if (hEnd < 0 || hEnd > MAX_HEADER_BYTES) throw new WspyError("BAD_INPUT", `${name} is a damaged wspy snapshot: no header`, hint);
  let header: unknown;
  try {
    header = JSON.parse(raw.subarray(0, hEnd).toString("utf8"));
  } catch (e) {
    throw new WspyError("BAD_INPUT", `${name} is a damaged wspy snapshot: its header is not JSON (${jsonProblem(e)})`, hint);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new WspyError("BAD_INPUT", `${name} is a damaged wspy snapshot: its header is not a JSON object`, hint);
  }
  const h = header as Record<string, unknown>;
  const count = h.ranges, total = h.bytes;
  if (!Number.isSafeInteger(count) || (count as number) < 0 || (count as number) > MAX_RANGES || !Number.isSafeInteger(total) || (total as number) < 0) {
    throw new WspyError("BAD_INPUT", `${name} is a damaged wspy snapshot: header fields "ranges" and "bytes" must be counts`, hint);
  }
  const ranges: MemoryRange[] = [];
  let p = hEnd + 1, sum = 0, prevEnd = -1;
  for (let i = 0; i < (count as number); i++) {
    if (p + RANGE_HEAD > raw.length) throw new WspyError("BAD_INPUT", `${name} is a damaged wspy snapshot: range ${i} of ${count} is missing (truncated)`, hint);
    const addr = raw.readUInt32LE(p) + raw.readUInt32LE(p + 4) * 2 ** 32;
    const len = raw.readUInt32LE(p + 8);
    if (p + RANGE_HEAD + len > raw.length) throw new WspyError("BAD_INPUT", `${name} is a damaged wspy snapshot: range ${i} runs past the end (truncated)`, hint);
    if (addr + len > 2 ** 53 || addr < prevEnd) throw new WspyError("BAD_INPUT", `${name} is a damaged wspy snapshot: range ${i} (0x${addr.toString(16)}) is out of order or overlaps the one before`, hint);
    ranges.push({ addr, data: raw.subarray(p + RANGE_HEAD, p + RANGE_HEAD + len) });
    prevEnd = addr + len;
    sum += len;
    p += RANGE_HEAD + len;
  }
  if (sum !== total || p !== raw.length) {
    throw new WspyError("BAD_INPUT", `${name} is a damaged wspy snapshot: its ranges hold ${sum} bytes in ${p - hEnd - 1}, the header says ${total}${p !== raw.length ? `, and ${raw.length - p} bytes follow them` : ""}`, hint);
  }
  return { header: h, ranges, format };
}

/** Serves recorded ranges: a read succeeds when one recorded range holds all of it. */
export class SnapshotMemory {
  private starts: Float64Array;
  constructor(private ranges: MemoryRange[]) {
    this.starts = Float64Array.from(ranges, (r) => r.addr);
  }

  serve(addr: number, len: number, dst: Uint8Array, at: number): boolean {
    let lo = 0, hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] <= addr) lo = mid + 1;
      else hi = mid;
    }
    const r = this.ranges[lo - 1];
    if (!r || addr + len > r.addr + r.data.length) return false;
    dst.set(r.data.subarray(addr - r.addr, addr - r.addr + len), at);
    return true;
  }

  get rangeCount(): number { return this.ranges.length; }
}
