// Per-thread facts the host adds to the core's samples: thread names (the core's Python name
// when it has one, else the OS name from /proc/PID/task/TID/comm, read once and cached) and
// "is this stack waiting" (a leaf frame that is a known blocking call of the standard library),
// decided once per leaf node of the core's stack trie and cached, so the sampling path does no
// string work.
// Must not know: CPython layouts (names and frames come from the core's tables), the terminal.
// Source of truth: proc(5) (task/TID/comm: 3.14+ sets it from Thread.name, truncated to 15 bytes);
// docs/cpython-layouts.md §6; CPython's Lib/threading.py, queue.py, selectors.py,
// socket.py, subprocess.py, multiprocessing/connection.py (the functions that block).

import { readFileSync } from "node:fs";
import type { Core } from "../core/core.js";

/** Reads /proc/PID/task/TID/comm; "" when it cannot (thread gone, permission). */
export function readComm(pid: number, tid: number): string {
  try {
    return readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").replace(/\n$/, "");
  } catch {
    return "";
  }
}

/** How many threads' OS names one refresh reads at most (a refresh must stay cheap). */
const MAX_COMM_READS = 256;

/**
 * Thread names of one process, by the core's thread index. `update` (cheap: one call into the
 * core) notices new threads; `refresh` (once a second or at the end) re-reads the OS names of
 * threads still alive, since a thread names itself a little after it starts.
 */
export class ThreadNames {
  private os: string[] = [];
  private tids: number[] = [];
  private known = 0;
  constructor(private pid: number, private core: Core) {}

  /** Reads the OS names of threads the core met since the last call. */
  update(): void {
    const n = this.core.x.threadCount();
    if (n === this.known) return;
    for (let i = this.known; i < n; i++) {
      const t = this.core.thread(i);
      this.tids[i] = t.tid;
      this.os[i] = t.tid > 0 && this.pid > 0 ? readComm(this.pid, t.tid) : "";
    }
    this.known = n;
  }

  /**
   * Re-reads the OS names of the threads (a failure keeps the name known before), and asks the
   * core for Python's names again when a thread has none yet (it may have been sampled before
   * threading registered it).
   */
  refresh(): void {
    this.update();
    let unnamed = false;
    for (let i = 0; i < this.known && !unnamed; i++) unnamed = this.core.thread(i).name === "";
    if (unnamed) this.core.refreshThreadNames();
    if (this.pid <= 0) return; // no /proc (a core file, a snapshot)
    for (let i = 0, reads = 0; i < this.known && reads < MAX_COMM_READS; i++) {
      if (this.tids[i] <= 0) continue;
      reads++;
      const s = readComm(this.pid, this.tids[i]);
      if (s) this.os[i] = s;
    }
  }

  /** The name of thread i: the core's (Python's) name, else the OS name, else "". */
  name(i: number): string {
    const t = this.core.thread(i);
    if (t.name) return t.name;
    if (i >= this.known) this.update();
    return this.os[i] ?? "";
  }

  /** The name of the thread with OS id tid, "" when unknown. */
  nameOfTid(tid: number): string {
    this.update();
    for (let i = this.known - 1; i >= 0; i--) if (this.tids[i] === tid) return this.name(i);
    return readComm(this.pid, tid);
  }
}

/**
 * Known blocking calls, by file (its base name, or folder/base name) and function (the last
 * part of a qualified name): when one of them is the innermost Python frame the thread is
 * waiting, whatever its OS state says (it may be R for an instant while it wakes up to wait
 * again). time.sleep and other C functions have no Python frame: the OS state tells for them.
 */
const WAITING: Record<string, string[]> = {
  "threading.py": ["wait", "acquire", "join", "_wait_for_tstate_lock", "wait_for"],
  "queue.py": ["get", "put"],
  "Queue.py": ["get", "put"],
  "selectors.py": ["select"],
  "socket.py": ["accept", "recv", "recv_into", "readinto", "recvfrom"],
  "ssl.py": ["read", "recv", "recv_into", "accept", "do_handshake"],
  "subprocess.py": ["_try_wait", "wait", "_wait"],
  "SocketServer.py": ["_eintr_retry"],
  "socketserver.py": ["_eintr_retry"],
  "multiprocessing/connection.py": ["_recv", "_recv_bytes", "recv", "recv_bytes", "wait", "_poll", "poll", "accept"],
  "multiprocessing/synchronize.py": ["__enter__", "acquire", "wait"],
  "multiprocessing/queues.py": ["get"],
  "multiprocessing/popen_fork.py": ["poll", "wait"],
};

/** Is a frame (function name, file) a known blocking call? */
export function isWaitingFrame(name: string, file: string): boolean {
  const slash = file.lastIndexOf("/");
  const base = file.slice(slash + 1);
  const dir = slash > 0 ? file.slice(file.lastIndexOf("/", slash - 1) + 1, slash) : "";
  const fn = name.slice(name.lastIndexOf(".") + 1);
  const list = WAITING[base] ?? WAITING[`${dir}/${base}`];
  return !!list && list.includes(fn);
}

/**
 * Per leaf node of one core's trie: is its innermost frame a known blocking call? Decided on
 * first sight of the node (strings read once), then a byte lookup.
 */
/** A copy of a twice as long (or longer) that holds index i, its first entries kept. */
function grownToHold(a: Int8Array, i: number): Int8Array<ArrayBuffer> {
  let len = a.length;
  while (len <= i) len *= 2;
  const b = new Int8Array(len);
  b.set(a);
  return b;
}

export class WaitingFrames {
  private state = new Int8Array(1024); // 0 unknown, 1 not waiting, 2 waiting
  private byFrame = new Int8Array(1024);
  constructor(private core: Core) {}

  waiting(node: number): boolean {
    if (node < 0) return false;
    if (node >= this.state.length) this.state = grownToHold(this.state, node);
    const s = this.state[node];
    if (s !== 0) return s === 2;
    return this.decide(node);
  }

  private decide(node: number): boolean {
    const v = this.core.i32();
    const frame = v[(this.core.x.nodesPtr() >> 2) + node * 2 + 1];
    if (frame >= this.byFrame.length) this.byFrame = grownToHold(this.byFrame, frame);
    if (this.byFrame[frame] === 0) {
      const f = this.core.frame(frame);
      this.byFrame[frame] = f.kind === "python" && isWaitingFrame(f.name, f.file) ? 2 : 1;
    }
    this.state[node] = this.byFrame[frame];
    return this.state[node] === 2;
  }
}
