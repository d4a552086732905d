// Strings from a target never reach a terminal or a file raw (host/io/escape.ts): a non-Python
// process whose argv[0] holds terminal escapes, in a real terminal (tmux, own socket), leaves the
// pane's title and screen alone; a real Python target whose code objects, thread and locals hold
// escapes, a right-to-left override and a bidi isolate shows them only as visible escapes in
// dump, top and every output format, keeps é and 名前 as they are, and `dump --json` keeps the
// exact strings (JSON escapes only). Thread identity: a target starting threads all the time is
// recorded, and no thread in any output is labelled "ident 0" (or any id 0).
import t from "tap";
import path from "node:path";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { wspy, startFixture, CLI, ROOT, haveTmux } from "./helpers/run.mjs";
import { findPythons, findByLabel, missingReason } from "./helpers/pythons.mjs";

const { escapeText, escapeFileText, jsonInert } = await import(path.join(ROOT, "build", "host", "io", "escape.js"));
const { renderSpeedscope, renderChrometrace, renderCollapsed } = await import(path.join(ROOT, "build", "host", "render", "index.js"));
const { pprofType } = await import(path.join(ROOT, "build", "host", "render", "pprof.js"));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Characters no terminal-bound text may hold: C0 but LF, DEL, C1, bidi/format (Cf), separators. */
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\p{Cf}\u2028\u2029]/u;
const rawFound = (s) => {
  const m = RAW_UNSAFE.exec(s);
  return m ? `U+${m[0].codePointAt(0).toString(16).padStart(4, "0")} at ${m.index}: ${JSON.stringify(s.slice(Math.max(0, m.index - 20), m.index + 20))}` : "";
};

function tmpDir(t) {
  const dir = mkdtempSync(path.join(tmpdir(), "wspy-escaping-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---------- the functions ----------

t.test("escapeText: controls, bidi and format characters become visible escapes; letters of every script stay", async (t) => {
  t.equal(escapeText("\x1b]0;PWNED\x07\x1b[2J"), "\\x1b]0;PWNED\\x07\\x1b[2J", "ESC, BEL");
  t.equal(escapeText("a\u0000b\u007fc\u009bd"), "a\\x00b\\x7fc\\x9bd", "NUL, DEL, C1 CSI");
  t.equal(escapeText("x\u202ey\u202az\u2066w\u2069\u200e\u061c"), "x\\u202ey\\u202az\\u2066w\\u2069\\u200e\\u061c", "bidi overrides, embeddings, isolates, marks");
  t.equal(escapeText("zero\u200bwidth\ufeff\u00ad"), "zero\\u200bwidth\\ufeff\\xad", "other invisible format characters");
  t.equal(escapeText("line\u2028para\u2029"), "line\\u2028para\\u2029", "line and paragraph separators");
  t.equal(escapeText("lone\ud800"), "lone\\ud800", "a lone surrogate");
  t.equal(escapeText("tag\u{e0041}"), "tag\\U000e0041", "an astral format character");
  t.equal(escapeText("tab\tnl\ncr\r"), "tab\\x09nl\\x0acr\\x0d", "tab and line breaks too");
  for (const kept of ["é", "名前", "ünïcødé_名前.py", "wörker-β", "emoji 🔥", "C:\\path\\x", "<module>", "a b"]) {
    t.equal(escapeText(kept), kept, `${kept} kept as is`);
  }
  t.equal(escapeFileText("a;b\nc\x1b"), "a:b\\x0ac\\x1b", "file text: `;` is `:`, no line break, no control");
  const v = { s: "\x1b\u009b\u202e\u2028名前", n: 1 };
  const j = jsonInert(v, 2);
  t.equal(rawFound(j.replace(/\n/g, " ")), "", "JSON text holds no raw control or bidi character");
  t.same(JSON.parse(j), v, "and parses back to the exact strings");
});

t.test("renderers: an unbound thread state (ids 0) is not listed, a half-known one is not listed twice, no label says 'ident 0'", async (t) => {
  // threads: 0 MainThread; 1 ids not known yet (no samples); 2 ident known, tid not yet (no
  // samples); 3 the same thread with its tid; 4 a thread known only by its ident, sampled
  const profile = {
    frames: [{ name: "main", file: "app.py", line: 1, kind: "python" }, { name: "work", file: "app.py", line: 2, kind: "python" }],
    nodeParent: Int32Array.from([-1, 0]),
    nodeFrame: Int32Array.from([0, 1]),
    sampleTime: Float64Array.from([0, 0.01, 0.02]),
    sampleThread: Int32Array.from([0, 3, 4]),
    sampleNode: Int32Array.from([1, 1, 0]),
    sampleWeight: Float64Array.from([0.01, 0.01, 0.01]),
    threads: [
      { ident: 0x7f00, tid: 100, name: "MainThread" },
      { ident: 0, tid: 0, name: "" },
      { ident: 0x7f11, tid: 0, name: "worker" },
      { ident: 0x7f11, tid: 101, name: "worker" },
      { ident: 0x7f22, tid: 0, name: "" },
    ],
    meta: { target: "python app.py", pid: 100, pythonVersion: "3.12.1", rate: 100, durationSec: 0.03, samples: 3, errors: {}, startedAt: new Date(0).toISOString() },
  };
  const names = JSON.parse(renderSpeedscope(profile)).profiles.map((p) => p.name);
  t.same(names, ["MainThread (100)", "worker (101)", "thread (ident 0x7f22)"], "speedscope: one profile per thread with an identity");
  const trace = JSON.parse(renderChrometrace(profile));
  const threadNames = trace.traceEvents.filter((e) => e.name === "thread_name").map((e) => e.args.name);
  t.same(threadNames, names, "chrometrace: the same threads");
  const roots = renderCollapsed(profile, { threads: true }).trim().split("\n").map((l) => l.split(";")[0]);
  t.same(roots.sort(), ["MainThread (100)", "thread (ident 0x7f22)", "worker (101)"], "raw --threads roots");
});

// ---------- a non-Python process with a hostile argv[0] ----------

const HOSTILE_ARGV0 = "\x1b]0;PWNED\x07\x1b[2Jevil-argv0";

/** Starts `sleep` under a hostile argv[0] (bash's exec -a); resolves once its cmdline shows it. */
async function startHostileSleep(t) {
  const child = spawn("bash", ["-c", `exec -a "$WSPY_ARGV0" sleep 600`], { stdio: "ignore", env: { ...process.env, WSPY_ARGV0: HOSTILE_ARGV0 } });
  t.teardown(() => { try { child.kill("SIGKILL"); } catch {} });
  for (;;) {
    let cmd = "";
    try { cmd = readFileSync(`/proc/${child.pid}/cmdline`, "latin1"); } catch {}
    if (cmd.startsWith("\x1b]0;PWNED")) return child.pid;
    if (child.exitCode !== null) throw new Error("the hostile sleep exited");
    await sleep(20);
  }
}

t.test("a non-Python target: its hostile argv[0] appears escaped in the error", async (t) => {
  const pid = await startHostileSleep(t);
  const r = await wspy(["dump", "-p", String(pid)]);
  t.equal(r.code, 5, "NOT_PYTHON exit status");
  t.match(r.stderr, /is not a Python process/, "says what is wrong");
  t.ok(r.stderr.includes("\\x1b]0;PWNED\\x07\\x1b[2Jevil-argv0"), `the command line is shown escaped: ${JSON.stringify(r.stderr)}`);
  t.equal(rawFound(r.stderr.replace(/\n$/, "")), "", "no raw control character on stderr");
});

t.test("in a real terminal (tmux): the pane's title does not change and its screen is not cleared", { skip: haveTmux() ? false : "tmux is not installed" }, async (t) => {
  const pid = await startHostileSleep(t);
  const socket = `wspy-escaping-test-${process.pid}`;
  const tmux = (...args) => execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
  t.teardown(() => { try { tmux("kill-server"); } catch {} });
  // wspy runs once the title is set (the shell waits for the go file)
  const go = path.join(tmpDir(t), "go");
  const script = `printf 'MARK-BEFORE\\n'; while [ ! -e '${go}' ]; do sleep 0.05; done; '${process.execPath}' '${CLI}' dump -p ${pid}; printf 'MARK-DONE %s\\n' "$?"; exec sleep 600`;
  tmux("new-session", "-d", "-s", "esc", "-x", "200", "-y", "40", "sh", "-c", script);
  tmux("select-pane", "-t", "esc", "-T", "title-before");
  const titleBefore = tmux("display-message", "-p", "-t", "esc", "#{pane_title}").trim();
  t.equal(titleBefore, "title-before", "the pane has its title");
  writeFileSync(go, "");
  let text = "";
  for (let i = 0; i < 600 && !/MARK-DONE \d+/.test(text); i++) {
    await sleep(100);
    text = tmux("capture-pane", "-p", "-J", "-t", "esc");
  }
  t.match(text, /MARK-DONE 5/, "wspy ran and exited with NOT_PYTHON");
  t.equal(tmux("display-message", "-p", "-t", "esc", "#{pane_title}").trim(), titleBefore, "the pane title is unchanged");
  t.match(text, /MARK-BEFORE/, "the screen was not cleared (the line before wspy is still there)");
  t.ok(text.includes("\\x1b]0;PWNED\\x07\\x1b[2Jevil-argv0"), `the pane shows the escaped command line: ${text}`);
});

// ---------- a Python target with hostile names ----------

/** Two interpreters (the oldest and the newest with code.replace, 3.8+): co_qualname differs from 3.11. */
function hostilePythons() {
  const py3 = findPythons().filter((p) => {
    const [major, minor] = p.version.split(".").map(Number);
    return major === 3 && minor >= 8;
  });
  return py3.length > 1 ? [py3[0], py3[py3.length - 1]] : py3;
}

if (hostilePythons().length === 0) t.skip(`no Python 3.8+ on this machine: ${missingReason("3.8")}`);

for (const python of hostilePythons()) {
  t.test(`hostile names from a ${python.label} target (${python.path})`, async (t) => {
    const fx = await startFixture(python.path, "hostile_names.py", [120]);
    t.teardown(() => fx.kill());
    const names = JSON.parse(fx.lines.find((l) => l.startsWith("names ")).slice(6));
    const shown = Object.fromEntries(Object.entries(names).map(([k, v]) => [k, escapeText(v)]));
    t.ok(shown.func.includes("\\x1b]0;PWNED\\x07\\u202eoops\\u2066名前\\x7f"), `how the function is shown: ${shown.func}`);
    t.ok(shown.file.includes("\\x1b[2J\\u202eevilé\\x9b31m.py"), `how the file is shown: ${shown.file}`);
    const dir = tmpDir(t);

    await t.test("dump, dump --locals: escaped names, thread name and local values; é and 名前 kept", async (t) => {
      // the busy thread is sampled inside the hostile function: retry until a dump shows it there
      let r;
      for (let i = 0; i < 50; i++) {
        r = await wspy(["dump", "-p", String(fx.pid), "--locals"]);
        if (r.code === 0 && r.stdout.includes(shown.func)) break;
      }
      t.equal(r.code, 0, `dump exits 0 ${r.stderr}`);
      t.equal(rawFound(r.stdout.replace(/\n/g, " ")), "", "no raw control, bidi or format character in the dump");
      t.ok(r.stdout.includes(`    ${shown.func} (${shown.file}:`), "the hostile frame, escaped");
      t.ok(r.stdout.includes(`"${shown.thread}"`), "the hostile thread name, escaped");
      t.match(r.stdout, /secret = '\\x1b\[2J\\u202eleak\\x07'/, "the hostile local's value, escaped");
    });

    await t.test("dump --json: the exact strings, with no raw control or bidi character in the text", async (t) => {
      let d;
      for (let i = 0; i < 50; i++) {
        const r = await wspy(["dump", "-p", String(fx.pid), "--json"]);
        t.equal(rawFound(r.stdout.replace(/\n/g, " ")), "", "JSON text is inert on a terminal");
        d = JSON.parse(r.stdout);
        if (d.threads.some((th) => th.frames.some((f) => f.name === names.func))) break;
      }
      const th = d.threads.find((x) => x.frames.some((f) => f.name === names.func));
      t.ok(th, "the hostile frame's exact name is in the JSON");
      t.equal(th?.name, names.thread, "the thread's exact name");
      t.equal(th?.frames.find((f) => f.name === names.func)?.file, names.file, "the exact file name");
    });

    await t.test("record: raw, raw --threads, flamegraph, speedscope, chrometrace, pprof show the escaped names only", async (t) => {
      const out = (ext) => path.join(dir, `p.${ext}`);
      const rec = await wspy(["record", "-p", String(fx.pid), "-d", "1", "-r", "200", "-f", "wspy", "-o", out("wspy")]);
      t.equal(rec.code, 0, `record exits 0 ${rec.stderr}`);
      t.equal(rawFound(rec.stderr.replace(/\n/g, " ")), "", "the summary holds no raw control character");
      // raw --threads is recorded on its own (convert has no --threads)
      const rawT = await wspy(["record", "-p", String(fx.pid), "-d", "1", "-r", "200", "-f", "raw", "--threads", "-o", out("raw.t.out")]);
      t.equal(rawT.code, 0, `record -f raw --threads exits 0 ${rawT.stderr}`);
      for (const [format, extra] of [["raw", []], ["raw", ["--threads"]], ["flamegraph", []], ["speedscope", []], ["chrometrace", []], ["pprof", []]]) {
        const file = out(`${format}${extra.length ? ".t" : ""}.out`);
        if (!extra.length) {
          const c = await wspy(["convert", out("wspy"), "-f", format, "-o", file]);
          t.equal(c.code, 0, `convert to ${format} exits 0 ${c.stderr}`);
        }
        const bytes = readFileSync(file);
        // pprof: its strings (protobuf is binary; the strings are what a viewer shows)
        const text = format === "pprof" ? ((m) => m.string_table ?? m.stringTable)(pprofType().decode(gunzipSync(bytes))).join("\n") : bytes.toString("utf8");
        t.equal(rawFound(text.replace(/\n/g, " ")), "", `${format} ${extra.join(" ")}: no raw control, bidi or format character`);
        if (format === "raw") {
          const fileText = escapeFileText(`${names.func} (${names.file}:`);
          t.ok(text.includes(fileText), `${format}: the hostile frame as file text`);
          for (const line of text.trimEnd().split("\n")) {
            if (!/^.+ \d+$/.test(line)) t.fail(`a collapsed line ends with its count: ${line}`);
          }
          if (extra.length) t.ok(text.includes(`${escapeFileText(names.thread)} (`), "the thread root, escaped");
        } else if (format === "flamegraph") {
          const xml = shown.func.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
          t.ok(text.includes(`data-name="${xml}"`), "the SVG holds the escaped name as text");
        } else if (format === "pprof") {
          t.ok(text.split("\n").includes(shown.func), "pprof's string table holds the escaped name");
        } else {
          const doc = JSON.parse(text);
          const all = JSON.stringify(doc);
          t.ok(all.includes(JSON.stringify(shown.func).slice(1, -1)), `${format}: the viewer is given the escaped name`);
        }
      }
    });

    await t.test("top --plain: escaped names", async (t) => {
      const r = await wspy(["top", "-p", String(fx.pid), "--plain", "--delay", "0.5", "-d", "1.5", "-i"]);
      t.equal(r.code, 0, `top exits 0 ${r.stderr}`);
      t.equal(rawFound(r.stdout.replace(/\n/g, " ")), "", "no raw control, bidi or format character in top's tables");
      t.ok(r.stdout.includes(shown.func), "the hostile function, escaped");
    });
  });
}

// ---------- thread identity under thread churn ----------

const CHURN_PYTHONS = ["pyenv 2.7", "pyenv 3.12", "provisioned 3.14"];
for (const label of CHURN_PYTHONS) {
  const python = findByLabel(label);
  t.test(`threads starting all the time (${label}): every thread in speedscope, chrometrace and raw --threads has a non-zero id`, { skip: python ? false : missingReason(label) }, async (t) => {
    const fx = await startFixture(python.path, "thread_churn.py", [120]);
    t.teardown(() => fx.kill());
    const dir = tmpDir(t);
    const rec = path.join(dir, "churn.wspy");
    // a trap of the core here (a garbage frame link under churn) was a bug fixed by the 64-bit
    // bounds in walk.ts; now it is recorded like any other run: exit 0 or the test fails
    const recordOk = async (args) => {
      const r = await wspy(args);
      t.equal(r.code, 0, `record exits 0 ${r.stderr}`);
      return r.code === 0;
    };
    if (!(await recordOk(["record", "-p", String(fx.pid), "-d", "2", "-r", "1000", "-i", "-f", "wspy", "-o", rec]))) return;
    const ID = /\((?:([0-9]+)|ident 0x([0-9a-f]+))\)$/;
    const checkLabel = (name, where) => {
      const m = ID.exec(name);
      if (!m) return t.fail(`${where}: ${JSON.stringify(name)} names no thread id`);
      if (Number(m[1] ?? parseInt(m[2], 16)) === 0) t.fail(`${where}: ${JSON.stringify(name)} has id 0`);
    };

    const ss = path.join(dir, "churn.json");
    t.equal((await wspy(["convert", rec, "-f", "speedscope", "-o", ss])).code, 0, "convert to speedscope");
    const profiles = JSON.parse(readFileSync(ss, "utf8")).profiles;
    t.ok(profiles.length >= 3, `the main thread, the spawner and short-lived threads were met (${profiles.length})`);
    for (const p of profiles) checkLabel(p.name, "speedscope");

    const ct = path.join(dir, "churn.trace.json");
    t.equal((await wspy(["convert", rec, "-f", "chrometrace", "-o", ct])).code, 0, "convert to chrometrace");
    for (const e of JSON.parse(readFileSync(ct, "utf8")).traceEvents) if (e.name === "thread_name") checkLabel(e.args.name, "chrometrace");

    const raw = path.join(dir, "churn.txt");
    if (!(await recordOk(["record", "-p", String(fx.pid), "-d", "2", "-r", "1000", "-i", "-f", "raw", "--threads", "-o", raw]))) return;
    const lines = readFileSync(raw, "utf8").trimEnd().split("\n");
    t.ok(lines.length > 0, `${lines.length} stacks`);
    for (const l of lines) checkLabel(l.split(";")[0], "raw --threads");
    t.pass(`${profiles.length} threads checked`);
  });
}
