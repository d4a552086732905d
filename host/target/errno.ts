// errno values, named once, and the one map from an errno to the core's read statuses: a Reader
// returns bytes read or minus a read status (host/core/contract.ts READ_*), never an errno, so the
// core knows no errno values. ptrace.ts names the errnos of its own calls from here too.
// Must not know: CPython layouts, what the core does with a failed read.
// Source of truth: errno(3) and the Linux asm-generic/errno-base.h values; process_vm_readv(2)
// ERRORS (ESRCH: no such process; EPERM: not allowed; EFAULT: memory outside the address space).

import { READ_FAULT, READ_GONE, READ_PERM } from "../core/contract.js";

export const EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, ECHILD = 10, EACCES = 13, EFAULT = 14;

/** The read status (positive) a failed read with errno e returns, negated, to the core. */
export function readStatusOfErrno(e: number): number {
  if (e === ESRCH || e === ENOENT) return READ_GONE;
  if (e === EPERM || e === EACCES) return READ_PERM;
  return READ_FAULT; // EFAULT and anything else: nothing readable there
}
