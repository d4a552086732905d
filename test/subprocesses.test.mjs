// `--subprocesses`: following a process tree, each process under a root frame
// `process PID: "command line"`, each with its own core (and maybe its own Python version).
//  - a multiprocessing pool of 3 workers (mp_pool.py, attached with -p): every worker's
//    pool_work() is found, each under its own process root, none under the parent's;
//  - a child started after the recording began (late_child.py: subprocess.call of
//    sys.executable, launched with `record -s -- python ...`) is picked up;
//  - dump -s shows the workers too.
import t from "tap";
import { readFileSync } from "node:fs";
import path from "node:path";
import { wspy, startFixture, FIXTURE_LIFETIME } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

function parseCollapsed(text) {
  return text.split("\n").filter((l) => l.length > 0).map((l) => {
    const sp = l.lastIndexOf(" ");
    return { frames: l.slice(0, sp).split(";"), count: Number(l.slice(sp + 1)) };
  });
}
const rootPid = (frame) => Number(/^process (\d+): "/.exec(frame)?.[1] ?? NaN);

for (const label of ["pyenv 2.7", "provisioned 3.14"]) { // 3.14: forkserver workers (grandchildren)
  const python = findByLabel(label);
  t.test(`multiprocessing pool: ${label}`, { skip: python ? false : missingReason(label.split(" ")[1]) }, async (t) => {
    const dir = t.testdir();
    const fx = await startFixture(python.path, "mp_pool.py", [FIXTURE_LIFETIME], { timeout: 60000 });
    t.teardown(() => fx.kill());
    const out = path.join(dir, "pool.txt");
    const r = await wspy(["record", "-p", String(fx.pid), "-s", "-d", "3", "-f", "raw", "-o", out]);
    t.equal(r.code, 0, `record -s exits 0 ${r.stderr}`);
    const stacks = parseCollapsed(readFileSync(out, "utf8"));
    t.ok(stacks.length > 0, "stacks recorded");
    t.same(stacks.filter((s) => !/^process \d+: ".*"$/.test(s.frames[0])), [], "every stack starts with its process root");
    const workers = new Set();
    for (const s of stacks) {
      if (!s.frames.some((f) => /^pool_work \(/.test(f))) continue;
      workers.add(rootPid(s.frames[0]));
    }
    t.notOk(workers.has(fx.pid), "pool_work never under the parent's root");
    t.equal(workers.size, 3, `pool_work found under 3 worker processes: ${[...workers].join(", ")}`);
    t.match(r.stderr, /samples from \d+ processes/, "the summary counts the processes");

    const d = await wspy(["dump", "-p", String(fx.pid), "-s", "--json"]);
    t.equal(d.code, 0, `dump -s exits 0 ${d.stderr}`);
    const j = JSON.parse(d.stdout);
    const dumped = (j.subprocesses ?? []).filter((p) => p.threads.some((th) => th.frames.some((f) => f.name === "pool_work")));
    t.ok(dumped.length >= 1, `dump -s shows workers in pool_work (${dumped.length} of ${(j.subprocesses ?? []).length} children)`);
  });
}

for (const label of ["pyenv 3.12", "provisioned 3.15"]) {
  const python = findByLabel(label);
  t.test(`a child started later is picked up: ${label}`, { skip: python ? false : missingReason(label.split(" ")[1]) }, async (t) => {
    const dir = t.testdir();
    const out = path.join(dir, "late.txt");
    const r = await wspy(["record", "-s", "-f", "raw", "-o", out, "--", python.path, path.join("test", "fixtures", "late_child.py"), "1.5", "5"]);
    t.equal(r.code, 0, `record -s -- python late_child.py exits 0 ${r.stderr}`);
    const stacks = parseCollapsed(readFileSync(out, "utf8"));
    const child = stacks.filter((s) => s.frames.some((f) => /^child_spin \(/.test(f)));
    t.ok(child.length > 0, "the late child's child_spin() is in the profile");
    const pids = new Set(child.map((s) => rootPid(s.frames[0])));
    t.equal(pids.size, 1, "under one process root");
    t.match(child[0]?.frames[0] ?? "", /^process \d+: ".*-c /, "the child's root frame names its command line");
  });
}
