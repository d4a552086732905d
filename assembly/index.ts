// The wspy core's exports: everything the host may call. The core decodes bytes of a CPython
// process into stacks and keeps the profile tables; it reaches the world only through the
// imported `read` (io.ts). Addresses cross the boundary as u64 only at attach time.
// Must not know: files, processes, clocks, terminals, output formats.
// Source of truth: docs/design.md §2; host/core/core.ts is the one caller.

export { readCallCount, ioForgetBase } from "./io";
export { lastErrorCode, lastErrorDetail, lastErrorAddr } from "./status";
export {
  elfObjectNew, elfObjectCount, elfObjectState, elfObjectBase, elfObjectKeptSymbols, elfParse, elfSymbol, elfSymbolSize,
  elfSymbolFind, elfSymbolFoundSize, elfType, elfFirstLoadVaddr, elfFirstLoadOffset, elfPyRuntimeSection,
  elfPyRuntimeSectionSize, elfNextRanges, elfRangesPtr, elfPyRuntimeSectionOffset, elfAsyncioDebugSection, elfAsyncioDebugSectionSize, elfEhFrameHdr, elfEhFrameHdrSize, elfEhFrame, elfEhFrameSize, elfSymbolAt, elfSymbolAtValue, elfEvalRangeCount, elfEvalRangeLo, elfEvalRangeHi, elfBuildIdNote, elfBuildIdNoteSize, elfHasSymtab, elfDecodeBuildId, elfBss, elfBssSize, elfData, elfDataSize,
  ELF_MAX_KEY, ELF_NEW, ELF_PARSED,
} from "./locate/elf";
export * from "./locate/core-file";
export { tableNew, tableSetField, tableSetCap, tableValidate, tableField, tableCap, tableCount } from "./python/tables";
export { registrySelect, registryFromDebugOffsets, debugOffsetsSize, debugOffsetsVersion, versionHasDebugOffsets, versionHasRuntime, registryLastWasTrial, registryInspectRuntime, registryRuntimeVersion, registryRuntimeHasDebugOffsets, registryRuntimeFreeThreaded, registryVersionFromPyVersion, registryVersionFromBanner, DEBUG_OFFSETS_HEADER, DEBUG_OFFSETS_MAX } from "./python/registry";
export {
  walkAttach, walkSample, walkInterpAddr, walkSetWantGil, walkSetPthreadTidOffset,
  walkTableId, walkSetKeepFrames, keptFrameAddr, keptFrameCode, keptFrameCount, keptFrameFlags,
  walkExtraReadsClear, walkExtraRead, walkExtraReadOk,
} from "./decode/walk";
export { walkCommit, walkResultsPtr, walkResultCount, MAX_THREADS } from "./decode/results";
export { MAX_FRAMES, PF_BLOCK_END } from "./decode/sample-state";
export { RESULT_SIZE } from "./contract";
export {
  stringCount, stringPtr, stringLen, frameCount, frameStride, framesPtr, nodeCount, nodesPtr, threadCount, threadsPtr,
  setThreadName, pushSample, sampleCount, sampleTimesPtr, sampleWeightsPtr, sampleThreadsPtr, sampleNodesPtr, internString,
  internFrame, internNode, internThread,
} from "./aggregate/intern";
export { aggregateReset, stackGeneration, stringGeneration, stringBytes, RESET_SAMPLES, RESET_STACKS, RESET_ALL } from "./aggregate/intern";
export { FRAME_PYTHON, FRAME_THREAD, FRAME_PROCESS, FRAME_TASK, FRAME_NATIVE } from "./aggregate/intern";
export { decodeLineNumber } from "./decode/line-table";
export { setStringTypes } from "./decode/strings";
export { threadNamesRefresh } from "./decode/thread-names";
export { localsRead, localsPtr, localsArgsPtr, MAX_LOCALS, floatRepr, localsTextPtr } from "./decode/locals";

import { FIELD_COUNT, FIELD_NAMES, FIELD_SECTIONS, FIELD_WIDTHS, SECTION_NAMES } from "./python/fields";
import { CAP_COUNT, CAP_NAMES, CAP_VALUES, CAP_OPTIONAL } from "./python/capabilities";
import * as K from "./contract";
import { SYM_COUNT, SYM_NAMES } from "./locate/elf";

// ---- the host–core contract (contract.ts), described for host/core/contract.ts ----
export function contractStatusCount(): i32 { return K.STATUS_COUNT; }
export function contractStatusName(i: i32): string { return K.STATUS_NAMES[i]; }
export function contractStatusKey(i: i32): string { return K.STATUS_KEYS[i]; }
export function contractResultFieldCount(): i32 { return K.RESULT_FIELD_COUNT; }
export function contractResultFieldName(i: i32): string { return K.RESULT_FIELD_NAMES[i]; }
export function contractResultFieldOffset(i: i32): i32 { return K.RESULT_FIELD_OFFSETS[i]; }
export function contractResultFieldWidth(i: i32): i32 { return K.RESULT_FIELD_WIDTHS[i]; }
export function contractResultSize(): i32 { return K.RESULT_SIZE; }
export function contractReadStatusCount(): i32 { return K.READ_STATUS_NAMES.length; }
export function contractReadStatusName(i: i32): string { return K.READ_STATUS_NAMES[i]; }
export function contractReadStatusValue(i: i32): i32 { return K.READ_STATUS_VALUES[i]; }
export function contractDetailCount(): i32 { return K.DETAIL_NAMES.length; }
export function contractDetailName(i: i32): string { return K.DETAIL_NAMES[i]; }
export function contractDetailValue(i: i32): i32 { return K.DETAIL_VALUES[i]; }
export function contractSymbolCount(): i32 { return SYM_COUNT; }
export function contractSymbolName(i: i32): string { return SYM_NAMES[i]; }

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
export { tasksConfigure, tasksRead, tasksRecordsPtr, tasksFramesPtr, tasksAwaitersPtr, tasksTornCount, MAX_TASKS } from "./decode/tasks";
export function contractTaskFieldCount(): i32 { return K.TASK_FIELD_COUNT; }
export function contractTaskFieldName(i: i32): string { return K.TASK_FIELD_NAMES[i]; }
export function contractTaskFieldOffset(i: i32): i32 { return K.TASK_FIELD_OFFSETS[i]; }
export function contractTaskRecordSize(): i32 { return K.TASK_RECORD_SIZE; }
export { cfiFindFde, cfiRow } from "./unwind/cfi";
export function cfiCfaReg(): i32 { return CFI.cfaReg; }
export function cfiCfaOffset(): i64 { return CFI.cfaOffset; }
export function cfiCfaIsExpression(): bool { return CFI.cfaExprPtr != 0; }
export function cfiRuleKind(r: i32): i32 { return CFI.ruleKind[r]; }
export function cfiRuleValue(r: i32): i64 { return CFI.ruleValue[r]; }
export function cfiFdeStart(): u64 { return CFI.fdeStart; }
export function cfiFdeEnd(): u64 { return CFI.fdeEnd; }
import * as CFI from "./unwind/cfi";
export { cfiStep } from "./unwind/cfi";
export function cfiRegsPtr(): usize { return changetype<usize>(CFI.regs); }
export function cfiMissingAddr(): u64 { return CFI.missingAddr; }
export {
  nativeModuleSet, nativeModuleAddEval, nativeModuleSetTrampolines, nativeTrampolineChecked, nativeModulesClear, nativeUnwind, nativeRegsPtr, nativeStop, nativeStopPc,
  nativeFramePc, nativeFrameModule, nativeFrameFlags, nativeFrameFdeStart, nativeJumpTargets, nativeJumpTarget,
  MAX_NATIVE_MODULES, MAX_NATIVE_FRAMES, NF_EVAL, NF_NO_CFI,
  NS_END, NS_NO_OBJECT, NS_NO_FDE, NS_BAD_CFI, NS_WINDOW, NS_LIMIT, NS_NO_PROGRESS, NS_CHECK_TRAMPOLINE,
  TRAMP_NONE, TRAMP_SUB8, TRAMP_PUSH_RBP,
} from "./unwind/native";
