// Writes the built-in version tables (cpython-X.Y.json, format "wspy-version-table/1"): for
// each pyenv CPython build it compiles a C program of offsetof()/sizeof() probes with gcc
// against that version's own headers, runs it, and records what it prints.
// Must not know: any offset or size. It knows only which CPython member answers which
// wspy field in which version, which headers declare it, and the per-version capabilities.
// Source of truth: the headers of each build under $PYENV_ROOT/versions/V/include (and
// their internal/ folder), as laid out by the host's gcc (x86-64 Linux).
//
// Usage: node assembly/tables/generate.mjs [--check]
//   --check  regenerate in memory; exit 1 if a file on disk differs (or is missing).

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const FORMAT = "wspy-version-table/1";
const MINORS = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12"];
const DEFINES = ["Py_BUILD_CORE"]; // enough for every internal header of 2.7–3.12

// A range is "X.Y" (that minor), "X.Y-" (and later), "-X.Y" (and earlier), "X.Y-A.B", or "*".
const key = (v) => v.split(".").map(Number).reduce((a, n) => a * 100 + n);
function inRange(range, minor) {
  if (range === "*") return true;
  if (!range.includes("-")) return key(range) === key(minor);
  const [lo, hi] = range.split("-");
  return (lo === "" || key(minor) >= key(lo)) && (hi === "" || key(minor) <= key(hi));
}
const pick = (variants, minor) => variants.find(([range]) => inRange(range, minor))?.[1];

// Headers that declare the probed structs, per version.
const HEADERS = [
  ["*", '"Python.h"'],
  ["-3.10", '"frameobject.h"'],          // PyFrameObject (cpython/frameobject.h in 3.10)
  ["2.7", '"code.h"'],                    // not pulled in by Python.h in 2.7
  ["3.7", '"internal/pystate.h"'],        // _PyRuntimeState
  ["3.8", '"internal/pycore_pystate.h"'], // _PyRuntimeState, PyInterpreterState
  ["3.9-", '"internal/pycore_runtime.h"'],
  ["3.9-", '"internal/pycore_interp.h"'],
  ["3.11-", '"internal/pycore_frame.h"'], // _PyInterpreterFrame
  ["-3.10", '"longintrepr.h"'],           // PyLongObject's digits
  ["3.11-", '"internal/pycore_dict.h"'],  // PyDictKeysObject, PyDictValues
];

// [section, field, [[range, C expression], ...]]: the first matching range wins; no match
// means the field does not exist in that version and is omitted.
const FIELDS = [
  ["runtime_state", "size", [["3.7-", "sizeof(_PyRuntimeState)"]]],
  ["runtime_state", "interpreters_head", [["3.7-", "offsetof(_PyRuntimeState, interpreters.head)"]]],
  ["runtime_state", "tstate_current", [["3.7-3.11", "offsetof(_PyRuntimeState, gilstate.tstate_current)"]]],

  ["interpreter_state", "size", [["*", "sizeof(PyInterpreterState)"]]],
  ["interpreter_state", "id", [["3.7-", "offsetof(PyInterpreterState, id)"]]],
  ["interpreter_state", "next", [["*", "offsetof(PyInterpreterState, next)"]]],
  ["interpreter_state", "threads_head", [
    ["-3.10", "offsetof(PyInterpreterState, tstate_head)"],
    ["3.11-", "offsetof(PyInterpreterState, threads.head)"],
  ]],
  ["interpreter_state", "gil_runtime_state_locked", [["3.12", "offsetof(PyInterpreterState, _gil.locked)"]]],
  ["interpreter_state", "gil_runtime_state_holder", [["3.12", "offsetof(PyInterpreterState, _gil.last_holder)"]]],

  ["thread_state", "size", [["*", "sizeof(PyThreadState)"]]],
  ["thread_state", "next", [["*", "offsetof(PyThreadState, next)"]]],
  ["thread_state", "interp", [["*", "offsetof(PyThreadState, interp)"]]],
  ["thread_state", "frame", [["-3.10", "offsetof(PyThreadState, frame)"]]],
  ["thread_state", "cframe", [["3.11-3.12", "offsetof(PyThreadState, cframe)"]]],
  ["thread_state", "thread_id", [["*", "offsetof(PyThreadState, thread_id)"]]],
  ["thread_state", "native_thread_id", [["3.11-", "offsetof(PyThreadState, native_thread_id)"]]],
  ["thread_state", "datastack_chunk", [["3.11-", "offsetof(PyThreadState, datastack_chunk)"]]],

  ["cframe", "size", [["3.11-3.12", "sizeof(_PyCFrame)"]]],
  ["cframe", "current_frame", [["3.11-3.12", "offsetof(_PyCFrame, current_frame)"]]],

  ["interpreter_frame", "size", [["3.11-", "sizeof(_PyInterpreterFrame)"]]],
  ["interpreter_frame", "previous", [["3.11-", "offsetof(_PyInterpreterFrame, previous)"]]],
  ["interpreter_frame", "executable", [["3.11-3.12", "offsetof(_PyInterpreterFrame, f_code)"]]],
  ["interpreter_frame", "instr_ptr", [["3.11-3.12", "offsetof(_PyInterpreterFrame, prev_instr)"]]],
  ["interpreter_frame", "owner", [["3.11-", "offsetof(_PyInterpreterFrame, owner)"]]],
  // 3.11 only: the frame an eval loop was entered with (where a native stack's eval frame starts a block)
  ["interpreter_frame", "is_entry", [["3.11", "offsetof(_PyInterpreterFrame, is_entry)"]]],
  ["interpreter_frame", "localsplus", [["3.11-", "offsetof(_PyInterpreterFrame, localsplus)"]]],

  ["frame_object", "size", [["-3.10", "sizeof(PyFrameObject)"]]],
  ["frame_object", "f_back", [["-3.10", "offsetof(PyFrameObject, f_back)"]]],
  ["frame_object", "f_code", [["-3.10", "offsetof(PyFrameObject, f_code)"]]],
  ["frame_object", "f_lasti", [["-3.10", "offsetof(PyFrameObject, f_lasti)"]]],
  ["frame_object", "f_localsplus", [["-3.10", "offsetof(PyFrameObject, f_localsplus)"]]],

  ["code_object", "size", [["*", "sizeof(PyCodeObject)"]]],
  ["code_object", "filename", [["*", "offsetof(PyCodeObject, co_filename)"]]],
  ["code_object", "name", [["*", "offsetof(PyCodeObject, co_name)"]]],
  ["code_object", "qualname", [["3.11-", "offsetof(PyCodeObject, co_qualname)"]]],
  ["code_object", "linetable", [
    ["-3.9", "offsetof(PyCodeObject, co_lnotab)"],
    ["3.10-", "offsetof(PyCodeObject, co_linetable)"],
  ]],
  ["code_object", "firstlineno", [["*", "offsetof(PyCodeObject, co_firstlineno)"]]],
  ["code_object", "co_code_adaptive", [["3.11-", "offsetof(PyCodeObject, co_code_adaptive)"]]],
  ["code_object", "argcount", [["*", "offsetof(PyCodeObject, co_argcount)"]]],
  ["code_object", "varnames", [
    ["-3.10", "offsetof(PyCodeObject, co_varnames)"],
    ["3.11-", "offsetof(PyCodeObject, co_localsplusnames)"],
  ]],

  ["pyobject", "size", [["*", "sizeof(PyObject)"]]],
  ["pyobject", "ob_type", [["*", "offsetof(PyObject, ob_type)"]]],

  ["type_object", "size", [["*", "sizeof(PyTypeObject)"]]],
  ["type_object", "tp_name", [["*", "offsetof(PyTypeObject, tp_name)"]]],
  ["type_object", "tp_flags", [["*", "offsetof(PyTypeObject, tp_flags)"]]],

  ["unicode_object", "size", [["*", "sizeof(PyUnicodeObject)"]]],
  ["unicode_object", "state", [["3.0-", "offsetof(PyASCIIObject, state)"]]],
  ["unicode_object", "length", [["-2.7", "offsetof(PyUnicodeObject, length)"], ["3.0-", "offsetof(PyASCIIObject, length)"]]],
  ["unicode_object", "asciiobject_size", [["3.0-", "sizeof(PyASCIIObject)"]]],
  ["unicode_object", "compactunicodeobject_size", [["3.0-", "sizeof(PyCompactUnicodeObject)"]]],
  ["unicode_object", "data", [["-2.7", "offsetof(PyUnicodeObject, str)"], ["3.0-", "offsetof(PyUnicodeObject, data)"]]],

  ["bytes_object", "size", [["3.0-", "sizeof(PyBytesObject)"]]],
  ["bytes_object", "ob_size", [["3.0-", "offsetof(PyBytesObject, ob_base.ob_size)"]]],
  ["bytes_object", "ob_sval", [["3.0-", "offsetof(PyBytesObject, ob_sval)"]]],

  ["string_object", "size", [["-2.7", "sizeof(PyStringObject)"]]],
  ["string_object", "ob_size", [["-2.7", "offsetof(PyStringObject, ob_size)"]]],
  ["string_object", "ob_sval", [["-2.7", "offsetof(PyStringObject, ob_sval)"]]],

  // thread names and --locals (optional in a table)
  ["interpreter_state", "imports_modules", [
    ["-3.11", "offsetof(PyInterpreterState, modules)"],
    ["3.12-", "offsetof(PyInterpreterState, imports.modules)"],
  ]],
  ["type_object", "tp_basicsize", [["*", "offsetof(PyTypeObject, tp_basicsize)"]]],
  ["type_object", "tp_dictoffset", [["*", "offsetof(PyTypeObject, tp_dictoffset)"]]],
  ["code_object", "localspluskinds", [["3.11-", "offsetof(PyCodeObject, co_localspluskinds)"]]],
  ["code_object", "flags", [["*", "offsetof(PyCodeObject, co_flags)"]]],
  ["heap_type_object", "size", [["3.6-", "sizeof(PyHeapTypeObject)"]]],
  ["heap_type_object", "ht_cached_keys", [["3.6-", "offsetof(PyHeapTypeObject, ht_cached_keys)"]]],
  ["dict_object", "size", [["*", "sizeof(PyDictObject)"]]],
  ["dict_object", "ma_used", [["*", "offsetof(PyDictObject, ma_used)"]]],
  ["dict_object", "ma_keys", [["3.6-", "offsetof(PyDictObject, ma_keys)"]]],
  ["dict_object", "ma_values", [["3.6-", "offsetof(PyDictObject, ma_values)"]]],
  ["dict_object", "ma_mask", [["-2.7", "offsetof(PyDictObject, ma_mask)"]]],
  ["dict_object", "ma_table", [["-2.7", "offsetof(PyDictObject, ma_table)"]]],
  // 3.6–3.10 keep PyDictKeysObject in Objects/dict-common.h, which is not installed: its
  // layout is fixed (dk_refcnt, dk_size, dk_lookup, dk_usable, dk_nentries, dk_indices[])
  ["dict_keys", "size", [["3.6-3.10", "40"], ["3.11-", "sizeof(PyDictKeysObject)"]]],
  ["dict_keys", "dk_size", [["3.6-3.10", "8"]]],
  ["dict_keys", "dk_log2_size", [["3.11-", "offsetof(PyDictKeysObject, dk_log2_size)"]]],
  ["dict_keys", "dk_log2_index_bytes", [["3.11-", "offsetof(PyDictKeysObject, dk_log2_index_bytes)"]]],
  ["dict_keys", "dk_kind", [["3.11-", "offsetof(PyDictKeysObject, dk_kind)"]]],
  ["dict_keys", "dk_nentries", [["3.6-3.10", "32"], ["3.11-", "offsetof(PyDictKeysObject, dk_nentries)"]]],
  ["dict_keys", "dk_indices", [["3.6-3.10", "40"], ["3.11-", "offsetof(PyDictKeysObject, dk_indices)"]]],
  ["dict_values", "size", [["3.11-", "sizeof(PyDictValues)"]]],
  ["dict_values", "values", [["3.11-", "offsetof(PyDictValues, values)"]]],
  ["long_object", "size", [["*", "sizeof(PyLongObject)"]]],
  ["long_object", "ob_size", [["-2.7", "offsetof(PyLongObject, ob_size)"], ["3.0-3.11", "offsetof(PyLongObject, ob_base.ob_size)"]]],
  ["long_object", "lv_tag", [["3.12-", "offsetof(PyLongObject, long_value.lv_tag)"]]],
  ["long_object", "ob_digit", [["-3.11", "offsetof(PyLongObject, ob_digit)"], ["3.12-", "offsetof(PyLongObject, long_value.ob_digit)"]]],
  ["int_object", "size", [["-2.7", "sizeof(PyIntObject)"]]],
  ["int_object", "ob_ival", [["-2.7", "offsetof(PyIntObject, ob_ival)"]]],
  ["tuple_object", "size", [["*", "sizeof(PyTupleObject)"]]],
  ["tuple_object", "ob_size", [["-2.7", "offsetof(PyTupleObject, ob_size)"], ["3.0-", "offsetof(PyTupleObject, ob_base.ob_size)"]]],
  ["tuple_object", "ob_item", [["*", "offsetof(PyTupleObject, ob_item)"]]],
  ["list_object", "size", [["*", "sizeof(PyListObject)"]]],
  ["list_object", "ob_size", [["-2.7", "offsetof(PyListObject, ob_size)"], ["3.0-", "offsetof(PyListObject, ob_base.ob_size)"]]],
  ["list_object", "ob_item", [["*", "offsetof(PyListObject, ob_item)"]]],
  ["float_object", "size", [["*", "sizeof(PyFloatObject)"]]],
  ["float_object", "ob_fval", [["*", "offsetof(PyFloatObject, ob_fval)"]]],
  ["set_object", "size", [["*", "sizeof(PySetObject)"]]],
  ["set_object", "used", [["*", "offsetof(PySetObject, used)"]]],
  // --locals: arguments, ≤3.10 cell/free variables, set contents, 2.7 unicode
  ["code_object", "kwonlyargcount", [["3.0-", "offsetof(PyCodeObject, co_kwonlyargcount)"]]],
  ["code_object", "nlocals", [["-3.10", "offsetof(PyCodeObject, co_nlocals)"]]],
  ["code_object", "cellvars", [["-3.10", "offsetof(PyCodeObject, co_cellvars)"]]],
  ["code_object", "freevars", [["-3.10", "offsetof(PyCodeObject, co_freevars)"]]],
  ["set_object", "mask", [["*", "offsetof(PySetObject, mask)"]]],
  ["set_object", "table", [["*", "offsetof(PySetObject, table)"]]],
  ["set_object", "entry_key", [["*", "offsetof(setentry, key)"]]],
  ["unicode_object", "py_unicode_size", [["-2.7", "sizeof(Py_UNICODE)"]]],

  ["stack_chunk", "size", [["3.11-", "sizeof(_PyStackChunk)"]]],
  ["stack_chunk", "previous", [["3.11-", "offsetof(_PyStackChunk, previous)"]]],
  ["stack_chunk", "chunk_size", [["3.11-", "offsetof(_PyStackChunk, size)"]]],
  ["stack_chunk", "top", [["3.11-", "offsetof(_PyStackChunk, top)"]]],
  ["stack_chunk", "data", [["3.11-", "offsetof(_PyStackChunk, data)"]]],
];

// How a reader must treat each version, beyond the numbers. [name, [[range, value], ...]]
const CAPABILITIES = [
  ["frame_model", [["-3.10", "frame_object"], ["3.11-3.12", "cframe"]]],
  ["line_table", [["-2.7", "lnotab_unsigned"], ["3.6-3.9", "lnotab"], ["3.10", "linetable_310"], ["3.11-3.12", "locations"]]],
  ["string_model", [["-2.7", "pystring"], ["3.0-", "unicode"]]],
  ["runtime_model", [["-3.6", "interp_head"], ["3.7-", "runtime"]]],
  ["gil_model", [["-3.6", "thread_state_current"], ["3.7-3.11", "runtime_tstate_current"], ["3.12", "interp_gil"]]],
  ["frame_skip", [["-3.11", "none"], ["3.12", "owner"]]],
  ["pointer_tag_bits", [["*", 0]]],
  ["thread_native_id", [["-3.10", "pthread"], ["3.11-", "field"]]],
  ["dict_model", [["-2.7", "dict27"], ["3.6-3.10", "dict36"], ["3.11-", "dict311"]]],
  ["managed_dict", [["-3.10", "none"], ["3.11", "pre_header_311"], ["3.12", "tagged_312"]]],
  ["long_model", [["-2.7", "int27"], ["3.6-3.11", "ob_size"], ["3.12-", "lv_tag"]]],
];

// ---------------------------------------------------------------------------------------

function fail(message) {
  console.error(`generate: ${message}`);
  process.exit(1);
}

// The pyenv build of a minor version: the highest final release X.Y.Z installed.
function findBuild(root, minor) {
  const dir = join(root, "versions");
  if (!existsSync(dir)) return null;
  const re = new RegExp(`^${minor.replace(".", "\\.")}\\.(\\d+)$`);
  const found = readdirSync(dir).filter((n) => re.test(n));
  found.sort((a, b) => Number(a.match(re)[1]) - Number(b.match(re)[1]));
  if (found.length === 0) return null;
  const home = join(dir, found[found.length - 1]);
  const incRoot = join(home, "include");
  const inc = existsSync(incRoot)
    ? readdirSync(incRoot).find((n) => n === `python${minor}` || n === `python${minor}m`)
    : undefined;
  if (!inc) return null;
  return { name: found[found.length - 1], include: join(incRoot, inc) };
}

function cProgram(minor) {
  const lines = ["#include <stddef.h>", "#include <stdio.h>"];
  for (const d of DEFINES) lines.push(`#define ${d} 1`);
  for (const [range, h] of HEADERS) if (inRange(range, minor)) lines.push(`#include ${h}`);
  lines.push("", "int main(void) {");
  lines.push('  printf("python %s\\n", PY_VERSION);');
  lines.push('  printf("pointer %zu\\n", sizeof(void *));');
  for (const [section, field, variants] of FIELDS) {
    const expr = pick(variants, minor);
    if (expr !== undefined) lines.push(`  printf("${section}.${field} %zu\\n", (size_t)(${expr}));`);
  }
  lines.push("  return 0;", "}", "");
  return lines.join("\n");
}

function probe(build, minor, work) {
  const src = join(work, `probe-${minor}.c`);
  const exe = join(work, `probe-${minor}`);
  writeFileSync(src, cProgram(minor));
  const args = ["-O0", "-w", `-I${build.include}`];
  if (existsSync(join(build.include, "internal"))) args.push(`-I${join(build.include, "internal")}`);
  args.push(src, "-o", exe);
  try {
    execFileSync("gcc", args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    fail(`gcc failed for CPython ${build.name}:\n${e.stderr?.toString() ?? e.message}`);
  }
  const out = execFileSync(exe, { encoding: "utf8" });
  const values = new Map();
  for (const line of out.trim().split("\n")) {
    const [name, value] = line.split(" ");
    values.set(name, value);
  }
  return values;
}

function table(build, minor, gcc, values) {
  const python = values.get("python");
  if (python !== build.name) fail(`${build.include} says PY_VERSION ${python}, expected ${build.name}`);
  if (values.get("pointer") !== "8") fail(`sizeof(void *) = ${values.get("pointer")}: tables are for 64-bit targets`);
  const capabilities = {};
  for (const [name, variants] of CAPABILITIES) {
    const value = pick(variants, minor);
    if (value !== undefined) capabilities[name] = value;
  }
  const offsets = {};
  for (const [section, field] of FIELDS) {
    const raw = values.get(`${section}.${field}`);
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 0) fail(`${python} ${section}.${field}: bad value ${raw}`);
    (offsets[section] ??= {})[field] = n;
  }
  const flags = DEFINES.map((d) => `-D${d}`).join(" ");
  return {
    format: FORMAT,
    // 3.7.0–3.7.3 keep gilstate elsewhere (py-spy: tstate_current 1392): not covered by these probes
    versions: { min: MIN_PATCH[minor] ? `${minor}.${MIN_PATCH[minor]}` : minor, max: minor },
    source: `offsetof/sizeof probes compiled by gcc ${gcc} against CPython ${python} headers (pyenv), ${flags}`,
    python,
    capabilities,
    offsets,
  };
}

// 2-space indentation. `versions` and each offsets section go on one line, so that a struct
// reads as one line and tables of two versions diff line by line; the rest one key per line.
/** The first patch release a minor's probed layout is known to hold for (else .0). */
const MIN_PATCH = { "3.7": 4 };

const ONE_LINE = (path) => path === "versions" || /^offsets\.[^.]+$/.test(path);
function render(value, path = "", depth = 0) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const entries = Object.entries(value);
  if (ONE_LINE(path)) {
    return `{ ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(", ")} }`;
  }
  const pad = "  ".repeat(depth);
  const inner = entries.map(([k, v]) =>
    `${pad}  ${JSON.stringify(k)}: ${render(v, path ? `${path}.${k}` : k, depth + 1)}`);
  return `{\n${inner.join(",\n")}\n${pad}}`;
}

function describeDiff(oldText, next) {
  let old;
  try {
    old = JSON.parse(oldText);
  } catch {
    return ["  (file on disk is not valid JSON)"];
  }
  const flatten = (o, prefix = "", acc = new Map()) => {
    for (const [k, v] of Object.entries(o ?? {})) {
      if (v !== null && typeof v === "object") flatten(v, `${prefix}${k}.`, acc);
      else acc.set(`${prefix}${k}`, v);
    }
    return acc;
  };
  const a = flatten(old), b = flatten(next), lines = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(k) !== b.get(k)) lines.push(`  ${k}: on disk ${JSON.stringify(a.get(k))}, probed ${JSON.stringify(b.get(k))}`);
  }
  return lines.length ? lines : ["  (layout/formatting differs only)"];
}

function main() {
  const args = process.argv.slice(2);
  const check = args.includes("--check");
  const unknown = args.filter((a) => a !== "--check");
  if (unknown.length) fail(`unknown argument(s): ${unknown.join(" ")}\nusage: node assembly/tables/generate.mjs [--check]`);

  const root = process.env.PYENV_ROOT || join(homedir(), ".pyenv");
  const gcc = execFileSync("gcc", ["-dumpfullversion"], { encoding: "utf8" }).trim();
  const work = mkdtempSync(join(tmpdir(), "wspy-tables-"));
  let probed = 0, differing = 0;
  try {
    for (const minor of MINORS) {
      const build = findBuild(root, minor);
      if (!build) {
        console.log(`skipped CPython ${minor}: no pyenv build with headers under ${root}/versions`);
        continue;
      }
      const t = table(build, minor, gcc, probe(build, minor, work));
      const text = render(t) + "\n";
      const file = join(HERE, `cpython-${minor}.json`);
      const shown = relative(process.cwd(), file) || file;
      const fields = Object.values(t.offsets).reduce((n, s) => n + Object.keys(s).length, 0);
      const old = existsSync(file) ? readFileSync(file, "utf8") : null;
      probed++;
      console.log(`probed CPython ${t.python} (${build.include}, gcc ${gcc}): ${fields} fields`);
      if (check) {
        if (old === text) console.log(`  ${shown}: up to date`);
        else {
          differing++;
          console.log(`  ${shown}: ${old === null ? "missing" : "DIFFERS"}`);
          if (old !== null) for (const l of describeDiff(old, t)) console.log(l);
        }
      } else if (old === text) {
        console.log(`  ${shown}: unchanged`);
      } else {
        writeFileSync(file, text);
        console.log(`  ${shown}: written`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (probed === 0) fail(`no CPython build found under ${root}/versions`);
  if (check && differing) fail(`${differing} table(s) differ from the headers; run node assembly/tables/generate.mjs`);
}

main();
