// asyncio task graphs (--async), against real interpreters and CPython's own tool:
// - dump --async of test/fixtures/asyncio_service.py (streams on loopback, gather, TaskGroup, a
//   task awaited by two, 1,000 idle tasks) on 3.11–3.15: every task, each at its exact await line,
//   and who awaits whom;
// - on 3.14/3.15 the tree equals `python -m asyncio pstree PID` of the same process (both parsed);
// - dump --async --core (gcore) and --snapshot (snapshot --async) equal the live dump;
// - record --async --idle of test/fixtures/asyncio_split.py: the waiting time splits 3:1 between
//   the two await points, within 5 points;
// - before 3.11: one clear line and the UNSUPPORTED exit code.
import t from "tap";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { wspy, startFixture, marks, oneLine, FIXTURES } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

t.setTimeout(1_200_000);
t.jobs = 2;

const SERVICE = "asyncio_service.py";
const SERVICE_FILE = path.join(FIXTURES, SERVICE);
const M = marks(SERVICE);
const SPLIT = "asyncio_split.py";
const S = marks(SPLIT);
const IDLE = 1000;
const LABELS = ["pyenv 3.11", "debian 3.11", "pyenv 3.12", "pyenv 3.13", "provisioned 3.14", "provisioned 3.15"];
const tmp = mkdtempSync(path.join(os.tmpdir(), "wspy-asyncio-"));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

function parseJson(t, r) {
  t.equal(r.code, 0, `exit 0 ${r.stderr}`);
  try {
    return JSON.parse(r.stdout);
  } catch {
    t.fail(`not JSON: ${r.stdout.slice(0, 200)} ${r.stderr}`);
    return null;
  }
}

/** The innermost frame of a task in the fixture's own file. */
const ownFrame = (task) => task.frames.find((f) => f.file === SERVICE_FILE);

/** Checks a dump --async of the service: every task, its await line, its awaiters. */
function checkService(t, d) {
  const tasks = d.tasks;
  t.ok(Array.isArray(tasks), "the dump has tasks");
  if (!tasks) return;
  const byName = new Map(tasks.map((k) => [k.name, k]));
  const name = (id) => tasks.find((k) => k.id === id)?.name;
  const at = (k, fn, line) => {
    const f = k && ownFrame(k);
    t.same(f && { name: f.name, line: f.line }, { name: fn, line }, `${k?.name}: ${fn} at line ${line}`);
  };
  // main (Task-1) gathers the named tasks; a task nobody awaits: the server's connection handler
  const main = tasks.find((k) => ownFrame(k)?.name === "main");
  t.ok(main, "main's task");
  at(main, "main", M.MAIN);
  const shared = byName.get("shared");
  at(shared, "shared_work", M.SHARED);
  t.same(shared?.awaitedBy.map(name).sort(), ["waiter-A", "waiter-B"], "shared is awaited by both waiters");
  for (const w of ["waiter-A", "waiter-B", "gatherer", "group-owner", "client"]) {
    t.same(byName.get(w)?.awaitedBy.map(name), [main?.name], `${w} is awaited by main`);
  }
  at(byName.get("waiter-A"), "waits_on", M.WAITS_ON);
  at(byName.get("gatherer"), "gather_parent", M.GATHER);
  at(byName.get("group-owner"), "group_parent", M.GROUP);
  at(byName.get("client"), "client", M.CLIENT);
  const gatherer = byName.get("gatherer"), owner = byName.get("group-owner");
  const children = tasks.filter((k) => gatherer && k.awaitedBy.includes(gatherer.id));
  t.equal(children.length, 2, "gather's two children are awaited by gatherer");
  for (const c of children) at(c, "sleeper", M.SLEEPER);
  for (const c of ["tg-child-1", "tg-child-2"]) {
    at(byName.get(c), "sleeper", M.SLEEPER);
    t.same(byName.get(c)?.awaitedBy, [owner?.id], `${c} is awaited by group-owner`);
  }
  const handler = tasks.find((k) => ownFrame(k)?.name === "handle");
  at(handler, "handle", M.SERVER_READ);
  t.same(handler?.awaitedBy, [], "nobody awaits the connection handler");
  const idle = tasks.filter((k) => /^idle-\d+$/.test(k.name));
  t.equal(idle.length, IDLE, `${IDLE} idle tasks`);
  t.equal(idle.filter((k) => ownFrame(k)?.line === M.IDLE && k.frames[0].name === "sleep").length, IDLE, "each idle task in asyncio.sleep, at its line");
  t.ok(tasks.every((k) => k.state === "pending" && k.thread === null && !k.error), "every task pending, suspended, read whole");
  t.equal(tasks.length, IDLE + 12, "no other task");
}

/** Root-to-leaf paths of a `python -m asyncio pstree`-shaped tree, sorted (sibling order aside). */
function treePaths(text) {
  const paths = [];
  const stack = [];
  for (const line of text.split("\n")) {
    const m = /^([│ ]*)[└├]── +(.*)$/u.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    stack.push(m[2].trim());
    paths.push(stack.join(" > "));
  }
  // leaves only: a path that is a prefix of another is implied by it
  const all = new Set(paths);
  return paths.filter((p) => ![...all].some((q) => q !== p && q.startsWith(p + " > "))).sort();
}

for (const label of LABELS) {
  const py = findByLabel(label);
  t.test(`dump --async: ${label}`, { skip: py ? false : missingReason(label) }, async (t) => {
    const fx = await startFixture(py.path, SERVICE, [IDLE]);
    t.teardown(fx.kill);
    const d = parseJson(t, await wspy(["dump", "-p", fx.pid, "--async", "--json"]));
    if (d) checkService(t, d);
    const text = await wspy(["dump", "-p", fx.pid, "--async"]);
    t.equal(text.code, 0);
    t.match(text.stdout, new RegExp(`Tasks: ${IDLE + 12} asyncio tasks`), "the text says how many tasks");
    t.match(text.stdout, /\(T\) waiter-A\n.*waits_on .*asyncio_service\.py:\d+\n.*\(T\) shared/u, "the tree shows shared under waiter-A");

    if (/^provisioned 3\.1[45]/.test(label)) {
      // CPython's own reader of the same graph: the trees must be the same, path for path
      const ps = spawnSync(py.path, ["-m", "asyncio", "pstree", String(fx.pid)], { encoding: "utf8", timeout: 120000, maxBuffer: 64 << 20 });
      t.equal(ps.status, 0, `pstree ran: ${ps.stderr}`);
      const theirs = treePaths(ps.stdout), ours = treePaths(text.stdout.slice(text.stdout.indexOf("Tasks:")));
      t.ok(theirs.length > IDLE, `pstree printed ${theirs.length} paths`);
      t.same(ours.filter((p) => !theirs.includes(p)), [], "no path only in dump --async's tree");
      t.same(theirs.filter((p) => !ours.includes(p)), [], "no path only in pstree's");
      t.equal(ours.length, theirs.length, "dump --async's tree equals python -m asyncio pstree's");
    }

    if (label === "pyenv 3.12" || label === "provisioned 3.14") {
      // offline: a core file of the same process gives the same tasks
      const gcore = spawnSync("gcore", ["-o", path.join(tmp, `core-${fx.pid}`), String(fx.pid)], { encoding: "utf8", timeout: 120000 });
      const file = path.join(tmp, `core-${fx.pid}.${fx.pid}`);
      if (gcore.error || !existsSync(file)) {
        t.fail(`gcore wrote no core file: ${gcore.error ?? gcore.stderr}`);
        return;
      }
      const off = parseJson(t, await wspy(["dump", "--core", file, "--async", "--json"]));
      rmSync(file, { force: true });
      const shape = (x) => x?.tasks?.map((k) => ({ id: k.id, name: k.name, frames: k.frames, awaitedBy: k.awaitedBy })).sort((a, b) => (a.id < b.id ? -1 : 1));
      t.same(shape(off), shape(d), "dump --async --core equals the live dump");
      // and a snapshot taken with --async, decoded without the process
      const snap = path.join(tmp, `snap-${fx.pid}.wspy`);
      const taken = await wspy(["snapshot", "-p", fx.pid, "--async", "-o", snap]);
      t.equal(taken.code, 0, taken.stderr);
      const fromSnap = parseJson(t, await wspy(["dump", "--snapshot", snap, "--async", "--json"]));
      t.same(shape(fromSnap), shape(d), "dump --async --snapshot equals the live dump");
      // a snapshot taken without --async says so
      const plain = snap.replace(".wspy", "-plain.wspy");
      t.equal((await wspy(["snapshot", "-p", fx.pid, "-o", plain])).code, 0);
      oneLine(t, await wspy(["dump", "--snapshot", plain, "--async"]), 2, /taken without --async/);
    }
  });
}

for (const label of ["pyenv 3.12", "provisioned 3.14"]) {
  const py = findByLabel(label);
  t.test(`record --async --idle: waiting time per await point, ${label}`, { skip: py ? false : missingReason(label) }, async (t) => {
    const fx = await startFixture(py.path, SPLIT, [20]);
    t.teardown(fx.kill);
    const out = path.join(tmp, `split-${fx.pid}.txt`);
    const r = await wspy(["record", "-p", fx.pid, "--async", "--idle", "-d", "4", "-r", "50", "-f", "raw", "-o", out]);
    t.equal(r.code, 0, r.stderr);
    let db = 0, net = 0, rooted = 0, all = 0;
    for (const line of readFileSync(out, "utf8").split("\n")) {
      const m = /^(.*) (\d+)$/.exec(line);
      if (!m) continue;
      const n = Number(m[2]);
      if (!m[1].includes(";request (")) continue;
      all += n;
      // the request's own frame right under its task's frame (3.14+ also show main above it: asyncio.wait awaits them)
      if (/(^|;)<task request-\d+>;request \(/.test(m[1])) rooted += n;
      if (new RegExp(`;database \\([^)]*${SPLIT}:${S.DATABASE}\\)`).test(m[1])) db += n;
      else if (new RegExp(`;network \\([^)]*${SPLIT}:${S.NETWORK}\\)`).test(m[1])) net += n;
    }
    t.ok(db + net >= 2000, `enough task samples: ${db + net}`);
    t.equal(rooted, all, "every request sample starts at its <task NAME> frame");
    const share = (100 * db) / (db + net);
    t.ok(Math.abs(share - 75) <= 5, `the database await holds ${share.toFixed(1)}% of the waiting (75% expected, within 5 points)`);
    t.match(r.stderr, new RegExp(`wspy: duration; \\d+ samples`), "the summary line");
  });
}

const BUSY = "asyncio_busy.py";
const B = marks(BUSY);
for (const label of ["pyenv 3.12", "provisioned 3.14"]) {
  const py = findByLabel(label);
  t.test(`a running task: marked in dump --async, its stack under its awaiters in record --async, ${label}`, { skip: py ? false : missingReason(label) }, async (t) => {
    const fx = await startFixture(py.path, BUSY);
    t.teardown(fx.kill);
    const d = parseJson(t, await wspy(["dump", "-p", fx.pid, "--async", "--json"]));
    const busy = d?.tasks?.find((k) => k.name === "busy");
    t.equal(busy?.thread, fx.pid, "busy runs in the main thread");
    // compute is somewhere in its loop (the while line or the body); busy waits on it at its line
    t.same(busy?.frames.slice(0, 2).map((f) => `${f.name}:${f.name === "compute" ? "" : f.line}`), ["compute:", `busy:${B.BUSY}`], "its frames: the thread's, from its coroutine inward");
    const main = d?.tasks?.find((k) => k.frames.some((f) => f.name === "main"));
    t.same(busy?.awaitedBy, [main?.id], "main awaits it");
    const text = await wspy(["dump", "-p", fx.pid, "--async"]);
    t.match(text.stdout, new RegExp(`\\(T\\) busy \\[running in thread ${fx.pid}\\]`), "the tree marks it running");
    const out = path.join(tmp, `busy-${fx.pid}.txt`);
    const r = await wspy(["record", "-p", fx.pid, "--async", "-d", "2", "-f", "raw", "-o", out]);
    t.equal(r.code, 0, r.stderr);
    let rooted = 0, all = 0;
    for (const line of readFileSync(out, "utf8").split("\n")) {
      const m = /^(.*) (\d+)$/.exec(line);
      if (!m || !m[1].includes(";compute (")) continue;
      all += Number(m[2]);
      if (new RegExp(`^<task ${main?.name}>;main \\([^)]*:${B.MAIN}\\);<task busy>;busy \\([^)]*:${B.BUSY}\\);compute \\(`).test(m[1])) rooted += Number(m[2]);
    }
    t.ok(all >= 50, `samples in compute: ${all}`);
    t.equal(rooted, all, "each starts at <task Task-1>, main, <task busy>, busy: the event loop's frames left out");
  });
}

for (const label of ["pyenv 3.12", "provisioned 3.14"]) {
  const py = findByLabel(label);
  t.test(`record --async --idle keeps only chains a request can have, while requests switch awaits every few ms: ${label}`, { skip: py ? false : missingReason(label) }, async (t) => {
    const fx = await startFixture(py.path, SPLIT, [50, 600, 0.003, 0.001]);
    t.teardown(fx.kill);
    const out = path.join(tmp, `fast-${fx.pid}.txt`);
    const r = await wspy(["record", "-p", fx.pid, "--async", "--idle", "-d", "3", "-r", "200", "-f", "raw", "-o", out]);
    t.equal(r.code, 0, r.stderr);
    // what a request's frame may have right under it: at the database await, database (at its
    // await, or just starting on a thread); at the network await, network; nothing else
    const callee = { [S.REQUEST_DB]: "database", [S.REQUEST_NET]: "network" };
    const possible = (stack) => {
      for (const m of stack.matchAll(/;request \([^)]*:(\d+)\);([^ ;(]+) \(/g)) {
        const want = callee[Number(m[1])];
        if (want !== undefined && m[2] !== want) return false;
      }
      return true;
    };
    let kept = 0;
    const impossible = [];
    for (const line of readFileSync(out, "utf8").split("\n")) {
      const m = /^(.*) (\d+)$/.exec(line);
      if (!m || !m[1].includes(";request (")) continue;
      kept += Number(m[2]);
      if (!possible(m[1])) impossible.push(m[1]);
    }
    t.ok(kept >= 5000, `request samples kept: ${kept}`);
    t.same(impossible, [], "no kept sample shows a request at one await over the other's callee");
  });
}

t.test("dump --async before 3.11: one line, exit UNSUPPORTED", { skip: findByLabel("pyenv 3.10") ? false : missingReason("pyenv 3.10") }, async (t) => {
  const fx = await startFixture(findByLabel("pyenv 3.10").path, "known_stacks.py", [600]);
  t.teardown(fx.kill);
  oneLine(t, await wspy(["dump", "-p", fx.pid, "--async"]), 6, /--async reads the asyncio tasks of CPython 3\.11 to 3\.15.*this is Python 3\.10/);
});
