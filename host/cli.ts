#!/usr/bin/env node
// The wspy command line: py-spy's flag names on top of the library API (index.ts).
// Must not know: CPython layouts or the core's exports beyond the library API.
// Source of truth: docs/design.md §1 (commands and flags); README (usage).

import "./no-inspector.js"; // first: SIGUSR1 must not open Node's inspector, even while wspy loads
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
};
import { OUTPUT_FORMATS, OutputFormat, FORMAT_EXTENSIONS } from "./render/index.js";
import { convertCommand } from "./commands/convert.js";
import { viewCommand } from "./commands/view.js";
import { tablesCommand } from "./commands/tables.js";
import { completionsCommand } from "./commands/completions.js";

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
    const code = (e as WspyError & { childExitCode?: number }).childExitCode;
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
    .version("0.1.0")
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: commanderError });

  program
    .command("record")
    .description("sample a running process (-p PID) or a command (-- python app.py ...) into a profile")
    .option("-p, --pid <pid>", "process id of a running Python program", parsePid)
    .option("-o, --output <file>", "where to write the profile (default: wspy-<pid|time>.<ext>)")
    .addOption(new Option("-f, --format <format>", "output format").choices([...OUTPUT_FORMATS]).default("flamegraph"))
    .option("-r, --rate <hz>", "samples per second", parseRate, 100)
    .option("-d, --duration <seconds>", "stop after this many seconds (default: until Ctrl-C or the program exits); a program started with -- is then ended (SIGTERM, SIGKILL 5 s later) and wspy exits 0", parsePositive("duration"))
    .option("-i, --idle", "keep samples of idle threads (sleeping, waiting)", false)
    .option("-g, --gil", "keep only the samples of the thread holding the GIL", false)
    .option("-t, --threads", "a root frame per thread in the stacks: thread NAME (TID)", false)
    .option("-s, --subprocesses", "profile child processes too, each under a root frame: process PID: \"command\"; the root may be a launcher that is not Python (bash script.sh)", false)
    .option("-F, --function", "one frame per function (lines merged; the function's first line is shown)", false)
    .option("--nolineno", "no line numbers: frames of one function merge", false)
    .option("--full-filenames", "full file paths (default: relative to the library folders and the target's directory)", false)
    .option("--blocking", "pause the target's threads while each sample is read (ptrace): exact stacks, slower target", false)
    .option("--reverse", "flamegraph: an icicle graph (roots at the top)", false)
    .option("--version-table <file>", "a version-table plugin file (repeatable)", collect, [])
    .option("--force-version <x.y>", "read the target as this Python version (for the brave)")
    .option("--nonblocking", "the default (never pause the target); accepted for py-spy compatibility")
    .argument("[command...]", "a command to start and profile, after --")
    .passThroughOptions()
    .exitOverride()
    .action(async (command: string[], o) => {
      if (!o.pid && command.length === 0) throw new WspyError("BAD_INPUT", "record needs a process: -p PID, or a command after --", "e.g. wspy record -o profile.svg -- python3 app.py");
      if (o.pid && command.length > 0) throw new WspyError("BAD_INPUT", "give either -p PID or a command, not both", "");
      const format = o.format as OutputFormat;
      const output = o.output ?? `wspy-${o.pid ?? new Date().toISOString().replace(/[:.]/g, "-")}.${DEFAULT_EXT[format]}`;
      const { record } = await lazy.record();
      const res = await record({
        pid: o.pid, command: command.length ? command : undefined, output, format, rate: o.rate,
        duration: o.duration, idle: !!o.idle, versionTables: o.versionTable, forceVersion: o.forceVersion,
        render: { reverse: !!o.reverse },
        gil: !!o.gil, threads: !!o.threads, subprocesses: !!o.subprocesses, blocking: !!o.blocking && !o.nonblocking,
        function: !!o.function, nolineno: !!o.nolineno, fullFilenames: !!o.fullFilenames,
      });
      if (res.childExitCode !== undefined && res.childExitCode !== 0) process.exitCode = res.childExitCode;
    });

  program
    .command("dump")
    .description("print every thread's current stack, innermost frame first")
    .option("-p, --pid <pid>", "process id of a running Python program", parsePid)
    .option("--core <file>", "an ELF core file of a Python process instead (gcore's, the kernel's)")
    .option("--exe <path>", "with --core: the python executable, when not where the core says (another machine)")
    .option("--sysroot <dir>", "with --core: a folder holding the process's files at their paths (another machine)")
    .option("--snapshot <file>", "a snapshot written by `wspy snapshot` instead")
    .option("-j, --json", "print JSON instead of text", false)
    .option("-l, --locals", "show each frame's local variables (-ll: longer values)", (_v: string, n: number) => n + 1, 0)
    .option("-s, --subprocesses", "dump the Python child processes too", false)
    .option("--blocking", "pause the threads while they are read (ptrace)", false)
    .option("--version-table <file>", "a version-table plugin file (repeatable)", collect, [])
    .option("--force-version <x.y>", "read the target as this Python version (for the brave)")
    .option("--nonblocking", "the default (never pause the target); accepted for py-spy compatibility")
    .exitOverride()
    .action(async (o) => {
      const sources = [o.pid !== undefined, o.core !== undefined, o.snapshot !== undefined].filter(Boolean).length;
      if (sources !== 1) throw new WspyError("BAD_INPUT", sources ? "give one of -p PID, --core FILE, --snapshot FILE" : "dump needs a process: -p PID, --core FILE or --snapshot FILE", "e.g. wspy dump -p 1234");
      if ((o.exe || o.sysroot) && !o.core) throw new WspyError("BAD_INPUT", "--exe and --sysroot go with --core FILE", "");
      if (o.pid === undefined && (o.subprocesses || o.blocking)) throw new WspyError("BAD_INPUT", `${o.subprocesses ? "--subprocesses" : "--blocking"} needs a running process (-p PID)`, "");
      const offline = { versionTables: o.versionTable, forceVersion: o.forceVersion, locals: o.locals, exe: o.exe, sysroot: o.sysroot };
      const { dump, renderDumpText } = await lazy.dump();
      const { dumpCoreFile, dumpSnapshotFile } = await lazy.snapshot();
      const d = o.core !== undefined ? dumpCoreFile(o.core, offline)
        : o.snapshot !== undefined ? dumpSnapshotFile(o.snapshot, offline)
        : await dump(o.pid, { versionTables: o.versionTable, forceVersion: o.forceVersion, subprocesses: !!o.subprocesses, blocking: !!o.blocking && !o.nonblocking, locals: o.locals });
      process.stdout.write(o.json ? jsonInert(d, 2) + "\n" : renderDumpText(d));
    });

  program
    .command("snapshot")
    .description("record what a dump of every thread reads, to decode later anywhere with `dump --snapshot FILE`")
    .requiredOption("-p, --pid <pid>", "process id of a running Python program", parsePid)
    .option("-o, --output <file>", "where to write the snapshot (default: wspy-<pid>.snapshot)")
    .option("-l, --locals", "record local variables too, for `dump --snapshot FILE --locals` (-ll: longer values)", (_v: string, n: number) => n + 1, 0)
    .option("--version-table <file>", "a version-table plugin file (repeatable)", collect, [])
    .option("--force-version <x.y>", "read the target as this Python version (for the brave)")
    .exitOverride()
    .action(async (o) => {
      const output = o.output ?? `wspy-${o.pid}.snapshot`;
      checkWritable(output);
      const { takeSnapshot } = await lazy.snapshot();
      const s = await takeSnapshot(o.pid, { versionTables: o.versionTable, forceVersion: o.forceVersion, locals: o.locals });
      writeOutput(output, s.bytes, { private: true, what: "snapshot" });
      stderrLine(`wspy: wrote snapshot of process ${o.pid} (${s.dump.threads.length} threads, ${s.memoryBytes} bytes of memory in ${s.ranges} ranges, ${s.bytes.length} bytes compressed) to ${output}`);
    });

  program
    .command("top")
    .description("a live view of the functions taking time, refreshed every second (q quits, ? helps)")
    .option("-p, --pid <pid>", "process id of a running Python program", parsePid)
    .option("-r, --rate <hz>", "samples per second", parseRate, 100)
    .option("--delay <seconds>", "seconds between refreshes", parsePositive("delay"), 1)
    .option("-d, --duration <seconds>", "stop after this many seconds (default: until q, Ctrl-C or the program exits)", parsePositive("duration"))
    .option("-i, --idle", "count idle threads too (sleeping, waiting)", false)
    .option("-g, --gil", "count only the thread holding the GIL", false)
    .option("-s, --subprocesses", "include child processes", false)
    .option("-F, --function", "start aggregated by function (L toggles)", false)
    .option("--full-filenames", "full file paths", false)
    .option("--plain", "no full-screen view: print a plain table every --delay seconds (works without a terminal)", false)
    .option("--rows <n>", "rows of each --plain table", parsePositive("rows"), 25)
    .option("--blocking", "pause the target's threads while each sample is read (ptrace)", false)
    .option("--nonblocking", "the default (never pause the target); accepted for py-spy compatibility")
    .option("--version-table <file>", "a version-table plugin file (repeatable)", collect, [])
    .option("--force-version <x.y>", "read the target as this Python version (for the brave)")
    .argument("[command...]", "a command to start and watch, after --")
    .passThroughOptions()
    .exitOverride()
    .action(async (command: string[], o) => {
      if (!o.pid && command.length === 0) throw new WspyError("BAD_INPUT", "top needs a process: -p PID, or a command after --", "e.g. wspy top -p 1234");
      if (o.pid && command.length > 0) throw new WspyError("BAD_INPUT", "give either -p PID or a command, not both", "");
      const { top } = await lazy.top();
      const res = await top({
        pid: o.pid, command: command.length ? command : undefined, rate: o.rate, delay: o.delay, duration: o.duration,
        idle: !!o.idle, gil: !!o.gil, subprocesses: !!o.subprocesses, blocking: !!o.blocking && !o.nonblocking,
        function: !!o.function, fullFilenames: !!o.fullFilenames, plain: !!o.plain, rows: Math.floor(o.rows),
        versionTables: o.versionTable, forceVersion: o.forceVersion,
      });
      if (res.childExitCode !== undefined && res.childExitCode !== 0) process.exitCode = res.childExitCode;
    });

  program.addCommand(tablesCommand());
  program.addCommand(convertCommand());
  program.addCommand(viewCommand());
  program.addCommand(completionsCommand());
  return program;
}

installSignals();
buildProgram().parseAsync(process.argv).catch(fail);
