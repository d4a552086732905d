// The host's side of the host–core contract, built at load from the description the core exports
// (assembly/contract.ts through assembly/index.ts): the result record's field offsets (R_*, in
// i32 units) and stride, the status codes (ST_*) and names, the read statuses a Reader returns,
// the ELF symbol ids and the detail codes the host words. Nothing here is a literal copy of the
// core's numbers: the host knows only their names, and a name the core does not declare stops
// the load with an internal error.
// Why at load and not generated at build time: the host then always matches the core it actually
// loaded (WSPY_CORE_WASM may name another build), with no generated file to fall out of date.
// The values are ES live bindings, filled in by the first Core (host/core/core.ts) before any use.
// Must not know: CPython layouts, errno values (host/target/errno.ts).
// Source of truth: assembly/contract.ts; test/contract.test.mjs checks both sides and real records.

/** What the core exports to describe the contract (a subset of CoreExports). */
export interface ContractExports {
  __getString(ptr: number): string;
  contractStatusCount(): number;
  contractStatusName(i: number): number;
  contractStatusKey(i: number): number;
  contractResultFieldCount(): number;
  contractResultFieldName(i: number): number;
  contractResultFieldOffset(i: number): number;
  contractResultFieldWidth(i: number): number;
  contractResultSize(): number;
  contractReadStatusCount(): number;
  contractReadStatusName(i: number): number;
  contractReadStatusValue(i: number): number;
  contractDetailCount(): number;
  contractDetailName(i: number): number;
  contractDetailValue(i: number): number;
  contractSymbolCount(): number;
  contractSymbolName(i: number): number;
  contractTaskFieldCount(): number;
  contractTaskFieldName(i: number): number;
  contractTaskFieldOffset(i: number): number;
  contractTaskRecordSize(): number;
}

// ---- the result record (walkResultsPtr), i32 indices into one record ----
export let R_TID = -1, R_THREAD = -1, R_NODE = -1, R_STATUS = -1, R_GIL = -1, R_DEPTH = -1, R_KEEP = -1, R_FIRST_KEPT = -1;
/** i32s per record */
export let R_STRIDE = -1;

// ---- the task record (--async: tasksRecordsPtr), i32 indices into one record ----
export let TK_ADDR_LO = -1, TK_ADDR_HI = -1, TK_NAME = -1, TK_STATE = -1, TK_FRAME_FIRST = -1, TK_FRAME_COUNT = -1,
  TK_AWAITER_FIRST = -1, TK_AWAITER_COUNT = -1, TK_FRAME_ADDR_LO = -1, TK_FRAME_ADDR_HI = -1, TK_RUNNING = -1, TK_STATUS = -1;
/** i32s per task record */
export let TK_STRIDE = -1;

// ---- status codes (assembly/contract.ts), by value ----
export const STATUS_NAMES: string[] = [];
export let ST_OK = -1, ST_READ = -1, ST_GONE = -1, ST_PERM = -1, ST_CHAIN = -1, ST_LIMIT = -1, ST_NO_RUNTIME = -1,
  ST_VERSION = -1, ST_TABLE = -1, ST_ELF = -1, ST_NOT_CODE = -1, ST_FREE_THREADED = -1, ST_NO_MEMORY = -1, ST_TORN = -1;

// ---- read statuses: a Reader's readv returns bytes read or minus one of these ----
export let READ_FAULT = -1, READ_GONE = -1, READ_PERM = -1;

// ---- detail codes (lastErrorDetail) the host words: a core file's head ----
export let DETAIL_READ_SHORT = -1, DETAIL_CORE_SHORT = -1, DETAIL_CORE_NOT_ELF = -1, DETAIL_CORE_NOT_ELF64LE = -1,
  DETAIL_CORE_NOT_CORE = -1, DETAIL_CORE_OTHER_ARCH = -1, DETAIL_CORE_BAD_HEADERS = -1, DETAIL_CORE_TRUNCATED = -1,
  DETAIL_CORE_NO_LOAD = -1, DETAIL_CORE_NEED_MORE = -1, DETAIL_TASKS_NO_LAYOUT = -1, DETAIL_TASKS_NOT_IMPORTED = -1;

// ---- ELF symbol ids (assembly/locate/elf.ts): SYM_NAMES[id] ----
export const SYM_NAMES: string[] = [];
export let SYM_COUNT = 0;
export let SYM_PY_RUNTIME = -1, SYM_PY_VERSION = -1, SYM_INTERP_HEAD = -1, SYM_THREADSTATE_CURRENT = -1,
  SYM_PYCODE_TYPE = -1, SYM_VERSION_BUFFER = -1, SYM_UNICODE_TYPE = -1, SYM_STRING_TYPE = -1, SYM_BYTES_TYPE = -1;

let loaded = false;
/** Has a core described the contract yet? */
export function contractLoaded(): boolean { return loaded; }

/** An internal error: the core and the host disagree (a wspy build problem, not the user's). */
function mismatch(what: string): Error {
  return new Error(`wspy's core does not declare ${what}: the host and the core come from different builds`);
}

/** Fills every binding above from core x's description. Idempotent; throws on a name the core lacks. */
export function loadContract(x: ContractExports): void {
  if (loaded) return;
  const str = (p: number): string => x.__getString(p);

  const fields = new Map<string, { offset: number; width: number }>();
  for (let i = 0, n = x.contractResultFieldCount(); i < n; i++) {
    fields.set(str(x.contractResultFieldName(i)), { offset: x.contractResultFieldOffset(i), width: x.contractResultFieldWidth(i) });
  }
  const field = (name: string): number => {
    const f = fields.get(name);
    // the host reads every field as one i32 of an Int32Array
    if (!f || f.width !== 4 || f.offset % 4 !== 0) throw mismatch(`the result record field ${name} as an aligned i32`);
    return f.offset >> 2;
  };
  const size = x.contractResultSize();
  if (size <= 0 || size % 4 !== 0) throw mismatch("a result record size in whole i32s");

  const keys = new Map<string, number>();
  const names: string[] = [];
  for (let i = 0, n = x.contractStatusCount(); i < n; i++) {
    keys.set(str(x.contractStatusKey(i)), i);
    names.push(str(x.contractStatusName(i)));
  }
  const status = (key: string): number => {
    const v = keys.get(key);
    if (v === undefined) throw mismatch(`the status ${key}`);
    return v;
  };

  const reads = new Map<string, number>();
  for (let i = 0, n = x.contractReadStatusCount(); i < n; i++) reads.set(str(x.contractReadStatusName(i)), x.contractReadStatusValue(i));
  const readStatus = (name: string): number => {
    const v = reads.get(name);
    if (v === undefined || v <= 0) throw mismatch(`the read status ${name}`);
    return v;
  };

  const syms: string[] = [];
  for (let i = 0, n = x.contractSymbolCount(); i < n; i++) syms.push(str(x.contractSymbolName(i)));
  const sym = (name: string): number => {
    const i = syms.indexOf(name);
    if (i < 0) throw mismatch(`the symbol ${name}`);
    return i;
  };

  R_TID = field("tid"); R_THREAD = field("thread"); R_NODE = field("node"); R_STATUS = field("status");
  R_GIL = field("gil"); R_DEPTH = field("depth"); R_KEEP = field("keep"); R_FIRST_KEPT = field("first_kept");
  R_STRIDE = size >> 2;

  const taskFields = new Map<string, number>();
  for (let i = 0, n = x.contractTaskFieldCount(); i < n; i++) taskFields.set(str(x.contractTaskFieldName(i)), x.contractTaskFieldOffset(i));
  const taskField = (name: string): number => {
    const off = taskFields.get(name);
    if (off === undefined || off % 4 !== 0) throw mismatch(`the task record field ${name} as an aligned i32`);
    return off >> 2;
  };
  TK_ADDR_LO = taskField("addr_lo"); TK_ADDR_HI = taskField("addr_hi"); TK_NAME = taskField("name"); TK_STATE = taskField("state");
  TK_FRAME_FIRST = taskField("frame_first"); TK_FRAME_COUNT = taskField("frame_count");
  TK_AWAITER_FIRST = taskField("awaiter_first"); TK_AWAITER_COUNT = taskField("awaiter_count");
  TK_FRAME_ADDR_LO = taskField("frame_addr_lo"); TK_FRAME_ADDR_HI = taskField("frame_addr_hi");
  TK_RUNNING = taskField("running"); TK_STATUS = taskField("status");
  const taskSize = x.contractTaskRecordSize();
  if (taskSize <= 0 || taskSize % 4 !== 0) throw mismatch("a task record size in whole i32s");
  TK_STRIDE = taskSize >> 2;

  STATUS_NAMES.length = 0;
  STATUS_NAMES.push(...names);
  ST_OK = status("ok"); ST_READ = status("read"); ST_GONE = status("gone"); ST_PERM = status("perm");
  ST_CHAIN = status("chain"); ST_LIMIT = status("limit"); ST_NO_RUNTIME = status("no_runtime");
  ST_VERSION = status("version"); ST_TABLE = status("table"); ST_ELF = status("elf"); ST_NOT_CODE = status("not_code");
  ST_FREE_THREADED = status("free_threaded"); ST_NO_MEMORY = status("no_memory"); ST_TORN = status("torn");

  READ_FAULT = readStatus("fault"); READ_GONE = readStatus("gone"); READ_PERM = readStatus("perm");

  SYM_NAMES.length = 0;
  SYM_NAMES.push(...syms);
  SYM_COUNT = syms.length;
  SYM_PY_RUNTIME = sym("_PyRuntime"); SYM_PY_VERSION = sym("Py_Version"); SYM_INTERP_HEAD = sym("interp_head");
  SYM_THREADSTATE_CURRENT = sym("_PyThreadState_Current"); SYM_PYCODE_TYPE = sym("PyCode_Type");
  SYM_VERSION_BUFFER = sym("version"); SYM_UNICODE_TYPE = sym("PyUnicode_Type"); SYM_STRING_TYPE = sym("PyString_Type");
  SYM_BYTES_TYPE = sym("PyBytes_Type");

  const details = new Map<string, number>();
  for (let i = 0; i < x.contractDetailCount(); i++) details.set(x.__getString(x.contractDetailName(i)), x.contractDetailValue(i));
  const detail = (name: string): number => {
    const v = details.get(name);
    if (v === undefined) throw mismatch(`the detail code ${name}`);
    return v;
  };
  DETAIL_READ_SHORT = detail("read_short"); DETAIL_CORE_SHORT = detail("core_short"); DETAIL_CORE_NOT_ELF = detail("core_not_elf");
  DETAIL_CORE_NOT_ELF64LE = detail("core_not_elf64le"); DETAIL_CORE_NOT_CORE = detail("core_not_core");
  DETAIL_CORE_OTHER_ARCH = detail("core_other_arch"); DETAIL_CORE_BAD_HEADERS = detail("core_bad_headers");
  DETAIL_CORE_TRUNCATED = detail("core_truncated"); DETAIL_CORE_NO_LOAD = detail("core_no_load");
  DETAIL_CORE_NEED_MORE = detail("core_need_more");
  DETAIL_TASKS_NO_LAYOUT = detail("tasks_no_layout"); DETAIL_TASKS_NOT_IMPORTED = detail("tasks_not_imported");
  loaded = true;
}

/** Everything above as one object (tests, debugging). */
export function describeContract(): Record<string, unknown> {
  return {
    task: {
      addr_lo: TK_ADDR_LO, addr_hi: TK_ADDR_HI, name: TK_NAME, state: TK_STATE, frame_first: TK_FRAME_FIRST, frame_count: TK_FRAME_COUNT,
      awaiter_first: TK_AWAITER_FIRST, awaiter_count: TK_AWAITER_COUNT, frame_addr_lo: TK_FRAME_ADDR_LO, frame_addr_hi: TK_FRAME_ADDR_HI,
      running: TK_RUNNING, status: TK_STATUS, stride: TK_STRIDE,
    },
    result: { tid: R_TID, thread: R_THREAD, node: R_NODE, status: R_STATUS, gil: R_GIL, depth: R_DEPTH, keep: R_KEEP, first_kept: R_FIRST_KEPT, stride: R_STRIDE },
    status: {
      names: STATUS_NAMES.slice(),
      ok: ST_OK, read: ST_READ, gone: ST_GONE, perm: ST_PERM, chain: ST_CHAIN, limit: ST_LIMIT, no_runtime: ST_NO_RUNTIME,
      version: ST_VERSION, table: ST_TABLE, elf: ST_ELF, not_code: ST_NOT_CODE, free_threaded: ST_FREE_THREADED,
      no_memory: ST_NO_MEMORY, torn: ST_TORN,
    },
    read: { fault: READ_FAULT, gone: READ_GONE, perm: READ_PERM },
    symbols: SYM_NAMES.slice(),
    detail: {
      read_short: DETAIL_READ_SHORT, core_short: DETAIL_CORE_SHORT, core_not_elf: DETAIL_CORE_NOT_ELF,
      core_not_elf64le: DETAIL_CORE_NOT_ELF64LE, core_not_core: DETAIL_CORE_NOT_CORE, core_other_arch: DETAIL_CORE_OTHER_ARCH,
      core_bad_headers: DETAIL_CORE_BAD_HEADERS, core_truncated: DETAIL_CORE_TRUNCATED, core_no_load: DETAIL_CORE_NO_LOAD,
      core_need_more: DETAIL_CORE_NEED_MORE, tasks_no_layout: DETAIL_TASKS_NO_LAYOUT, tasks_not_imported: DETAIL_TASKS_NOT_IMPORTED,
    },
  };
}
