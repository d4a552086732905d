// `--blocking`: wspy pauses the target's threads (ptrace) for each sample, and always lets go.
//  - record --blocking gives the right stacks (gil_threads.py: spin() on worker-a);
//  - dump --blocking shows every thread;
//  - afterwards no thread of the target is traced (/proc/PID/task/*/status "TracerPid:\t0") or
//    stopped (state not T/t): after a normal end, after Ctrl-C (SIGINT), after SIGTERM, and after
//    wspy is killed with SIGKILL (the kernel detaches then), the target still runs.
import t from "tap";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { wspy, startFixture, FIXTURE_LIFETIME } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

const FIXTURE = "gil_threads.py";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every thread's {tid, state, tracer} from /proc. */
function threadStates(pid) {
  const out = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      out.push({
        tid: Number(tid),
        state: /^State:\s+(\S)/m.exec(status)?.[1] ?? "?",
        tracer: Number(/^TracerPid:\s+(\d+)/m.exec(status)?.[1] ?? -1),
        raw: /^TracerPid:.*$/m.exec(status)?.[0] ?? "",
      });
    } catch { /* a thread that just ended */ }
  }
  return out;
}

/** The target is free: no thread traced or stopped; checked a few times over 300 ms. */
async function assertFree(t, pid, when) {
  let bad = [];
  for (let i = 0; i < 3; i++) {
    await sleep(100);
    const states = threadStates(pid);
    if (states.length === 0) { t.fail(`${when}: the target is gone`); return; }
    bad = states.filter((s) => s.raw !== "TracerPid:\t0" || s.state === "T" || s.state === "t");
    if (bad.length) break;
  }
  t.same(bad, [], `${when}: every thread has TracerPid 0 and is not stopped`);
  t.ok(readFileSync(`/proc/${pid}/stat`, "latin1").length > 0, `${when}: the target still runs`);
}

/** Starts `wspy record --blocking` on pid, waits until it samples, then sends it sig. */
async function interrupted(t, pid, out, sig) {
  let child;
  const done = wspy(["record", "-p", String(pid), "-o", out, "-f", "raw", "--blocking"], { onSpawn: (c) => (child = c) });
  // wait until wspy traces the target (it attaches first: that can take a while on a busy machine)
  // (a bound for the condition, not a duration: 120 s is more than a loaded machine takes)
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline && !threadStates(pid).some((s) => s.tracer === child.pid)) await sleep(50);
  t.ok(threadStates(pid).some((s) => s.tracer === child.pid), `wspy traces the target before ${sig}`);
  await sleep(500);
  child.kill(sig);
  return done;
}

for (const label of ["pyenv 2.7", "pyenv 3.12", "provisioned 3.14"]) {
  const python = findByLabel(label);
  t.test(`--blocking: ${label}`, { skip: python ? false : missingReason(label.split(" ")[1]) }, async (t) => {
    const dir = t.testdir();
    const fx = await startFixture(python.path, FIXTURE, [FIXTURE_LIFETIME, "busy"]);
    t.teardown(() => fx.kill());

    // normal end: right stacks, and let go
    const out = path.join(dir, "b.txt");
    const r = await wspy(["record", "-p", String(fx.pid), "-o", out, "-f", "raw", "-d", "2", "--blocking", "--threads"]);
    t.equal(r.code, 0, `record --blocking exits 0 ${r.stderr}`);
    const stacks = readFileSync(out, "utf8").split("\n").filter(Boolean);
    const spin = stacks.filter((l) => /^thread worker-a \(\d+\);/.test(l));
    t.ok(spin.length > 0, "worker-a sampled");
    for (const l of spin) t.match(l, /;(?:Thread\.)?_{1,2}bootstrap_inner \(threading\.py:\d+\);(?:Thread\.)?run \(threading\.py:\d+\);spin \(\S*gil_threads\.py:\d+\) \d+$/, "worker-a's stack is Thread.run → spin");
    const samples = stacks.reduce((a, l) => a + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
    // 200 asked (2 s at 100/s); each pauses every thread, and a loaded machine delivers a fraction:
    // what is checked is the stacks and the letting go, for which a few suffice
    t.ok(samples >= 10, `samples with --blocking (${samples} of 200 asked)`);
    await assertFree(t, fx.pid, "after the duration");

    const d = await wspy(["dump", "-p", String(fx.pid), "--blocking"]);
    t.equal(d.code, 0, `dump --blocking exits 0 ${d.stderr}`);
    t.equal((d.stdout.match(/^Thread /gm) ?? []).length, 4, "dump --blocking shows the 4 threads");
    t.match(d.stdout, /^\s+spin \(/m, "and the spinner in spin()");
    await assertFree(t, fx.pid, "after dump --blocking");

    const ri = await interrupted(t, fx.pid, path.join(dir, "int.txt"), "SIGINT");
    t.equal(ri.code, 0, `Ctrl-C ends record --blocking with 0 ${ri.stderr}`);
    await assertFree(t, fx.pid, "after SIGINT");

    const rt = await interrupted(t, fx.pid, path.join(dir, "term.txt"), "SIGTERM");
    t.equal(rt.code, 0, `SIGTERM ends record --blocking with 0 ${rt.stderr}`);
    await assertFree(t, fx.pid, "after SIGTERM");

    const rk = await interrupted(t, fx.pid, path.join(dir, "kill.txt"), "SIGKILL");
    t.equal(rk.signal, "SIGKILL", "wspy was killed");
    await assertFree(t, fx.pid, "after SIGKILL of wspy");
  });
}
