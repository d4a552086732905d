// Signals to a recording wspy (README "Usage": nothing lost): SIGHUP (the terminal closed) and
// SIGQUIT end a `record -p PID` like Ctrl-C: exit 0, the summary, the profile written whole, no
// temp file left, the target still running. SIGUSR1 does not open Node's inspector (a debugger
// port on 127.0.0.1:9229 would let any local user run code as wspy's user, often root): nothing
// of wspy listens on 9229 after it, and the recording goes on. (SIGINT and SIGTERM: lifecycle.test.mjs.)
import t from "tap";
import { readFileSync, readdirSync, readlinkSync, existsSync } from "node:fs";
import path from "node:path";
import { startFixture } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";
import { whenSampling, wspyBounded } from "./helpers/sampling.mjs";

const LABELS = ["pyenv 3.12", "pyenv 2.7"];
const FIXTURE = "gil_threads.py"; // worker-a spins in spin(); the others sleep
const SPIN = /^.*spin \(.*gil_threads\.py:\d+\) (\d+)$/gm;

/** Samples of spin() in a raw profile, or -1 when the file is missing. */
function spinSamples(file) {
  if (!existsSync(file)) return -1;
  let n = 0;
  for (const m of readFileSync(file, "utf8").matchAll(SPIN)) n += Number(m[1]);
  return n;
}

/** Socket inodes listening on TCP port 9229 (IPv4 and IPv6). */
function listeners9229() {
  const out = new Set();
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try { text = readFileSync(f, "utf8"); } catch { continue; }
    for (const line of text.split("\n").slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 9 && c[1].endsWith(":2405") && c[3] === "0A") out.add(c[9]);
    }
  }
  return out;
}

/** Does process pid hold a socket listening on 9229? */
function listensOn9229(pid) {
  const inodes = listeners9229();
  if (!inodes.size) return false;
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        return !!m && inodes.has(m[1]);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

async function stopsLikeCtrlC(t, python, signal) {
  const dir = t.testdir();
  const out = path.join(dir, "out.txt");
  const fx = await startFixture(python.path, FIXTURE, [120, "busy"]);
  t.teardown(() => fx.kill());
  let sent = false;
  const r = await wspyBounded(["record", "-p", String(fx.pid), "-o", out, "-f", "raw"], {
    onSpawn: (child) => whenSampling(child, fx.pid).then((ok) => { sent = ok && child.kill(signal); if (!ok) child.kill("SIGKILL"); }),
  });
  t.ok(sent, `${signal} sent while wspy sampled`);
  t.equal(r.signal, null, `wspy was not killed by ${signal}`);
  t.equal(r.code, 0, `exit 0 ${r.stderr}`);
  t.match(r.stderr, /^wspy: interrupted; \d+ samples/m, "the summary says it was interrupted");
  t.match(r.stderr, /wrote raw to /, "and that the profile was written");
  t.ok(spinSamples(out) > 0, `the profile has samples of spin() (${spinSamples(out)})`);
  t.same(readdirSync(dir).filter((n) => n.endsWith(".tmp")), [], "no temp file left");
  t.ok(existsSync(`/proc/${fx.pid}`), "the target still runs");
}

async function usr1(t, python) {
  const dir = t.testdir();
  const out = path.join(dir, "out.txt");
  const fx = await startFixture(python.path, FIXTURE, [120, "busy"]);
  t.teardown(() => fx.kill());
  let sent = false, listened = false, sampledAfter = false;
  const r = await wspyBounded(["record", "-p", String(fx.pid), "-o", out, "-f", "raw"], {
    onSpawn: (child) => whenSampling(child, fx.pid).then(async (ok) => {
      if (!ok) return void child.kill("SIGKILL");
      sent = child.kill("SIGUSR1");
      // Node's inspector would listen within milliseconds; watch for 2 s while wspy goes on
      const t0 = Date.now();
      while (Date.now() - t0 < 2000) {
        if (listensOn9229(child.pid)) listened = true;
        await new Promise((res) => setTimeout(res, 50));
      }
      sampledAfter = await whenSampling(child, fx.pid, 0, 5000);
      child.kill("SIGINT");
    }),
  });
  t.ok(sent, "SIGUSR1 sent while wspy sampled");
  t.notOk(listened, "nothing of wspy listened on port 9229 after SIGUSR1");
  t.notMatch(r.stderr, /Debugger listening/, "no inspector started");
  t.ok(sampledAfter, "wspy still sampled after SIGUSR1");
  t.equal(r.signal, null, "wspy was not killed by SIGUSR1");
  t.equal(r.code, 0, `exit 0 after the SIGINT that ended it ${r.stderr}`);
  t.ok(spinSamples(out) > 0, `the profile has samples of spin() (${spinSamples(out)})`);
}

for (const label of LABELS) {
  const python = findByLabel(label);
  if (!python) {
    t.skip(`${label}: ${missingReason(label)}`);
    continue;
  }
  t.test(`${python.label} (${python.path})`, async (t) => {
    t.test("SIGHUP (the terminal closed) keeps the profile", (t) => stopsLikeCtrlC(t, python, "SIGHUP"));
    t.test("SIGQUIT keeps the profile", (t) => stopsLikeCtrlC(t, python, "SIGQUIT"));
    t.test("SIGUSR1 opens no inspector and the recording goes on", (t) => usr1(t, python));
  });
}
