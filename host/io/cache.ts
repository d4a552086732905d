// A private cache of small facts kept across runs (what wspy learnt from a file, so that the next
// run need not parse it again): $WSPY_CACHE_DIR, else $XDG_CACHE_HOME/wspy, else ~/.cache/wspy.
// Each record is one file named by a hash of its key (JSON, or bytes after a header), and holds
// its key: a record whose key differs, that is not a regular file of ours, or that does not
// parse, is a miss. Deleting the folder is always safe (WSPY_NO_CACHE=1: never read or
// written). Writes are atomic, private (0600 in a 0700 folder owned by us, checked) and never
// follow a link; any failure is silent.
// Must not know: what the facts mean (callers give a kind, a key and a value).
// Source of truth: README "Security" ("A private cache"); open(2) (O_EXCL|O_NOFOLLOW).

import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, renameSync, unlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createPrivate, ownFolder, writeAll } from "./output.js";

const FORMAT = "wspy-cache/1";
/** A facts record is a few KB, a code cache a few hundred: anything larger is not one of ours. */
const MAX_RECORD = 8 * 1024 * 1024;

let folder: string | null | undefined;
/** The cache folder, made and checked once per run; null when there is none to use. */
function cacheFolder(): string | null {
  if (folder !== undefined) return folder;
  folder = null;
  if (process.env.WSPY_NO_CACHE === "1") return folder;
  let dir = process.env.WSPY_CACHE_DIR ?? "";
  if (!dir) {
    const xdg = process.env.XDG_CACHE_HOME;
    let home = "";
    try { home = os.homedir(); } catch { /* no home */ }
    dir = xdg && path.isAbsolute(xdg) ? path.join(xdg, "wspy") : home && path.isAbsolute(home) ? path.join(home, ".cache", "wspy") : "";
  }
  if (dir && path.isAbsolute(dir) && ownFolder(dir)) folder = dir;
  return folder;
}

function recordFile(dir: string, kind: string, key: string, ext: string): string {
  return path.join(dir, `${kind}-${digest64(Buffer.from(`${kind}\0${key}`, "utf8"))}${ext}`);
}

/**
 * FNV-1a, 64 bits, as 16 hex digits: names a record (which holds its whole key, checked on
 * read). Not a cryptographic hash: node:crypto costs a start-up its load.
 */
function digest64(bytes: Uint8Array): string {
  // two 32-bit lanes of the 64-bit state: h = (h ^ b) * 0x100000001b3 mod 2^64
  let hi = 0xcbf29ce4, lo = 0x84222325;
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]) >>> 0;
    // multiply by 2^40 + 0x1b3: the 2^40 part moves lo << 8 into hi
    const loMul = lo * 0x1b3;
    const carry = Math.floor(loMul / 0x100000000);
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
    lo = loMul >>> 0;
  }
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}

/** The bytes of (kind, key)'s record file: a regular file of ours, not a link, not too large. */
function readRecord(kind: string, key: string, ext: string): Buffer | undefined {
  const dir = cacheFolder();
  if (!dir) return undefined;
  let fd: number;
  try {
    fd = openSync(recordFile(dir, kind, key, ext), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    const uid = process.geteuid?.() ?? st.uid;
    if (!st.isFile() || st.uid !== uid || st.size > MAX_RECORD) return undefined;
    const buf = Buffer.allocUnsafe(st.size);
    let done = 0;
    while (done < st.size) {
      const n = readSync(fd, buf, done, st.size - done, done);
      if (n <= 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The value kept for (kind, key), or undefined. */
export function cacheGet(kind: string, key: string): unknown {
  const buf = readRecord(kind, key, ".json");
  if (!buf) return undefined;
  try {
    const doc = JSON.parse(buf.toString("utf8")) as { format?: unknown; kind?: unknown; key?: unknown; value?: unknown };
    return doc && doc.format === FORMAT && doc.kind === kind && doc.key === key ? doc.value : undefined;
  } catch {
    return undefined;
  }
}

/** What a bytes record starts with: the format, its kind and its key, each ended by NUL. */
function bytesHeader(kind: string, key: string): Buffer {
  return Buffer.from(`${FORMAT}\0${kind}\0${key}\0`, "utf8");
}

/** The bytes kept for (kind, key) by cachePutBytes, or undefined. */
export function cacheGetBytes(kind: string, key: string): Buffer | undefined {
  const buf = readRecord(kind, key, ".bin");
  if (!buf) return undefined;
  const head = bytesHeader(kind, key);
  return buf.length >= head.length && buf.subarray(0, head.length).equals(head) ? buf.subarray(head.length) : undefined;
}

/** Keeps value for (kind, key), replacing what was kept; silent when it cannot. */
export function cachePut(kind: string, key: string, value: unknown): void {
  writeRecord(kind, key, ".json", Buffer.from(JSON.stringify({ format: FORMAT, kind, key, value }) + "\n", "utf8"));
}

/**
 * Keeps bytes for (kind, key) (after a header naming them), replacing what was kept; silent when
 * it cannot. Large records are kept for the newest keep keys of their kind: the others (an old
 * build's, another Node's) are removed.
 */
export function cachePutBytes(kind: string, key: string, bytes: Uint8Array, keep = 4): void {
  writeRecord(kind, key, ".bin", Buffer.concat([bytesHeader(kind, key), bytes]));
  const dir = cacheFolder();
  if (!dir) return;
  try {
    const mine = readdirSync(dir).filter((f) => f.startsWith(`${kind}-`) && f.endsWith(".bin"))
      .map((f) => ({ f, at: lstatSync(path.join(dir, f)).mtimeMs })).sort((a, b) => b.at - a.at);
    for (const { f } of mine.slice(keep)) unlinkSync(path.join(dir, f));
  } catch {
    // another wspy removed them first: nothing to do
  }
}

function writeRecord(kind: string, key: string, ext: string, bytes: Buffer): void {
  const dir = cacheFolder();
  if (!dir) return;
  let tmp = "";
  try {
    if (bytes.length > MAX_RECORD) return;
    const made = createPrivate(dir, `.${kind}.`, ".tmp");
    tmp = made.file;
    try {
      writeAll(made.fd, bytes);
    } finally {
      closeSync(made.fd);
    }
    // rename(2) replaces the name itself: a link planted there is replaced, never followed
    renameSync(tmp, recordFile(dir, kind, key, ext));
    tmp = "";
  } catch {
    // a full disk, a read-only home: the next run parses again
  } finally {
    if (tmp) try { unlinkSync(tmp); } catch { /* gone */ }
  }
}
