// Writing results safely, even as root in a folder others can write: a regular file is
// replaced atomically (a private temp file with an unpredictable name, opened O_EXCL|O_NOFOLLOW,
// written, fsync'ed, then renamed over the name); a character device or a pipe (/dev/stdout,
// `-o >(gzip > x)`) is streamed to; anything else (a symbolic link, a folder, a block device, a
// socket) is never replaced. When the output cannot be written, the data is kept in a private file
// elsewhere and the error says where.
// Must not know: formats or the core.
// Source of truth: rename(2) (atomic in one file system, replaces the name, never follows a link
// there), open(2) (O_EXCL|O_NOFOLLOW), README "Security".

import {
  openSync, writeSync, fsyncSync, fchmodSync, fstatSync, closeSync, renameSync, unlinkSync, lstatSync, statSync,
  mkdirSync, accessSync, readSync, constants, type Stats,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { WspyError } from "../errors.js";

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NOCTTY, O_CLOEXEC } = constants as typeof constants & { O_CLOEXEC?: number };
const O_NEW = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | (O_CLOEXEC ?? 0);

export interface WriteOptions {
  /** mode 0600 (snapshots may hold local variables); otherwise 0666 less the umask */
  private?: boolean;
  /** what is written, for messages: "profile", "snapshot", "version table" */
  what?: string;
}

/** What the output name is: a new or regular file (replaced), a stream (written to), or refused (why). */
type Target = { kind: "file" } | { kind: "fd"; fd: number } | { kind: "stream" } | { kind: "refused"; why: string };

/** /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N name wspy's own open descriptors. */
function ownDescriptor(file: string): number | null {
  const p = path.resolve(file);
  if (p === "/dev/stdout") return 1;
  if (p === "/dev/stderr") return 2;
  const m = /^\/(?:dev\/fd|proc\/self\/fd)\/(\d+)$/.exec(p);
  if (m) return Number(m[1]);
  const n = /^\/proc\/(\d+)\/fd\/(\d+)$/.exec(p);
  return n && Number(n[1]) === process.pid ? Number(n[2]) : null;
}

function kindName(st: Stats): string {
  return st.isDirectory() ? "a folder" : st.isBlockDevice() ? "a block device" : st.isSocket() ? "a socket"
    : st.isSymbolicLink() ? "a symbolic link" : st.isCharacterDevice() ? "a character device" : st.isFIFO() ? "a pipe" : "not a regular file";
}

function classify(file: string): Target {
  const fd = ownDescriptor(file);
  if (fd !== null) {
    try {
      const st = fstatSync(fd);
      if (st.isFile() || st.isFIFO() || st.isCharacterDevice() || st.isSocket()) return { kind: "fd", fd };
      return { kind: "refused", why: `descriptor ${fd} is not a file, a pipe, a device or a socket` };
    } catch {
      return { kind: "refused", why: `descriptor ${fd} is not open` };
    }
  }
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { kind: "file" };
    return { kind: "refused", why: (e as Error).message };
  }
  if (st.isFile()) return { kind: "file" };
  if (st.isCharacterDevice() || st.isFIFO()) return { kind: "stream" };
  if (st.isSymbolicLink()) {
    // a link to a device or a pipe (/dev/stdout → /proc/self/fd/1 → /dev/pts/3) is written
    // through, never to a file: the open has no O_CREAT/O_TRUNC and the descriptor is checked
    try {
      const to = statSync(file);
      if (to.isCharacterDevice() || to.isFIFO()) return { kind: "stream" };
    } catch { /* a dangling link: refused below */ }
    return { kind: "refused", why: "it is a symbolic link (wspy never writes through links)" };
  }
  return { kind: "refused", why: `it is ${kindName(st)}` };
}

/** Fails early (before sampling) when the output cannot be written. */
export function checkWritable(file: string): void {
  const t = classify(file);
  if (t.kind === "refused") throw new WspyError("BAD_INPUT", `will not write ${file}: ${t.why}`, "choose a new or regular file with -o");
  if (t.kind !== "file") return;
  const dir = path.dirname(path.resolve(file));
  try {
    if (!statSync(dir).isDirectory()) throw new Error("not a folder");
    accessSync(dir, constants.W_OK);
  } catch {
    throw new WspyError("BAD_INPUT", `cannot write ${file}: the folder ${dir} does not exist or is not writable`, "choose another path with -o");
  }
}

/** Writes all of data to fd (retrying short writes and a non-blocking descriptor's EAGAIN). */
export function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  let waits = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off, data.length - off);
      waits = 0;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN" || ++waits > 30_000) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

function fileMode(opts: WriteOptions): number {
  return opts.private ? 0o600 : 0o666 & ~process.umask();
}

/**
 * 16 hex digits from the kernel's CSPRNG: /dev/urandom (a read of 8 bytes), else Web Crypto's
 * (node:crypto costs 10 ms of CPU to load: more than the rest of writing a recording's file).
 */
function unpredictableHex(): string {
  const bytes = Buffer.alloc(8);
  let fd = -1;
  try {
    fd = openSync("/dev/urandom", constants.O_RDONLY | (O_CLOEXEC ?? 0));
    if (fstatSync(fd).isCharacterDevice() && readSync(fd, bytes, 0, 8, null) === 8) return bytes.toString("hex");
  } catch { /* no /dev/urandom here (a bare chroot): Web Crypto */ } finally {
    if (fd >= 0) closeSync(fd);
  }
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(8))).toString("hex");
}

/** A new private file in dir with an unpredictable name: O_EXCL|O_NOFOLLOW, mode 0600. */
export function createPrivate(dir: string, prefix: string, suffix: string): { fd: number; file: string } {
  for (let attempt = 0; ; attempt++) {
    const file = path.join(dir, `${prefix}${unpredictableHex()}${suffix}`);
    try {
      return { fd: openSync(file, O_NEW, 0o600), file };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 8) throw e;
    }
  }
}

/**
 * Replaces regular file `file` (or creates it) with bytes, atomically: a private temporary file in
 * its folder, synced, then renamed over it. Throws (the temporary file removed) when it cannot;
 * nothing is kept elsewhere (the agent's segments: a full disk drops one, not fills another).
 */
export function writeFileAtomic(file: string, bytes: Uint8Array, opts: WriteOptions = {}): void {
  writeFile(file, bytes, opts);
}

function writeFile(file: string, bytes: Uint8Array, opts: WriteOptions): void {
  const dir = path.dirname(path.resolve(file));
  const { fd, file: tmp } = createPrivate(dir, `.${path.basename(file)}.`, ".tmp");
  try {
    try {
      writeAll(fd, bytes);
      fchmodSync(fd, fileMode(opts));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // only a regular file (or nothing) is replaced; the name is looked at again just before
    const t = classify(file);
    if (t.kind !== "file") throw new Error(t.kind === "refused" ? t.why : "it became a device or a pipe");
    renameSync(tmp, file);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw e;
  }
}

function writeStream(file: string, bytes: Uint8Array): void {
  // no O_CREAT, no O_TRUNC: a device or a pipe is written to, never made or emptied
  const fd = openSync(file, O_WRONLY | O_NOCTTY | (O_CLOEXEC ?? 0));
  try {
    const st = fstatSync(fd);
    if (!st.isCharacterDevice() && !st.isFIFO()) throw new Error(`it is ${kindName(st)} now (not a device or a pipe)`);
    writeAll(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

/** Why a write failed, in words (no temp file names). */
function reason(e: unknown, dir: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT": case "ENOTDIR": return `ENOENT: the folder ${dir} no longer exists`;
    case "ENOSPC": return "no space left on the device";
    case "EDQUOT": return "disk quota exceeded";
    case "EROFS": return "a read-only file system";
    case "EACCES": case "EPERM": return `permission denied in ${dir}`;
    case "EPIPE": return "the pipe's reader is gone";
    default: return code ? `${code}: ${(e as Error).message.replace(/^\w+: /, "")}` : (e as Error).message;
  }
}

/** Folders for kept results, most private first: $XDG_STATE_HOME/wspy, ~/.local/state/wspy, the temp dir. */
function keepFolders(): { dir: string; own: boolean }[] {
  const out: { dir: string; own: boolean }[] = [];
  const xdg = process.env.XDG_STATE_HOME;
  if (xdg && path.isAbsolute(xdg)) out.push({ dir: path.join(xdg, "wspy"), own: true });
  let home = "";
  try { home = os.homedir(); } catch { /* no home */ }
  if (home && path.isAbsolute(home)) out.push({ dir: path.join(home, ".local", "state", "wspy"), own: true });
  out.push({ dir: os.tmpdir(), own: false });
  return out;
}

/** A folder of ours: created 0700 if missing; must be a real folder (not a link) owned by us, closed to others. */
export function ownFolder(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const uid = process.geteuid?.() ?? st.uid;
    return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * Keeps bytes that could not go where asked in a private new file (mode 0600, O_EXCL|O_NOFOLLOW)
 * under $XDG_STATE_HOME/wspy, ~/.local/state/wspy or the temp dir; returns its path, or null.
 */
export function keepElsewhere(file: string, bytes: Uint8Array): string | null {
  const base = path.basename(file).replace(/[^\w.-]/g, "_").slice(-80) || "output";
  for (const { dir, own } of keepFolders()) {
    if (own && !ownFolder(dir)) continue;
    try {
      const { fd, file: kept } = createPrivate(dir, `wspy-kept-${new Date().toISOString().replace(/[:.]/g, "-")}-`, `-${base}`);
      try {
        writeAll(fd, bytes);
        fsyncSync(fd);
      } catch {
        closeSync(fd);
        try { unlinkSync(kept); } catch { /* gone */ }
        continue;
      }
      closeSync(fd);
      return kept;
    } catch { /* the next folder */ }
  }
  return null;
}

/**
 * Writes data to file: a regular file (or a new name) atomically with the final mode, a device or a
 * pipe streamed, wspy's stdout/stderr by descriptor. Throws WspyError("OUTPUT") when it cannot,
 * after keeping the data elsewhere (the message names where).
 */
export function writeOutput(file: string, data: string | Uint8Array, opts: WriteOptions = {}): void {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let why: string;
  try {
    const t = classify(file);
    if (t.kind === "file") return writeFile(file, bytes, opts);
    if (t.kind === "stream") return writeStream(file, bytes);
    if (t.kind === "fd") return writeAll(t.fd, bytes);
    why = t.why;
  } catch (e) {
    why = reason(e, path.dirname(path.resolve(file)));
  }
  const what = opts.what ?? "output";
  const kept = keepElsewhere(file, bytes);
  const where = kept ? `the ${what} is kept in ${kept}` : `the ${what} could not be kept anywhere`;
  throw new WspyError("OUTPUT", `cannot write ${file} (${why}); ${where}`, kept ? `move it where you want it; choose a new or regular file with -o` : "free some space or choose another -o");
}
