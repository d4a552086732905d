// How `wspy record` starts and ends, on a few interpreters (3.8, the newest pyenv 3.12 and 3.13,
// provisioned 3.15):
//  - the target exits while wspy is attached (-p, no duration): wspy exits 0, writes a profile
//    with samples and says the target exited (exits_soon.py is told to exit, with SIGUSR1, a
//    second after wspy started sampling it);
//  - launch mode with a script that fails (sys.exit(3)): wspy exits 3 and writes the profile,
//    with the script's functions in it;
//  - SIGINT / SIGTERM to wspy (-p, no duration): it exits 0, writes the profile, leaves no
//    temp file (.NAME.*.tmp) behind, and the target keeps running;
//  - speedscope output of a real recording validates against speedscope's own JSON schema, and
//    its per-thread profile samples the fixture's functions.
// Throughout, the target is never stopped: /proc/PID/status is polled while wspy runs and
// checked afterwards (TracerPid 0, state neither T nor t).
import t from "tap";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import path from "node:path";
import { whenSampling, wspyBounded as wspyBoundedFor } from "./helpers/sampling.mjs";
import Ajv from "ajv";
import { wspy, startFixture, marks, FIXTURES, ROOT, FIXTURE_LIFETIME } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

const LABELS = ["pyenv 3.8", "pyenv 3.12", "pyenv 3.13", "provisioned 3.15"];
const SCHEMA = path.join(ROOT, "node_modules", "speedscope", "dist", "release", "file-format-schema.json");
const WSPY_TIMEOUT_MS = 180000; // a bound on a hang: at load 40 wspy had not attached after 30 s

/** {state, tracerPid} of a live process, or null once it is gone (or a zombie being reaped). */
function procStatus(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const state = /^State:\s+(\S)/m.exec(text)?.[1] ?? "?";
  const tracer = /^TracerPid:\s+(\d+)/m.exec(text)?.[1] ?? "?";
  return { state, tracerPid: tracer, raw: text };
}

/** Problems with a target's status: stopped, traced. [] when fine or gone. */
function statusProblems(pid) {
  const s = procStatus(pid);
  if (!s) return [];
  const out = [];
  if (s.state === "T" || s.state === "t") out.push(`pid ${pid} in state ${s.state}`);
  if (s.tracerPid !== "0") out.push(`pid ${pid} has TracerPid ${s.tracerPid}`);
  return out;
}

/** Children of a process (all its threads' children). */
function childrenOf(pid) {
  const out = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        const text = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
        if (text) out.push(...text.split(/\s+/).map(Number));
      } catch { /* thread gone */ }
    }
  } catch { /* process gone */ }
  return out;
}

/**
 * Polls the status of the targets (fixed pids, and with launchedBy the children of that
 * process) every few ms while wspy runs. stop() returns the problems seen, deduplicated.
 */
function watchTargets(pids, launchedBy = () => null) {
  const problems = new Set();
  const seen = new Set(pids);
  const timer = setInterval(() => {
    const w = launchedBy();
    if (w) for (const c of childrenOf(w)) seen.add(c);
    for (const pid of seen) for (const p of statusProblems(pid)) problems.add(p);
  }, 5);
  return {
    seen,
    stop() {
      clearInterval(timer);
      return [...problems];
    },
  };
}

/** Runs wspy, killing it (SIGKILL) if it has not ended after WSPY_TIMEOUT_MS (helpers/sampling.mjs). */
function wspyBounded(args, onSpawn) {
  return wspyBoundedFor(args, { onSpawn, timeoutMs: WSPY_TIMEOUT_MS });
}

/**
 * A recorded file name as a full path: record may shorten a path under the target's current
 * directory to one relative to it (the fixtures run in this process's directory).
 */
function fullPath(file) {
  return file && !path.isAbsolute(file) && !file.startsWith("<") ? path.resolve(process.cwd(), file) : file;
}

function parseCollapsed(text) {
  return text.split("\n").filter((l) => l.length > 0).map((l) => {
    const sp = l.lastIndexOf(" ");
    const frames = l.slice(0, sp).split(";").map((label) => {
      const m = /^(.*?) \((.*):(\d+)\)$/.exec(label) ?? /^(.*?) \((.*)\)$/.exec(label);
      return m ? { name: m[1], file: fullPath(m[2]), line: m[3] === undefined ? 0 : Number(m[3]) } : { name: label, file: "", line: 0 };
    });
    return { frames, count: Number(l.slice(sp + 1)) };
  });
}

/** Samples in a raw profile file, and how many have a frame `name` of `file`. */
function rawProfile(t, file) {
  if (!existsSync(file)) {
    t.fail(`the profile ${file} was not written`);
    return { total: 0, stacks: [], withFrame: () => 0 };
  }
  const stacks = parseCollapsed(readFileSync(file, "utf8"));
  const total = stacks.reduce((a, s) => a + s.count, 0);
  const withFrame = (name, src) => stacks
    .filter((s) => s.frames.some((f) => f.name === name && f.file === src))
    .reduce((a, s) => a + s.count, 0);
  return { total, stacks, withFrame };
}

function tempFiles(dir) {
  return readdirSync(dir).filter((n) => /^\..*\.tmp$/.test(n));
}

/** After a test: the target, if still running, is neither stopped nor traced. */
function checkTargetAfter(t, pid) {
  const s = procStatus(pid);
  if (!s) {
    t.pass(`target ${pid} has exited`);
    return;
  }
  t.equal(s.tracerPid, "0", `target ${pid}: TracerPid 0`);
  t.notOk(s.state === "T" || s.state === "t", `target ${pid}: not stopped (state ${s.state})`);
}

async function targetExits(t, python) {
  const FIXTURE = "exits_soon.py";
  const FILE = path.join(FIXTURES, FIXTURE);
  const dir = t.testdir();
  const out = path.join(dir, "exits.txt");
  // runs until told (SIGUSR1) to exit a second later: once wspy samples it (plus a second),
  // so the target exits while wspy is attached however long wspy took to start
  const fx = await startFixture(python.path, FIXTURE, [FIXTURE_LIFETIME]);
  t.teardown(() => fx.kill());
  const watch = watchTargets([fx.pid]);
  const r = await wspyBounded(["record", "-p", String(fx.pid), "-o", out, "-f", "raw"], (child) => {
    whenSampling(child, fx.pid, 1000, 15000, true).then(() => setTimeout(() => fx.child.kill("SIGUSR1"), 1000));
  });
  t.same(watch.stop(), [], "the target was never stopped or traced while recording");
  t.equal(r.code, 0, `wspy exits 0 when the target exits ${r.stderr}`);
  t.match(r.stderr, /target exited/, "the summary says the target exited");
  const p = rawProfile(t, out);
  t.ok(p.total > 0, `the profile has samples (${p.total})`);
  t.ok(p.withFrame("burn", FILE) > 0, "samples of burn()");
  t.same(tempFiles(dir), [], "no temp file left");
  checkTargetAfter(t, fx.pid);
}

async function launchFails(t, python) {
  const FIXTURE = "fails.py";
  const FILE = path.join(FIXTURES, FIXTURE);
  const dir = t.testdir();
  const out = path.join(dir, "fails.txt");
  let wspyPid = null;
  const watch = watchTargets([], () => wspyPid);
  // 3 s of work (the fixture's default is 1.5 s): room for a slow start on a busy machine
  const r = await wspyBounded(["record", "-o", out, "-f", "raw", "--", python.path, FILE, "3"], (child) => { wspyPid = child.pid; });
  const problems = watch.stop();
  t.ok(watch.seen.size >= 1, `the launched program was watched (pids ${[...watch.seen].join(", ")})`);
  t.same(problems, [], "the launched program was never stopped or traced");
  t.equal(r.code, 3, `wspy exits with the script's status 3 ${r.stderr}`);
  const p = rawProfile(t, out);
  t.ok(p.total > 0, `the profile was written and has samples (${p.total})`);
  t.ok(p.withFrame("crunch", FILE) > 0, "samples of crunch()");
  t.ok(p.withFrame("fail_after_work", FILE) > 0, "samples under fail_after_work()");
  t.same(tempFiles(dir), [], "no temp file left");
  for (const pid of watch.seen) t.equal(procStatus(pid), null, `the launched program ${pid} is gone`);
}

async function signalled(t, python, signal) {
  const FIXTURE = "exits_soon.py";
  const FILE = path.join(FIXTURES, FIXTURE);
  const dir = t.testdir();
  const out = path.join(dir, `${signal}.txt`);
  const fx = await startFixture(python.path, FIXTURE, [FIXTURE_LIFETIME]);
  t.teardown(() => fx.kill());
  const watch = watchTargets([fx.pid]);
  let sent = false;
  // after ~1.5 s, and once wspy is sampling (a busy machine can take longer to start it)
  const r = await wspyBounded(["record", "-p", String(fx.pid), "-o", out, "-f", "raw"], (child) => {
    whenSampling(child, fx.pid, 1500, 15000, true).then(() => setTimeout(() => { sent = child.kill(signal); }, 300));
  });
  t.same(watch.stop(), [], "the target was never stopped or traced while recording");
  t.ok(sent, `${signal} sent to wspy`);
  t.equal(r.signal, null, `wspy was not killed by ${signal}`);
  t.equal(r.code, 0, `wspy exits 0 after ${signal} ${r.stderr}`);
  t.match(r.stderr, /interrupted/, "the summary says it was interrupted");
  const p = rawProfile(t, out);
  t.ok(p.total > 0, `the profile was written and has samples (${p.total})`);
  t.ok(p.withFrame("burn", FILE) > 0, "samples of burn()");
  t.same(tempFiles(dir), [], "no .NAME.*.tmp left in the output folder");
  t.ok(procStatus(fx.pid) !== null, "the target still runs");
  checkTargetAfter(t, fx.pid);
}

async function speedscope(t, python, validate) {
  const FIXTURE = "cpu_split.py";
  const FILE = path.join(FIXTURES, FIXTURE);
  const M = marks(FIXTURE);
  const dir = t.testdir();
  const out = path.join(dir, "profile.json");
  const fx = await startFixture(python.path, FIXTURE, [FIXTURE_LIFETIME]);
  t.teardown(() => fx.kill());
  const watch = watchTargets([fx.pid]);
  const r = await wspyBounded(["record", "-p", String(fx.pid), "-o", out, "-f", "speedscope", "-d", "2"]);
  t.same(watch.stop(), [], "the target was never stopped or traced while recording");
  t.equal(r.code, 0, `wspy exits 0 ${r.stderr}`);
  let doc;
  try {
    doc = JSON.parse(readFileSync(out, "utf8"));
  } catch (e) {
    t.fail(`no speedscope JSON: ${e.message}`);
    return;
  }
  const valid = validate(doc);
  t.ok(valid, "validates against speedscope's file-format-schema.json", { errors: validate.errors?.slice(0, 5) });
  const frames = doc.shared?.frames ?? [];
  const withSamples = (doc.profiles ?? []).filter((p) => p.samples?.length > 0);
  t.equal(withSamples.length, 1, "one thread, one profile with samples");
  const prof = withSamples[0];
  if (!prof) return;
  t.equal(prof.type, "sampled", "a sampled profile");
  t.equal(prof.samples.length, prof.weights.length, "a weight per sample");
  t.ok(prof.samples.length >= 20, `samples over 2 s (${prof.samples.length}; 200 at the default 100/s on an idle machine)`);
  t.ok(prof.samples.every((s) => s.every((i) => Number.isInteger(i) && i >= 0 && i < frames.length)), "every sample's frames index shared.frames");
  const leafCount = (name) => prof.samples.filter((s) => {
    const f = frames[s[s.length - 1]];
    return f && f.name === name && fullPath(f.file) === FILE;
  }).length;
  t.ok(leafCount("heavy") > 0, `samples ending in heavy() of ${FIXTURE} (${leafCount("heavy")})`);
  t.ok(leafCount("light") > 0, `samples ending in light() of ${FIXTURE} (${leafCount("light")})`);
  const heavy = frames.find((f) => f.name === "heavy" && fullPath(f.file) === FILE);
  t.ok(heavy && heavy.line >= M.HEAVY_DEF && heavy.line <= M.HEAVY_LAST, `heavy's frame has a line in heavy (${heavy?.line})`);
  const total = prof.weights.reduce((a, b) => a + b, 0);
  t.ok(Math.abs(prof.endValue - prof.startValue - total) < 1e-6, "endValue - startValue is the sum of the weights");
  t.ok(total > 1 && total < 4, `the weights cover about the 2 s recorded (${total.toFixed(3)} s)`);
  checkTargetAfter(t, fx.pid);
}

const ajv = new Ajv({ strict: false });
const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA, "utf8")));

// interpreters side by side: every wait for wspy is bounded by what it does, not by time
t.jobs = 2;

for (const label of LABELS) {
  const python = findByLabel(label);
  if (!python) {
    t.skip(`${label}: ${missingReason(label)}`);
    continue;
  }
  t.test(`${python.label} (${python.path})`, async (t) => {
    t.test("the target exits while attached", (t) => targetExits(t, python));
    t.test("launch mode: the script fails with status 3", (t) => launchFails(t, python));
    t.test("SIGINT ends the recording", (t) => signalled(t, python, "SIGINT"));
    t.test("SIGTERM ends the recording", (t) => signalled(t, python, "SIGTERM"));
    t.test("speedscope output validates", (t) => speedscope(t, python, validate));
  });
}
