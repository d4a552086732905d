// Native stacks offline (--native on a core file and on a snapshot), on every interpreter found:
// test/fixtures/native_stacks.py (with the spinext C extension) runs until the live
// `dump -p PID --native` shows its known shape; then gdb's gcore takes a core, `snapshot --native`
// a snapshot, and the kernel a core (SIGABRT, written to the fixture's folder) at the end.
// `dump --core FILE --native` and `dump --snapshot FILE --native` must show the live merged
// stacks: the same threads (the C-only one too), and for the threads whose stacks stay put (main
// in leaf_sleep under spinext's call_back_into_python, gen-for asleep, the C thread spinext-c) the
// same frames, in order (name, file, line, native offset); for gen-list, which spins in C, the
// same frames from gen_spin outward, with spinext_spin above it. A snapshot taken without
// --native, asked with --native: one clear line and exit code 2 (BAD_INPUT).
// Must not know: the core, how wspy unwinds or records; it checks what a user sees (--json).
import t from "tap";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { wspy, oneLine } from "./helpers/run.mjs";
import { findPythons, EXPECTED_PYTHONS, findByLabel, missingReason } from "./helpers/pythons.mjs";
import { buildSpinext } from "./helpers/native.mjs";
import { hasGcore, kernelCoreOf, parseJson, startInFolder } from "./helpers/cores.mjs";

// a dozen interpreters, each started, dumped live four times, cored twice and snapshotted
t.setTimeout(1_500_000);
t.jobs = 2;
const FIXTURE = "native_stacks.py";
const BAD_INPUT = 2; // host/errors.ts EXIT_CODES
const tmp = mkdtempSync(path.join(os.tmpdir(), "wspy-native-offline-"));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));


/** What is compared of a frame: where it is (native frames: their object and offset too). */
const frameOf = (f) => ({ name: f.name, file: f.file, line: f.line, ...(f.native ? { offset: f.native.offset } : {}) });
const names = (th) => (th ? th.frames.map((f) => f.name) : []);

/** The fixture's threads in dump d: main, gen-list, gen-for by the tids it printed; the C-only one by its frames. */
function threadsOf(d, tids) {
  const byTid = new Map(d.threads.map((th) => [th.tid, th]));
  return {
    main: byTid.get(tids.main),
    genList: byTid.get(tids.genList),
    genFor: byTid.get(tids.genFor),
    cOnly: d.threads.find((th) => th.ident === 0 && th.frames.some((f) => f.name === "c_only_sleep")),
  };
}

/** Does dump d show the fixture's known shape? (main: leaf_sleep under call_back_into_python; the others where they park) */
function settled(d, tids) {
  const th = threadsOf(d, tids);
  const m = names(th.main);
  const leaf = m.indexOf("leaf_sleep"), cb = m.indexOf("call_back_into_python");
  return leaf >= 0 && cb > leaf && names(th.genFor).includes("gen_sleep") && names(th.genList).includes("gen_spin")
    && names(th.genList).indexOf("spinext_spin") >= 0 && !!th.cOnly;
}

/** gen-list's frames from gen_spin outward (inside it the C loop and the clock vary). */
function fromGenSpin(th) {
  const i = th ? th.frames.findIndex((f) => f.name === "gen_spin") : -1;
  return i < 0 ? null : th.frames.slice(i).map((f) => ({ name: f.name, file: f.file, ...(f.native ? { offset: f.native.offset } : {}) }));
}

/**
 * Offline dump d against the live dumps taken just before and just after it (a sleeping thread
 * wakes every 30 s: the stable threads must equal one of them). cOnlyName: the C thread's name
 * as d can know it (a core keeps no thread names).
 */
function sameAsLive(t, d, lives, tids, what) {
  t.same(d.threads.map((th) => th.tid).sort((a, b) => a - b), lives[0].threads.map((th) => th.tid).sort((a, b) => a - b), `${what}: the same threads (the C-only one too)`);
  const off = threadsOf(d, tids);
  for (const key of ["main", "genFor", "cOnly"]) {
    const got = off[key] ? off[key].frames.map(frameOf) : null;
    const want = lives.map((l) => threadsOf(l, tids)[key]).map((th) => (th ? th.frames.map(frameOf) : null));
    const match = want.find((w) => JSON.stringify(w) === JSON.stringify(got)) ?? want[0];
    t.same(got, match, `${what}: ${key} shows the live frames`);
    t.notOk(off[key]?.nativeStop, `${what}: ${key}'s native stack reaches its start`);
    t.notOk(off[key]?.nativeMismatch, `${what}: ${key}'s native and Python frames pair up`);
  }
  const spin = fromGenSpin(off.genList);
  t.ok(spin, `${what}: gen-list has gen_spin`);
  t.same(spin, fromGenSpin(threadsOf(lives[0], tids).genList), `${what}: gen-list from gen_spin outward`);
  const above = names(off.genList).slice(0, names(off.genList).indexOf("gen_spin"));
  t.ok(above.includes("spinext_spin"), `${what}: gen-list in spinext_spin above gen_spin (${above.join(", ")})`);
  t.equal(off.main?.frames.find((f) => f.name === "leaf_sleep")?.line, threadsOf(lives[0], tids).main.frames.find((f) => f.name === "leaf_sleep").line, `${what}: leaf_sleep's line`);
}

/** Starts the fixture in folder dir with core dumps allowed (the kernel writes "core" there). */


/** Polls the live `dump --native --json` until the fixture's shape shows (bounded: 120 s). */
async function waitSettled(t, pid, tids) {
  const deadline = Date.now() + 120_000;
  let last = "";
  while (Date.now() < deadline) {
    const r = await wspy(["dump", "-p", String(pid), "--native", "--json"]);
    if (r.code === 0) {
      const d = JSON.parse(r.stdout);
      if (settled(d, tids)) return d;
      last = d.threads.map((th) => `${th.tid}: ${names(th).join(" < ")}`).join("\n");
    } else {
      last = r.stderr.trim();
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  t.fail(`the live --native dump never showed the fixture's shape; last:\n${last}`);
  return null;
}

const pythons = findPythons();
for (const label of EXPECTED_PYTHONS) {
  if (!findByLabel(label)) t.test(`native stacks offline: ${label}`, { skip: missingReason(label) }, () => {});
}

for (const py of pythons) {
  t.test(`native stacks offline (gcore, kernel core, snapshot) equal live: ${py.label}`, async (t) => {
    const ext = buildSpinext(py);
    const dir = mkdtempSync(path.join(tmp, "run-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const fx = await startInFolder(py.path, FIXTURE, dir, { PYTHONPATH: ext });
    t.teardown(fx.kill);
    const pid = fx.pid;
    const line = fx.lines.find((l) => l.startsWith("tids "));
    t.ok(line, "the fixture printed its thread ids");
    const [main, genList, genFor] = line.split(" ").slice(1).map(Number);
    const tids = { main, genList, genFor };

    const before = await waitSettled(t, pid, tids);
    if (!before) return;

    // the snapshot (pauses the threads while it is taken), then gcore's core (gdb stops the process meanwhile)
    const snapFile = path.join(dir, "native.snapshot");
    const snapRun = await wspy(["snapshot", "-p", String(pid), "--native", "-o", snapFile]);
    t.equal(snapRun.code, 0, `snapshot --native exits 0 (${snapRun.stderr.trim()})`);
    t.match(snapRun.stderr, /wrote snapshot of process \d+ \(4 threads/, "the snapshot holds 4 threads, the C-only one too");
    const plainFile = path.join(dir, "plain.snapshot");
    const plainRun = await wspy(["snapshot", "-p", String(pid), "-o", plainFile]);
    t.equal(plainRun.code, 0, `snapshot without --native exits 0 (${plainRun.stderr.trim()})`);

    let gcoreFile = null, gcoreBroken = false;
    if (hasGcore) {
      const g = spawnSync("gcore", ["-o", path.join(dir, "gcore"), String(pid)], { encoding: "utf8", timeout: 120000 });
      gcoreFile = path.join(dir, `gcore.${pid}`);
      if (!existsSync(gcoreFile)) {
        t.fail(`gcore wrote no core: ${g.stderr}`);
        gcoreFile = null;
      }
      // gdb 13 leaves out a whole memory section it cannot read in one go, as glibc 2.41's guard
      // pages make thread stacks (the provisioned 3.14/3.15 run on sid's glibc); the vsyscall page
      // always fails and holds nothing wspy reads
      gcoreBroken = /Memory read failed for corefile section, \d+ bytes at 0x(?!ffffffffff600000)/.test(`${g.stdout}${g.stderr}`);
    }
    const after = parseJson(t, await wspy(["dump", "-p", String(pid), "--native", "--json"]), "live dump --native after");
    const lives = [before, ...(after ? [after] : [])];

    // the kernel's core: SIGABRT with RLIMIT_CORE unlimited (the fixture ends)
    const { file: kernelFile, reason: noKernelCore } = await kernelCoreOf(t, fx, dir);

    const snap = parseJson(t, await wspy(["dump", "--snapshot", snapFile, "--native", "--json"]), "dump --snapshot --native");
    if (snap) {
      sameAsLive(t, snap, lives, tids, "snapshot");
      const c = threadsOf(snap, tids).cOnly;
      t.equal(c?.name, "spinext-c", "snapshot: the C-only thread's OS name, as recorded");
      const text = await wspy(["dump", "--snapshot", snapFile, "--native"]);
      t.equal(text.code, 0, "snapshot: the text form exits 0");
      t.match(text.stdout, /no Python thread state \(native only\)/, "snapshot: the text form shows the C-only thread");
      // without --native the same snapshot is the Python-only dump
      const py = parseJson(t, await wspy(["dump", "--snapshot", snapFile, "--json"]), "dump --snapshot (no --native) of a --native snapshot");
      t.ok(py && py.threads.every((th) => th.frames.every((f) => !f.native)), "no native frames without --native");
    }
    const sizes = [snapFile, plainFile].map((f) => (existsSync(f) ? readFileSync(f).length : 0));
    t.comment(`${py.label}: snapshot ${sizes[0]} bytes with --native, ${sizes[1]} without`);

    oneLine(t, await wspy(["dump", "--snapshot", plainFile, "--native"]), BAD_INPUT, /taken without --native/);

    if (!hasGcore) t.skip("gcore: not installed (gdb's gcore)");
    else if (gcoreFile) {
      const r = await wspy(["dump", "--core", gcoreFile, "--native", "--json"]);
      const core = parseJson(t, r, "dump --core (gcore) --native");
      if (gcoreBroken) {
        // wspy must say so instead of showing cut stacks as whole; the main thread's stack is kept
        // (the kernel's core below has every stack)
        t.match(r.stderr, /holds no stack memory for thread/, "gcore left thread stacks out: wspy warns");
        if (core) {
          const lost = new Set(/for threads? ([\d, ]+):/.exec(r.stderr)?.[1].split(", ").map(Number) ?? []);
          t.ok(lost.size > 0 && !lost.has(tids.main), `gcore: the threads without stack memory are named, not main (${[...lost].join(", ")})`);
          for (const th of core.threads) {
            if (lost.has(th.tid)) t.match(th.nativeStop ?? "", /no memory of this thread's stack/, `gcore core: thread ${th.tid}'s native stack says it is cut`);
          }
          const m = threadsOf(core, tids).main;
          t.same(m?.frames.map(frameOf), threadsOf(before, tids).main.frames.map(frameOf), "gcore core: main shows the live frames");
        }
      } else {
        if (core) sameAsLive(t, core, lives, tids, "gcore core");
        t.equal(r.stderr, "", "gcore core: no warnings");
      }
      rmSync(gcoreFile, { force: true });
    }

    if (noKernelCore) t.skip(`kernel core: ${noKernelCore}`);
    else if (kernelFile) {
      const r = await wspy(["dump", "--core", kernelFile, "--native", "--json"]);
      const core = parseJson(t, r, "dump --core (kernel) --native");
      if (core) sameAsLive(t, core, lives, tids, "kernel core");
      rmSync(kernelFile, { force: true });
    }
  });
}
