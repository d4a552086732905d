// The wspy core's exports: everything the host may call. The core decodes bytes of a CPython
// process into stacks and keeps the profile tables; it reaches the world only through the
// imported `read` (io.ts). Addresses cross the boundary as u64 only at attach time.
// Must not know: files, processes, clocks, terminals, output formats.
// Source of truth: docs/design.md §2; host/core/core.ts is the one caller.

export { readCallCount, readLastErrno, ioForgetBase } from "./io";
export { lastErrorCode, lastErrorDetail, lastErrorAddr } from "./status";
export {
  elfParse, elfSymbol, elfSymbolSize, elfType_ as elfType, elfFirstLoadVaddr, elfFirstLoadOffset,
  elfPyRuntimeSection, elfPyRuntimeSectionSize, elfNextRanges, elfRangesPtr, elfPyRuntimeSectionOffset, elfBss, elfBssSize, elfData, elfDataSize,
} from "./locate/elf";
export * from "./locate/core-file";
export { tableNew, tableSetField, tableSetCap, tableValidate, tableField, tableCap, tableCount } from "./python/tables";
export { registrySelect, registryFromDebugOffsets, debugOffsetsSize, debugOffsetsVersion, versionHasDebugOffsets, versionHasRuntime, registryLastWasTrial, DEBUG_OFFSETS_HEADER, DEBUG_OFFSETS_MAX } from "./python/registry";
export {
  walkAttach, walkSample, walkCommit, walkResultsPtr, walkResultCount, walkInterpAddr, walkSetWantGil, RESULT_SIZE,
  MAX_THREADS, MAX_FRAMES, walkTableId, walkSetKeepFrames, keptFrameAddr, keptFrameCode, keptFrameCount,
} from "./decode/walk";
export {
  stringCount, stringPtr, stringLen, frameCount, frameStride, framesPtr, nodeCount, nodesPtr, threadCount, threadsPtr,
  setThreadName, pushSample, sampleCount, sampleTimesPtr, sampleWeightsPtr, sampleThreadsPtr, sampleNodesPtr, internString,
  internFrame, internNode,
} from "./aggregate/intern";
export { decodeLineNumber } from "./decode/line-table";
export { setStringTypes } from "./decode/strings";
export { threadNamesRefresh } from "./decode/thread-names";
export { localsRead, localsPtr, localsArgsPtr, MAX_LOCALS, floatRepr, localsTextPtr } from "./decode/locals";

import { FIELD_COUNT, FIELD_NAMES, FIELD_SECTIONS, FIELD_WIDTHS, SECTION_NAMES } from "./python/fields";
import { CAP_COUNT, CAP_NAMES, CAP_VALUES, CAP_OPTIONAL } from "./python/capabilities";

// ---- metadata for the host's table loader (names travel as UTF-16 AssemblyScript strings) ----
export function fieldCount(): i32 { return FIELD_COUNT; }
export function fieldName(i: i32): string { return FIELD_NAMES[i]; }
export function fieldSection(i: i32): string { return SECTION_NAMES[<i32>FIELD_SECTIONS[i]]; }
export function fieldWidth(i: i32): i32 { return <i32>FIELD_WIDTHS[i]; }
export function capCount(): i32 { return CAP_COUNT; }
export function capName(i: i32): string { return CAP_NAMES[i]; }
export function capValues(i: i32): string { return CAP_VALUES[i]; }
export function capOptional(i: i32): bool { return CAP_OPTIONAL[i]; }

// ---- raw memory the host fills (ELF files, test inputs) ----
export function allocBuffer(len: i32): usize { return heap.alloc(<usize>len); }
export function freeBuffer(ptr: usize): void { heap.free(ptr); }
const SCRATCH_SIZE: i32 = 1 << 20;
const SCRATCH: usize = memory.data(SCRATCH_SIZE, 16);
export function scratchPtr(): usize { return SCRATCH; }
export function scratchSize(): i32 { return SCRATCH_SIZE; }
