// `wspy agent` against real processes: segments every --period into --dir, each a wspy recording
// of its window with the agent's labels, the windows back to back; over two minutes with --match,
// their union is what one `record` of the same process shows, and a target killed and started
// again is sampled again within one period; retention by size and age; segments pushed to a
// loopback receiver, and to one that fails (500, down, too slow) without touching the sampling.
// Must not know: wspy's internals beyond the CLI and its file formats.
// Source of truth: docs/agent.md; README "Always on: wspy agent".
import t from "tap";
import { mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { wspy, startFixture, ROOT } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

const { decodeWspy: decodeRecording } = await import(path.join(ROOT, "build", "host", "render", "wspy.js"));
const { parseSegmentName } = await import(path.join(ROOT, "build", "host", "agent", "history.js"));

t.test("agent --dir: a segment file per period, labelled, windows back to back", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const fx = await startFixture(py.path, "cpu_split.py", [120]);
  t.teardown(() => fx.kill());
  const dir = mkdtempSync(path.join(tmpdir(), "wspy-agent-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await wspy(["agent", "-p", fx.pid, "--period", "1", "-d", "6.5", "-r", "50", "--dir", dir, "--label", "env=test", "--app", "cpusplit"]);
  t.equal(r.code, 0, `exits 0: ${r.stderr}`);
  const m = /(\d+) segments of 1 s from 1 process; (\d+) written/.exec(r.stderr);
  t.ok(m, `the summary: ${r.stderr.trim()}`);
  const files = readdirSync(dir).map((n) => ({ n, p: parseSegmentName(n) })).filter((f) => f.p).sort((a, b) => a.p.fromMs - b.p.fromMs);
  t.ok(files.length >= 5, `a file per period (${files.length})`);
  t.equal(files.length, Number(m?.[2]), "as many files as the summary says written");
  let total = 0;
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    t.equal(f.p.app, "cpusplit");
    t.equal(f.p.pid, fx.pid);
    if (i > 0) t.equal(f.p.fromMs, files[i - 1].p.untilMs, "back to back");
    const prof = decodeRecording(readFileSync(path.join(dir, f.n)));
    t.same({ app: prof.meta.labels?.app, env: prof.meta.labels?.env, pid: prof.meta.labels?.pid }, { app: "cpusplit", env: "test", pid: String(fx.pid) }, "its labels");
    t.ok(prof.frames.some((fr) => fr.name === "heavy"), "its stacks");
    total += prof.sampleNode.length;
  }
  t.ok(total >= 5 * 50 * 0.5, `samples kept over the segments (${total})`);
});

t.test("agent --push: each segment reaches a loopback receiver as a CPU profile with the labels", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const http = await import("node:http");
  const { gunzipSync } = await import("node:zlib");
  const { pprofType } = await import(path.join(ROOT, "build", "host", "render", "pprof.js"));
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url, "http://x");
      const msg = pprofType().toObject(pprofType().decode(gunzipSync(Buffer.concat(chunks))), { longs: Number });
      const types = msg.sample_type.map((st) => msg.string_table[st.type]);
      got.push({ path: url.pathname, name: url.searchParams.get("name"), types, samples: msg.sample.reduce((s, x) => s + Number(x.value[0]), 0) });
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => { server.closeAllConnections?.(); server.close(); });
  const fx = await startFixture(py.path, "cpu_split.py", [120]);
  t.teardown(() => fx.kill());
  const r = await wspy(["agent", "-p", fx.pid, "--period", "1", "-d", "4.5", "-r", "50", "--push", `http://127.0.0.1:${server.address().port}`, "--app", "cpusplit", "--label", "env=test"]);
  t.equal(r.code, 0, `exits 0: ${r.stderr}`);
  const m = /(\d+) pushed to/.exec(r.stderr);
  t.ok(m && Number(m[1]) >= 3, `segments pushed: ${r.stderr.trim()}`);
  t.equal(got.length, Number(m?.[1]), "each one received once");
  t.ok(got.every((g) => g.path === "/ingest"), "POST /ingest");
  t.ok(got.every((g) => /^cpusplit\{.*\benv=test\b.*\}$/.test(g.name) && new RegExp(`\\bpid=${fx.pid}\\b`).test(g.name)), `labels in the name: ${got[0]?.name}`);
  t.ok(got.every((g) => g.types.includes("cpu") && !g.types.includes("wall")), `a CPU profile (Pyroscope's process_cpu): ${got[0]?.types}`);
  t.ok(got.reduce((s, g) => s + g.samples, 0) > 0, "with samples");
});

/** The segment files of dir, oldest window first: {name, pid, fromMs, untilMs, app}. */
function segmentsOf(dir) {
  return readdirSync(dir).map((n) => ({ n, ...parseSegmentName(n) })).filter((f) => f.app).sort((a, b) => a.fromMs - b.fromMs);
}

/** Share of samples whose innermost frame is fn. */
function leafShare(profiles, fn) {
  let hit = 0, all = 0;
  for (const p of profiles) {
    for (let i = 0; i < p.sampleNode.length; i++) {
      const n = p.sampleNode[i];
      if (n < 0) continue;
      all++;
      if (p.frames[p.nodeFrame[n]].name === fn) hit++;
    }
  }
  return { share: all ? hit / all : 0, all };
}

t.test("agent --match over two minutes (--period 5): back-to-back labelled segments, their union equals a record of the same process, a restarted target sampled again within a period", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const dir = mkdtempSync(path.join(tmpdir(), "wspy-agent-match-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // a duration of its own: fixtures of tests running alongside are not matched
  const tag = `400.${process.pid}`;
  const x = await startFixture(py.path, "cpu_split.py", [tag]);
  t.teardown(() => x.kill());
  const y1 = await startFixture(py.path, "cpu_split.py", [tag]);
  t.teardown(() => y1.kill());
  const agentRun = wspy(["agent", "--match", `fixtures/cpu_split\\.py ${tag.replace(".", "\\.")}$`, "--period", "5", "-d", "120", "-r", "50", "--dir", dir, "--label", "env=soak"]);
  const recFile = path.join(dir, "..", `${path.basename(dir)}.record.wspy`);
  t.teardown(() => rmSync(recFile, { force: true }));
  const recRun = wspy(["record", "-p", x.pid, "-d", "115", "-r", "50", "-f", "wspy", "-o", recFile]);
  // the second target ends a third of the way in, and starts again
  const waitFor = async (cond, ms) => { const end = Date.now() + ms; while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 200)); return cond(); };
  t.ok(await waitFor(() => segmentsOf(dir).some((f) => f.pid === y1.pid), 60000), "the second target is sampled");
  await new Promise((r) => setTimeout(r, 30000));
  y1.kill();
  const y2 = await startFixture(py.path, "cpu_split.py", [tag]);
  t.teardown(() => y2.kill());
  const y2ReadyMs = Date.now();
  const [a, rec] = await Promise.all([agentRun, recRun]);
  t.equal(a.code, 0, `the agent exits 0 at the end of -d: ${a.stderr.trim().split("\n").slice(-1)[0]}`);
  t.equal(rec.code, 0, "the record exits 0");
  t.match(a.stderr, /from 3 processes/, "three processes sampled over its life");
  const segs = segmentsOf(dir);
  const xs = segs.filter((f) => f.pid === x.pid);
  t.ok(xs.length >= 22, `a segment every 5 s of the long-lived target (${xs.length} over 120 s)`);
  for (let i = 1; i < xs.length; i++) t.equal(xs[i].fromMs, xs[i - 1].untilMs, `segment ${i} follows segment ${i - 1} with no gap`);
  const full = xs.slice(0, -1).map((f) => f.untilMs - f.fromMs);
  t.ok(full.every((ms) => ms >= 4500 && ms <= 5600), `each window is 5 s (${Math.min(...full)}–${Math.max(...full)} ms)`);
  const profiles = xs.map((f) => decodeRecording(readFileSync(path.join(dir, f.n))));
  const l = profiles[0].meta.labels ?? {};
  t.same({ app: l.app, pid: l.pid, python: l.python, env: l.env, host: typeof l.hostname, wspy: typeof l.wspy },
    { app: "cpu_split", pid: String(x.pid), python: "3.12.1", env: "soak", host: "string", wspy: "string" }, "labelled: app, pid, python, host, wspy, --label");
  const agentHeavy = leafShare(profiles, "heavy");
  const recHeavy = leafShare([decodeRecording(readFileSync(recFile))], "heavy");
  t.ok(agentHeavy.all >= 3000 && recHeavy.all >= 3000, `enough samples (agent ${agentHeavy.all}, record ${recHeavy.all})`);
  t.ok(Math.abs(agentHeavy.share - recHeavy.share) < 0.04, `heavy()'s share: the segments' union ${(100 * agentHeavy.share).toFixed(1)}%, one record ${(100 * recHeavy.share).toFixed(1)}%`);
  const y1s = segs.filter((f) => f.pid === y1.pid), y2s = segs.filter((f) => f.pid === y2.pid);
  t.ok(y1s.length >= 5, `the first run of the restarted target has its segments (${y1s.length})`);
  t.ok(y2s.length >= 10, `the second run too (${y2s.length})`);
  t.ok(y2s.length && y2s[0].untilMs - y2ReadyMs <= 5000 + 1500, `sampled again within one period: its first segment ends ${y2s.length ? y2s[0].untilMs - y2ReadyMs : "?"} ms after it started`);
});

t.test("agent retention: --max-size keeps the newest segments under the size, --keep drops the old ones", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const fx = await startFixture(py.path, "cpu_split.py", [120]);
  t.teardown(() => fx.kill());
  for (const [opt, val] of [["--max-size", "6000"], ["--keep", "3s"]]) {
    const dir = mkdtempSync(path.join(tmpdir(), "wspy-agent-keep-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const other = path.join(dir, "notes.txt");
    writeFileSync(other, "not a segment");
    const r = await wspy(["agent", "-p", fx.pid, "--period", "1", "-d", "8.5", "-r", "50", "--dir", dir, opt, val]);
    const endMs = Date.now();
    t.equal(r.code, 0, `${opt}: exits 0`);
    const written = Number(/(\d+) written/.exec(r.stderr)?.[1]);
    const left = segmentsOf(dir);
    t.ok(written >= 7 && left.length < written, `${opt} ${val}: ${left.length} of ${written} segments left`);
    if (opt === "--max-size") {
      const bytes = left.reduce((n, f) => n + statSync(path.join(dir, f.n)).size, 0);
      t.ok(bytes <= 6000 && left.length >= 1, `${bytes} bytes kept, at most 6000`);
      t.equal(left.at(-1).untilMs, Math.max(...left.map((f) => f.untilMs)), "the newest kept");
    } else {
      t.ok(left.every((f) => f.untilMs >= endMs - 3000 - 2500), "none older than 3 s (when the last one was written)");
    }
    t.equal(readFileSync(other, "utf8"), "not a segment", "other files are left alone");
  }
});

t.test("agent --push to a receiver that fails (500, down, 10 s slow): sampling goes on at its rate, drops counted, the agent ends in time", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const http = await import("node:http");
  const net = await import("node:net");
  const fx = await startFixture(py.path, "cpu_split.py", [120]);
  t.teardown(() => fx.kill());
  const failing = http.createServer((req, res) => { req.resume(); req.on("end", () => { res.writeHead(500); res.end("no"); }); });
  const slow = http.createServer((req) => { req.resume(); /* answers after 10 s: never within the agent's wait */ setTimeout(() => {}, 10000); });
  await Promise.all([failing, slow].map((s) => new Promise((r) => s.listen(0, "127.0.0.1", r))));
  t.teardown(() => { for (const s of [failing, slow]) { s.closeAllConnections?.(); s.close(); } });
  // a port nobody listens on
  const probe = net.createServer();
  await new Promise((r) => probe.listen(0, "127.0.0.1", r));
  const downPort = probe.address().port;
  await new Promise((r) => probe.close(r));
  // the same agent without --push first: what this machine's load lets the sampling keep
  const samplesOf = (dir) => segmentsOf(dir).slice(0, -1).map((f) => decodeRecording(readFileSync(path.join(dir, f.n))).sampleNode.length);
  const baseDir = mkdtempSync(path.join(tmpdir(), "wspy-agent-push-"));
  t.teardown(() => rmSync(baseDir, { recursive: true, force: true }));
  const base = await wspy(["agent", "-p", fx.pid, "--period", "1", "-d", "5.5", "-r", "50", "--dir", baseDir]);
  t.equal(base.code, 0, "without --push: exits 0");
  const baseTotal = samplesOf(baseDir).reduce((a, b) => a + b, 0);
  // a segment is retried with backoff (0.5 s doubling) far longer than these runs: at the end the
  // queue is dropped as "stopped", and the summary says what the last attempt met
  for (const [what, url, reason] of [["500", `http://127.0.0.1:${failing.address().port}`, /dropped: stopped: \d+.*\(last failure: HTTP 500\)/],
    ["down", `http://127.0.0.1:${downPort}`, /dropped: stopped: \d+.*\(last failure: ECONNREFUSED\)/],
    ["slow", `http://127.0.0.1:${slow.address().port}`, /dropped: stopped: \d+/]]) {
    const dir = mkdtempSync(path.join(tmpdir(), "wspy-agent-push-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const t0 = Date.now();
    const r = await wspy(["agent", "-p", fx.pid, "--period", "1", "-d", "5.5", "-r", "50", "--dir", dir, "--push", url]);
    const took = (Date.now() - t0) / 1000;
    t.equal(r.code, 0, `${what}: exits 0`);
    t.match(r.stderr, /0 pushed to/, `${what}: nothing counted as sent`);
    t.match(r.stderr, reason, `${what}: the drops are counted by reason: ${r.stderr.trim().split("\n").slice(-1)[0]}`);
    t.ok(took < 5.5 + 5 + 10, `${what}: the agent ends in bounded time (${took.toFixed(1)} s: its run, then at most 5 s for the queue)`);
    const perSegment = samplesOf(dir);
    const total = perSegment.reduce((a, b) => a + b, 0);
    t.ok(perSegment.length >= 4 && total >= 0.75 * baseTotal, `${what}: the sampling keeps its rate: ${total} samples in the whole segments (${perSegment.join(", ")}), ${baseTotal} without --push`);
  }
});

t.test("agent --dir on a folder that fills up: one warning, sampling goes on, every file left is whole", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  if (process.getuid?.() !== 0) return t.skip("mounting a small tmpfs needs root");
  const { spawnSync } = await import("node:child_process");
  const dir = mkdtempSync(path.join(tmpdir(), "wspy-agent-full-"));
  // three 4 KiB pages: room for about three segment files
  const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=12k", "none", dir], { encoding: "utf8" });
  if (m.status !== 0) { rmSync(dir, { recursive: true, force: true }); return t.skip(`cannot mount a tmpfs here: ${m.stderr.trim()}`); }
  t.teardown(() => { spawnSync("umount", [dir]); rmSync(dir, { recursive: true, force: true }); });
  const fx = await startFixture(py.path, "cpu_split.py", [120]);
  t.teardown(() => fx.kill());
  const r = await wspy(["agent", "-p", fx.pid, "--period", "1", "-d", "7.5", "-r", "50", "--dir", dir]);
  t.equal(r.code, 0, "exits 0");
  const warnings = r.stderr.split("\n").filter((l) => /could not be written/.test(l));
  t.equal(warnings.length, 1, `one warning: ${warnings[0]}`);
  const m2 = /(\d+) written to .*, (\d+) not written/.exec(r.stderr);
  t.ok(m2 && Number(m2[1]) >= 1 && Number(m2[2]) >= 1, `the summary counts both: ${r.stderr.trim().split("\n").slice(-1)[0]}`);
  const names = readdirSync(dir);
  t.same(names.filter((n) => !parseSegmentName(n)), [], "no temporary or partial file left");
  for (const n of names) t.ok(decodeRecording(readFileSync(path.join(dir, n))).sampleNode.length > 0, `${n} is whole`);
});

t.test("agent signals: SIGHUP does not stop it; SIGTERM writes the segment in progress and the summary", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const fx = await startFixture(py.path, "cpu_split.py", [120]);
  t.teardown(() => fx.kill());
  const dir = mkdtempSync(path.join(tmpdir(), "wspy-agent-sig-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let termAt = 0;
  const r = await wspy(["agent", "-p", fx.pid, "--period", "2", "-r", "50", "--dir", dir], {
    onSpawn: async (child) => {
      const wait = async (cond) => { const end = Date.now() + 30000; while (!cond() && Date.now() < end) await new Promise((res) => setTimeout(res, 100)); };
      await wait(() => segmentsOf(dir).length >= 1);
      child.kill("SIGHUP");
      const n = segmentsOf(dir).length;
      await wait(() => segmentsOf(dir).length >= n + 1);
      t.equal(child.exitCode, null, "still running after SIGHUP, a segment later");
      await new Promise((res) => setTimeout(res, 700)); // into the next segment
      termAt = Date.now();
      child.kill("SIGTERM");
    },
  });
  t.equal(r.code, 0, "SIGTERM: exit 0");
  t.match(r.stderr, /SIGHUP: going on/, "SIGHUP said");
  t.match(r.stderr, /agent: interrupted; \d+ segments/, "the summary");
  const last = segmentsOf(dir).at(-1);
  t.ok(last && Math.abs(last.untilMs - termAt) < 1500 && last.untilMs - last.fromMs < 1900, `the segment in progress is written, ending at SIGTERM (${last ? last.untilMs - termAt : "?"} ms from it, ${last ? last.untilMs - last.fromMs : "?"} ms long)`);
});

t.test("agent --async and --native: segments carry task frames and native frames", async (t) => {
  const py = findByLabel("pyenv 3.12");
  if (!py) return t.skip(missingReason("3.12") ?? "pyenv 3.12 not found");
  const fx = await startFixture(py.path, "asyncio_split.py", []);
  t.teardown(() => fx.kill());
  const { buildSpinext } = await import("./helpers/native.mjs");
  const nap = await startFixture(py.path, "native_stacks.py", ["burn"], { env: { PYTHONPATH: buildSpinext(py) } });
  t.teardown(() => nap.kill());
  for (const [mode, pid, want] of [["--async", fx.pid, (n) => n.startsWith("<task ")], ["--native", nap.pid, (n, k) => k === "native" && n.startsWith("burn_c_loop")]]) {
    const dir = mkdtempSync(path.join(tmpdir(), "wspy-agent-mode-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const r = await wspy(["agent", "-p", pid, mode, "-i", "--period", "1", "-d", "3.5", "-r", "50", "--dir", dir]);
    t.equal(r.code, 0, `${mode}: exits 0: ${r.stderr.trim().split("\n").at(-1)}`);
    const files = segmentsOf(dir);
    t.ok(files.length >= 3, `${mode}: a segment per period (${files.length})`);
    const hit = files.filter((f) => decodeRecording(readFileSync(path.join(dir, f.n))).frames.some((fr) => want(fr.name, fr.kind)));
    t.equal(hit.length, files.length, `${mode}: every segment has them`);
  }
});
