// The registry judges the bytes at _PyRuntime (the host only hands them over): on the real
// .PyRuntime sections of the 3.13, 3.14 and 3.15 interpreters of this machine, the core finds
// `_Py_DebugOffsets`, reads the interpreter's own version from it and sees a default build, and on
// the free-threaded 3.13t a free-threaded one; a default build's bytes with only the header's
// free_threaded flag set are judged free-threaded but build no table (the flag and the 16-byte
// object header disagree); a 3.12 _PyRuntime (no cookie) has no
// debug offsets and no version. The version found elsewhere (Py_Version, Py_GetVersion's banner) is
// read by the core too.
import t from "tap";
import { execFileSync, spawnSync } from "node:child_process";
import { openSync, readSync, closeSync, realpathSync, existsSync } from "node:fs";
import path from "node:path";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";
import { ROOT } from "./helpers/run.mjs";

const BUILD = path.join(ROOT, "build", "host");
const haveReadelf = spawnSync("readelf", ["--version"], { stdio: "ignore" }).status === 0;

/** The file holding the interpreter of python (its libpython when it has one). */
function interpreterFile(python) {
  const lib = execFileSync(python, ["-c", "import sysconfig; print(sysconfig.get_config_var('LDLIBRARY') or '', sysconfig.get_config_var('LIBDIR') or '', sysconfig.get_config_var('Py_ENABLE_SHARED'))"], { encoding: "utf8" }).trim().split(" ");
  // (a provisioned interpreter lives under its own root: the paths sysconfig names are not here)
  return lib[2] === "1" && existsSync(path.join(lib[1], lib[0])) ? path.join(lib[1], lib[0]) : realpathSync(python);
}

/** The first n bytes of file's .PyRuntime section (readelf -SW gives its offset), or null. */
function pyRuntimeBytes(file, n) {
  const m = /\.PyRuntime\s+PROGBITS\s+[0-9a-f]+\s+([0-9a-f]+)/.exec(execFileSync("readelf", ["-SW", file], { encoding: "utf8" }));
  if (!m) return null;
  const buf = Buffer.alloc(n), fd = openSync(file, "r");
  try { readSync(fd, buf, 0, n, parseInt(m[1], 16)); } finally { closeSync(fd); }
  return buf;
}

for (const label of ["pyenv 3.12", "pyenv 3.13", "provisioned 3.14", "provisioned 3.15", "provisioned 3.13t"]) {
  t.test(`${label}: the core judges the bytes at _PyRuntime`, async (t) => {
    const py = findByLabel(label);
    if (!py) return t.skip(missingReason(label));
    if (!haveReadelf) return t.skip("readelf (binutils) is not installed: it finds the .PyRuntime section");
    const host = await import(path.join(BUILD, "core", "core.js"));
    const core = new host.Core();
    // the contract's statuses are bound when the first core loads (host/core/contract.ts)
    const { ST_OK, ST_VERSION } = host;
    const n = core.x.DEBUG_OFFSETS_HEADER.value;
    const file = interpreterFile(py.path);
    const bytes = pyRuntimeBytes(file, core.x.DEBUG_OFFSETS_MAX.value);
    if (!bytes) return t.skip(`${file} has no .PyRuntime section`);
    const judge = (b) => {
      const ptr = core.x.scratchPtr();
      core.u8().set(b, ptr);
      const st = core.x.registryInspectRuntime(ptr, b.length);
      return { st, hex: core.x.registryRuntimeVersion() >>> 0, debug: core.x.registryRuntimeHasDebugOffsets() !== 0, ft: core.x.registryRuntimeFreeThreaded() !== 0 };
    };
    const build = (b) => {
      const ptr = core.x.scratchPtr();
      core.u8().set(b, ptr);
      return core.x.registryFromDebugOffsets(ptr, b.length, 0);
    };
    const [major, minor, micro] = py.version.split(".").map(Number);
    const got = judge(bytes);
    if (minor < 13) {
      t.same(got, { st: ST_OK, hex: 0, debug: false, ft: false }, `${path.basename(file)}: no debug offsets, no version, not free-threaded`);
      return;
    }
    t.equal(got.st, ST_OK, `${path.basename(file)}: judged`);
    t.equal(got.ft, py.freeThreaded, py.freeThreaded ? "a free-threaded build" : "a default build");
    t.ok(got.debug, "it has _Py_DebugOffsets");
    t.equal(got.hex >>> 8, ((major << 16) | (minor << 8) | micro) >>> 0, `the version is ${py.version}`);
    t.ok(build(bytes) >= 0, "its debug offsets build a table");
    if (!py.freeThreaded) {
      const flagged = Buffer.from(bytes);
      flagged.writeBigUInt64LE(1n, 16);
      const ft = judge(flagged);
      t.same(ft, { ...got, ft: true }, "with free_threaded set: judged free-threaded, the version still known");
      t.equal(-build(flagged), ST_VERSION, "but no table is built: the flag and the 16-byte object header disagree");
    } else {
      const unflagged = Buffer.from(bytes);
      unflagged.writeBigUInt64LE(0n, 16);
      t.equal(-build(unflagged), ST_VERSION, "with free_threaded cleared: no table (a 32-byte object header is a free-threaded one)");
    }
    t.same(judge(bytes.subarray(0, n - 1)), { st: ST_OK, hex: 0, debug: false, ft: false }, "too few bytes: nothing judged");
  });
}

// End to end: a snapshot of a real 3.13 or 3.14 default build whose _PyRuntime header is made to
// say free-threaded carries a table made for a default build: refused in one line, exit 6.
t.test("a free-threaded header with a default build's table: refused in one line", async (t) => {
  const { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync: exists } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const rs = await import(path.join(BUILD, "target", "snapshot-file.js"));
  const snapMod = await import(path.join(BUILD, "commands", "snapshot.js"));
  const { wspy, oneLine, FIXTURES } = await import("./helpers/run.mjs");
  const dir = mkdtempSync(path.join(tmpdir(), "wspy-registry-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of ["pyenv-3.13.0.snapshot", "provisioned-3.14.10.snapshot"]) {
    const file = path.join(FIXTURES, "snapshots", name);
    if (!exists(file)) { t.skip(`no fixture ${name}`); continue; }
    const snap = rs.decodeSnapshot(readFileSync(file), name);
    const rec = snapMod.snapshotInfo(name, snap.header).recorded;
    const sym = rec.elf.symbols[0];
    const runtime = Number((sym !== 0n ? sym : rec.elf.pyRuntimeSection) + rec.bias);
    const r = snap.ranges.find((q) => runtime >= q.addr && runtime + 24 <= q.addr + q.data.length);
    t.ok(r, `${name}: the snapshot holds the _PyRuntime header it was attached with`);
    if (!r) continue;
    Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length).writeBigUInt64LE(1n, runtime - r.addr + 16);
    const out = path.join(dir, name);
    writeFileSync(out, rs.encodeSnapshot(snap.header, snap.ranges));
    const version = /-(\d+\.\d+\.\d+)\.snapshot$/.exec(name)[1];
    const res = await wspy(["dump", "--snapshot", out]);
    oneLine(t, res, 6, new RegExp(`runs a free-threaded build of Python ${version.replace(/\./g, "\\.")}, but the version table .* is for a default build \\(supply a table made from the same build`));
  }
});

// The version wherever the host finds it is read by the core from the bytes: `Py_Version`
// (3.11+) as each interpreter holds it in memory (ctypes reads it), and the banner at the start
// of Py_GetVersion()'s buffer (sys.version), on every interpreter of this machine.
t.test("the core reads Py_Version and the version banner", async (t) => {
  const { findPythons } = await import("./helpers/pythons.mjs");
  const host = await import(path.join(BUILD, "core", "core.js"));
  const core = new host.Core();
  const decode = (fn, bytes) => {
    const ptr = core.x.scratchPtr();
    core.u8().set(bytes, ptr);
    return fn(ptr, bytes.length) >>> 0;
  };
  const pythons = findPythons();
  t.ok(pythons.length > 0, "interpreters found");
  for (const py of pythons) {
    const probe = "import sys, ctypes\n" +
      "try:\n  v = ctypes.c_ulong.in_dll(ctypes.pythonapi, 'Py_Version').value\nexcept (ValueError, AttributeError):\n  v = 0\n" +
      "sys.stdout.write('%d %d %s' % (sys.hexversion, v, sys.version.split()[0]))";
    const [hexversion, pyVersion, banner] = execFileSync(py.path, ["-c", probe], { encoding: "utf8" }).trim().split(" ");
    const fromBanner = decode(core.x.registryVersionFromBanner, Buffer.from(`${banner} (main, Jan  1 2026, 00:00:00) [GCC 14]\0`, "latin1"));
    t.equal(fromBanner >>> 8, Number(hexversion) >>> 8, `${py.label}: the banner "${banner}" gives ${py.version}`);
    if (Number(pyVersion) !== 0) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(pyVersion));
      t.equal(decode(core.x.registryVersionFromPyVersion, b), Number(hexversion), `${py.label}: Py_Version's bytes give its sys.hexversion`);
    }
  }
  t.equal(decode(core.x.registryVersionFromBanner, Buffer.from("garbage\0")), 0, "no digits: no version");
  t.equal(decode(core.x.registryVersionFromBanner, Buffer.from("3.12\0")), 0, "no micro: no version");
  t.equal(decode(core.x.registryVersionFromBanner, Buffer.from("9999.1.1\0")), 0, "too many digits: no version");
  t.equal(decode(core.x.registryVersionFromPyVersion, Buffer.from([1, 2, 3, 4, 0, 0, 0, 0])), 0, "implausible Py_Version: 0");
});
