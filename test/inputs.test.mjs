// Every input file is bounded (README "Bounded input"): gzip bombs as a recording and a snapshot,
// /dev/zero, a link to it and a FIFO as every kind of input (recording, snapshot, core file,
// version table, a $WSPY_VERSION_TABLES entry), files over their size limit, a FIFO where a core's
// file list names the interpreter (through --sysroot and --exe), and a 1.1 GB sparse --exe. Each
// run must end (a hang is killed and fails), with one clear line and a documented exit code, its
// peak memory under a generous cap (measured by /usr/bin/time), and no raw bytes of the file in
// its message.
import t from "tap";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, symlinkSync, mkdirSync, copyFileSync, truncateSync } from "node:fs";
import { gzipSync, createGzip } from "node:zlib";
import os from "node:os";
import path from "node:path";
import { CLI, FIXTURES, startFixture } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

t.setTimeout(600_000);
const tmp = mkdtempSync(path.join(os.tmpdir(), "wspy-inputs-"));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

/** A generous cap on a refusal's peak memory (the bombs expand to 1 GiB). */
const RSS_CAP_KB = 500 * 1024;
/** A run still going after this is taken as hung, killed, and fails (no run should come near it). */
const HANG_MS = 120_000;
const TIME = "/usr/bin/time";
const hasTime = existsSync(TIME) && spawnSync(TIME, ["-f", "%M", "true"]).status === 0;
const hasGcore = spawnSync("sh", ["-c", "command -v gcore"]).status === 0;
const hasMkfifo = spawnSync("sh", ["-c", "command -v mkfifo"]).status === 0;

/** Process groups of runs still going: killed when the test ends. */
const running = new Set();
t.teardown(() => { for (const kill of running) kill(); });

/**
 * Runs wspy with args; resolves {code, signal, stdout, stderr, maxRssKb}. Under /usr/bin/time
 * (its report goes to a file, not stderr) when present; killed if it runs past HANG_MS.
 */
function run(args, env = {}) {
  const rssFile = path.join(tmp, `rss-${Math.random().toString(36).slice(2)}`);
  const argv = hasTime ? [TIME, "-o", rssFile, "-f", "%M", process.execPath, CLI, ...args] : [process.execPath, CLI, ...args];
  return new Promise((resolve) => {
    // its own process group: a hung wspy under /usr/bin/time is killed with it
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const killGroup = () => { try { process.kill(-child.pid, "SIGKILL"); } catch { /* ended */ } };
    running.add(killGroup);
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    let hung = false;
    const timer = setTimeout(() => { hung = true; killGroup(); }, HANG_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      running.delete(killGroup);
      let maxRssKb = NaN;
      try {
        maxRssKb = Number(readFileSync(rssFile, "utf8").trim().split("\n").pop());
        rmSync(rssFile, { force: true });
      } catch { /* no /usr/bin/time */ }
      resolve({ code, signal, stdout, stderr, hung, maxRssKb });
    });
  });
}

/** It ended by itself, with one line on stderr matching pattern, exit code, bounded memory, no raw bytes. */
function refused(t, r, pattern, code) {
  t.notOk(r.hung, "it ends by itself (not killed as hung)");
  t.equal(r.code, code, `exit code ${code}`);
  const lines = r.stderr.trim().split("\n");
  t.equal(lines.length, 1, `one line: ${r.stderr.trim().slice(0, 400)}`);
  t.match(lines[0], /^wspy: /);
  if (pattern) t.match(lines[0], pattern);
  t.notMatch(r.stderr, /\n\s+at /, "no stack trace");
  t.match(r.stderr, /^[\x20-\x7e\n]*$/, "printable ASCII only (no raw bytes of the file)");
  if (hasTime) t.ok(r.maxRssKb < RSS_CAP_KB, `peak memory ${Math.round(r.maxRssKb / 1024)} MB < ${RSS_CAP_KB / 1024} MB`);
}

/** 1 GiB of zeros, gzip-compressed (about 1 MB), made in pieces. */
async function gzipOfZeros(bytes) {
  const gz = createGzip({ level: 9 });
  const out = [];
  gz.on("data", (d) => out.push(d));
  const done = new Promise((r) => gz.on("end", r));
  const piece = Buffer.alloc(16 << 20);
  for (let left = bytes; left > 0; left -= piece.length) {
    if (!gz.write(left >= piece.length ? piece : piece.subarray(0, left))) await new Promise((r) => gz.once("drain", r));
  }
  gz.end();
  await done;
  return Buffer.concat(out);
}

/** A recording's fixed header (render/wspy.ts): magic, major 1, minor 0. */
function recordingHeader() {
  const h = Buffer.alloc(12);
  h.write("WSPYREC\0", "latin1");
  h.writeUInt16LE(1, 8);
  return h;
}

t.test("gzip bombs: 1 GiB of zeros as a recording and as a snapshot", { skip: hasTime ? false : "no /usr/bin/time: peak memory cannot be measured" }, async (t) => {
  const bomb = await gzipOfZeros(1 << 30);
  const rec = path.join(tmp, "bomb.wspy");
  writeFileSync(rec, Buffer.concat([recordingHeader(), bomb]));
  const snap = path.join(tmp, "bomb.snapshot");
  writeFileSync(snap, Buffer.concat([Buffer.from("wspy-snapshot 1\n"), bomb]));
  t.comment(`the bomb: ${bomb.length} bytes of gzip`);
  refused(t, await run(["convert", rec, "-o", path.join(tmp, "bomb.svg")]), /bomb\.wspy: it expands past the 256 MiB limit for a recording .*WSPY_MAX_INPUT_MB/, 2);
  t.notOk(existsSync(path.join(tmp, "bomb.svg")), "nothing written");
  refused(t, await run(["dump", "--snapshot", snap]), /bomb\.snapshot expands past the 256 MiB limit for a snapshot .*WSPY_MAX_INPUT_MB/, 2);
});

t.test("files over their size limit are refused before they are read", async (t) => {
  const rec = path.join(tmp, "huge.wspy");
  writeFileSync(rec, recordingHeader());
  truncateSync(rec, 300 * 1024 * 1024); // sparse
  refused(t, await run(["convert", rec, "-o", path.join(tmp, "huge.svg")]), /huge\.wspy is 300 MiB, over the 256 MiB limit for a recording/, 2);
  const table = path.join(tmp, "huge.json");
  writeFileSync(table, "{");
  truncateSync(table, 20 * 1024 * 1024);
  refused(t, await run(["tables", "check", table]), /version table .*huge\.json is 20 MiB, over the 16 MiB limit for a version table/, 7);
  refused(t, await run(["convert", rec, "-o", path.join(tmp, "huge.svg")], { WSPY_MAX_INPUT_MB: "lots" }), /WSPY_MAX_INPUT_MB must be a whole number/, 2);
});

t.test("/dev/zero, a link to it and a FIFO, as every kind of input", async (t) => {
  const link = path.join(tmp, "zero-link");
  symlinkSync("/dev/zero", link);
  const inputs = [["/dev/zero", /character device, not a regular file/], [link, /character device, not a regular file/]];
  if (hasMkfifo) {
    const fifo = path.join(tmp, "a-fifo");
    spawnSync("mkfifo", [fifo]);
    inputs.push([fifo, /FIFO \(named pipe\), not a regular file/]);
  } else t.comment("mkfifo missing: FIFOs not tried");
  const snapshot = path.join(FIXTURES, "snapshots", "pyenv-3.12.1.snapshot");
  for (const [file, why] of inputs) {
    const cases = [
      [["convert", file, "-o", path.join(tmp, "z.svg")], 2],
      [["view", file], 2],
      [["dump", "--snapshot", file], 2],
      [["dump", "--core", file], 2],
      [["tables", "check", file], 7],
    ];
    if (existsSync(snapshot)) cases.push([["dump", "--snapshot", snapshot, "--version-table", file], 7]);
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((r, i) => t.test(`${cases[i][0].join(" ")}`, async (t) => refused(t, r, why, cases[i][1])));
    // a plugin folder entry linking to it
    const dir = mkdtempSync(path.join(tmp, "tables-"));
    symlinkSync(file, path.join(dir, "linked.json"));
    t.test(`$WSPY_VERSION_TABLES entry linking to ${file}`, async (t) => {
      refused(t, await run(["tables", "list"], { WSPY_VERSION_TABLES: dir }), new RegExp(`linked\\.json: it is a .*not a regular file`), 7);
    });
  }
});

t.test("messages quote no raw bytes of a bad recording, snapshot or table", async (t) => {
  const esc = Buffer.from([0x1b, 0x5b, 0x32, 0x4a]); // ESC [ 2 J: clears a terminal
  // a recording whose first section tag is those bytes
  const body = Buffer.concat([esc, Buffer.alloc(4)]);
  const rec = path.join(tmp, "esc.wspy");
  writeFileSync(rec, Buffer.concat([recordingHeader(), gzipSync(body)]));
  refused(t, await run(["convert", rec, "-o", path.join(tmp, "esc.svg")]), /unreadable section tag "\\u001b\[2J"/, 2);
  // a snapshot whose header is not JSON
  const snap = path.join(tmp, "esc.snapshot");
  writeFileSync(snap, Buffer.concat([Buffer.from("wspy-snapshot 1\n"), gzipSync(Buffer.concat([Buffer.from("{"), esc, Buffer.from([0xff, 0xfe, 0x9b]), Buffer.from("\n")]))]));
  refused(t, await run(["dump", "--snapshot", snap]), /its header is not JSON \(invalid JSON/, 2);
  // tables: not JSON; an unknown key; a bad version string
  const cases = [
    [Buffer.concat([Buffer.from("{\"format\": "), esc, Buffer.from([0xc2, 0x9b]), Buffer.from("}")]), /JSON: invalid JSON/],
    [Buffer.from(JSON.stringify({ ["\u001b[2J\u009b"]: 1 })), /"\\u001b\[2J\\u009b": unknown key/],
    [Buffer.from(JSON.stringify({ format: "wspy-version-table/1", source: "x", versions: { min: "\u001b[2J", max: "3.8" }, capabilities: {}, offsets: {} })), /versions\.min: "\\u001b\[2J" is not a version/],
  ];
  for (const [i, [bytes, pattern]] of cases.entries()) {
    const f = path.join(tmp, `esc-${i}.json`);
    writeFileSync(f, bytes);
    refused(t, await run(["tables", "check", f]), pattern, 7);
  }
});

// ---- core files: a FIFO where the core's file list names the interpreter; a huge --exe ----

t.test("core files: a FIFO in the file list, a 1.1 GB --exe", {
  skip: !hasGcore ? "gdb's gcore is not installed" : !findByLabel("debian 3.11") ? missingReason("debian 3.11") : !hasMkfifo ? "mkfifo missing" : false,
}, async (t) => {
  const py = findByLabel("debian 3.11"); // /usr/bin/python3.11: the interpreter is in the executable
  const fx = await startFixture(py.path, "idle.py", [120]);
  t.teardown(fx.kill);
  // the files the process maps (what the core's NT_FILE note will list)
  const mapped = [...new Set(readFileSync(`/proc/${fx.pid}/maps`, "utf8").split("\n").map((l) => l.split(/\s+/).slice(5).join(" ")).filter((p) => p.startsWith("/")))];
  const prefix = path.join(tmp, "idle");
  spawnSync("gcore", ["-o", prefix, String(fx.pid)], { encoding: "utf8", timeout: 60000 });
  fx.kill();
  const core = `${prefix}.${fx.pid}`;
  t.teardown(() => rmSync(core, { force: true }));
  t.ok(existsSync(core), "gcore wrote a core");
  const exe = "/usr/bin/python3.11";

  // --sysroot with a FIFO planted where the core names the interpreter (and its libraries)
  const root = mkdtempSync(path.join(tmp, "sysroot-"));
  mkdirSync(path.join(root, path.dirname(exe)), { recursive: true });
  spawnSync("mkfifo", [path.join(root, exe)]);
  refused(t, await run(["dump", "--core", core, "--sysroot", root]), /needs the interpreter's file, but .*python3\.11 \(for \/usr\/bin\/python3\.11\) is left out: it is a FIFO/, 2);
  // FIFOs for every other file the core names (libc, the loader...): not needed, never waited on
  const withLibFifos = mkdtempSync(path.join(tmp, "sysroot-libs-"));
  for (const p of mapped) {
    mkdirSync(path.join(withLibFifos, path.dirname(p)), { recursive: true });
    if (p === exe) symlinkSync(exe, path.join(withLibFifos, p));
    else spawnSync("mkfifo", [path.join(withLibFifos, p)]);
  }
  t.ok(mapped.length > 1, `FIFOs planted for ${mapped.length - 1} libraries`);
  const r0 = await run(["dump", "--core", core, "--sysroot", withLibFifos, "--json"]);
  t.notOk(r0.hung, "it ends by itself");
  t.equal(r0.code, 0, `dump with FIFOs for the libraries exits 0 (${r0.stderr.trim()})`);
  t.match(r0.stdout, /idle\.py/, "the fixture's frame is there");

  // --exe naming a FIFO, /dev/zero
  refused(t, await run(["dump", "--core", core, "--exe", path.join(root, exe)]), /is left out: it is a FIFO/, 2);
  refused(t, await run(["dump", "--core", core, "--exe", "/dev/zero"]), /\/dev\/zero \(for \/usr\/bin\/python3\.11\) is left out: it is a character device/, 2);

  // the interpreter followed by zeros to 1.1 GB (sparse): read by the ranges its headers name
  const big = path.join(tmp, "python3.11-huge");
  copyFileSync(py.path, big);
  truncateSync(big, 1_100_000_000);
  const r = await run(["dump", "--core", core, "--exe", big, "--json"]);
  t.notOk(r.hung, "it ends by itself");
  t.equal(r.code, 0, `dump with a 1.1 GB --exe exits 0 (${r.stderr.trim()})`);
  let d = null;
  try { d = JSON.parse(r.stdout); } catch { t.fail(`no JSON: ${r.stdout.slice(0, 200)}`); }
  if (d) t.ok(d.threads.some((th) => th.frames.some((f) => f.file.endsWith("idle.py"))), "the fixture's frame is there");
  if (hasTime) t.ok(r.maxRssKb < RSS_CAP_KB, `peak memory ${Math.round(r.maxRssKb / 1024)} MB < ${RSS_CAP_KB / 1024} MB`);
});
