// `wspy diff A B`: what changed between two profiles, A (before) and B (after), each a `.wspy`
// recording, an agent's history folder or a range of one (FOLDER@SINCE..UNTIL): a differential
// flame graph (SVG, the default, to diff.svg) or a table of functions by change (-f text, to
// stdout). Frames are shaped the same way in both (one frame per function unless --lines; short
// library file names unless --full-filenames) so that they match.
// Must not know: the core, the reader, CPython layouts; how the comparison is computed or drawn
// (host/profile/diff.ts, host/render/diffsvg.ts, host/render/difftext.ts).
// Source of truth: README "diff"; host/agent/range.ts (what an input may be).

import { Command, Option } from "commander";
import { readProfileInput } from "../agent/range.js";
import { WspyError } from "../errors.js";
import { checkWritable, writeOutput } from "../io/output.js";
import { commanderError, stderrLine } from "../io/escape.js";
import type { Profile } from "../profile/profile.js";
import { aggregateFrames, fileShortener } from "../profile/transform.js";
import { renderDiffFlamegraph } from "../render/diffsvg.js";
import { renderDiffTable } from "../render/difftext.js";

export type DiffFormat = "svg" | "text";
export const DIFF_FORMATS: readonly DiffFormat[] = ["svg", "text"];

export interface DiffCommandOptions {
  a: string;
  b: string;
  format: DiffFormat;
  /** default: diff.svg for svg, stdout for text; "-" is stdout */
  output?: string;
  /** frames matched per line (default: per function) */
  lines?: boolean;
  /** no line numbers shown */
  nolineno?: boolean;
  fullFilenames?: boolean;
  /** history folders: only segments with these labels (label=value) */
  match?: string[];
  /** the table: at most this many functions (0: all) */
  rows?: number;
  reverse?: boolean;
  log?: (line: string) => void;
}

/** One side, read and shaped; an input without a single stack is a one-line BAD_INPUT. */
function readSide(spec: string, which: "A" | "B", o: DiffCommandOptions, log: (line: string) => void): Profile {
  const { profile, range } = readProfileInput(spec, { match: o.match });
  if (range) log(`wspy: ${which}: ${range.segments.length} segments of ${spec}${range.skippedPprof ? ` (${range.skippedPprof} pprof segments skipped)` : ""}${range.unmatched ? ` (${range.unmatched} not matching --match)` : ""}`);
  let stacks = 0;
  for (let i = 0; i < profile.sampleNode.length; i++) if (profile.sampleNode[i] >= 0) stacks++;
  if (stacks === 0) throw new WspyError("BAD_INPUT", `${which} (${spec}) has no samples with a Python stack: nothing to compare`, "record longer, or choose a range with samples");
  return aggregateFrames(profile, {
    function: !o.lines && !o.nolineno,
    nolineno: !!o.nolineno,
    file: o.fullFilenames ? undefined : fileShortener([]),
  });
}

export function diff(o: DiffCommandOptions): { output: string } {
  const log = o.log ?? stderrLine;
  const toStdout = o.output === "-" || (o.output === undefined && o.format === "text");
  const output = toStdout ? "/dev/stdout" : o.output ?? "diff.svg";
  if (!toStdout) checkWritable(output);
  const a = readSide(o.a, "A", o, log);
  const b = readSide(o.b, "B", o, log);
  const shape = { lines: !!o.lines && !o.nolineno, nameA: o.a, nameB: o.b };
  const text = o.format === "text"
    ? renderDiffTable(a, b, { ...shape, rows: o.rows })
    : renderDiffFlamegraph(a, b, { ...shape, reverse: o.reverse });
  writeOutput(output, text, { what: "diff" });
  if (!toStdout) log(`wspy: wrote ${o.format === "text" ? "the diff table" : "the diff flame graph"} to ${output}`);
  return { output };
}

function parseRows(v: string): number {
  if (!/^\d+$/.test(v)) throw new WspyError("BAD_INPUT", `--rows must be a whole number, not ${JSON.stringify(v)}`, "0 shows every function");
  return Number(v);
}

export function diffCommand(): Command {
  return new Command("diff")
    .description("compare two profiles, A (before) and B (after): a differential flame graph (red: more of B's time, blue: less) or a table of functions by change")
    .argument("<input-a>", "A, before: a .wspy recording, an agent's history folder, or FOLDER@SINCE..UNTIL")
    .argument("<input-b>", "B, after: the same kinds")
    .addOption(new Option("-f, --format <format>", "svg (a differential flame graph) or text (a table)").choices([...DIFF_FORMATS]).default("svg"))
    .option("-o, --output <file>", "where to write (default: diff.svg for svg, stdout for text; - is stdout)")
    .option("--rows <n>", "text: at most this many functions (0: all)", parseRows, 30)
    .option("--lines", "match and show frames per line (default: per function, so edits that move lines do not split a function)", false)
    .option("--nolineno", "no line numbers: frames of one function merge", false)
    .option("--full-filenames", "full paths (default: library files relative to their folder)", false)
    .option("--match <label=value>", "history folders: only segments with this label (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--reverse", "svg: an icicle graph (roots at the top)", false)
    .exitOverride()
    .configureOutput({ outputError: commanderError })
    .action((a: string, b: string, o) => {
      diff({
        a, b, format: o.format as DiffFormat, output: o.output, rows: o.rows, lines: !!o.lines, nolineno: !!o.nolineno,
        fullFilenames: !!o.fullFilenames, match: o.match, reverse: !!o.reverse,
      });
    });
}
