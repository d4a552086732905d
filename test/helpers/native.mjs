// Test helpers for native (C) stacks: build the spinext C extension (test/fixtures/native/spinext.c)
// for an interpreter, and read every thread's physical frames of a live process with gdb, to
// compare with `wspy dump --native`.
// Must not know: the core; wspy's own unwinder or symbolization (gdb is the reference).
// Sources of truth: gcc and the interpreter's sysconfig (include dirs, EXT_SUFFIX) for the build;
// gdb (its Python API, test/helpers/native/gdb-stacks.py) for the frames.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const SPINEXT_SOURCE = path.resolve(here, "..", "fixtures", "native", "spinext.c");
/** A C++ part linked into spinext (a class template's method that sleeps), for demangled names. */
export const CXXNAP_SOURCE = path.resolve(here, "..", "fixtures", "native", "cxxnap.cpp");
const GDB_SCRIPT = path.join(here, "native", "gdb-stacks.py");

/** The C functions spinext.c guarantees as physical frames (caller first), by the Python call that runs them. */
export const SPINEXT_FRAMES = {
  callback: ["spinext_callback", "call_back_into_python"],
  spin: ["spinext_spin", "spin_outer", "spin_inner"],
  burn: ["spinext_burn", "burn_c_loop"],
  cThread: ["c_only_thread", "c_only_sleep"], // the thread is named "spinext-c"
};

// -O2 -g and no -fno-omit-frame-pointer: unwinding must use the CFI, as for real extensions;
// -fno-semantic-interposition: calls between spinext's own functions are direct, not through the PLT
const CFLAGS = ["-O2", "-g", "-fPIC", "-shared", "-fno-semantic-interposition", "-Wall", "-Wno-unused-result"];
const LIBS = ["-lpthread"];
const CONFIG = "import sys, sysconfig; p = sysconfig.get_paths(); "
  + "sys.stdout.write('\\n'.join([p['include'], p['platinclude'], sysconfig.get_config_var('EXT_SUFFIX') or '.so']) + '\\n')";

const built = new Map(); // python path -> directory, per process

/**
 * Builds spinext.c for interpreter `python` (an entry of findPythons()) and returns the directory
 * to put on PYTHONPATH. Cached under os.tmpdir()/wspy-spinext/<hash of the interpreter's path and
 * mtime, the source and the flags>; a build goes to a temporary directory renamed into place
 * (parallel test processes may build the same one). The build includes an `import spinext` check.
 * Throws an Error with gcc's (or the import's) stderr when it fails.
 */
export function buildSpinext(python) {
  const known = built.get(python.path);
  if (known) return known;
  const source = readFileSync(SPINEXT_SOURCE);
  const key = createHash("sha256")
    .update(python.path).update("\0")
    .update(String(statSync(python.path).mtimeMs)).update("\0")
    .update([...CFLAGS, ...LIBS].join(" ")).update("\0")
    .update(source).update("\0").update(readFileSync(CXXNAP_SOURCE))
    .digest("hex").slice(0, 24);
  const root = path.join(tmpdir(), "wspy-spinext");
  const dir = path.join(root, key);
  if (existsSync(dir)) {
    built.set(python.path, dir);
    return dir;
  }
  mkdirSync(root, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  mkdirSync(tmp);
  try {
    const [include, platinclude, suffix] = run(python.path, ["-c", CONFIG], "sysconfig").split("\n");
    // the parents too: Debian-style headers (and provisioned copies of them) have a pyconfig.h that
    // includes <x86_64-linux-gnu/pythonX.Y/pyconfig.h>, relative to the include root
    const includes = [...new Set([include, platinclude, path.dirname(include), path.dirname(platinclude)])];
    const out = path.join(tmp, `spinext${suffix}`);
    // the C++ part first, to an object of its own (no exceptions, no RTTI: no libstdc++ at run time)
    const cxxObject = path.join(tmp, "cxxnap.o");
    run("g++", ["-O2", "-g", "-fPIC", "-fno-exceptions", "-fno-rtti", "-c", "-o", cxxObject, CXXNAP_SOURCE], "g++");
    run("gcc", [...CFLAGS, ...includes.map((d) => `-I${d}`), "-o", out, SPINEXT_SOURCE, cxxObject, ...LIBS], "gcc");
    run(python.path, ["-c", "import spinext; spinext.burn(0.001)"], `import spinext (${python.label})`,
      { ...process.env, PYTHONPATH: tmp, PYTHONDONTWRITEBYTECODE: "1" });
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // another process renamed its build into place first: use that one
      if (!existsSync(dir)) throw e;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  built.set(python.path, dir);
  return dir;
}

/** null when spinext builds (and imports) for `python`, else why not (for t.skip). */
export function spinextMissingReason(python) {
  try {
    buildSpinext(python);
    return null;
  } catch (e) {
    return `spinext does not build for ${python.label}: ${e.message}`;
  }
}

function run(file, args, what, env = process.env) {
  try {
    return execFileSync(file, args, { encoding: "utf8", env, timeout: 120000, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = (e.stderr || "").trim() || e.message;
    throw new Error(`${what} failed: ${err}`);
  }
}

const PREFIX = "@@wspy-gdb-stack ";

/**
 * Every thread's physical frames in process `pid`, as gdb sees them, innermost first:
 * [{tid, frames: [{pc: bigint, name: string|null, module: string|null, symbol: string|null}]}],
 * sorted by tid. Only gdb's NORMAL_FRAME and SIGTRAMP_FRAME frames (no inline or tail-call frames,
 * which are not on the machine stack). pc: the return address for callers. name: the physical
 * (non-inlined) function, from debug info when gdb has it (libc6-dbg: "__GI___clock_nanosleep"),
 * else the ELF symbol; null where gdb has none. module: basename of the file mapped at the pc
 * (/proc/PID/maps; "[vdso]"), null for anonymous memory. symbol: the ELF symbol gdb's `info symbol`
 * names ("clock_nanosleep"; what an unwinder naming from .symtab/.dynsym finds), or null.
 * gdb attaches (the threads stop meanwhile), reads, and detaches: the process runs on. Resolves
 * once gdb is done (bounded by 60 s); rejects with gdb's stderr when it read no thread.
 */
export function gdbStacks(pid) {
  return new Promise((resolve, reject) => {
    const args = [
      "-batch", "-nx",
      "-iex", "set debuginfod enabled off",
      "-iex", "set auto-load off",
      "-iex", "set pagination off",
      "-iex", "set confirm off",
      "-iex", "set width 0",
      // the whole machine stack, as an unwinder sees it: gdb stops at main (or the entry point) by default
      "-iex", "set backtrace past-main on",
      "-iex", "set backtrace past-entry on",
      "-p", String(pid),
      "-x", GDB_SCRIPT,
    ];
    const child = spawn("gdb", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60000);
    child.on("error", (e) => { clearTimeout(timer); reject(e); });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const threads = [];
      let done = false;
      for (const line of stdout.split("\n")) {
        if (!line.startsWith(PREFIX)) continue;
        const rec = JSON.parse(line.slice(PREFIX.length));
        if (rec.done) { done = true; continue; }
        threads.push({
          tid: rec.tid,
          frames: rec.frames.map(([pc, name, module, symbol]) => ({ pc: BigInt(pc), name, module, symbol })),
          ...(rec.error ? { error: rec.error } : {}),
        });
      }
      if (!done || threads.length === 0) {
        reject(new Error(`gdb -p ${pid} read no stacks (exit ${code ?? signal}${signal === "SIGKILL" ? ", killed after 60 s" : ""}): ${stderr.trim()}`));
        return;
      }
      resolve(threads);
    });
  });
}
