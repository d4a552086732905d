// `dump --locals` against live interpreters: for every Python on this machine, start
// test/fixtures/locals_fixture.py (the main thread parked in `parked`, whose locals are of every
// kind shown, called from the closure `caller`) and compare each frame's locals with the repr()
// the target itself printed for them before saying ready: exactly, for every value that fits
// (ints, floats, bool, None, str with escapes and non-printable characters, bytes, 2.7 unicode,
// list, tuple, dict, set, frozenset, empty and nested ones, a list inside itself, numpy scalars
// as their plain value — Debian's 3.11 has numpy 1.x, wherever else numpy imports it is checked
// too, numpy 2.3+ with its own float16/float32 layout); as a prefix with "..." for what is cut (a 300-character
// str, a 100,000-item list, 50 nested lists); "<Type at 0x…>" with repr's own address for other
// objects. Arguments carry "arg": true and come first; cell variables (≤3.10 and 3.11+) and free
// variables (the closure's `greeting`) are listed with their contents. Then the text form, and
// Python's float repr against the core's on thousands of doubles, per interpreter.
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
const ARGS = ["arg_one", "arg_two", "extra", "options"];
/** wspy's limits (README): items per container, nesting, bytes per value per character asked. */
const MAX_DEPTH = 6, BUDGET_PER_CHAR = 4;
const NUMPY = ["np_bool", "np_int8", "np_uint16", "np_int64", "np_uint64", "np_float16", "np_float32", "np_float64", "np_tiny32",
  "np_big32", "np_whole32", "np_max16", "np_mid32", "np_sub16", "np_third32", "np_nan32", "np_inf16"];

/** The reprs the fixture printed: {parked: {name: repr}, caller: {...}}. */
function fixtureReprs(fx) {
  const line = fx.lines.find((l) => l.startsWith("reprs "));
  return line ? JSON.parse(line.slice(6)) : null;
}

/** Checks one frame's locals against the target's reprs, for values cut to `chars`. */
function checkFrame(t, got, reprs, chars, what) {
  got = got ?? [];
  t.same(got.map((l) => l.name).sort(), Object.keys(reprs).sort(), `${what}: every set local, and only those`);
  const firstLocal = got.findIndex((l) => !l.arg);
  t.ok(firstLocal < 0 || got.slice(firstLocal).every((l) => !l.arg), `${what}: arguments first`);
  t.same(got.filter((l) => l.arg).map((l) => l.name), ARGS.filter((n) => n in reprs), `${what}: arguments in the signature's order`);
  for (const l of got) {
    const want = reprs[l.name];
    if (want === undefined) continue;
    t.equal(l.arg, ARGS.includes(l.name), `${what}: ${l.name} arg flag`);
    if (l.name === "long_text") {
      t.equal(l.value, want.slice(0, 1 + chars) + "'...", `${what}: long_text cut to ${chars} characters`);
    } else if (l.name === "big_list") {
      t.match(l.value, /^\[0, 1, 2, [0-9, ]*\.\.\.\]$/, `${what}: big_list shows its start, then "..."`);
      t.ok(want.startsWith(l.value.slice(0, -"...]".length)), `${what}: big_list is a prefix of repr`);
      t.ok(l.value.length <= chars * BUDGET_PER_CHAR + 8, `${what}: big_list within the budget (${l.value.length})`);
    } else if (l.name === "deep") {
      t.equal(l.value, "[".repeat(MAX_DEPTH) + "[...]" + "]".repeat(MAX_DEPTH), `${what}: deep cut at ${MAX_DEPTH} levels`);
      t.ok(want.startsWith("[".repeat(MAX_DEPTH + 2)), `${what}: deep is deeper in repr`);
    } else if (/^<.* object at 0x[0-9a-f]+>$/.test(want) || /^<function .* at 0x[0-9a-f]+>$/.test(want)) {
      const addr = /at (0x[0-9a-f]+)>$/.exec(want)[1];
      t.match(l.value, new RegExp(`^<[A-Za-z_]+ at ${addr}>$`), `${what}: ${l.name} = ${l.value}, repr ${want}`);
    } else {
      t.equal(l.value, want, `${what}: ${l.name}`);
    }
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
    const { Core } = await import(path.join(ROOT, "build", "host", "core", "core.js"));
    core = new Core().x;
  }
  return core;
}

// 12 interpreters, each dumped four times: more than tap's default 300 s on a loaded machine
t.setTimeout(1_200_000);

for (const label of EXPECTED_PYTHONS) {
  if (!findByLabel(label)) t.skip(`${label}: ${missingReason(label)}`);
}

// the fixtures sleep: interpreters can be checked side by side (one after another, 12 of them
// took over 900 s at load 35 on 2 cores, 50-90 s each)
t.jobs = 3;

for (const python of findPythons()) {
  t.test(`${python.label} (${python.path})`, async (t) => {
    const before = Date.now() / 1000;
    const fx = await startFixture(python.path, FIXTURE, [TIMEOUT]);
    t.teardown(() => fx.kill());
    const reprs = fixtureReprs(fx);
    t.ok(reprs, "the fixture printed its reprs");
    if (!reprs) return;
    if (python.label === "debian 3.11") {
      t.ok(NUMPY.every((n) => n in reprs.parked), "numpy imports under Debian's 3.11 (python3-numpy)");
    }

    for (const [flag, chars] of [["--locals", 40], ["-ll", 200]]) {
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
      t.same(main.frames.map((f) => [f.name.replace(/^make_caller\.<locals>\./, ""), f.line]),
        [["parked", M.PARKED], ["caller", M.CALLER], ["<module>", M.MODULE]], "the stack: parked ← caller ← <module>");
      const [parked, caller, module] = main.frames;
      checkFrame(t, parked.locals, reprs.parked, chars, `${flag} parked`);
      t.same((parked.locals ?? []).filter((l) => l.arg).map((l) => l.name).sort(), [...ARGS].sort(), `${flag}: the arguments, *args and **kwargs`);
      t.ok(parked.locals?.some((l) => l.name === "captured" && l.value === "'in a cell'"), `${flag}: the cell variable`);
      const deadline = Number(parked.locals?.find((l) => l.name === "deadline")?.value);
      // set between the fixture's start and now (+ TIMEOUT), however slow either was (1 s: clock rounding)
      t.ok(deadline >= before + TIMEOUT - 1 && deadline <= Date.now() / 1000 + TIMEOUT + 1, `deadline is start + ${TIMEOUT} s: ${deadline}`);
      checkFrame(t, caller.locals, reprs.caller, chars, `${flag} caller`);
      t.ok(caller.locals?.some((l) => l.name === "greeting" && l.value === "'from the enclosing function'"), `${flag}: the free variable`);
      t.same(module.locals, [], `${flag}: the module frame has no fast locals`);
      // a keyword-only argument is an argument too (Python 3: a thread parked in kwonly_parked)
      const kw = d.threads.find((th) => th.frames[0]?.name === "kwonly_parked");
      if (python.version.startsWith("2.")) t.notOk(kw, "2.7 has no keyword-only arguments (no such thread)");
      else t.same(kw?.frames[0].locals, [{ name: "first", value: "1", arg: true }, { name: "key", value: "'k'", arg: true }],
        `${flag}: kwonly_parked(first, *, key): both are arguments`);
      if (NUMPY[0] in reprs.parked) {
        t.same(NUMPY.map((n) => parked.locals?.find((l) => l.name === n)?.value), NUMPY.map((n) => reprs.parked[n]),
          `${flag}: numpy scalars as their plain value`);
      }
    }

    // without --locals there are none
    const plain = await wspy(["dump", "-p", String(fx.pid), "--json"]);
    t.equal(plain.code, 0, plain.stderr);
    const pd = JSON.parse(plain.stdout);
    t.ok(pd.threads.every((th) => th.frames.every((f) => f.locals === undefined)), "no locals without --locals");

    // the text form: arguments, then locals, indented under their frame
    const txt = await wspy(["dump", "-p", String(fx.pid), "-l"]);
    t.equal(txt.code, 0, `dump -l exits 0 ${txt.stderr}`);
    const parkedText = [
      `    parked (${FILE}:${M.PARKED})`,
      "      arguments:",
      "        arg_one = 1",
      "        arg_two = 2.5",
    ].join("\n");
    t.ok(txt.stdout.includes(parkedText), "text: the parked frame, then its arguments");
    t.ok(txt.stdout.includes("      locals:\n        small_int = 42\n"), "text: then its other locals");
    t.match(txt.stdout, /caller \(.*\)\n {6}locals:\n {8}outer_local = 'outer'\n {8}count = 3\n/, "text: caller's locals");
    t.ok(txt.stdout.includes("        quoted = 'it\\'s \"here\"\\n'"), "text: escapes stay escaped");
    t.ok(txt.stdout.includes(`        nested = {'a': False, 'b': (1, 2, 3)}\n`), "text: a dict with its items");
    // floats: the core's repr is this interpreter's repr
    const x = await coreExports();
    const doubles = sampleDoubles();
    const hex = doubles.map((d) => { const b = Buffer.alloc(8); b.writeDoubleLE(d); return b.toString("hex"); }).join("\n") + "\n";
    const script = "import sys, struct, binascii\nfor l in sys.stdin:\n    sys.stdout.write(repr(struct.unpack('<d', binascii.unhexlify(l.strip()))[0]) + '\\n')\n";
    const floatReprs = execFileSync(python.path, ["-c", script], { input: hex, maxBuffer: 1 << 26 }).toString().split("\n");
    const bad = [];
    for (let i = 0; i < doubles.length; i++) {
      const n = x.floatRepr(doubles[i]);
      const s = Buffer.from(new Uint8Array(x.memory.buffer, x.localsTextPtr(), n)).toString();
      if (s !== floatReprs[i]) bad.push(`${floatReprs[i]} shown as ${s}`);
    }
    t.same(bad.slice(0, 10), [], `float repr matches Python's on ${doubles.length} doubles`);
  });
}
