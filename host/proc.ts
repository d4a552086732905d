// /proc: the target's memory map, executable, command line and threads' OS states.
// Must not know: CPython layouts, ELF formats (it only lists mapped files).
// Source of truth: proc(5) (/proc/PID/maps, /proc/PID/task/TID/stat, /proc/PID/root).

import { readFileSync, readdirSync, openSync, readSync, closeSync, statSync } from "node:fs";
import { WspyError, permissionError } from "./errors.js";

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
