// Version tables: offsets records plus capabilities, each for a range of CPython versions,
// loaded by the host (built-in JSON files and user plugins) or built from a target's
// `_Py_DebugOffsets`. Validation here is strict: every field a table's capabilities need is
// present, and every field plus its width lies inside its struct's size.
// Must not know: files, JSON, or which version is running (registry.ts chooses).
// Source of truth: fields.ts and capabilities.ts.

import { FIELD_COUNT, FIELD_SECTIONS, FIELD_WIDTHS, FIELD_NAMES, ABSENT, SECTION_COUNT } from "./fields";
import * as F from "./fields";
import { CAP_COUNT, CAP_OPTIONAL } from "./capabilities";
import * as C from "./capabilities";
import { OK, ERR_TABLE, fail } from "../status";
import { fitsIn } from "../util/bounds";

/** The largest struct size or offset a table may hold (64 MiB). */
export const MAX_STRUCT_SIZE: i32 = 64 << 20;

export class VersionTable {
  offsets: StaticArray<i32> = new StaticArray<i32>(FIELD_COUNT);
  caps: StaticArray<i32> = new StaticArray<i32>(CAP_COUNT);
  capSet: StaticArray<bool> = new StaticArray<bool>(CAP_COUNT);
  constructor(public minHex: u32, public maxHex: u32, public plugin: bool) {
    for (let i = 0; i < FIELD_COUNT; i++) this.offsets[i] = ABSENT;
  }
  @inline has(f: i32): bool { return this.offsets[f] != ABSENT; }
}

const tables = new Array<VersionTable>();

// Validation problems, reported as lastErrorDetail() = problem * 1000 + (field id or 900 + cap id).
export const PROBLEM_MISSING: i32 = 1;
export const PROBLEM_PAST_SIZE: i32 = 2;
export const PROBLEM_BAD_VALUE: i32 = 3;
export const PROBLEM_MISSING_CAP: i32 = 4;
export const PROBLEM_NO_SIZE: i32 = 5;

export function tableCount(): i32 { return tables.length; }
export function tableAt(i: i32): VersionTable { return tables[i]; }

/** Starts a table for versions [minHex, maxHex] (PY_VERSION_HEX form). Returns its id. */
export function tableNew(minHex: u32, maxHex: u32, plugin: bool): i32 {
  tables.push(new VersionTable(minHex, maxHex, plugin));
  return tables.length - 1;
}

export function tableSetField(id: i32, field: i32, value: i32): i32 {
  if (id < 0 || id >= tables.length || field < 0 || field >= FIELD_COUNT) return fail(ERR_TABLE, 0);
  if (value < 0) return fail(ERR_TABLE, PROBLEM_BAD_VALUE * 1000 + field);
  tables[id].offsets[field] = value;
  return OK;
}

export function tableSetCap(id: i32, cap: i32, value: i32): i32 {
  if (id < 0 || id >= tables.length || cap < 0 || cap >= CAP_COUNT) return fail(ERR_TABLE, 0);
  tables[id].caps[cap] = value;
  tables[id].capSet[cap] = true;
  return OK;
}

export function tableField(id: i32, field: i32): i32 { return tables[id].offsets[field]; }
export function tableCap(id: i32, cap: i32): i32 { return tables[id].caps[cap]; }

/** The id of a section's `size` field: the first field of the section. */
function sizeFieldOf(section: i32): i32 {
  for (let f = 0; f < FIELD_COUNT; f++) if (<i32>FIELD_SECTIONS[f] == section) return f;
  return -1;
}

function need(t: VersionTable, f: i32): i32 {
  return t.has(f) ? OK : fail(ERR_TABLE, PROBLEM_MISSING * 1000 + f);
}

/** The fields a table with these capabilities must have. */
function requiredFields(t: VersionTable): StaticArray<i32> {
  const out = new Array<i32>();
  const base: StaticArray<i32> = [
    F.F_INTERP_SIZE, F.F_INTERP_NEXT, F.F_INTERP_THREADS_HEAD,
    F.F_TSTATE_SIZE, F.F_TSTATE_NEXT, F.F_TSTATE_INTERP, F.F_TSTATE_THREAD_ID,
    F.F_CODE_SIZE, F.F_CODE_FILENAME, F.F_CODE_NAME, F.F_CODE_LINETABLE, F.F_CODE_FIRSTLINENO,
    F.F_PYOBJECT_OB_TYPE,
  ];
  for (let i = 0; i < base.length; i++) out.push(base[i]);
  const fm = t.caps[C.CAP_FRAME_MODEL];
  if (fm == C.FRAME_MODEL_FRAME_OBJECT) {
    out.push(F.F_TSTATE_FRAME); out.push(F.F_FRAME_SIZE); out.push(F.F_FRAME_F_BACK);
    out.push(F.F_FRAME_F_CODE); out.push(F.F_FRAME_F_LASTI);
  } else {
    if (fm == C.FRAME_MODEL_CFRAME) { out.push(F.F_TSTATE_CFRAME); out.push(F.F_CFRAME_CURRENT_FRAME); }
    else out.push(F.F_TSTATE_CURRENT_FRAME);
    out.push(F.F_IFRAME_SIZE); out.push(F.F_IFRAME_PREVIOUS); out.push(F.F_IFRAME_EXECUTABLE);
    out.push(F.F_IFRAME_INSTR_PTR); out.push(F.F_IFRAME_OWNER); out.push(F.F_CODE_CO_CODE_ADAPTIVE);
    out.push(F.F_CODE_QUALNAME);
  }
  if (t.caps[C.CAP_STRING_MODEL] == C.STRING_MODEL_PYSTRING) {
    out.push(F.F_STRING_OB_SIZE); out.push(F.F_STRING_OB_SVAL);
  } else {
    out.push(F.F_UNICODE_STATE); out.push(F.F_UNICODE_LENGTH); out.push(F.F_UNICODE_ASCIIOBJECT_SIZE);
    out.push(F.F_UNICODE_COMPACTOBJECT_SIZE); out.push(F.F_UNICODE_DATA);
    out.push(F.F_BYTES_OB_SIZE); out.push(F.F_BYTES_OB_SVAL);
  }
  if (t.caps[C.CAP_RUNTIME_MODEL] == C.RUNTIME_MODEL_RUNTIME) {
    out.push(F.F_RUNTIME_SIZE); out.push(F.F_RUNTIME_INTERPRETERS_HEAD);
  }
  const gm = t.caps[C.CAP_GIL_MODEL];
  if (gm == C.GIL_MODEL_RUNTIME_TSTATE_CURRENT) out.push(F.F_RUNTIME_TSTATE_CURRENT);
  else if (gm == C.GIL_MODEL_INTERP_GIL) { out.push(F.F_INTERP_GIL_LOCKED); out.push(F.F_INTERP_GIL_HOLDER); }
  if (t.caps[C.CAP_THREAD_NATIVE_ID] == C.THREAD_NATIVE_ID_FIELD) out.push(F.F_TSTATE_NATIVE_THREAD_ID);
  if (t.caps[C.CAP_CHAIN_END] == C.CHAIN_END_BASE_FRAME) out.push(F.F_TSTATE_BASE_FRAME);
  if (t.caps[C.CAP_BYTECODE] == C.BYTECODE_THREAD_LOCAL) { out.push(F.F_IFRAME_TLBC_INDEX); out.push(F.F_CODE_CO_TLBC); }
  const res = new StaticArray<i32>(out.length);
  for (let i = 0; i < out.length; i++) res[i] = out[i];
  return res;
}

/**
 * Validates table id: capabilities set and in range, required fields present, every present
 * field plus its width inside its section's size. OK, or ERR_TABLE with the problem in the
 * last-error detail (problem * 1000 + field id, or + 900 + capability id).
 */
export function tableValidate(id: i32): i32 {
  if (id < 0 || id >= tables.length) return fail(ERR_TABLE, 0);
  const t = tables[id];
  for (let c = 0; c < CAP_COUNT; c++) {
    if (!t.capSet[c] && !CAP_OPTIONAL[c]) return fail(ERR_TABLE, PROBLEM_MISSING_CAP * 1000 + 900 + c);
    const v = t.caps[c];
    const max = C.CAP_NUMBER_MAX[c] > 0 ? C.CAP_NUMBER_MAX[c] : C.CAP_VALUES[c].split("|").length - 1;
    if (v < 0 || v > max) return fail(ERR_TABLE, PROBLEM_BAD_VALUE * 1000 + 900 + c);
  }
  const req = requiredFields(t);
  for (let i = 0; i < req.length; i++) {
    const st = need(t, req[i]);
    if (st != OK) return st;
  }
  for (let f = 0; f < FIELD_COUNT; f++) {
    if (!t.has(f)) continue;
    const section = <i32>FIELD_SECTIONS[f];
    const sizeField = sizeFieldOf(section);
    const width = <i32>FIELD_WIDTHS[f];
    if (f == sizeField || (width == 0 && FIELD_NAMES[f].endsWith("_size"))) {
      // a sizeof, not an offset. No CPython struct comes near MAX_STRUCT_SIZE (the largest,
      // 3.12's _PyRuntimeState, is 460 KB): a bigger size is a typo or garbage, and refusing it
      // keeps every offset + width below (so far from i32 overflow in the decoders)
      if (t.offsets[f] > MAX_STRUCT_SIZE) return fail(ERR_TABLE, PROBLEM_BAD_VALUE * 1000 + f);
      continue;
    }
    if (!t.has(sizeField)) {
      // a section used without its size cannot be bounds-checked
      return fail(ERR_TABLE, PROBLEM_NO_SIZE * 1000 + f);
    }
    // in 64 bits: an offset near 2^31 plus its width wraps an i32 and would pass (issue #10)
    if (!fitsIn(t.offsets[f], width, t.offsets[sizeField])) return fail(ERR_TABLE, PROBLEM_PAST_SIZE * 1000 + f);
  }
  return OK;
}

export function sectionCount(): i32 { return SECTION_COUNT; }
