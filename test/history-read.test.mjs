// An agent's history read back as a user would: `wspy convert DIR` merges every segment (two
// processes under their own roots), `--match pid=N` keeps one process, `DIR@SINCE..UNTIL` and
// --since/--until choose windows, a range with nothing in it is one line and exit 2, and
// `wspy view DIR` serves the merged profile to speedscope as JSON.
// Must not know: wspy's internals beyond the CLI and its file formats.
// Source of truth: README "Always on: wspy agent" (reading the history back); docs/agent.md.
import t from "tap";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { wspy, startFixture, ROOT, CLI } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

const { parseSegmentName } = await import(path.join(ROOT, "build", "host", "agent", "history.js"));

t.test("convert and view read a history folder: all of it, one process, a time range", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const dir = mkdtempSync(path.join(tmpdir(), "wspy-hist-read-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tag = `120.${process.pid}`;
  const a = await startFixture(py.path, "cpu_split.py", [tag]);
  t.teardown(() => a.kill());
  const b = await startFixture(py.path, "cpu_split.py", [tag]);
  t.teardown(() => b.kill());
  const r = await wspy(["agent", "--match", `cpu_split\\.py ${tag.replace(".", "\\.")}$`, "--period", "1", "-d", "4.5", "-r", "50", "--dir", dir]);
  t.equal(r.code, 0, `the agent: ${r.stderr.trim().split("\n").at(-1)}`);
  const segs = readdirSync(dir).map((n) => ({ n, ...parseSegmentName(n) })).filter((s) => s.app).sort((x, y) => x.fromMs - y.fromMs);
  t.ok(segs.some((s) => s.pid === a.pid) && segs.some((s) => s.pid === b.pid), "segments of both processes");

  const all = path.join(dir, "..", `${path.basename(dir)}.all.txt`);
  t.teardown(() => rmSync(all, { force: true }));
  const c1 = await wspy(["convert", dir, "-f", "raw", "-o", all]);
  t.equal(c1.code, 0, "convert DIR");
  t.match(c1.stderr, new RegExp(`${segs.length} segments of`), "says how many segments it merged");
  const lines = readFileSync(all, "utf8").trim().split("\n");
  t.ok(lines.some((l) => l.startsWith(`process ${a.pid}: cpu_split;`)) && lines.some((l) => l.startsWith(`process ${b.pid}: cpu_split;`)), "each process under its own root");

  const one = path.join(dir, "..", `${path.basename(dir)}.one.txt`);
  t.teardown(() => rmSync(one, { force: true }));
  const c2 = await wspy(["convert", dir, "--match", `pid=${a.pid}`, "-f", "raw", "-o", one]);
  t.equal(c2.code, 0, "convert DIR --match pid=N");
  const oneLines = readFileSync(one, "utf8").trim().split("\n");
  t.ok(oneLines.length > 0 && oneLines.every((l) => !l.startsWith("process ") && l.includes("cpu_split.py")), "one process's stacks, no process roots");
  const weight = (ls) => ls.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  const aSegs = segs.filter((s) => s.pid === a.pid);
  t.ok(weight(oneLines) < weight(lines) && weight(oneLines) > 0, `fewer samples than both (${weight(oneLines)} of ${weight(lines)})`);

  // the second segment of process a, by its window in ISO times
  const s2 = aSegs[1];
  const iso = (ms) => new Date(ms).toISOString();
  const c3 = await wspy(["convert", `${dir}@${iso(s2.fromMs + 100)}..${iso(s2.untilMs - 100)}`, "--match", `pid=${a.pid}`, "-f", "raw", "-o", one]);
  t.equal(c3.code, 0, "convert DIR@SINCE..UNTIL");
  t.match(c3.stderr, /wspy: 1 segments of/, "one segment in that window");
  const c4 = await wspy(["convert", dir, "--since", "2020-01-01", "--until", "2020-01-02", "-f", "raw", "-o", one]);
  t.equal(c4.code, 2, "an empty range: exit 2");
  t.match(c4.stderr, /^wspy: no segment of .* falls between 2020-01-01T/, "in one line");
  t.equal(c4.stderr.trim().split("\n").length, 1, "one line");
  const c5 = await wspy(["convert", dir, "--since", "last tuesday", "-o", one]);
  t.equal(c5.code, 2, "a time it cannot read: exit 2");
  t.match(c5.stderr, /is not a time/, c5.stderr.trim());

  // view DIR: the merged profile, served as speedscope JSON
  const child = spawn(process.execPath, [CLI, "view", dir, "--since", "1h"], { stdio: ["ignore", "pipe", "pipe"] });
  t.teardown(() => { try { child.kill("SIGKILL"); } catch {} });
  const url = await new Promise((resolve) => {
    let out = "";
    child.stdout.on("data", (d) => { out += d; const m = /^(http:\S+)$/m.exec(out); if (m) resolve(m[1]); });
    child.on("exit", () => resolve(null));
  });
  t.ok(url, "view prints its URL");
  if (!url) return;
  const profileUrl = decodeURIComponent(/#profileURL=([^&]+)/.exec(url)[1]);
  const res = await fetch(profileUrl);
  t.equal(res.status, 200, "the profile is served");
  const doc = await res.json();
  const names = new Set(doc.shared.frames.map((f) => f.name));
  t.ok(names.has("heavy") && [...names].some((n) => n.startsWith(`process ${a.pid}:`)), "speedscope JSON of the merged segments");
  const exit = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  child.kill("SIGINT");
  t.equal(await exit, 0, "SIGINT stops the viewer");
});
