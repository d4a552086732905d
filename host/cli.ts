// The wspy command line: py-spy's flag names on top of the library API (index.ts). Loaded by
// the `wspy` entry (wspy.ts), which answers --version without it.
// Must not know: CPython layouts or the core's exports beyond the library API.
// Source of truth: docs/design.md §1 (commands and flags); README (usage).

import "./no-inspector.js"; // first (wspy.ts imports it first too): no inspector on SIGUSR1
import { Command, Option, CommanderError } from "commander";
import { WspyError, EXIT_CODES, isCoreTrap, coreTrapError } from "./errors.js";
import { commanderError, jsonInert, stderrLine } from "./io/escape.js";
import { checkWritable, writeOutput } from "./io/output.js";
// the commands' modules load when a command runs: start-up stays small
const lazy = {
  record: () => import("./commands/record.js"),
  dump: () => import("./commands/dump.js"),
  snapshot: () => import("./commands/snapshot.js"),
  top: () => import("./commands/top.js"),
  agent: () => import("./commands/agent.js"),
};
import { OUTPUT_FORMATS, OutputFormat, FORMAT_EXTENSIONS } from "./render/index.js";
import { convertCommand } from "./commands/convert.js";
import { viewCommand } from "./commands/view.js";
import { diffCommand } from "./commands/diff.js";
import { tablesCommand } from "./commands/tables.js";
import { completionsCommand } from "./commands/completions.js";
import { traceMark } from "./trace.js";
import { VERSION } from "./version.js";
traceMark("cli");

function parsePid(v: string): number {
  if (!/^\d+$/.test(v)) throw new WspyError("BAD_INPUT", `not a process id: ${JSON.stringify(v)}`, "pass the numeric pid of a running Python process");
  return Number(v);
}
function parsePositive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new WspyError("BAD_INPUT", `${name} must be a positive number, not ${JSON.stringify(v)}`, "");
    return n;
  };
}
/** -r: 1..10000 samples per second (record.ts MIN_RATE..MAX_RATE), an integer or a decimal. */
function parseRate(v: string): number {
  const n = /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= 10_000)) throw new WspyError("BAD_INPUT", `rate must be between 1 and 10000 samples per second, not ${JSON.stringify(v)}`, "e.g. -r 100");
  return n;
}
function collect(v: string, prev: string[] = []): string[] { return [...prev, v]; }

/**
 * The options `record`, `top`, `dump` and `snapshot` share, declared once: flags, parser and
 * default here; a command may word the help for itself (what -s or --idle means differs).
 */
const shared = {
  pid: (help = "process id of a running Python program") => new Option("-p, --pid <pid>", help).argParser(parsePid),
  rate: () => new Option("-r, --rate <hz>", "samples per second").default(100).argParser(parseRate),
  duration: (help: string) => new Option("-d, --duration <seconds>", help).argParser(parsePositive("duration")),
  idle: (help: string) => new Option("-i, --idle", help).default(false),
  gil: (help: string) => new Option("-g, --gil", help).default(false),
  subprocesses: (help: string) => new Option("-s, --subprocesses", help).default(false),
  function: (help: string) => new Option("-F, --function", help).default(false),
  fullFilenames: (help: string) => new Option("--full-filenames", help).default(false),
  locals: (help: string) => new Option("-l, --locals", help).default(0).argParser((_v: string, n: number) => n + 1),
  blocking: (help: string) => new Option("--blocking", help).default(false),
  nonblocking: () => new Option("--nonblocking", "the default (never pause the target); accepted for py-spy compatibility"),
  native: (help: string) => new Option("-n, --native", help).default(false),
  nativeAll: () => new Option("--native-all", "with --native: keep the interpreter's own plumbing frames and libc's thread-start frames too (implies --native)").default(false),
  versionTable: () => new Option("--version-table <file>", "a version-table plugin file (repeatable)").default([]).argParser(collect),
  forceVersion: () => new Option("--force-version <x.y>", "read the target as this Python version (for the brave)"),
};

/** What the shared options say, as the library's options take it. */
interface SharedValues { versionTable: string[]; forceVersion?: string; blocking?: boolean; nonblocking?: boolean; native?: boolean; nativeAll?: boolean; pid?: number }
const tableOptions = (o: SharedValues) => ({ versionTables: o.versionTable, forceVersion: o.forceVersion });
/** --blocking, unless --nonblocking (py-spy's default, spelled out) overrides it */
const blockingOf = (o: SharedValues): boolean => !!o.blocking && !o.nonblocking;
/** --native (or --native-all); refused with --nonblocking: a native stack needs its thread stopped. */
function nativeOf(o: SharedValues): { native: boolean; nativeAll: boolean } {
  const native = !!o.native || !!o.nativeAll;
  if (native && (process.platform !== "linux" || process.arch !== "x64")) {
    throw new WspyError("UNSUPPORTED", `--native reads x86-64 Linux stacks only; this is ${process.platform} on ${process.arch}`, "profile without --native");
  }
  if (native && o.nonblocking) throw new WspyError("BAD_INPUT", "--native pauses the target's threads (their registers cannot be read while they run): it cannot go with --nonblocking", "drop --nonblocking");
  return { native, nativeAll: !!o.nativeAll };
}

/** record and top take a process (-p PID) or a command after --, exactly one of them. */
function oneTarget(verb: string, pid: number | undefined, command: string[], example: string): void {
  if (!pid && command.length === 0) throw new WspyError("BAD_INPUT", `${verb} needs a process: -p PID, or a command after --`, example);
  if (pid && command.length > 0) throw new WspyError("BAD_INPUT", "give either -p PID or a command, not both", "");
}

const DEFAULT_EXT: Record<OutputFormat, string> = FORMAT_EXTENSIONS;

function fail(e: unknown): never {
  // a trap of the WASM core not caught nearer (e.g. at attach): the same one INTERNAL line
  if (isCoreTrap(e)) {
    if (process.env.WSPY_DEBUG) process.stderr.write(`${e.stack}\n`);
    e = coreTrapError(e, "reading the target");
  }
  if (e instanceof WspyError) {
    // messages name target command lines, files, paths: escaped, whatever they hold
    stderrLine(`wspy: ${e.message}${e.hint ? ` (${e.hint})` : ""}`);
    const code = e.childExitCode;
    process.exit(code !== undefined && code !== 0 ? code : EXIT_CODES[e.code]);
  }
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : EXIT_CODES.BAD_INPUT);
  const err = e as Error;
  stderrLine(`wspy: internal error: ${err?.message ?? String(e)} (please report it${process.env.WSPY_DEBUG ? "" : "; WSPY_DEBUG=1 shows details"})`);
  if (process.env.WSPY_DEBUG) process.stderr.write(`${err?.stack}\n`);
  process.exit(EXIT_CODES.INTERNAL);
}

/**
 * Signals: a closed terminal (SIGHUP) and SIGQUIT end a recording like Ctrl-C, keeping the
 * profile: while a command listens for SIGINT (record, top, view), they are handed to its
 * handlers; otherwise they end wspy with the usual status. (SIGUSR1: no-inspector.ts.)
 */
function installSignals(): void {
  const numbers: Record<string, number> = { SIGHUP: 1, SIGQUIT: 3 };
  for (const sig of ["SIGHUP", "SIGQUIT"] as const) {
    const handler = (): void => {
      // a command that listens for this signal itself (top's SIGHUP) is not told twice
      const own = new Set(process.listeners(sig));
      // a command that takes this signal for itself (the agent's SIGHUP: go on) does not stop
      if ([...own].some((f) => (f as { ownsSignal?: boolean }).ownsSignal)) return;
      const stoppers = process.listeners("SIGINT").filter((f) => !own.has(f));
      if (stoppers.length === 0) process.exit(128 + numbers[sig]);
      for (const f of stoppers) (f as (s: NodeJS.Signals) => void)("SIGINT");
    };
    process.on(sig, handler);
  }
  // the terminal may be gone when the summary is printed (SIGHUP): not worth a crash
  for (const stream of [process.stdout, process.stderr]) stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE" && e.code !== "EIO") throw e;
  });
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("wspy")
    .description("A production-safe sampling profiler for CPython 2.7–3.15: never stops or writes to the target.")
    .version(VERSION)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: commanderError });

  program
    .command("record")
    .description("sample a running process (-p PID) or a command (-- python app.py ...) into a profile")
    .argument("[command...]", "a command to start and profile, after --")
    .passThroughOptions()
    .exitOverride()
    .addOption(shared.pid())
    .option("-o, --output <file>", "where to write the profile (default: wspy-<pid|time>.<ext>)")
    .addOption(new Option("-f, --format <format>", "output format").choices([...OUTPUT_FORMATS]).default("flamegraph"))
    .addOption(shared.rate())
    .addOption(shared.duration("stop after this many seconds (default: until Ctrl-C or the program exits); a program started with -- is then ended (SIGTERM, SIGKILL 5 s later) and wspy exits 0"))
    .addOption(shared.idle("keep samples of idle threads (sleeping, waiting); with --async, of suspended asyncio tasks too"))
    .option("--async", "asyncio: stacks of a thread running a task start at the task's awaiter chain (<task NAME> frames; CPython 3.11+)", false)
    .addOption(shared.gil("keep only the samples of the thread holding the GIL"))
    .option("-t, --threads", "a root frame per thread in the stacks: thread NAME (TID)", false)
    .addOption(shared.subprocesses("profile child processes too, each under a root frame: process PID: \"command\"; the root may be a launcher that is not Python (bash script.sh)"))
    .addOption(shared.function("one frame per function (lines merged; the function's first line is shown)"))
    .option("--nolineno", "no line numbers: frames of one function merge", false)
    .addOption(shared.fullFilenames("full file paths (default: relative to the library folders and the target's directory)"))
    .addOption(shared.blocking("pause the target's threads while each sample is read (ptrace): exact stacks, slower target"))
    .addOption(shared.native("native (C/C++) frames merged with the Python frames: extensions, BLAS, time.sleep (pauses each sampled thread briefly; see README)"))
    .addOption(shared.nativeAll())
    .option("--reverse", "flamegraph: an icicle graph (roots at the top)", false)
    .addOption(shared.versionTable())
    .addOption(shared.forceVersion())
    .addOption(shared.nonblocking())
    .action(async (command: string[], o) => {
      oneTarget("record", o.pid, command, "e.g. wspy record -o profile.svg -- python3 app.py");
      const format = o.format as OutputFormat;
      const output = o.output ?? `wspy-${o.pid ?? new Date().toISOString().replace(/[:.]/g, "-")}.${DEFAULT_EXT[format]}`;
      const { record } = await lazy.record();
      const res = await record({
        pid: o.pid, command: command.length ? command : undefined, output, format, rate: o.rate,
        duration: o.duration, idle: !!o.idle, async: !!o.async, ...tableOptions(o),
        render: { reverse: !!o.reverse },
        gil: !!o.gil, threads: !!o.threads, subprocesses: !!o.subprocesses, blocking: blockingOf(o), ...nativeOf(o),
        function: !!o.function, nolineno: !!o.nolineno, fullFilenames: !!o.fullFilenames,
      });
      if (res.childExitCode !== undefined && res.childExitCode !== 0) process.exitCode = res.childExitCode;
    });

  program
    .command("dump")
    .description("print every thread's current stack, innermost frame first")
    .addOption(shared.pid())
    .option("--core <file>", "an ELF core file of a Python process instead (gcore's, the kernel's)")
    .option("--exe <path>", "with --core: the python executable, when not where the core says (another machine)")
    .option("--sysroot <dir>", "with --core: a folder holding the process's files at their paths (another machine)")
    .option("--snapshot <file>", "a snapshot written by `wspy snapshot` instead")
    .option("-j, --json", "print JSON instead of text", false)
    .addOption(shared.locals("show each frame's local variables (-ll: longer values)"))
    .option("--async", "show every asyncio task too: its coroutine stack and who awaits it (CPython 3.11+)", false)
    .addOption(shared.native("merge each thread's native (C/C++) frames with its Python frames (pauses the threads; with --core too; see README)"))
    .addOption(shared.nativeAll())
    .addOption(shared.subprocesses("dump the Python child processes too"))
    .addOption(shared.blocking("pause the threads while they are read (ptrace)"))
    .addOption(shared.versionTable())
    .addOption(shared.forceVersion())
    .addOption(shared.nonblocking())
    .exitOverride()
    .action(async (o) => {
      const sources = [o.pid !== undefined, o.core !== undefined, o.snapshot !== undefined].filter(Boolean).length;
      if (sources !== 1) throw new WspyError("BAD_INPUT", sources ? "give one of -p PID, --core FILE, --snapshot FILE" : "dump needs a process: -p PID, --core FILE or --snapshot FILE", "e.g. wspy dump -p 1234");
      if ((o.exe || o.sysroot) && !o.core) throw new WspyError("BAD_INPUT", "--exe and --sysroot go with --core FILE", "");
      if (o.pid === undefined && (o.subprocesses || o.blocking)) throw new WspyError("BAD_INPUT", `${o.subprocesses ? "--subprocesses" : "--blocking"} needs a running process (-p PID)`, "");
      const offline = { ...tableOptions(o), locals: o.locals, async: !!o.async, exe: o.exe, sysroot: o.sysroot, ...nativeOf(o) };
      const { dump, renderDumpText } = await lazy.dump();
      // a core file or a snapshot: their readers load only then
      const offlineDump = o.pid === undefined ? await lazy.snapshot() : null;
      traceMark("command");
      const d = offlineDump && o.core !== undefined ? offlineDump.dumpCoreFile(o.core, offline)
        : offlineDump ? offlineDump.dumpSnapshotFile(o.snapshot, offline)
        : await dump(o.pid, { ...tableOptions(o), subprocesses: !!o.subprocesses, blocking: blockingOf(o), locals: o.locals, async: !!o.async, ...nativeOf(o) });
      process.stdout.write(o.json ? jsonInert(d, 2) + "\n" : renderDumpText(d));
      traceMark("written");
    });

  program
    .command("snapshot")
    .description("record what a dump of every thread reads, to decode later anywhere with `dump --snapshot FILE`")
    .addOption(shared.pid().makeOptionMandatory())
    .option("-o, --output <file>", "where to write the snapshot (default: wspy-<pid>.snapshot)")
    .addOption(shared.locals("record local variables too, for `dump --snapshot FILE --locals` (-ll: longer values)"))
    .option("--async", "record asyncio's tasks too, for `dump --snapshot FILE --async`", false)
    .addOption(shared.native("record native stacks too, for `dump --snapshot FILE --native` (pauses the threads while taken)"))
    .addOption(shared.versionTable())
    .addOption(shared.forceVersion())
    .exitOverride()
    .action(async (o) => {
      const output = o.output ?? `wspy-${o.pid}.snapshot`;
      checkWritable(output);
      const { takeSnapshot } = await lazy.snapshot();
      const s = await takeSnapshot(o.pid, { ...tableOptions(o), locals: o.locals, async: !!o.async, native: !!o.native });
      writeOutput(output, s.bytes, { private: true, what: "snapshot" });
      stderrLine(`wspy: wrote snapshot of process ${o.pid} (${s.dump.threads.length} threads, ${s.memoryBytes} bytes of memory in ${s.ranges} ranges, ${s.bytes.length} bytes compressed) to ${output}`);
    });

  program
    .command("agent")
    .description("profile a process, or every process matching --match, for as long as the agent runs: every --period a segment to --dir and/or Pyroscope (--push)")
    .addOption(shared.pid())
    .option("--match <regex>", "every process whose command line matches (attached as each starts, again after a restart)")
    .addOption(new Option("-r, --rate <hz>", "samples per second (low: the agent runs all the time)").argParser(parsePositive("rate")).default(19))
    .option("--period <seconds>", "seconds per segment (Pyroscope's cadence: 10)", parsePositive("period"), 10)
    .option("--dir <folder>", "keep each segment as a file in this folder (it must exist)")
    .addOption(new Option("--format <format>", "segment files: a wspy recording or pprof").choices(["wspy", "pprof"]).default("wspy"))
    .option("--keep <age>", "delete segments older than this (e.g. 7d, 12h)")
    .option("--max-size <size>", "delete the oldest segments past this total (e.g. 1GB)")
    .option("--push <url>", "send each segment to Grafana Pyroscope's ingest API at this URL (user:pass@ for basic auth)")
    .option("--bearer <token>", "with --push: an Authorization: Bearer token (also WSPY_PUSH_TOKEN)")
    .option("--tenant <id>", "with --push: the X-Scope-OrgID tenant")
    .option("--app <name>", "the application name (default: the script's name)")
    .option("--label <k=v>", "a label on every segment (repeatable)", collect, [])
    .addOption(shared.idle("keep samples of idle threads too"))
    .addOption(shared.subprocesses("profile child processes too"))
    .option("--async", "asyncio: stacks start at each task's awaiter chain (CPython 3.11+; see record --async)", false)
    .addOption(shared.native("native (C/C++) frames merged with the Python frames (pauses the threads for each sample; see record --native)"))
    .addOption(shared.duration("stop after this many seconds (default: until Ctrl-C or SIGTERM)"))
    .exitOverride()
    .action(async (o) => {
      const { agent } = await lazy.agent();
      const { parseAge, parseSize } = await import("./agent/history.js");
      const labels: Record<string, string> = {};
      for (const kv of o.label as string[]) {
        const i = kv.indexOf("=");
        if (i <= 0) throw new WspyError("BAD_INPUT", `--label ${JSON.stringify(kv)} is not k=v`, "e.g. --label env=prod");
        labels[kv.slice(0, i)] = kv.slice(i + 1);
      }
      let match: RegExp | undefined;
      if (o.match !== undefined) {
        try {
          match = new RegExp(o.match);
        } catch (e) {
          throw new WspyError("BAD_INPUT", `--match ${JSON.stringify(o.match)} is not a regular expression: ${(e as Error).message}`, "e.g. --match 'gunicorn|app\\.py'");
        }
      }
      await agent({
        pid: o.pid, match, rate: o.rate, periodSec: o.period, app: o.app, labels, dir: o.dir, format: o.format,
        keepMs: o.keep ? parseAge(o.keep) : null, maxBytes: o.maxSize ? parseSize(o.maxSize) : null,
        push: o.push, bearer: o.bearer ?? process.env.WSPY_PUSH_TOKEN, tenant: o.tenant, idle: !!o.idle,
        subprocesses: !!o.subprocesses, duration: o.duration, async: !!o.async, native: !!o.native,
      });
    });

  program
    .command("top")
    .description("a live view of the functions taking time, refreshed every second (q quits, ? helps)")
    .argument("[command...]", "a command to start and watch, after --")
    .passThroughOptions()
    .exitOverride()
    .addOption(shared.pid())
    .addOption(shared.rate())
    .option("--delay <seconds>", "seconds between refreshes", parsePositive("delay"), 1)
    .addOption(shared.duration("stop after this many seconds (default: until q, Ctrl-C or the program exits)"))
    .addOption(shared.idle("count idle threads too (sleeping, waiting); with --async, suspended asyncio tasks too"))
    .option("--async", "asyncio: count a running task's stack under its awaiter chain (<task NAME> frames; CPython 3.11+)", false)
    .addOption(shared.gil("count only the thread holding the GIL"))
    .addOption(shared.subprocesses("include child processes"))
    .addOption(shared.function("start aggregated by function (L toggles)"))
    .addOption(shared.fullFilenames("full file paths"))
    .option("--plain", "no full-screen view: print a plain table every --delay seconds (works without a terminal)", false)
    .option("--rows <n>", "rows of each --plain table", parsePositive("rows"), 25)
    .addOption(shared.blocking("pause the target's threads while each sample is read (ptrace)"))
    .addOption(shared.native("native (C/C++) frames merged with the Python frames (pauses each sampled thread briefly)"))
    .addOption(shared.nativeAll())
    .addOption(shared.nonblocking())
    .addOption(shared.versionTable())
    .addOption(shared.forceVersion())
    .action(async (command: string[], o) => {
      oneTarget("top", o.pid, command, "e.g. wspy top -p 1234");
      const { top } = await lazy.top();
      const res = await top({
        pid: o.pid, command: command.length ? command : undefined, rate: o.rate, delay: o.delay, duration: o.duration,
        idle: !!o.idle, async: !!o.async, gil: !!o.gil, subprocesses: !!o.subprocesses, blocking: blockingOf(o), ...nativeOf(o),
        function: !!o.function, fullFilenames: !!o.fullFilenames, plain: !!o.plain, rows: Math.floor(o.rows),
        ...tableOptions(o),
      });
      if (res.childExitCode !== undefined && res.childExitCode !== 0) process.exitCode = res.childExitCode;
    });

  program.addCommand(tablesCommand());
  program.addCommand(convertCommand());
  program.addCommand(viewCommand());
  program.addCommand(diffCommand());
  program.addCommand(completionsCommand());
  return program;
}

installSignals();
buildProgram().parseAsync(process.argv).catch(fail);
