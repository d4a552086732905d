// `wspy dump` against live interpreters: for every Python on this machine, start
// test/fixtures/known_stacks.py (four threads parked at known lines of known functions) and check
// every frame of every thread of `dump -p PID --json` exactly: function name (the qualified name
// on 3.11+, the plain co_name on 2.7–3.10), file and line (from the fixture's `# @mark` comments);
// frames of the standard library's threading.py are checked by name, file name and by the source
// text at the reported line. Then the text form (`dump -p PID`) shows the same.
import t from "tap";
import { readFileSync } from "node:fs";
import path from "node:path";
import { wspy, startFixture, marks, FIXTURES, FIXTURE_LIFETIME } from "./helpers/run.mjs";
import { EXPECTED_PYTHONS, findPythons, findByLabel, missingReason } from "./helpers/pythons.mjs";

const FIXTURE = "known_stacks.py";
const FILE = path.join(FIXTURES, FIXTURE);
const M = marks(FIXTURE);

/** Runs wspy, killing it (SIGKILL) if it has not ended after `ms`, so a hang fails fast. */
function wspyBounded(args, ms = 60000) {
  let killer;
  return wspy(args, { onSpawn(child) { killer = setTimeout(() => child.kill("SIGKILL"), ms); } })
    .then((r) => { clearTimeout(killer); return r; });
}

function versionOf(python) {
  const [major, minor] = python.version.split(".").map(Number);
  return { major, minor, qualnames: major > 3 || (major === 3 && minor >= 11) };
}

// Frames of threading.py: the name per version, and what the source line at the reported line
// must contain (the call into the next frame), which holds on every version.
const STDLIB = {
  run: { names: ["run", "run", "Thread.run"], source: /_target\(/ },
  bootstrapInner: { names: ["__bootstrap_inner", "_bootstrap_inner", "Thread._bootstrap_inner"], source: /\bself\.run\b/ }, // 3.14+: self._context.run(self.run)
  bootstrap: { names: ["__bootstrap", "_bootstrap", "Thread._bootstrap"], source: /_bootstrap_inner\(\)/ },
  eventWait: { names: ["wait", "wait", "Event.wait"], source: /_cond\.wait\(/ },
  conditionWait: { names: ["wait", "wait", "Condition.wait"], source: /waiter\.acquire\(/ },
};

function stdlibName(key, v) {
  const names = STDLIB[key].names;
  return v.major === 2 ? names[0] : v.qualnames ? names[2] : names[1];
}

/** The expected stacks, innermost first, keyed by thread role. */
function expectedStacks(v) {
  const fx = (qualname, mark) => {
    const plain = qualname.split(".").pop();
    return { name: v.qualnames ? qualname : plain, file: FILE, line: M[mark] };
  };
  const std = (key) => ({ stdlib: key, name: stdlibName(key, v) });
  const threadBase = [std("run"), std("bootstrapInner"), std("bootstrap")];
  return {
    main: [fx("main_wait", "MAIN_WAIT"), fx("main", "MAIN_CALL"), fx("<module>", "MODULE_CALL")],
    worker: [
      std("conditionWait"), std("eventWait"),
      fx("Worker.park", "WORKER_PARK"), fx("Worker.step2", "WORKER_STEP2"),
      fx("Worker.step1", "WORKER_STEP1"), fx("Worker.run", "WORKER_RUN"),
      ...threadBase,
    ],
    sleeper: [fx("outer_sleeper.<locals>.inner_sleep", "INNER_SLEEP"), fx("outer_sleeper", "OUTER_SLEEPER"), ...threadBase],
    chain: [fx("chain_c", "CHAIN_C"), fx("chain_b", "CHAIN_B"), fx("chain_a", "CHAIN_A"), ...threadBase],
  };
}

/** Which role a dumped thread plays, from the fixture functions on its stack. */
function roleOf(thread, pid) {
  if (thread.tid === pid) return "main";
  const names = thread.frames.filter((f) => f.file === FILE).map((f) => f.name.split(".").pop());
  if (names.includes("park")) return "worker";
  if (names.includes("inner_sleep")) return "sleeper";
  if (names.includes("chain_c")) return "chain";
  return `unknown (${names.join(", ") || "no fixture frames"})`;
}

const sourceCache = new Map();
function sourceLine(file, line) {
  if (!sourceCache.has(file)) {
    try {
      sourceCache.set(file, readFileSync(file, "utf8").split("\n"));
    } catch {
      sourceCache.set(file, null);
    }
  }
  const lines = sourceCache.get(file);
  return lines && line > 0 ? lines[line - 1] : undefined;
}

/**
 * Both stacks as lists of strings, so a mismatch shows as a readable diff. A stdlib frame
 * that matches its expectation is written the same way on both sides; one that does not shows
 * what was found.
 */
function comparable(actual, expected) {
  const fmt = (f) => `${f.name} (${f.file}:${f.line})`;
  const want = expected.map((e) => (e.stdlib ? `${e.name} (…/threading.py: ${e.stdlib} call site)` : fmt(e)));
  const got = actual.map((f, i) => {
    const e = expected[i];
    if (e && e.stdlib) {
      const text = sourceLine(f.file, f.line);
      const ok = f.name === e.name && f.file.endsWith("/threading.py") && path.isAbsolute(f.file)
        && f.line > 0 && text !== undefined && STDLIB[e.stdlib].source.test(text);
      return ok ? want[i] : `${fmt(f)} [source line: ${JSON.stringify(text)}]`;
    }
    return fmt(f);
  });
  return { got, want };
}

// the fixtures sleep: interpreters can be checked side by side
t.jobs = 3;

for (const label of EXPECTED_PYTHONS) {
  if (!findByLabel(label)) t.skip(`${label}: ${missingReason(label)}`);
}

for (const python of findPythons()) {
  t.test(`${python.label} (${python.path})`, async (t) => {
    const v = versionOf(python);
    const fx = await startFixture(python.path, FIXTURE, [FIXTURE_LIFETIME]);
    t.teardown(() => fx.kill());
    const pid = fx.pid;

    const r = await wspyBounded(["dump", "-p", String(pid), "--json"]);
    t.equal(r.code, 0, `dump --json exits 0 ${r.stderr}`);
    let d;
    try {
      d = JSON.parse(r.stdout);
    } catch (e) {
      t.fail(`dump --json printed no JSON: ${e.message}: ${r.stdout.slice(0, 300)}`);
      return;
    }
    t.equal(d.pid, pid, "pid");
    t.equal(d.python, python.version, "python version");
    t.ok(Array.isArray(d.command) && d.command.includes(FILE), "command line names the fixture");
    t.ok(typeof d.binary === "string" && path.isAbsolute(d.binary), `binary is a path: ${d.binary}`);
    t.ok(typeof d.tableSource === "string" && d.tableSource.length > 0, "tableSource");

    t.equal(d.threads.length, 4, "4 threads: main + 3");
    const tids = d.threads.map((th) => th.tid);
    t.equal(new Set(tids).size, tids.length, "tids are distinct");
    t.equal(new Set(d.threads.map((th) => th.ident)).size, d.threads.length, "idents are distinct");

    const expected = expectedStacks(v);
    const seen = new Set();
    for (const th of d.threads) {
      const role = roleOf(th, pid);
      seen.add(role);
      t.notOk(th.error, `${role}: no error (${th.error ?? ""})`);
      t.ok(Number.isInteger(th.ident) && th.ident > 0, `${role}: ident ${th.ident}`);
      const want = expected[role];
      if (!want) {
        t.fail(`a thread of unexpected role: ${role}`, { frames: th.frames });
        continue;
      }
      const { got, want: wantText } = comparable(th.frames, want);
      t.same(got, wantText, `${role} thread (tid ${th.tid}): every frame`);
      if (role !== "main") {
        // parked in a blocking call: not running, and not holding the GIL
        t.equal(th.active, false, `${role}: not active`);
        t.equal(th.gil, false, `${role}: does not hold the GIL`);
      }
    }
    t.same([...seen].sort(), ["chain", "main", "sleeper", "worker"], "main thread (tid == pid) and the three parked threads");

    // the text form
    const txt = await wspyBounded(["dump", "-p", String(pid)]);
    t.equal(txt.code, 0, `dump (text) exits 0 ${txt.stderr}`);
    const out = txt.stdout;
    t.match(out, new RegExp(`^Thread ${pid} `, "m"), "a Thread line for the main thread");
    t.equal((out.match(/^Thread /gm) ?? []).length, 4, "4 Thread lines");
    t.ok(out.includes(python.version), "the Python version");
    for (const stack of Object.values(expected)) {
      for (const f of stack) {
        if (f.stdlib) {
          t.ok(out.includes(`    ${f.name} (`) && /\/threading\.py:\d+\)/.test(out), `text shows ${f.name} (…threading.py:N)`);
        } else {
          t.ok(out.includes(`    ${f.name} (${f.file}:${f.line})`), `text shows ${f.name} (${path.basename(f.file)}:${f.line})`);
        }
      }
    }
  });
}
