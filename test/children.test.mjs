// --subprocesses with many short-lived children, and with a root that is not Python
// (issue #11 items 3, 4):
//  - fork_storm.py forks about 200 children a second, each living 20 ms, while the parent spins
//    in parent_spin(): `record -s -r 100` samples the parent at (nearly) the rate it gets
//    without -s on the same machine at the same moment (asserted: at least half of it; the
//    figures are printed), exits 0, counts no attach failures and few walk errors;
//  - a launcher: `record -s -- bash -c 'sleep 0.5; python exits_soon.py 3; true'` (bash forks
//    Python later) and `record -s -p BASH_PID` with the Python child started after wspy began:
//    the Python function burn() is in the profile, and the summary says the root is not Python.
import t from "tap";
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import path from "node:path";
import { holdsProcFileOf } from "./helpers/sampling.mjs";
import { wspy, startFixture, FIXTURES } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

function parseCollapsed(text) {
  return text.split("\n").filter((l) => l.length > 0).map((l) => {
    const sp = l.lastIndexOf(" ");
    return { frames: l.slice(0, sp).split(";"), count: Number(l.slice(sp + 1)) };
  });
}
const samplesOf = (stacks, name) => stacks.filter((s) => s.frames.some((f) => f.startsWith(`${name} (`))).reduce((a, s) => a + s.count, 0);
const rateOf = (stderr) => Number(/ticks at ([0-9.]+)\/s/.exec(stderr)?.[1] ?? NaN);

const python = findByLabel("pyenv 3.12");
const skip = python ? false : missingReason("3.12");

t.test("200 short-lived children a second: the parent keeps its rate", { skip }, async (t) => {
  const dir = t.testdir();
  const fx = await startFixture(python.path, "fork_storm.py", [120, 200, 20]);
  t.teardown(() => fx.kill());
  const base = await wspy(["record", "-r", "100", "-d", "4", "-f", "raw", "-o", path.join(dir, "base.txt"), "-p", String(fx.pid)]);
  t.equal(base.code, 0, `record without -s exits 0 ${base.stderr}`);
  const out = path.join(dir, "storm.txt");
  const r = await wspy(["record", "-s", "-r", "100", "-d", "4", "-f", "raw", "-o", out, "-p", String(fx.pid)]);
  t.equal(r.code, 0, `record -s exits 0 ${r.stderr}`);
  const rate = rateOf(r.stderr), baseRate = rateOf(base.stderr);
  t.comment(`achieved rate: ${rate}/s with -s, ${baseRate}/s without, asked 100/s`);
  t.ok(rate >= 0.5 * baseRate, `with -s at least half the rate without (${rate} vs ${baseRate})`);
  t.notMatch(r.stderr, /could not attach/, "no attach failures counted (children that exit first are not failures)");
  const m = /(\d+) errors \([^)]*; ([0-9.]+)% of ticks\)/.exec(r.stderr);
  t.ok(!m || Number(m[2]) < 5, `few walk errors: ${m ? m[0] : "no errors"}`);
  const stacks = parseCollapsed(readFileSync(out, "utf8"));
  const parentRoot = `process ${fx.pid}: `;
  t.ok(stacks.some((s) => s.frames[0].startsWith(parentRoot) && s.frames.some((f) => f.startsWith("parent_spin ("))), "parent_spin() under the parent's process root");
});

t.test("a launcher started by wspy: its later Python child is profiled", { skip }, async (t) => {
  const dir = t.testdir();
  const out = path.join(dir, "launcher.txt");
  const script = `sleep 0.5; "${python.path}" "${path.join(FIXTURES, "exits_soon.py")}" 3; true`;
  const r = await wspy(["record", "-s", "-f", "raw", "-o", out, "--", "bash", "-c", script]);
  t.equal(r.code, 0, `record -s -- bash -c ... exits 0 ${r.stderr}`);
  t.match(r.stderr, /process \d+ \(bash -c .*\) is not Python: following its Python descendants, not sampling it/, "the summary says the root is not sampled");
  const stacks = parseCollapsed(readFileSync(out, "utf8"));
  t.ok(samplesOf(stacks, "burn") > 0, "burn() of the Python child is in the profile");
});

t.test("a launcher that exec's Python: profiled from the exec", { skip }, async (t) => {
  const dir = t.testdir();
  const out = path.join(dir, "launcher.txt");
  const script = `sleep 0.5; exec "${python.path}" "${path.join(FIXTURES, "exits_soon.py")}" 3`;
  const r = await wspy(["record", "-s", "-f", "raw", "-o", out, "--", "bash", "-c", script]);
  t.equal(r.code, 0, `record -s -- bash -c 'exec python ...' exits 0 ${r.stderr}`);
  const stacks = parseCollapsed(readFileSync(out, "utf8"));
  t.ok(samplesOf(stacks, "burn") > 0, "burn() is in the profile");
});

t.test("record -s -p BASH_PID: a Python child started later is profiled", { skip }, async (t) => {
  const dir = t.testdir();
  const out = path.join(dir, "bash.txt");
  const bash = spawn("bash", ["-c", `read line; "${python.path}" "${path.join(FIXTURES, "exits_soon.py")}" 3; true`], { stdio: ["pipe", "ignore", "ignore"] });
  t.teardown(() => { try { bash.kill("SIGKILL"); } catch { /* gone */ } });
  const r = await wspy(["record", "-s", "-d", "8", "-f", "raw", "-o", out, "-p", String(bash.pid)], {
    onSpawn(child) {
      // once wspy watches bash, bash starts Python
      const timer = setInterval(() => {
        if (child.exitCode !== null || holdsProcFileOf(child.pid, bash.pid)) { clearInterval(timer); bash.stdin.end("go\n"); }
      }, 20);
    },
  });
  t.equal(r.code, 0, `record -s -p BASH_PID exits 0 ${r.stderr}`);
  t.match(r.stderr, new RegExp(`process ${bash.pid} \\(bash -c .*\\) is not Python: following its Python descendants`), "the summary says the root is not sampled");
  const stacks = parseCollapsed(readFileSync(out, "utf8"));
  t.ok(samplesOf(stacks, "burn") > 0, "burn() of the later Python child is in the profile");
});

t.test("dump -s -p BASH_PID: the launcher is not Python, its Python child is dumped", { skip }, async (t) => {
  // bash runs Python as a child (not exec: the trailing `; true` keeps bash there)
  const bash = spawn("bash", ["-c", `"${python.path}" "${path.join(FIXTURES, "idle.py")}" 1800; true`], { stdio: ["ignore", "pipe", "ignore"], detached: true });
  t.teardown(() => { try { process.kill(-bash.pid, "SIGKILL"); } catch { /* gone */ } try { bash.kill("SIGKILL"); } catch { /* gone */ } });
  await new Promise((resolve, reject) => {
    let out = "";
    bash.stdout.on("data", (d) => { out += d; if (out.includes("ready")) resolve(); });
    bash.on("exit", () => reject(new Error("bash exited before its Python child was ready")));
  });
  const j = await wspy(["dump", "-s", "-p", String(bash.pid), "--json"]);
  t.equal(j.code, 0, `dump -s --json exits 0 ${j.stderr}`);
  const d = JSON.parse(j.stdout);
  t.equal(d.notPython, true, "the root is marked as not Python");
  t.same(d.threads, [], "and has no threads of its own");
  const child = (d.subprocesses ?? []).find((p) => p.ppid === bash.pid);
  t.ok(child, "the Python child is dumped, with bash as its parent");
  t.ok(child?.threads.some((th) => th.frames.some((f) => f.name === "<module>" && f.file.endsWith("idle.py"))), "its stack is idle.py's");
  const text = await wspy(["dump", "-s", "-p", String(bash.pid)]);
  t.equal(text.code, 0, `dump -s exits 0 ${text.stderr}`);
  t.match(text.stdout, new RegExp(`^Process ${bash.pid}: bash -c .*\\nnot Python: its Python descendants follow\\n`), "the text says the root is not Python");
  t.match(text.stdout, new RegExp(`Process \\d+ \\(child of ${bash.pid}\\)`), "then its child");
});

t.test("dump -s -p of a process with no Python in its tree: one line, exit 5", async (t) => {
  const sleeper = spawn("sleep", ["1800"], { stdio: "ignore" });
  t.teardown(() => { try { sleeper.kill("SIGKILL"); } catch { /* gone */ } });
  await new Promise((resolve) => sleeper.once("spawn", resolve));
  const r = await wspy(["dump", "-s", "-p", String(sleeper.pid)]);
  t.equal(r.code, 5, "exit 5 (not Python)");
  t.match(r.stderr, /is not a Python process.*none of its descendants is Python either/, r.stderr.trim());
  t.equal(r.stderr.trim().split("\n").length, 1, "one line");
});
