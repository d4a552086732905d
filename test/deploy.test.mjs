// Running the agent as the README's deployment sections say, as far as this machine allows: the
// systemd unit printed in the README passes `systemd-analyze verify` with nothing said; and a
// target in a PID and mount namespace of its own (made with unshare: its interpreter and script
// are mounted where only it sees them, as in a container) is found by `agent --match` from
// outside and profiled through /proc/PID/root, as a sidecar or a host agent sees a container.
// Must not know: wspy's internals beyond the CLI and its file formats.
// Source of truth: README "Running the agent as a service"; docs/agent.md.
import t from "tap";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { wspy, ROOT, FIXTURES, CLI } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

const { decodeWspy } = await import(path.join(ROOT, "build", "host", "render", "wspy.js"));

t.test("the README's systemd unit passes systemd-analyze verify", async (t) => {
  if (spawnSync("systemd-analyze", ["--version"]).status !== 0) return t.skip("systemd-analyze is not installed (apt-get install systemd)");
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const m = /```ini\n([\s\S]*?)```/.exec(readme);
  t.ok(m, "the README has a unit file");
  if (!m) return;
  t.match(m[1], /ExecStart=\/usr\/local\/bin\/wspy agent /, "it runs the agent");
  const dir = mkdtempSync(path.join(tmpdir(), "wspy-unit-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const unit = path.join(dir, "wspy-agent.service");
  // the installed command's place, here the checkout's (verify wants ExecStart to exist)
  writeFileSync(unit, m[1].replace("/usr/local/bin/wspy", CLI));
  const r = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
  t.equal(r.status, 0, "exit 0");
  // systemd-analyze exits 0 on unknown keys and bad values: it only says so
  t.equal(r.stderr.trim(), "", "and says nothing: no unknown key, no bad value, no bad escape");
});

t.test("agent --match finds a target in its own PID and mount namespace and profiles it from outside", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  if (process.getuid?.() !== 0) return t.skip("making PID and mount namespaces needs root (unshare)");
  if (spawnSync("unshare", ["--version"]).status !== 0) return t.skip("unshare is not installed (util-linux)");
  const prefix = path.dirname(path.dirname(py.path)); // .../versions/3.12.1
  const exe = path.basename(py.path);
  const ns = mkdtempSync(path.join(tmpdir(), "wspy-ns-"));
  mkdirSync(path.join(ns, "py"));
  mkdirSync(path.join(ns, "code"));
  const hist = mkdtempSync(path.join(tmpdir(), "wspy-ns-hist-"));
  t.teardown(() => { rmSync(hist, { recursive: true, force: true }); rmSync(ns, { recursive: true, force: true }); });
  const script = [
    `mount --bind '${prefix}' '${ns}/py'`,
    `mount -t tmpfs none '${ns}/code'`,
    `cp '${path.join(FIXTURES, "cpu_split.py")}' '${ns}/code/'`,
    `exec '${ns}/py/bin/${exe}' '${ns}/code/cpu_split.py' 120`,
  ].join(" && ");
  const child = spawn("unshare", ["--pid", "--fork", "--kill-child", "--mount-proc", "--mount", "--propagation", "private", "sh", "-c", script], { stdio: ["ignore", "pipe", "pipe"] });
  // the target is PID 1 of its namespace: only SIGKILL ends it; unshare --kill-child does that when unshare dies
  t.teardown(() => { try { child.kill("SIGKILL"); } catch {} });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const ready = await new Promise((resolve) => {
    let out = "";
    child.stdout.on("data", (d) => { out += d; if (out.includes("ready")) resolve(true); });
    child.on("exit", () => resolve(false));
  });
  t.ok(ready, `the target runs in its namespaces: ${err.trim()}`);
  if (!ready) return;
  t.notOk(existsSync(path.join(ns, "code", "cpu_split.py")), "its script is not visible from outside");
  t.same(readdirSync(path.join(ns, "py")), [], "nor its interpreter");
  const r = await wspy(["agent", "--match", `${ns}/code/cpu_split\\.py`, "--period", "1", "-d", "4", "-r", "50", "--dir", hist]);
  t.equal(r.code, 0, `the agent exits 0: ${r.stderr.trim()}`);
  t.match(r.stderr, /sampling process \d+ .*Python 3\.12/, "it found and attached to the target");
  const files = readdirSync(hist).filter((n) => n.endsWith(".wspy"));
  t.ok(files.length >= 3, `a segment per period (${files.length})`);
  const names = new Set();
  for (const f of files) for (const fr of decodeWspy(readFileSync(path.join(hist, f))).frames) names.add(fr.name);
  t.ok(names.has("heavy") && names.has("light"), "with the target's functions, read through its own root");
});
