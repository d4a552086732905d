// Starting the program a recording profiles (`wspy record -- python app.py`): spawned, its exit
// status kept, signalled on request. When wspy traces it (--native, --blocking) the program is
// started through a small reaper (a second Node process running REAPER_SOURCE) that is its real
// parent: a tracer that is also the parent shares one wait queue with Node's own child handling
// (libuv's waitpid(pid, WNOHANG) on every SIGCHLD), which would take the program's ptrace stops
// as its exit, and wspy's own waits would take its exit from Node. The reaper mirrors the
// program's end (its exit code, or the same signal) and passes SIGTERM on; Ctrl-C and a hang-up
// reach the program from the terminal, not twice.
// Must not know: CPython, the core, ptrace itself.
// Source of truth: wait(2) and ptrace(2) ("the tracer ... is the real parent"), libuv's
// uv__wait_children (src/unix/process.c).

import type { ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { WspyError } from "../errors.js";

/** A program wspy started: what the sampler and `record` use of it. */
export interface Launched {
  /** the program's pid (what is sampled) */
  readonly pid: number;
  /** its exit code, once it exited normally */
  readonly exitCode: number | null;
  /** the signal that ended it */
  readonly signalCode: NodeJS.Signals | null;
  /** sends sig to the program itself (nothing once it ended) */
  kill(sig: NodeJS.Signals): void;
  once(event: "exit", listener: () => void): void;
  /** resolves to its exit status once it ended: the code, or 128 + the signal's number */
  readonly exited: Promise<number>;
}

/** The reaper's own program (node -e): argv is the command; fd 3 gets "pid N" or "error CODE". */
const REAPER_SOURCE = `"use strict";
const { spawn } = require("node:child_process");
const { writeSync, closeSync } = require("node:fs");
const report = (s) => { try { writeSync(3, s + "\\n"); closeSync(3); } catch {} };
if (process.env.WSPY_REAPER_NODE_OPTIONS !== undefined) process.env.NODE_OPTIONS = process.env.WSPY_REAPER_NODE_OPTIONS;
else delete process.env.NODE_OPTIONS;
delete process.env.WSPY_REAPER_NODE_OPTIONS;
const argv = process.argv.slice(1);
const child = spawn(argv[0], argv.slice(1), { stdio: "inherit" });
const quiet = () => {};
for (const s of ["SIGINT", "SIGQUIT", "SIGHUP"]) process.on(s, quiet);
const pass = () => { try { child.kill("SIGTERM"); } catch {} };
process.on("SIGTERM", pass);
child.once("spawn", () => report("pid " + child.pid));
child.once("error", (e) => { report("error " + (e.code || e.message)); process.exit(127); });
child.once("exit", (code, sig) => {
  if (sig) {
    for (const s of ["SIGINT", "SIGQUIT", "SIGHUP"]) process.off(s, quiet);
    process.off("SIGTERM", pass);
    try { process.kill(process.pid, sig); } catch {}
    setTimeout(() => process.exit(128 + (require("node:os").constants.signals[sig] || 0)), 100);
  } else process.exit(code ?? 0);
});
`;

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

function statusOf(code: number | null, sig: NodeJS.Signals | null): number {
  return code ?? 128 + ((sig && SIGNALS[sig]) ?? 0);
}

function exitedPromise(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(statusOf(child.exitCode, child.signalCode));
    child.once("exit", (code, sig) => resolve(statusOf(code, sig)));
  });
}

function launchError(command: string[], code: string): WspyError {
  return new WspyError("LAUNCH", `cannot start ${command[0]}: ${code}`, "check the command and your PATH");
}

/**
 * Starts command. traced: through the reaper, so that wspy is the program's tracer but not its
 * parent (see the header). Throws LAUNCH when it cannot be started.
 */
export function launchProgram(command: string[], stdio: "inherit" | "ignore", traced: boolean): Promise<Launched> {
  // node:child_process loads here, not with the sampler: `record -p PID` never spawns, and the
  // module (with node:net and node:dgram) is several ms of every one-shot run's start-up
  const { spawn } = createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process");
  const io = stdio === "ignore" ? ["ignore", "ignore", "ignore"] as const : ["inherit", "inherit", "inherit"] as const;
  return new Promise((resolve, reject) => {
    if (!traced) {
      const child = spawn(command[0], command.slice(1), { stdio: [...io] });
      child.once("spawn", () => resolve({
        pid: child.pid!,
        get exitCode() { return child.exitCode; },
        get signalCode() { return child.signalCode; },
        kill: (sig) => { if (child.exitCode === null && child.signalCode === null) child.kill(sig); },
        once: (event, listener) => { child.once(event, listener); },
        exited: exitedPromise(child),
      }));
      child.once("error", (e) => reject(launchError(command, (e as NodeJS.ErrnoException).code ?? e.message)));
      return;
    }
    const env: NodeJS.ProcessEnv = { ...process.env };
    // the reaper starts plain (a NODE_OPTIONS hook is the program's business, not the reaper's)
    if (env.NODE_OPTIONS !== undefined) env.WSPY_REAPER_NODE_OPTIONS = env.NODE_OPTIONS;
    delete env.NODE_OPTIONS;
    const reaper = spawn(process.execPath, ["-e", REAPER_SOURCE, "--", ...command], { stdio: [...io, "pipe"], env });
    let text = "";
    let settled = false;
    const fail = (why: string) => { if (!settled) { settled = true; reject(launchError(command, why)); } };
    reaper.once("error", (e) => fail((e as NodeJS.ErrnoException).code ?? e.message));
    const exited = exitedPromise(reaper);
    const pipe = reaper.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding("utf8");
    pipe.on("data", (d: string) => { text += d; });
    pipe.on("end", () => {
      const m = /^pid (\d+)\n/.exec(text);
      if (!m) {
        const err = /^error (.*)\n/.exec(text);
        fail(err ? err[1] : "its launcher ended first");
        return;
      }
      settled = true;
      const pid = Number(m[1]);
      const ended = () => reaper.exitCode !== null || reaper.signalCode !== null;
      resolve({
        pid,
        get exitCode() { return reaper.exitCode; },
        get signalCode() { return reaper.signalCode; },
        kill: (sig) => { if (!ended()) { try { process.kill(pid, sig); } catch { /* it ended meanwhile */ } } },
        once: (event, listener) => { reaper.once(event, listener); },
        exited,
      });
    });
  });
}
