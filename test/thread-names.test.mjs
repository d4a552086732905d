// Thread names read from the target's Python objects (modules → threading → _active → Thread
// → _name): for every Python on this machine, test/fixtures/named_threads.py parks three named
// threads and the main thread at known lines, and `dump --json` must show each thread's Python
// name (field `name`). The names are longer than the 15 bytes of an OS thread name, so a name
// shown in full came from Python, not from /proc/PID/task/TID/comm. The fixture's threads keep
// their attributes in every layout: 2.7 dicts, 3.6–3.10 split and combined dicts, 3.11+ inline or
// split values and materialised dicts. The text form shows the names too.
import t from "tap";
import path from "node:path";
import { wspy, startFixture, marks, FIXTURES, FIXTURE_LIFETIME } from "./helpers/run.mjs";
import { EXPECTED_PYTHONS, findPythons, findByLabel, missingReason } from "./helpers/pythons.mjs";

const FIXTURE = "named_threads.py";
const FILE = path.join(FIXTURES, FIXTURE);
const M = marks(FIXTURE);

/** The expected name of each role (the fixture function a thread is parked in). */
function expectedNames(major) {
  return {
    main: "MainThread",
    a: "worker-a-long-thread-name",
    b: major === 2 ? "worker-b-long-thread-name" : "w\u00f6rker-\u03b2-long-thread-name",
    c: "custom-c-long-thread-name",
  };
}

/** Which role a thread plays, from the fixture line its stack passes through. */
function roleOf(thread) {
  const lines = thread.frames.filter((f) => f.file === FILE).map((f) => f.line);
  if (lines.includes(M.MAIN_WAIT)) return "main";
  if (lines.includes(M.PARK_A)) return "a";
  if (lines.includes(M.PARK_B)) return "b";
  if (lines.includes(M.PARK_C)) return "c";
  return `unknown (lines ${lines.join(", ") || "none"})`;
}

for (const label of EXPECTED_PYTHONS) {
  if (!findByLabel(label)) t.skip(`${label}: ${missingReason(label)}`);
}

// the fixtures sleep: interpreters can be checked side by side (one after another: 544 s at load 40)
t.jobs = 3;

for (const python of findPythons()) {
  t.test(`${python.label} (${python.path})`, async (t) => {
    const major = Number(python.version.split(".")[0]);
    const fx = await startFixture(python.path, FIXTURE, [FIXTURE_LIFETIME]);
    t.teardown(() => fx.kill());
    const want = expectedNames(major);

    // what Python itself calls its threads (printed before "ready")
    const namesLine = fx.lines.find((l) => l.startsWith("names "));
    t.ok(namesLine, "the fixture printed its thread names");
    if (namesLine) t.same(JSON.parse(namesLine.slice(6)), Object.values(want).sort(), "the fixture's threads are named as expected");

    const r = await wspy(["dump", "-p", String(fx.pid), "--json"]);
    t.equal(r.code, 0, `dump --json exits 0 ${r.stderr}`);
    let d;
    try {
      d = JSON.parse(r.stdout);
    } catch (e) {
      t.fail(`dump --json printed no JSON: ${e.message}: ${r.stdout.slice(0, 300)}`);
      return;
    }
    t.equal(d.threads.length, 4, "4 threads: main + 3");
    const seen = {};
    for (const th of d.threads) {
      const role = roleOf(th);
      t.notOk(th.error, `${role}: no error (${th.error ?? ""})`);
      t.ok(role in want, `a thread of a known role: ${role}`);
      if (!(role in want)) continue;
      seen[role] = th.name;
      t.equal(th.name, want[role], `thread ${th.tid} (${role}) is named ${JSON.stringify(want[role])}`);
      if (role === "main") t.equal(th.tid, fx.pid, "MainThread is the process's main thread");
    }
    t.same(Object.keys(seen).sort(), ["a", "b", "c", "main"], "every role was found");

    // the text form
    const txt = await wspy(["dump", "-p", String(fx.pid)]);
    t.equal(txt.code, 0, `dump (text) exits 0 ${txt.stderr}`);
    for (const name of Object.values(want)) {
      t.match(txt.stdout, new RegExp(`^Thread \\d+ \\([^)]*\\): "${name}" ident 0x[0-9a-f]+`, "m"), `text names ${name}`);
    }
  });
}
