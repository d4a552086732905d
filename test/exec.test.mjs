// A target that exec's, and a pid that another process takes (issue #10 items 6, 7):
//  - exec_self.py spins in before_exec(), then (on SIGUSR1, once wspy samples it) os.execv's
//    the same interpreter on exec_after.py, which spins in after_exec(): `record -p PID -d N`
//    keeps sampling the new program: both functions are in the profile, few errors, and the
//    summary says the process exec'd;
//  - the same fixture exec'ing `sleep 30` (not Python): wspy ends on its own (no -d), exits 0,
//    writes the profile with before_exec() and says the new program is not Python;
//  - pid reuse, in a PID namespace (root, unshare) where pids are predictable: the target is
//    killed while wspy is stopped, a new Python (same interpreter, ASLR off: the very same
//    memory layout) takes its pid; resumed, wspy ends with "target exited" instead of sampling
//    the newcomer into the old profile (pid_reuse_driver.py does the steps).
import t from "tap";
import { readFileSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { whenSampling } from "./helpers/sampling.mjs";
import { wspy, startFixture, FIXTURES, CLI } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

const WSPY_TIMEOUT_MS = 60000;

function parseCollapsed(text) {
  return text.split("\n").filter((l) => l.length > 0).map((l) => {
    const sp = l.lastIndexOf(" ");
    return { frames: l.slice(0, sp).split(";"), count: Number(l.slice(sp + 1)) };
  });
}
const samplesOf = (stacks, name) => stacks.filter((s) => s.frames.some((f) => f.startsWith(`${name} (`))).reduce((a, s) => a + s.count, 0);

/** Runs wspy; once it samples fx, waits 1 s of sampling more, then sends the fixture SIGUSR1. */
function recordThenSignal(t, fx, args) {
  let killer;
  return wspy(args, {
    onSpawn(child) {
      killer = setTimeout(() => child.kill("SIGKILL"), WSPY_TIMEOUT_MS);
      whenSampling(child, fx.pid, 0, 4000, true).then((ok) => {
        if (!ok) return;
        // some samples of before_exec(), then the exec
        setTimeout(() => { try { process.kill(fx.pid, "SIGUSR1"); } catch { /* gone */ } }, 1000);
      });
    },
  }).then((r) => { clearTimeout(killer); return r; });
}

for (const label of ["pyenv 3.12", "provisioned 3.15", "pyenv 2.7"]) {
  const python = findByLabel(label);
  t.test(`exec of Python into Python: ${label}`, { skip: python ? false : missingReason(label.split(" ")[1]) }, async (t) => {
    const dir = t.testdir();
    const fx = await startFixture(python.path, "exec_self.py", ["python"]);
    t.teardown(() => fx.kill());
    const out = path.join(dir, "exec.txt");
    // long enough that after_exec() gets many samples after the exec however slow the machine
    const r = await recordThenSignal(t, fx, ["record", "-p", String(fx.pid), "-d", "8", "-f", "raw", "-o", out]);
    t.equal(r.code, 0, `record exits 0 ${r.stderr}`);
    const stacks = parseCollapsed(readFileSync(out, "utf8"));
    const before = samplesOf(stacks, "before_exec"), after = samplesOf(stacks, "after_exec");
    t.ok(before > 0, `before_exec() sampled before the exec (${before} samples)`);
    t.ok(after > 0, `after_exec() sampled after the exec (${after} samples)`);
    t.match(r.stderr, new RegExp(`process ${fx.pid} exec'd ".*exec_after\\.py" \\(Python [0-9.]+\\) at [0-9.]+ s: sampled on from there`), "the summary says the process exec'd and sampling went on");
    const m = /(\d+) errors \([^)]*; ([0-9.]+)% of ticks\)/.exec(r.stderr);
    t.ok(!m || Number(m[2]) < 5, `few errors: ${m ? m[0] : "no errors"}`);
  });
}

{
  const python = findByLabel("pyenv 3.12");
  t.test("exec of Python into sleep: the recording ends with the profile", { skip: python ? false : missingReason("3.12") }, async (t) => {
    const dir = t.testdir();
    const fx = await startFixture(python.path, "exec_self.py", ["sleep"]);
    t.teardown(() => fx.kill());
    const out = path.join(dir, "exec.txt");
    const r = await recordThenSignal(t, fx, ["record", "-p", String(fx.pid), "-f", "raw", "-o", out]);
    t.equal(r.code, 0, `record exits 0 ${r.stderr}`);
    t.notOk(r.signal, "wspy ended on its own (not killed by the test's timeout)");
    t.ok(existsSync(out), "the profile is written");
    const stacks = parseCollapsed(readFileSync(out, "utf8"));
    t.ok(samplesOf(stacks, "before_exec") > 0, "before_exec() is in the profile");
    t.match(r.stderr, new RegExp(`process ${fx.pid} exec'd "sleep 30", which is not Python: its samples end there`), "the summary says what happened");
    t.match(r.stderr, /^wspy: target exited;/m, "the recording ended as the target's");
  });
}

{
  const python = findByLabel("pyenv 3.12");
  const canNs = (() => {
    if (process.getuid?.() !== 0) return "needs root (a PID namespace and /proc/sys/kernel/ns_last_pid)";
    try { execFileSync("unshare", ["-fp", "--mount-proc", "true"], { stdio: "ignore" }); } catch { return "unshare -fp --mount-proc does not work here"; }
    try { execFileSync("setarch", ["-R", "true"], { stdio: "ignore" }); } catch { return "setarch -R does not work here"; }
    return "";
  })();
  t.test("pid reuse: a new process under the old pid is not recorded as the old one", { skip: !python ? missingReason("3.12") : canNs || false }, async (t) => {
    const dir = t.testdir();
    const out = path.join(dir, "reuse.txt");
    const driver = path.join(FIXTURES, "pid_reuse_driver.py");
    const text = execFileSync("unshare", ["-fp", "--mount-proc", python.path, driver, python.path, process.execPath, CLI, out], { encoding: "utf8", timeout: 120000 });
    const res = JSON.parse(text.trim().split("\n").pop());
    t.equal(res.new, res.old, `the new process took the old pid (${res.old})`);
    t.equal(res.code, 0, `record exits 0 ${res.stderr}`);
    t.match(res.stderr, /^wspy: target exited;/m, "wspy saw the target exit (it did not run on to -d 30 sampling the newcomer)");
    const stacks = parseCollapsed(readFileSync(out, "utf8"));
    t.ok(samplesOf(stacks, "old_work") > 0, "old_work() is in the profile");
    t.equal(samplesOf(stacks, "new_work"), 0, "new_work() is not");
  });
}
