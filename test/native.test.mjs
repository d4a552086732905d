// `--native` against real interpreters and gdb: on every interpreter of this machine, the spinext
// C extension (test/fixtures/native/spinext.c) is built for it and native_stacks.py runs Python ->
// C -> Python callbacks, a generator consumed by list() calling a C spin with the GIL released, a
// generator consumed by a for loop, and a C-only pthread. `wspy dump --native-all` must give, per
// thread, the same physical frames (pcs, in order) as gdb's backtrace of the same process (gdb is
// the oracle: inlined and tail-call frames folded away), and `wspy dump --native` the merged order
// a user expects. Also: numpy's BLAS under Debian's python3.11, `record --native` proportions, and
// `-X perf` trampolines (3.12+).
// Must not know: wspy's internals (only its CLI and JSON).
// Source of truth: docs/native-stacks.md §5–6; README "Native stacks".
import t from "tap";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { wspy, startFixture, marks } from "./helpers/run.mjs";
import { EXPECTED_PYTHONS, findByLabel, missingReason } from "./helpers/pythons.mjs";
import { buildSpinext, gdbStacks } from "./helpers/native.mjs";

const FIX = "native_stacks.py";
const M = marks(FIX);

/** Polls `wspy dump` (args) until check(json) holds; returns the last dump. */
async function dumpUntil(args, check, tries = 40) {
  let last = null;
  for (let i = 0; i < tries; i++) {
    const r = await wspy(["dump", ...args, "--json"]);
    if (r.code === 0) {
      last = JSON.parse(r.stdout);
      if (check(last)) return last;
    }
    await new Promise((res) => setTimeout(res, 250));
  }
  return last;
}

const names = (th) => th.frames.map((f) => f.name);
const byName = (d, n) => d.threads.find((th) => th.name === n);
const mainThread = (d) => byName(d, "MainThread");
/** Does the thread's frame list hold these names in this order (innermost first), not necessarily adjacent? */
function inOrder(th, wanted) {
  if (!th) return false;
  let k = 0;
  for (const n of names(th)) if (n === wanted[k]) k++;
  return k === wanted.length;
}
/** Is the thread asleep inside fn: fn there, and only native frames inside it (not between its start and its sleep)? */
function asleepIn(th, fn) {
  const i = th ? names(th).indexOf(fn) : -1;
  return i > 0 && th.frames.slice(0, i).every((f) => f.native);
}
// (a thread can be seen between the event the fixture waits for and its sleep: on a loaded machine
// for long; the dump is taken again until every thread is where it parks)
const ready = (d) => inOrder(mainThread(d), ["leaf_sleep", "py_cb", "call_back_into_python", "spinext_callback", "via_c"])
  && asleepIn(mainThread(d), "leaf_sleep")
  && inOrder(byName(d, "gen-list"), ["spin_inner", "spin_outer", "spinext_spin", "gen_spin", "list_driver"])
  && inOrder(byName(d, "gen-for"), ["gen_sleep", "for_driver"]) && asleepIn(byName(d, "gen-for"), "gen_sleep")
  && inOrder(byName(d, "spinext-c"), ["c_only_sleep", "c_only_thread"]);

/** The physical frames wspy unwound (natives, eval frames included with --native-all), as pcs. */
const physicalPcs = (th) => th.frames.filter((f) => f.native).map((f) => BigInt(f.native.pc));

for (const label of EXPECTED_PYTHONS) {
  t.test(`dump --native on ${label}`, async (t) => {
    const reason = missingReason(label.replace(/^(pyenv|provisioned) /, ""));
    const py = findByLabel(label);
    if (!py) return t.skip(reason ?? `${label} not found`);
    const dir = buildSpinext(py);
    const fx = await startFixture(py.path, FIX, [], { env: { PYTHONPATH: dir } });
    t.teardown(() => fx.kill());

    // the merged order, as a user reads it
    const d = await dumpUntil(["-p", fx.pid, "--native"], ready);
    t.ok(d && ready(d), "every thread shows its C and Python frames in call order");
    if (!d || !ready(d)) return;
    const main = mainThread(d);
    t.ok(main.frames[0].native, `the innermost frame of the sleeping main thread is native (${main.frames[0].name})`);
    const leaf = names(main).indexOf("leaf_sleep");
    t.ok(main.frames.slice(0, leaf).every((f) => f.native), "only C frames above leaf_sleep (the sleep)");
    t.equal(main.frames[leaf].line, M.leaf_sleep, "leaf_sleep at its sleep line");
    const cb = names(main).indexOf("call_back_into_python");
    t.equal(main.frames[cb - 1].name, "py_cb", "py_cb right inside the C callback");
    t.equal(main.frames[cb - 1].line, M.py_cb, "py_cb at its line");
    t.equal(main.frames[names(main).indexOf("spinext_callback") + 1].name, "via_c", "the C function right inside via_c");
    t.equal(main.frames[names(main).indexOf("via_c")].line, M.via_c, "via_c at the callback line");
    const gl = byName(d, "gen-list");
    const spin = names(gl).indexOf("spinext_spin");
    t.equal(gl.frames[spin + 1].name, "gen_spin", "the C spin right inside gen_spin (a generator resumed by list())");
    t.equal(gl.frames[spin + 1].line, M.gen_spin, "gen_spin at its spin line");
    t.ok(names(gl).indexOf("list_driver") > spin + 1, "list_driver outside the generator");
    const gf = byName(d, "gen-for");
    const gs = names(gf).indexOf("gen_sleep");
    t.ok(gs > 0 && gf.frames.slice(0, gs).every((f) => f.native), "only C frames above gen_sleep");
    t.equal(gf.frames[gs + 1].name, "for_driver", "for_driver right outside gen_sleep (a generator resumed by a for loop)");
    const c = byName(d, "spinext-c");
    t.ok(c.frames.every((f) => f.native), "the C-only thread: native frames only");
    t.notOk(d.threads.some((th) => th.nativeMismatch), "no thread's frames failed to pair up");

    // the physical frames, against gdb's, thread by thread; gen-list spins in C with short
    // returns to Python between calls: both reads must find it inside spin_outer, called from the
    // same place (list()'s first call of the generator and its later ones are two call sites:
    // a loaded machine may put one read before the first return and the other after), else both
    // are read again
    const inSpin = (frames, n) => frames.some((f) => n(f) === "spin_outer");
    const cut = (frames, n) => frames.findIndex((f) => n(f) === "spin_outer");
    const fromSpin = (w, g) => [physicalPcs(w).slice(cut(w.frames.filter((f) => f.native), (f) => f.name)).join(),
      g.frames.map((f) => f.pc).slice(cut(g.frames, (f) => f.symbol ?? f.name)).join()];
    let all = null, gdb = null;
    for (let attempt = 0; attempt < 10; attempt++) {
      all = await dumpUntil(["-p", fx.pid, "--native-all"], ready);
      gdb = await gdbStacks(fx.pid);
      const wl = all && byName(all, "gen-list"), gl = wl && gdb.find((g) => g.tid === wl.tid);
      if (wl && gl && inSpin(wl.frames, (f) => f.name) && inSpin(gl.frames, (f) => f.symbol ?? f.name)) {
        const [a, b] = fromSpin(wl, gl);
        if (a === b) break;
      }
    }
    t.equal(gdb.length, all.threads.length, `gdb and wspy see the same threads (${gdb.length})`);
    for (const g of gdb) {
      const w = all.threads.find((th) => th.tid === g.tid);
      if (!w) { t.fail(`thread ${g.tid} missing from wspy's dump`); continue; }
      let ours = physicalPcs(w), theirs = g.frames.map((f) => f.pc);
      if (w.name === "gen-list") {
        // spinning: its innermost frames move between the two reads; from spin_outer outward they do not
        const io = cut(w.frames.filter((f) => f.native), (f) => f.name), ig = cut(g.frames, (f) => f.symbol ?? f.name);
        ours = ours.slice(io); theirs = theirs.slice(ig);
      }
      t.same(ours.map((p) => "0x" + p.toString(16)), theirs.map((p) => "0x" + p.toString(16)), `thread ${w.name || g.tid}: wspy's physical frames equal gdb's (${theirs.length})`);
    }
    // the target runs on, untraced
    const status = readFileSync(`/proc/${fx.pid}/status`, "utf8");
    t.match(status, /TracerPid:\s+0\n/, "not traced afterwards");
    t.notMatch(status, /State:\s+t/, "not stopped afterwards");
  });
}

t.test("numpy: a matrix product shows BLAS frames above the Python line (Debian python3.11)", async (t) => {
  const py = findByLabel("debian 3.11");
  if (!py) return t.skip(missingReason("debian 3.11") ?? "Debian's python3.11 not found");
  const fx = await startFixture(py.path, "native_numpy.py");
  t.teardown(() => fx.kill());
  const m = marks("native_numpy.py");
  const d = await dumpUntil(["-p", fx.pid, "--native"], (d) => {
    const th = byName(d, "matmul");
    if (!th) return false;
    const i = names(th).indexOf("matmul_loop");
    return i > 0 && th.frames.slice(0, i).some((f) => f.native && /blas|numpy|multiarray/i.test(f.native.module));
  }, 80);
  const th = d && byName(d, "matmul");
  t.ok(th, "the matmul thread is there");
  if (!th) return;
  const i = names(th).indexOf("matmul_loop");
  t.ok(i > 0, "matmul_loop under native frames");
  t.equal(th.frames[i].line, m.matmul, "at the `a @ b` line");
  const natives = th.frames.slice(0, i);
  t.ok(natives.every((f) => f.native), "only native frames above it");
  t.ok(natives.some((f) => /blas/i.test(f.native.module) || /gemm/i.test(f.name)), `BLAS among them: ${natives.map((f) => f.name).join(" < ")}`);
  t.ok(natives.some((f) => /multiarray/.test(f.native.module)), "numpy's _multiarray_umath among them");
});

t.test("record --native: a 3:1 split between a C function and a Python function", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const dir = buildSpinext(py);
  const fx = await startFixture(py.path, FIX, ["burn"], { env: { PYTHONPATH: dir } });
  t.teardown(() => fx.kill());
  const tmp = mkdtempSync(path.join(tmpdir(), "wspy-native-"));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const out = path.join(tmp, "burn.txt");
  // enough samples for a share within 5 points: ~2,000 at 400 Hz
  const r = await wspy(["record", "-p", fx.pid, "--native", "-r", "400", "-d", "6", "-f", "raw", "-o", out]);
  t.equal(r.code, 0, `record exits 0: ${r.stderr}`);
  t.match(r.stderr, /stopped \d+ µs per sample/, "the summary gives the pause per sample");
  const lines = readFileSync(out, "utf8").trim().split("\n").map((l) => {
    const i = l.lastIndexOf(" ");
    return { stack: l.slice(0, i), n: Number(l.slice(i + 1)) };
  });
  const total = lines.reduce((s, l) => s + l.n, 0);
  const inC = lines.filter((l) => /;burn_c_loop \(spinext[^;]*\)$/.test(l.stack)).reduce((s, l) => s + l.n, 0);
  const inPy = lines.filter((l) => /;py_work \([^;]*\)$/.test(l.stack)).reduce((s, l) => s + l.n, 0);
  t.ok(total >= 1000, `enough samples (${total})`);
  t.ok(lines.some((l) => /c_work \([^;]*\);spinext_burn \(spinext[^;]*\);burn_c_loop/.test(l.stack)), "burn_c_loop sits under c_work, through spinext_burn");
  const share = inC / (inC + inPy);
  t.ok(Math.abs(share - 0.75) <= 0.05, `C's share of C + Python ${(100 * share).toFixed(1)}% within 5 points of 75% (${inC} vs ${inPy})`);
});

t.test("-X perf trampolines merge like plain frames (3.12+)", async (t) => {
  for (const label of ["pyenv 3.12", "pyenv 3.13", "provisioned 3.14", "provisioned 3.15"]) {
    const py = findByLabel(label);
    if (!py) { t.skip(`${label}: ${missingReason(label.replace(/^(pyenv|provisioned) /, "")) ?? "not found"}`); continue; }
    const dir = buildSpinext(py);
    const fx = await startFixture(py.path, FIX, [], { env: { PYTHONPATH: dir }, prefixArgs: ["-X", "perf"] });
    const d = await dumpUntil(["-p", fx.pid, "--native"], ready);
    t.ok(d && ready(d), `${label} -X perf: every thread in call order`);
    t.notOk(d?.threads.some((th) => th.nativeMismatch), `${label} -X perf: every thread's frames paired up`);
    fx.kill();
    if (existsSync(`/tmp/perf-${fx.pid}.map`)) rmSync(`/tmp/perf-${fx.pid}.map`, { force: true });
  }
});

t.test("record --native: every format carries the native frames; top --native shows them", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const dir = buildSpinext(py);
  const fx = await startFixture(py.path, FIX, ["burn"], { env: { PYTHONPATH: dir } });
  t.teardown(() => fx.kill());
  const tmp = mkdtempSync(path.join(tmpdir(), "wspy-native-fmt-"));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const rec = path.join(tmp, "burn.wspy");
  const r = await wspy(["record", "-p", fx.pid, "--native", "-r", "200", "-d", "2", "-f", "wspy", "-o", rec]);
  t.equal(r.code, 0, `record -f wspy: ${r.stderr}`);
  const conv = async (format) => {
    const out = path.join(tmp, `out.${format}`);
    const c = await wspy(["convert", rec, "-f", format, "-o", out]);
    t.equal(c.code, 0, `convert -f ${format}: ${c.stderr}`);
    return readFileSync(out);
  };
  const ss = JSON.parse((await conv("speedscope")).toString("utf8"));
  t.ok(ss.shared.frames.some((f) => f.name.startsWith("burn_c_loop") && /spinext/.test(f.file ?? f.name)), "speedscope: burn_c_loop with its object");
  const ct = JSON.parse((await conv("chrometrace")).toString("utf8"));
  const events = Array.isArray(ct) ? ct : ct.traceEvents;
  t.ok(events.some((e) => /burn_c_loop/.test(e.name ?? "")), "chrometrace: burn_c_loop events");
  const svg = (await conv("flamegraph")).toString("utf8");
  t.match(svg, /burn_c_loop/, "flame graph: burn_c_loop");
  const pprof = path.join(tmp, "out.pprof");
  await conv("pprof");
  const { spawnSync } = await import("node:child_process");
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.status !== 0) t.skip("`go` is not installed (Debian package golang-go): go tool pprof not run");
  else {
    const top = spawnSync("go", ["tool", "pprof", "-top", "-sample_index=samples", pprof], { encoding: "utf8", env: { ...process.env, PPROF_TMPDIR: tmp }, timeout: 120000 });
    t.equal(top.status, 0, top.stderr);
    t.match(top.stdout, /burn_c_loop/, "go tool pprof -top lists burn_c_loop");
    const raw = spawnSync("go", ["tool", "pprof", "-raw", pprof], { encoding: "utf8", env: { ...process.env, PPROF_TMPDIR: tmp }, timeout: 120000 });
    t.match(raw.stdout.split(/^Mappings/m)[1] ?? "", /spinext\.cpython-312/, "go tool pprof -raw: the extension is a mapping of its own");
  }
  const top = await wspy(["top", "-p", fx.pid, "--native", "--plain", "--delay", "0.5", "-d", "2", "--rows", "8"]);
  t.equal(top.code, 0, `top --native --plain exits 0: ${top.stderr}`);
  t.match(top.stdout, /burn_c_loop/, "top --native: burn_c_loop among the rows");
  t.match(readFileSync(`/proc/${fx.pid}/status`, "utf8"), /TracerPid:\s+0\n/, "not traced afterwards");
});

t.test("record --native with --threads --function --gil --idle --subprocesses", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const dir = buildSpinext(py);
  const fx = await startFixture(py.path, FIX, ["burn"], { env: { PYTHONPATH: dir } });
  t.teardown(() => fx.kill());
  const tmp = mkdtempSync(path.join(tmpdir(), "wspy-native-opts-"));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const out = path.join(tmp, "o.txt");
  const r = await wspy(["record", "-p", fx.pid, "--native", "--threads", "--function", "--gil", "--idle", "--subprocesses", "-r", "200", "-d", "2", "-f", "raw", "-o", out]);
  t.equal(r.code, 0, `exits 0: ${r.stderr}`);
  const text = readFileSync(out, "utf8");
  const lines = text.trim().split("\n");
  t.ok(lines.length > 0 && lines.every((l) => /^process \d+: /.test(l)), "every stack under its process root (--subprocesses)");
  t.ok(lines.every((l) => /;thread MainThread \(\d+\);/.test(l)), "under the thread root (--threads; --gil: only the GIL holder, the main thread)");
  t.ok(lines.some((l) => /;spinext_burn \(spinext[^;]*\);burn_c_loop \(spinext[^;]*\) \d+$/.test(l)), "native frames under their Python caller");
  const pyLines = lines.map((l) => l.replace(/ \d+$/, "").split(";").filter((f) => /\(\S*native_stacks\.py/.test(f))).flat();
  t.ok(pyLines.length > 0 && pyLines.every((f) => /native_stacks\.py:\d+\)$/.test(f)), "Python frames at their function's first line (--function)");
  const fnLines = new Set(pyLines.filter((f) => f.startsWith("c_work ")));
  t.equal(fnLines.size, 1, `one frame per function: ${[...fnLines].join(", ")}`);
});

t.test("--native: bad input in one line", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const { oneLine } = await import("./helpers/run.mjs");
  const fx = await startFixture(py.path, "known_stacks.py");
  t.teardown(() => fx.kill());
  oneLine(t, await wspy(["dump", "-p", fx.pid, "--native", "--nonblocking"]), 2, /--native pauses the target's threads .* cannot go with --nonblocking/);
  oneLine(t, await wspy(["record", "-p", fx.pid, "--native", "--async", "-d", "1", "-o", path.join(tmpdir(), `wspy-never-${process.pid}.svg`)]), 2, /--native and --async cannot be combined yet/);
  if (process.getuid() !== 0) return t.skip("needs root to run wspy as a throwaway user (setpriv)");
  const { spawnAsOther } = await import("./helpers/sampling.mjs");
  const { CLI } = await import("./helpers/run.mjs");
  const r = await new Promise((resolve) => {
    const c = spawnAsOther([process.execPath, CLI, "dump", "-p", String(fx.pid), "--native"]);
    let stderr = "", stdout = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("close", (code) => resolve({ code, stderr, stdout }));
  });
  oneLine(t, r, 4, /permission denied/);
  t.match(readFileSync(`/proc/${fx.pid}/status`, "utf8"), /TracerPid:\s+0\n/, "the target is not traced");
});

t.test("C++ frames are demangled", async (t) => {
  for (const label of ["pyenv 3.12", "debian 3.11", "provisioned 3.14"]) {
    const py = findByLabel(label);
    if (!py) { t.skip(`${label}: ${missingReason(label.replace(/^(pyenv|provisioned) /, "")) ?? "not found"}`); continue; }
    const dir = buildSpinext(py);
    const fx = await startFixture(py.path, FIX, ["cxx"], { env: { PYTHONPATH: dir } });
    const want = ["wspy_fixture::Napper<double>::nap(double)", "cxx_nap_entry", "spinext_cxx_nap", "cxx_nap"];
    const d = await dumpUntil(["-p", fx.pid, "--native"], (d) => inOrder(mainThread(d), want));
    fx.kill();
    const main = d && mainThread(d);
    t.ok(main && inOrder(main, want), `${label}: the C++ method by its demangled name, under its C caller and the Python line: ${main ? names(main).slice(0, 6).join(" < ") : "no dump"}`);
    t.notOk(main?.frames.some((f) => /^_Z/.test(f.name)), `${label}: no mangled name left`);
  }
});

t.test("record --native of a program that ends while threads run, or takes signals: the recording ends with it (no hang), its exit status kept", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const { wspyBounded } = await import("./helpers/sampling.mjs");
  const tmp = mkdtempSync(path.join(tmpdir(), "wspy-native-end-"));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  // the thread group leader exits while another thread still runs: its exit is reported only after
  // that thread's, which a tracer waiting on the leader alone would never take
  const prog = "import threading, time\ndef work():\n    end = time.time() + 0.8\n    while time.time() < end: pass\nthreading.Thread(target=work).start()\ntime.sleep(0.3)\n";
  for (let i = 0; i < 5; i++) {
    const out = path.join(tmp, `end${i}.svg`);
    const r = await wspyBounded(["record", "--native", "-r", "500", "-o", out, "--", py.path, "-c", prog], { timeoutMs: 60000 });
    t.equal(r.code, 0, `run ${i}: ends with the program: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`);
    t.ok(existsSync(out), `run ${i}: the profile is written`);
  }
  // a program that takes signals (a 2 ms timer, SIGCHLD from its subprocesses) while traced: each
  // signal stops a traced thread for its tracer, a report Node's own child handling must never see
  const sigProg = "import signal, subprocess, sys, time\nn = 0\ndef h(s, f):\n    global n\n    n += 1\nsignal.signal(signal.SIGALRM, h)\nsignal.setitimer(signal.ITIMER_REAL, 0.002, 0.002)\nend = time.time() + 1.5\nwhile time.time() < end:\n    subprocess.run(['true'])\nsignal.setitimer(signal.ITIMER_REAL, 0)\nsys.exit(3 if n > 0 else 1)\n";
  for (const mode of ["--native", "--blocking"]) {
    const out = path.join(tmp, `sig${mode}.svg`);
    const r = await wspyBounded(["record", mode, "-r", "200", "-o", out, "--", py.path, "-c", sigProg], { timeoutMs: 60000 });
    t.equal(r.code, 3, `${mode}: the program's own exit status, after its signal handler ran: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`);
    t.match(r.stderr, /target exited; [1-9]\d* samples/, `${mode}: recorded until it ended`);
  }
});
