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

/**
 * As root, the device cases run in a mount namespace of their own over a private /dev (a tmpfs
 * with its own null, full and stdout), so that a broken wspy (one that replaces what it is told
 * to write) can only damage that copy, never the machine's /dev. Not as root: the real /dev,
 * which such a wspy could not replace anyway.
 */
const PRIVATE_DEV_SETUP = [
  "mount -t tmpfs -o mode=755 wspy-test-dev /dev",
  "mknod -m 666 /dev/null c 1 3", "mknod -m 666 /dev/full c 1 7", "mknod -m 666 /dev/zero c 1 5",
  "mknod -m 666 /dev/random c 1 8", "mknod -m 666 /dev/urandom c 1 9",
  "ln -s /proc/self/fd/0 /dev/stdin", "ln -s /proc/self/fd/1 /dev/stdout", "ln -s /proc/self/fd/2 /dev/stderr", "ln -s /proc/self/fd /dev/fd",
].join(" && ");
const privateDev = isRoot && spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", `${PRIVATE_DEV_SETUP} && test -c /dev/null`]).status === 0;

/** Runs wspy (args) and reports what `name` was afterwards ("character special file 1,3", "symbolic link"...). */
function withDev(dir, name, args, env) {
  const statFile = path.join(dir, `stat-${path.basename(name)}`);
  const script = isRoot
    ? `${PRIVATE_DEV_SETUP} && { "$0" "$@"; rc=$?; stat -c "%F %t,%T" "${name}" > "${statFile}"; exit $rc; }`
    : `"$0" "$@"; rc=$?; stat -c "%F %t,%T" "${name}" > "${statFile}"; exit $rc`;
  const argv = isRoot ? ["unshare", ["-m", "--propagation", "private", "sh", "-c", script, process.execPath, CLI, ...args]]
    : ["sh", ["-c", script, process.execPath, CLI, ...args]];
  return new Promise((resolve) => {
    const c = spawn(argv[0], argv[1], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    const killer = setTimeout(() => c.kill("SIGKILL"), 60000);
    let stdout = "", stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("close", (code) => {
      clearTimeout(killer);
      let after = "";
      try { after = readFileSync(statFile, "utf8").trim(); } catch { /* not run */ }
      resolve({ code, stdout, stderr, after });
    });
  });
}

t.test("devices and pipes are written to, never replaced", { skip: noPython || (isRoot && !privateDev ? "as root, these cases need a private /dev (unshare -m, mount tmpfs) so that a broken wspy cannot replace the machine's" : false) }, async (t) => {
  const dir = t.testdir();
  const state = path.join(dir, "state");
  const fx = await startFixture(python.path, "gil_threads.py", [120, "busy"]);
  t.teardown(() => fx.kill());
  const args = (out) => ["record", "-p", String(fx.pid), "-d", "1", "-f", "raw", "-o", out];
  const rec = (out) => wspyBounded(args(out), { env: { XDG_STATE_HOME: state } });
  const where = isRoot ? "in a private /dev" : "the real /dev";

  t.test("/dev/null stays a character device", async (t) => {
    const r = await withDev(dir, "/dev/null", args("/dev/null"), { XDG_STATE_HOME: state });
    t.equal(r.code, 0, `exit 0 ${r.stderr}`);
    t.equal(r.after, "character special file 1,3", `/dev/null is still the null device (${where})`);
  });

  t.test("-o /dev/stdout writes the profile on stdout", async (t) => {
    const r = await withDev(dir, "/dev/stdout", args("/dev/stdout"), { XDG_STATE_HOME: state });
    t.equal(r.code, 0, `exit 0 ${r.stderr}`);
    t.match(r.stdout, /spin \(.*gil_threads\.py:\d+\) \d+/, "stdout has the raw profile");
    t.match(r.after, /^symbolic link/, `/dev/stdout is still a link (${where})`);
  });

  t.test("/dev/full: one clear line, exit 9, the profile kept", async (t) => {
    const r = await withDev(dir, "/dev/full", args("/dev/full"), { XDG_STATE_HOME: state });
    t.equal(r.code, 9, `exit 9 ${r.stderr}`);
    checkKept(t, keptPath(t, r, /\/dev\/full \(no space left on the device\)/), path.join(state, "wspy"));
    t.equal(r.after, "character special file 1,7", `/dev/full is still the full device (${where})`);
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
    // the reader ends when wspy closes the pipe; if wspy replaced the FIFO, the reader waits forever
    const unread = setTimeout(() => reader.kill("SIGKILL"), 20000);
    await closed;
    clearTimeout(unread);
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
