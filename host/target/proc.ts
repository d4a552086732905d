// /proc: the target's memory map, executable, command line and threads' OS states.
// Must not know: CPython layouts, ELF formats (it only lists mapped files).
// Source of truth: proc(5) (/proc/PID/maps, /proc/PID/task/TID/stat, /proc/PID/root).

import { readFileSync, readdirSync, openSync, readSync, closeSync, statSync } from "node:fs";
import { WspyError, permissionError } from "../errors.js";

export interface Mapping {
  start: number;
  end: number;
  perms: string;
  offset: number;
  path: string;
}

function errnoOf(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? "";
}

/** Throws the right WspyError for a failed /proc access of pid. */
export function procError(pid: number, e: unknown): never {
  const code = errnoOf(e);
  if (code === "ENOENT" || code === "ESRCH") {
    throw new WspyError("NO_SUCH_PROCESS", `no process with pid ${pid}`, "check the pid with `ps`; the process may have exited");
  }
  if (code === "EACCES" || code === "EPERM") {
    throw permissionError(pid);
  }
  throw new WspyError("INTERNAL", `cannot read /proc/${pid}: ${(e as Error).message}`);
}

export function checkPid(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 0) throw new WspyError("BAD_INPUT", `not a process id: ${pid}`, "pass the numeric pid of a running Python process");
  let status: string;
  try {
    statSync(`/proc/${pid}`);
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch (e) {
    procError(pid, e);
  }
  // a zombie has exited: only its exit status is left, until its parent reaps it
  const state = /^State:\s+(\S)/m.exec(status)?.[1];
  if (state === "Z" || state === "X") {
    const ppid = /^PPid:\s+(\d+)/m.exec(status)?.[1];
    throw new WspyError("NO_SUCH_PROCESS", `process ${pid} has exited (a zombie${ppid ? ` its parent ${ppid} has not reaped` : ""})`, "profile a running process; check it with `ps`");
  }
}

export function readMaps(pid: number): Mapping[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, "utf8");
  } catch (e) {
    procError(pid, e);
  }
  const out: Mapping[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    // start-end perms offset dev inode path (the path may contain spaces)
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), perms: m[3], offset: parseInt(m[4], 16), path: m[5] });
  }
  return out;
}

export function readCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

/** A path inside the target's mount namespace, as seen from here (containers). */
export function targetPath(pid: number, path: string): string {
  return `/proc/${pid}/root${path}`;
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/**
 * OS run states of a process's threads, read with one pread per thread from kept-open
 * /proc/PID/task/TID/stat files (re-read from offset 0, the kernel regenerates them).
 */
export class TaskStates {
  private fds = new Map<number, number>();
  private buf = Buffer.alloc(512);
  constructor(private pid: number) {}

  /** 'R' running, 'S' sleeping, 'D' disk wait, ...; '' when the thread is gone. */
  state(tid: number): string {
    let fd = this.fds.get(tid);
    if (fd === undefined) {
      try {
        fd = openSync(`/proc/${this.pid}/task/${tid}/stat`, "r");
      } catch {
        return "";
      }
      this.fds.set(tid, fd);
    }
    let n: number;
    try {
      n = readSync(fd, this.buf, 0, this.buf.length, 0);
    } catch {
      closeSync(fd);
      this.fds.delete(tid);
      return "";
    }
    // "tid (comm) S ..." : comm may contain ')' so search from the end
    for (let i = n - 1; i > 0; i--) {
      if (this.buf[i] === 0x29 /* ) */) return String.fromCharCode(this.buf[i + 2]);
    }
    return "";
  }

  /** Is the thread running or runnable (not idle)? Unknown counts as active. */
  active(tid: number): boolean {
    if (tid <= 0) return true;
    const s = this.state(tid);
    return s === "R" || s === "";
  }

  close(): void {
    for (const fd of this.fds.values()) {
      try { closeSync(fd); } catch { /* already closed */ }
    }
    this.fds.clear();
  }
}

export function listTasks(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number).filter((n) => n > 0);
  } catch {
    return [];
  }
}

/** ProcessIdentity.check(): the same program is running under the pid. */
export const ID_SAME = 0;
/** ProcessIdentity.check(): the process exited (its pid may already be another process's). */
export const ID_GONE = 1;
/** ProcessIdentity.check(): the process exec'd another program (or re-exec'd its own). */
export const ID_EXEC = 2;

/**
 * Who a pid is: the process that had it when this was made, read through a kept-open
 * /proc/PID/stat. The open file stays bound to that process: once it exits, reads fail with
 * ESRCH even when a new process has taken the pid, so a walk checked afterwards is known to
 * have read the right process. Its start time (field 22) names it across opens; an exec keeps
 * the process and its start time but maps a new program: startcode and startstack (fields 26,
 * 28) change (the stack always does under ASLR; with ASLR off, an exec of the same binary is
 * not seen). check() reads one page with one pread and allocates nothing.
 */
export class ProcessIdentity {
  private fd = -1;
  private buf = Buffer.alloc(1024);
  /** field 22, clock ticks after boot: with the pid, the process's identity */
  readonly start: number;
  private code = 0;
  private stack = 0;

  constructor(readonly pid: number) {
    try {
      this.fd = openSync(`/proc/${pid}/stat`, "r");
    } catch {
      this.fd = -1;
    }
    const ok = this.readFields();
    this.start = ok ? this.rStart : -1;
    this.code = ok ? this.rCode : 0;
    this.stack = ok ? this.rStack : 0;
  }

  // the last read's fields (kept here so that check() allocates nothing)
  private rState = 0;
  private rStart = -1;
  private rCode = 0;
  private rStack = 0;

  private readFields(): boolean {
    if (this.fd < 0) return false;
    let n: number;
    try {
      n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
    } catch {
      return false;
    }
    // "pid (comm) S f4 f5 ...": comm may hold ')' and spaces, so fields count from the last ')'
    let i = n - 1;
    while (i > 0 && this.buf[i] !== 0x29) i--;
    if (i <= 0) return false;
    let field = 2, state = 0, start = -1, code = 0, stack = 0, value = 0;
    for (let k = i + 1; k < n; k++) {
      const c = this.buf[k];
      if (c === 0x20 || c === 0x0a) {
        if (field === 22) start = value;
        else if (field === 26) code = value;
        else if (field === 28) { stack = value; break; }
        field++;
        value = 0;
        continue;
      }
      if (field === 3) state = c;
      else if (c >= 0x30 && c <= 0x39) value = value * 10 + (c - 0x30);
    }
    this.rState = state;
    this.rStart = start;
    this.rCode = code;
    this.rStack = stack;
    return true;
  }

  /** ID_SAME, ID_GONE (exited: a zombie, or no longer there) or ID_EXEC. */
  check(): number {
    if (this.fd < 0) return isAlive(this.pid) ? ID_SAME : ID_GONE; // no /proc access: the old test
    if (!this.readFields() || this.rState === 0x5a /* Z */ || this.rState === 0x58 /* X */ || this.rStart !== this.start) return ID_GONE;
    if (this.rCode !== this.code || this.rStack !== this.stack) return ID_EXEC;
    return ID_SAME;
  }

  close(): void {
    if (this.fd >= 0) try { closeSync(this.fd); } catch { /* closed */ }
    this.fd = -1;
  }
}

/** The start time (/proc/PID/stat field 22) of the process with this pid now, -1 when none. */
export function startTimeOf(pid: number): number {
  const id = new ProcessIdentity(pid);
  id.close();
  return id.start;
}
