// The offsets record: every field wspy reads from a CPython struct, named like CPython's
// `_Py_DebugOffsets` (section.field), with the width of the value it locates.
// Must not know: any version number. Which fields a version needs follows from its
// capabilities (capabilities.ts); where the numbers come from is registry.ts's business.
// Source of truth: CPython Include/internal/pycore_debug_offsets.h (3.14+) and
// pycore_runtime.h (3.13); fields that predate the debug offsets keep CPython's struct
// member names (Include/cpython/pystate.h, frameobject.h, code.h of each version).

// A field: its name, the section whose `size` bounds it, and the width of what it locates.
// Width 0 means "a size" (the section's sizeof) or an embedded struct (no read of its own).

export const SECTION_COUNT = 28;
export const SECTION_NAMES: StaticArray<string> = [
  "runtime_state", "interpreter_state", "thread_state", "cframe", "interpreter_frame",
  "frame_object", "code_object", "pyobject", "type_object", "unicode_object",
  "bytes_object", "string_object", "stack_chunk",
  "heap_type_object", "dict_object", "dict_keys", "dict_values", "long_object", "int_object", "tuple_object", "list_object", "float_object", "set_object",
  "task_object", "gen_object", "weakref_object", "method_object", "cfunction_object",
];

// Field ids. The order is the record's layout; names below must follow it.
export const F_RUNTIME_SIZE = 0;
export const F_RUNTIME_INTERPRETERS_HEAD = 1;
export const F_RUNTIME_TSTATE_CURRENT = 2;     // gilstate.tstate_current (3.7–3.11)
export const F_INTERP_SIZE = 3;
export const F_INTERP_ID = 4;
export const F_INTERP_NEXT = 5;
export const F_INTERP_THREADS_HEAD = 6;
export const F_INTERP_THREADS_MAIN = 7;
export const F_INTERP_GIL_LOCKED = 8;           // gil_runtime_state_locked (3.12+)
export const F_INTERP_GIL_HOLDER = 9;           // gil_runtime_state_holder (3.12+)
export const F_TSTATE_SIZE = 10;
export const F_TSTATE_NEXT = 11;
export const F_TSTATE_INTERP = 12;
export const F_TSTATE_FRAME = 13;               // PyFrameObject *frame (≤3.10)
export const F_TSTATE_CFRAME = 14;              // _PyCFrame *cframe (3.11–3.12)
export const F_TSTATE_CURRENT_FRAME = 15;       // _PyInterpreterFrame *current_frame (3.13+)
export const F_TSTATE_BASE_FRAME = 16;          // sentinel the chain ends at (3.15+)
export const F_TSTATE_THREAD_ID = 17;
export const F_TSTATE_NATIVE_THREAD_ID = 18;    // 3.11+
export const F_TSTATE_DATASTACK_CHUNK = 19;     // 3.11+
export const F_TSTATE_HOLDS_GIL = 20;           // 3.14+
export const F_CFRAME_SIZE = 21;
export const F_CFRAME_CURRENT_FRAME = 22;       // _PyCFrame.current_frame (3.11–3.12)
export const F_IFRAME_SIZE = 23;
export const F_IFRAME_PREVIOUS = 24;
export const F_IFRAME_EXECUTABLE = 25;          // f_code (3.11–3.12) / f_executable (3.13+)
export const F_IFRAME_INSTR_PTR = 26;           // prev_instr (3.11–3.12) / instr_ptr (3.13+)
export const F_IFRAME_OWNER = 27;
export const F_IFRAME_LOCALSPLUS = 28;
export const F_FRAME_SIZE = 29;
export const F_FRAME_F_BACK = 30;
export const F_FRAME_F_CODE = 31;
export const F_FRAME_F_LASTI = 32;
export const F_FRAME_F_LOCALSPLUS = 33;
export const F_CODE_SIZE = 34;
export const F_CODE_FILENAME = 35;
export const F_CODE_NAME = 36;
export const F_CODE_QUALNAME = 37;              // 3.11+
export const F_CODE_LINETABLE = 38;             // co_lnotab (≤3.9) / co_linetable (3.10+)
export const F_CODE_FIRSTLINENO = 39;
export const F_CODE_CO_CODE_ADAPTIVE = 40;      // 3.11+: inline code units
export const F_CODE_ARGCOUNT = 41;
export const F_CODE_VARNAMES = 42;              // co_varnames (≤3.10) / co_localsplusnames (3.11+)
export const F_PYOBJECT_SIZE = 43;
export const F_PYOBJECT_OB_TYPE = 44;
export const F_TYPE_SIZE = 45;
export const F_TYPE_TP_NAME = 46;
export const F_TYPE_TP_FLAGS = 47;
export const F_UNICODE_SIZE = 48;
export const F_UNICODE_STATE = 49;
export const F_UNICODE_LENGTH = 50;
export const F_UNICODE_ASCIIOBJECT_SIZE = 51;
export const F_UNICODE_COMPACTOBJECT_SIZE = 52;
export const F_UNICODE_DATA = 53;               // PyUnicodeObject.data (legacy, non-compact); 2.7: PyUnicodeObject.str
export const F_BYTES_SIZE = 54;
export const F_BYTES_OB_SIZE = 55;
export const F_BYTES_OB_SVAL = 56;
export const F_STRING_SIZE = 57;                // 2.7 PyStringObject
export const F_STRING_OB_SIZE = 58;
export const F_STRING_OB_SVAL = 59;
export const F_CHUNK_SIZE = 60;                 // _PyStackChunk
export const F_CHUNK_PREVIOUS = 61;
export const F_CHUNK_CHUNK_SIZE = 62;
export const F_CHUNK_TOP = 63;
export const F_CHUNK_DATA = 64;

// Used by thread names and --locals (optional: a table without them still samples stacks)
export const F_INTERP_IMPORTS_MODULES = 65; // modules (≤3.11) / imports.modules (3.12+)
export const F_TYPE_TP_BASICSIZE = 66;
export const F_TYPE_TP_DICTOFFSET = 67;
export const F_CODE_LOCALSPLUSKINDS = 68; // 3.11+
export const F_HEAPTYPE_SIZE = 69;
export const F_HEAPTYPE_HT_CACHED_KEYS = 70;
export const F_DICT_SIZE = 71;
export const F_DICT_MA_USED = 72;
export const F_DICT_MA_KEYS = 73; // 3.x
export const F_DICT_MA_VALUES = 74; // 3.x
export const F_DICT_MA_MASK = 75; // 2.7
export const F_DICT_MA_TABLE = 76; // 2.7
export const F_DICTKEYS_SIZE = 77;
export const F_DICTKEYS_DK_SIZE = 78; // 3.6–3.10
export const F_DICTKEYS_DK_LOG2_SIZE = 79; // 3.11+
export const F_DICTKEYS_DK_LOG2_INDEX_BYTES = 80; // 3.11+
export const F_DICTKEYS_DK_KIND = 81; // 3.11+
export const F_DICTKEYS_DK_NENTRIES = 82;
export const F_DICTKEYS_DK_INDICES = 83; // start of the index array
export const F_DICTVALUES_SIZE = 84;
export const F_DICTVALUES_VALUES = 85; // start of the values array
export const F_LONG_SIZE = 86;
export const F_LONG_OB_SIZE = 87; // ≤3.11: signed digit count
export const F_LONG_LV_TAG = 88; // 3.12+
export const F_LONG_OB_DIGIT = 89; // start of the 30-bit digits
export const F_INT_SIZE = 90; // 2.7 PyIntObject
export const F_INT_OB_IVAL = 91;
export const F_TUPLE_SIZE = 92;
export const F_TUPLE_OB_SIZE = 93;
export const F_TUPLE_OB_ITEM = 94; // start of the items
export const F_LIST_SIZE = 95;
export const F_LIST_OB_SIZE = 96;
export const F_LIST_OB_ITEM = 97; // pointer to the items
export const F_FLOAT_SIZE = 98;
export const F_FLOAT_OB_FVAL = 99;
export const F_SET_SIZE = 100;
export const F_SET_USED = 101;
export const F_CODE_FLAGS = 102; // co_flags: a generator frame never ends a thread's stack
// --locals: which locals are arguments, ≤3.10 cell and free variables, set contents, 2.7 unicode
export const F_CODE_KWONLYARGCOUNT = 103; // 3.0+
export const F_CODE_NLOCALS = 104; // ≤3.10: f_localsplus holds nlocals, then cells, then frees
export const F_CODE_CELLVARS = 105; // ≤3.10
export const F_CODE_FREEVARS = 106; // ≤3.10
export const F_SET_MASK = 107;
export const F_SET_TABLE = 108;
export const F_SET_ENTRY_KEY = 109; // offsetof(setentry, key): 8 in 2.7 ({hash, key}), 0 in 3.x
export const F_UNICODE_PY_UNICODE_SIZE = 110; // 2.7: sizeof(Py_UNICODE), 2 or 4 by build
// free-threaded 3.14+: a thread may execute its own copy of a code object's bytecode
export const F_IFRAME_TLBC_INDEX = 111; // i32: which copy in co_tlbc (0: co_code_adaptive itself)
export const F_CODE_CO_TLBC = 112;      // _PyCodeArray *: {Py_ssize_t size; char *entries[]}
// asyncio (--async): _asyncio's TaskObj (named like 3.14's _Py_AsyncioModuleDebugOffsets, plus
// the Future fields it lacks), coroutines, and what registers tasks before 3.14
export const F_TASK_SIZE = 113;              // sizeof(TaskObj)
export const F_TASK_NAME = 114;              // task_name: a str, or from 3.12 an int n meaning "Task-n"
export const F_TASK_AWAITED_BY = 115;        // 3.14+: one awaiting task, or a set of them
export const F_TASK_IS_TASK = 116;           // 3.14+: char
export const F_TASK_AWAITED_BY_IS_SET = 117; // 3.14+: char
export const F_TASK_CORO = 118;
export const F_TASK_NODE = 119;              // 3.14+: struct llist_node {next, prev} on the thread's list
export const F_TASK_FUT_WAITER = 120;        // the future (or task) the task's await chain ends in
export const F_TASK_FUT_STATE = 121;         // int: PENDING 0, CANCELLED 1, FINISHED 2
export const F_TASK_FUT_CALLBACK0 = 122;     // ≤3.13: the first awaiter's bound task_wakeup
export const F_TASK_FUT_CALLBACKS = 123;     // a list of (callback, context) tuples
export const F_GEN_SIZE = 124;               // the part of a coroutine read: up to the end of its frame
export const F_GEN_FRAME_STATE = 125;        // int8 gi_frame_state (numbering: capability gen_state)
export const F_GEN_IFRAME = 126;             // the embedded _PyInterpreterFrame
export const F_IFRAME_STACKTOP = 127;        // ≤3.13: int stacktop (slots above localsplus)
export const F_IFRAME_STACKPOINTER = 128;    // 3.14+: _PyStackRef *stackpointer
export const F_TSTATE_ASYNCIO_RUNNING_TASK = 129; // 3.14+
export const F_TSTATE_ASYNCIO_TASKS_HEAD = 130;   // 3.14+: the list head (its next pointer)
export const F_INTERP_ASYNCIO_TASKS_HEAD = 131;   // 3.14+: tasks of threads that exited
export const F_WEAKREF_SIZE = 132;
export const F_WEAKREF_WR_OBJECT = 133;      // ≤3.13: a WeakSet's members are weakrefs to tasks
export const F_METHOD_SIZE = 134;
export const F_METHOD_IM_SELF = 135;         // PyMethodObject (a bound Python method)
export const F_CFUNCTION_SIZE = 136;
export const F_CFUNCTION_M_SELF = 137;       // PyCFunctionObject (a bound C method: task_wakeup)
export const F_IFRAME_IS_ENTRY = 138;        // 3.11: bool, the frame its eval loop was entered with
export const FIELD_COUNT = 139;

// name, section index, width in bytes (0: a size or an embedded struct)
export const FIELD_NAMES: StaticArray<string> = [
  "size", "interpreters_head", "tstate_current",
  "size", "id", "next", "threads_head", "threads_main", "gil_runtime_state_locked", "gil_runtime_state_holder",
  "size", "next", "interp", "frame", "cframe", "current_frame", "base_frame", "thread_id",
  "native_thread_id", "datastack_chunk", "holds_gil",
  "size", "current_frame",
  "size", "previous", "executable", "instr_ptr", "owner", "localsplus",
  "size", "f_back", "f_code", "f_lasti", "f_localsplus",
  "size", "filename", "name", "qualname", "linetable", "firstlineno", "co_code_adaptive", "argcount", "varnames",
  "size", "ob_type",
  "size", "tp_name", "tp_flags",
  "size", "state", "length", "asciiobject_size", "compactunicodeobject_size", "data",
  "size", "ob_size", "ob_sval",
  "size", "ob_size", "ob_sval",
  "size", "previous", "chunk_size", "top", "data",
  "imports_modules", "tp_basicsize", "tp_dictoffset", "localspluskinds", "size", "ht_cached_keys", "size", "ma_used", "ma_keys", "ma_values", "ma_mask", "ma_table", "size", "dk_size", "dk_log2_size", "dk_log2_index_bytes", "dk_kind", "dk_nentries", "dk_indices", "size", "values", "size", "ob_size", "lv_tag", "ob_digit", "size", "ob_ival", "size", "ob_size", "ob_item", "size", "ob_size", "ob_item", "size", "ob_fval", "size", "used",
  "flags",
  "kwonlyargcount", "nlocals", "cellvars", "freevars", "mask", "table", "entry_key", "py_unicode_size",
  "tlbc_index", "co_tlbc",
  "size", "task_name", "task_awaited_by", "task_is_task", "task_awaited_by_is_set", "task_coro", "task_node",
  "task_fut_waiter", "fut_state", "fut_callback0", "fut_callbacks",
  "size", "gi_frame_state", "gi_iframe", "stacktop", "stackpointer",
  "asyncio_running_task", "asyncio_tasks_head", "asyncio_tasks_head",
  "size", "wr_object", "size", "im_self", "size", "m_self",
  "is_entry",
];

export const FIELD_SECTIONS: StaticArray<u8> = [
  0, 0, 0,
  1, 1, 1, 1, 1, 1, 1,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  3, 3,
  4, 4, 4, 4, 4, 4,
  5, 5, 5, 5, 5,
  6, 6, 6, 6, 6, 6, 6, 6, 6,
  7, 7,
  8, 8, 8,
  9, 9, 9, 9, 9, 9,
  10, 10, 10,
  11, 11, 11,
  12, 12, 12, 12, 12,
  1, 8, 8, 6, 13, 13, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 16, 16, 17, 17, 17, 17, 18, 18, 19, 19, 19, 20, 20, 20, 21, 21, 22, 22,
  6,
  6, 6, 6, 6, 22, 22, 22, 9,
  4, 6,
  23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23,
  24, 24, 24, 4, 4,
  2, 2, 1,
  25, 25, 26, 26, 27, 27,
  4,
];

// Width of the value each field locates. 0: a size or an offset used as a base (no read).
export const FIELD_WIDTHS: StaticArray<u8> = [
  0, 8, 8,
  0, 8, 8, 8, 8, 4, 8,
  0, 8, 8, 8, 8, 8, 8, 8, 4, 8, 4,
  0, 8,
  0, 8, 8, 8, 1, 0,
  0, 8, 8, 4, 0,
  0, 8, 8, 8, 8, 4, 0, 4, 8,
  0, 8,
  0, 8, 8,
  0, 4, 8, 0, 0, 8,
  0, 8, 0,
  0, 8, 0,
  0, 8, 8, 8, 0,
  8, 8, 8, 8, 0, 8, 0, 8, 8, 8, 8, 8, 0, 8, 1, 1, 1, 8, 0, 0, 0, 0, 8, 8, 0, 0, 8, 0, 8, 0, 0, 8, 8, 0, 8, 0, 8,
  4,
  4, 4, 8, 8, 8, 8, 0, 0,
  4, 8,
  0, 8, 8, 1, 1, 8, 8, 8, 4, 8, 8,
  0, 1, 0, 4, 8,
  8, 8, 8,
  0, 8, 0, 8, 0, 8,
  1,
];

// The value a missing field holds in the record.
export const ABSENT: i32 = -1;
