// Start-up trace: with WSPY_TRACE_STARTUP=1, wspy prints one line to stderr as it exits, the
// milliseconds since its process started at which each phase ended (node's own start-up, the CLI
// loaded, the command's code loaded, the core compiled, the version tables, the target located,
// the first sample, the output written). `npm run bench` reads it for the start-up breakdown.
// Must not know: what the phases do (the callers name them); anything when the variable is unset.
// Source of truth: issue "Start-up and one-shot latency"; Node's performance.nodeTiming (the
// global performance: importing node:perf_hooks would itself cost start-up).

import type { performance as NodePerformance } from "node:perf_hooks"; // a type only: nothing loads

const ON = !!process.env.WSPY_TRACE_STARTUP;
/** One list for the process: the entry (wspy.cjs) and the CLI it runs (wspy-main.cjs) are two bundles, each with its own copy of this module. */
const KEY = Symbol.for("wspy.startup-trace");
type Shared = { marks: string[] };

/** Notes that phase `name` (a word, or words joined by "-") ended now (the first time only: a phase that repeats is not start-up). */
export function traceMark(name: string): void {
  if (!ON) return;
  const g = globalThis as unknown as Record<symbol, Shared | undefined>;
  let shared = g[KEY];
  if (!shared) {
    shared = g[KEY] = { marks: [`node=${(performance as unknown as typeof NodePerformance).nodeTiming.bootstrapComplete.toFixed(1)}`] };
    process.once("exit", () => {
      traceMark("exit");
      process.stderr.write(`wspy-startup: ${shared!.marks.join(" ")}\n`);
    });
  }
  if (shared.marks.some((m) => m.startsWith(name + "="))) return;
  shared.marks.push(`${name}=${performance.now().toFixed(1)}`);
}
