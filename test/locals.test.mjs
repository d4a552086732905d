// `dump --locals` against live interpreters: for every Python on this machine, start
// test/fixtures/locals_fixture.py (the main thread parked in `parked`, whose locals are of every
// kind shown, called from `caller`) and check each frame's locals exactly: names in slot order,
// values as wspy renders them (Python's repr for int, float, bool, None, str and bytes, cut to 40
// characters, or 200 with -ll; "list (len 3)" for containers; "<Type at 0x…>" otherwise). A
// local not yet assigned is not listed. Then the text form, and Python's float repr against the
// core's on thousands of doubles, per interpreter.
// Per version: 2.7 has no bytes type (its str literals are bytes, shown as text when UTF-8) and
// marks longs with L; 3.11+ list a variable captured by a closure (its cell's contents), ≤3.10
// keep it among the cell variables, which wspy does not read.
import t from "tap";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { wspy, startFixture, marks, FIXTURES, ROOT, FIXTURE_LIFETIME } from "./helpers/run.mjs";
import { EXPECTED_PYTHONS, findPythons, findByLabel, missingReason } from "./helpers/pythons.mjs";

const FIXTURE = "locals_fixture.py";
const FILE = path.join(FIXTURES, FIXTURE);
const M = marks(FIXTURE);
// the fixture parks until killed (teardown); its timer is only a net for orphans
const TIMEOUT = FIXTURE_LIFETIME;

function versionOf(python) {
  const [major, minor] = python.version.split(".").map(Number);
  return { major, minor, py2: major === 2, cells: major > 3 || (major === 3 && minor >= 11) };
}

/** The locals of `parked`, in slot order: [name, value string or RegExp]. */
function expectedParked(v, long) {
  const L = v.py2 ? "L" : "";
  const longText = "abcdefghij".repeat(long ? 20 : 4);
  return [
    ["arg_one", "1"],
    ["arg_two", "2.5"],
    ["small_int", "42"],
    ["neg_int", "-7"],
    ["zero_int", "0"],
    ["u64_int", `18446744073709551615${L}`],
    ["big_int", `-123456789012345678901234567890${L}`],
    ["a_float", "3.25"],
    ["tiny_float", "1e-07"],
    ["huge_float", "1e+16"],
    ["sum_float", "0.30000000000000004"],
    ["neg_zero", "-0.0"],
    ["flag_true", "True"],
    ["flag_false", "False"],
    ["nothing", "None"],
    ["text", "'h\u00e9llo w\u00f6rld \u2713'"],
    ["long_text", `'${longText}'...`],
    ["quoted", "'it\\'s \"here\"\\n'"],
    ["raw", v.py2 ? "'\\x00\\x01abc\\xff'" : "b'\\x00\\x01abc\\xff'"],
    ["items", "list (len 3)"],
    ["pair", "tuple (len 2)"],
    ["mapping", "dict (len 2)"],
    ["bag", "set (len 4)"],
    ["frozen", "frozenset (len 1)"],
    ["point", /^<Point at 0x[0-9a-f]+>$/],
    ["inner", /^<function at 0x[0-9a-f]+>$/],
    ["deadline", /^\d{10}\.\d+$/],
    ...(v.cells ? [["captured", "'in a cell'"]] : []),
  ];
}

function checkLocals(t, got, want, what) {
  t.same((got ?? []).map((l) => l.name), want.map(([n]) => n), `${what}: the names, in slot order`);
  for (const [name, value] of want) {
    const l = (got ?? []).find((x) => x.name === name);
    if (!l) continue;
    if (value instanceof RegExp) t.match(l.value, value, `${what}: ${name} = ${l.value}`);
    else t.equal(l.value, value, `${what}: ${name}`);
  }
}

/** Doubles whose repr is worth checking: edges, ties, and random bit patterns. */
function sampleDoubles() {
  const out = [0.1 + 0.2, 1e16, 1e15, 1e-4, 1e-5, 5e-324, 1.7976931348623157e308, 2.2250738585072014e-308,
    9007199254740993, 123456789012345680000, 0.5, 2 ** 63, 579782574558942.25, 1 / 3, 2 / 3, 100, 1e22, 1e23];
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const b = Buffer.alloc(8);
  while (out.length < 3000) {
    b.writeUInt32LE((rnd() * 2 ** 32) >>> 0, 0);
    b.writeUInt32LE((rnd() * 2 ** 32) >>> 0, 4);
    const v = b.readDoubleLE(0);
    if (Number.isFinite(v)) out.push(v);
    out.push(Math.round(rnd() * 1e9) / [4, 8, 10, 100, 3][out.length % 5]);
  }
  return out;
}

let core = null;
async function coreExports() {
  if (!core) {
    const { Core } = await import(path.join(ROOT, "build", "host", "core.js"));
    core = new Core().x;
  }
  return core;
}

for (const label of EXPECTED_PYTHONS) {
  if (!findByLabel(label)) t.skip(`${label}: ${missingReason(label)}`);
}

// the fixtures sleep: interpreters can be checked side by side (one after another, 12 of them
// took over 900 s at load 35 on 2 cores, 50-90 s each)
t.jobs = 3;

for (const python of findPythons()) {
  t.test(`${python.label} (${python.path})`, async (t) => {
    const v = versionOf(python);
    const before = Date.now() / 1000;
    const fx = await startFixture(python.path, FIXTURE, [TIMEOUT]);
    t.teardown(() => fx.kill());

    for (const [flag, long] of [["--locals", false], ["-ll", true]]) {
      const r = await wspy(["dump", "-p", String(fx.pid), flag, "--json"]);
      t.equal(r.code, 0, `dump ${flag} --json exits 0 ${r.stderr}`);
      let d;
      try {
        d = JSON.parse(r.stdout);
      } catch (e) {
        t.fail(`dump ${flag} --json printed no JSON: ${e.message}: ${r.stdout.slice(0, 300)}`);
        return;
      }
      const main = d.threads.find((th) => th.tid === fx.pid);
      t.ok(main, "the main thread");
      if (!main) return;
      t.notOk(main.error, `no error (${main.error ?? ""})`);
      t.same(main.frames.map((f) => [f.name, f.line]), [["parked", M.PARKED], ["caller", M.CALLER], ["<module>", M.MODULE]],
        "the stack: parked ← caller ← <module>");
      const [parked, caller, module] = main.frames;
      checkLocals(t, parked.locals, expectedParked(v, long), `${flag} parked`);
      const deadline = Number(parked.locals?.find((l) => l.name === "deadline")?.value);
      // set between the fixture's start and now (+ TIMEOUT), however slow either was (1 s: clock rounding)
      t.ok(deadline >= before + TIMEOUT - 1 && deadline <= Date.now() / 1000 + TIMEOUT + 1, `deadline is start + ${TIMEOUT} s: ${deadline}`);
      checkLocals(t, caller.locals, [["outer_local", "'outer'"], ["count", "3"]], `${flag} caller`);
      t.same(module.locals, [], `${flag}: the module frame has no fast locals`);
    }

    // without --locals there are none
    const plain = await wspy(["dump", "-p", String(fx.pid), "--json"]);
    t.equal(plain.code, 0, plain.stderr);
    const pd = JSON.parse(plain.stdout);
    t.ok(pd.threads.every((th) => th.frames.every((f) => f.locals === undefined)), "no locals without --locals");

    // the text form: locals indented under their frame
    const txt = await wspy(["dump", "-p", String(fx.pid), "-l"]);
    t.equal(txt.code, 0, `dump -l exits 0 ${txt.stderr}`);
    const want = [
      `    parked (${FILE}:${M.PARKED})`,
      "        arg_one = 1",
      "        arg_two = 2.5",
      "        small_int = 42",
    ].join("\n");
    t.ok(txt.stdout.includes(want), "text: the parked frame, then its locals");
    t.ok(txt.stdout.includes(`    caller (${FILE}:${M.CALLER})\n        outer_local = 'outer'\n        count = 3\n`), "text: caller's locals");
    t.ok(txt.stdout.includes("        quoted = 'it\\'s \"here\"\\n'"), "text: escapes stay escaped");

    // floats: the core's repr is this interpreter's repr
    const x = await coreExports();
    const doubles = sampleDoubles();
    const hex = doubles.map((d) => { const b = Buffer.alloc(8); b.writeDoubleLE(d); return b.toString("hex"); }).join("\n") + "\n";
    const script = "import sys, struct, binascii\nfor l in sys.stdin:\n    sys.stdout.write(repr(struct.unpack('<d', binascii.unhexlify(l.strip()))[0]) + '\\n')\n";
    const reprs = execFileSync(python.path, ["-c", script], { input: hex, maxBuffer: 1 << 26 }).toString().split("\n");
    const bad = [];
    for (let i = 0; i < doubles.length; i++) {
      const n = x.floatRepr(doubles[i]);
      const s = Buffer.from(new Uint8Array(x.memory.buffer, x.localsTextPtr(), n)).toString();
      if (s !== reprs[i]) bad.push(`${reprs[i]} shown as ${s}`);
    }
    t.same(bad.slice(0, 10), [], `float repr matches Python's on ${doubles.length} doubles`);
  });
}
