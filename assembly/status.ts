// Status codes every core export returns, and the last-error record the host reads for details.
// Must not know: the host's messages or hints (host/errors.ts turns codes into sentences).
// Source of truth: contract.ts (the codes and their names, which the host reads from the core).

export {
  OK, ERR_READ, ERR_GONE, ERR_PERM, ERR_CHAIN, ERR_LIMIT, ERR_NO_RUNTIME, ERR_VERSION, ERR_TABLE, ERR_ELF,
  ERR_NOT_CODE, ERR_FREE_THREADED, ERR_NO_MEMORY, ERR_TORN, STATUS_COUNT,
} from "./contract";

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
