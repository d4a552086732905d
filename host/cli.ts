#!/usr/bin/env node
// The wspy command line: py-spy's flag names on top of the library API (index.ts).
// Must not know: CPython layouts or the core's exports beyond the library API.
// Source of truth: ../shared/docs/design.md §1 (commands and flags); README (usage).

import { Command, Option, CommanderError } from "commander";
import { WspyError, EXIT_CODES } from "./errors.js";
import { record } from "./record.js";
import { dump, renderDumpText } from "./dump.js";
import { OUTPUT_FORMATS, OutputFormat, FORMAT_EXTENSIONS } from "./render/index.js";
import { convertCommand } from "./convert.js";
import { viewCommand } from "./view.js";
import { tablesCommand } from "./tables-cli.js";

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
function collect(v: string, prev: string[] = []): string[] { return [...prev, v]; }

const DEFAULT_EXT: Record<OutputFormat, string> = FORMAT_EXTENSIONS;

function fail(e: unknown): never {
  if (e instanceof WspyError) {
    process.stderr.write(`wspy: ${e.message}${e.hint ? ` (${e.hint})` : ""}\n`);
    const code = (e as WspyError & { childExitCode?: number }).childExitCode;
    process.exit(code !== undefined && code !== 0 ? code : EXIT_CODES[e.code]);
  }
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : EXIT_CODES.BAD_INPUT);
  const err = e as Error;
  process.stderr.write(`wspy: internal error: ${err?.message ?? String(e)} (please report it${process.env.WSPY_DEBUG ? "" : "; WSPY_DEBUG=1 shows details"})\n`);
  if (process.env.WSPY_DEBUG) process.stderr.write(`${err?.stack}\n`);
  process.exit(EXIT_CODES.INTERNAL);
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("wspy")
    .description("A production-safe sampling profiler for CPython 2.7–3.15: never stops or writes to the target.")
    .version("0.1.0")
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`wspy: ${str.replace(/^error: /, "").trim()}\n`) });

  program
    .command("record")
    .description("sample a running process (-p PID) or a command (-- python app.py ...) into a profile")
    .option("-p, --pid <pid>", "process id of a running Python program", parsePid)
    .option("-o, --output <file>", "where to write the profile (default: wspy-<pid|time>.<ext>)")
    .addOption(new Option("-f, --format <format>", "output format").choices([...OUTPUT_FORMATS]).default("flamegraph"))
    .option("-r, --rate <hz>", "samples per second", parsePositive("rate"), 100)
    .option("-d, --duration <seconds>", "stop after this many seconds (default: until Ctrl-C or the program exits)", parsePositive("duration"))
    .option("-i, --idle", "keep samples of idle threads (sleeping, waiting)", false)
    .option("--reverse", "flamegraph: an icicle graph (roots at the top)", false)
    .option("--version-table <file>", "a version-table plugin file (repeatable)", collect, [])
    .option("--force-version <x.y>", "read the target as this Python version (for the brave)")
    .option("--nonblocking", "accepted for py-spy compatibility: wspy never pauses the target")
    .argument("[command...]", "a command to start and profile, after --")
    .passThroughOptions()
    .exitOverride()
    .action(async (command: string[], o) => {
      if (!o.pid && command.length === 0) throw new WspyError("BAD_INPUT", "record needs a process: -p PID, or a command after --", "e.g. wspy record -o profile.svg -- python3 app.py");
      if (o.pid && command.length > 0) throw new WspyError("BAD_INPUT", "give either -p PID or a command, not both", "");
      const format = o.format as OutputFormat;
      const output = o.output ?? `wspy-${o.pid ?? new Date().toISOString().replace(/[:.]/g, "-")}.${DEFAULT_EXT[format]}`;
      const res = await record({
        pid: o.pid, command: command.length ? command : undefined, output, format, rate: o.rate,
        duration: o.duration, idle: !!o.idle, versionTables: o.versionTable, forceVersion: o.forceVersion,
        render: { reverse: !!o.reverse },
      });
      if (res.childExitCode !== undefined && res.childExitCode !== 0) process.exitCode = res.childExitCode;
    });

  program
    .command("dump")
    .description("print every thread's current stack, innermost frame first")
    .requiredOption("-p, --pid <pid>", "process id of a running Python program", parsePid)
    .option("-j, --json", "print JSON instead of text", false)
    .option("--version-table <file>", "a version-table plugin file (repeatable)", collect, [])
    .option("--force-version <x.y>", "read the target as this Python version (for the brave)")
    .option("--nonblocking", "accepted for py-spy compatibility: wspy never pauses the target")
    .exitOverride()
    .action(async (o) => {
      const d = await dump(o.pid, { versionTables: o.versionTable, forceVersion: o.forceVersion });
      process.stdout.write(o.json ? JSON.stringify(d, null, 2) + "\n" : renderDumpText(d));
    });

  program.addCommand(tablesCommand());
  program.addCommand(convertCommand());
  program.addCommand(viewCommand());
  return program;
}

buildProgram().parseAsync(process.argv).catch(fail);
