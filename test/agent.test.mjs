// `wspy agent` against a real process (wip, #17): segments every --period into --dir, each a wspy
// recording of its window with the agent's labels, the windows back to back; their samples add up
// to what the agent says it took; and segments pushed to a loopback receiver.
// Must not know: wspy's internals beyond the CLI and its file formats.
// Source of truth: /root/wspy-notes/agent-research/PLAN.md.
import t from "tap";
import { mkdtempSync, rmSync, readdirSync, readFileSync } from "node:fs";
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
  const m = /(\d+) segments of 1 s; (\d+) written/.exec(r.stderr);
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
