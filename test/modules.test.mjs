// The target as a list of modules, and several ELF objects in one core: on real processes (a
// pyenv 3.12 with a shared libpython, Debian's static non-PIE /usr/bin/python3.11) that have
// imported extension modules, the module list names the interpreter, libc, the extension and the
// vdso with the ranges /proc/PID/maps lists and the load bias readelf's program headers give;
// symbols looked up in libc, the extension and the interpreter land where the process's own
// dynamic loader put them (the fixture prints dlsym's answers); parsing them leaves the
// interpreter's facts and the stacks as they were. The cache of ELF facts kept across runs is
// off here (WSPY_NO_CACHE=1): with it, attach takes the interpreter's facts from the cache and
// the core parses the object only when asked (test/startup.test.mjs checks the cached facts).
import t from "tap";
process.env.WSPY_NO_CACHE = "1";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";
import { ROOT, startFixture } from "./helpers/run.mjs";

const BUILD = path.join(ROOT, "build", "host");
const haveReadelf = spawnSync("readelf", ["--version"], { stdio: "ignore" }).status === 0;

/** /proc/PID/maps, read here (not through wspy): file-backed mappings and the vdso. */
function mapsOf(pid) {
  const out = [];
  for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
    if (m) out.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), offset: parseInt(m[4], 16), path: m[5] });
  }
  return out;
}

/** The load bias of file in this map: where its offset 0 maps, less its first PT_LOAD's page (readelf -lW). */
function expectedBias(maps, file) {
  const text = execFileSync("readelf", ["-lW", file], { encoding: "utf8" });
  const load = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)/m.exec(text);
  const offset = BigInt(`0x${load[1]}`), vaddr = BigInt(`0x${load[2]}`);
  const lowest = maps.filter((m) => m.path === file).reduce((a, b) => (a.offset <= b.offset ? a : b));
  const page = 4096n;
  return BigInt(lowest.start - lowest.offset) - ((vaddr / page) * page - (offset / page) * page);
}

const CASES = [
  { label: "pyenv 3.12", interpreter: /\/libpython3\.12\.so/, libpython: true },
  { label: "debian 3.11", interpreter: /^\/usr\/bin\/python3\.11$/, libpython: false, bias: 0n },
];

for (const c of CASES) {
  t.test(`${c.label}: the module list and several ELF objects in one core`, async (t) => {
    const py = findByLabel(c.label);
    if (!py) return t.skip(missingReason(c.label));
    if (!haveReadelf) return t.skip("readelf (binutils) is not installed: it gives the expected load biases");
    const { Target } = await import(path.join(BUILD, "target", "attach.js"));
    const { dumpTarget } = await import(path.join(BUILD, "commands", "dump.js"));
    const fx = await startFixture(py.path, "modules_fixture.py");
    t.teardown(fx.kill);
    const said = Object.fromEntries(fx.lines.map((l) => l.split(" ")).filter((a) => a.length === 2));
    const target = await Target.attach(fx.pid);
    t.teardown(() => target.close());
    const maps = mapsOf(fx.pid);
    const list = target.modules;

    // the interpreter is one module of the list, the one attach parsed
    const interp = list.interpreter;
    t.ok(interp, "the list names the interpreter");
    t.match(interp.path, c.interpreter, `the interpreter is ${interp.path}`);
    t.equal(interp.isLibpython, c.libpython, `libpython: ${c.libpython}`);
    t.equal(target.info.binary, interp.path, "attach read the interpreter's module");
    t.equal(list.modules.filter((m) => m.isInterpreter).length, 1, "exactly one module is the interpreter");

    const libc = list.ofKind("libc")[0];
    t.ok(libc, "libc is in the list");
    t.match(libc?.path ?? "", /\/libc\.so\.6$/, "libc's file");
    const ext = list.byPath(said.ctypes_file);
    t.ok(ext, `the extension ${said.ctypes_file} is in the list`);
    t.equal(ext?.kind, "extension", "_ctypes is an extension module");
    if (said.math_file) t.equal(list.byPath(said.math_file)?.kind, "extension", "math is an extension module");
    const vdso = list.ofKind("vdso")[0];
    t.ok(vdso, "the vdso is in the list");
    t.equal(vdso?.ranges[0].start, Number(said.vdso), "the vdso where AT_SYSINFO_EHDR says");
    if (!interp || !libc || !ext || !vdso) return;

    // every file-backed mapping is in exactly one module, with its range
    for (const mod of [interp, libc, ext]) {
      t.same(mod.ranges.map((r) => [r.start, r.end, r.offset]), maps.filter((m) => m.path === mod.path).map((m) => [m.start, m.end, m.offset]),
        `${path.basename(mod.path)}: the ranges /proc/PID/maps lists`);
    }

    // the interpreter's facts, as the core holds them, before any other object is parsed
    const core = target.core;
    const interpObj = target.object(interp);
    const factsOf = (id) => ({
      symbols: Array.from({ length: 10 }, (_, i) => core.x.elfSymbol(id, i)),
      firstLoad: [core.x.elfFirstLoadVaddr(id), core.x.elfFirstLoadOffset(id)],
      pyRuntime: core.x.elfPyRuntimeSection(id),
      type: core.x.elfType(id),
    });
    const before = factsOf(interpObj.id);
    t.equal(core.x.elfObjectState(interpObj.id), core.x.ELF_PARSED.value, "the interpreter's object was parsed at attach");
    t.same(before.symbols, target.facts.elf.symbols, "the core's facts are the ones attach used");

    // load biases: readelf's program headers against the map
    t.equal(interpObj.bias, expectedBias(maps, interp.path), `interpreter bias 0x${interpObj.bias.toString(16)}`);
    if (c.bias !== undefined) t.equal(interpObj.bias, c.bias, "a non-PIE executable has bias 0");
    t.equal(target.facts.bias, interpObj.bias, "attach used that bias");

    // other objects, parsed on demand in the same core; their symbols where the loader put them
    t.equal(core.x.elfObjectState(core.x.elfObjectCount()), -1, "no object beyond those asked for");
    t.equal(target.symbolAddress(libc, "malloc"), BigInt(said.malloc), `libc's malloc at ${said.malloc}`);
    const libcObj = target.object(libc);
    t.equal(libcObj.bias, expectedBias(maps, libc.path), `libc bias 0x${libcObj.bias.toString(16)}`);
    t.equal(target.symbolAddress(ext, "PyInit__ctypes"), BigInt(said.PyInit__ctypes), `_ctypes's PyInit__ctypes at ${said.PyInit__ctypes}`);
    t.equal(target.object(ext).bias, expectedBias(maps, ext.path), "the extension's bias");
    t.equal(target.symbolAddress(interp, "Py_GetVersion"), BigInt(said.Py_GetVersion), `the interpreter's Py_GetVersion at ${said.Py_GetVersion}`);
    t.equal(target.symbolAddress(libc, "no_such_symbol_in_libc"), 0n, "an absent name is 0");
    const vdsoObj = target.object(vdso);
    t.equal(vdsoObj.bias, BigInt(said.vdso), "the vdso's bias is where it is mapped");
    const gettime = Number(target.symbolAddress(vdso, "__vdso_clock_gettime"));
    t.ok(vdso.ranges.some((r) => r.perms.includes("x") && r.start <= gettime && gettime < r.end), "__vdso_clock_gettime is in the vdso's code");

    const ids = [interpObj.id, libcObj.id, target.object(ext).id, vdsoObj.id];
    t.equal(new Set(ids).size, 4, `four objects in one core (ids ${ids.join(", ")})`);
    t.same(factsOf(interpObj.id), before, "the interpreter's facts are untouched by the other parses");
    t.equal(target.object(libc).id, libcObj.id, "asking again gives the same object (parsed once)");

    // and the target still reads as before
    const d = dumpTarget(target);
    t.ok(d.threads.some((th) => th.frames.some((f) => f.name === "wait_here")), "the stack still shows wait_here");
  });
}
