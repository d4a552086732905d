// Test helpers for runs that must act while wspy records: wait until wspy samples a target
// (it holds the target's thread state files open), run wspy with a bound, run a command as
// another user (setpriv, a uid that needs no account).
// Must not know: the core; only what a user can observe (/proc, files, exit codes).
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readlinkSync } from "node:fs";
import { wspy } from "./run.mjs";

/**
 * Does process pid hold a /proc file of target open? wspy keeps the target's stat file open from
 * attach on (its identity: pid and start time) and its thread state files while it samples.
 */
export function holdsProcFileOf(pid, target) {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(`/proc/${target}/`);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/**
 * Resolves true once wspy (child) samples target (and at least minMs passed), false if wspy
 * ended first; after maxMs, timeoutResult (a wait for a condition, bounded so a broken wspy fails
 * the test; true where the caller's check does not depend on it).
 */
export function whenSampling(child, target, minMs = 300, maxMs = 20000, timeoutResult = false) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const ms = Date.now() - t0;
      if (child.exitCode !== null || child.signalCode !== null) { clearInterval(timer); resolve(false); return; }
      if (ms >= minMs && holdsProcFileOf(child.pid, target)) { clearInterval(timer); resolve(true); return; }
      if (ms >= maxMs) { clearInterval(timer); resolve(timeoutResult); }
    }, 20);
  });
}

/** Runs wspy, SIGKILLing it after timeoutMs (a hang fails the test instead of stalling it). */
export function wspyBounded(args, { onSpawn, env, timeoutMs = 60000 } = {}) {
  let killer;
  return wspy(args, {
    env,
    onSpawn(child) {
      killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      onSpawn?.(child);
    },
  }).then((r) => {
    clearTimeout(killer);
    return r;
  });
}

/** A uid/gid with no account, for "another user" (needs root to switch to). */
export const OTHER_UID = 54321;

/** setpriv's arguments to run a command as OTHER_UID. */
export function asOther(cmd) {
  return ["setpriv", [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, "--clear-groups", ...cmd]];
}

/** Runs a short command as OTHER_UID, synchronously; throws when it fails. */
export function runAsOther(cmd) {
  const [file, args] = asOther(cmd);
  const r = spawnSync(file, args, { encoding: "utf8", env: { PATH: process.env.PATH } });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} as uid ${OTHER_UID}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Starts a long command as OTHER_UID in a clean environment: `env -i`, since tap's process-info
 * hook re-adds its NODE_OPTIONS to spawned children, and they would write into .tap as that user.
 */
export function spawnAsOther(cmd, env = {}) {
  const vars = Object.entries({ PATH: process.env.PATH, HOME: "/tmp", ...env }).map(([k, v]) => `${k}=${v}`);
  const [file, args] = asOther(["env", "-i", ...vars, ...cmd]);
  return spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
}
