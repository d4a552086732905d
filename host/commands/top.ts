// `wspy top`: a live, full-screen table of where the target spends its time, refreshed every
// --delay seconds: %Own and %Total over the last window (per tick, so several busy threads can
// add up past 100%), OwnTime and TotalTime since the start (or the last reset), by line or by
// function, with the process, Python version, samples, GIL %, active %, threads and errors on
// top. Without a terminal, `--plain` prints the same table periodically as plain text.
// Must not know: CPython layouts (the core walks), output formats. The per-sample hook only
// commits the kept records to the core's window; each refresh folds that window into sums per
// function (or line) and resets it (Core.resetAggregate), so nothing grows with the run but
// the set of functions met; labels are made once per frame id.
// Source of truth: ECMA-48 / xterm control sequences (alternate screen 1049, cursor 25, CUP, EL,
// ED; cursor keys CSI A/B, PgUp/PgDn CSI 5~/6~); py-spy's `top` columns and keys.

import { writeSync } from "node:fs";
import { Sampler, SampledProcess, type StopReason } from "../sampling/sampler.js";
import { WspyError } from "../errors.js";
import { fileShortener } from "../profile/transform.js";
import { escapeText } from "../io/escape.js";

export interface TopOptions {
  pid?: number;
  command?: string[];
  rate: number;
  /** seconds between refreshes */
  delay: number;
  duration?: number;
  idle: boolean;
  /** asyncio task frames (--async) */
  async?: boolean;
  gil?: boolean;
  subprocesses?: boolean;
  blocking?: boolean;
  /** native (C/C++) frames merged in (--native; pauses the threads for each sample) */
  native?: boolean;
  nativeAll?: boolean;
  /** start aggregated by function (no line numbers); L toggles */
  function?: boolean;
  fullFilenames?: boolean;
  /** plain periodic tables instead of the full-screen view (needed without a terminal) */
  plain?: boolean;
  /** rows of each plain table */
  rows?: number;
  versionTables?: string[];
  forceVersion?: string;
  /** where the view goes (default: stdout) */
  out?: NodeJS.WriteStream;
  /** keys come from here (default: stdin) */
  input?: NodeJS.ReadStream;
  signal?: AbortSignal;
}

export interface TopResult {
  stopReason: StopReason | "quit";
  ticks: number;
  samples: number;
  childExitCode?: number;
}

/** Sort columns, as keys 1–4 select them. */
export const SORT_COLUMNS = ["%Own", "%Total", "OwnTime", "TotalTime"] as const;

/** One table row: a function (or function line) with its window and running totals. */
export interface TopRow {
  label: string;
  /** share of window ticks (100 = one thread all the time) */
  ownPct: number;
  totalPct: number;
  /** seconds since the start or the last reset */
  ownTime: number;
  totalTime: number;
}

/**
 * Trie nodes a process's core may hold before a window's reset forgets the stacks too: below it,
 * only the samples are reset, so node and frame ids (and their labels) carry over between windows.
 */
const MAX_KEPT_NODES = 1 << 16;

/** Per process: its frames' keys (by core frame id, per mode) and scratch for one harvest. */
class ProcStats {
  retired = false;
  /** frame id -> global key id, per mode (0 lines, 1 functions); -1 unknown; valid for stackGen */
  keys: [Int32Array, Int32Array] = [new Int32Array(0), new Int32Array(0)];
  stackGen = -1;
  /** per node of one harvest: samples and seconds ending there (zeroed after use) */
  count = new Float64Array(256);
  weight = new Float64Array(256);
  touched = new Int32Array(256);
  readonly shorten: ((f: string) => string) | null;
  constructor(readonly p: SampledProcess, fullFilenames: boolean) {
    this.shorten = fullFilenames ? null : fileShortener([p.cwd]);
  }

  /** Makes the per-node scratch hold node ids below n. */
  fit(n: number): void {
    if (n <= this.count.length) return;
    let len = this.count.length;
    while (len < n) len *= 2;
    this.count = new Float64Array(len);
    this.weight = new Float64Array(len);
    this.touched = new Int32Array(len);
  }
}

/** Per key sums of one mode: the window being gathered, the last finished one, running seconds. */
class KeySums {
  curOwn: number[] = [];
  curTot: number[] = [];
  lastOwn: number[] = [];
  lastTot: number[] = [];
  ownTime: number[] = [];
  totTime: number[] = [];
}

/**
 * The numbers behind the view; the renderer only formats them. The samples live in each
 * process's core (committed per tick); a harvest (each refresh, each redraw) folds them into per
 * key sums and resets the core's window, so neither the model nor the core grows with the run.
 */
export class TopModel {
  private stats = new Map<SampledProcess, ProcStats>();
  private keyIndex = new Map<string, number>();
  private keyLabel: string[] = [];
  private sums: [KeySums, KeySums] = [new KeySums(), new KeySums()];
  /** ticks in the last finished window and in the current one */
  lastWindowTicks = 0;
  lastWindowSec = 0;
  private base = { ticks: 0, samples: 0, gil: 0, active: 0, errors: 0 };
  private win = { ticks: 0, gil: 0, active: 0, at: 0, threadSum: 0, classified: 0 };
  gilPct = 0;
  /** threads that ran Python at once in the last window, on average (free-threaded builds) */
  atOnce = 0;
  activePct = 0;
  byFunction: boolean;
  sort = 2; // OwnTime, as py-spy
  private cached: TopRow[] | null = null;
  /** ancestor stamps of one stack, by key (a function counts once per stack) */
  private stamp: number[] = [];
  private run = 0;

  constructor(private sampler: Sampler | null, private fullFilenames: boolean, byFunction: boolean) {
    this.byFunction = byFunction;
  }

  attach(p: SampledProcess): void {
    if (!this.stats.has(p)) this.stats.set(p, new ProcStats(p, this.fullFilenames));
  }

  /** The per-tick hook: commits the kept records of p to its core's window. No allocation. */
  add(p: SampledProcess, time: number, weight: number): void {
    if (this.stats.has(p)) p.core.x.walkCommit(time, weight);
  }

  /** A process leaves: its window is folded in now (its core is about to close). */
  retire(p: SampledProcess): void {
    const s = this.stats.get(p);
    if (!s || s.retired) return;
    this.harvest(s, false); // read, not reset: the core may have trapped
    s.retired = true;
  }

  /**
   * Folds the samples p's core gathered since the last harvest into the per key sums of both
   * modes, then (with reset) resets the core's window (its stacks too once the trie grew large).
   */
  private harvest(s: ProcStats, reset = true): void {
    if (s.retired) return;
    const core = s.p.core;
    const x = core.x;
    const n = x.sampleCount();
    if (n === 0) return;
    if (s.stackGen !== core.stackGeneration) {
      s.keys = [new Int32Array(0), new Int32Array(0)];
      s.stackGen = core.stackGeneration;
    }
    const nNodes = x.nodeCount();
    s.fit(nNodes);
    const v = core.i32();
    const buf = x.memory.buffer;
    const nodesOf = new Int32Array(buf, x.sampleNodesPtr(), n);
    const weightsOf = new Float64Array(buf, x.sampleWeightsPtr(), n);
    let touched = 0;
    for (let i = 0; i < n; i++) {
      const node = nodesOf[i];
      if (node < 0 || node >= nNodes) continue;
      if (s.count[node] === 0) s.touched[touched++] = node;
      s.count[node] += 1;
      s.weight[node] += weightsOf[i];
    }
    const nb = x.nodesPtr() >> 2;
    for (let mode = 0; mode < 2; mode++) {
      const m = this.sums[mode];
      for (let j = 0; j < touched; j++) {
        const node = s.touched[j];
        const w = s.count[node], t = s.weight[node];
        const leafKey = this.keyOf(s, v[nb + node * 2 + 1], mode);
        m.curOwn[leafKey] = (m.curOwn[leafKey] ?? 0) + w;
        m.ownTime[leafKey] = (m.ownTime[leafKey] ?? 0) + t;
        this.run++;
        for (let a = node, guard = 0; a >= 0 && a < nNodes && guard < nNodes; a = v[nb + a * 2], guard++) {
          const k = this.keyOf(s, v[nb + a * 2 + 1], mode);
          if (this.stamp[k] === this.run) continue; // recursion: a function counts once per stack
          this.stamp[k] = this.run;
          m.curTot[k] = (m.curTot[k] ?? 0) + w;
          m.totTime[k] = (m.totTime[k] ?? 0) + t;
        }
      }
    }
    for (let j = 0; j < touched; j++) {
      s.count[s.touched[j]] = 0;
      s.weight[s.touched[j]] = 0;
    }
    if (reset) core.resetAggregate(nNodes > MAX_KEPT_NODES ? core.windowResetDepth() : "samples");
  }

  private harvestAll(): void {
    for (const s of this.stats.values()) this.harvest(s);
  }

  /** Ends the current window (at each refresh). */
  roll(nowMs: number): void {
    const sm = this.sampler;
    this.harvestAll();
    for (const m of this.sums) {
      m.lastOwn = m.curOwn;
      m.lastTot = m.curTot;
      m.curOwn = [];
      m.curTot = [];
    }
    if (sm) {
      const ticks = sm.ticks - this.win.ticks;
      this.lastWindowTicks = ticks;
      this.lastWindowSec = this.win.at ? (nowMs - this.win.at) / 1000 : 0;
      this.gilPct = ticks > 0 ? (100 * (sm.gilTicks - this.win.gil)) / ticks : 0;
      this.activePct = ticks > 0 ? (100 * (sm.activeTicks - this.win.active)) / ticks : 0;
      const classified = sm.classifiedTicks - this.win.classified;
      this.atOnce = classified > 0 ? (sm.activeThreadSum - this.win.threadSum) / classified : 0;
      this.win = { ticks: sm.ticks, gil: sm.gilTicks, active: sm.activeTicks, at: nowMs, threadSum: sm.activeThreadSum, classified: sm.classifiedTicks };
    }
    this.cached = null;
  }

  /** R: forget the running totals. */
  reset(): void {
    this.harvestAll();
    for (const m of this.sums) {
      m.ownTime = [];
      m.totTime = [];
      m.lastOwn = [];
      m.lastTot = [];
    }
    const sm = this.sampler;
    if (sm) {
      this.base = { ticks: sm.ticks, samples: sm.samples, gil: sm.gilTicks, active: sm.activeTicks, errors: this.errorTotal(true) };
    }
    this.cached = null;
  }

  private errorTotal(raw = false): number {
    const sm = this.sampler;
    const n = sm ? Object.values(sm.errors).reduce((a, b) => a + b, 0) : 0;
    return raw ? n : n - this.base.errors;
  }

  get samples(): number { return this.sampler ? this.sampler.samples - this.base.samples : 0; }
  get errors(): number { return this.errorTotal(); }

  setFunctionMode(on: boolean): void {
    if (this.byFunction !== on) { this.byFunction = on; this.cached = null; }
  }

  setSort(col: number): void {
    if (col >= 0 && col < SORT_COLUMNS.length) { this.sort = col; this.cached = null; }
  }

  /** The key of p's core frame `frame` in mode (0 lines, 1 functions): its label, interned once per frame id. */
  private keyOf(s: ProcStats, frame: number, mode: number): number {
    let k = s.keys[mode];
    if (frame >= k.length) {
      const nk = new Int32Array(Math.max(frame + 1, k.length * 2, 64)).fill(-1);
      nk.set(k);
      s.keys[mode] = k = nk;
    }
    if (k[frame] >= 0) return k[frame];
    const core = s.p.core;
    const raw = frame >= 0 && frame < core.x.frameCount() ? core.frame(frame) : null;
    const f = raw && s.shorten ? { ...raw, file: s.shorten(raw.file) } : raw;
    const label = !f ? `frame #${frame}` :
      f.kind === "thread" || f.kind === "process" || f.kind === "task" ? f.name :
        mode === 1 || f.line <= 0 ? `${f.name} (${f.file})` : `${f.name} (${f.file}:${f.line})`;
    let id = this.keyIndex.get(label);
    if (id === undefined) {
      id = this.keyLabel.length;
      this.keyLabel.push(label);
      this.keyIndex.set(label, id);
    }
    k[frame] = id;
    return id;
  }

  /** The rows, sorted by the chosen column (then by name). */
  rows(): TopRow[] {
    if (this.cached) return this.cached;
    this.harvestAll();
    const m = this.sums[this.byFunction ? 1 : 0];
    const ticks = Math.max(1, this.lastWindowTicks);
    const rows: TopRow[] = [];
    for (let k = 0; k < this.keyLabel.length; k++) {
      const w = m.lastTot[k] ?? 0, t = m.totTime[k] ?? 0;
      if (w === 0 && t === 0) continue;
      rows.push({
        label: this.keyLabel[k],
        ownPct: (100 * (m.lastOwn[k] ?? 0)) / ticks,
        totalPct: (100 * w) / ticks,
        ownTime: m.ownTime[k] ?? 0,
        totalTime: t,
      });
    }
    const field = (["ownPct", "totalPct", "ownTime", "totalTime"] as const)[this.sort];
    rows.sort((a, b) => b[field] - a[field] || b.totalTime - a.totalTime || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
    this.cached = rows;
    return rows;
  }
}

// --- formatting -----------------------------------------------------------------------------

const pct = (n: number): string => `${n.toFixed(2)}%`;
function secs(n: number): string {
  if (n < 100) return `${n.toFixed(2)}s`;
  if (n < 10000) return `${n.toFixed(1)}s`;
  return `${Math.round(n)}s`;
}
const padL = (s: string, w: number): string => (s.length >= w ? s : " ".repeat(w - s.length) + s);

export const TABLE_HEADER = `${padL("%Own", 8)} ${padL("%Total", 8)} ${padL("OwnTime", 9)} ${padL("TotalTime", 10)}  Function (file:line)`;

export function formatRow(r: TopRow): string {
  return `${padL(pct(r.ownPct), 8)} ${padL(pct(r.totalPct), 8)} ${padL(secs(r.ownTime), 9)} ${padL(secs(r.totalTime), 10)}  ${escapeText(r.label)}`;
}

export interface HeaderInfo {
  pid: number;
  command: string[];
  version: string;
  processes: number;
  samples: number;
  gilPct: number;
  /** a free-threaded build: no GIL share, threads running Python at once instead */
  freeThreaded?: boolean;
  atOnce?: number;
  activePct: number;
  threads: number;
  errors: number;
  rate: number;
  windowSec: number;
  byFunction: boolean;
  sort: number;
  idle: boolean;
  gilOnly: boolean;
  status: string;
}

export function headerLines(h: HeaderInfo): string[] {
  const more = h.processes > 1 ? ` (+${h.processes - 1} subprocess${h.processes > 2 ? "es" : ""})` : "";
  return [
    `wspy top: process ${h.pid} (Python ${h.version})${more}: ${escapeText(h.command.join(" "))}`,
    `Samples: ${h.samples}  ${h.freeThreaded ? `No GIL, at once: ${(h.atOnce ?? 0).toFixed(2)}` : `GIL: ${h.gilPct.toFixed(2)}%`}  Active: ${h.activePct.toFixed(2)}%  Threads: ${h.threads}  Errors: ${h.errors}  ` +
      `(${h.rate}/s, window ${h.windowSec.toFixed(1)} s)`,
    `Sort: ${SORT_COLUMNS[h.sort]}  ${h.byFunction ? "by function" : "by line"}  idle ${h.idle ? "kept" : "excluded"}${h.gilOnly ? "  GIL holder only" : ""}` +
      (h.status ? `  ${h.status}` : "  (? help, q quit)"),
  ];
}

const HELP = [
  "wspy top: keys",
  "",
  "  1 2 3 4      sort by %Own, %Total, OwnTime, TotalTime",
  "  L            toggle line numbers (by line / by function)",
  "  R            reset the running totals (OwnTime, TotalTime, Samples)",
  "  Up Down      scroll one line",
  "  PgUp PgDn    scroll one page",
  "  Home End     first / last row",
  "  ?            this help (any key closes it)",
  "  q, Ctrl-C    quit",
  "",
  "%Own / %Total: share of the last window's ticks a function was running on top / anywhere",
  "on a stack (one busy thread = 100%); OwnTime / TotalTime: seconds since start or reset.",
];

/** Cuts a line to the screen's width (code points; control characters are already escaped). */
function fit(s: string, width: number): string {
  if (s.length <= width) return s;
  const cps = Array.from(s);
  return cps.length <= width ? s : cps.slice(0, Math.max(0, width)).join("");
}

// --- the command ----------------------------------------------------------------------------

const ALT_ON = "\x1b[?1049h", ALT_OFF = "\x1b[?1049l", CURSOR_OFF = "\x1b[?25l", CURSOR_ON = "\x1b[?25h";

export async function top(opts: TopOptions): Promise<TopResult> {
  const out = opts.out ?? process.stdout;
  const input = opts.input ?? process.stdin;
  const plain = !!opts.plain;
  if (!plain && !out.isTTY) {
    throw new WspyError("BAD_INPUT", "top needs a terminal: its output is not a TTY", "use --plain for plain tables printed every --delay seconds, or `wspy record`/`wspy dump`");
  }
  if (!(opts.delay > 0)) throw new WspyError("BAD_INPUT", `delay must be a positive number of seconds, not ${opts.delay}`, "");

  let model: TopModel | null = null;
  const pendingAttach: SampledProcess[] = [];
  const sampler = await Sampler.start({
    pid: opts.pid, command: opts.command, rate: opts.rate, duration: opts.duration, idle: opts.idle, async: opts.async, gil: opts.gil,
    subprocesses: opts.subprocesses, blocking: opts.blocking, native: opts.native, nativeAll: opts.nativeAll, alwaysClassify: true,
    versionTables: opts.versionTables, forceVersion: opts.forceVersion, signal: opts.signal,
    handleSignals: false, stdio: plain ? "inherit" : "ignore",
  }, {
    onAttach: (p) => (model ? model.attach(p) : pendingAttach.push(p)),
    onSample: (p, _n, time, weight) => model!.add(p, time, weight),
    onRetire: (p) => model?.retire(p),
  });
  model = new TopModel(sampler, !!opts.fullFilenames, !!opts.function);
  for (const p of pendingAttach) model.attach(p);
  const m = model;
  const root = sampler.rootInfo;
  const command = opts.command ?? root.command;

  let status = "";
  let quit = false;
  let scroll = 0;
  let help = false;
  let restored = plain;
  const write = (s: string): void => {
    try { writeSync((out as unknown as { fd: number }).fd ?? 1, s); } catch { /* terminal gone */ }
  };
  const restore = (): void => {
    if (restored) return;
    restored = true;
    write(CURSOR_ON + ALT_OFF);
    try { if (input.isTTY) input.setRawMode(false); } catch { /* closed */ }
  };
  const header = (): string[] => headerLines({
    pid: root.pid, command, version: root.version, processes: sampler.processes.length,
    samples: m.samples, gilPct: m.gilPct, freeThreaded: root.freeThreaded, atOnce: m.atOnce, activePct: m.activePct, threads: sampler.threadCount, errors: m.errors,
    rate: opts.rate, windowSec: m.lastWindowSec || opts.delay, byFunction: m.byFunction, sort: m.sort, idle: opts.idle,
    gilOnly: !!opts.gil, status,
  });

  const draw = (): void => {
    if (plain || restored) return;
    const cols = Math.max(20, out.columns || 80);
    const lines = Math.max(5, out.rows || 24);
    let screen: string[];
    if (help) {
      screen = HELP.slice();
    } else {
      screen = header();
      screen.push("");
      screen.push(TABLE_HEADER);
      const rows = m.rows();
      const space = Math.max(1, lines - screen.length);
      scroll = Math.max(0, Math.min(scroll, rows.length - space));
      for (let i = scroll; i < rows.length && screen.length < lines; i++) screen.push(formatRow(rows[i]));
      if (rows.length === 0) screen.push("  (no samples yet)");
    }
    const body = screen.slice(0, lines).map((l) => fit(l, cols) + "\x1b[K").join("\r\n");
    write("\x1b[H" + body + "\x1b[J");
  };

  const printPlain = (): void => {
    const rows = m.rows();
    const n = opts.rows ?? 25;
    const text = [...header(), TABLE_HEADER, ...rows.slice(0, n).map(formatRow), ""].join("\n") + "\n";
    out.write(text);
  };

  // every way out restores the terminal: quit, the end, errors (finally), signals, process exit
  const onExit = (): void => restore();
  const onSignal = (): void => { quit = true; sampler.requestStop("interrupted"); if (sampler.stopped) wake(); };
  let wake: () => void = () => {};
  process.on("exit", onExit);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  const onResize = (): void => draw();

  const pageSize = (): number => Math.max(1, (out.rows || 24) - 5);
  const onKey = (buf: Buffer): void => {
    const s = buf.toString("latin1");
    if (help) { help = false; draw(); return; }
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c === "\x1b") {
        const rest = s.slice(i);
        const seq = /^\x1b(?:\[|O)([0-9;]*)([A-Za-z~])/.exec(rest);
        if (seq) {
          i += seq[0].length - 1;
          const key = seq[1] + seq[2];
          if (key === "A") scroll = Math.max(0, scroll - 1);
          else if (key === "B") scroll++;
          else if (key === "5~") scroll = Math.max(0, scroll - pageSize());
          else if (key === "6~") scroll += pageSize();
          else if (key === "H" || key === "1~") scroll = 0;
          else if (key === "F" || key === "4~") scroll = Number.MAX_SAFE_INTEGER;
          continue;
        }
        continue;
      }
      if (c === "q" || c === "Q" || c === "\x03") { quit = true; sampler.requestStop("interrupted"); wake(); return; }
      if (c >= "1" && c <= "4") m.setSort(c.charCodeAt(0) - 49);
      else if (c === "l" || c === "L") m.setFunctionMode(!m.byFunction);
      else if (c === "r" || c === "R") m.reset();
      else if (c === "?" || c === "h") help = true;
    }
    draw();
  };

  let timer: NodeJS.Timeout | null = null;
  let exitCode: number | undefined;
  try {
    if (!plain) {
      write(ALT_ON + CURSOR_OFF + "\x1b[H\x1b[2J");
      if (input.isTTY) input.setRawMode(true);
      input.on("data", onKey);
      input.resume();
      out.on("resize", onResize);
    }
    let lastRoll = Date.now();
    m.roll(lastRoll);
    draw();
    timer = setInterval(() => {
      lastRoll = Date.now();
      m.roll(lastRoll);
      if (plain) printPlain();
      else draw();
    }, opts.delay * 1000);
    await sampler.run();
    if (timer) clearInterval(timer);
    timer = null;
    if (sampler.fatal) throw sampler.fatal;
    if (sampler.stopReason === "target exited" && !quit && sampler.child) {
      exitCode = await Promise.race([sampler.childExit!, new Promise<number>((r) => setTimeout(() => r(-1), 2000))]);
    }
    // the target ended on its own: show the last numbers until the user quits
    if (!plain && !quit && sampler.stopReason === "target exited") {
      m.roll(Date.now());
      status = `process ${root.pid} exited${exitCode !== undefined && exitCode >= 0 ? ` (status ${exitCode})` : ""}: press q to quit`;
      draw();
      await new Promise<void>((resolve) => { wake = resolve; if (quit) resolve(); });
    }
    // a last table when the last one is not recent (a window of a few ticks would mislead)
    if (plain && Date.now() - lastRoll >= (opts.delay * 1000) / 2) {
      m.roll(Date.now());
      printPlain();
    }
  } finally {
    if (timer) clearInterval(timer);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    if (!plain) {
      input.off("data", onKey);
      out.off("resize", onResize);
      input.pause();
    }
    restore();
    process.off("exit", onExit);
    sampler.close();
  }
  // a program top started ends with it
  if (sampler.child && quit && sampler.child.exitCode === null && sampler.child.signalCode === null) sampler.child.kill("SIGTERM");
  if (sampler.child && exitCode === undefined && !quit) exitCode = await sampler.childExit!;
  const result: TopResult = { stopReason: quit ? "quit" : sampler.stopReason, ticks: sampler.ticks, samples: sampler.samples };
  if (exitCode !== undefined && exitCode >= 0) result.childExitCode = exitCode;
  return result;
}
