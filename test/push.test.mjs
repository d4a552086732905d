// `wspy agent --push`'s client (host/agent/push.ts) against a fake Pyroscope on loopback that
// checks every request as the real ingest handler would (method, path with its prefix, the
// labelset `name`, from/until, an integer sampleRate, spyName, format=pprof, credentials only in
// headers, a gzipped pprof that protobufjs decodes and `go tool pprof` reads), then against a
// receiver that is down, slow, answers 500 or 422: the queue stays bounded, rejections are not
// retried, failures are retried then dropped, and every drop is counted.
// Must not know: the sampler (segments are made here from a small profile).
// Source of truth: docs/agent.md ("Pyroscope's ingest API"), read from grafana/pyroscope's ingest_handler.go.
import t from "tap";
import http from "node:http";
import { gunzipSync } from "node:zlib";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT } from "./helpers/run.mjs";

const { Pusher, pyroscopeName } = await import(path.join(ROOT, "build", "host", "agent", "push.js"));
const { renderPprof, pprofType } = await import(path.join(ROOT, "build", "host", "render", "pprof.js"));

/** A small profile: two stacks of a made-up service. */
function profile(samples = 30) {
  const frames = [
    { name: "<module>", file: "/srv/app.py", line: 10, kind: "python" },
    { name: "handle", file: "/srv/app.py", line: 20, kind: "python" },
    { name: "query", file: "/srv/db.py", line: 5, kind: "python" },
  ];
  const n = samples;
  return {
    frames,
    nodeParent: Int32Array.from([-1, 0, 1]), nodeFrame: Int32Array.from([0, 1, 2]),
    sampleTime: Float64Array.from({ length: n }, (_, i) => i / 100), sampleThread: new Int32Array(n),
    sampleNode: Int32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 2)), sampleWeight: new Float64Array(n).fill(0.01),
    threads: [{ ident: 1, tid: 1, name: "MainThread" }],
    meta: { target: "pid 1", pid: 1, pythonVersion: "3.12.1", rate: 100, durationSec: n / 100, samples: n, errors: {}, startedAt: new Date().toISOString() },
  };
}

/** A loopback receiver that checks requests like Pyroscope's /ingest; answer(req) scripts the status. */
function receiver(t, { prefix = "", answer = () => 200, expectAuth = null, tenant = null } = {}) {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url, "http://x");
      const body = Buffer.concat(chunks);
      const problems = [];
      if (req.method !== "POST") problems.push(`method ${req.method}`);
      if (url.pathname !== `${prefix}/ingest`) problems.push(`path ${url.pathname}`);
      if (/@/.test(req.url)) problems.push("credentials in the URL");
      if (expectAuth !== null && req.headers.authorization !== expectAuth) problems.push(`authorization ${req.headers.authorization}`);
      if (tenant !== null && req.headers["x-scope-orgid"] !== tenant) problems.push(`tenant ${req.headers["x-scope-orgid"]}`);
      const name = url.searchParams.get("name") ?? "";
      const m = /^([A-Za-z0-9_.\-/]+)\{([^}]*)\}$/.exec(name);
      if (!m) problems.push(`name ${name}`);
      const labels = {};
      for (const pair of m ? m[2].split(",").filter(Boolean) : []) {
        const [k, v, ...rest] = pair.split("=");
        if (rest.length || !/^[A-Za-z0-9_.]+$/.test(k) || k === "__name__") problems.push(`label ${pair}`);
        labels[k] = v;
      }
      const from = url.searchParams.get("from"), until = url.searchParams.get("until");
      if (!/^\d{10}$/.test(from ?? "") || !/^\d{10}$/.test(until ?? "") || Number(from) >= Number(until)) problems.push(`from ${from} until ${until}`);
      if (!/^\d+$/.test(url.searchParams.get("sampleRate") ?? "")) problems.push(`sampleRate ${url.searchParams.get("sampleRate")}`);
      const spy = url.searchParams.get("spyName");
      if (!spy || ["pyspy", "rbspy", "scripting"].includes(spy)) problems.push(`spyName ${spy}`);
      if (url.searchParams.get("format") !== "pprof") problems.push(`format ${url.searchParams.get("format")}`);
      let msg = null;
      try {
        const raw = body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : body;
        if (raw.length > 4 << 20) problems.push("over 4 MiB");
        msg = pprofType().toObject(pprofType().decode(raw), { longs: Number });
        if (!msg.sample_type?.length || msg.string_table?.[0] !== "") problems.push("not a valid pprof");
      } catch (e) {
        problems.push(`body ${e.message}`);
      }
      got.push({ app: m?.[1], labels, from: Number(from), until: Number(until), problems, msg, body, at: Date.now() });
      const status = problems.length ? 422 : answer(got.length);
      if (status === "hang") return; // never answers
      res.writeHead(status);
      res.end(status === 200 ? "" : JSON.stringify({ code: "invalid_argument", message: problems.join("; ") }));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    t.teardown(() => { server.closeAllConnections?.(); server.close(); });
    resolve({ got, url: `http://127.0.0.1:${server.address().port}${prefix}`, port: server.address().port });
  }));
}

const waitFor = async (cond, ms = 20000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
};

t.test("labels a server parses back exactly", async (t) => {
  t.equal(pyroscopeName("my app", { host: "web-1", cmd: "python app.py --x={1,2}" }), "my_app{host=web-1,cmd=python_app.py_--x__1_2_}");
  t.equal(pyroscopeName("svc", { __name__: "x", "a-b": "1" }), "svc{label___name__=x,a_b=1}");
});

t.test("a segment reaches a Pyroscope-shaped receiver whole: path prefix, labels, window, Basic auth from the URL, tenant", async (t) => {
  const r = await receiver(t, { prefix: "/pyro", expectAuth: `Basic ${Buffer.from("stack1:s3cret").toString("base64")}`, tenant: "team-a" });
  const p = new Pusher({ url: r.url.replace("http://", "http://stack1:s3cret@"), app: "checkout", labels: { host: "web-1" }, sampleRate: 100, tenant: "team-a" });
  t.notMatch(p.where, /s3cret/, "the URL shown has no credentials");
  const now = Math.floor(Date.now() / 1000);
  p.enqueue({ from: now - 10, until: now, body: renderPprof(profile()), labels: { pid: "42" } });
  t.ok(await waitFor(() => p.stats.sent === 1), "sent");
  t.equal(r.got.length, 1, "one request");
  const g = r.got[0];
  t.same(g.problems, [], "the request passes every check of the ingest API");
  t.equal(g.app, "checkout");
  t.same(g.labels, { host: "web-1", pid: "42" }, "labels");
  t.equal(g.until - g.from, 10, "the window");
  t.equal(g.msg.sample.reduce((s, x) => s + Number(x.value[0]), 0), 30, "every sample in the body");
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.status !== 0) return t.skip("`go` is not installed (Debian package golang-go): go tool pprof not run");
  const dir = mkdtempSync(path.join(tmpdir(), "wspy-push-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "seg.pb.gz");
  writeFileSync(file, g.body);
  const top = spawnSync("go", ["tool", "pprof", "-top", "-sample_index=samples", file], { encoding: "utf8", env: { ...process.env, PPROF_TMPDIR: dir }, timeout: 120000 });
  t.equal(top.status, 0, top.stderr);
  t.match(top.stdout, /query/, "go tool pprof reads the body pushed");
});

t.test("a rejection (422) is not retried; 500 and a dead server are retried, then dropped and counted; a slow server times out", async (t) => {
  const now = Math.floor(Date.now() / 1000);
  const seg = () => ({ from: now - 10, until: now, body: renderPprof(profile()) });
  // 422 once: dropped at once
  const r422 = await receiver(t, { answer: () => 422 });
  const a = new Pusher({ url: r422.url, app: "a", labels: {}, sampleRate: 100, backoffMs: 10 });
  a.enqueue(seg());
  t.ok(await waitFor(() => a.stats.dropped["rejected 422"] === 1), "422: dropped as rejected");
  t.equal(r422.got.length, 1, "not retried");
  // 500 twice, then 200: sent on the third try
  const r500 = await receiver(t, { answer: (n) => (n <= 2 ? 500 : 200) });
  const b = new Pusher({ url: r500.url, app: "b", labels: {}, sampleRate: 100, backoffMs: 10 });
  b.enqueue(seg());
  t.ok(await waitFor(() => b.stats.sent === 1), "500: retried, then sent");
  t.equal(b.stats.retries, 2, "two retries");
  t.equal(r500.got.length, 3, "three requests, the segment arrives once");
  // nothing listening (port 1): retried maxTries times, then dropped
  const c = new Pusher({ url: "http://127.0.0.1:1", app: "c", labels: {}, sampleRate: 100, backoffMs: 5, maxTries: 3 });
  c.enqueue(seg());
  t.ok(await waitFor(() => c.stats.dropped["gave up after 3 tries"] === 1), "a dead server: dropped after 3 tries");
  // a slow server: the request times out and counts as a failure to retry
  const slow = await receiver(t, { answer: () => "hang" });
  const d = new Pusher({ url: slow.url, app: "d", labels: {}, sampleRate: 100, timeoutMs: 200, backoffMs: 5, maxTries: 2 });
  d.enqueue(seg());
  t.ok(await waitFor(() => d.stats.dropped["gave up after 2 tries"] === 1), "a server that never answers: timed out twice, dropped");
});

t.test("the queue stays bounded while the server is down: the oldest segments are dropped and counted", async (t) => {
  const now = Math.floor(Date.now() / 1000);
  const p = new Pusher({ url: "http://127.0.0.1:1", app: "q", labels: {}, sampleRate: 100, maxQueue: 5, backoffMs: 60_000 });
  for (let i = 0; i < 50; i++) p.enqueue({ from: now - 10, until: now, body: renderPprof(profile()) });
  t.ok(p.stats.queued <= 5, `at most 5 queued (${p.stats.queued})`);
  t.ok((p.stats.dropped["queue full"] ?? 0) >= 45, `the others counted as dropped: ${JSON.stringify(p.stats.dropped)}`);
  p.close();
  t.equal(p.stats.queued, 0, "closed: nothing left queued");
});
