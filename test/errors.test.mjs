// Bad input gets a clear answer: one line saying what and what to do, a documented non-zero
// exit code, never a stack trace. Every case runs the real CLI.
import t from "tap";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { wspy, startFixture, CLI, ROOT, FIXTURE_LIFETIME, oneLine } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

const tmp = mkdtempSync(path.join(os.tmpdir(), "wspy-errors-"));
const py38 = findByLabel("pyenv 3.8");
const py312 = findByLabel("pyenv 3.12");

t.test("no such pid", async (t) => {
  oneLine(t, await wspy(["dump", "-p", "999999999"]), 3, /no process with pid 999999999/);
  oneLine(t, await wspy(["record", "-p", "999999999", "-o", path.join(tmp, "x.svg")]), 3, /no process with pid/);
});

t.test("a pid that is not a number", async (t) => {
  oneLine(t, await wspy(["dump", "-p", "abc"]), 2, /not a process id: "abc"/);
});

t.test("not a Python process", async (t) => {
  // lives until killed; "spawn" is emitted once the exec has succeeded (libuv waits for it)
  const child = spawn("sleep", [String(FIXTURE_LIFETIME)]);
  t.teardown(() => child.kill("SIGKILL"));
  await new Promise((r) => child.once("spawn", r));
  oneLine(t, await wspy(["dump", "-p", String(child.pid)]), 5, /is not a Python process/);
});

t.test("permission denied names CAP_SYS_PTRACE, and ptrace_scope only on a kernel with Yama", { skip: process.getuid() !== 0 ? "needs root to start a target another user cannot read" : !py312 ? missingReason("3.12") : false }, async (t) => {
  const fx = await startFixture(py312.path, "idle.py", [FIXTURE_LIFETIME]);
  t.teardown(fx.kill);
  // wspy as nobody, the target as root
  const r = await new Promise((resolve) => {
    const c = spawn("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "env", "-i", `PATH=${process.env.PATH}`, "HOME=/tmp", process.execPath, CLI, "dump", "-p", String(fx.pid)], {
      stdio: ["ignore", "pipe", "pipe"],
      // a clean environment: tap's NODE_OPTIONS would make the child write into .tap as nobody
      env: { PATH: process.env.PATH, HOME: "/tmp" },
    });
    let stderr = "";
    c.stderr.on("data", (d) => (stderr += d));
    c.on("close", (code) => resolve({ code, stderr, stdout: "" }));
  });
  oneLine(t, r, 4, /permission denied/);
  let scope = null;
  try { scope = readFileSync("/proc/sys/kernel/yama/ptrace_scope", "utf8").trim(); } catch { /* no Yama */ }
  if (scope !== null && scope !== "0") t.match(r.stderr, /ptrace_scope/, `Yama is on (ptrace_scope ${scope}): the hint names it`);
  else t.notMatch(r.stderr, /ptrace_scope/, `the hint does not name ptrace_scope (${scope === null ? "no Yama on this kernel" : "it is 0 already"})`);
  t.match(r.stderr, /CAP_SYS_PTRACE/);
});

t.test("unsupported version: no table for it", { skip: py38 ? false : missingReason("3.8") }, async (t) => {
  const fx = await startFixture(py38.path, "idle.py", [FIXTURE_LIFETIME]);
  t.teardown(fx.kill);
  const r = await wspy(["dump", "-p", String(fx.pid)], { env: { WSPY_NO_BUILTIN_TABLES: "1" } });
  oneLine(t, r, 6, /Python 3\.8\.\d+ .*has no version table/);
  t.match(r.stderr, /--version-table/);
});

t.test("the plugin path: a 3.8 table given as a plugin file alone profiles 3.8", { skip: py38 ? false : missingReason("3.8") }, async (t) => {
  const fx = await startFixture(py38.path, "idle.py", [FIXTURE_LIFETIME]);
  t.teardown(fx.kill);
  const r = await wspy(["dump", "-p", String(fx.pid), "--json", "--version-table", path.join(ROOT, "assembly/tables/cpython-3.8.json")], { env: { WSPY_NO_BUILTIN_TABLES: "1" } });
  t.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  t.equal(d.tableSource, path.join(ROOT, "assembly/tables/cpython-3.8.json"));
  const main = d.threads.find((th) => th.tid === fx.pid);
  t.ok(main, "main thread found");
  t.equal(main.frames[0].name, "<module>");
  t.equal(main.frames[0].file, path.join(ROOT, "test/fixtures/idle.py"));
});

t.test("malformed version tables name the file and the field", async (t) => {
  const good = JSON.parse(readFileSync(path.join(ROOT, "assembly/tables/cpython-3.8.json"), "utf8"));
  const cases = [
    ["not JSON", "{ nope", /bad-0\.json: JSON: /],
    ["a wrong type", { ...good, offsets: { ...good.offsets, thread_state: { ...good.offsets.thread_state, frame: "24" } } }, /offsets\.thread_state\.frame: must be a non-negative integer/],
    ["an unknown field", { ...good, offsets: { ...good.offsets, thread_state: { ...good.offsets.thread_state, frames: 24 } } }, /offsets\.thread_state\.frames: unknown field/],
    ["a missing field", { ...good, offsets: { ...good.offsets, frame_object: { size: 368, f_back: 24, f_lasti: 104 } } }, /offsets\.frame_object\.f_code: is missing/],
    ["an offset past its struct", { ...good, offsets: { ...good.offsets, code_object: { ...good.offsets.code_object, filename: 400 } } }, /offsets\.code_object\.filename: lies past its struct's size/],
    ["an unknown capability value", { ...good, capabilities: { ...good.capabilities, frame_model: "stackless" } }, /capabilities\.frame_model: must be one of/],
    ["a missing key", (() => { const c = { ...good }; delete c.versions; return c; })(), /versions: is missing/],
    ["a bad version range", { ...good, versions: { min: "3.9", max: "3.8" } }, /versions: min is after max/],
  ];
  let i = 0;
  for (const [name, doc, pattern] of cases) {
    const file = path.join(tmp, `bad-${i++}.json`);
    writeFileSync(file, typeof doc === "string" ? doc : JSON.stringify(doc));
    const r = await wspy(["tables", "check", file]);
    t.test(name, async (t) => {
      oneLine(t, r, 7, pattern);
      t.match(r.stderr, file, "names the file");
    });
  }
  const okFile = path.join(tmp, "good.json");
  writeFileSync(okFile, JSON.stringify(good));
  const r = await wspy(["tables", "check", okFile]);
  t.equal(r.code, 0);
  t.match(r.stdout, /valid, Python 3\.8/);
});

t.test("bad command lines", async (t) => {
  oneLine(t, await wspy(["record"]), 2, /record needs a process/);
  oneLine(t, await wspy(["record", "-p", "1", "-r", "0"]), 2, /rate must be between 1 and 10000 samples per second/);
  oneLine(t, await wspy(["record", "-p", String(process.pid), "-o", "/nonexistent-dir/x.svg"]), 2, /cannot write \/nonexistent-dir\/x\.svg/);
  oneLine(t, await wspy(["record", "-p", "1", "-f", "png"]), 2, /png/);
  oneLine(t, await wspy(["frobnicate"]), 2, /unknown command/);
  oneLine(t, await wspy(["record", "-o", path.join(tmp, "x.svg"), "--", "/nonexistent/python"]), 8, /cannot start \/nonexistent\/python: ENOENT/);
});
