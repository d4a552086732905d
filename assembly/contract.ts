// The host–core contract, declared once: the status codes and their names, the per-thread
// result record of a sample (field, byte offset, width), the read statuses the host's `read`
// import may return, and the detail codes the host words (a core file's head). The core writes
// and returns these constants; index.ts exports a description of them (contractStatus*,
// contractResult*, contractRead*, contractDetail*; symbol names come from locate/elf.ts), from
// which the host builds its own names at load (host/core/contract.ts), so the two sides cannot
// drift.
// Must not know: the host's messages or hints, errno values (the host maps errno to a read
// status, host/target/errno.ts), CPython layouts.
// Source of truth: this file; test/contract.test.mjs checks the host against it and real records.

// ---- status codes: what every core export returns ----
export const OK: i32 = 0;
export const ERR_READ: i32 = 1;        // a remote read failed or came back short (unmapped, torn)
export const ERR_GONE: i32 = 2;        // the target process no longer exists
export const ERR_PERM: i32 = 3;        // not allowed to read the target
export const ERR_CHAIN: i32 = 4;       // a pointer chain did not close: torn sample or wrong table
export const ERR_LIMIT: i32 = 5;       // a bound was hit (frames, threads, string bytes)
export const ERR_NO_RUNTIME: i32 = 6;  // no interpreter found in the ELF file or the target
export const ERR_VERSION: i32 = 7;     // the version could not be read or has no table
export const ERR_TABLE: i32 = 8;       // a version table is invalid (detail: field id)
export const ERR_ELF: i32 = 9;         // the ELF file is malformed
export const ERR_NOT_CODE: i32 = 10;   // a frame's code pointer is not a code object
export const ERR_FREE_THREADED: i32 = 11; // reserved: no longer returned (free-threaded builds are read since #15); kept so later codes keep their numbers
export const ERR_NO_MEMORY: i32 = 12;  // the core could not grow its memory
export const ERR_TORN: i32 = 13;       // a stack changed while it was read and a fresh walk did not prove it either
export const STATUS_COUNT: i32 = 14;

/** The status names the host prints (and the JSON of `dump` carries), by code. */
export const STATUS_NAMES: StaticArray<string> = [
  "ok", "read failed", "target gone", "permission denied", "torn stack", "limit hit", "no runtime",
  "version", "bad table", "bad ELF", "not a code object", "free-threaded build", "out of memory",
  "stack changed while read",
];
/** The constant names (ERR_ dropped, lower case) the host derives ST_* from. */
export const STATUS_KEYS: StaticArray<string> = [
  "ok", "read", "gone", "perm", "chain", "limit", "no_runtime", "version", "table", "elf", "not_code",
  "free_threaded", "no_memory", "torn",
];

// ---- read statuses: the host's `read` import returns bytes read (>= 0) or -(one of these) ----
/** Nothing at that address (unmapped, or beyond a file's contents): the entries count as failed. */
export const READ_FAULT: i32 = ERR_READ;
/** The target no longer exists. */
export const READ_GONE: i32 = ERR_GONE;
/** Not allowed to read the target. */
export const READ_PERM: i32 = ERR_PERM;
export const READ_STATUS_NAMES: StaticArray<string> = ["fault", "gone", "perm"];
export const READ_STATUS_VALUES: StaticArray<i32> = [READ_FAULT, READ_GONE, READ_PERM];

// ---- the result record: one per thread of the last sample (walkResultsPtr), read by the host ----
export const RESULT_FIELD_COUNT: i32 = 8;
/** the OS thread id (0: unknown) */
export const R_TID: i32 = 0;
/** the interned thread (aggregate/intern.ts internThread) */
export const R_THREAD: i32 = 4;
/** the stack's trie node (-1: none) */
export const R_NODE: i32 = 8;
/** the thread's status code (above) */
export const R_STATUS: i32 = 12;
/** 1 when the thread held the GIL */
export const R_GIL: i32 = 16;
/** the number of frames */
export const R_DEPTH: i32 = 20;
/** written by the host: 1 to commit the record (walkCommit) */
export const R_KEEP: i32 = 24;
/** the index of the thread's innermost kept frame (walkSetKeepFrames) */
export const R_FIRST_KEPT: i32 = 28;
export const RESULT_SIZE: i32 = 32;

export const RESULT_FIELD_NAMES: StaticArray<string> = ["tid", "thread", "node", "status", "gil", "depth", "keep", "first_kept"];
export const RESULT_FIELD_OFFSETS: StaticArray<i32> = [R_TID, R_THREAD, R_NODE, R_STATUS, R_GIL, R_DEPTH, R_KEEP, R_FIRST_KEPT];
/** every field is an i32 */
export const RESULT_FIELD_WIDTHS: StaticArray<i32> = [4, 4, 4, 4, 4, 4, 4, 4];

// ---- detail codes the host reads (lastErrorDetail) ----
/** A read came back short or unmapped (readRemote). The value once was EFAULT's; it is no errno now. */
export const DETAIL_READ_SHORT: i32 = 14;
// ERR_ELF details of a core file's head (locate/core-file.ts); the host words each one
/** fewer than 64 bytes */
export const DETAIL_CORE_SHORT: i32 = 1;
/** no ELF magic */
export const DETAIL_CORE_NOT_ELF: i32 = 2;
/** not ELFCLASS64 / little-endian */
export const DETAIL_CORE_NOT_ELF64LE: i32 = 3;
/** an ELF file of another type than ET_CORE */
export const DETAIL_CORE_NOT_CORE: i32 = 4;
/** a core of another machine than x86-64 */
export const DETAIL_CORE_OTHER_ARCH: i32 = 5;
/** program or section header entries malformed */
export const DETAIL_CORE_BAD_HEADERS: i32 = 6;
/** the program headers end past the file */
export const DETAIL_CORE_TRUNCATED: i32 = 7;
/** no PT_LOAD segment */
export const DETAIL_CORE_NO_LOAD: i32 = 8;
/** the head given is too short: coreFileHeadNeeded() says how much */
export const DETAIL_CORE_NEED_MORE: i32 = 100;
// ERR_VERSION details of tasksConfigure (--async)
/** no asyncio task layout for this version or build (before 3.11, free-threaded builds) */
export const DETAIL_TASKS_NO_LAYOUT: i32 = 20;
/** 3.14+ without the .AsyncioDebug section: asyncio is not imported yet */
export const DETAIL_TASKS_NOT_IMPORTED: i32 = 21;
export const DETAIL_NAMES: StaticArray<string> = [
  "read_short", "core_short", "core_not_elf", "core_not_elf64le", "core_not_core", "core_other_arch",
  "core_bad_headers", "core_truncated", "core_no_load", "core_need_more", "tasks_no_layout", "tasks_not_imported",
];
export const DETAIL_VALUES: StaticArray<i32> = [
  DETAIL_READ_SHORT, DETAIL_CORE_SHORT, DETAIL_CORE_NOT_ELF, DETAIL_CORE_NOT_ELF64LE, DETAIL_CORE_NOT_CORE,
  DETAIL_CORE_OTHER_ARCH, DETAIL_CORE_BAD_HEADERS, DETAIL_CORE_TRUNCATED, DETAIL_CORE_NO_LOAD, DETAIL_CORE_NEED_MORE,
  DETAIL_TASKS_NO_LAYOUT, DETAIL_TASKS_NOT_IMPORTED,
];

// ---- the task record (--async): one per asyncio task of the last tasksRead, read by the host ----
// Frames (interned frame ids, the task's coroutine chain outermost first) and awaiters (indices
// of task records) live in two i32 arrays (tasksFramesPtr, tasksAwaitersPtr).
export const TASK_FIELD_COUNT: i32 = 12;
/** the task object's remote address, low and high 32 bits (its identity, as CPython's tools print it) */
export const TK_ADDR_LO: i32 = 0;
export const TK_ADDR_HI: i32 = 4;
/** the interned name ("Task-N" for a name not asked for yet) */
export const TK_NAME: i32 = 8;
/** the future state: 0 pending, 1 cancelled, 2 finished */
export const TK_STATE: i32 = 12;
/** the first of the task's frames, and how many */
export const TK_FRAME_FIRST: i32 = 16;
export const TK_FRAME_COUNT: i32 = 20;
/** the first of the task's awaiters, and how many */
export const TK_AWAITER_FIRST: i32 = 24;
export const TK_AWAITER_COUNT: i32 = 28;
/** the remote address of the coroutine's own frame, low and high (a running task's frame is on its thread's stack) */
export const TK_FRAME_ADDR_LO: i32 = 32;
export const TK_FRAME_ADDR_HI: i32 = 36;
/** 1 while the coroutine runs (it is on a thread's stack), else 0 */
export const TK_RUNNING: i32 = 40;
/** the status of reading this task's name and coroutine chain (OK, or why they are partial) */
export const TK_STATUS: i32 = 44;
export const TASK_RECORD_SIZE: i32 = 48;
export const TASK_FIELD_NAMES: StaticArray<string> = [
  "addr_lo", "addr_hi", "name", "state", "frame_first", "frame_count", "awaiter_first", "awaiter_count",
  "frame_addr_lo", "frame_addr_hi", "running", "status",
];
export const TASK_FIELD_OFFSETS: StaticArray<i32> = [
  TK_ADDR_LO, TK_ADDR_HI, TK_NAME, TK_STATE, TK_FRAME_FIRST, TK_FRAME_COUNT, TK_AWAITER_FIRST, TK_AWAITER_COUNT,
  TK_FRAME_ADDR_LO, TK_FRAME_ADDR_HI, TK_RUNNING, TK_STATUS,
];
