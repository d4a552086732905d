// Reading the user's input files with bounds: every file wspy reads on the user's word (snapshots,
// recordings, version tables, the files a core names, --exe, --sysroot) is opened without
// blocking (a FIFO must not hang us), must be a regular file (/dev/zero or a link to it must not
// grow memory without end), is read with a size limit, and is decompressed with an output limit
// (a gzip bomb must not cost gigabytes). The limits are named here, one per kind of input; the
// environment variable WSPY_MAX_INPUT_MB raises every one of them. Messages never quote raw
// bytes of a file: quoteBytes() escapes a short prefix.
// Must not know: what the files hold (snapshot, recording, table formats belong to their readers).
// Source of truth: this file (the limits, documented in README "Bounded input"); open(2)
// (O_NONBLOCK on a FIFO), fstat(2).

import { openSync, closeSync, fstatSync, statSync, readSync, constants, type Stats } from "node:fs";
import { createRequire } from "node:module";
import { WspyError } from "../errors.js";

const MiB = 1024 * 1024;

/** The kinds of input file, each with its own limit. */
export type InputKind = "recording" | "snapshot" | "version table" | "ELF file";

/**
 * Bytes read or decompressed at most, by kind. A recording or snapshot limit applies both to the
 * file and to what its gzip stream expands to. Typical sizes: a snapshot a few hundred KB, a
 * recording a few MB (an hour at 100 Hz with every sample's time: about 10 MB), a version table
 * a few KB, libpython 5 to 30 MB (an ELF file is read by the ranges its headers name, never
 * whole: the limit is on the part of the file wspy looks at).
 */
export const INPUT_LIMITS: Record<InputKind, number> = {
  "recording": 256 * MiB,
  "snapshot": 256 * MiB,
  "version table": 16 * MiB,
  "ELF file": 512 * MiB,
};

/** The environment variable that raises every input limit (a number of MiB). */
export const LIMIT_ENV = "WSPY_MAX_INPUT_MB";
/** The largest value LIMIT_ENV may give: the core's allocator holds blocks below 1 GiB (an ELF file's view). */
const LIMIT_ENV_MAX_MB = 1000;

/** The limit for kind: the named one, or $WSPY_MAX_INPUT_MB MiB when that is larger. */
export function inputLimit(kind: InputKind): number {
  const base = INPUT_LIMITS[kind];
  const env = process.env[LIMIT_ENV];
  if (!env) return base;
  if (!/^\d+$/.test(env) || Number(env) < 1 || Number(env) > LIMIT_ENV_MAX_MB) {
    throw new WspyError("BAD_INPUT", `${LIMIT_ENV} must be a whole number of MiB from 1 to ${LIMIT_ENV_MAX_MB}, not ${quoteText(env)}`, "");
  }
  return Math.max(base, Number(env) * MiB);
}

/** A size in words: "256 MiB", "1.5 KiB", "12 bytes". */
export function sizeText(n: number): string {
  if (n >= MiB) return `${+(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** How to raise kind's limit, for hints. */
export function raiseHint(kind: InputKind): string {
  return `if the ${kind} is genuine, raise the limit with ${LIMIT_ENV}=N (MiB)`;
}

/** What a non-regular file is, in words. */
export function fileTypeText(st: Stats): string {
  if (st.isDirectory()) return "a folder";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** At most max bytes of bytes, quoted for a message: JSON-escaped, non-ASCII and controls as \uXXXX. */
export function quoteBytes(bytes: Uint8Array, max = 16): string {
  let s = "";
  for (const b of bytes.subarray(0, max)) s += String.fromCharCode(b);
  return quoteText(s) + (bytes.length > max ? "…" : "");
}

/** A string quoted for a message: JSON-escaped, every character outside printable ASCII as \uXXXX. */
export function quoteText(s: string, max = 40): string {
  const cut = s.length > max ? s.slice(0, max) : s;
  return JSON.stringify(cut).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) + (s.length > max ? "…" : "");
}

/** A path or name from a file (a core's file list), fit for a message: as it is when printable ASCII, else quoted and escaped. */
export function shownName(s: string): string {
  return /^[\x20-\x7e]*$/.test(s) && s.length <= 4096 ? s : quoteText(s, 256);
}

/** Why open(2) failed, in words. */
function openProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "it is a folder";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "ELOOP") return "too many levels of symbolic links";
  if (code === "ENXIO") return "no such device";
  return code ?? (e as Error).message;
}

export interface OpenInput {
  fd: number;
  size: number;
  stats: Stats;
}

/**
 * Opens file for reading without blocking and refuses anything but a regular file: stat(2) first,
 * so that a device or FIFO is never even opened (opening some devices acts); then open(2) with
 * O_NONBLOCK (should the path turn into a FIFO meanwhile, it opens at once instead of waiting
 * for a writer) and fstat(2) of what was opened. Links are followed (the libraries a core names
 * are reached through links). Throws a one-line WspyError (PERMISSION when not allowed, else
 * BAD_INPUT) naming the file as `what`.
 */
export function openInputFile(file: string, what = file): OpenInput {
  const r = openRegular(file);
  if ("fd" in r) return r;
  if (r.denied) throw new WspyError("PERMISSION", `permission denied reading ${what}`, "check the file's permissions");
  throw new WspyError("BAD_INPUT", `cannot read ${what}: ${r.why}`, r.irregular ? "pass a regular file" : "");
}

/** Why a file could not be opened as a regular file: words, and whether it exists as something else. */
export interface OpenFailure { why: string; irregular: boolean; denied: boolean }

/** openInputFile without the throw: the open file, or why not (for callers that go on without it). */
export function openRegular(file: string): OpenInput | OpenFailure {
  const irregular = (st: Stats): OpenFailure => ({ why: `it is ${fileTypeText(st)}, not a regular file`, irregular: true, denied: false });
  let fd: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return irregular(st);
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { why: openProblem(e), irregular: false, denied: code === "EACCES" || code === "EPERM" };
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      closeSync(fd);
      return irregular(stats);
    }
    return { fd, size: stats.size, stats };
  } catch (e) {
    closeSync(fd);
    return { why: openProblem(e), irregular: false, denied: false };
  }
}

/**
 * A file's identity for caching what it holds: device, inode, size, modification and change
 * times (the change time moves on every write and cannot be set back by the file's owner).
 */
export function fileIdentity(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** The limit error for kind: one line naming the file, the limit and how to raise it. */
export function tooLarge(what: string, kind: InputKind, how: string): WspyError {
  return new WspyError("BAD_INPUT", `${what} ${how} the ${sizeText(inputLimit(kind))} limit for a ${kind}`, raiseHint(kind));
}

/**
 * The whole of a regular file, at most the limit of its kind (or maxBytes): opened as
 * openInputFile does, refused when fstat says it is larger, and read at most limit+1 bytes (a
 * file growing while read is refused too, never read without end).
 */
export function readInputFile(file: string, opts: { kind: InputKind; maxBytes?: number; what?: string }): Buffer {
  const what = opts.what ?? file;
  const limit = opts.maxBytes ?? inputLimit(opts.kind);
  const { fd, size } = openInputFile(file, what);
  try {
    if (size > limit) throw tooLarge(what, opts.kind, `is ${sizeText(size)}, over`);
    // fstat's size first, then more while the file grows, up to limit + 1 bytes
    let buf = Buffer.allocUnsafe(Math.min(size, limit) + 1);
    let done = 0;
    for (;;) {
      if (done === buf.length) {
        if (done > limit) throw tooLarge(what, opts.kind, "grew past");
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, limit + 1));
        buf.copy(bigger, 0, 0, done);
        buf = bigger;
      }
      let n: number;
      try {
        n = readSync(fd, buf, done, buf.length - done, done);
      } catch (e) {
        throw new WspyError("BAD_INPUT", `cannot read ${what}: ${openProblem(e)}`, "check the file");
      }
      if (n <= 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/**
 * gunzip with an output limit (the limit of kind, or maxBytes): a stream that would expand past
 * it stops there, and a WspyError says so in one line. Other zlib errors are rethrown as they
 * are, for the caller to word (truncated, corrupt).
 */
export function gunzipLimited(bytes: Uint8Array, what: string, kind: InputKind, maxBytes = inputLimit(kind)): Buffer {
  try {
    // node:zlib loads with the first compressed input, not with every command
    const { gunzipSync } = createRequire(import.meta.url)("node:zlib") as typeof import("node:zlib");
    return gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError) {
      throw new WspyError("BAD_INPUT", `${what} expands past the ${sizeText(maxBytes)} limit for a ${kind} when decompressed`, raiseHint(kind));
    }
    throw e;
  }
}

/** A JSON.parse error in words, without the bit of input V8 quotes ("Unexpected token 'x', \"...\" is not valid JSON"). */
export function jsonProblem(e: unknown): string {
  const m = /position (\d+)/.exec((e as Error).message);
  if (m) return `invalid JSON at character ${m[1]}`;
  return /end of (JSON )?input/i.test((e as Error).message) ? "invalid JSON: it ends too early" : "invalid JSON";
}
