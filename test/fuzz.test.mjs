// Robustness of offline decoding: real snapshots (the committed fixtures) and real core files
// (made here, of live interpreters) are mutated thousands of times with a fixed seed:
// truncations, bit flips, zeroed regions, pointer cycles, huge lengths, damaged headers and
// version tables, dropped memory ranges. Each case is decoded in-process, through the library,
// with a fresh core (as the CLI would), in a worker thread whose progress is watched: a case must
// end in stacks or in a WspyError, never a WASM trap, another exception, or a hang (a case that
// takes longer than CASE_TIMEOUT_MS is a hang). A few dozen cases also go through the CLI.
// Live memory: a stopped copy of a real process (forked by test/fixtures/fork_copy.py) has words
// of the memory wspy reads damaged through /proc/COPY/mem (the copy only, never the fixture),
// then is dumped through the live reader; the words are restored after each case.
// Budget: WSPY_FUZZ_SECONDS (default 50) for the in-process cases, WSPY_FUZZ_CLI_CASES (default 30)
// through the CLI, WSPY_FUZZ_LIVE_SECONDS (default 40) for live memory; seed WSPY_FUZZ_SEED (default 1).
// A finding names its case; `WSPY_FUZZ_CASE=N node test/fuzz.test.mjs` reruns that case alone,
// prints what happened and writes the mutated input to $TMPDIR/wspy-fuzz-case-N.{snapshot,core}.
import { isMainThread, Worker, workerData, parentPort } from "node:worker_threads";
import { readFileSync, writeFileSync, readdirSync, existsSync, mkdtempSync, rmSync, openSync, readSync, writeSync, closeSync, fstatSync, copyFileSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import os from "node:os";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, "..");
const SNAPSHOTS = path.join(here, "fixtures", "snapshots");
const BUILD = path.join(ROOT, "build", "host");
const { CLI } = await import("./helpers/run.mjs");
// (a case takes milliseconds; 60 s is a hang even on a machine at load 40)
const CASE_TIMEOUT_MS = 60_000;
// at least this many in-process cases, however long the budget takes to reach them on a loaded machine
const MIN_CASES = 200;

// ---- deterministic randomness: one generator per case ----
function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
function caseRng(seed, i) {
  return mulberry32((Math.imul(seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0);
}
const pick = (rng, arr) => arr[Math.floor(rng() * arr.length)];
const int = (rng, lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));

/** Values that break lengths and counts. */
const HUGE = [0x7fffffff, 0xffffffff, 0x80000000, 2 ** 40, 2 ** 53 - 1, -1, -(2 ** 31), 0x100000, 65536];

function readU64(buf, p) { return buf.readUInt32LE(p) + buf.readUInt32LE(p + 4) * 2 ** 32; }
function writeU64(buf, p, v) {
  if (v < 0) v = 2 ** 64 + v; // two's complement, approximately (fine for a fuzzer)
  buf.writeUInt32LE(v % 2 ** 32 >>> 0, p);
  buf.writeUInt32LE(Math.floor(v / 2 ** 32) % 2 ** 32 >>> 0, p + 4);
}

// ---- snapshot mutations (on the decoded content, re-encoded; or on the file's bytes) ----

function mutateSnapshot(lib, bytes, rng, log) {
  const raw = rng() < 0.15;
  if (raw) {
    const b = Buffer.from(bytes);
    const kind = pick(rng, ["truncate", "bits", "magic"]);
    log.push(`raw ${kind}`);
    if (kind === "truncate") return b.subarray(0, int(rng, 0, b.length - 1));
    if (kind === "magic") { b[int(rng, 0, 16)] ^= 1 << int(rng, 0, 7); return b; }
    for (let k = int(rng, 1, 8); k > 0; k--) b[int(rng, 0, b.length - 1)] ^= 1 << int(rng, 0, 7);
    return b;
  }
  const snap = lib.decodeSnapshot(bytes, "fuzz");
  const header = JSON.parse(JSON.stringify(snap.header));
  let ranges = snap.ranges.map((r) => ({ addr: r.addr, data: Buffer.from(r.data) }));
  const rangeAt = (addr) => ranges.find((r) => addr >= r.addr && addr < r.addr + r.data.length);
  const words = () => {
    const r = pick(rng, ranges);
    if (!r || r.data.length < 8) return null;
    return { r, p: int(rng, 0, (r.data.length >> 3) - 1) * 8 };
  };
  for (let m = int(rng, 1, 3); m > 0; m--) {
    const kind = pick(rng, ["bits", "bits", "zero", "drop", "cut", "cycle", "cycle", "huge", "huge", "header", "table", "table"]);
    log.push(kind);
    if (!ranges.length && kind !== "header" && kind !== "table") continue;
    if (kind === "bits") {
      for (let k = int(rng, 1, 16); k > 0; k--) {
        const r = pick(rng, ranges);
        if (r.data.length) r.data[int(rng, 0, r.data.length - 1)] ^= 1 << int(rng, 0, 7);
      }
    } else if (kind === "zero") {
      const r = pick(rng, ranges);
      const a = int(rng, 0, r.data.length - 1);
      r.data.fill(0, a, Math.min(r.data.length, a + int(rng, 1, 512)));
    } else if (kind === "drop") {
      ranges.splice(int(rng, 0, ranges.length - 1), 1);
    } else if (kind === "cut") {
      const r = pick(rng, ranges);
      r.data = r.data.subarray(0, int(rng, 0, r.data.length));
    } else if (kind === "cycle") {
      // a word pointing into recorded memory now points at itself, or back at an earlier word of its range
      for (let tries = 0; tries < 64; tries++) {
        const w = words();
        if (!w) break;
        const v = readU64(w.r.data, w.p);
        if (!rangeAt(v)) continue;
        const self = w.r.addr + w.p;
        writeU64(w.r.data, w.p, rng() < 0.5 ? self : w.r.addr + int(rng, 0, w.p >> 3) * 8);
        break;
      }
    } else if (kind === "huge") {
      for (let tries = 0; tries < 64; tries++) {
        const w = words();
        if (!w) break;
        const v = readU64(w.r.data, w.p);
        if (v === 0 || v > 0x100000) continue; // a small number: a length, a count, a size
        writeU64(w.r.data, w.p, pick(rng, HUGE));
        break;
      }
    } else if (kind === "header") {
      const paths = [["pid"], ["versionHex"], ["bias"], ["binary"], ["command"], ["threads"], ["locals"], ["elf"], ["elf", "firstLoadVaddr"], ["elf", "pyRuntimeSection"], ["table"], ["tableSource"], ["ranges"], ["bytes"],
        ...Object.keys(header.elf?.symbols ?? {}).map((k) => ["elf", "symbols", k])];
      const p = pick(rng, paths);
      const values = [null, 0, -1, 1e300, "x", "0x0", `0x${Math.floor(rng() * 2 ** 47).toString(16)}`, "0xffffffffffffffff", [], {}, true, 2 ** 31, 0x030c01f0, 0x020718f0];
      let o = header;
      for (let k = 0; k < p.length - 1; k++) o = o?.[p[k]];
      if (o && typeof o === "object") {
        if (rng() < 0.2) delete o[p[p.length - 1]];
        else o[p[p.length - 1]] = pick(rng, values);
      }
    } else if (kind === "table") {
      // a plausible but wrong offset or capability: the walk reads the wrong fields
      const offs = header.table?.offsets;
      if (offs && typeof offs === "object") {
        const sec = pick(rng, Object.keys(offs));
        const fields = Object.keys(offs[sec] ?? {});
        if (fields.length) {
          const f = pick(rng, fields);
          const size = offs[sec].size ?? 256;
          offs[sec][f] = rng() < 0.8 ? int(rng, 0, Math.max(0, size - 8)) : pick(rng, [-1, 1e9, 2 ** 31]);
        }
      }
      if (rng() < 0.2 && header.table?.capabilities) {
        const caps = header.table.capabilities;
        const c = pick(rng, Object.keys(caps));
        caps[c] = typeof caps[c] === "number" ? int(rng, 0, 8) : pick(rng, ["frame_object", "cframe", "current_frame", "locations", "lnotab", "linetable", "unicode", "pystring", "bogus"]);
      }
    }
  }
  // re-encode (sorted, as a writer would): counts stay consistent, contents do not
  ranges = ranges.filter((r) => r.data.length > 0).sort((a, b) => a.addr - b.addr);
  const fixed = [];
  for (const r of ranges) if (!fixed.length || r.addr >= fixed[fixed.length - 1].addr + fixed[fixed.length - 1].data.length) fixed.push(r);
  const { ranges: _r, bytes: _b, ...rest } = header;
  return lib.encodeSnapshot(rest, fixed, 1);
}

// ---- core-file mutations: an overlay on the file (patches and a truncation), as a ByteSource ----

function overlaySource(fd, size, patches, truncateAt) {
  const eff = Math.min(size, truncateAt);
  return {
    size: eff,
    read(buf, offset, len, position) {
      if (position >= eff) return 0;
      const n0 = Math.min(len, eff - position);
      let done = 0;
      while (done < n0) {
        const n = readSync(fd, buf, offset + done, n0 - done, position + done);
        if (n <= 0) break;
        done += n;
      }
      for (const p of patches) {
        const a = Math.max(p.pos, position), b = Math.min(p.pos + p.bytes.length, position + done);
        for (let k = a; k < b; k++) buf[offset + (k - position)] = p.bytes[k - p.pos];
      }
      return done;
    },
    close() {},
  };
}

/** Parses a core's program headers in JS (tests only): PT_LOAD and PT_NOTE extents. */
function coreLayout(fd) {
  const head = Buffer.alloc(1 << 16);
  readSync(fd, head, 0, head.length, 0);
  const phoff = readU64(head, 32), phnum = head.readUInt16LE(56);
  const loads = [], notes = [];
  for (let i = 0; i < phnum && phoff + (i + 1) * 56 <= head.length; i++) {
    const p = phoff + i * 56;
    const type = head.readUInt32LE(p), off = readU64(head, p + 8), vaddr = readU64(head, p + 16), filesz = readU64(head, p + 32);
    if (type === 1 && filesz) loads.push({ off, vaddr, filesz });
    if (type === 4) notes.push({ off, filesz });
  }
  return { headEnd: phoff + phnum * 56, loads, notes };
}

function mutateCore(item, rng, log) {
  const patches = [];
  let truncateAt = Infinity;
  const { fd, size, hot, layout } = item;
  const hotPos = () => { const h = pick(rng, hot); return h.pos + int(rng, 0, Math.max(0, h.len - 1)); };
  const readWord = (pos) => { const b = Buffer.alloc(8); readSync(fd, b, 0, 8, pos); return readU64(b, 0); };
  const vaddrOf = (pos) => { const l = layout.loads.find((s) => pos >= s.off && pos < s.off + s.filesz); return l ? l.vaddr + (pos - l.off) : -1; };
  const inLoad = (v) => layout.loads.some((s) => v >= s.vaddr && v < s.vaddr + s.filesz);
  for (let m = int(rng, 1, 3); m > 0; m--) {
    const kind = pick(rng, ["truncate", "head", "note", "bits", "bits", "zero", "cycle", "cycle", "huge", "huge"]);
    log.push(kind);
    if (kind === "truncate") {
      truncateAt = Math.min(truncateAt, rng() < 0.5 ? int(rng, 0, Math.min(size, layout.headEnd + 4096)) : rng() < 0.5 ? hotPos() : int(rng, 0, size));
    } else if (kind === "head" || kind === "note" || kind === "bits") {
      for (let k = int(rng, 1, 8); k > 0; k--) {
        const note = pick(rng, layout.notes);
        const pos = kind === "head" ? int(rng, 0, layout.headEnd - 1) : kind === "note" && note ? note.off + int(rng, 0, note.filesz - 1) : hotPos();
        const b = Buffer.alloc(1);
        readSync(fd, b, 0, 1, pos);
        b[0] ^= 1 << int(rng, 0, 7);
        patches.push({ pos, bytes: b });
      }
    } else if (kind === "zero") {
      patches.push({ pos: hotPos(), bytes: Buffer.alloc(int(rng, 1, 512)) });
    } else if (kind === "cycle" || kind === "huge") {
      for (let tries = 0; tries < 64; tries++) {
        const pos = hotPos() & ~7;
        const v = readWord(pos);
        const b = Buffer.alloc(8);
        if (kind === "cycle") {
          if (!inLoad(v)) continue;
          const self = vaddrOf(pos);
          if (self < 0) continue;
          writeU64(b, 0, rng() < 0.5 ? self : self - int(rng, 1, 16) * 8);
        } else {
          if (v === 0 || v > 0x100000) continue;
          writeU64(b, 0, pick(rng, HUGE));
        }
        patches.push({ pos, bytes: b });
        break;
      }
    }
  }
  return { patches, truncateAt };
}

// ---- one case ----

/** Runs case i; returns {outcome: "stacks"|"error"|"trap"|"crash", detail}. */
function runCase(lib, corpus, seed, i, opts = {}) {
  const rng = caseRng(seed, i);
  const item = corpus[i % corpus.length];
  const log = [item.name];
  const locals = rng() < 0.25 ? 1 : 0;
  if (locals) log.push("locals");
  const core = new lib.Core();
  let input = null;
  try {
    let view;
    if (item.kind === "snapshot") {
      input = mutateSnapshot(lib, item.bytes, rng, log);
      if (opts.save) writeFileSync(opts.save + ".snapshot", input);
      view = lib.snapshotViewOf(core, input, `fuzz-case-${i}`);
    } else {
      const { patches, truncateAt } = mutateCore(item, rng, log);
      input = { patches, truncateAt };
      if (opts.save) writeMutatedCore(item, patches, truncateAt, opts.save + ".core");
      const cf = lib.CoreFile.fromSource(core, `fuzz-case-${i}`, overlaySource(item.fd, item.size, patches, truncateAt));
      view = lib.viewOfCoreFile(core, cf);
    }
    const d = lib.dumpView(core, view, { locals: view.info?.locals ? Math.min(locals, view.info.locals) : item.kind === "core" ? locals : 0, notice: () => {} });
    JSON.stringify(d);
    lib.renderDumpText(d);
    const frames = d.threads.reduce((s, t) => s + t.frames.length, 0);
    return { outcome: "stacks", detail: `${d.threads.length} threads, ${frames} frames`, log };
  } catch (e) {
    if (e instanceof lib.WspyError) return { outcome: "error", detail: `${e.code}: ${e.message}`, log };
    const trap = e instanceof WebAssembly.RuntimeError || /wspy core aborted/.test(String(e?.message));
    return { outcome: trap ? "trap" : "crash", detail: `${e?.name}: ${e?.message}\n${e?.stack ?? ""}`, log };
  }
}

function writeMutatedCore(item, patches, truncateAt, file) {
  copyFileSync(item.path, file);
  const fd = openSync(file, "r+");
  try {
    for (const p of patches) writeSync(fd, p.bytes, 0, p.bytes.length, p.pos);
  } finally {
    closeSync(fd);
  }
  if (truncateAt < item.size) spawnSync("truncate", ["-s", String(truncateAt), file]);
}

async function loadLib() {
  const [core, snap, readersSnap, readersCore, dumpMod, errors] = await Promise.all([
    import(path.join(BUILD, "core", "core.js")), import(path.join(BUILD, "commands", "snapshot.js")), import(path.join(BUILD, "target", "snapshot-file.js")),
    import(path.join(BUILD, "target", "core-file.js")), import(path.join(BUILD, "commands", "dump.js")), import(path.join(BUILD, "errors.js")),
  ]);
  return {
    Core: core.Core, snapshotViewOf: snap.snapshotViewOf, dumpView: snap.dumpView, decodeSnapshot: readersSnap.decodeSnapshot,
    encodeSnapshot: readersSnap.encodeSnapshot, CoreFile: readersCore.CoreFile, viewOfCoreFile: readersCore.viewOfCoreFile,
    renderDumpText: dumpMod.renderDumpText, WspyError: errors.WspyError,
  };
}

/** The corpus: snapshot fixtures and core files (opened here; hot file ranges found by one clean decode). */
function openCorpus(lib, spec) {
  const corpus = [];
  for (const s of spec.snapshots) corpus.push({ kind: "snapshot", name: path.basename(s), bytes: readFileSync(s) });
  for (const c of spec.cores) {
    const fd = openSync(c, "r");
    const size = fstatSync(fd).size;
    const hot = [];
    const src = overlaySource(fd, size, [], Infinity);
    const rec = { ...src, size, read(buf, offset, len, position) { hot.push({ pos: position, len }); return src.read(buf, offset, len, position); } };
    try {
      const core = new lib.Core();
      const cf = lib.CoreFile.fromSource(core, c, rec);
      lib.dumpView(core, lib.viewOfCoreFile(core, cf), { notice: () => {}, locals: 1 });
    } catch { /* a core that does not decode cleanly is still worth mutating */ }
    corpus.push({ kind: "core", name: path.basename(c), path: c, fd, size, hot: hot.filter((h) => h.len > 0), layout: coreLayout(fd) });
  }
  return corpus;
}

// ---- the worker: runs cases from `start` until told to stop ----

if (!isMainThread) {
  const lib = await loadLib();
  const { spec, seed, start } = workerData;
  const corpus = openCorpus(lib, spec);
  let stop = false;
  parentPort.on("message", (m) => { if (m === "stop") stop = true; });
  for (let i = start; !stop; i++) {
    parentPort.postMessage({ type: "start", i });
    const r = runCase(lib, corpus, seed, i);
    parentPort.postMessage({ type: "done", i, ...r });
    if (i % 16 === 0) await new Promise((res) => setImmediate(res)); // let "stop" arrive
  }
  parentPort.postMessage({ type: "stopped" });
}

// ---- main ----

/** Makes kernel (else gcore) core files of a few interpreters into dir; their paths. */
async function makeCores(dir) {
  const { findByLabel } = await import("./helpers/pythons.mjs");
  const { startFixture, FIXTURE_LIFETIME } = await import("./helpers/run.mjs");
  const pattern = (() => { try { return readFileSync("/proc/sys/kernel/core_pattern", "utf8").trim(); } catch { return "|"; } })();
  const kernel = !pattern.startsWith("|") && !pattern.includes("/");
  const hasGcore = spawnSync("sh", ["-c", "command -v gcore"]).status === 0;
  const out = [];
  for (const label of ["pyenv 3.12", "pyenv 3.9", "provisioned 3.15"]) {
    const py = findByLabel(label);
    if (!py) continue;
    const sub = mkdtempSync(path.join(dir, "core-"));
    const fx = await startFixture("/bin/sh", "offline_fixture.py", [FIXTURE_LIFETIME], {
      prefixArgs: ["-c", `cd "$1" && ulimit -c unlimited 2>/dev/null; shift; exec "$0" "$@"`, py.path, sub],
    });
    try {
      if (kernel) {
        const exited = new Promise((r) => fx.child.on("exit", r));
        process.kill(fx.pid, "SIGABRT");
        await exited;
        for (let k = 0; k < 50; k++) {
          const f = readdirSync(sub).find((n) => n === "core" || n === `core.${fx.pid}`);
          if (f) { out.push(path.join(sub, f)); break; }
          await new Promise((r) => setTimeout(r, 100));
        }
      } else if (hasGcore) {
        spawnSync("gcore", ["-o", path.join(sub, "gcore"), String(fx.pid)], { timeout: 60000 });
        if (existsSync(path.join(sub, `gcore.${fx.pid}`))) out.push(path.join(sub, `gcore.${fx.pid}`));
      }
    } finally {
      fx.kill();
    }
  }
  return out;
}

async function runCli(args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "", timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill("SIGKILL"); }, timeoutMs);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, timedOut }); });
  });
}

if (isMainThread) {
  const seed = Number(process.env.WSPY_FUZZ_SEED ?? 1);
  const snapshots = existsSync(SNAPSHOTS) ? readdirSync(SNAPSHOTS).filter((f) => f.endsWith(".snapshot")).sort().map((f) => path.join(SNAPSHOTS, f)) : [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), "wspy-fuzz-"));

  if (process.env.WSPY_FUZZ_CASE !== undefined) {
    // reproduce one case (cores: made afresh, so core cases reproduce only with the same core files: WSPY_FUZZ_CORES=a,b)
    const i = Number(process.env.WSPY_FUZZ_CASE);
    const lib = await loadLib();
    const cores = process.env.WSPY_FUZZ_CORES ? process.env.WSPY_FUZZ_CORES.split(",") : [];
    const corpus = openCorpus(lib, { snapshots, cores });
    const save = path.join(os.tmpdir(), `wspy-fuzz-case-${i}`);
    const r = runCase(lib, corpus, seed, i, { save });
    console.log(JSON.stringify({ case: i, seed, ...r, saved: save }, null, 2));
    rmSync(tmp, { recursive: true, force: true });
    process.exit(r.outcome === "trap" || r.outcome === "crash" ? 1 : 0);
  }

  const { default: t } = await import("tap");
  t.setTimeout(600_000);
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const budgetMs = Number(process.env.WSPY_FUZZ_SECONDS ?? 50) * 1000;
  const cores = await makeCores(tmp);
  const spec = { snapshots, cores };

  t.test("in-process: mutated snapshots and cores end in stacks or a WspyError", async (t) => {
    t.ok(snapshots.length > 0, `${snapshots.length} snapshot fixtures`);
    if (!cores.length) t.skip("mutated cores: no core files could be made here (no interpreter, no kernel cores, no gcore); snapshots only");
    else t.comment(`cores: ${cores.length} (${cores.map((c) => path.basename(path.dirname(c)) + "/" + path.basename(c)).join(", ")})`);
    const findings = [];
    const counts = { stacks: 0, error: 0, trap: 0, crash: 0, hang: 0 };
    const errorCodes = {};
    const deadline = Date.now() + budgetMs;
    let next = 0;
    const done = () => Object.values(counts).reduce((a, b) => a + b, 0);
    // the budget, and at least MIN_CASES cases: a condition, so a slow machine runs longer, not fewer
    // (a worker failing over and over ends it too: 20 findings say enough)
    while ((Date.now() < deadline || done() < MIN_CASES) && findings.length < 20) {
      const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { spec, seed, start: next } });
      const ended = await new Promise((resolve) => {
        // the hang clock runs from each case's start: not while the worker loads the corpus
        let current = next, lastStart = null;
        const watch = setInterval(() => {
          if (lastStart !== null && Date.now() - lastStart > CASE_TIMEOUT_MS) {
            clearInterval(watch);
            worker.terminate();
            resolve({ hang: current });
          } else if (Date.now() >= deadline && done() >= MIN_CASES) {
            worker.postMessage("stop");
          }
        }, 200);
        worker.on("message", (m) => {
          if (m.type === "start") { current = m.i; lastStart = Date.now(); }
          else if (m.type === "done") {
            counts[m.outcome]++;
            next = m.i + 1;
            if (m.outcome === "error") { const c = m.detail.split(":")[0]; errorCodes[c] = (errorCodes[c] ?? 0) + 1; }
            if (m.outcome === "trap" || m.outcome === "crash") findings.push({ case: m.i, outcome: m.outcome, mutations: m.log.join(" + "), detail: m.detail.split("\n").slice(0, 6).join("\n") });
          } else if (m.type === "stopped") { clearInterval(watch); resolve({}); }
        });
        worker.on("error", (e) => { clearInterval(watch); findings.push({ case: current, outcome: "crash", detail: `worker: ${e?.stack ?? e}` }); next = current + 1; resolve({}); });
        worker.on("exit", () => { clearInterval(watch); resolve({}); });
      });
      if (ended.hang !== undefined) {
        counts.hang++;
        findings.push({ case: ended.hang, outcome: "hang", detail: `no result within ${CASE_TIMEOUT_MS} ms` });
        next = ended.hang + 1;
      }
      await worker.terminate();
    }
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    t.comment(`${total} cases (seed ${seed}): ${JSON.stringify(counts)}; errors by code ${JSON.stringify(errorCodes)}`);
    // about 50 cases a second on an idle 2-core machine, far fewer when other tests share it
    t.ok(total >= MIN_CASES, `at least ${MIN_CASES} cases ran (${total})`);
    t.ok(counts.stacks > 0, "some mutated inputs still decode to stacks");
    for (const f of findings) t.fail(`case ${f.case}: ${f.outcome} (${f.mutations ?? ""}): ${f.detail} — rerun: WSPY_FUZZ_SEED=${seed} WSPY_FUZZ_CASE=${f.case}${cores.length ? ` WSPY_FUZZ_CORES=${cores.join(",")}` : ""} node test/fuzz.test.mjs`);
    t.equal(findings.length, 0, "no traps, crashes or hangs");
  });

  t.test("through the CLI: mutated files get stacks or one clear line", async (t) => {
    const lib = await loadLib();
    const corpus = openCorpus(lib, spec);
    const N = Number(process.env.WSPY_FUZZ_CLI_CASES ?? 30);
    const jobs = [];
    for (let k = 0; k < N; k++) {
      const i = 1_000_000 + k;
      const rng = caseRng(seed, i);
      const item = corpus.length > snapshots.length && k % 4 === 3 ? corpus[snapshots.length + (k % (corpus.length - snapshots.length))] : corpus[k % snapshots.length];
      if (!item) continue;
      const log = [];
      const file = path.join(tmp, `cli-${k}.${item.kind}`);
      if (item.kind === "snapshot") writeFileSync(file, mutateSnapshot(lib, item.bytes, rng, log));
      else { const { patches, truncateAt } = mutateCore(item, rng, log); writeMutatedCore(item, patches, truncateAt, file); }
      jobs.push({ k, file, kind: item.kind, log: [item.name, ...log] });
    }
    const results = [];
    for (let j = 0; j < jobs.length; j += 4) {
      results.push(...await Promise.all(jobs.slice(j, j + 4).map(async (job) => ({ job, r: await runCli(["dump", job.kind === "core" ? "--core" : "--snapshot", job.file, "--json"], 120_000) }))));
      for (const { job } of results.slice(-4)) if (job.kind === "core") rmSync(job.file, { force: true });
    }
    let ok = 0, errs = 0;
    for (const { job, r } of results) {
      const what = `cli case ${job.k} (${job.log.join(" + ")})`;
      if (r.timedOut) { t.fail(`${what}: no answer within 120 s`); continue; }
      if (r.code === 0) {
        ok++;
        try { JSON.parse(r.stdout); } catch { t.fail(`${what}: exit 0 but no JSON`); }
        continue;
      }
      errs++;
      const lines = r.stderr.trim().split("\n").filter((l) => !/^wspy: warning: /.test(l));
      if (r.code === 70 || lines.length !== 1 || !/^wspy: /.test(lines[0]) || /\n\s+at /.test(r.stderr)) t.fail(`${what}: exit ${r.code}, stderr ${JSON.stringify(r.stderr.slice(0, 400))}`);
    }
    t.comment(`${results.length} CLI cases: ${ok} printed stacks, ${errs} one-line errors`);
    t.equal(ok + errs, results.length, "every CLI case ended cleanly");
  });

  t.test("live memory: a stopped copy of a process, damaged through /proc/COPY/mem, dumps to stacks or a WspyError", async (t) => {
    // test/fixtures/fork_copy.py forks a copy of itself at the end of a deep stack; the copy is
    // stopped (SIGSTOP) and only the copy's memory is written: the words wspy read for one clean
    // dump (a snapshot of the copy says which) are set to garbage 1 to 3 at a time (links first),
    // the copy is dumped in-process through the library (the live reader, process_vm_readv), and
    // the words are put back. Never a trap (an INTERNAL error), another exception or a hang.
    const { findByLabel } = await import("./helpers/pythons.mjs");
    const { startFixture } = await import("./helpers/run.mjs");
    const [{ takeSnapshot }, { dump }, rs, { WspyError }, { isCoreTrap }] = await Promise.all([
      import(path.join(BUILD, "commands", "snapshot.js")), import(path.join(BUILD, "commands", "dump.js")), import(path.join(BUILD, "target", "snapshot-file.js")),
      import(path.join(BUILD, "errors.js")), import(path.join(BUILD, "core", "core.js")),
    ]);
    const labels = ["pyenv 3.11", "provisioned 3.14", "pyenv 3.9", "pyenv 3.12", "pyenv 2.7", "provisioned 3.15", "pyenv 3.13"];
    const pythons = labels.map(findByLabel).filter(Boolean);
    if (!pythons.length) return t.skip("no interpreter from the list found here");
    const liveBudgetMs = Number(process.env.WSPY_FUZZ_LIVE_SECONDS ?? 40) * 1000;
    const VALUES = [2n ** 64n - 1n, 0n, 2n ** 63n - 1n, 0x7ffffff8n, 2n ** 63n, 1n];
    const totals = { cases: 0, stacks: 0, torn: 0, error: 0, trap: 0 };
    const started = Date.now();
    for (let pi = 0; pi < pythons.length; pi++) {
      const py = pythons[pi];
      const deadline = Date.now() + liveBudgetMs / pythons.length;
      const fx = await startFixture(py.path, "fork_copy.py", [600]);
      const copy = Number((fx.lines.find((l) => /^copy \d+$/.test(l)) ?? "").split(" ")[1]);
      t.teardown(() => { try { process.kill(copy, "SIGKILL"); } catch { /* gone */ } fx.kill(); });
      if (!copy) { t.fail(`${py.label}: the fixture did not say its copy's pid`); continue; }
      process.kill(copy, "SIGSTOP");
      let fd;
      try {
        fd = openSync(`/proc/${copy}/mem`, "r+");
      } catch (e) {
        t.skip(`${py.label}: cannot write the copy's memory (${e.code}): needs ptrace access to a child's child`);
        continue;
      }
      t.teardown(() => { try { closeSync(fd); } catch { /* closed */ } });
      const snap = rs.decodeSnapshot((await takeSnapshot(copy, { locals: 1 })).bytes, "copy");
      const inRanges = (v) => v < 2n ** 53n && snap.ranges.some((r) => Number(v) >= r.addr && Number(v) < r.addr + r.data.length);
      const words = [], links = [];
      for (const r of snap.ranges) {
        for (let p = (8 - (r.addr % 8)) % 8; p + 8 <= r.data.length; p += 8) {
          const v = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length).readBigUInt64LE(p);
          words.push(r.addr + p);
          if (inRanges(v)) links.push(r.addr + p);
        }
      }
      const cell = Buffer.alloc(8);
      const readAt = (addr) => { readSync(fd, cell, 0, 8, addr); return cell.readBigUInt64LE(0); };
      const writeAt = (addr, v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); if (writeSync(fd, b, 0, 8, addr) !== 8) throw new Error(`short write at 0x${addr.toString(16)}`); };
      const counts = { stacks: 0, torn: 0, error: 0, trap: 0 };
      let n = 0;
      for (let i = 0; Date.now() < deadline; i++) {
        const rng = caseRng(seed, 2_000_000 + pi * 100_000 + i);
        const changed = [];
        const log = [];
        for (let m = int(rng, 1, 3); m > 0; m--) {
          const addr = rng() < 0.7 && links.length ? pick(rng, links) : pick(rng, words);
          const old = readAt(addr);
          const kind = pick(rng, ["value", "value", "self", "near", "bit"]);
          const v = kind === "value" ? pick(rng, VALUES) : kind === "self" ? BigInt(addr) : kind === "near" ? (old + BigInt(int(rng, -64, 64) * 8)) & (2n ** 64n - 1n) : old ^ (1n << BigInt(int(rng, 0, 63)));
          changed.push([addr, old]);
          writeAt(addr, v);
          log.push(`0x${addr.toString(16)}=0x${v.toString(16)}`);
        }
        n++;
        try {
          const d = await dump(copy, { locals: rng() < 0.25 ? 1 : 0 });
          JSON.stringify(d);
          if (d.threads.some((th) => th.error)) counts.torn++; else counts.stacks++;
        } catch (e) {
          if (e instanceof WspyError && e.code !== "INTERNAL") counts.error++;
          else {
            counts.trap++;
            t.fail(`${py.label} live case ${i} (${log.join(", ")}): ${isCoreTrap(e) ? "trap" : e?.code ?? e?.name}: ${e?.message}`);
          }
        } finally {
          for (const [addr, old] of changed.reverse()) writeAt(addr, old);
        }
      }
      t.comment(`${py.label}: ${n} live cases (${links.length} links among ${words.length} words read): ${JSON.stringify(counts)}`);
      t.equal(counts.trap, 0, `${py.label}: no trap`);
      for (const k of Object.keys(counts)) totals[k] += counts[k];
      totals.cases += n;
      // the copy is whole again: a clean dump still shows the fixture's stack
      const clean = await dump(copy, {});
      t.ok(clean.threads.some((th) => th.frames.some((f) => f.name === "park")), `${py.label}: the restored copy dumps cleanly`);
      process.kill(copy, "SIGKILL");
      fx.kill();
    }
    t.comment(`live memory: ${totals.cases} cases in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(totals)}`);
  });

  t.teardown(() => { for (const c of cores) rmSync(path.dirname(c), { recursive: true, force: true }); });
}
