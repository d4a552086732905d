// The active version: the one table the decoders use for the attached target, copied once at
// attach (activeSet) into one offsets array and the capabilities every decoder switches on.
// Every decoder (walk, frames, code cache, strings, objects, locals) reads this state; none
// keeps its own copy of the table.
// Must not know: version numbers (registry.ts chose the table), the target, I/O.
// Source of truth: tables.ts (the table), fields.ts and capabilities.ts (what the values mean).

import * as F from "./fields";
import * as C from "./capabilities";
import { tableAt, tableCount } from "./tables";
import { OK, ERR_TABLE, fail } from "../status";
import { configureStrings } from "../decode/strings";

/** Offsets of the active table by field id (fields.ts), -1 where absent. */
export const O: StaticArray<i32> = new StaticArray<i32>(F.FIELD_COUNT);
/** The active table's id (tables.ts tableAt), -1 before attach. */
export let activeTableId: i32 = -1;
/** Bumped by every activeSet: decoders that derive values from the table recompute on change. */
export let activeGeneration: i32 = 0;

// ---- capabilities (capabilities.ts), by name ----
export let frameModel: i32 = 0;
export let lineFormat: i32 = 0;
export let frameSkip: i32 = 0;
export let stringModel: i32 = 0;
export let gilModel: i32 = 0;
export let nativeIdModel: i32 = 0;
export let chainEnd: i32 = 0;
export let dictModel: i32 = 0;
export let managedDict: i32 = 0;
export let longModel: i32 = 0;
export let stringState: i32 = 0;
export let bytecodeModel: i32 = 0;
export let taskRegistry: i32 = 0;
export let genState: i32 = 0;
export let awaitedSlotModel: i32 = 0;
export let tagBits: i32 = 0;
/** The mask that clears a tagged pointer's tag bits. */
export let tagMask: u64 = ~(<u64>0);

/** Makes table tableId the active one. OK, or ERR_TABLE for an unknown id. */
export function activeSet(tableId: i32): i32 {
  if (tableId < 0 || tableId >= tableCount()) return fail(ERR_TABLE, 0);
  const t = tableAt(tableId);
  for (let i = 0; i < F.FIELD_COUNT; i++) unchecked(O[i] = t.offsets[i]);
  frameModel = t.caps[C.CAP_FRAME_MODEL];
  lineFormat = t.caps[C.CAP_LINE_TABLE];
  frameSkip = t.caps[C.CAP_FRAME_SKIP];
  stringModel = t.caps[C.CAP_STRING_MODEL];
  gilModel = t.caps[C.CAP_GIL_MODEL];
  nativeIdModel = t.caps[C.CAP_THREAD_NATIVE_ID];
  chainEnd = t.caps[C.CAP_CHAIN_END];
  dictModel = t.caps[C.CAP_DICT_MODEL];
  managedDict = t.caps[C.CAP_MANAGED_DICT];
  longModel = t.caps[C.CAP_LONG_MODEL];
  stringState = t.caps[C.CAP_STRING_STATE];
  bytecodeModel = t.caps[C.CAP_BYTECODE];
  taskRegistry = t.caps[C.CAP_TASK_REGISTRY];
  genState = t.caps[C.CAP_GEN_STATE];
  awaitedSlotModel = t.caps[C.CAP_AWAITED_SLOT];
  tagBits = t.caps[C.CAP_POINTER_TAG_BITS];
  tagMask = ~((<u64>1 << <u64>tagBits) - 1);
  activeTableId = tableId;
  activeGeneration++;
  // the string decoder checks once that the table's string headers fit its buffer
  configureStrings();
  return OK;
}

/** The end of the part of a struct that holds fields (present ones), from offset 0. */
export function windowEnd(fields: StaticArray<i32>): i32 {
  let hi = 0;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const v = O[f];
    if (v < 0) continue;
    const end = v + <i32>F.FIELD_WIDTHS[f];
    if (end > hi) hi = end;
  }
  return hi;
}

/** The lowest offset of fields (present ones); 0 when none is present. */
export function windowStart(fields: StaticArray<i32>): i32 {
  let lo = 0x7fffffff;
  for (let i = 0; i < fields.length; i++) {
    const v = O[fields[i]];
    if (v >= 0 && v < lo) lo = v;
  }
  return lo == 0x7fffffff ? 0 : lo;
}
