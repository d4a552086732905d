// Record once, render many: one real recording (`record -f wspy` of a real interpreter running
// test/fixtures/demo_app.py) converted by `wspy convert` into every format, each checked against
// the recording's own content in that format's terms, by real consumers where there are some
// (`go tool pprof`, speedscope's JSON schema); and bad recordings refused in one clear line.
// Build first: npm run build
import t from "tap";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { spawnSync } from "node:child_process";
import Ajv from "ajv";
import { wspy, ROOT, FIXTURES } from "./helpers/run.mjs";
import { findPythons } from "./helpers/pythons.mjs";
import { decodeWspy, renderWspy, renderProfile } from "../build/host/render/index.js";
import { pprofType } from "../build/host/render/pprof.js";
import { frameRects } from "./helpers/svg.mjs";

const python = findPythons().find((p) => p.label.startsWith("pyenv 3.12"))
  ?? findPythons().find((p) => p.version.startsWith("3."));
if (!python) {
  t.skip("no Python 3 interpreter found (see test/helpers/pythons.mjs): nothing to record");
  process.exit(0);
}

const dir = mkdtempSync(path.join(tmpdir(), "wspy-formats-"));
const REC = path.join(dir, "demo.wspy");
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// ---------- what the recording holds, computed here from its Profile ----------

const isSynthetic = (f) => f.kind === "thread" || f.kind === "process";
const labelOf = (f) => (isSynthetic(f) ? f.name : f.line > 0 ? `${f.name} (${f.file}:${f.line})` : `${f.name} (${f.file})`);
const cleanCollapsed = (s) => s.replace(/;/g, ":").replace(/\r\n|[\r\n]/g, " ");

/** frame ids of a node's stack, root first */
function pathOf(p, node) {
  const out = [];
  for (let n = node; n >= 0; n = p.nodeParent[n]) out.push(p.nodeFrame[n]);
  return out.reverse();
}

/** Map "a;b;c" -> samples, keyed by `key(frame)` per frame; `byThread` prefixes the thread index. */
function stackCounts(p, key, byThread = false) {
  const m = new Map();
  for (let i = 0; i < p.sampleNode.length; i++) {
    if (p.sampleNode[i] < 0) continue;
    let k = pathOf(p, p.sampleNode[i]).map((f) => key(p.frames[f])).join(";");
    if (byThread) k = `${p.sampleThread[i]}|${k}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

/** For every call path (each prefix of each stack), the samples under it. */
function prefixCounts(p) {
  const m = new Map();
  for (let i = 0; i < p.sampleNode.length; i++) {
    if (p.sampleNode[i] < 0) continue;
    const labels = pathOf(p, p.sampleNode[i]).map((f) => labelOf(p.frames[f]));
    for (let d = 1; d <= labels.length; d++) {
      const k = labels.slice(0, d).join("\u0001");
      m.set(k, (m.get(k) ?? 0) + 1);
    }
  }
  return m;
}

const sortedEntries = (m) => [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));


/** The SVG's frames as call path -> samples, rebuilt from geometry (data-depth, data-start, data-samples). */
function svgPrefixCounts(svg) {
  const rects = frameRects(svg).filter((r) => r["data-origin"] !== "merged");
  const frames = rects.map((r) => ({
    label: r["data-origin"] === "synthetic" ? r["data-name"]
      : `${r["data-name"]} (${r["data-file"]}${Number(r["data-line"]) > 0 ? `:${r["data-line"]}` : ""})`,
    depth: Number(r["data-depth"]), start: Number(r["data-start"]), samples: Number(r["data-samples"]),
  })).sort((a, b) => a.depth - b.depth || a.start - b.start);
  const m = new Map();
  const byDepth = new Map();
  let total = 0;
  for (const f of frames) {
    if (f.depth === 0) { total = f.samples; f.key = ""; byDepth.set(0, [f]); continue; }
    const parent = (byDepth.get(f.depth - 1) ?? []).find((p) => p.start <= f.start && f.start + f.samples <= p.start + p.samples);
    if (!parent) throw new Error(`no parent for ${f.label} at depth ${f.depth}`);
    f.key = parent.key === "" ? f.label : `${parent.key}\u0001${f.label}`;
    if (!byDepth.has(f.depth)) byDepth.set(f.depth, []);
    byDepth.get(f.depth).push(f);
    m.set(f.key, f.samples);
  }
  return { total, paths: m };
}

// ---------- the recording ----------

let profile;
t.before(async () => {
  const r = await wspy(["record", "-f", "wspy", "-o", REC, "-d", "3", "--", python.path, path.join(FIXTURES, "demo_app.py"), "4"]);
  if (r.code !== 0) throw new Error(`record failed (${r.code}): ${r.stderr}`);
  profile = decodeWspy(readFileSync(REC));
});

t.test("the recording is a versioned, gzipped wspy file that round-trips", async (t) => {
  const bytes = readFileSync(REC);
  t.equal(bytes.subarray(0, 8).toString("latin1"), "WSPYREC\0", "magic");
  t.equal(bytes.readUInt16LE(8), 1, "major version 1");
  t.same([bytes[12], bytes[13]], [0x1f, 0x8b], "gzip body");
  const body = gunzipSync(bytes.subarray(12));
  t.equal(body.subarray(0, 4).toString("latin1"), "META", "first section: META");
  t.ok(profile.sampleNode.length > 20, `${profile.sampleNode.length} samples`);
  t.ok(profile.frames.some((f) => f.name === "is_prime"), "is_prime recorded");
  t.match(profile.meta, { rate: 100, target: /demo_app\.py/ });
  t.same(Buffer.from(renderWspy(profile)), bytes, "re-encoding gives the same bytes");

  const out = path.join(dir, "again.wspy");
  const r = await wspy(["convert", REC, "-f", "wspy", "-o", out]);
  t.equal(r.code, 0, r.stderr);
  t.same(readFileSync(out), bytes, "convert -f wspy copies the recording exactly");
});

/** convert REC into `format`; returns the output's bytes, checks it equals rendering the recording in-process */
async function convertTo(t, format, extra = []) {
  const out = path.join(dir, `out-${format}${extra.length ? "-x" : ""}`);
  const r = await wspy(["convert", REC, "-f", format, "-o", out, ...extra]);
  t.equal(r.code, 0, `convert -f ${format}: ${r.stderr}`);
  t.match(r.stderr, new RegExp(`wrote ${format} to`));
  const bytes = readFileSync(out);
  if (!extra.length) {
    const direct = renderProfile(profile, format);
    t.same(bytes, Buffer.from(typeof direct === "string" ? Buffer.from(direct, "utf8") : direct), `convert -f ${format} = rendering the recording directly`);
  }
  return { bytes, file: out };
}

t.test("raw: the collapsed stacks are the recording's stacks and counts", async (t) => {
  const { bytes } = await convertTo(t, "raw");
  const got = new Map();
  for (const line of bytes.toString("utf8").trimEnd().split("\n")) {
    const m = /^(.*) (\d+)$/.exec(line);
    t.ok(m, `line parses: ${line.slice(0, 60)}`);
    got.set(m[1], Number(m[2]));
  }
  t.same(sortedEntries(got), sortedEntries(stackCounts(profile, (f) => cleanCollapsed(labelOf(f)))));
});

t.test("flamegraph: every call path's box has the recording's samples", async (t) => {
  const { bytes } = await convertTo(t, "flamegraph");
  const svg = bytes.toString("utf8");
  const { total, paths } = svgPrefixCounts(svg);
  const expected = prefixCounts(profile);
  const stacked = [...profile.sampleNode].filter((n) => n >= 0).length;
  t.equal(total, stacked, "the root holds every sample with a stack");
  // every box drawn has exactly its call path's samples; every path at least a pixel wide is drawn
  for (const [k, n] of paths) t.equal(n, expected.get(k), `box ${k.split("\u0001").pop()}`);
  for (const [k, n] of expected) {
    if (n >= stacked / 1180) t.ok(paths.has(k), `drawn: ${k.split("\u0001").pop()}`);
  }
  t.match(svg, /data-reverse="0"/);
  const { bytes: icicle } = await convertTo(t, "flamegraph", ["--reverse"]);
  t.match(icicle.toString("utf8"), /data-reverse="1"/, "--reverse gives an icicle graph");
  t.same(svgPrefixCounts(icicle.toString("utf8")).paths, paths, "same boxes either way up");
});

t.test("speedscope: valid against speedscope's schema, per-thread stacks and weights", async (t) => {
  const { bytes } = await convertTo(t, "speedscope");
  const doc = JSON.parse(bytes.toString("utf8"));
  const schema = JSON.parse(readFileSync(path.join(ROOT, "node_modules/speedscope/dist/release/file-format-schema.json"), "utf8"));
  const validate = new Ajv({ strict: false }).compile(schema);
  t.ok(validate(doc), JSON.stringify(validate.errors));
  // per thread profile: the same stacks and counts as the recording's samples of that thread
  const got = new Map();
  doc.profiles.forEach((prof) => {
    const threadIndex = profile.threads.findIndex((th) => prof.name.includes(`(${th.tid})`));
    t.ok(threadIndex >= 0, `profile ${prof.name} names a thread`);
    const sum = prof.weights.reduce((a, b) => a + b, 0);
    t.ok(Math.abs(prof.endValue - prof.startValue - sum) < 1e-9);
    for (const s of prof.samples) {
      const k = `${threadIndex}|${s.map((i) => doc.shared.frames[i].name).join(";")}`;
      got.set(k, (got.get(k) ?? 0) + 1);
    }
  });
  t.same(sortedEntries(got), sortedEntries(stackCounts(profile, (f) => f.name, true)));
  // opens on the busiest thread
  const busiest = doc.profiles.reduce((b, p, i) => (p.endValue > doc.profiles[b].endValue ? i : b), 0);
  t.equal(doc.activeProfileIndex, busiest);
});

t.test("chrometrace: balanced, well-nested events that replay the samples", async (t) => {
  const { bytes } = await convertTo(t, "chrometrace");
  const doc = JSON.parse(bytes.toString("utf8"));
  t.ok(Array.isArray(doc.traceEvents), "traceEvents");
  const meta = doc.traceEvents.filter((e) => e.ph === "M");
  const xs = doc.traceEvents.filter((e) => e.ph === "X");
  t.equal(meta.length + xs.length, doc.traceEvents.length, "only M and X events");
  t.ok(meta.some((e) => e.name === "process_name" && /demo_app\.py/.test(e.args.name)), "process name");
  const names = new Set(profile.frames.map((f) => f.name));
  const byTid = new Map();
  for (const e of xs) {
    t.ok(Number.isFinite(e.ts) && Number.isFinite(e.dur) && e.dur >= 0 && e.pid === profile.meta.pid, "X has pid, ts, dur");
    if (!names.has(e.name)) t.fail(`unknown frame name ${e.name}`);
    if (!byTid.has(e.tid)) byTid.set(e.tid, []);
    byTid.get(e.tid).push(e);
  }
  for (const [tid, evs] of byTid) {
    t.ok(meta.some((e) => e.name === "thread_name" && e.tid === tid && typeof e.args.name === "string"), `thread ${tid} is named`);
    // in file order: starts never go back, and each event lies inside the one still open around it
    const stack = [];
    let ok = true, lastTs = -Infinity;
    for (const e of evs) {
      if (e.ts < lastTs) ok = false;
      lastTs = e.ts;
      // (times are µs with 3 decimals: compare to within a fraction of a nanosecond)
      while (stack.length && stack[stack.length - 1].ts + stack[stack.length - 1].dur <= e.ts + 1e-6) stack.pop();
      if (stack.length) {
        const p = stack[stack.length - 1];
        if (e.ts + e.dur > p.ts + p.dur + 1e-6) ok = false;
      }
      e.depth = stack.length;
      stack.push(e);
    }
    t.ok(ok, `thread ${tid}: ${evs.length} events, ordered and well nested`);
  }
  // replay: in the middle of each sample's interval, the events open on its thread are its stack
  let checked = 0, wrong = 0;
  for (let i = 0; i < profile.sampleNode.length; i++) {
    if (profile.sampleNode[i] < 0) continue;
    const th = profile.threads[profile.sampleThread[i]];
    const mid = (profile.sampleTime[i] - profile.sampleWeight[i] / 2) * 1e6;
    const open = (byTid.get(th.tid) ?? []).filter((e) => e.ts <= mid && mid < e.ts + e.dur).sort((a, b) => a.depth - b.depth);
    const want = pathOf(profile, profile.sampleNode[i]).map((f) => profile.frames[f].name);
    checked++;
    if (open.map((e) => e.name).join(";") !== want.join(";")) wrong++;
  }
  t.equal(wrong, 0, `${checked} samples replayed from the trace`);
});

t.test("pprof: go tool pprof reads it, with the recording's functions and counts", async (t) => {
  const { bytes, file } = await convertTo(t, "pprof");
  // structure, decoded with the same schema
  const msg = pprofType().toObject(pprofType().decode(gunzipSync(bytes)), { longs: Number });
  const st = msg.string_table;
  t.equal(st[0], "", 'string_table[0] is ""');
  t.same(msg.sample_type.map((v) => [st[v.type], st[v.unit]]), [["samples", "count"], ["wall", "nanoseconds"]]);
  t.same([st[msg.period_type.type], st[msg.period_type.unit]], ["wall", "nanoseconds"]);
  t.equal(msg.period, 1e9 / profile.meta.rate);
  t.ok(Math.abs(msg.duration_nanos - profile.meta.durationSec * 1e9) < 1e3, "duration_nanos");
  t.ok(Math.abs(msg.time_nanos / 1e6 - Date.parse(profile.meta.startedAt)) < 1, "time_nanos");
  const stacked = [...profile.sampleNode].filter((n) => n >= 0).length;
  t.equal(msg.sample.reduce((s, x) => s + x.value[0], 0), stacked, "sample counts add up");
  const weightNs = [...profile.sampleWeight].reduce((s, w, i) => s + (profile.sampleNode[i] >= 0 ? w * 1e9 : 0), 0);
  t.ok(Math.abs(msg.sample.reduce((s, x) => s + x.value[1], 0) - weightNs) < msg.sample.length, "wall nanoseconds add up");
  for (const loc of msg.location) t.equal(loc.line.length, 1, "one line per location");
  const fn = msg.function.find((f) => st[f.name] === "is_prime");
  t.ok(fn && st[fn.filename].endsWith("demo_app.py"), "function is_prime with its file");
  const defLine = readFileSync(path.join(FIXTURES, "demo_app.py"), "utf8").split("\n").findIndex((l) => l.startsWith("def is_prime(")) + 1;
  if (profile.frames.find((f) => f.name === "is_prime").firstLine) t.equal(fn.start_line, defLine, "start_line is the def line");
  else t.equal(fn.start_line, 0, "start_line unknown: 0");

  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.status !== 0) {
    t.skip("`go` is not installed (Debian package golang-go): go tool pprof not run");
    return;
  }
  const env = { ...process.env, PPROF_TMPDIR: dir, HOME: process.env.HOME ?? dir };
  const top = spawnSync("go", ["tool", "pprof", "-top", "-sample_index=samples", file], { encoding: "utf8", env, timeout: 120000 });
  t.equal(top.status, 0, top.stderr);
  t.match(top.stdout, new RegExp(`Total samples = ${stacked}\\b`), "go tool pprof -top: the total");
  t.match(top.stdout, /is_prime/);
  const traces = spawnSync("go", ["tool", "pprof", "-traces", "-sample_index=samples", file], { encoding: "utf8", env, timeout: 120000 });
  t.equal(traces.status, 0, traces.stderr);
  // every trace: a count and the leaf, then its callers; summed per name path
  const got = new Map();
  for (const block of traces.stdout.split(/^-+\+-+$/m).slice(1)) {
    const lines = block.split("\n").filter((l) => l.trim() !== "");
    const i = lines.findIndex((l) => /^\s*\d+\s+\S/.test(l));
    if (i < 0) continue;
    const [, count, leaf] = /^\s*(\d+)\s+(.*\S)\s*$/.exec(lines[i]);
    const callers = lines.slice(i + 1).map((l) => l.trim());
    const k = [leaf, ...callers].reverse().join(";");
    got.set(k, (got.get(k) ?? 0) + Number(count));
  }
  t.same(sortedEntries(got), sortedEntries(stackCounts(profile, (f) => f.name)), "go tool pprof -traces: the recording's stacks and counts");
});

// ---------- bad recordings ----------

t.test("corrupt or truncated recordings: one clear line, non-zero exit", async (t) => {
  const good = readFileSync(REC);
  const cases = {
    "empty.wspy": Buffer.alloc(0),
    "header-only.wspy": good.subarray(0, 6),
    "truncated.wspy": good.subarray(0, Math.floor(good.length / 2)),
    "no-end.wspy": good.subarray(0, good.length - 12),
    "not-wspy.wspy": Buffer.from('{"hello": "json"}\n'),
    "future.wspy": Buffer.concat([good.subarray(0, 8), Buffer.from([9, 0, 0, 0]), good.subarray(12)]),
  };
  // a flipped byte in the compressed body
  const flipped = Buffer.from(good);
  flipped[Math.floor(good.length * 0.6)] ^= 0xff;
  cases["flipped.wspy"] = flipped;
  // well-formed gzip around tables that do not hold together (a node naming a missing frame)
  const bad = { ...profile, nodeFrame: Int32Array.from(profile.nodeFrame, (f, i) => (i === 0 ? 99999 : f)) };
  cases["bad-index.wspy"] = Buffer.from(renderWspy(bad));

  for (const [name, bytes] of Object.entries(cases)) {
    const file = path.join(dir, name);
    writeFileSync(file, bytes);
    for (const cmd of [["convert", file, "-f", "raw", "-o", path.join(dir, "never.txt")], ["view", file]]) {
      const r = await wspy(cmd);
      const lines = r.stderr.trimEnd().split("\n");
      t.not(r.code, 0, `${cmd[0]} ${name}: exit ${r.code}`);
      t.equal(r.code, 2, `${cmd[0]} ${name}: BAD_INPUT's exit status`);
      t.equal(lines.length, 1, `${cmd[0]} ${name}: one line: ${r.stderr.trimEnd()}`);
      t.ok(lines[0].startsWith("wspy: ") && lines[0].includes(file), `${cmd[0]} ${name}: names the file`);
      t.notMatch(r.stderr, /\n\s+at |internal error/, `${cmd[0]} ${name}: no stack trace`);
      t.equal(r.stdout, "", `${cmd[0]} ${name}: nothing on stdout`);
    }
  }
  t.notOk(existsSync(path.join(dir, "never.txt")), "no output written");
  const missing = await wspy(["convert", path.join(dir, "missing.wspy"), "-f", "raw"]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /^wspy: cannot read .*missing\.wspy: no such file\n$/);
});
