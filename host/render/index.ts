// The renderers behind one entry point: a Profile in, one output format out (text, or bytes for
// the binary formats pprof and wspy).
// Must not know: the core, the reader, or any CPython layout; nor files or the terminal
// (the caller writes the result wherever it wants).
// Source of truth: each renderer's own format spec (see collapsed.ts, speedscope.ts, svg.ts,
// chrometrace.ts, pprof.ts, wspy.ts).

import type { Profile } from "../profile/profile.js";
import { renderCollapsed, type CollapsedOptions } from "./collapsed.js";
import { renderSpeedscope } from "./speedscope.js";
import { renderFlamegraph, type FlamegraphOptions } from "./svg.js";
import { renderChrometrace } from "./chrometrace.js";
import { renderPprof } from "./pprof.js";
import { renderWspy, decodeWspy, isWspyRecording, RecordingError } from "./wspy.js";

export { renderCollapsed, renderSpeedscope, renderFlamegraph, renderChrometrace, renderPprof, renderWspy };
export { decodeWspy, isWspyRecording, RecordingError };
export type { CollapsedOptions, FlamegraphOptions };

/**
 * flamegraph = interactive SVG, speedscope = speedscope JSON, raw = collapsed stacks text,
 * chrometrace = Trace Event Format JSON, pprof = gzipped profile.proto, wspy = a recording that
 * `wspy convert` turns into any of the others
 */
export type OutputFormat = "flamegraph" | "speedscope" | "raw" | "chrometrace" | "pprof" | "wspy";

export const OUTPUT_FORMATS: readonly OutputFormat[] = ["flamegraph", "speedscope", "raw", "chrometrace", "pprof", "wspy"];

/** The usual file extension of each format (for default output names). */
export const FORMAT_EXTENSIONS: Readonly<Record<OutputFormat, string>> = {
  flamegraph: "svg",
  speedscope: "json",
  raw: "txt",
  chrometrace: "trace.json",
  pprof: "pb.gz",
  wspy: "wspy",
};

export type RenderOptions = CollapsedOptions & FlamegraphOptions;

export function renderProfile(profile: Profile, format: OutputFormat, opts: RenderOptions = {}): string | Uint8Array {
  switch (format) {
    case "flamegraph":
      return renderFlamegraph(profile, { title: opts.title, subtitle: opts.subtitle, reverse: opts.reverse });
    case "speedscope":
      return renderSpeedscope(profile);
    case "raw":
      return renderCollapsed(profile, { threads: opts.threads });
    case "chrometrace":
      return renderChrometrace(profile);
    case "pprof":
      return renderPprof(profile);
    case "wspy":
      return renderWspy(profile);
    default: {
      const never: never = format;
      throw new Error(`unknown output format: ${String(never)}`);
    }
  }
}
