// Status codes every core export returns, and the last-error record the host reads for details.
// Must not know: the host's messages or hints (host/errors.ts turns codes into sentences).
// Source of truth: this file; host/core/core.ts mirrors the names.

export const OK: i32 = 0;
export const ERR_READ: i32 = 1;        // a remote read failed or came back short (unmapped, torn)
export const ERR_GONE: i32 = 2;        // the target process no longer exists (ESRCH)
export const ERR_PERM: i32 = 3;        // not allowed to read the target (EPERM)
export const ERR_CHAIN: i32 = 4;       // a pointer chain did not close: torn sample or wrong table
export const ERR_LIMIT: i32 = 5;       // a bound was hit (frames, threads, string bytes)
export const ERR_NO_RUNTIME: i32 = 6;  // no interpreter found in the ELF file or the target
export const ERR_VERSION: i32 = 7;     // the version could not be read or has no table
export const ERR_TABLE: i32 = 8;       // a version table is invalid (detail: field id)
export const ERR_ELF: i32 = 9;         // the ELF file is malformed
export const ERR_NOT_CODE: i32 = 10;   // a frame's code pointer is not a code object
export const ERR_FREE_THREADED: i32 = 11; // a free-threaded build (not supported yet)
export const ERR_NO_MEMORY: i32 = 12;  // the core could not grow its memory
export const ERR_TORN: i32 = 13;       // a stack changed while it was read and a fresh walk did not prove it either
export const STATUS_COUNT: i32 = 14;

let lastCode: i32 = 0;
let lastDetail: i32 = 0;
let lastAddr: u64 = 0;

/** Records what failed and returns the code, so `return fail(ERR_X, detail, addr)` reads well. */
export function fail(code: i32, detail: i32 = 0, addr: u64 = 0): i32 {
  lastCode = code;
  lastDetail = detail;
  lastAddr = addr;
  return code;
}

export function lastErrorCode(): i32 { return lastCode; }
export function lastErrorDetail(): i32 { return lastDetail; }
export function lastErrorAddr(): u64 { return lastAddr; }
