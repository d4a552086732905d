// Edges of the command line, each a one-line answer with a documented exit code (README "Exit
// codes and errors", "Permissions and containers"):
//  - -r outside 1..10000 Hz (0.5, 1e-7, 0, 20000, "fast") and a duration that is not positive and
//    finite are refused at once (exit 2); -r 2.5 is fine;
//  - the summary's error share is "in X% of ticks", never over 100, even with --blocking -r 1000
//    on many threads (where several errors can fall in one tick);
//  - `wspy view`: `GET /%` (a malformed escape) is a 400 and the viewer keeps serving;
//  - a zombie pid "has exited" (exit 3), not "not a Python process";
//  - a target that made itself non-dumpable (prctl(PR_SET_DUMPABLE, 0)), profiled by its own
//    non-root user: exit 4 saying so, and no Yama advice on a kernel without Yama.
import t from "tap";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { wspy, startFixture, CLI, ROOT, oneLine } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";
import { spawnAsOther, OTHER_UID } from "./helpers/sampling.mjs";

const py312 = findByLabel("pyenv 3.12");
const debian = findByLabel("debian 3.11"); // outside /root: another user can run it

t.test("rate and duration are validated: one line, exit 2", async (t) => {
  const out = path.join(t.testdir(), "x.txt");
  for (const rate of ["0.5", "1e-7", "0", "20000", "fast", "-3"]) {
    for (const cmd of ["record", "top"]) {
      const r = await wspy([cmd, "-r", rate, "-p", "1", ...(cmd === "record" ? ["-o", out] : ["--plain"])]);
      oneLine(t, r, 2, /rate must be between 1 and 10000 samples per second/);
      t.notMatch(r.stderr, /Warning/, `${cmd} -r ${rate}: no Node warnings`);
    }
  }
  for (const d of ["0", "-1", "Infinity", "1e999", "soon"]) {
    oneLine(t, await wspy(["record", "-d", d, "-p", "1", "-o", out]), 2, /duration must be a positive number/);
  }
  t.notOk(existsSync(out), "nothing written");
});

t.test("a decimal rate of at least 1 records", { skip: py312 ? false : missingReason("3.12") }, async (t) => {
  const fx = await startFixture(py312.path, "gil_threads.py", [60, "busy"]);
  t.teardown(() => fx.kill());
  const out = path.join(t.testdir(), "x.txt");
  const r = await wspy(["record", "-r", "2.5", "-d", "2", "-p", String(fx.pid), "-f", "raw", "-o", out]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /\(asked 2\.5\)/, "the summary shows the rate asked");
});

t.test("the error share is of ticks and at most 100%", { skip: py312 ? false : missingReason("3.12") }, async (t) => {
  const fx = await startFixture(py312.path, "many_threads.py", [60]);
  t.teardown(() => fx.kill());
  const out = path.join(t.testdir(), "x.txt");
  const r = await wspy(["record", "--blocking", "-r", "1000", "-d", "3", "-p", String(fx.pid), "-f", "raw", "-o", out]);
  t.equal(r.code, 0, r.stderr);
  const m = /(\d+) errors \((.*); in ([\d.]+)% of ticks\)/.exec(r.stderr);
  const ticks = Number(/ (\d+) ticks at /.exec(r.stderr)?.[1]);
  if (!m) {
    t.match(r.stderr, /no errors/, `no errors this time: nothing to divide (${r.stderr.trim()})`);
    return;
  }
  const share = Number(m[3]);
  t.ok(share > 0 && share <= 100, `errors in ${share}% of ticks (≤ 100; ${m[1]} errors over ${ticks} ticks: ${m[2]})`);
  t.ok(Math.round(share * ticks / 100) <= Math.min(Number(m[1]), ticks), "ticks with an error ≤ the errors and ≤ the ticks");
});

t.test("wspy view: GET /% is a 400 and the viewer keeps serving", async (t) => {
  const dir = t.testdir();
  const json = path.join(dir, "p.speedscope.json");
  writeFileSync(json, JSON.stringify({
    $schema: "https://www.speedscope.app/file-format-schema.json",
    shared: { frames: [{ name: "main" }] },
    profiles: [{ type: "sampled", name: "t", unit: "none", startValue: 0, endValue: 1, samples: [[0]], weights: [1] }],
  }));
  const child = spawn(process.execPath, [CLI, "view", json], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  t.teardown(() => child.kill("SIGKILL"));
  const url = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/\S*)$/m.exec(out);
      if (m) resolve(m[1]);
    });
    child.on("exit", () => reject(new Error(`view exited: ${stderr}`)));
  });
  const port = new URL(url).port;
  const get = (p) => new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: p, headers: { Host: `127.0.0.1:${port}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    }).on("error", reject);
  });
  t.equal(await get("/%"), 400, "GET /% is a 400");
  t.equal(await get("/%E0%A4%A"), 400, "a truncated escape is a 400");
  t.equal(await get("/"), 200, "the viewer still serves /");
  child.kill("SIGINT");
  const { code } = await exited;
  t.equal(code, 0, "view exits 0 on SIGINT");
  t.notMatch(stderr, /URIError|\n\s+at /, "no uncaught error, no stack trace");
});

t.test("a zombie pid has exited (exit 3), it is not 'not a Python process'", { skip: py312 ? false : missingReason("3.12") }, async (t) => {
  // a Python parent that never reaps its child: the child stays a zombie while the parent sleeps
  const parent = spawn(py312.path, ["-c", [
    "import os, sys, time",
    "pid = os.fork()",
    "if pid == 0: os._exit(0)",
    "print(pid); sys.stdout.flush()",
    "time.sleep(120)",
  ].join("\n")], { stdio: ["ignore", "pipe", "ignore"] });
  t.teardown(() => parent.kill("SIGKILL"));
  const zombie = await new Promise((resolve) => parent.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
  // wait until the kernel shows it as a zombie
  const state = () => { try { return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${zombie}/status`, "utf8"))?.[1]; } catch { return null; } };
  while (state() !== "Z") await new Promise((r) => setTimeout(r, 20));
  t.pass(`pid ${zombie} is a zombie`);
  oneLine(t, await wspy(["dump", "-p", String(zombie)]), 3, new RegExp(`process ${zombie} has exited \\(a zombie its parent ${parent.pid} has not reaped\\)`));
  oneLine(t, await wspy(["record", "-p", String(zombie), "-o", path.join(t.testdir(), "z.svg")]), 3, /has exited/);
});

t.test("a non-dumpable target profiled by its own user: exit 4, says the target made itself non-dumpable", {
  skip: process.getuid() !== 0 ? "needs root to run the target and wspy as a throwaway user (setpriv)" : !debian ? missingReason("debian 3.11") : false,
}, async (t) => {
  const yama = existsSync("/proc/sys/kernel/yama/ptrace_scope");
  const runAsOtherWspy = (pid) => new Promise((resolve) => {
    const c = spawnAsOther([process.execPath, CLI, "dump", "-p", String(pid)]);
    let stderr = "", stdout = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("close", (code) => resolve({ code, stderr, stdout }));
  });
  const startAsOther = (dumpable) => new Promise((resolve, reject) => {
    const c = spawnAsOther([debian.path, "-c", [
      "import ctypes, sys, time",
      dumpable ? "" : "assert ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE, 0",
      "print('ready'); sys.stdout.flush()",
      "time.sleep(120)",
    ].join("\n")]);
    t.teardown(() => c.kill("SIGKILL"));
    c.stdout.once("data", () => resolve(c.pid));
    c.on("exit", (code) => reject(new Error(`target exited ${code}`)));
  });
  // the control: the same user reads its own dumpable process
  const ok = await runAsOtherWspy(await startAsOther(true));
  t.equal(ok.code, 0, `uid ${OTHER_UID} dumps its own dumpable process ${ok.stderr}`);
  const r = await runAsOtherWspy(await startAsOther(false));
  oneLine(t, r, 4, /permission denied reading process \d+: the target made itself non-dumpable/);
  t.match(r.stderr, /run wspy as root/, "says what to do");
  if (!yama) t.notMatch(r.stderr, /ptrace_scope/, "no Yama advice: this kernel has no Yama");
});
