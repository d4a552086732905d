// The host's one error type: a code the CLI maps to an exit status, a one-line message saying
// what went wrong, and a hint saying what to do.
// Must not know: CPython layouts; the CLI decides how to print.
// Source of truth: this file; ../shared/docs/design.md §6.

import { readFileSync } from "node:fs";

export type ErrorCode =
  | "NO_SUCH_PROCESS"   // the pid does not exist (or exited)
  | "PERMISSION"        // not allowed to read the target
  | "NOT_PYTHON"        // no CPython interpreter in the target
  | "UNSUPPORTED"       // a version or build wspy cannot read
  | "BAD_TABLE"         // a version-table file is malformed
  | "BAD_INPUT"         // a bad command line, a file that cannot be written
  | "LAUNCH"            // the command to profile could not be started
  | "INTERNAL";         // a bug in wspy

export class WspyError extends Error {
  constructor(public code: ErrorCode, message: string, public hint = "") {
    super(message);
    this.name = "WspyError";
  }
}

/** Exit status for each error code (documented in README). */
export const EXIT_CODES: Record<ErrorCode, number> = {
  BAD_INPUT: 2,
  NO_SUCH_PROCESS: 3,
  PERMISSION: 4,
  NOT_PYTHON: 5,
  UNSUPPORTED: 6,
  BAD_TABLE: 7,
  LAUNCH: 8,
  INTERNAL: 70,
};

/** The hint for a permission failure on pid, naming every way to grant access. */
export function permissionHint(): string {
  let scope = "";
  try {
    scope = readFileSync("/proc/sys/kernel/yama/ptrace_scope", "utf8").trim();
  } catch { /* no Yama */ }
  const scopeText = scope ? ` (kernel.yama.ptrace_scope is ${scope})` : "";
  return "run wspy as the same user as the target or as root, allow it with " +
    "`sudo sysctl kernel.yama.ptrace_scope=0`" + scopeText +
    ", or grant CAP_SYS_PTRACE (containers: `docker run --cap-add SYS_PTRACE`)";
}
