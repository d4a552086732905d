// Start-up (issue "Start-up and one-shot latency"): what makes a one-shot command quick must not
// change what it prints, and must be safe as root.
//  - the installed command (package.json's bin, the bundled build/bin/wspy.js) answers --version
//    with package.json's version, and runs every command (the other tests all run it);
//  - WSPY_TRACE_STARTUP=1 prints the phases of a dump, in order, and nothing without it;
//  - the ELF facts kept across runs: for every Python on this machine, a dump that reads them
//    from the cache (no ELF parse) prints exactly what a dump that parsed printed, and what one
//    with the cache off (WSPY_NO_CACHE=1) prints;
//  - the CLI's compiled code is kept too (V8's code cache): the second run uses it; a record
//    V8 rejects (garbage after a good header) is compiled afresh and written again; of the code
//    records of other keys (old builds, other Nodes) only the newest are kept;
//  - the cache folder is private (0700, records 0600); a record that is garbage, or whose key is
//    another file's, is a miss (parsed again, and rewritten); a link planted where a record goes
//    is replaced, never followed (the file it points to is unchanged); a folder others may write
//    to is never used. Timings are the bench's (`npm run bench`, part "startup"), never asserted.
import t from "tap";
import { readFileSync, writeFileSync, readdirSync, statSync, lstatSync, symlinkSync, chmodSync, existsSync, mkdirSync, rmSync, utimesSync } from "node:fs";
import path from "node:path";
import { wspy, startFixture, CLI, ROOT } from "./helpers/run.mjs";
import { EXPECTED_PYTHONS, findPythons, findByLabel, missingReason } from "./helpers/pythons.mjs";

const PKG = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));

const traceOf = (stderr) => /^wspy-startup: (.*)$/m.exec(stderr)?.[1] ?? null;
/** A dump's threads as text lines, without what differs between runs of the same stacks. */
const framesOf = (stdout) => {
  const d = JSON.parse(stdout);
  return d.threads.map((th) => `${th.name} ${th.tid}: ${th.frames.map((f) => `${f.name} ${f.file}:${f.line}`).join(" < ")}`).sort();
};

t.test("the installed command is the bundle and answers --version", async (t) => {
  t.equal(path.relative(ROOT, CLI), PKG.bin.wspy, "the tests run package.json's bin");
  t.match(PKG.bin.wspy, /^build\/bin\//, "the bin is the bundled command");
  t.ok(statSync(CLI).mode & 0o100, "the bin is executable");
  t.match(readFileSync(CLI, "utf8"), /^#!\/usr\/bin\/env node\n/, "it starts with a node shebang");
  for (const flag of ["--version", "-V"]) {
    const r = await wspy([flag]);
    t.equal(r.code, 0, `${flag} exits 0`);
    t.equal(r.stdout, `${PKG.version}\n`, `${flag} prints package.json's version`);
  }
  const h = await wspy(["--help"]);
  t.equal(h.code, 0, "--help exits 0");
  t.match(h.stdout, /Usage: wspy/, "--help prints the usage (the CLI loaded behind the entry)");
});

t.test("the cache of ELF facts", async (t) => {
  const python = findPythons().find((p) => p.version.startsWith("3.12.")) ?? findPythons()[0];
  if (!python) return t.skip("no Python on this machine");
  const fx = await startFixture(python.path, "known_stacks.py");
  t.teardown(() => fx.kill());
  const dir = t.testdir();
  const cache = path.join(dir, "cache");
  const run = (env = {}) => wspy(["dump", "-p", String(fx.pid), "--json"], { env: { WSPY_CACHE_DIR: cache, WSPY_TRACE_STARTUP: "1", ...env } });
  const records = () => (existsSync(cache) ? readdirSync(cache).filter((f) => f.startsWith("elf-facts-")) : []);

  const quiet = await wspy(["dump", "-p", String(fx.pid)], { env: { WSPY_CACHE_DIR: cache } });
  t.equal(traceOf(quiet.stderr), null, "no trace line without WSPY_TRACE_STARTUP");
  const first = await run({ WSPY_CACHE_DIR: path.join(dir, "other") });
  t.equal(first.code, 0, "a dump exits 0");
  const trace = traceOf(first.stderr);
  t.ok(trace, `WSPY_TRACE_STARTUP prints the phases: ${trace}`);
  const names = (trace ?? "").split(" ").map((p) => p.split("=")[0]);
  t.same(names.filter((n) => ["node", "cli", "command", "tables", "located", "sampled", "written", "exit"].includes(n)),
    ["node", "cli", "command", "tables", "located", "sampled", "written", "exit"], "the phases in the order they happen");
  const times = (trace ?? "").split(" ").map((p) => Number(p.split("=")[1]));
  t.same(times, [...times].sort((a, b) => a - b), "each phase ends after the one before");

  const expected = framesOf((await run({ WSPY_NO_CACHE: "1", WSPY_CACHE_DIR: path.join(dir, "nocache") })).stdout);
  t.notOk(existsSync(path.join(dir, "nocache")), "WSPY_NO_CACHE=1 makes no folder");

  // the quiet dump above parsed and kept the facts
  t.equal(records().length, 1, "one record for the interpreter's ELF file");
  t.equal(statSync(cache).mode & 0o777, 0o700, "the folder is 0700");
  t.equal(statSync(path.join(cache, records()[0])).mode & 0o777, 0o600, "the record is 0600");
  const cached = await run();
  t.equal(cached.code, 0, "a dump from the cache exits 0");
  t.notMatch(traceOf(cached.stderr), /elf-parsed/, "the ELF file was not parsed");
  t.same(framesOf(cached.stdout), expected, "it prints what a dump without the cache prints");

  // the code cache: written by the first run, used by the next; one V8 rejects is written again
  const codeRecords = () => readdirSync(cache).filter((f) => f.startsWith("code-"));
  t.equal(codeRecords().length, 1, "one code cache record");
  t.equal(statSync(path.join(cache, codeRecords()[0])).mode & 0o777, 0o600, "the code cache is 0600");
  t.match(traceOf(cached.stderr), /code-cached=/, "the CLI's code came from the cache");
  const codeFile = path.join(cache, codeRecords()[0]);
  const codeBytes = readFileSync(codeFile);
  const head = codeBytes.indexOf(0, codeBytes.indexOf(0, codeBytes.indexOf(0) + 1) + 1) + 1; // format, kind, key
  writeFileSync(codeFile, Buffer.concat([codeBytes.subarray(0, head), Buffer.alloc(4096, 0x5a)]));
  const rejected = await run();
  t.equal(rejected.code, 0, "a code cache V8 rejects: the dump exits 0");
  t.match(traceOf(rejected.stderr), /code-compiled=/, "a code cache V8 rejects: compiled afresh");
  t.same(framesOf(rejected.stdout), expected, "a code cache V8 rejects: the same stacks");
  t.ok(readFileSync(codeFile).length > head + 4096 || !readFileSync(codeFile).subarray(head).equals(Buffer.alloc(4096, 0x5a)), "a code cache V8 rejects is written again");
  t.match(traceOf((await run()).stderr), /code-cached=/, "and used by the next run");
  // code records of other keys (an old build's, another Node's): the newest four are kept
  for (let i = 0; i < 6; i++) {
    const old = path.join(cache, `code-${String(i).padStart(16, "0")}.bin`);
    writeFileSync(old, "old", { mode: 0o600 });
    const at = new Date(Date.now() - (i + 1) * 60_000);
    utimesSync(old, at, at);
  }
  rmSync(codeFile); // the next run writes its record again, and prunes
  t.equal((await run()).code, 0, "with six old code records: the dump exits 0");
  t.same(codeRecords().sort(), [path.basename(codeFile), ...[0, 1, 2].map((i) => `code-${String(i).padStart(16, "0")}.bin`)].sort(),
    "its own record and the three newest old ones are kept, the older ones removed");

  // garbage, and a record of another file's key, are misses; the record is written again
  const rec = path.join(cache, records()[0]);
  const good = readFileSync(rec, "utf8");
  for (const [what, text] of [["garbage", "\x00\x01 not json"], ["another file's key", good.replace(/"key":"[^:]+:/, '"key":"1:')],
    ["a wrong shape", good.replace(/"firstLoadVaddr":"0x/, '"firstLoadVaddr":"zz')]]) {
    t.not(text, good, `${what}: the record is changed`);
    writeFileSync(rec, text);
    const r = await run();
    t.equal(r.code, 0, `${what}: the dump exits 0`);
    t.match(traceOf(r.stderr), /elf-parsed/, `${what}: the file is parsed again`);
    t.same(framesOf(r.stdout), expected, `${what}: the same stacks`);
    t.equal(readFileSync(rec, "utf8"), good, `${what}: the record is written again`);
  }

  // a link planted where the record goes: replaced, not followed
  const victim = path.join(dir, "victim.txt");
  writeFileSync(victim, "keep me\n");
  rmSync(rec);
  symlinkSync(victim, rec);
  const linked = await run();
  t.equal(linked.code, 0, "planted link: the dump exits 0");
  t.same(framesOf(linked.stdout), expected, "planted link: the same stacks");
  t.equal(readFileSync(victim, "utf8"), "keep me\n", "planted link: the file it pointed to is unchanged");
  t.ok(lstatSync(rec).isFile(), "planted link: the record is a regular file again");

  // a folder others may write to is not used
  const open = path.join(dir, "open");
  mkdirSync(open, { mode: 0o700 });
  chmodSync(open, 0o777);
  for (let i = 0; i < 2; i++) {
    const r = await run({ WSPY_CACHE_DIR: open });
    t.equal(r.code, 0, `world-writable folder, run ${i + 1}: the dump exits 0`);
    t.match(traceOf(r.stderr), /elf-parsed/, `world-writable folder, run ${i + 1}: parsed, not cached`);
  }
  t.same(readdirSync(open), [], "nothing was written into the world-writable folder");
});

for (const label of EXPECTED_PYTHONS) {
  if (!findByLabel(label)) t.skip(`${label}: ${missingReason(label)}`);
}

t.test("cached ELF facts give the same dump on every Python", async (t) => {
  for (const python of findPythons()) {
    const fx = await startFixture(python.path, "known_stacks.py");
    try {
      const cache = path.join(t.testdir(), python.label.replace(/\W+/g, "-"));
      const run = (env) => wspy(["dump", "-p", String(fx.pid), "--json"], { env: { WSPY_CACHE_DIR: cache, WSPY_TRACE_STARTUP: "1", ...env } });
      const plain = await run({ WSPY_NO_CACHE: "1" });
      const parsed = await run({});
      const cached = await run({});
      t.equal(plain.code + parsed.code + cached.code, 0, `${python.label}: three dumps exit 0`);
      t.match(traceOf(parsed.stderr), /elf-parsed/, `${python.label}: the first dump with a cache parses`);
      t.notMatch(traceOf(cached.stderr), /elf-parsed/, `${python.label}: the second reads the cache`);
      t.same(framesOf(cached.stdout), framesOf(plain.stdout), `${python.label}: the same stacks from the cache`);
    } finally {
      fx.kill();
    }
  }
});
