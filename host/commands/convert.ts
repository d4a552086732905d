// `wspy convert IN -f FORMAT -o OUT`: render a wspy recording (`record -f wspy`) into any output
// format, as often as wanted; and loadRecording(), which `wspy view` uses too.
// Must not know: the core, the reader, CPython layouts; how each format is written (renderers).
// Source of truth: the recording format in render/wspy.ts; README "Output formats".

import path from "node:path";
import { readProfileInput, type RangeOptions } from "../agent/range.js";
import { Command, Option } from "commander";
import { WspyError } from "../errors.js";
import { readInputFile, raiseHint } from "../io/files.js";
import { checkWritable, writeOutput } from "../io/output.js";
import type { Profile } from "../profile/profile.js";
import { commanderError, stderrLine } from "../io/escape.js";
import {
  renderProfile, decodeWspy, RecordingError, OUTPUT_FORMATS, FORMAT_EXTENSIONS,
  type OutputFormat, type RenderOptions,
} from "../render/index.js";

/**
 * Reads a recording (or a profile to view) whole, bounded (host/io/files.ts): a missing,
 * unreadable, non-regular or too large file is a one-line error.
 */
export function readInput(file: string): Uint8Array {
  return readInputFile(file, { kind: "recording" });
}

/** Decodes a recording's bytes; anything wrong is a one-line BAD_INPUT error naming the file. */
export function decodeRecording(file: string, bytes: Uint8Array): Profile {
  try {
    return decodeWspy(bytes);
  } catch (e) {
    if (e instanceof RecordingError && e.overLimit) throw new WspyError("BAD_INPUT", `${file}: ${e.message}`, raiseHint("recording"));
    if (e instanceof RecordingError) {
      throw new WspyError("BAD_INPUT", `${file} is not a readable wspy recording: ${e.message}`, "record one with `wspy record -f wspy -o FILE.wspy ...`");
    }
    throw e;
  }
}

/** The Profile stored in a `-f wspy` recording. */
export function loadRecording(file: string): Profile {
  return decodeRecording(file, readInput(file));
}

export interface ConvertOptions {
  input: string;
  /** a history folder's range (--since, --until, --match) */
  range?: RangeOptions;
  output?: string;
  format: OutputFormat;
  render?: RenderOptions;
  log?: (line: string) => void;
}

/** Default output name: the input's name with the format's extension instead of `.wspy`. */
export function defaultOutput(input: string, format: OutputFormat): string {
  const base = input.replace(/\.wspy$/i, "");
  const out = `${base}.${FORMAT_EXTENSIONS[format]}`;
  return path.resolve(out) === path.resolve(input) ? `${base}.converted.${FORMAT_EXTENSIONS[format]}` : out;
}

export function convert(opts: ConvertOptions): { output: string; profile: Profile } {
  const log = opts.log ?? stderrLine;
  const { profile, range } = readProfileInput(opts.input, opts.range);
  const output = opts.output ?? (range ? `${path.basename(path.resolve(opts.input.replace(/@[^/]*$/, "")))}.${FORMAT_EXTENSIONS[opts.format]}` : defaultOutput(opts.input, opts.format));
  if (range) log(`wspy: ${range.segments.length} segments of ${opts.input}${range.skippedPprof ? ` (${range.skippedPprof} pprof segments skipped)` : ""}${range.unmatched ? ` (${range.unmatched} not matching --match)` : ""}`);
  checkWritable(output);
  writeOutput(output, renderProfile(profile, opts.format, opts.render ?? {}), { what: "profile" });
  log(`wspy: wrote ${opts.format} to ${output}`);
  return { output, profile };
}

export function convertCommand(): Command {
  return new Command("convert")
    .description("render a recording made with `record -f wspy`, or a range of an agent's history folder, into another format")
    .argument("<input>", "a .wspy recording, an agent's history folder, or FOLDER@SINCE..UNTIL")
    .option("--since <time>", "history folder: segments from this time (15m, 2h, 7d ago; 14:00; 2026-11-28T14:00)")
    .option("--until <time>", "history folder: segments up to this time (default: now)")
    .option("--match <label=value>", "history folder: only segments with this label (app, pid, host, python, or an agent's --label); repeatable", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .addOption(new Option("-f, --format <format>", "output format").choices([...OUTPUT_FORMATS]).default("flamegraph"))
    .option("-o, --output <file>", "where to write (default: the input's name with the format's extension)")
    .option("--reverse", "flamegraph: an icicle graph (roots at the top)", false)
    .exitOverride()
    .configureOutput({ outputError: commanderError })
    .action((input: string, o) => {
      convert({ input, output: o.output, format: o.format as OutputFormat, render: { reverse: !!o.reverse }, range: { since: o.since, until: o.until, match: o.match } });
    });
}
