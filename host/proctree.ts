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

export class ProcessTree {
  /** descendants (and the root), with their parents */
  private members = new Map<number, number>();
  /** pids seen that are not ours, with their start time (a reused pid is looked at again) */
  private others = new Map<number, string>();

  constructor(readonly root: number) {
    this.members.set(root, 0);
  }

  has(pid: number): boolean { return this.members.has(pid); }
  parentOf(pid: number): number { return this.members.get(pid) ?? 0; }

  /** Looks at /proc once: the descendants that appeared and the members that are gone. */
  scan(): { added: number[]; gone: number[] } {
    let names: string[];
    try {
      names = readdirSync("/proc");
    } catch {
      return { added: [], gone: [] };
    }
    const present = new Set<number>();
    const fresh: { pid: number; ppid: number; start: string }[] = [];
    for (const n of names) {
      const c = n.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(n);
      present.add(pid);
      if (this.members.has(pid)) continue;
      const seen = this.others.get(pid);
      const f = statFields(pid);
      if (!f) continue;
      if (seen !== undefined && seen === f[19]) continue;
      this.others.delete(pid);
      fresh.push({ pid, ppid: Number(f[1]), start: f[19] });
    }
    const added: number[] = [];
    // closure: a grandchild may be listed before its parent
    for (let changed = true; changed;) {
      changed = false;
      for (const p of fresh) {
        if (p.pid === 0 || !this.members.has(p.ppid)) continue;
        this.members.set(p.pid, p.ppid);
        added.push(p.pid);
        p.pid = 0;
        changed = true;
      }
    }
    for (const p of fresh) if (p.pid !== 0) this.others.set(p.pid, p.start);
    const gone: number[] = [];
    for (const pid of this.members.keys()) {
      if (!present.has(pid)) gone.push(pid);
    }
    for (const pid of gone) if (pid !== this.root) this.members.delete(pid);
    for (const pid of this.others.keys()) if (!present.has(pid)) this.others.delete(pid);
    return { added, gone };
  }
}
