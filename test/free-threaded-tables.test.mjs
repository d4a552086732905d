// Free-threaded 3.14t and 3.15t cannot be run here (Debian does not serve their sources to this
// machine kind), so every offset wspy's decoders use for them is derived and checked from the
// headers: test/fixtures/ft-probe/layout_probe.c is compiled against the provisioned 3.14 and
// 3.15 headers with -DPy_GIL_DISABLED=1 (and without, as a control). Its "raw" output is the
// headers' own _Py_DebugOffsets initializer (what such a build's _PyRuntime starts with); the core
// builds its version table from those bytes exactly as at attach (registryFromDebugOffsets), and
// every field of that table must equal the probe's offsetof()/sizeof() of the struct member it
// names, with no field left unchecked; the capabilities must follow the headers' facts (the
// str state bits, MANAGED_DICT_OFFSET, Py_TAG_BITS, thread-local bytecode, no GIL).
// Decoding memory laid out this way is test/free-threaded-snapshots.test.mjs's business.
// Source of truth: the provisioned headers (include/python3.X, internal/ included).
import t from "tap";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { ROOT, FIXTURES } from "./helpers/run.mjs";

const PROBE = path.join(FIXTURES, "ft-probe", "layout_probe.c");
const DIR = process.env.WSPY_PYTHONS_DIR || path.join(homedir(), ".cache", "wspy-pythons");
const haveGcc = spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;

const host = await import(path.join(ROOT, "build", "host", "core", "core.js"));
const { exportTable } = await import(path.join(ROOT, "build", "host", "core", "tables.js"));

for (const minor of ["3.14", "3.15"]) {
  for (const ft of [true, false]) {
    const label = `${minor}${ft ? "t" : ""} headers`;
    t.test(`${label}: the table built from their _Py_DebugOffsets matches every offsetof`, async (t) => {
      if (!haveGcc) return t.skip("gcc is not installed: it compiles the layout probe");
      const inc = path.join(DIR, "root", "usr", "include", `python${minor}`);
      if (!existsSync(path.join(inc, "internal", "pycore_debug_offsets.h"))) {
        return t.skip(`no ${minor} headers under ${inc} (provision them with ../shared/tools/provision-pythons)`);
      }
      const dir = mkdtempSync(path.join(tmpdir(), "wspy-ftprobe-"));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const exe = path.join(dir, "probe");
      execFileSync("gcc", ["-w", ...(ft ? ["-DPy_GIL_DISABLED=1"] : []), `-I${inc}`, `-I${path.join(inc, "internal")}`,
        `-I${path.join(DIR, "root", "usr", "include")}`, "-o", exe, PROBE]);
      const raw = execFileSync(exe, ["raw"]);
      const facts = {}, want = {};
      for (const line of execFileSync(exe, [], { encoding: "utf8" }).trim().split("\n")) {
        const [key, value] = line.split(" ");
        if (key.startsWith("fact.")) facts[key.slice(5)] = Number(value);
        else want[key] = Number(value);
      }
      t.equal(facts.free_threaded, ft ? 1 : 0, `the headers say free_threaded = ${ft ? 1 : 0}`);

      const core = new host.Core();
      const ptr = core.x.scratchPtr();
      core.u8().set(raw, ptr);
      const id = core.x.registryFromDebugOffsets(ptr, raw.length, 0);
      t.ok(id >= 0, `a table is built (status ${id < 0 ? host.STATUS_NAMES[-id] : "ok"})`);
      if (id < 0) return;
      const table = JSON.parse(exportTable(core, id, facts.version, "probe", label));
      const got = {};
      for (const [section, fields] of Object.entries(table.offsets)) {
        for (const [field, v] of Object.entries(fields)) got[`${section}.${field}`] = v;
      }
      const unchecked = Object.keys(got).filter((k) => !(k in want));
      t.same(unchecked, [], "every field of the table is one the probe measures");
      const wrong = Object.keys(got).filter((k) => k in want && got[k] !== want[k]).map((k) => `${k}: table ${got[k]}, headers ${want[k]}`);
      t.same(wrong, [], `${Object.keys(got).length} fields equal the headers' offsetof/sizeof`);
      // decoders need these; a default build's table carries no thread-local bytecode fields
      for (const k of ["interpreter_frame.tlbc_index", "code_object.co_tlbc"]) {
        t.equal(k in got, ft, `${k} ${ft ? "present" : "absent"}`);
      }

      const caps = table.capabilities;
      t.equal(caps.gil_model, ft ? "none" : "interp_gil", "gil_model");
      // kind:3 at bits 2-4 (packed) or 8-10 (interned a byte of its own)
      const kindShift = Math.log2(facts.kind_bits / 7);
      t.equal(caps.string_state, kindShift === 8 ? "interned_byte" : "packed", `string_state (kind at bit ${kindShift})`);
      t.equal(facts.compact_bit, 1 << (kindShift + 3), "compact follows kind");
      t.equal(facts.ascii_bit, 1 << (kindShift + 4), "ascii follows compact");
      t.equal(caps.managed_dict, facts.managed_dict_offset === -8 ? "inline_ft" : "inline_313", `managed_dict (MANAGED_DICT_OFFSET ${facts.managed_dict_offset})`);
      t.equal(caps.pointer_tag_bits, facts.tag_bits, `pointer_tag_bits = Py_TAG_BITS (${facts.tag_bits})`);
      t.equal(caps.bytecode, ft ? "thread_local" : "shared", "bytecode");
      if (ft) t.equal(facts.tlbc_entries, 8, "_PyCodeArray.entries follows its Py_ssize_t size (frames.ts reads it at +8)");
    });
  }
}
