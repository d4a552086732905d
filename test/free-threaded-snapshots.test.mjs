// Free-threaded 3.14t and 3.15t, which this machine cannot run, decoded from synthetic snapshots:
// for each, a `wspy dump --snapshot FILE --json` of a process of three threads laid out as such a
// build lays it out shows exactly the expected frames (qualified names, files, lines, thread ids):
// shared bytecode (tlbc_index 0) behind a nested entry frame; frames executing thread-local
// bytecode (tlbc_index 1 and 2, instr_ptr into co_tlbc->entries[i]) whose address relative to
// co_code_adaptive would name another line (a control run with tlbc_index cleared must show those
// decoy lines); names and files of every str kind (ascii, latin-1, UCS-2, UCS-4) whose `state`
// keeps `interned` in a byte of its own (0, 2, and 3 for a static string).
// Sources of truth: the provisioned 3.14/3.15 headers compiled with Py_GIL_DISABLED
// (test/fixtures/ft-probe/layout_probe.c: every offset, size and state word used here, and the bytes
// of _Py_DebugOffsets_INIT a 3.14t/3.15t _PyRuntime begins with); the provisioned python3.14 /
// python3.15 compiler (co_linetable, co_positions, instruction offsets of the functions below).
// The version table is the one wspy itself derives from those debug offsets (the core's
// registryFromDebugOffsets, exported as a snapshot records it), checked against the headers.
import t from "tap";
import { spawnSync, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { wspy, ROOT, FIXTURES } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

const PROBE = path.join(FIXTURES, "ft-probe", "layout_probe.c");

// this test's names for what the probe prints under the version table's names (the table test
// checks those) or as facts; every other name is the probe's "layout.NAME"
const ALIAS = {
  "version_hex": "fact.version", "debug_offsets.size": "fact.debug_offsets_size", "debug_offsets.free_threaded": "fact.free_threaded",
  "object.size": "pyobject.size", "object.ob_type": "pyobject.ob_type", "varobject.ob_size": "bytes_object.ob_size",
  "runtime.size": "runtime_state.size", "runtime.interpreters_head": "runtime_state.interpreters_head",
  "interp.id": "interpreter_state.id", "interp.next": "interpreter_state.next",
  "interp.threads_head": "interpreter_state.threads_head", "interp.threads_main": "interpreter_state.threads_main",
  "tstate.next": "thread_state.next", "tstate.interp": "thread_state.interp", "tstate.current_frame": "thread_state.current_frame",
  "tstate.thread_id": "thread_state.thread_id", "tstate.native_thread_id": "thread_state.native_thread_id",
  "tstate.datastack_chunk": "thread_state.datastack_chunk", "tstate.base_frame": "thread_state.base_frame",
  "frame.size": "interpreter_frame.size", "frame.f_executable": "interpreter_frame.executable", "frame.previous": "interpreter_frame.previous",
  "frame.instr_ptr": "interpreter_frame.instr_ptr", "frame.tlbc_index": "interpreter_frame.tlbc_index",
  "frame.owner": "interpreter_frame.owner", "frame.localsplus": "interpreter_frame.localsplus",
  "chunk.previous": "stack_chunk.previous", "chunk.chunk_size": "stack_chunk.chunk_size", "chunk.top": "stack_chunk.top", "chunk.data": "stack_chunk.data",
  "code.co_flags": "code_object.flags", "code.co_argcount": "code_object.argcount", "code.co_firstlineno": "code_object.firstlineno",
  "code.co_filename": "code_object.filename", "code.co_name": "code_object.name", "code.co_qualname": "code_object.qualname",
  "code.co_linetable": "code_object.linetable", "code.co_tlbc": "code_object.co_tlbc", "code.co_code_adaptive": "code_object.co_code_adaptive",
  "code_array.entries": "fact.tlbc_entries",
  "ascii.size": "unicode_object.asciiobject_size", "ascii.length": "unicode_object.length", "ascii.state": "unicode_object.state",
  "compact.size": "unicode_object.compactunicodeobject_size", "bytes.ob_sval": "bytes_object.ob_sval",
};

/** The probe's output as this test names it; a name it does not print is an error, not undefined. */
function layoutOf(text) {
  const printed = Object.fromEntries(text.trim().split("\n").map((l) => {
    const [k, v] = l.split(" ");
    return [k, Number(v)];
  }));
  return new Proxy({}, {
    get(_, name) {
      if (typeof name !== "string") return undefined;
      const key = ALIAS[name] ?? `layout.${name}`;
      if (!(key in printed)) throw new Error(`the layout probe prints no ${key} (for ${name})`);
      return printed[key];
    },
  });
}
const BUILD = path.join(ROOT, "build", "host");
const tmp = mkdtempSync(path.join(os.tmpdir(), "wspy-ft-snapshots-"));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
const haveGcc = spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;

// ---- the program the snapshots show (compiled, never run) ----

const FILE_A = "/srv/café/módulo.py"; // latin-1, not ascii: a kind 1 str
const FILE_B = "/srv/😀/tareas.py"; // U+1F600: a kind 4 str
const SOURCES = [
  {
    filename: FILE_A,
    source: `import sys


class Servidor:
    def función_名前(self, n):
        total = 0
        for i in range(n):
            total += i * i
        return total


def 𠮷野家(x):
    y = x + 1
    z = sum(map(Servidor().función_名前, [y]))
    return z * 2


def main():
    a = 1
    b = 𠮷野家(a)
    return b


if __name__ == "__main__":
    resultado = main()
    print(resultado)
`,
  },
  {
    filename: FILE_B,
    source: `import time
from módulo import 𠮷野家


def paso(k):
    x = k * 3
    time.sleep(x)
    return x


def trabajador(n):
    total = 0
    for k in range(n):
        total += paso(k)
    return total


def arranque(modo):
    if modo > 0:
        resultado = trabajador(modo)
    else:
        resultado = 𠮷野家(modo)
    return resultado
`,
  },
];

// every code object of SOURCES, as the target's compiler makes it
const FACTS_SCRIPT = `
import sys, json, dis
def walk(co):
    yield co
    for c in co.co_consts:
        if hasattr(c, "co_code"):
            yield from walk(c)
out = []
for s in json.load(sys.stdin):
    for co in walk(compile(s["source"], s["filename"], "exec")):
        out.append({
            "name": co.co_name, "qualname": co.co_qualname, "filename": co.co_filename,
            "firstlineno": co.co_firstlineno, "linetable": co.co_linetable.hex(), "code": co.co_code.hex(),
            "flags": co.co_flags, "argcount": co.co_argcount, "stacksize": co.co_stacksize,
            "nlocalsplus": len(co.co_varnames) + len(co.co_cellvars) + len(co.co_freevars),
            "lines": [p[0] for p in co.co_positions()],
            "instructions": [[i.offset // 2, i.opname] for i in dis.get_instructions(co)],
        })
json.dump(out, sys.stdout)
`;

const ENTRY = { entry: true }; // an entry frame of the eval loop, on the C stack (owner INTERPRETER)
// Three threads, innermost frame first; each stack ends at an entry frame (3.15: then the
// tstate's base_frame). mark: the source line the frame is at; op: the instruction there.
// The main thread runs the shared bytecode (tlbc_index 0), the others their own copies.
const THREADS = [
  {
    os: "Thread-2 (arran", tid: 4251, ident: 0x7f3a5cffe6c0n, stack: 0x7f3a5cffd000n, tlbc: 2,
    frames: [
      { file: FILE_A, qualname: "Servidor.función_名前", mark: "for i in range(n):", op: "FOR_ITER" },
      ENTRY, // sum(map(...)) calls back into Python from C
      { file: FILE_A, qualname: "𠮷野家", mark: "z = sum(map(Servidor().función_名前, [y]))", op: "CALL" },
      { file: FILE_B, qualname: "arranque", mark: "resultado = 𠮷野家(modo)", op: "CALL" },
    ],
  },
  {
    os: "Thread-1 (arran", tid: 4250, ident: 0x7f3a5d7ff6c0n, stack: 0x7f3a5d7fe000n, tlbc: 1,
    frames: [
      { file: FILE_B, qualname: "paso", mark: "time.sleep(x)", op: "CALL" },
      { file: FILE_B, qualname: "trabajador", mark: "total += paso(k)", op: "CALL" },
      { file: FILE_B, qualname: "arranque", mark: "resultado = trabajador(modo)", op: "CALL" },
    ],
  },
  {
    os: null, tid: 4242, ident: 0x7f3a5e1bb740n, stack: 0x7ffd3c5e1000n, tlbc: 0, main: true,
    frames: [
      { file: FILE_A, qualname: "Servidor.función_名前", mark: "total += i * i", op: "BINARY_OP" },
      ENTRY,
      { file: FILE_A, qualname: "𠮷野家", mark: "z = sum(map(Servidor().función_名前, [y]))", op: "CALL" },
      { file: FILE_A, qualname: "main", mark: "b = 𠮷野家(a)", op: "CALL" },
      { file: FILE_A, qualname: "<module>", mark: "resultado = main()", op: "CALL" },
    ],
  },
];
const PID = 4242;
const MAIN = THREADS.find((th) => th.main); // its thread created the objects (their ob_tid)

// where things are in the synthetic process (x86-64 Linux-like; the ELF file's addresses + BIAS)
const BIAS = 0x556600000000n;
const SYM = { _PyRuntime: 0xc1e5c0n, Py_Version: 0xa2a188n, PyCode_Type: 0xb7d360n, _Py_NoneStruct: 0xb6dbb0n, PyUnicode_Type: 0xb7f7c0n, PyBytes_Type: 0xb7f960n };
const STATIC_STRINGS = BIAS + 0xb90000n; // "<module>" is one of the runtime's static strings
const TRAMPOLINE = BIAS + 0xa31240n; // the entry frames' instr_ptr (_Py_INTERPRETER_TRAMPOLINE_INSTRUCTIONS)
const HEAP = 0x7f3a58000000n; // objects, _PyCodeArray, the other threads' states
const CHUNKS = 0x7f3a5a000000n; // data stack chunks (mmap'd)
const TLBC_SLOTS = 3; // co_tlbc's size: entries 0 (co_code_adaptive), 1, 2

// ---- memory ----

/** A block of the target's memory at addr (bigint); views write little-endian fields into it. */
class Space {
  constructor() { this.blocks = []; }
  block(addr, size) {
    const b = { addr, data: Buffer.alloc(size) };
    this.blocks.push(b);
    return view(b, 0);
  }
  ranges(mergeRanges) {
    const sorted = [...this.blocks].sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1];
      if (prev.addr + BigInt(prev.data.length) > sorted[i].addr) throw new Error(`blocks overlap at 0x${sorted[i].addr.toString(16)}`);
    }
    return mergeRanges(sorted.map((b) => ({ addr: Number(b.addr), data: new Uint8Array(b.data) })));
  }
}
function view(b, off) {
  return {
    addr: b.addr + BigInt(off),
    u8: (o, v) => b.data.writeUInt8(v, off + o),
    u16: (o, v) => b.data.writeUInt16LE(v, off + o),
    i32: (o, v) => b.data.writeInt32LE(v, off + o),
    u32: (o, v) => b.data.writeUInt32LE(v, off + o),
    u64: (o, v) => b.data.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), off + o),
    bytes: (o, buf) => buf.copy(b.data, off + o),
    sub: (o) => view(b, off + o),
  };
}
/**
 * Objects side by side in one block (an allocator's pages): wspy reads a str's header as one
 * window (up to the compact header's end), past the end of a short ascii str, as in a process.
 */
class Heap {
  constructor(space, base, size) { this.block = space.block(base, size); this.used = 0; this.size = size; }
  alloc(size) {
    if (this.used + size > this.size) throw new Error("the synthetic heap is full");
    const v = this.block.sub(this.used);
    this.used += (size + 15) & ~15;
    return v;
  }
}

/** PEP 393's kind of s: 1 (ascii or latin-1), 2 (UCS-2), 4 (UCS-4). */
function kindOf(s) {
  const max = Math.max(0, ...[...s].map((c) => c.codePointAt(0)));
  return max < 0x100 ? 1 : max < 0x10000 ? 2 : 4;
}
const isAscii = (s) => [...s].every((c) => c.codePointAt(0) < 0x80);

function hexToVersion(hex) {
  return `${hex >>> 24}.${(hex >>> 16) & 0xff}.${(hex >>> 8) & 0xff}`;
}

/** The code unit in code c at source line `mark` whose instruction is op, and the line there. */
function instructionAt(c, source, mark, op) {
  const lines = source.split("\n");
  const at = lines.map((l, i) => (l.trim() === mark ? i + 1 : 0)).filter(Boolean);
  if (at.length !== 1) throw new Error(`"${mark}" is not one line of ${c.filename}`);
  const ins = c.instructions.find(([unit, name]) => name.startsWith(op) && c.lines[unit] === at[0]);
  if (!ins) throw new Error(`no ${op} at line ${at[0]} in ${c.qualname}`);
  return { unit: ins[0], line: at[0] };
}

/**
 * The decoy for a frame at unit j of c running copy k: the distance d (code units) from
 * co_code_adaptive to that copy such that unit j + d of c is an instruction on another line
 * (neither the right one nor the first line, wspy's fallback). Only the copy's address matters
 * (wspy reads no bytecode, so a snapshot holds none of it); a copy CPython allocates lies
 * elsewhere, where a decoder taking co_code_adaptive as the base would get an offset out of
 * range (the first line): placed here, it gets a plausible wrong line instead.
 */
function decoyShift(c, j, line) {
  const starts = new Set(c.instructions.map(([u]) => u));
  for (let d = 1; j + d < c.lines.length; d++) {
    const l = c.lines[j + d];
    if (starts.has(j + d) && l !== null && l !== line && l !== c.firstlineno) return { d, line: l };
  }
  throw new Error(`${c.qualname}: no instruction on another line after unit ${j}`);
}

/**
 * Lays out the process: _PyRuntime (beginning with the debug offsets, holding the main
 * interpreter and its initial thread state), the thread list, each thread's data stack chunk and
 * entry frames, code objects with their _PyCodeArray, names, files and line tables.
 * clearTlbc: frames say tlbc_index 0 (what a decoder ignoring thread-local bytecode assumes).
 */
function layOut(L, debugOffsets, codes, plan, minor, clearTlbc) {
  const space = new Space();
  const heap = new Heap(space, HEAP, 256 * 1024);
  const statics = new Heap(space, STATIC_STRINGS, 4096);
  const tag = BigInt(L["stackref.deferred_tag"]); // code objects and None are deferred references
  const none = BIAS + SYM._Py_NoneStruct;
  const objHead = (v, type, immortal, ownerTid) => {
    v.u64(L["object.ob_tid"], ownerTid);
    v.u32(L["object.ob_ref_local"], immortal ? L.immortal_refcnt_local : 1);
    v.u64(L["object.ob_type"], type);
  };

  // strings: names interned (immortal, as every interned str of a free-threaded build), files not
  const strs = new Map();
  const str = (s, interned) => {
    if (strs.has(s)) return strs.get(s);
    const cps = [...s].map((c) => c.codePointAt(0));
    const ascii = isAscii(s), kind = kindOf(s);
    const header = ascii ? L["ascii.size"] : L["compact.size"];
    const size = header + (cps.length + 1) * kind;
    const v = (interned === 3 ? statics : heap).alloc(size);
    objHead(v, BIAS + SYM.PyUnicode_Type, interned >= 2, interned === 3 ? 0n : MAIN.ident);
    v.u64(L["ascii.length"], cps.length);
    v.u64(L["ascii.hash"], -1n);
    v.u32(L["ascii.state"], interned === 3 ? L["state.ascii.static"] : L[`state.${ascii ? "ascii" : `kind${kind}`}.i${interned}`]);
    if (!ascii) { v.u64(L["compact.utf8_length"], 0); v.u64(L["compact.utf8"], 0); }
    cps.forEach((cp, i) => (kind === 1 ? v.u8(header + i, cp) : kind === 2 ? v.u16(header + 2 * i, cp) : v.u32(header + 4 * i, cp)));
    strs.set(s, v.addr);
    return v.addr;
  };
  const bytes = (buf) => {
    const v = heap.alloc(L["bytes.ob_sval"] + buf.length + 1);
    objHead(v, BIAS + SYM.PyBytes_Type, false, MAIN.ident);
    v.u64(L["varobject.ob_size"], buf.length);
    v.u64(L["bytes.ob_shash"], -1n);
    v.bytes(L["bytes.ob_sval"], buf);
    return v.addr;
  };

  // code objects, each with its _PyCodeArray: entry 0 is co_code_adaptive, entry k the copy of
  // the thread with tlbc_index k (placed at the decoy distance), others not made yet (NULL)
  const codeAddr = new Map();
  for (const c of codes) {
    const bc = Buffer.from(c.code, "hex");
    const v = heap.alloc(L["code.co_code_adaptive"] + bc.length);
    objHead(v, BIAS + SYM.PyCode_Type, false, MAIN.ident);
    v.u64(L["varobject.ob_size"], bc.length / 2);
    v.i32(L["code.co_flags"], c.flags);
    v.i32(L["code.co_argcount"], c.argcount);
    v.i32(L["code.co_stacksize"], c.stacksize);
    v.i32(L["code.co_firstlineno"], c.firstlineno);
    v.i32(L["code.co_nlocalsplus"], c.nlocalsplus);
    v.i32(L["code.co_framesize"], c.nlocalsplus + c.stacksize + L["frame.localsplus"] / 8);
    v.u64(L["code.co_filename"], str(c.filename, 0));
    v.u64(L["code.co_name"], c.name === "<module>" ? str(c.name, 3) : str(c.name, 2));
    v.u64(L["code.co_qualname"], c.qualname === "<module>" ? str(c.qualname, 3) : str(c.qualname, 2));
    v.u64(L["code.co_linetable"], bytes(Buffer.from(c.linetable, "hex")));
    v.bytes(L["code.co_code_adaptive"], bc);
    const arr = heap.alloc(L["code_array.entries"] + 8 * TLBC_SLOTS);
    arr.u64(L["code_array.size"], TLBC_SLOTS);
    arr.u64(L["code_array.entries"], v.addr + BigInt(L["code.co_code_adaptive"]));
    v.u64(L["code.co_tlbc"], arr.addr);
    codeAddr.set(c, { addr: v.addr, arr });
  }
  const bytecodeOf = (c, k) => {
    const { addr, arr } = codeAddr.get(c);
    const base = addr + BigInt(L["code.co_code_adaptive"]);
    if (k === 0) return base;
    const copy = base + 2n * BigInt(plan.copies.get(`${k} ${c.qualname} ${c.filename}`));
    arr.u64(L["code_array.entries"] + 8 * k, copy);
    return copy;
  };

  // _PyRuntime: the debug offsets, then (inside it) the main interpreter and its first thread
  const runtime = space.block(BIAS + SYM._PyRuntime, L["runtime.size"]);
  runtime.bytes(0, debugOffsets);
  const interp = runtime.sub(L["runtime.main_interpreter"]);
  runtime.u64(L["runtime.interpreters_head"], interp.addr);
  runtime.u64(L["runtime.interpreters_main"], interp.addr);
  interp.u64(L["interp.next"], 0);
  interp.u64(L["interp.id"], 0);
  interp.u64(L["interp.runtime"], runtime.addr);
  space.block(BIAS + SYM.Py_Version, 8).u64(0, L.version_hex);

  const tstates = THREADS.map((th) => (th.main ? interp.sub(L["interp.initial_thread"]) : heap.alloc(L["tstate.size"])));
  interp.u64(L["interp.threads_head"], tstates[0].addr);
  interp.u64(L["interp.threads_main"], tstates[THREADS.findIndex((th) => th.main)].addr);
  THREADS.forEach((th, i) => {
    const ts = tstates[i];
    ts.u64(L["tstate.prev"], i > 0 ? tstates[i - 1].addr : 0n);
    ts.u64(L["tstate.next"], i + 1 < tstates.length ? tstates[i + 1].addr : 0n);
    ts.u64(L["tstate.interp"], interp.addr);
    ts.u64(L["tstate.thread_id"], th.ident);
    ts.u64(L["tstate.native_thread_id"], th.tid);
    ts.i32(L["tstate.tlbc_index"], th.tlbc);
    // 3.15: the frame every stack ends at, embedded in _PyThreadStateImpl
    let bottom = 0n;
    if (minor >= 15) {
      const base = ts.sub(L["tstate.impl_base_frame"]);
      base.u64(L["frame.f_executable"], none | tag);
      base.u64(L["frame.previous"], 0);
      base.u8(L["frame.owner"], L["owner.interpreter"]);
      ts.u64(L["tstate.base_frame"], base.addr);
      bottom = base.addr;
    }
    // the data stack: the root chunk's first frame at data[1]; frames pushed outermost first
    const chunk = space.block(CHUNKS + BigInt(i) * 0x10000n, L["chunk.default_size"]);
    chunk.u64(L["chunk.previous"], 0);
    chunk.u64(L["chunk.chunk_size"], L["chunk.default_size"]);
    chunk.u64(L["chunk.top"], 0);
    let top = L["chunk.data"] + 8;
    let cstack = th.stack;
    const entryFrame = (previous) => {
      const f = space.block(cstack, L["frame.size"] + 8); // _PyEntryFrame: the frame and one stack slot
      cstack += 0x400n;
      f.u64(L["frame.f_executable"], none | tag);
      f.u64(L["frame.previous"], previous);
      f.u64(L["frame.instr_ptr"], TRAMPOLINE);
      f.u64(L["frame.stackpointer"], f.addr + BigInt(L["frame.localsplus"]));
      f.i32(L["frame.tlbc_index"], th.tlbc);
      f.u8(L["frame.owner"], L["owner.interpreter"]);
      return f.addr;
    };
    let prev = entryFrame(bottom);
    for (const fr of [...plan.threads[i]].reverse()) {
      if (fr.entry) { prev = entryFrame(prev); continue; }
      const f = chunk.sub(top);
      top += L["frame.localsplus"] + 8 * (fr.code.nlocalsplus + fr.code.stacksize);
      f.u64(L["frame.f_executable"], codeAddr.get(fr.code).addr | tag);
      f.u64(L["frame.previous"], prev);
      f.u64(L["frame.instr_ptr"], bytecodeOf(fr.code, th.tlbc) + 2n * BigInt(fr.unit));
      f.u64(L["frame.stackpointer"], f.addr + BigInt(L["frame.localsplus"] + 8 * fr.code.nlocalsplus));
      f.i32(L["frame.tlbc_index"], clearTlbc ? 0 : th.tlbc);
      f.u8(L["frame.owner"], L["owner.thread"]);
      prev = f.addr;
    }
    ts.u64(L["tstate.current_frame"], prev);
    ts.u64(L["tstate.datastack_chunk"], chunk.addr);
    ts.u64(L["tstate.datastack_top"], chunk.addr + BigInt(top));
    ts.u64(L["tstate.datastack_limit"], chunk.addr + BigInt(L["chunk.default_size"]));
  });
  return space;
}

for (const minor of [14, 15]) {
  t.test(`free-threaded 3.${minor}t: a synthetic snapshot decodes to its exact frames`, async (t) => {
    const label = `provisioned 3.${minor}`;
    const py = findByLabel(label);
    if (!py) return t.skip(missingReason(label));
    if (!haveGcc) return t.skip("gcc is not installed: it compiles the layout probe against the 3.14/3.15 headers");
    const usrInclude = path.resolve(path.dirname(py.path), "..", "include");
    const inc = path.join(usrInclude, `python3.${minor}`);
    if (!existsSync(path.join(inc, "internal", "pycore_debug_offsets.h"))) return t.skip(`no internal headers at ${inc}: provision the 3.${minor} headers`);

    // the layouts, from the headers compiled as a free-threaded build
    const exe = path.join(tmp, `probe-3.${minor}t`);
    const cc = spawnSync("gcc", ["-w", "-DPy_GIL_DISABLED=1", `-I${inc}`, `-I${path.join(inc, "internal")}`, `-I${usrInclude}`, "-o", exe, PROBE], { encoding: "utf8" });
    t.equal(cc.status, 0, `the probe compiles against ${inc} with Py_GIL_DISABLED: ${cc.stderr}`);
    if (cc.status !== 0) return;
    const L = layoutOf(execFileSync(exe, { encoding: "utf8" }));
    const debugOffsets = execFileSync(exe, ["raw"]);
    t.equal(debugOffsets.length, L["debug_offsets.size"], "the probe wrote sizeof(_Py_DebugOffsets) bytes");
    t.equal(L["debug_offsets.free_threaded"], 1, "the debug offsets say free-threaded");
    t.equal(L.version_hex >>> 16, 0x0300 | minor, `the headers are 3.${minor}'s`);
    t.equal(L["object.size"], 32, "a free-threaded PyObject: 32 bytes");

    // the code objects, from the target version's compiler
    const codes = JSON.parse(execFileSync(py.path, ["-c", FACTS_SCRIPT], { input: JSON.stringify(SOURCES), encoding: "utf8" }));
    const codeOf = (file, qualname) => {
      const c = codes.find((x) => x.filename === file && x.qualname === qualname);
      if (!c) throw new Error(`no code object ${qualname} in ${file}`);
      return c;
    };
    const sourceOf = (file) => SOURCES.find((s) => s.filename === file).source;

    // the frames: their instruction, the line the target's co_positions gives it, and decoys
    const plan = { threads: [], copies: new Map() };
    const expected = [], decoys = [];
    for (const th of THREADS) {
      const frames = [], want = [], decoy = [];
      for (const fr of th.frames) {
        if (fr.entry) { frames.push(fr); continue; }
        const code = codeOf(fr.file, fr.qualname);
        const { unit, line } = instructionAt(code, sourceOf(fr.file), fr.mark, fr.op);
        frames.push({ code, unit });
        want.push({ name: code.qualname, file: code.filename, line });
        if (th.tlbc) {
          const key = `${th.tlbc} ${code.qualname} ${code.filename}`;
          if (plan.copies.has(key)) throw new Error(`${key}: one frame per copy (its decoy is made for it)`);
          const d = decoyShift(code, unit, line);
          plan.copies.set(key, d.d);
          decoy.push({ name: code.qualname, file: code.filename, line: d.line });
        } else decoy.push(want[want.length - 1]);
      }
      plan.threads.push(frames);
      expected.push(want);
      decoys.push(decoy);
    }

    // the names exercise every str layout
    t.equal(kindOf(FILE_A), 1, `${FILE_A}: kind 1`);
    t.notOk(isAscii(FILE_A), `${FILE_A}: not ascii`);
    t.equal(kindOf(FILE_B), 4, `${FILE_B}: kind 4`);
    t.equal(kindOf("Servidor.función_名前"), 2, "Servidor.función_名前: kind 2");
    t.equal(kindOf("𠮷野家"), 4, "𠮷野家: kind 4");
    t.not(codeOf(FILE_A, "Servidor.función_名前").name, "Servidor.función_名前", "the method's co_name is not its co_qualname");

    // the version table wspy derives from these debug offsets, as a snapshot records it
    const { Core } = await import(path.join(BUILD, "core", "core.js"));
    const { exportTable } = await import(path.join(BUILD, "core", "tables.js"));
    const { encodeSnapshot, mergeRanges } = await import(path.join(BUILD, "target", "snapshot-file.js"));
    const core = new Core();
    const ptr = core.x.scratchPtr();
    core.u8().set(debugOffsets, ptr);
    const id = core.x.registryFromDebugOffsets(ptr, debugOffsets.length, 0);
    t.ok(id >= 0, `the core builds a table from the 3.${minor}t debug offsets (status ${-id})`);
    if (id < 0) return;
    const version = hexToVersion(L.version_hex);
    const tableSource = `_Py_DebugOffsets of process ${PID}`;
    const table = JSON.parse(exportTable(core, id, L.version_hex, tableSource, version));
    t.match(table.capabilities, {
      gil_model: "none", string_state: "interned_byte", bytecode: "thread_local",
      chain_end: minor >= 15 ? "base_frame" : "none", pointer_tag_bits: minor >= 15 ? 3 : 1, frame_skip: "owner",
    }, "a free-threaded table: no GIL, the interned byte, thread-local bytecode");
    const o = table.offsets;
    const agree = {
      "pyobject.ob_type": "object.ob_type",
      "runtime_state.interpreters_head": "runtime.interpreters_head",
      "interpreter_state.next": "interp.next", "interpreter_state.threads_head": "interp.threads_head",
      "thread_state.next": "tstate.next", "thread_state.interp": "tstate.interp", "thread_state.current_frame": "tstate.current_frame",
      "thread_state.thread_id": "tstate.thread_id", "thread_state.native_thread_id": "tstate.native_thread_id",
      "thread_state.datastack_chunk": "tstate.datastack_chunk",
      ...(minor >= 15 ? { "thread_state.base_frame": "tstate.base_frame" } : {}),
      "interpreter_frame.previous": "frame.previous", "interpreter_frame.executable": "frame.f_executable",
      "interpreter_frame.instr_ptr": "frame.instr_ptr", "interpreter_frame.owner": "frame.owner",
      "interpreter_frame.tlbc_index": "frame.tlbc_index", "interpreter_frame.localsplus": "frame.localsplus",
      "code_object.filename": "code.co_filename", "code_object.name": "code.co_name", "code_object.qualname": "code.co_qualname",
      "code_object.linetable": "code.co_linetable", "code_object.firstlineno": "code.co_firstlineno", "code_object.flags": "code.co_flags",
      "code_object.co_code_adaptive": "code.co_code_adaptive", "code_object.co_tlbc": "code.co_tlbc",
      "unicode_object.length": "ascii.length", "unicode_object.state": "ascii.state",
      "unicode_object.asciiobject_size": "ascii.size", "unicode_object.compactunicodeobject_size": "compact.size",
      "bytes_object.ob_size": "varobject.ob_size", "bytes_object.ob_sval": "bytes.ob_sval",
      "stack_chunk.previous": "chunk.previous", "stack_chunk.chunk_size": "chunk.chunk_size",
    };
    const got = {}, want = {};
    for (const [field, probe] of Object.entries(agree)) {
      const [section, name] = field.split(".");
      got[field] = o[section]?.[name];
      want[field] = L[probe];
    }
    t.same(got, want, "the table's offsets are the headers' offsetof");

    // the OS thread names a snapshot records (Linux cuts them to 15 bytes)
    const osName = (th) => th.os ?? `python3.${minor}t`;
    const header = {
      format: 1, wspy: JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).version, created: new Date(0).toISOString(),
      note: "synthetic: test/free-threaded-snapshots.test.mjs", pid: PID,
      command: [`/usr/bin/python3.${minor}t`, FILE_A], exe: `/usr/bin/python3.${minor}t`, binary: `/usr/bin/python3.${minor}t`,
      python: version, versionHex: L.version_hex, tableSource, table,
      elf: {
        symbols: Object.fromEntries(Object.entries(SYM).map(([k, v]) => [k, `0x${v.toString(16)}`])),
        firstLoadVaddr: "0x0", firstLoadOffset: "0x0", pyRuntimeSection: `0x${SYM._PyRuntime.toString(16)}`,
      },
      bias: `0x${BIAS.toString(16)}`, locals: 0,
      threads: THREADS.map((th) => ({ tid: th.tid, active: !th.main, name: osName(th) })),
    };
    const dumpOf = async (clearTlbc) => {
      const space = layOut(L, debugOffsets, codes, plan, minor, clearTlbc);
      const file = path.join(tmp, `ft-3.${minor}${clearTlbc ? "-no-tlbc" : ""}.snapshot`);
      writeFileSync(file, encodeSnapshot(header, space.ranges(mergeRanges)));
      const res = await wspy(["dump", "--snapshot", file, "--json"]);
      t.equal(res.code, 0, `dump --snapshot ${path.basename(file)} exits 0`);
      t.equal(res.stderr, "", "no warning");
      return res.code === 0 ? JSON.parse(res.stdout) : null;
    };

    const d = await dumpOf(false);
    if (d) {
      t.equal(d.python, version, `read as Python ${version}`);
      t.equal(d.tableSource, tableSource, "with the snapshot's own table");
      t.same(d.threads.map((th) => ({ ident: th.ident, tid: th.tid, name: th.name, error: th.error })),
        THREADS.map((th) => ({ ident: Number(th.ident), tid: th.tid, name: osName(th), error: undefined })),
        "every thread, newest first, none in error");
      THREADS.forEach((th, i) => {
        t.same(d.threads[i]?.frames, expected[i], `${osName(th)}: tlbc_index ${th.tlbc}, exact frames`);
      });
    }
    // the control: the same memory with every frame's tlbc_index cleared reads the shared
    // bytecode's offsets, which the copies were placed to make wrong
    const c = await dumpOf(true);
    if (c) {
      THREADS.forEach((th, i) => {
        if (!th.tlbc) return;
        t.same(c.threads[i]?.frames, decoys[i], `${th.os} read as if tlbc_index were 0: the decoy lines`);
        t.ok(decoys[i].every((f, k) => f.line !== expected[i][k].line), `${th.os}: every decoy line is a wrong one`);
      });
    }
  });
}
