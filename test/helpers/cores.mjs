// Core files in tests: whether gdb's gcore is there and where the kernel writes cores, a
// process's core size limit, a fixture started in a folder of its own with cores allowed, and a
// dump's JSON parsed with its exit code checked. Shared by test/offline.test.mjs and
// test/native-offline.test.mjs.
// Must not know: wspy's internals. Source of truth: core(5) (core_pattern), proc(5) (limits).
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { startFixture, FIXTURE_LIFETIME } from "./run.mjs";

export const hasGcore = spawnSync("sh", ["-c", "command -v gcore"], { encoding: "utf8" }).status === 0;
function corePattern() {
  try {
    return readFileSync("/proc/sys/kernel/core_pattern", "utf8").trim();
  } catch {
    return "";
  }
}
// the kernel writes cores into the process's folder unless core_pattern pipes them to a program
export const kernelCores = (() => {
  const p = corePattern();
  return p && !p.startsWith("|") && !p.includes("/") ? "" : `kernel.core_pattern is ${JSON.stringify(p)}: cores do not land in the process's folder`;
})();


/** The soft RLIMIT_CORE of a process ("0", "unlimited", or bytes), from /proc/PID/limits. */
export function coreLimitOf(pid) {
  try {
    const m = /^Max core file size\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"));
    return m ? m[1] : "unknown";
  } catch {
    return "unknown";
  }
}

export function parseJson(t, r, what) {
  t.equal(r.code, 0, `${what} exits 0 (${r.stderr.trim()})`);
  try {
    return JSON.parse(r.stdout);
  } catch {
    t.fail(`${what} printed no JSON: ${r.stdout.slice(0, 200)}`);
    return null;
  }
}

/** Starts `python fixture` with its working folder dir and cores unlimited (the kernel writes them there); env: extra variables. */
export function startInFolder(python, fixture, dir, env) {
  return startFixture("/bin/sh", fixture, [FIXTURE_LIFETIME], {
    prefixArgs: ["-c", `cd "$1" && ulimit -c unlimited 2>/dev/null; shift; exec "$0" "$@"`, python, dir],
    ...(env ? { env } : {}),
  });
}

/**
 * The kernel's core of fixture fx (started by startInFolder in dir): SIGABRT with RLIMIT_CORE
 * unlimited; the fixture ends. {file} of the core, or {reason} why the kernel writes none here
 * (core_pattern, RLIMIT_CORE); a core that should have appeared and did not fails t. Kills fx.
 */
export async function kernelCoreOf(t, fx, dir) {
  let file = null, reason = kernelCores;
  if (!kernelCores) {
    const coreLimit = coreLimitOf(fx.pid);
    const exited = new Promise((r) => fx.child.on("exit", (code, signal) => r(signal)));
    process.kill(fx.pid, "SIGABRT");
    // the kernel writes the core before the process becomes a zombie: once its exit is seen, the
    // file is there or was never written
    const signal = await exited;
    const f = readdirSync(dir).find((n) => n === "core" || n === `core.${fx.pid}`);
    if (f) file = path.join(dir, f);
    else if (coreLimit === "0") reason = "RLIMIT_CORE is 0 for the fixture (its hard limit): the kernel writes no core";
    else t.fail(`no kernel core appeared in ${dir} after SIGABRT (exit by ${signal}; core_pattern ${corePattern()}, RLIMIT_CORE ${coreLimit})`);
  }
  fx.kill();
  return { file, reason };
}
