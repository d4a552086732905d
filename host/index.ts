// The library API: what the CLI uses, for programs that profile from code.
// Must not know: argument parsing or terminal output.
// Source of truth: docs/design.md §8 ("The CLI is one client of a library API").

export { record } from "./commands/record.js";
export type { RecordOptions, RecordResult } from "./commands/record.js";
export { dump, renderDumpText } from "./commands/dump.js";
export type { DumpResult, DumpThread, DumpFrame } from "./commands/dump.js";
export { takeSnapshot, dumpCoreFile, dumpSnapshotFile } from "./commands/snapshot.js";
export { top } from "./commands/top.js";
export type { TopOptions, TopResult } from "./commands/top.js";
export { Sampler, SampledProcess } from "./sampling/sampler.js";
export type { SamplerOptions, SamplerHooks, Segment } from "./sampling/sampler.js";
export { withThreadRoots, mergeProcesses, aggregateFrames, fileShortener } from "./profile/transform.js";
export { Target } from "./target/attach.js";
export { renderProfile, OUTPUT_FORMATS } from "./render/index.js";
export type { Profile } from "./profile/profile.js";
export { WspyError, EXIT_CODES } from "./errors.js";
