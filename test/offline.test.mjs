// Offline decoding: `dump --core FILE` (cores written by gdb's gcore and by the kernel),
// `wspy snapshot` + `dump --snapshot FILE`, and the committed snapshot fixtures.
// For every interpreter on this machine: test/fixtures/offline_fixture.py (threads parked at known
// lines) is dumped live, snapshotted, cored with `gcore` and then by the kernel (SIGABRT), and the
// four dumps must agree frame for frame, in the same --json schema. Every committed snapshot
// fixture (test/fixtures/snapshots/, made by make.mjs) decodes to its golden stacks on any machine.
// Junk (random bytes, an ELF that is not a core, a core of a non-Python program, an empty file,
// damaged snapshots) gets one clear line and a non-zero exit.
import t from "tap";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync, existsSync, copyFileSync, mkdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { wspy, startFixture, marks, FIXTURES, ROOT, FIXTURE_LIFETIME } from "./helpers/run.mjs";
import { EXPECTED_PYTHONS, findByLabel, missingReason } from "./helpers/pythons.mjs";
import { hasGcore, kernelCoreOf, parseJson, startInFolder } from "./helpers/cores.mjs";

const FIXTURE = "offline_fixture.py";
const FIXTURE_PATH = path.join(FIXTURES, FIXTURE);
const M = marks(FIXTURE);
const SNAPSHOTS = path.join(FIXTURES, "snapshots");
// a dozen interpreters, each started, dumped four ways and cored twice: more than tap's default 300 s
// on a loaded machine; the versions run three at a time
// (742 s at load 40 with hogs: `npm run test:loaded`; the bound only matters when something hangs)
t.setTimeout(1_500_000);
t.jobs = 3;
const tmp = mkdtempSync(path.join(os.tmpdir(), "wspy-offline-"));
const lib = await import(path.join(ROOT, "build", "host", "commands", "snapshot.js"));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));


/** What is compared of a dump: the version, the thread count and every thread's frames. */
function goldenOf(d) {
  return {
    python: d.python,
    threads: d.threads.length,
    stacks: d.threads.map((th) => th.frames.map((f) => ({ name: f.name, file: f.file, line: f.line }))),
  };
}

/** One line on stderr, a non-zero exit, no stack trace. */
function oneLine(t, r, pattern, code) {
  t.not(r.code, 0, "non-zero exit");
  if (code !== undefined) t.equal(r.code, code, `exit code ${code}`);
  t.not(r.code, 70, "not an internal error");
  const lines = r.stderr.trim().split("\n");
  t.equal(lines.length, 1, `one line: ${r.stderr.trim()}`);
  t.match(lines[0], /^wspy: /);
  if (pattern) t.match(lines[0], pattern);
  t.notMatch(r.stderr, /\n\s+at /, "no stack trace");
}


/** The fixture's own frames are where its marks say. */
function checkFixtureFrames(t, d) {
  // snapshot fixtures keep the path of the checkout they were taken in: compare from test/ on
  const tail = `${path.sep}test${path.sep}fixtures${path.sep}${path.basename(FIXTURE_PATH)}`;
  const all = d.threads.flatMap((th) => th.frames).filter((f) => f.file === FIXTURE_PATH || f.file.endsWith(tail));
  const lines = new Set(all.map((f) => f.line));
  for (const mark of ["MAIN_WAIT", "WORKER_PARK", "DEEP_SLEEP", "RECURSE", "PRODUCE", "CONSUME", "LOCALS_SLEEP"]) {
    t.ok(lines.has(M[mark]), `a frame at ${mark} (line ${M[mark]})`);
  }
  t.equal(d.threads.length, 5, "five threads");
}

/** Starts the fixture in folder dir with core dumps allowed (the kernel writes "core" there). */

const REQUIRED = ["pyenv 3.9", "pyenv 3.12", "pyenv 3.13", "provisioned 3.15", "provisioned 3.13t"];
const labels = [...REQUIRED, ...EXPECTED_PYTHONS.filter((l) => !REQUIRED.includes(l))];

for (const label of labels) {
  const py = findByLabel(label);
  t.test(`live, ${REQUIRED.includes(label) ? "gcore, " : ""}kernel core and snapshot agree: ${label}`, { skip: py ? false : missingReason(label) }, async (t) => {
    const dir = mkdtempSync(path.join(tmp, "run-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const fx = await startInFolder(py.path, FIXTURE, dir);
    t.teardown(fx.kill);
    const pid = fx.pid;

    const live = parseJson(t, await wspy(["dump", "-p", String(pid), "--json"]), "live dump");
    const snapFile = path.join(dir, "app.snapshot");
    const snapRun = await wspy(["snapshot", "-p", String(pid), "-o", snapFile]);
    t.equal(snapRun.code, 0, `snapshot exits 0 (${snapRun.stderr.trim()})`);
    t.match(snapRun.stderr, /wrote snapshot of process \d+ \(5 threads/);

    let gcoreFile = null, gcoreBroken = false;
    const withGcore = REQUIRED.includes(label); // gcore writes every page (300 MB here): the required versions only
    if (hasGcore && withGcore) {
      const g = spawnSync("gcore", ["-o", path.join(dir, "gcore"), String(pid)], { encoding: "utf8", timeout: 60000 });
      gcoreFile = path.join(dir, `gcore.${pid}`);
      if (!existsSync(gcoreFile)) {
        t.fail(`gcore wrote no core: ${g.stderr}`);
        gcoreFile = null;
      }
      // gdb 13 leaves out a whole memory section it cannot read in one go, as glibc 2.41's guard pages make thread stacks
      // (the vsyscall page at 0xffffffffff600000 always fails, and holds nothing wspy reads)
      gcoreBroken = /Memory read failed for corefile section, \d+ bytes at 0x(?!ffffffffff600000)/.test(`${g.stdout}${g.stderr}`);
    }

    const { file: kernelFile, reason: noKernelCore } = await kernelCoreOf(t, fx, dir);

    t.ok(live, "live dump");
    if (!live) return;
    checkFixtureFrames(t, live);
    const want = goldenOf(live);

    const snap = parseJson(t, await wspy(["dump", "--snapshot", snapFile, "--json"]), "dump --snapshot");
    t.same(goldenOf(snap), want, "the snapshot shows the live frames");
    t.same(Object.keys(snap), Object.keys(live), "same JSON fields (snapshot)");
    t.same(Object.keys(snap.threads[0]), Object.keys(live.threads[0]), "same thread fields (snapshot)");
    t.equal(snap.pid, live.pid, "snapshot: the pid");
    t.same(snap.command, live.command, "snapshot: the command");
    t.ok(statSync(snapFile).size < 300 * 1024, `snapshot is small (${statSync(snapFile).size} bytes)`);

    // gcore runs on the REQUIRED versions only (it writes every page, 300 MB here): the test's
    // title says which; kernel cores and snapshots are compared on every version
    if (withGcore && !hasGcore) t.skip("gcore: not installed (gdb's gcore)");
    else if (gcoreFile) {
      const r = await wspy(["dump", "--core", gcoreFile, "--json"]);
      const core = parseJson(t, r, "dump --core (gcore)");
      if (gcoreBroken) {
        // wspy must say so instead of showing cut stacks as if whole
        t.match(r.stderr, /holds no stack memory for thread/, "gcore left thread stacks out: wspy warns");
        // the threads whose stacks gcore kept show the live frames; the others show no frames
        // rather than a cut stack passed off as whole (the kernel core below has every stack)
        t.equal(core.threads.length, live.threads.length, "gcore core: every thread listed");
        const cut = [];
        core.threads.forEach((th, i) => {
          const liveFrames = goldenOf(live).stacks[i];
          const coreFrames = goldenOf(core).stacks[i];
          if (coreFrames.length === 0 && th.error) cut.push(th.tid);
          else t.same(coreFrames, liveFrames, `gcore core: thread ${th.tid} shows the live frames`);
        });
        t.ok(cut.length < core.threads.length, `gcore kept some thread stacks (without: ${cut.join(", ") || "none"})`);
      } else {
        t.same(goldenOf(core), want, "the gcore core shows the live frames");
        t.equal(r.stderr, "", "no warnings");
      }
      t.same(Object.keys(core), Object.keys(live), "same JSON fields (core)");
      t.equal(core.pid, live.pid, "core: the pid");
      t.same(core.command, live.command, "core: the whole command line");
      t.equal(core.binary, live.binary, "core: the interpreter's file");
      const text = await wspy(["dump", "--core", gcoreFile]);
      t.equal(text.code, 0, "text form exits 0");
      t.match(text.stdout, new RegExp(`^Process ${pid}: `), "text form: the process line");
      t.match(text.stdout, /\n {4}main_wait \(/, "text form: frames");
      rmSync(gcoreFile, { force: true });
    }

    if (noKernelCore) t.skip(`kernel core: ${noKernelCore}`);
    else if (kernelFile) {
      const r = await wspy(["dump", "--core", kernelFile, "--json"]);
      const core = parseJson(t, r, "dump --core (kernel)");
      t.same(goldenOf(core), want, "the kernel's core shows the live frames");
      t.same(core.command, live.command, "kernel core: the command line");
      t.same(Object.keys(core.threads[0]), Object.keys(live.threads[0]), "same thread fields (core)");
    }
  });
}

// ---- committed snapshots: every version decodes everywhere ----

const fixtures = existsSync(SNAPSHOTS) ? readdirSync(SNAPSHOTS).filter((f) => f.endsWith(".snapshot")).sort() : [];

t.test("a snapshot fixture for every expected interpreter", async (t) => {
  for (const label of EXPECTED_PYTHONS) {
    const prefix = label.replace(/\s+/g, "-");
    // a free-threaded label ("provisioned 3.13t") names files like provisioned-3.13.15t.snapshot
    const ft = prefix.endsWith("t");
    const base = ft ? prefix.slice(0, -1) : prefix;
    const named = (f) => ft ? f.startsWith(`${base}.`) && f.endsWith("t.snapshot")
      : (f === `${prefix}.snapshot` || f.startsWith(`${prefix}.`)) && !f.endsWith("t.snapshot");
    t.ok(fixtures.some(named), `${prefix}*.snapshot (make it with test/fixtures/snapshots/make.mjs)`);
  }
});

// decoded in-process (the library dump --snapshot calls, `lib`): a dozen CLI runs would be slow on a busy machine
for (const f of fixtures) {
  t.test(`snapshot fixture decodes to its golden stacks: ${f}`, async (t) => {
    const file = path.join(SNAPSHOTS, f);
    const golden = JSON.parse(readFileSync(file.replace(/\.snapshot$/, ".golden.json"), "utf8"));
    const quiet = { notice: (l) => t.comment(l) };
    const d = lib.dumpSnapshotFile(file, quiet);
    t.same(goldenOf(d), golden, "frames and thread count as recorded");
    t.notOk(d.threads.some((th) => th.error), "no thread has an error");
    checkFixtureFrames(t, d);
    // the fixtures were taken with --locals: parked_locals's variables are there
    const l = lib.dumpSnapshotFile(file, { ...quiet, locals: 1 });
    const frame = l.threads.flatMap((th) => th.frames).find((fr) => fr.line === M.LOCALS_SLEEP);
    t.ok(frame?.locals, "parked_locals has locals");
    const names = (frame?.locals ?? []).map((v) => v.name);
    for (const n of ["count", "label", "ratio", "names"]) t.ok(names.includes(n), `local ${n}`);
    t.match(JSON.stringify(frame?.locals ?? []), /"value":"7"/, "count = 7");
  });
}

t.test("the CLI decodes a snapshot fixture, as text and as JSON", { skip: fixtures.length ? false : "no fixtures" }, async (t) => {
  const file = path.join(SNAPSHOTS, fixtures.find((f) => f.startsWith("pyenv-3.12")) ?? fixtures[0]);
  const golden = JSON.parse(readFileSync(file.replace(/\.snapshot$/, ".golden.json"), "utf8"));
  const d = parseJson(t, await wspy(["dump", "--snapshot", file, "--json"]), "dump --snapshot --json");
  t.same(goldenOf(d), golden, "the golden stacks");
  const text = await wspy(["dump", "--snapshot", file]);
  t.equal(text.code, 0, "text form exits 0");
  t.match(text.stdout, /^Process \d+: .*offline_fixture\.py/, "text form: the process line");
  t.match(text.stdout, /\n {4}recurse \(.*offline_fixture\.py:\d+\)/, "text form: frames");
  const l = await wspy(["dump", "--snapshot", file, "-l"]);
  t.match(l.stdout, /\n {8}count = 7\n/, "text form with --locals");
});

// ---- junk ----

t.test("junk input: one clear line and a non-zero exit", async (t) => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const random = path.join(tmp, "random.bin");
  writeFileSync(random, Buffer.from(Array.from({ length: 65536 }, () => Math.floor(rand() * 256))));
  const empty = path.join(tmp, "empty");
  writeFileSync(empty, "");
  const cases = [];
  for (const flag of ["--core", "--snapshot"]) {
    cases.push([["dump", flag, random], /is not (an ELF core file|a wspy snapshot)/, 2]);
    cases.push([["dump", flag, empty], /is empty/, 2]);
    cases.push([["dump", flag, path.join(tmp, "no-such-file")], /no such file/, 2]);
    cases.push([["dump", flag, tmp], /folder|regular file/, 2]);
  }
  cases.push([["dump", "--core", "/bin/true"], /\/bin\/true is .*not a core file/, 2]);
  cases.push([["dump", "--snapshot", "/bin/true"], /is an ELF file, not a wspy snapshot/, 2]);
  if (fixtures.length) {
    // a snapshot given as a core; damaged snapshots
    const aSnapshot = path.join(SNAPSHOTS, fixtures[0]);
    cases.push([["dump", "--core", aSnapshot], /is a wspy snapshot, not a core file/, 2]);
    const bytes = readFileSync(aSnapshot);
    const cut = path.join(tmp, "cut.snapshot");
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    cases.push([["dump", "--snapshot", cut], /damaged wspy snapshot: it is truncated/, 2]);
    const newer = path.join(tmp, "newer.snapshot");
    writeFileSync(newer, Buffer.concat([Buffer.from("wspy-snapshot 99\n"), bytes.subarray(bytes.indexOf(10) + 1)]));
    cases.push([["dump", "--snapshot", newer], /format 99; this wspy reads format 1/, 6]);
  }
  // the command line
  cases.push([["dump"], /dump needs a process/, 2]);
  cases.push([["dump", "-p", "1", "--core", random], /give one of/, 2]);
  cases.push([["dump", "--snapshot", random, "--exe", "/bin/true"], /--exe and --sysroot go with --core/, 2]);
  cases.push([["dump", "--core", random, "--subprocesses"], /--subprocesses needs a running process/, 2]);
  cases.push([["snapshot", "-p", "999999999", "-o", path.join(tmp, "x.snapshot")], /no process with pid 999999999/, 3]);
  cases.push([["snapshot", "-p", "1", "-o", path.join(tmp, "no-such-folder", "x.snapshot")], /cannot write .*no-such-folder/, 2]);
  const results = await Promise.all(cases.map(([args]) => wspy(args)));
  results.forEach((r, i) => t.test(cases[i][0].join(" "), async (t) => oneLine(t, r, cases[i][1], cases[i][2])));
});

t.test("a core of a program that is not Python", { skip: hasGcore ? false : "gdb's gcore is not installed" }, async (t) => {
  // lives until killed; "spawn" is emitted once the exec has succeeded (libuv waits for it)
  const child = spawn("sleep", [String(FIXTURE_LIFETIME)]);
  t.teardown(() => child.kill("SIGKILL"));
  await new Promise((r) => child.once("spawn", r));
  const prefix = path.join(tmp, "sleep");
  spawnSync("gcore", ["-o", prefix, String(child.pid)], { encoding: "utf8", timeout: 60000 });
  const file = `${prefix}.${child.pid}`;
  t.ok(existsSync(file), "gcore wrote a core");
  oneLine(t, await wspy(["dump", "--core", file]), new RegExp(`core file .* \\(sleep ${FIXTURE_LIFETIME}\\) is not a Python process`), 5);
  rmSync(file, { force: true });
});

// ---- cores from another machine: --sysroot and --exe ----

t.test("--sysroot and --exe find the files of a core from elsewhere", { skip: !hasGcore ? "gdb's gcore is not installed" : !findByLabel("pyenv 3.12") ? missingReason("3.12") : false }, async (t) => {
  const py = findByLabel("pyenv 3.12");
  const fx = await startFixture(py.path, FIXTURE, [FIXTURE_LIFETIME]);
  t.teardown(fx.kill);
  const live = parseJson(t, await wspy(["dump", "-p", String(fx.pid), "--json"]), "live dump");
  const prefix = path.join(tmp, "py312");
  spawnSync("gcore", ["-o", prefix, String(fx.pid)], { encoding: "utf8", timeout: 60000 });
  fx.kill();
  const file = `${prefix}.${fx.pid}`;
  t.teardown(() => rmSync(file, { force: true }));
  const libFile = live.binary; // libpython3.12.so.1.0, as the process saw it
  // an empty sysroot: the interpreter's file is named as missing
  const empty = mkdtempSync(path.join(tmp, "sysroot-empty-"));
  oneLine(t, await wspy(["dump", "--core", file, "--sysroot", empty]), new RegExp(`needs the interpreter's file, but ${empty.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}${libFile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} .*is missing`), 2);
  // a sysroot holding it: the same stacks
  const root = mkdtempSync(path.join(tmp, "sysroot-"));
  mkdirSync(path.join(root, path.dirname(libFile)), { recursive: true });
  copyFileSync(libFile, path.join(root, libFile));
  const d = parseJson(t, await wspy(["dump", "--core", file, "--sysroot", root, "--json"]), "dump --core --sysroot");
  t.same(goldenOf(d), goldenOf(live), "the same frames through the sysroot");
  // a file that is not the one the process mapped is refused, named
  const wrong = path.join(mkdtempSync(path.join(tmp, "sysroot-wrong-")));
  mkdirSync(path.join(wrong, path.dirname(libFile)), { recursive: true });
  copyFileSync("/bin/true", path.join(wrong, libFile));
  oneLine(t, await wspy(["dump", "--core", file, "--sysroot", wrong]), /is not the file the process had mapped/, 2);
});

t.test("--exe: a static interpreter moved elsewhere", { skip: !hasGcore ? "gdb's gcore is not installed" : !findByLabel("debian 3.11") ? missingReason("debian 3.11") : false }, async (t) => {
  const py = findByLabel("debian 3.11"); // /usr/bin/python3.11: the interpreter is in the executable
  const fx = await startFixture(py.path, FIXTURE, [FIXTURE_LIFETIME]);
  t.teardown(fx.kill);
  const live = parseJson(t, await wspy(["dump", "-p", String(fx.pid), "--json"]), "live dump");
  const prefix = path.join(tmp, "deb311");
  spawnSync("gcore", ["-o", prefix, String(fx.pid)], { encoding: "utf8", timeout: 60000 });
  fx.kill();
  const file = `${prefix}.${fx.pid}`;
  t.teardown(() => rmSync(file, { force: true }));
  const moved = path.join(tmp, "python3.11-elsewhere");
  copyFileSync(py.path, moved);
  const d = parseJson(t, await wspy(["dump", "--core", file, "--exe", moved, "--json"]), "dump --core --exe");
  t.same(goldenOf(d), goldenOf(live), "the same frames with --exe");
  oneLine(t, await wspy(["dump", "--core", file, "--exe", "/bin/true"]), /\/bin\/true \(for \/usr\/bin\/python3\.11\) is not the file the process had mapped/, 2);
});
