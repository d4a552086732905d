// Safe outputs (README "Security"): wspy, even as root in a folder another user can write,
// never writes through a symbolic link nor replaces anything but a regular file; a device or a
// pipe named as output is written to, not replaced; when the output cannot be written the
// profile is kept in a private file elsewhere (its path printed, exit 9); snapshots are 0600,
// profiles 0666 less the umask. Every case records a real fixture (gil_threads.py: a spinning thread, sleeping ones)
// into real files.
import t from "tap";
import { spawn, spawnSync } from "node:child_process";
import {
  writeFileSync, readFileSync, lstatSync, statSync, readlinkSync, readdirSync, mkdirSync, chownSync, chmodSync,
  rmSync, symlinkSync, existsSync,
} from "node:fs";
import path from "node:path";
import { wspy, startFixture, CLI } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";
import { whenSampling, wspyBounded, runAsOther, OTHER_UID } from "./helpers/sampling.mjs";

const python = findByLabel("pyenv 3.12") ?? findByLabel("debian 3.11");
const isRoot = process.getuid() === 0;
const noPython = python ? false : missingReason("3.12");
const needsRoot = noPython || (isRoot ? false : "needs root: the danger is root writing into a folder another user controls");

/** The error line: one line starting "wspy: cannot write", naming where the profile was kept. */
function keptPath(t, r, pattern) {
  t.notMatch(r.stderr, /\n\s+at /, "no stack trace");
  const lines = r.stderr.trim().split("\n");
  const last = lines[lines.length - 1];
  t.match(last, /^wspy: cannot write /, `the last line says the output could not be written: ${last}`);
  t.match(last, pattern);
  t.equal(lines.filter((l) => /cannot write/.test(l)).length, 1, "said once, in one line");
  const m = / is kept in (\/\S+?)[ (]/.exec(last) ?? / is kept in (\/\S+)$/.exec(last);
  t.ok(m, "the line names where the profile was kept");
  return m ? m[1] : null;
}

/** A kept profile: private (0600, ours), and a real raw profile of the fixture. */
function checkKept(t, file, dir) {
  if (!file) return;
  t.ok(file.startsWith(dir + path.sep), `kept under ${dir} (${file})`);
  const st = lstatSync(file);
  t.ok(st.isFile(), "the kept profile is a regular file");
  t.equal(st.mode & 0o777, 0o600, "mode 0600");
  t.equal(st.uid, process.getuid(), "owned by wspy's user");
  t.match(readFileSync(file, "utf8"), /spin \(.*gil_threads\.py:\d+\) \d+/, "it holds the profile (samples of spin)");
}

function mode(file) {
  return statSync(file).mode & 0o777;
}

t.test("planted symbolic links (old temp names, the output name) in a folder another user owns: the victim is unchanged, the profile kept", { skip: needsRoot }, async (t) => {
  const dir = t.testdir({ "victim.txt": "precious\n" });
  const victim = path.join(dir, "victim.txt");
  const victimMode = lstatSync(victim).mode;
  const box = path.join(dir, "box");
  mkdirSync(box);
  chownSync(box, OTHER_UID, OTHER_UID);
  chmodSync(box, 0o755);
  const state = path.join(dir, "state");
  const out = path.join(box, "out.txt");
  const fx = await startFixture(python.path, "gil_threads.py", [120, "busy"]);
  t.teardown(() => fx.kill());
  let planted = false;
  const r = await wspyBounded(["record", "-p", String(fx.pid), "-o", out, "-f", "raw"], {
    env: { XDG_STATE_HOME: state },
    onSpawn: (child) => {
      whenSampling(child, fx.pid).then((ok) => {
        if (!ok) return void child.kill("SIGKILL");
        // the other user plants links at the names wspy used to write (.NAME.PID.tmp) and at the output
        runAsOther(["ln", "-s", victim, path.join(box, `.out.txt.${child.pid}.tmp`)]);
        runAsOther(["ln", "-s", victim, out]);
        planted = true;
        child.kill("SIGINT");
      });
    },
  });
  t.ok(planted, "links planted while wspy recorded");
  t.equal(readFileSync(victim, "utf8"), "precious\n", "the victim file is unchanged");
  t.equal(lstatSync(victim).mode, victimMode, "the victim's mode is unchanged");
  t.ok(lstatSync(out).isSymbolicLink() && readlinkSync(out) === victim, "the planted link at the output name was not replaced");
  t.equal(r.code, 9, `exit 9 (the output could not be written) ${r.stderr}`);
  t.match(r.stderr, /interrupted; \d+ samples/, "the summary is printed");
  const kept = keptPath(t, r, /out\.txt \(it is a symbolic link/);
  checkKept(t, kept, path.join(state, "wspy"));
  t.equal(mode(path.join(state, "wspy")) & 0o077, 0, "the state folder is private (0700)");
  t.same(readdirSync(box).sort(), [`.out.txt.${r.pid}.tmp`, "out.txt"], "no temp file of wspy is left in the folder");
});

t.test("a symbolic link at the output name before the start is refused at once, by every writing command", { skip: needsRoot }, async (t) => {
  const dir = t.testdir({ "victim.txt": "precious\n" });
  const victim = path.join(dir, "victim.txt");
  const link = path.join(dir, "link.out");
  symlinkSync(victim, link);
  const fx = await startFixture(python.path, "gil_threads.py", [120, "busy"]);
  t.teardown(() => fx.kill());
  const recording = path.join(dir, "run.wspy");
  const rec = await wspyBounded(["record", "-p", String(fx.pid), "-d", "1", "-f", "wspy", "-o", recording]);
  t.equal(rec.code, 0, `a recording to convert ${rec.stderr}`);
  const cases = [
    ["record", ["record", "-p", String(fx.pid), "-d", "1", "-o", link]],
    ["snapshot", ["snapshot", "-p", String(fx.pid), "-o", link]],
    ["convert", ["convert", recording, "-f", "raw", "-o", link]],
    ["tables export", ["tables", "export", "-p", String(fx.pid), "-o", link]],
  ];
  for (const [name, args] of cases) {
    const r = await wspyBounded(args, { env: { XDG_STATE_HOME: path.join(dir, "state") } });
    t.equal(r.code, 2, `${name}: exit 2 ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    t.equal(lines.length, 1, `${name}: one line: ${r.stderr.trim()}`);
    t.match(lines[0], /^wspy: will not write .*link\.out: it is a symbolic link/, `${name}: says why`);
    t.equal(readFileSync(victim, "utf8"), "precious\n", `${name}: the victim file is unchanged`);
    t.ok(lstatSync(link).isSymbolicLink(), `${name}: the link is still a link`);
  }
});

t.test("devices and pipes are written to, never replaced", { skip: noPython }, async (t) => {
  const dir = t.testdir();
  const state = path.join(dir, "state");
  const fx = await startFixture(python.path, "gil_threads.py", [120, "busy"]);
  t.teardown(() => fx.kill());
  const rec = (out) => wspyBounded(["record", "-p", String(fx.pid), "-d", "1", "-f", "raw", "-o", out], { env: { XDG_STATE_HOME: state } });

  t.test("/dev/null stays a character device", async (t) => {
    const before = statSync("/dev/null");
    const r = await rec("/dev/null");
    t.equal(r.code, 0, `exit 0 ${r.stderr}`);
    const after = lstatSync("/dev/null");
    t.ok(after.isCharacterDevice(), "/dev/null is a character device");
    t.equal(after.rdev, before.rdev, "the same device (1,3)");
  });

  t.test("-o /dev/stdout writes the profile on stdout", async (t) => {
    const r = await rec("/dev/stdout");
    t.equal(r.code, 0, `exit 0 ${r.stderr}`);
    t.match(r.stdout, /spin \(.*gil_threads\.py:\d+\) \d+/, "stdout has the raw profile");
  });

  t.test("/dev/full: one clear line, exit 9, the profile kept", async (t) => {
    const r = await rec("/dev/full");
    t.equal(r.code, 9, `exit 9 ${r.stderr}`);
    checkKept(t, keptPath(t, r, /\/dev\/full \(no space left on the device\)/), path.join(state, "wspy"));
    t.ok(lstatSync("/dev/full").isCharacterDevice(), "/dev/full is still a character device");
  });

  t.test("a FIFO gets the data", { skip: spawnSync("mkfifo", ["--version"]).status !== 0 ? "no mkfifo" : false }, async (t) => {
    const fifo = path.join(dir, "pipe");
    spawnSync("mkfifo", [fifo]);
    const reader = spawn("cat", [fifo], { stdio: ["ignore", "pipe", "ignore"] });
    t.teardown(() => reader.kill("SIGKILL"));
    let data = "";
    reader.stdout.on("data", (d) => (data += d));
    const closed = new Promise((resolve) => reader.on("close", resolve));
    const r = await rec(fifo);
    t.equal(r.code, 0, `exit 0 ${r.stderr}`);
    await closed;
    t.match(data, /spin \(.*gil_threads\.py:\d+\) \d+/, "the reader got the raw profile");
    t.ok(lstatSync(fifo).isFIFO(), "the FIFO is still a FIFO");
  });
});

t.test("the output folder vanishes while recording: the profile is kept, private, and the path printed", { skip: noPython }, async (t) => {
  const dir = t.testdir();
  const fx = await startFixture(python.path, "gil_threads.py", [120, "busy"]);
  t.teardown(() => fx.kill());
  const run = async (env) => {
    const gone = path.join(dir, `gone-${Object.keys(env).join("-")}`);
    mkdirSync(gone);
    let removed = false;
    const r = await wspyBounded(["record", "-p", String(fx.pid), "-f", "raw", "-o", path.join(gone, "out.txt")], {
      env,
      onSpawn: (child) => whenSampling(child, fx.pid).then((ok) => {
        if (!ok) return void child.kill("SIGKILL");
        rmSync(gone, { recursive: true });
        removed = true;
        child.kill("SIGINT");
      }),
    });
    t.ok(removed, "the folder was removed while wspy recorded");
    t.equal(r.code, 9, `exit 9 ${r.stderr}`);
    return keptPath(t, r, /out\.txt \(ENOENT: the folder .* no longer exists\)/);
  };
  // $XDG_STATE_HOME/wspy first
  checkKept(t, await run({ XDG_STATE_HOME: path.join(dir, "xdg") }), path.join(dir, "xdg", "wspy"));
  // else ~/.local/state/wspy, created 0700
  const home = path.join(dir, "home");
  mkdirSync(home);
  checkKept(t, await run({ XDG_STATE_HOME: "", HOME: home }), path.join(home, ".local", "state", "wspy"));
  t.equal(mode(path.join(home, ".local", "state", "wspy")), 0o700, "~/.local/state/wspy created 0700");
  // state folders that are links (to a victim's folder) are not followed: the temp dir, last
  const victimDir = path.join(dir, "victim-dir");
  mkdirSync(victimDir);
  const xdg2 = path.join(dir, "xdg2"), home2 = path.join(dir, "home2"), tmp = path.join(dir, "tmp");
  mkdirSync(xdg2);
  mkdirSync(path.join(home2, ".local", "state"), { recursive: true });
  mkdirSync(tmp);
  symlinkSync(victimDir, path.join(xdg2, "wspy"));
  symlinkSync(victimDir, path.join(home2, ".local", "state", "wspy"));
  checkKept(t, await run({ XDG_STATE_HOME: xdg2, HOME: home2, TMPDIR: tmp }), tmp);
  t.same(readdirSync(victimDir), [], "nothing written through the linked state folders");
});

t.test("modes: profiles 0666 less the umask, snapshots 0600", { skip: noPython }, async (t) => {
  const dir = t.testdir();
  const fx = await startFixture(python.path, "gil_threads.py", [120, "busy"]);
  t.teardown(() => fx.kill());
  const withUmask = (umask, args) => new Promise((resolve) => {
    const c = spawn("sh", ["-c", `umask ${umask}; exec "$0" "$@"`, process.execPath, CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    c.stderr.on("data", (d) => (stderr += d));
    c.on("close", (code) => resolve({ code, stderr }));
  });
  const p022 = path.join(dir, "p022.txt"), p027 = path.join(dir, "p027.txt"), snap = path.join(dir, "s.snapshot");
  let r = await withUmask("022", ["record", "-p", String(fx.pid), "-d", "1", "-f", "raw", "-o", p022]);
  t.equal(r.code, 0, r.stderr);
  t.equal(mode(p022), 0o644, "a profile under umask 022 is 0644");
  r = await withUmask("027", ["record", "-p", String(fx.pid), "-d", "1", "-f", "raw", "-o", p027]);
  t.equal(r.code, 0, r.stderr);
  t.equal(mode(p027), 0o640, "a profile under umask 027 is 0640");
  writeFileSync(snap, "old", { mode: 0o644 });
  r = await withUmask("022", ["snapshot", "-p", String(fx.pid), "-l", "-o", snap]);
  t.equal(r.code, 0, r.stderr);
  t.equal(mode(snap), 0o600, "a snapshot is 0600 under umask 022, even replacing a 0644 file");
  t.notOk(readFileSync(snap).equals(Buffer.from("old")), "the snapshot replaced the old file");
  const dump = await wspy(["dump", "--snapshot", snap]);
  t.equal(dump.code, 0, `the snapshot reads back ${dump.stderr}`);
  t.match(dump.stdout, /spin/, "with the fixture's stack");
  t.notOk(existsSync(path.join(dir, "state")), "nothing kept elsewhere");
});
