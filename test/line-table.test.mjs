// decodeLineNumber (assembly/decode/line-table.ts) against the interpreters themselves: for
// every Python on this machine, dump the line table of every code object of some stdlib
// modules together with the line the interpreter gives each instruction
// (test/fixtures/line_table_dump.py), and check the WASM decoder agrees on every offset.
// WSPY_CORE_WASM picks another wasm than build/core.wasm (it must export decodeLineNumber,
// memory, and allocScratch(len) or scratchPtr()/scratchSize()).
import t from "tap";
import { execFile } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { instantiate } from "@assemblyscript/loader";
import { EXPECTED_PYTHONS, findPythons, findByLabel, missingReason } from "./helpers/pythons.mjs";

const execFileP = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const DUMP = join(here, "fixtures", "line_table_dump.py");
const WASM = process.env.WSPY_CORE_WASM
  ? resolve(process.env.WSPY_CORE_WASM)
  : join(root, "build", "core.wasm");

const LINE_TABLE_LNOTAB_UNSIGNED = 0;
const LINE_TABLE_LNOTAB = 1;
const LINE_TABLE_310 = 2;
const LINE_TABLE_LOCATIONS = 3;

function formatFor(version) {
  const [major, minor] = version.split(".").map(Number);
  if (major === 2) return LINE_TABLE_LNOTAB_UNSIGNED;
  if (minor <= 9) return LINE_TABLE_LNOTAB;
  if (minor === 10) return LINE_TABLE_310;
  return LINE_TABLE_LOCATIONS;
}

/** Instantiate the core with no-op functions for every import it asks for. */
async function loadCore(path) {
  const bytes = readFileSync(path);
  const module = new WebAssembly.Module(bytes);
  const imports = { env: { abort() {}, read() { return -1; }, locateMemory() {} } };
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== "function") continue;
    imports[imp.module] ??= {};
    imports[imp.module][imp.name] ??= () => 0;
  }
  const { exports } = await instantiate(bytes, imports);
  return exports;
}

/** A function placing `bytes` into WASM memory, returning the pointer. */
function makeCopier(core) {
  if (typeof core.allocScratch === "function") {
    return (bytes) => {
      const ptr = Number(core.allocScratch(bytes.length));
      new Uint8Array(core.memory.buffer, ptr, bytes.length).set(bytes);
      return ptr;
    };
  }
  if (typeof core.scratchPtr === "function") {
    const size = typeof core.scratchSize === "function" ? core.scratchSize() : 1 << 20;
    return (bytes) => {
      if (bytes.length > size) throw new Error(`table of ${bytes.length} bytes > scratch ${size}`);
      const ptr = Number(core.scratchPtr());
      new Uint8Array(core.memory.buffer, ptr, bytes.length).set(bytes);
      return ptr;
    };
  }
  throw new Error("the core exports neither allocScratch nor scratchPtr");
}

async function dump(python) {
  const { stdout } = await execFileP(python.path, [DUMP], {
    encoding: "utf8", maxBuffer: 512 * 1024 * 1024, timeout: 240000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
  });
  return stdout.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

if (!existsSync(WASM)) {
  t.fail(`no wasm at ${WASM}: run \`npx asc assembly/index.ts --target release\` or set WSPY_CORE_WASM`);
} else {
  const core = await loadCore(WASM);
  const copy = makeCopier(core);
  const decode = core.decodeLineNumber;
  const summary = [];

  t.test("the core exports decodeLineNumber", async (t) => {
    t.equal(typeof decode, "function");
  });

  const pythons = findPythons();
  for (const python of pythons) {
    t.test(`${python.label} (${python.path})`, async (t) => {
      const format = formatFor(python.version);
      const records = await dump(python);
      let offsets = 0;
      let mismatches = 0;
      const first = [];
      for (const rec of records) {
        const bytes = Buffer.from(rec.table, "hex");
        const ptr = copy(bytes);
        for (const [offset, line] of rec.expect) {
          const got = decode(format, ptr, bytes.length, rec.first, offset);
          offsets++;
          if (got !== line) {
            mismatches++;
            if (first.length < 5) {
              first.push(`${rec.name} first=${rec.first} offset=${offset}: expected ${line}, got ${got}`
                + ` (table ${rec.table.length > 80 ? rec.table.slice(0, 80) + "…" : rec.table})`);
            }
          }
        }
      }
      summary.push({ label: python.label, format, codeObjects: records.length, offsets, mismatches });
      for (const m of first) t.comment(m);
      t.equal(mismatches, 0,
        `format ${format}: ${records.length} code objects, ${offsets} offsets, ${mismatches} mismatches`);
    });
  }

  for (const label of EXPECTED_PYTHONS) {
    if (!findByLabel(label)) t.test(label, { skip: missingReason(label) }, () => {});
  }

  t.test("never traps, stays in bounds, on garbage and edge cases", async (t) => {
    // Edge cases with known answers.
    const put = (arr) => { const b = Uint8Array.from(arr); return [copy(b), b.length]; };
    let [p, n] = put([]);
    t.equal(decode(LINE_TABLE_LNOTAB, p, n, 7, 0), 7, "empty lnotab: first line");
    t.equal(decode(LINE_TABLE_310, p, n, 7, 0), -1, "empty 3.10 table: no line");
    t.equal(decode(LINE_TABLE_LOCATIONS, p, n, 7, 0), -1, "empty location table: no line");
    t.equal(decode(LINE_TABLE_LNOTAB, p, n, 7, -1), -1, "negative offset");
    t.equal(decode(99, p, n, 7, 0), -1, "unknown format");
    [p, n] = put([6, 0x81, 4, 2]); // 3.10: [0,6) line 200-127, [6,10) line +2
    t.equal(decode(LINE_TABLE_310, p, n, 200, 2), 73, "3.10 signed delta");
    t.equal(decode(LINE_TABLE_310, p, n, 200, 8), 75, "3.10 second range");
    t.equal(decode(LINE_TABLE_310, p, n, 200, 10), -1, "3.10 past the end");
    [p, n] = put([6, 0x80, 4, 2]); // -128: no line, address still advances
    t.equal(decode(LINE_TABLE_310, p, n, 200, 4), -1, "3.10 -128 range");
    t.equal(decode(LINE_TABLE_310, p, n, 200, 6), 202, "3.10 after -128");
    [p, n] = put([2, 0x81]);
    t.equal(decode(LINE_TABLE_LNOTAB_UNSIGNED, p, n, 1, 2), 130, "2.7 unsigned increment");
    t.equal(decode(LINE_TABLE_LNOTAB, p, n, 200, 2), 73, "3.6 signed increment");
    t.equal(decode(LINE_TABLE_LNOTAB, p, n, 200, 1), 200, "before the first increment");
    // Locations: kind 13 (+3, 2 units), kind 15 (1 unit), kind 10 (+0, 1 unit), kind 14 (-1, 1 unit).
    [p, n] = put([0x80 | (13 << 3) | 1, 6, 0x80 | (15 << 3), 0x80 | (10 << 3), 1, 2,
      0x80 | (14 << 3), 3, 0, 1, 1]);
    const want = [13, 13, -1, 13, 12, -1];
    t.same(want.map((_, u) => decode(LINE_TABLE_LOCATIONS, p, n, 10, u)), want, "location kinds");
    t.equal(decode(LINE_TABLE_LOCATIONS, p, n - 1, 10, 4), 12, "truncated long-form tail still gives its line");
    t.equal(decode(LINE_TABLE_LOCATIONS, p, 7, 10, 4), -1, "table ending before an svarint line delta");
    // Garbage: random tables must never trap, and the memory right after them is never read
    // (the answer does not depend on it).
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 0xff;
    let ok = true;
    for (let iter = 0; iter < 2000 && ok; iter++) {
      const len = rnd() % 64;
      const buf = new Uint8Array(len + 16);
      for (let i = 0; i < buf.length; i++) buf[i] = rnd();
      const ptr = copy(buf);
      const mem = new Uint8Array(core.memory.buffer, ptr, buf.length);
      for (let format = 0; format < 4 && ok; format++) {
        for (let off = -2; off < 260 && ok; off += 7) {
          mem.fill(0x00, len);
          const a = decode(format, ptr, len, 50, off);
          mem.fill(0xff, len);
          const b = decode(format, ptr, len, 50, off);
          if (a !== b) { ok = false; t.fail(`format ${format} read past the table (len ${len}, off ${off})`); }
        }
      }
    }
    t.ok(ok, "random tables: no trap, no read past the end");
  });

  t.teardown(() => {
    summary.sort((a, b) => a.label.localeCompare(b.label, "en", { numeric: true }));
    let total = 0;
    for (const s of summary) {
      total += s.offsets;
      console.log(`# ${s.label}: format ${s.format}, ${s.codeObjects} code objects, `
        + `${s.offsets} offsets, ${s.mismatches} mismatches`);
    }
    console.log(`# line tables: ${total} offsets checked on ${summary.length} interpreters`);
  });
}
