// The renderers behind one entry point: a Profile in, the text of one output format out.
// Must not know: the core, the reader, or any CPython layout; nor files or the terminal
// (the caller writes the string wherever it wants).
// Source of truth: each renderer's own format spec (see collapsed.ts, speedscope.ts, svg.ts).

import type { Profile } from "../profile.js";
import { renderCollapsed, type CollapsedOptions } from "./collapsed.js";
import { renderSpeedscope } from "./speedscope.js";
import { renderFlamegraph, type FlamegraphOptions } from "./svg.js";

export { renderCollapsed, renderSpeedscope, renderFlamegraph };
export type { CollapsedOptions, FlamegraphOptions };

/** flamegraph = interactive SVG, speedscope = speedscope JSON, raw = collapsed stacks text */
export type OutputFormat = "flamegraph" | "speedscope" | "raw";

export const OUTPUT_FORMATS: readonly OutputFormat[] = ["flamegraph", "speedscope", "raw"];

export type RenderOptions = CollapsedOptions & FlamegraphOptions;

export function renderProfile(profile: Profile, format: OutputFormat, opts: RenderOptions = {}): string {
  switch (format) {
    case "flamegraph":
      return renderFlamegraph(profile, { title: opts.title, subtitle: opts.subtitle, reverse: opts.reverse });
    case "speedscope":
      return renderSpeedscope(profile);
    case "raw":
      return renderCollapsed(profile, { threads: opts.threads });
    default: {
      const never: never = format;
      throw new Error(`unknown output format: ${String(never)}`);
    }
  }
}
