// Version tables as data, end to end: tables exported from live 3.13+ processes are accepted by
// `tables check` and profile those versions alone; corrupted tables are refused clearly, never
// turned into garbage stacks; static builds started through the dynamic loader are found.
import t from "tap";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { wspy, startFixture, marks, FIXTURES, ROOT, FIXTURE_LIFETIME } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

const tmp = mkdtempSync(path.join(os.tmpdir(), "wspy-versions-"));
const idleLine = marks("idle.py").sleep;

for (const label of ["pyenv 3.13", "provisioned 3.14", "provisioned 3.15", "provisioned 3.13t"]) {
  const py = findByLabel(label);
  t.test(`${label}: tables export → check → profile from the plugin alone`, { skip: py ? false : missingReason(label) }, async (t) => {
    const fx = await startFixture(py.path, "idle.py", [FIXTURE_LIFETIME]);
    t.teardown(fx.kill);
    const file = path.join(tmp, `${label.replace(/ /g, "-")}.json`);
    const ex = await wspy(["tables", "export", "-p", String(fx.pid), "-o", file]);
    t.equal(ex.code, 0, ex.stderr);
    const doc = JSON.parse(readFileSync(file, "utf8"));
    const minor = py.version.split(".").slice(0, 2).join(".");
    t.same(doc.versions, { min: minor, max: minor }, "covers the minor version");
    t.equal(doc.python, py.version);
    t.match(doc.source, /_Py_DebugOffsets of Python/);

    const check = await wspy(["tables", "check", file]);
    t.equal(check.code, 0, check.stderr);
    t.match(check.stdout, `valid, Python ${minor}`);

    const d = await wspy(["dump", "-p", String(fx.pid), "--json", "--version-table", file], { env: { WSPY_NO_BUILTIN_TABLES: "1" } });
    t.equal(d.code, 0, d.stderr);
    const dumpDoc = JSON.parse(d.stdout);
    t.equal(dumpDoc.tableSource, file, "the plugin file was used");
    const main = dumpDoc.threads.find((th) => th.tid === fx.pid);
    t.same(main.frames, [{ name: "<module>", file: path.join(FIXTURES, "idle.py"), line: idleLine }]);

    // a corrupted offset that still lies inside its struct: refused at attach, not garbage
    const bad = JSON.parse(JSON.stringify(doc));
    bad.offsets.thread_state.interp += 8;
    const badFile = path.join(tmp, `bad-${path.basename(file)}`);
    writeFileSync(badFile, JSON.stringify(bad));
    t.equal((await wspy(["tables", "check", badFile])).code, 0, "passes the static checks");
    const r = await wspy(["dump", "-p", String(fx.pid), "--version-table", badFile]);
    t.equal(r.code, 6, "refused");
    t.equal(r.stderr.trim().split("\n").length, 1, "one line");
    t.match(r.stderr, /does not match this build/);
    t.equal(r.stdout, "", "no stacks printed");

    // a corrupted code-object offset (co_filename read from ob_type's slot): names are type
    // checked, so the trial walk finds no decodable stack. (Two str fields swapped cannot be told
    // apart from bytes alone: that is what `tables check` and the provenance in `source` are for.)
    const bad2 = JSON.parse(JSON.stringify(doc));
    bad2.offsets.code_object.filename = 8;
    const badFile2 = path.join(tmp, `bad2-${path.basename(file)}`);
    writeFileSync(badFile2, JSON.stringify(bad2));
    const r2 = await wspy(["dump", "-p", String(fx.pid), "--json", "--version-table", badFile2]);
    if (r2.code === 0) {
      // accepted only if the stacks still decode to the truth (the name slot is re-checked)
      t.fail(`a corrupted code_object table was accepted: ${r2.stdout.slice(0, 200)}`);
    } else {
      t.equal(r2.code, 6);
      t.match(r2.stderr, /does not (match|decode)/);
    }
  });
}

t.test("a static build started through the dynamic loader", { skip: findByLabel("debian 3.11") ? false : missingReason("debian 3.11") }, async (t) => {
  const py = findByLabel("debian 3.11");
  const loader = "/lib64/ld-linux-x86-64.so.2";
  const fx = await startFixture(loader, "idle.py", [FIXTURE_LIFETIME], { prefixArgs: [py.path] }).catch(() => null);
  if (!fx) {
    // startFixture runs `python fixture`; here the "python" is the loader with the interpreter as its first argument
    return t.fail("could not start the loader");
  }
  t.teardown(fx.kill);
  const d = await wspy(["dump", "-p", String(fx.pid), "--json"]);
  t.equal(d.code, 0, d.stderr);
  const doc = JSON.parse(d.stdout);
  t.equal(doc.binary, py.path, "found the interpreter in the maps, not /proc/PID/exe");
  t.same(doc.threads.find((th) => th.tid === fx.pid).frames, [{ name: "<module>", file: path.join(FIXTURES, "idle.py"), line: idleLine }]);
});

t.test("tables list and show", async (t) => {
  const r = await wspy(["tables", "list"]);
  t.equal(r.code, 0);
  for (const v of ["2.7", "3.6", "3.7.4–3.7", "3.8", "3.9", "3.10", "3.11", "3.12"]) t.match(r.stdout, new RegExp(`^${v.replace(/\./g, "\\.")}\\tbuilt-in`, "m"));
  t.match(r.stdout, /3\.13\+/);
  const s = await wspy(["tables", "show", "3.10.4"]);
  t.equal(s.code, 0);
  t.match(s.stdout, /cpython-3\.10\.json/);
  t.match(s.stdout, /"frame_model": "frame_object"/);
  const u = await wspy(["tables", "show", "3.7.2"]);
  t.equal(u.code, 6, "3.7.0–3.7.3 are not covered by the 3.7.16 probes");
});

// attaching reads only the built-in table of the target's version, found by its file name
// (host/core/tables.ts loadBuiltinFor): each file must cover exactly the minor it is named after
t.test("each built-in table covers the minor version its file is named after", async (t) => {
  const { readdirSync } = await import("node:fs");
  const dir = path.join(ROOT, "assembly", "tables");
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  t.ok(files.length >= 8, `${files.length} built-in tables`);
  for (const f of files) {
    const minor = /^cpython-(\d+\.\d+)\.json$/.exec(f)?.[1];
    t.ok(minor, `${f} is named cpython-X.Y.json`);
    const { versions } = JSON.parse(readFileSync(path.join(dir, f), "utf8"));
    for (const end of ["min", "max"]) t.ok(versions[end] === minor || versions[end].startsWith(`${minor}.`), `${f}: versions.${end} ${versions[end]} is in ${minor}`);
  }
});

t.test("--force-version reads a target as another version, and a mismatch is refused", { skip: findByLabel("pyenv 3.13") ? false : missingReason("3.13") }, async (t) => {
  const fx = await startFixture(findByLabel("pyenv 3.13").path, "idle.py", [FIXTURE_LIFETIME]);
  t.teardown(fx.kill);
  const r = await wspy(["dump", "-p", String(fx.pid), "--force-version", "3.12"]);
  t.equal(r.code, 6);
  t.match(r.stderr, /as 3\.12, as --force-version asks/);
  t.match(r.stderr, /does not match this build/);
});
