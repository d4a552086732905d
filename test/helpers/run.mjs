// Test helpers: run the real wspy CLI, and start fixture programs under real interpreters,
// waiting until they say they are ready (a line "ready" on stdout).
// Must not know: the core; tests check what a user sees (CLI output, files).
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { readFileSync } from "node:fs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, "..", "..");
/** The installed command: package.json's bin (the bundled build/bin/wspy.js), what users run. */
export const CLI = path.join(ROOT, JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).bin.wspy);
export const FIXTURES = path.join(ROOT, "test", "fixtures");

/**
 * Seconds a fixture may live (its TIMEOUT/SECONDS argument): only a net for fixtures orphaned by a
 * test process that died before its teardown. Longer than any test file may run (tap's timeout:
 * 300 s, 900 s under `npm run test:loaded`; offline.test.mjs's own 1500 s), so no fixture exits on
 * its timer while a test still needs it: tests end their fixtures themselves (t.teardown kill),
 * and startFixture ends any still running when the test process exits.
 */
export const FIXTURE_LIFETIME = 1800;

const running = new Set();
process.on("exit", () => { for (const c of running) try { c.kill("SIGKILL"); } catch {} });

/** Runs `wspy ...args` to completion. Returns {code, stdout, stderr}. */
export function wspy(args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...(opts.env ?? {}) },
      stdio: ["ignore", "pipe", "pipe"],
      ...(opts.spawn ?? {}),
    });
    let stdout = "", stderr = "";
    // decoded as a stream: a multi-byte character split across two chunks stays whole
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    if (opts.onSpawn) opts.onSpawn(child);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, pid: child.pid }));
  });
}

/** Runs wspy synchronously (short commands only). */
export function wspySync(args, opts = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, ...(opts.env ?? {}) }, timeout: opts.timeout ?? 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Starts `python fixture args...` and resolves once it printed "ready" (rejects if it has not after
 * opts.timeout ms, 120 s by default: a bound on the condition that a loaded machine does not reach).
 * Returns {child, pid, lines (stdout lines so far), kill()}.
 */
export function startFixture(python, fixture, args = [], opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [...(opts.prefixArgs ?? []), path.join(FIXTURES, fixture), ...args.map(String)], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PYTHONIOENCODING: "utf-8", PYTHONDONTWRITEBYTECODE: "1", ...(opts.env ?? {}) },
    });
    running.add(child);
    child.on("exit", () => running.delete(child));
    const lines = [];
    let buf = "", err = "";
    const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`${fixture} under ${python} never said ready: ${err}`)); }, opts.timeout ?? 120000);
    child.stderr.on("data", (d) => (err += d));
    child.stdout.on("data", (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line.trim() === "ready") {
          clearTimeout(timer);
          resolve({ child, pid: child.pid, lines, stderr: () => err, kill: () => { try { child.kill("SIGKILL"); } catch {} } });
        }
      }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`${fixture} under ${python} exited (${code}) before ready: ${err}`)); });
  });
}

/** Line numbers of `# @mark NAME` comments in a fixture: {NAME: line}. */
export function marks(fixture) {
  const out = {};
  readFileSync(path.join(FIXTURES, fixture), "utf8").split("\n").forEach((l, i) => {
    const m = /#\s*@mark\s+(\S+)/.exec(l);
    if (m) out[m[1]] = i + 1;
  });
  return out;
}

/** Checks a user error: the exit code, one `wspy:` line on stderr matching pattern, no stack trace. */
export function oneLine(t, r, code, pattern) {
  t.equal(r.code, code, `exit code ${code}`);
  const lines = r.stderr.trim().split("\n");
  t.equal(lines.length, 1, `one line: ${r.stderr.trim()}`);
  t.match(lines[0], /^wspy: /);
  t.match(lines[0], pattern);
  t.notMatch(r.stderr, /\n\s+at /, "no stack trace");
}

/** Is tmux installed (the terminal tests drive it)? */
export function haveTmux() {
  return spawnSync("tmux", ["-V"], { stdio: "ignore" }).status === 0;
}
