// Following a process tree for `--subprocesses`: which processes descend from the root, which
// appeared and which ended since the last look, and whether a known one has exec'd another
// program since (its memory is then another interpreter's, or none).
// Must not know: CPython, the core; it reads /proc only.
// Source of truth: proc(5): /proc/PID/stat fields 4 (ppid), 22 (starttime), 26 (startcode),
// 28 (startstack); /proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN, which many kernels
// lack, so the tree is found by reading every new process's parent once.

import { readFileSync, readdirSync } from "node:fs";

/** The fields of /proc/PID/stat after the command name (index 0 is field 3, the state). */
export function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "latin1");
    return s.slice(s.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** A value that changes when pid exec's another program: start time, code and stack addresses. */
export function execSignature(pid: number): string {
  const f = statFields(pid);
  return f ? `${f[19]}:${f[23]}:${f[25]}` : "";
}

/** The pids /proc lists now; null when it cannot be read. */
function procPids(): number[] | null {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return null;
  }
  const pids: number[] = [];
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c >= 48 && c <= 57) pids.push(Number(n));
  }
  return pids;
}

export class ProcessTree {
  /** descendants (and the root): pid -> parent pid and start time (field 22: a reused pid is another process) */
  private members = new Map<number, { ppid: number; start: string }>();
  /**
   * pids seen that are not ours. They are not read again while listed: a machine runs hundreds
   * of processes and a scan every 100 ms must stay cheap (a pid reused between two scans, 100 ms
   * apart, by one of our descendants would be missed: that takes the whole pid space cycling).
   */
  private others = new Set<number>();

  constructor(readonly root: number) {
    this.members.set(root, { ppid: 0, start: statFields(root)?.[19] ?? "" });
  }

  has(pid: number): boolean { return this.members.has(pid); }
  parentOf(pid: number): number { return this.members.get(pid)?.ppid ?? 0; }

  /** Looks at /proc once: the descendants that appeared and the members that are gone. */
  scan(): { added: number[]; gone: number[] } {
    const pids = procPids();
    if (!pids) return { added: [], gone: [] };
    const present = new Set<number>();
    const gone: number[] = [];
    const fresh: { pid: number; ppid: number; start: string }[] = [];
    for (const pid of pids) {
      if (this.others.has(pid)) { present.add(pid); continue; }
      const f = statFields(pid);
      if (!f) continue; // gone since the listing
      present.add(pid);
      const m = this.members.get(pid);
      if (m) {
        if (m.start === f[19]) continue;
        // the member exited and its pid is another process's now: gone, and the new one looked at afresh
        gone.push(pid);
        if (pid !== this.root) this.members.delete(pid);
      }
      fresh.push({ pid, ppid: Number(f[1]), start: f[19] });
    }
    const added: number[] = [];
    // closure: a grandchild may be listed before its parent
    for (let changed = true; changed;) {
      changed = false;
      for (const p of fresh) {
        if (p.pid === 0 || p.pid === this.root || !this.members.has(p.ppid)) continue;
        this.members.set(p.pid, { ppid: p.ppid, start: p.start });
        added.push(p.pid);
        p.pid = 0;
        changed = true;
      }
    }
    for (const p of fresh) if (p.pid !== 0 && p.pid !== this.root) this.others.add(p.pid);
    for (const pid of this.members.keys()) {
      if (present.has(pid)) continue;
      gone.push(pid);
      if (pid !== this.root) this.members.delete(pid);
    }
    for (const pid of this.others) if (!present.has(pid)) this.others.delete(pid);
    return { added, gone };
  }
}

/** How long a process that does not match is looked at again (it may exec the matching program), ms. */
const YOUNG_MS = 3000;

/**
 * The processes whose command line matches a pattern (`wspy agent --match`), and with
 * descendants their children too: which appeared and which ended since the last look. A process
 * that does not match is read again while young (a shell or a supervisor that forks and then
 * exec's the program), then remembered as not ours. wspy itself is never a match.
 */
export class MatchedProcesses {
  private members = new Map<number, { ppid: number; start: string }>();
  private others = new Map<number, number>();
  private lastScan = -Infinity;

  constructor(readonly pattern: RegExp, readonly descendants: boolean, private readonly everyMs = 500) {}

  has(pid: number): boolean { return this.members.has(pid); }
  get size(): number { return this.members.size; }

  /** Looks at /proc (at most every everyMs): the processes that started matching and those gone. */
  scan(): { added: number[]; gone: number[] } {
    const now = performance.now();
    if (now - this.lastScan < this.everyMs) return { added: [], gone: [] };
    this.lastScan = now;
    const pids = procPids();
    if (!pids) return { added: [], gone: [] };
    const present = new Set<number>();
    const added: number[] = [], gone: number[] = [];
    const children: { pid: number; ppid: number; start: string }[] = [];
    for (const pid of pids) {
      if (pid === process.pid) continue;
      const seen = this.others.get(pid);
      if (seen !== undefined && now - seen > YOUNG_MS) { present.add(pid); continue; }
      const f = statFields(pid);
      if (!f) continue;
      present.add(pid);
      const m = this.members.get(pid);
      if (m) {
        if (m.start === f[19]) continue;
        gone.push(pid); // its pid is another process's now
        this.members.delete(pid);
      }
      let cmd: string;
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0+$/, "").replace(/\0/g, " ");
      } catch {
        continue;
      }
      if (cmd && this.pattern.test(cmd)) {
        this.members.set(pid, { ppid: Number(f[1]), start: f[19] });
        this.others.delete(pid);
        added.push(pid);
      } else {
        if (seen === undefined) this.others.set(pid, now);
        if (this.descendants) children.push({ pid, ppid: Number(f[1]), start: f[19] });
      }
    }
    for (let changed = true; changed;) {
      changed = false;
      for (const p of children) {
        if (p.pid === 0 || !this.members.has(p.ppid)) continue;
        this.members.set(p.pid, { ppid: p.ppid, start: p.start });
        this.others.delete(p.pid);
        added.push(p.pid);
        p.pid = 0;
        changed = true;
      }
    }
    for (const pid of this.members.keys()) {
      if (present.has(pid)) continue;
      gone.push(pid);
      this.members.delete(pid);
    }
    for (const pid of this.others.keys()) if (!present.has(pid)) this.others.delete(pid);
    return { added, gone };
  }
}
