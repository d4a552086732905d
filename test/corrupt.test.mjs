// The core never traps on target data, and a garbage link costs a counted error, never the
// recording (issue #10). Against real processes and real files:
//  - live: test/fixtures/corrupt_links.py breaks one frame link of a parked thread for an instant,
//    over and over (0xffff… and other garbage in PyFrameObject.f_back ≤3.10 or
//    _PyInterpreterFrame.previous 3.11+): on every interpreter, `record` at 1000 Hz ends with
//    exit 0, a profile written and the errors counted by kind; `dump` gives the stack or the
//    thread's error, never exit 70;
//  - version tables: an offset of 2147483640–2147483647 is refused by `tables check` in one line
//    naming the field, and a snapshot carrying such a table gets one clear line from `dump`;
//  - snapshots: single 8-byte words of the committed snapshots changed to 0xffffffffffffffff, 0,
//    0x7fffffffffffffff, 0x7ffffff8 (a fixed-seed sample of the words the decode reads, links
//    first, in bounded time; 3.11 and 3.14 get most of it) decode to stacks or a WspyError,
//    never a trap.
//    Budget: WSPY_SWEEP_SECONDS (default 40) over all snapshots.
import t from "tap";
import { readFileSync, writeFileSync, existsSync, readdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { wspy, startFixture, ROOT } from "./helpers/run.mjs";
import { findPythons } from "./helpers/pythons.mjs";

const BUILD = path.join(ROOT, "build", "host");
const SNAPSHOTS = path.join(ROOT, "test", "fixtures", "snapshots");
const tmp = mkdtempSync(path.join(os.tmpdir(), "wspy-corrupt-"));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs wspy, killing it (SIGKILL) if it has not ended after `ms`, so a hang fails fast. */
function wspyBounded(args, ms = 120000, env = {}) {
  let killer;
  return wspy(args, { env, onSpawn(child) { killer = setTimeout(() => child.kill("SIGKILL"), ms); } })
    .then((r) => { clearTimeout(killer); return r; });
}

const noStackTrace = (s) => !/\n\s+at /.test(s);

t.test("live: a frame link broken for an instant, over and over", async (t) => {
  const pythons = findPythons();
  if (!pythons.length) return t.skip("no Python interpreter found on this machine");
  for (const py of pythons) {
    await t.test(py.label, async (t) => {
      const fx = await startFixture(py.path, "corrupt_links.py", [120]);
      t.teardown(() => fx.kill());
      const out = path.join(tmp, `corrupt-${py.label.replace(/\W+/g, "-")}.txt`);
      const rec = await wspyBounded(["record", "-p", String(fx.pid), "-r", "1000", "-d", "2", "--idle", "-f", "raw", "-o", out]);
      t.equal(rec.code, 0, `record ends with exit 0 (stderr: ${rec.stderr.trim().slice(0, 300)})`);
      t.ok(noStackTrace(rec.stderr), "no stack trace");
      t.ok(existsSync(out), "the profile is written");
      const text = existsSync(out) ? readFileSync(out, "utf8") : "";
      t.match(text, /(^|;)parked_a \([^;\n]*\);parked_b \([^;\n]*\);parked_c \(/m, "the parked thread's whole stack is in the profile (samples between the breaks)");
      const cut = text.split("\n").filter((l) => /parked_c \(/.test(l) && !/parked_a \(/.test(l));
      t.same(cut, [], "no stack of the parked thread is cut short silently at the broken link");
      const summary = rec.stderr.split("\n").find((l) => / samples /.test(l)) ?? "";
      t.match(summary, /\d+ errors \((read failed|torn stack|limit hit|not a code object)[^)]*\)/, `the broken links are counted by kind: ${summary}`);
      t.notMatch(summary, /internal error/, "no internal error (no trap in the core)");
      let stacks = 0, errors = 0;
      for (let k = 0; k < 8; k++) {
        const d = await wspyBounded(["dump", "-p", String(fx.pid), "--json"]);
        t.equal(d.code, 0, `dump ${k} ends with exit 0 (stderr: ${d.stderr.trim().slice(0, 300)})`);
        if (d.code !== 0) continue;
        const parked = JSON.parse(d.stdout).threads.find((th) => th.frames.some((f) => /parked_[abc]/.test(f.name)) || th.name === "parked" || th.error);
        if (!parked) { t.fail(`dump ${k}: no parked thread and no thread error`); continue; }
        if (parked.error) errors++;
        else if (parked.frames.some((f) => /parked_a$/.test(f.name))) stacks++;
        else t.fail(`dump ${k}: the parked thread's stack is cut short without an error: ${parked.frames.map((f) => f.name).join(" < ")}`);
      }
      t.comment(`${py.label}: ${summary.replace(/^wspy: /, "")}; dumps: ${stacks} whole stacks, ${errors} counted thread errors`);
      t.equal(stacks + errors, 8, "every dump gave the whole stack or a counted error");
    });
  }
});

t.test("version tables: an offset near 2^31 is refused, never wrapped", async (t) => {
  const base = JSON.parse(readFileSync(path.join(ROOT, "assembly", "tables", "cpython-3.11.json"), "utf8"));
  for (const value of [2147483640, 2147483644, 2147483647]) {
    for (const [section, field] of [["thread_state", "interp"], ["interpreter_frame", "previous"], ["code_object", "firstlineno"]]) {
      const doc = JSON.parse(JSON.stringify(base));
      doc.offsets[section][field] = value;
      const file = path.join(tmp, `table-${section}-${value}.json`);
      writeFileSync(file, JSON.stringify(doc, null, 1));
      const r = await wspyBounded(["tables", "check", file]);
      t.equal(r.code, 7, `${section}.${field} = ${value}: exit 7 (BAD_TABLE)`);
      const lines = r.stderr.trim().split("\n");
      t.equal(lines.length, 1, "one line");
      t.match(lines[0], new RegExp(`offsets\\.${section}\\.${field}: lies past its struct's size`), `it names the field: ${lines[0]}`);
    }
  }
  // a struct size that no CPython has
  const doc = JSON.parse(JSON.stringify(base));
  doc.offsets.thread_state.size = 2147483647;
  const file = path.join(tmp, "table-size.json");
  writeFileSync(file, JSON.stringify(doc));
  const r = await wspyBounded(["tables", "check", file]);
  t.equal(r.code, 7, "a size of 2^31-1: exit 7");
  t.match(r.stderr, /offsets\.thread_state\.size: has a value out of range/, "it names the size");

  // a snapshot carrying such a table: `dump --snapshot` says so in one line (never exit 70)
  const rs = await import(path.join(BUILD, "target", "snapshot-file.js"));
  for (const name of ["pyenv-3.11.7.snapshot", "provisioned-3.14.10.snapshot", "pyenv-3.9.18.snapshot"]) {
    const src = path.join(SNAPSHOTS, name);
    if (!existsSync(src)) { t.skip(`${name} is not in test/fixtures/snapshots`); continue; }
    const snap = rs.decodeSnapshot(readFileSync(src), name);
    const { ranges: _r, bytes: _b, ...header } = snap.header;
    const sec = header.table.offsets.thread_state ? "thread_state" : Object.keys(header.table.offsets)[0];
    const field = Object.keys(header.table.offsets[sec]).find((f) => f !== "size");
    header.table.offsets[sec][field] = 2147483641;
    const file = path.join(tmp, `crafted-${name}`);
    writeFileSync(file, rs.encodeSnapshot(header, snap.ranges, 1));
    const d = await wspyBounded(["dump", "--snapshot", file]);
    t.not(d.code, 70, `${name} with ${sec}.${field} = 2147483641: not an internal error (exit ${d.code})`);
    t.not(d.code, 0, "refused");
    const lines = d.stderr.trim().split("\n").filter((l) => !/^wspy: warning: /.test(l));
    t.equal(lines.length, 1, `one line: ${lines[0]}`);
    t.match(lines[0], new RegExp(`${sec}\\.${field}`), "naming the field");
  }
});

t.test("ELF: file offsets and sizes whose sum wraps 2^64 are refused, never followed", async (t) => {
  // a minimal 64-bit ELF: one PT_LOAD, a section-name table, a symbol table and its string table;
  // each case gives one table an offset near 2^64 (offset + size wraps to a small number)
  const { Core } = await import(path.join(BUILD, "core", "core.js"));
  const make = (patch) => {
    const b = Buffer.alloc(344);
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
    b.writeUInt16LE(3, 16); // ET_DYN
    b.writeBigUInt64LE(64n, 32); b.writeBigUInt64LE(120n, 40);
    b.writeUInt16LE(56, 54); b.writeUInt16LE(1, 56); b.writeUInt16LE(64, 58); b.writeUInt16LE(3, 60); b.writeUInt16LE(0, 62);
    b.writeUInt32LE(1, 64); // PT_LOAD at offset 0, vaddr 0
    const sh = (i, type, off, size, link, entsize) => {
      const p = 120 + i * 64;
      b.writeUInt32LE(type, p + 4); b.writeBigUInt64LE(off, p + 24); b.writeBigUInt64LE(size, p + 32);
      b.writeUInt32LE(link, p + 40); b.writeBigUInt64LE(entsize, p + 56);
    };
    sh(0, 3, 312n, 16n, 0, 0n);
    sh(1, 2, patch.symOff ?? 328n, patch.symSize ?? 0n, 2, 24n);
    sh(2, 3, patch.strOff ?? 312n, patch.strSize ?? 16n, 0, 0n);
    if (patch.phoff !== undefined) b.writeBigUInt64LE(patch.phoff, 32);
    if (patch.shoff !== undefined) b.writeBigUInt64LE(patch.shoff, 40);
    if (patch.shstr !== undefined) { b.writeBigUInt64LE(patch.shstr, 120 + 24); b.writeBigUInt64LE(patch.shstrSize, 120 + 32); }
    return b;
  };
  // 2^64 - 2^31 + 2^31 + 0x100 wraps to 0x100 (inside the file), and 2^64 - 2^31 is far outside
  // the core's memory even in 32-bit pointer arithmetic
  const wrap = 2n ** 64n - 2n ** 31n, size = 2n ** 31n + 0x100n;
  const cases = {
    "symbol table": { symOff: wrap, symSize: size },
    "symbol string table": { symOff: 320n, symSize: 24n, strOff: wrap, strSize: size },
    "program headers": { phoff: 2n ** 64n - 16n },
    "section headers": { shoff: 2n ** 64n - 64n },
    "section names": { shstr: wrap, shstrSize: size },
  };
  for (const [what, patch] of Object.entries(cases)) {
    const core = new Core();
    const bytes = make(patch);
    let st;
    try {
      st = core.x.elfParse(core.x.elfObjectNew(0, 0, 0n), core.copyIn(bytes), bytes.length, 0);
    } catch (e) {
      t.fail(`${what} at an offset that wraps: the core trapped (${e.message})`);
      continue;
    }
    t.ok(st === 0 || st === 9, `${what} at an offset that wraps: status ${st} (ok or bad ELF), no trap`);
    let ranges;
    try {
      ranges = [0, 1].map((stage) => core.x.elfNextRanges(core.copyIn(bytes), bytes.length, stage));
    } catch (e) {
      t.fail(`${what}: elfNextRanges trapped (${e.message})`);
      continue;
    }
    t.ok(ranges.every((n) => n >= -1), `${what}: the ranges to load are listed without a trap`);
  }
});

t.test("snapshots: one 8-byte word changed at a time never traps the core", async (t) => {
  const files = existsSync(SNAPSHOTS) ? readdirSync(SNAPSHOTS).filter((f) => f.endsWith(".snapshot")).sort() : [];
  if (!files.length) return t.skip("no snapshot fixtures");
  const [coreMod, snapMod, rs, cf, attach, dumpMod, errors] = await Promise.all([
    import(path.join(BUILD, "core", "core.js")), import(path.join(BUILD, "commands", "snapshot.js")), import(path.join(BUILD, "target", "snapshot-file.js")),
    import(path.join(BUILD, "target", "core-file.js")), import(path.join(BUILD, "target", "attach.js")), import(path.join(BUILD, "commands", "dump.js")),
    import(path.join(BUILD, "errors.js")),
  ]);
  const VALUES = [0xffffffffffffffffn, 0n, 0x7fffffffffffffffn, 0x7ffffff8n];
  const budgetMs = Number(process.env.WSPY_SWEEP_SECONDS ?? 40) * 1000;
  // 3.11 and 3.14 (the chunked frame models where the trap was found) get most of the time
  const heavy = (f) => /-3\.11\.|-3\.14\./.test(f);
  const weights = files.map((f) => (heavy(f) ? 6 : 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const totals = { cases: 0, stacks: 0, torn: 0, error: 0, traps: 0 };
  const started = Date.now();
  for (let fi = 0; fi < files.length; fi++) {
    const name = files[fi];
    const deadline = Date.now() + (budgetMs * weights[fi]) / total;
    const snap = rs.decodeSnapshot(readFileSync(path.join(SNAPSHOTS, name)), name);
    const info = snapMod.snapshotInfo(name, snap.header);
    const memory = new rs.SnapshotMemory(snap.ranges);
    let record = null;
    const serve = (addr, len, dst, at) => { if (record) record.push([addr, len]); return memory.serve(addr, len, dst, at); };
    const view = (core) => ({
      describe: `snapshot ${name}`, kind: "snapshot", pid: info.pid, reader: new cf.OfflineReader(core, serve), maps: () => [],
      command: () => info.command, exe: () => info.exe, readMappedFile: () => { throw new errors.WspyError("INTERNAL", "no files in a snapshot"); },
      threadStates: () => ({ active: () => true, close() {} }), osThreadName: () => "", recorded: info.recorded, readProblems: () => "", close() {},
    });
    // the words read at attach (each case attaches afresh) and while dumping (one attached core
    // dumps again and again: what a live recording does between samples)
    record = [];
    const core0 = new coreMod.Core();
    const target0 = attach.Target.open(view(core0), { wantGil: true }, core0);
    const attachReads = record;
    record = [];
    dumpMod.dumpTarget(target0);
    const walkReads = record;
    record = null;
    target0.close();
    const wordsOf = (reads) => {
      const set = new Set();
      for (const [a, l] of reads) for (let w = a - (a % 8); w < a + l; w += 8) set.add(w);
      return set;
    };
    const walkSet = wordsOf(walkReads);
    const attachWords = [...wordsOf(attachReads)].filter((w) => !walkSet.has(w));
    const walkWords = [...walkSet];
    // fixed-seed order (mulberry32): a bounded run is a uniform sample of each kind
    let seed = 0x9e3779b1 ^ fi;
    const rng = () => { seed = (seed + 0x6d2b79f5) | 0; let x = Math.imul(seed ^ (seed >>> 15), 1 | seed); x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x; return ((x ^ (x >>> 14)) >>> 0) / 4294967296; };
    const shuffle = (a) => { for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(rng() * (i + 1)); [a[i], a[j]] = [a[j], a[i]]; } return a; };
    // words the walk reads are tried on one attached core (cheap: what a recording does between
    // samples); words only the attach reads need a fresh attach each (costly): one in ATTACH_EVERY
    const ATTACH_EVERY = 8;
    // words holding a pointer into recorded memory first (links: frame chains, thread lists,
    // code and string objects), then the rest (lengths, flags, stack values)
    const recorded = (v) => v < 2n ** 53n && snap.ranges.some((r) => Number(v) >= r.addr && Number(v) < r.addr + r.data.length);
    const wordAt = (w) => { const r = snap.ranges.find((q) => w >= q.addr && w + 8 <= q.addr + q.data.length); return r ? Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length).readBigUInt64LE(w - r.addr) : 0n; };
    const linksFirst = (ws) => { const links = ws.filter((w) => recorded(wordAt(w))); const rest = ws.filter((w) => !recorded(wordAt(w))); return [...shuffle(links), ...shuffle(rest)]; };
    const walkOrder = linksFirst(walkWords), attachOrder = linksFirst(attachWords);
    const cases = [];
    for (let i = 0, j = 0; i < walkOrder.length || j < attachOrder.length;) {
      if (j < attachOrder.length && (cases.length % ATTACH_EVERY === ATTACH_EVERY - 1 || i >= walkOrder.length)) cases.push({ w: attachOrder[j++], fresh: true });
      else cases.push({ w: walkOrder[i++], fresh: false });
    }
    const rangeOf = (addr) => snap.ranges.find((r) => addr >= r.addr && addr + 8 <= r.addr + r.data.length);
    let core = null, target = null, uses = 0, n = 0, stacks = 0, torn = 0, errs = 0;
    const traps = [];
    const freshTarget = () => { core = new coreMod.Core(); target = attach.Target.open(view(core), { wantGil: true }, core); };
    for (let ci = 0; Date.now() < deadline && ci < cases.length * VALUES.length; ci++) {
      const c = cases[Math.floor(ci / VALUES.length)], value = VALUES[ci % VALUES.length];
      const r = rangeOf(c.w);
      if (!r) continue;
      const dv = new DataView(r.data.buffer, r.data.byteOffset, r.data.length);
      const at = c.w - r.addr;
      const old = dv.getBigUint64(at, true);
      if (old === value) continue;
      dv.setBigUint64(at, value, true);
      n++;
      try {
        let d;
        if (c.fresh) {
          const k = new coreMod.Core();
          const tg = attach.Target.open(view(k), { wantGil: true }, k);
          try { d = dumpMod.dumpTarget(tg); } finally { tg.close(); }
        } else {
          if (!target || ++uses % 256 === 0) { target?.close(); freshTarget(); } // caches drift from restored words: start afresh now and then
          d = dumpMod.dumpTarget(target);
        }
        if (d.threads.some((th) => th.error)) torn++; else stacks++;
      } catch (e) {
        const trap = coreMod.isCoreTrap(e) || (e instanceof errors.WspyError && e.code === "INTERNAL");
        if (!trap && e instanceof errors.WspyError) errs++;
        else traps.push(`word 0x${c.w.toString(16)} = 0x${value.toString(16)}${c.fresh ? " (attach)" : ""}: ${e?.message}`);
        if (!c.fresh) { target?.close(); target = null; } // the shared core may be left in a bad state
      } finally {
        dv.setBigUint64(at, old, true);
      }
    }
    target?.close();
    t.comment(`${name}: ${n} cases (${attachWords.length} words read only at attach, ${walkWords.length} walk words of which ${walkOrder.filter((w) => recorded(wordAt(w))).length} links, ${VALUES.length} values each): ${stacks} stacks, ${torn} with a thread error, ${errs} WspyErrors, ${traps.length} traps`);
    for (const m of traps.slice(0, 5)) t.fail(`${name}: trap: ${m}`);
    t.equal(traps.length, 0, `${name}: no trap`);
    t.ok(n > 0, `${name}: some cases ran`);
    Object.assign(totals, { cases: totals.cases + n, stacks: totals.stacks + stacks, torn: totals.torn + torn, error: totals.error + errs, traps: totals.traps + traps.length });
  }
  t.comment(`all snapshots: ${totals.cases} cases in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(totals)}`);
});

t.test("a trap in the core: record goes on with a fresh core, dump says INTERNAL in one line", async (t) => {
  // A real trap needs a core with a real bug: this checkout's core with the bug of issue #10
  // put back (rangeInside forming the sum `addr + len` that wraps on a 0xffff… link, as walk.ts
  // did before), built here with the project's asc. No git history needed.
  const { spawnSync } = await import("node:child_process");
  const { cpSync, readFileSync: readText, writeFileSync: writeText } = await import("node:fs");
  const dir = mkdtempSync(path.join(tmp, "oldcore-"));
  cpSync(path.join(ROOT, "assembly"), path.join(dir, "assembly"), { recursive: true });
  cpSync(path.join(ROOT, "asconfig.json"), path.join(dir, "asconfig.json"));
  const boundsFile = path.join(dir, "assembly", "util", "bounds.ts");
  const fixed = "return addr >= lo && addr <= hi && len <= hi - addr;";
  const bounds = readText(boundsFile, "utf8");
  t.ok(bounds.includes(fixed), "rangeInside has the body the bug is put back into");
  writeText(boundsFile, bounds.replace(fixed, "return addr >= lo && addr + len <= hi;"));
  const asc = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "assemblyscript", "bin", "asc.js"), "assembly/index.ts", "--target", "release", "--outFile", "core.wasm", "--textFile", "core.wat"], { cwd: dir, encoding: "utf8" });
  t.equal(asc.status, 0, `the buggy core builds ${asc.stderr.slice(0, 300)}`);
  if (asc.status !== 0) return;
  const env = { WSPY_CORE_WASM: path.join(dir, "core.wasm") };
  const py = findPythons().find((p) => /^3\.(1[1-9])/.test(p.version));
  if (!py) return t.skip("no Python 3.11+ here (the old core traps on the 3.11+ frame model)");

  await t.test(`record (${py.label}): traps counted, profile and summary written`, async (t) => {
    // broken for 1 ms every 150 ms: the old core traps now and then, not at every tick
    const fx = await startFixture(py.path, "corrupt_links.py", [300, 1, 150]);
    t.teardown(() => fx.kill());
    let trapped = 0;
    for (let k = 0; k < 4 && !trapped; k++) {
      const out = path.join(tmp, `trap-${k}.txt`);
      const rec = await wspyBounded(["record", "-p", String(fx.pid), "-r", "500", "-d", "3", "--idle", "-f", "raw", "-o", out], 120000, env);
      t.equal(rec.code, 0, `record ${k}: exit 0 (stderr: ${rec.stderr.trim().slice(0, 400)})`);
      t.ok(noStackTrace(rec.stderr), "no stack trace");
      t.ok(existsSync(out), "the profile is written");
      const summary = rec.stderr.split("\n").find((l) => / samples /.test(l)) ?? "";
      const m = /internal error: (\d+)/.exec(summary);
      if (!m) continue;
      trapped = Number(m[1]);
      t.match(rec.stderr, /wspy: internal error in the core sampling process \d+ \(a bug: please report it\): [^\n]+; sampling goes on with a fresh core/, "said once, in one line");
      t.equal(rec.stderr.split("\n").filter((l) => /internal error in the core/.test(l)).length, 1, "said once");
      const text = readFileSync(out, "utf8");
      t.match(text, /(^|;)parked_a \([^;\n]*\);parked_b \([^;\n]*\);parked_c \(/m, "the profile holds the parked thread's stack");
      t.match(text, /\bmain \(/, "and the main thread's");
      t.comment(`record ${k}: ${summary}`);
    }
    t.ok(trapped > 0, `the old core trapped during a recording (${trapped} internal errors counted), and the recording went on`);
  });

  await t.test("dump --snapshot: a trap is one INTERNAL line, exit 70", async (t) => {
    const [coreMod, snapMod, rs] = await Promise.all([
      import(path.join(BUILD, "core", "core.js")), import(path.join(BUILD, "commands", "snapshot.js")), import(path.join(BUILD, "target", "snapshot-file.js")),
    ]);
    const name = ["pyenv-3.11.7.snapshot", "debian-3.11.snapshot"].find((f) => existsSync(path.join(SNAPSHOTS, f)));
    if (!name) return t.skip("no 3.11 snapshot fixture");
    const bytes = readFileSync(path.join(SNAPSHOTS, name));
    const snap = rs.decodeSnapshot(bytes, name);
    const { ranges: _r, bytes: _b, ...header } = snap.header;
    // find a word whose garbage value traps the old core (in-process, links first)
    const inRanges = (v) => v < 2n ** 53n && snap.ranges.some((r) => Number(v) >= r.addr && Number(v) < r.addr + r.data.length);
    let file = null;
    const prev = process.env.WSPY_CORE_WASM;
    try {
      search: for (const r of snap.ranges) {
        const dv = new DataView(r.data.buffer, r.data.byteOffset, r.data.length);
        for (let p = 0; p + 8 <= r.data.length; p += 8) {
          const old = dv.getBigUint64(p, true);
          if (!inRanges(old)) continue;
          dv.setBigUint64(p, 0xffffffffffffffffn, true);
          const mutated = rs.encodeSnapshot(header, snap.ranges, 1);
          dv.setBigUint64(p, old, true);
          const core = await coreWith(coreMod, env.WSPY_CORE_WASM);
          try {
            snapMod.dumpView(core, snapMod.snapshotViewOf(core, mutated, name), { notice: () => {} });
          } catch (e) {
            if (/internal error|out of bounds|unreachable/.test(String(e?.message))) { file = path.join(tmp, "trap.snapshot"); writeFileSync(file, mutated); break search; }
          }
        }
      }
    } finally {
      if (prev === undefined) delete process.env.WSPY_CORE_WASM; else process.env.WSPY_CORE_WASM = prev;
    }
    if (!file) return t.fail("no single garbage link made the old core trap");
    const d = await wspyBounded(["dump", "--snapshot", file], 120000, env);
    t.equal(d.code, 70, "exit 70 (INTERNAL)");
    const lines = d.stderr.trim().split("\n");
    t.equal(lines.length, 1, `one line: ${lines[0]}`);
    t.match(lines[0], /^wspy: internal error in the core while [^:]+: memory access out of bounds/, "it says the core trapped, and how");
    t.match(lines[0], /a bug: please report it/, "and that it is a bug to report");
    t.ok(noStackTrace(d.stderr), "no stack trace");
    const fixed = await wspyBounded(["dump", "--snapshot", file, "--json"]);
    t.equal(fixed.code, 0, "the fixed core dumps the same snapshot (exit 0)");
  });
});

/** A Core instance running the given core.wasm (core.js compiles the file named by WSPY_CORE_WASM once per process). */
async function coreWith(coreMod, wasm) {
  if (!coreWith.mod) {
    process.env.WSPY_CORE_WASM = wasm;
    const url = new URL(`file://${path.join(BUILD, "core", "core.js")}?old`);
    coreWith.mod = await import(url.href);
  }
  return new coreWith.mod.Core();
}
