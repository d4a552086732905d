// The host's one error type: a code the CLI maps to an exit status, a one-line message saying
// what went wrong, and a hint saying what to do.
// Must not know: CPython layouts; the CLI decides how to print.
// Source of truth: this file; docs/design.md §6.

import { readFileSync, statSync } from "node:fs";

export type ErrorCode =
  | "NO_SUCH_PROCESS"   // the pid does not exist (or exited)
  | "PERMISSION"        // not allowed to read the target
  | "NOT_PYTHON"        // no CPython interpreter in the target
  | "UNSUPPORTED"       // a version or build wspy cannot read
  | "BAD_TABLE"         // a version-table file is malformed
  | "BAD_INPUT"         // a bad command line, a file that cannot be written
  | "LAUNCH"            // the command to profile could not be started
  | "OUTPUT"            // the result could not be written where asked (it was kept elsewhere)
  | "INTERNAL";         // a bug in wspy

/** What an error may carry beyond its code, message and hint. */
export interface WspyErrorOptions {
  /** the same attempt may succeed later (an interpreter still starting, a process that exec'd) */
  retriable?: boolean;
  /** the exit status of the command wspy launched, when it ended before wspy attached (the CLI exits with it) */
  childExitCode?: number;
}

export class WspyError extends Error {
  /** see WspyErrorOptions */
  readonly retriable: boolean;
  /** see WspyErrorOptions */
  readonly childExitCode: number | undefined;

  constructor(public code: ErrorCode, message: string, public hint = "", opts: WspyErrorOptions = {}) {
    super(message);
    this.name = "WspyError";
    this.retriable = opts.retriable ?? false;
    this.childExitCode = opts.childExitCode;
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
  OUTPUT: 9,
  INTERNAL: 70,
};

/**
 * Whether pid made itself non-dumpable (prctl(PR_SET_DUMPABLE, 0), a setuid start, a change of
 * user): the kernel then gives its /proc files to root, while its status still names its own user.
 * True only when that user is ours and we are not root (as root, the generic hint applies).
 */
export function isNonDumpable(pid: number): boolean {
  const euid = process.geteuid?.();
  if (euid === undefined || euid === 0) return false;
  try {
    const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return !!uid && Number(uid[1]) === euid && statSync(`/proc/${pid}/mem`).uid !== euid;
  } catch {
    return false;
  }
}

/** The hint for a permission failure on pid, naming every way to grant access that applies here. */
export function permissionHint(pid?: number): string {
  if (pid !== undefined && isNonDumpable(pid)) {
    return "a non-dumpable process is closed to every other process of its user: run wspy as root (or with CAP_SYS_PTRACE), " +
      "or keep the program dumpable (no prctl(PR_SET_DUMPABLE, 0); started without setuid)";
  }
  let scope = "";
  try {
    scope = readFileSync("/proc/sys/kernel/yama/ptrace_scope", "utf8").trim();
  } catch { /* no Yama: nothing to suggest about it */ }
  const yama = scope && scope !== "0" ? `, allow it with \`sudo sysctl kernel.yama.ptrace_scope=0\` (it is ${scope})` : "";
  return `run wspy as the same user as the target or as root${yama}, or grant CAP_SYS_PTRACE (containers: \`docker run --cap-add SYS_PTRACE\`)`;
}

/** The PERMISSION error for reading `what` of pid, with the hint that fits the cause. */
export function permissionError(pid: number, what = `process ${pid}`): WspyError {
  const own = isNonDumpable(pid);
  return new WspyError("PERMISSION", `permission denied reading ${what}${own ? ": the target made itself non-dumpable (prctl(PR_SET_DUMPABLE, 0), a setuid start or a change of user)" : ""}`, permissionHint(pid));
}

/**
 * A trap in the core: an abort (assertion) or a WebAssembly RuntimeError (out-of-bounds access,
 * unreachable). Always a bug in wspy, never the target's fault; the instance that trapped may be
 * left half-way through an update, so a caller that goes on uses a fresh Core.
 */
export class CoreTrap extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CoreTrap";
  }
}

/** Is e a trap of the WASM core (RuntimeError or abort), as opposed to a host error? */
export function isCoreTrap(e: unknown): e is Error {
  return e instanceof CoreTrap || e instanceof WebAssembly.RuntimeError;
}

/** The one-line INTERNAL error a trap becomes where it ends a command. */
export function coreTrapError(e: Error, what: string): WspyError {
  return new WspyError("INTERNAL", `internal error in the core while ${what}: ${e.message}`,
    "a bug: please report it with the command and the target's Python version; WSPY_DEBUG=1 shows where");
}
