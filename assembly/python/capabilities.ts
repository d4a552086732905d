// Named capabilities: the behaviours that differ between CPython versions, chosen once at attach
// from the version table. Decoders switch on these, never on version numbers.
// Must not know: version numbers (registry.ts maps versions to capabilities).
// Source of truth: docs/cpython-layouts.md §4 (frame models, line tables, strings).

export const CAP_FRAME_MODEL = 0;      // where a thread's innermost frame is and what frames are
export const CAP_LINE_TABLE = 1;       // how an instruction offset maps to a line
export const CAP_STRING_MODEL = 2;     // how names are stored
export const CAP_RUNTIME_MODEL = 3;    // how the interpreter list is found
export const CAP_GIL_MODEL = 4;        // how the GIL holder is found
export const CAP_FRAME_SKIP = 5;       // which interpreter frames are not Python code
export const CAP_POINTER_TAG_BITS = 6; // low bits masked off tagged pointers (a number)
export const CAP_THREAD_NATIVE_ID = 7; // how a thread's OS id is found
export const CAP_CHAIN_END = 8;        // what a complete frame chain ends at
export const CAP_DICT_MODEL = 9;       // dict layout (thread names, --locals)
export const CAP_MANAGED_DICT = 10;    // where an instance keeps its attributes without a dict pointer
export const CAP_LONG_MODEL = 11;      // how ints are stored
export const CAP_STRING_STATE = 12;    // where str's kind/compact/ascii bits are in its state word
export const CAP_BYTECODE = 13;        // whether a frame may execute a thread's own bytecode copy
export const CAP_TASK_REGISTRY = 14; // where asyncio's live tasks are listed (--async)
export const CAP_GEN_STATE = 15;     // how a coroutine's gi_frame_state is numbered
export const CAP_AWAITED_SLOT = 16;  // where a suspended coroutine keeps what it awaits
export const CAP_COUNT = 17;

export const CAP_NAMES: StaticArray<string> = [
  "frame_model", "line_table", "string_model", "runtime_model", "gil_model", "frame_skip",
  "pointer_tag_bits", "thread_native_id", "chain_end", "dict_model", "managed_dict", "long_model",
  "string_state", "bytecode", "task_registry", "gen_state", "awaited_slot",
];

// Whether a table may omit the capability (its value is then 0, the first named value).
export const CAP_OPTIONAL: StaticArray<bool> = [false, false, false, false, false, false, false, false, true, true, true, true, true, true, true, true, true];

// Named values, "|"-separated, in value order; "" means the capability is a number.
export const CAP_VALUES: StaticArray<string> = [
  "frame_object|cframe|current_frame",
  "lnotab_unsigned|lnotab|linetable_310|locations",
  "pystring|unicode",
  "interp_head|runtime",
  "thread_state_current|runtime_tstate_current|interp_gil|none",
  "none|owner",
  "",
  "pthread|field",
  "none|base_frame",
  "none|dict27|dict36|dict311",
  "none|pre_header_311|tagged_312|inline_313|inline_ft",
  "none|int27|ob_size|lv_tag",
  "packed|interned_byte",
  "shared|thread_local",
  "none|all_tasks_weakset|scheduled_weakset|thread_list",
  "none|state_311|state_313|state_315",
  "none|stacktop|stackpointer_1|stackpointer_2",
];
export const CAP_NUMBER_MAX: StaticArray<i32> = [0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

export const FRAME_MODEL_FRAME_OBJECT = 0;  // ≤3.10: PyFrameObject chain via f_back
export const FRAME_MODEL_CFRAME = 1;        // 3.11–3.12: tstate->cframe->current_frame
export const FRAME_MODEL_CURRENT_FRAME = 2; // 3.13+: tstate->current_frame

export const STRING_MODEL_PYSTRING = 0;     // 2.7 PyStringObject
export const STRING_MODEL_UNICODE = 1;      // 3.3+ PEP 393

export const RUNTIME_MODEL_INTERP_HEAD = 0; // ≤3.6: the interp_head static
export const RUNTIME_MODEL_RUNTIME = 1;     // 3.7+: _PyRuntime.interpreters.head

export const GIL_MODEL_THREAD_STATE_CURRENT = 0; // ≤3.6: _PyThreadState_Current
export const GIL_MODEL_RUNTIME_TSTATE_CURRENT = 1; // 3.7–3.11: _PyRuntime.gilstate.tstate_current
export const GIL_MODEL_INTERP_GIL = 2;           // 3.12+: interp->_gil.locked / last_holder
export const GIL_MODEL_NONE = 3;                 // free-threaded builds: no GIL to report

export const FRAME_SKIP_NONE = 0;
export const FRAME_SKIP_OWNER = 1;          // owner >= 3: entry / shim frames (3.12+)

export const THREAD_NATIVE_ID_PTHREAD = 0;  // glibc struct pthread's tid at thread_id + 720
export const THREAD_NATIVE_ID_FIELD = 1;    // tstate->native_thread_id (3.11+)

export const CHAIN_END_NONE = 0;
export const CHAIN_END_BASE_FRAME = 1;      // 3.15: the chain ends at tstate->base_frame

export const DICT_MODEL_NONE = 0;
export const DICT_MODEL_27 = 1;             // PyDictObject with ma_mask / ma_table of {hash, key, value}
export const DICT_MODEL_36 = 2;             // compact dict: dk_size, index array, entries (3.6–3.10)
export const DICT_MODEL_311 = 3;            // compact dict: dk_log2_size, dk_kind (3.11+)

export const MANAGED_DICT_NONE = 0;         // the dict pointer is at tp_dictoffset
export const MANAGED_DICT_PRE_HEADER_311 = 1; // dict at obj-24, values at obj-32 (3.11)
export const MANAGED_DICT_TAGGED_312 = 2;   // obj-24 holds a dict, or values - 1 (odd: values = word + 1) (3.12)
export const MANAGED_DICT_INLINE_313 = 3;   // values inline at obj + tp_basicsize, dict at obj-24 (3.13+)
export const MANAGED_DICT_INLINE_FT = 4;    // the same, dict at obj-8 (free-threaded 3.13+: no GC pre-header)

export const LONG_MODEL_NONE = 0;
export const LONG_MODEL_INT27 = 1;          // 2.7 PyIntObject (ob_ival), PyLong for big values
export const LONG_MODEL_OB_SIZE = 2;        // signed digit count in ob_size (3.x ≤3.11)
export const LONG_MODEL_LV_TAG = 3;         // lv_tag: count << 3 | sign (3.12+)

export const STRING_STATE_PACKED = 0;        // interned:2, kind:3 (bits 2–4), compact (5), ascii (6)
export const STRING_STATE_INTERNED_BYTE = 1; // free-threaded 3.14+: interned is a byte; kind bits 8–10, compact 11, ascii 12

export const BYTECODE_SHARED = 0;           // instr_ptr points into co_code_adaptive
export const BYTECODE_THREAD_LOCAL = 1;     // free-threaded 3.14+: into co_tlbc->entries[frame->tlbc_index]

export const TASK_REGISTRY_NONE = 0;           // no asyncio task graph (before 3.11, free-threaded builds)
export const TASK_REGISTRY_ALL_TASKS = 1;      // 3.11: _asyncio._all_tasks, a WeakSet
export const TASK_REGISTRY_SCHEDULED = 2;      // 3.12–3.13: _asyncio._scheduled_tasks (WeakSet) + _eager_tasks (set)
export const TASK_REGISTRY_THREAD_LIST = 3;    // 3.14+: a circular list per thread state, and one per interpreter

export const GEN_STATE_NONE = 0;
export const GEN_STATE_311 = 1;  // CREATED -2, SUSPENDED -1, EXECUTING 0, COMPLETED 1, CLEARED 4 (no yield-from state)
export const GEN_STATE_313 = 2;  // CREATED -3, SUSPENDED -2, SUSPENDED_YIELD_FROM -1, EXECUTING 0, COMPLETED 1, CLEARED 4
export const GEN_STATE_315 = 3;  // CREATED 0, SUSPENDED 1, SUSPENDED_YIELD_FROM 2, ..._LOCKED 3, EXECUTING 4, CLEARED 5

export const AWAITED_SLOT_NONE = 0;
export const AWAITED_SLOT_STACKTOP = 1;        // ≤3.13: localsplus[stacktop - 1]
export const AWAITED_SLOT_STACKPOINTER_1 = 2;  // 3.14: stackpointer[-1]
export const AWAITED_SLOT_STACKPOINTER_2 = 3;  // 3.15: stackpointer[-2] (stackpointer[-1] holds PyStackRef_NULL)
