// Free-threaded CPython (3.13t; 3.14t/3.15t when provisioned) end to end, beside what every
// suite already runs on it (dump frames, thread names, locals, record, line tables, snapshots and
// core files: test/helpers/pythons.mjs lists the free-threaded build like any other):
//  - four threads spinning in parallel (parallel_spin.py) on a build with no GIL are each seen
//    active in about half the ticks or more, and record's summary says how many were active at
//    once (no GIL share);
//  - their loop of specialisable bytecode, run by four threads at once, is sampled only at the
//    lines of the loop body, and every line of it is seen: the lines the interpreter's own
//    co_lines() gives for that code;
//  - `--gil` does not apply: one line, exit 2;
//  - idle detection holds without a GIL (gil_threads.py: a spinner, a sleeper, an Event waiter):
//    idle threads are left out by default and kept with --idle;
//  - `top --plain` says how many threads were active at once instead of a GIL share;
//  - `--subprocesses` follows a free-threaded multiprocessing pool (mp_pool.py);
//  - a recursion that changes all the time (recursive.py) is one thread active at once, though
//    many of its samples are refused as changed while read (the count does not depend on the walk).
// Source of truth: the interpreter (sysconfig Py_GIL_DISABLED, co_lines()), the fixture's marks.
import t from "tap";
import { readFileSync } from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { wspy, oneLine, startFixture, FIXTURE_LIFETIME, FIXTURES } from "./helpers/run.mjs";
import { EXPECTED_PYTHONS, findPythons, findByLabel, missingReason } from "./helpers/pythons.mjs";

const FIXTURE = "parallel_spin.py";
const source = readFileSync(path.join(FIXTURES, FIXTURE), "utf8").split("\n");
const markLine = (m) => source.findIndex((l) => l.includes(`@mark ${m}`)) + 1;
const BODY_FIRST = markLine("BODY_FIRST"), BODY_LAST = markLine("BODY_LAST");

/** Collapsed stacks with thread roots: [{thread, frames (root first), count}]. */
function parseCollapsed(text) {
  return text.split("\n").filter((l) => l.length > 0).map((l) => {
    const sp = l.lastIndexOf(" ");
    const frames = l.slice(0, sp).split(";");
    return { thread: frames[0], frames: frames.slice(1), count: Number(l.slice(sp + 1)) };
  });
}

const ftLabels = EXPECTED_PYTHONS.filter((l) => l.endsWith("t"));
for (const label of ftLabels) {
  t.test(`${label}: every FT label expected here is found`, async (t) => {
    if (!findByLabel(label)) t.fail(missingReason(label));
    else t.pass(`${label} found`);
  });
}

for (const python of findPythons().filter((p) => p.freeThreaded)) {
  t.test(`${python.label}: threads run Python at once, lines exact under specialisation`, async (t) => {
    const gil = execFileSync(python.path, ["-c", "import sys; print(int(sys._is_gil_enabled()))"], { encoding: "utf8" }).trim();
    t.equal(gil, "0", "the interpreter runs without a GIL");
    // the interpreter's truth: the lines work()'s code can report, and those of its loop
    const lines = JSON.parse(execFileSync(python.path, ["-c",
      `import json, sys; sys.argv = ["x", "0"]; src = open(${JSON.stringify(path.join(FIXTURES, FIXTURE))}).read()
code = compile(src, "f", "exec")
work = [c for c in code.co_consts if getattr(c, "co_name", "") == "work"][0]
print(json.dumps(sorted({l for (_, _, l) in work.co_lines() if l is not None})))`], { encoding: "utf8" }));
    const body = lines.filter((l) => l >= BODY_FIRST && l <= BODY_LAST);
    t.ok(body.length >= 6, `work()'s loop has lines ${body.join(", ")}`);

    const fx = await startFixture(python.path, FIXTURE, [FIXTURE_LIFETIME]);
    t.teardown(() => fx.kill());
    const out = path.join(t.testdir(), "spin.txt");
    // 600 ticks at 100/s: enough for shares per thread and for every line of the loop
    const r = await wspy(["record", "-p", String(fx.pid), "-o", out, "-f", "raw", "--threads", "-d", "6"]);
    t.equal(r.code, 0, `record exits 0 ${r.stderr}`);
    const ticks = Number(/(\d+) ticks at/.exec(r.stderr)?.[1] ?? NaN);
    t.ok(ticks >= 100, `ticks: ${ticks}`);
    t.notMatch(r.stderr, /GIL held/, "no GIL share is reported");
    const at = /no GIL \(free-threaded\): ([\d.]+) threads active at once on average .*at most (\d+)/.exec(r.stderr);
    t.ok(at, "the summary says how many threads were active at once");
    if (at) {
      t.ok(Number(at[1]) >= 2, `threads active at once on average: ${at[1]} (4 spinners on ${"a busy machine"})`);
      t.ok(Number(at[2]) >= 3, `at most ${at[2]}`);
    }
    const stacks = parseCollapsed(readFileSync(out, "utf8"));
    const perThread = {};
    for (const s of stacks) {
      const name = /^thread (spin-\d)/.exec(s.thread)?.[1];
      if (!name) continue;
      perThread[name] = (perThread[name] ?? 0) + s.count;
      const leaf = s.frames.at(-1);
      const m = /^(\S+) \((.*):(\d+)\)$/.exec(leaf);
      if (m?.[1] === "work") {
        const line = Number(m[3]);
        if (!body.includes(line) && line !== BODY_FIRST) t.fail(`${name} sampled work() at line ${line}, not a line of its loop (${body.join(", ")})`);
      }
    }
    for (let i = 0; i < 4; i++) {
      const n = perThread[`spin-${i}`] ?? 0;
      // without --idle only active samples are kept: one per tick at most
      t.ok(n >= 0.45 * ticks, `spin-${i} active in ${n} of ${ticks} ticks (${(100 * n / ticks).toFixed(0)}%)`);
    }
    const seen = new Set();
    for (const s of stacks) {
      const m = /^work \((.*):(\d+)\)$/.exec(s.frames.at(-1) ?? "");
      if (m) seen.add(Number(m[2]));
    }
    const missing = body.filter((l) => !seen.has(l));
    t.same(missing, [], `every line of the loop seen: ${[...seen].sort((a, b) => a - b).join(", ")}`);

    // --gil: nothing to filter by
    const g = await wspy(["record", "-p", String(fx.pid), "-o", path.join(t.testdir(), "gil.txt"), "-f", "raw", "-d", "1", "--gil"]);
    oneLine(t, g, 2, /--gil does not apply to process \d+: it runs a free-threaded build of Python [\d.]+, which has no GIL \(leave out --gil/);
  });
}

/** Leaf function names with their sample counts, from collapsed stacks. */
function leaves(stacks) {
  const out = {};
  for (const s of stacks) {
    const leaf = (s.frames.at(-1) ?? "").replace(/ \(.*$/, "").replace(/^.*\./, "");
    out[leaf] = (out[leaf] ?? 0) + s.count;
  }
  return out;
}

for (const python of findPythons().filter((p) => p.freeThreaded)) {
  t.test(`${python.label}: idle threads, top and subprocesses without a GIL`, async (t) => {
    const fx = await startFixture(python.path, "gil_threads.py", [FIXTURE_LIFETIME, "busy"]);
    t.teardown(() => fx.kill());
    const dir = t.testdir();
    const record = async (name, extra) => {
      const out = path.join(dir, name);
      const r = await wspy(["record", "-p", String(fx.pid), "-o", out, "-f", "raw", "--threads", "-d", "2", ...extra]);
      t.equal(r.code, 0, `record ${extra.join(" ")} exits 0 ${r.stderr}`);
      t.match(r.stderr, /no GIL \(free-threaded\): [\d.]+ threads active at once/, "the summary has no GIL share");
      return leaves(parseCollapsed(readFileSync(out, "utf8")));
    };
    const busy = await record("busy.txt", []);
    const total = Object.values(busy).reduce((a, b) => a + b, 0);
    t.ok((busy.spin ?? 0) >= 20, `the spinner is sampled (${busy.spin ?? 0})`);
    // without --idle: the sleeper (time.sleep), the Event waiter and the sleeping main are idle
    const idleShare = ((busy.sleeper ?? 0) + (busy.wait ?? 0) + (busy.main_wait ?? 0)) / Math.max(1, total);
    t.ok(idleShare < 0.05, `idle threads left out: ${JSON.stringify(busy)}`);
    const all = await record("idle.txt", ["--idle"]);
    for (const fn of ["spin", "sleeper", "wait", "main_wait"]) t.ok((all[fn] ?? 0) >= 20, `--idle keeps ${fn} (${all[fn] ?? 0})`);

    const top = await wspy(["top", "-p", String(fx.pid), "--plain", "--delay", "0.5", "-d", "2.5", "--rows", "5"]);
    t.equal(top.code, 0, `top --plain exits 0 ${top.stderr}`);
    const last = top.stdout.split(/^(?=wspy top: )/m).filter((x) => x.trim()).at(-1) ?? "";
    t.match(last, /No GIL, at once: \d+\.\d\d/, "top's header says how many threads were active at once");
    t.notMatch(last, /GIL: [\d.]+%/, "and shows no GIL share");
    t.match(last, /\bspin \(/, "the spinner is among the rows");
  });

  t.test(`${python.label}: --subprocesses follows a multiprocessing pool`, async (t) => {
    const fx = await startFixture(python.path, "mp_pool.py", [FIXTURE_LIFETIME], { timeout: 60000 });
    t.teardown(() => fx.kill());
    const out = path.join(t.testdir(), "pool.txt");
    const r = await wspy(["record", "-p", String(fx.pid), "-s", "-d", "3", "-f", "raw", "-o", out]);
    t.equal(r.code, 0, `record -s exits 0 ${r.stderr}`);
    const stacks = parseCollapsed(readFileSync(out, "utf8"));
    const roots = new Set(stacks.filter((s) => s.frames.some((f) => /^pool_work /.test(f))).map((s) => s.thread));
    t.ok(roots.size >= 2, `pool_work sampled in ${roots.size} worker processes: ${[...roots].join(", ")}`);
  });
}

for (const python of findPythons().filter((p) => p.freeThreaded)) {
  t.test(`${python.label}: threads active at once do not depend on the walk`, async (t) => {
    const fx = await startFixture(python.path, "recursive.py", [FIXTURE_LIFETIME]);
    t.teardown(() => fx.kill());
    const r = await wspy(["record", "-p", String(fx.pid), "-o", path.join(t.testdir(), "rec.txt"), "-f", "raw", "-d", "2", "-r", "500"]);
    t.equal(r.code, 0, `record exits 0 ${r.stderr}`);
    const at = /no GIL \(free-threaded\): ([\d.]+) threads active at once on average .*at most (\d+)/.exec(r.stderr);
    t.ok(at, "the summary says how many threads were active at once");
    // the recursing main thread spins: active in nearly every tick, whether its stack decoded or not
    if (at) t.ok(Number(at[1]) >= 0.8 && Number(at[1]) <= 1.0, `one thread active at once on average: ${at[1]}`);
  });
}
