// The library API: what the CLI uses, for programs that profile from code.
// Must not know: argument parsing or terminal output.
// Source of truth: docs/design.md §8 ("The CLI is one client of a library API").

export { record } from "./record.js";
export type { RecordOptions, RecordResult } from "./record.js";
export { dump, renderDumpText } from "./dump.js";
export type { DumpResult, DumpThread, DumpFrame } from "./dump.js";
export { takeSnapshot, dumpCoreFile, dumpSnapshotFile } from "./snapshot.js";
export { top } from "./top.js";
export type { TopOptions, TopResult } from "./top.js";
export { Sampler, SampledProcess } from "./sampler.js";
export type { SamplerOptions, SamplerHooks, Segment } from "./sampler.js";
export { withThreadRoots, mergeProcesses, aggregateFrames, fileShortener } from "./transform.js";
export { Target } from "./attach.js";
export { renderProfile, OUTPUT_FORMATS } from "./render/index.js";
export type { Profile } from "./profile.js";
export { WspyError, EXIT_CODES } from "./errors.js";
