// The host–core contract (assembly/contract.ts, host/core/contract.ts): the core's description of its
// result record, status codes, read statuses and symbol ids must be what the host uses, and the
// records of a real sample of a real Python process must mean what the contract says (the
// status of a parked stack is ok, the tid is one of the process's threads, the node's stack has
// the record's depth and ends in the fixture's functions, the kept frames line up), and a symbol
// id names the symbol `nm` finds in the interpreter's file. A field moved on one side only fails here.
import t from "tap";
import { readFileSync, readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { ROOT, startFixture, FIXTURE_LIFETIME } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

const { Core } = await import(path.join(ROOT, "build", "host", "core", "core.js"));
const K = await import(path.join(ROOT, "build", "host", "core", "contract.js"));
const { Target } = await import(path.join(ROOT, "build", "host", "target", "attach.js"));

const core = new Core();
const x = core.x;
const str = (p) => core.str(p);

t.test("the host's names are the core's description", async (t) => {
  const fields = {};
  for (let i = 0; i < x.contractResultFieldCount(); i++) {
    fields[str(x.contractResultFieldName(i))] = { offset: x.contractResultFieldOffset(i), width: x.contractResultFieldWidth(i) };
  }
  const host = { tid: K.R_TID, thread: K.R_THREAD, node: K.R_NODE, status: K.R_STATUS, gil: K.R_GIL, depth: K.R_DEPTH, keep: K.R_KEEP, first_kept: K.R_FIRST_KEPT };
  t.same(Object.keys(host).sort(), Object.keys(fields).sort(), "the host reads every field the core declares, and no other");
  for (const [name, f] of Object.entries(fields)) {
    t.equal(f.width, 4, `${name} is an i32`);
    t.equal(host[name] * 4, f.offset, `${name}: host index ${host[name]} is the core's offset ${f.offset}`);
  }
  t.equal(K.R_STRIDE * 4, x.contractResultSize(), "the record stride");
  t.equal(x.RESULT_SIZE.value, x.contractResultSize(), "RESULT_SIZE is the described size");
  // no two fields overlap
  const spans = Object.values(fields).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < spans.length; i++) t.ok(spans[i - 1].offset + spans[i - 1].width <= spans[i].offset, "fields do not overlap");

  const names = [], keys = [];
  for (let i = 0; i < x.contractStatusCount(); i++) { names.push(str(x.contractStatusName(i))); keys.push(str(x.contractStatusKey(i))); }
  t.same(K.STATUS_NAMES, names, "status names by code");
  const st = { ok: K.ST_OK, read: K.ST_READ, gone: K.ST_GONE, perm: K.ST_PERM, chain: K.ST_CHAIN, limit: K.ST_LIMIT, no_runtime: K.ST_NO_RUNTIME,
    version: K.ST_VERSION, table: K.ST_TABLE, elf: K.ST_ELF, not_code: K.ST_NOT_CODE, free_threaded: K.ST_FREE_THREADED, no_memory: K.ST_NO_MEMORY, torn: K.ST_TORN };
  t.same(Object.keys(st).sort(), keys.slice().sort(), "the host names every status the core declares");
  for (const [k, v] of Object.entries(st)) t.equal(v, keys.indexOf(k), `ST_${k.toUpperCase()} is code ${keys.indexOf(k)}`);
  // what users and scripts read in `dump --json` and summaries stays what it was
  t.equal(K.STATUS_NAMES[K.ST_TORN], "stack changed while read");
  t.equal(K.STATUS_NAMES[K.ST_GONE], "target gone");

  const reads = {};
  for (let i = 0; i < x.contractReadStatusCount(); i++) reads[str(x.contractReadStatusName(i))] = x.contractReadStatusValue(i);
  t.same(reads, { fault: K.READ_FAULT, gone: K.READ_GONE, perm: K.READ_PERM }, "read statuses");
  t.equal(K.READ_GONE, K.ST_GONE, "a gone read is the gone status");
  t.equal(K.READ_PERM, K.ST_PERM, "a refused read is the permission status");

  const syms = [];
  for (let i = 0; i < x.contractSymbolCount(); i++) syms.push(str(x.contractSymbolName(i)));
  t.same(K.SYM_NAMES, syms, "symbol names by id");
  t.equal(syms[K.SYM_PY_RUNTIME], "_PyRuntime");
  t.equal(syms[K.SYM_PYCODE_TYPE], "PyCode_Type");
  t.equal(syms[K.SYM_INTERP_HEAD], "interp_head");

  const details = {};
  for (let i = 0; i < x.contractDetailCount(); i++) details[str(x.contractDetailName(i))] = x.contractDetailValue(i);
  t.same(K.describeContract().detail, details, "detail codes by name");
  t.equal(new Set(Object.values(details)).size, Object.keys(details).length, "detail codes are distinct");
});

t.test("the task record (--async): the host reads every field the core declares, at its offset", async (t) => {
  const fields = {};
  for (let i = 0; i < x.contractTaskFieldCount(); i++) fields[str(x.contractTaskFieldName(i))] = x.contractTaskFieldOffset(i);
  const host = K.describeContract().task;
  const { stride, ...named } = host;
  t.same(Object.keys(named).sort(), Object.keys(fields).sort(), "the same field names on both sides");
  for (const [name, off] of Object.entries(fields)) t.equal(named[name] * 4, off, `${name}: host index ${named[name]} is the core's offset ${off}`);
  t.equal(stride * 4, x.contractTaskRecordSize(), "the task record stride");
  const offs = Object.values(fields).sort((a, b) => a - b);
  t.equal(new Set(offs).size, offs.length, "no two fields share an offset");
  t.ok(offs.every((o) => o % 4 === 0 && o + 4 <= x.contractTaskRecordSize()), "every field an aligned i32 inside the record");
});

t.test("the host keeps no literal copy of the record layout", async (t) => {
  // every host file reads records through R_* and R_STRIDE, never a literal stride
  const dir = path.join(ROOT, "host");
  const files = readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".ts")).map(String);
  for (const f of files) {
    const text = readFileSync(path.join(dir, f), "utf8");
    t.notMatch(text, /\* 8 \+ R_[A-Z]/, `${f}: no literal stride`);
    t.notMatch(text, /\bR_[A-Z_]+ = \d/, `${f}: no literal R_* value`);
    t.notMatch(text, /\bST_[A-Z_]+ = \d/, `${f}: no literal ST_* value`);
    t.notMatch(text, /\bdetail === \d/, `${f}: no literal detail code`);
  }
});

/** Samples pid once with the records' frames kept; retries a stack torn by the running target. */
function sampleRecords(target) {
  const c = target.core;
  c.x.walkSetKeepFrames(1);
  for (let attempt = 0; attempt < 50; attempt++) {
    const n = c.x.walkSample();
    if (n < 0) throw new Error(`walk failed: ${K.STATUS_NAMES[-n]}`);
    const v = c.i32();
    const base = c.x.walkResultsPtr() >> 2;
    const records = [];
    for (let i = 0; i < n; i++) {
      const r = base + i * K.R_STRIDE;
      records.push({ tid: v[r + K.R_TID], thread: v[r + K.R_THREAD], node: v[r + K.R_NODE], status: v[r + K.R_STATUS],
        gil: v[r + K.R_GIL], depth: v[r + K.R_DEPTH], keep: v[r + K.R_KEEP], firstKept: v[r + K.R_FIRST_KEPT] });
    }
    if (records.length >= 4 && records.every((r) => r.status === K.ST_OK)) return { records, kept: c.x.keptFrameCount() };
  }
  return null;
}

for (const label of ["pyenv 2.7", "pyenv 3.6", "pyenv 3.12", "provisioned 3.14"]) {
  const python = findByLabel(label);
  t.test(`real records of ${label}`, { skip: python ? false : missingReason(label.split(" ")[1]) ?? `${label} not found` }, async (t) => {
    const fx = await startFixture(python.path, "known_stacks.py", [FIXTURE_LIFETIME]);
    t.teardown(fx.kill);
    const target = await Target.attach(fx.pid, { waitMs: 10000 });
    t.teardown(() => target.close());
    const got = sampleRecords(target);
    t.ok(got, "a sample with every thread ok");
    if (!got) return;
    const { records, kept } = got;
    const tids = readdirSync(`/proc/${fx.pid}/task`).map(Number);
    const c = target.core;
    let keptSeen = 0;
    for (const r of records) {
      t.equal(r.status, K.ST_OK, "status ok");
      t.ok(tids.includes(r.tid), `tid ${r.tid} is a thread of the process`);
      t.equal(c.thread(r.thread).tid, r.tid, "the interned thread has the record's tid");
      t.ok(r.node >= 0, "a stack node");
      const frames = c.stackOf(r.node);
      t.equal(frames.length, r.depth, "depth is the node's stack length");
      t.ok(r.gil === 0 || r.gil === 1, "gil is a flag");
      t.equal(r.keep, 0, "keep is the host's, unset by the core");
      t.ok(r.firstKept >= 0 && r.firstKept + r.depth <= kept, "kept frames lie inside what was kept");
      t.equal(r.firstKept, keptSeen, "kept frames follow one another, record by record");
      keptSeen += r.depth;
    }
    const main = records.find((r) => r.tid === fx.pid);
    t.ok(main, "the main thread's record has the process id as tid");
    if (main) {
      const names = c.stackOf(main.node).map((f) => c.frame(f).name);
      t.equal(names[names.length - 1], "<module>", "the outermost frame is the module");
      t.match(names[0], /main_wait/, "the innermost frame is where the fixture parks");
    }
    // a symbol id names the symbol nm finds in the interpreter's file
    const facts = target.facts.elf.symbols;
    const want = python.version.startsWith("2.") || python.version.startsWith("3.6") ? "PyCode_Type" : "_PyRuntime";
    const id = K.SYM_NAMES.indexOf(want);
    const nm = spawnSync("nm", ["-D", "--defined-only", target.info.binary], { encoding: "utf8" });
    const line = (nm.stdout ?? "").split("\n").find((l) => l.endsWith(` ${want}`));
    if (!line) { t.comment(`nm shows no ${want} in ${target.info.binary}`); return; }
    t.equal(facts[id], BigInt(`0x${line.split(" ")[0]}`), `symbol id ${id} is ${want} at nm's address`);
  });
}
