// Unit tests for the renderers (host/render/*) on hand-built synthetic Profiles.
// Build first: npx tsc -p tsconfig.json
import t from "tap";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import { renderCollapsed } from "../build/host/render/collapsed.js";
import { renderSpeedscope } from "../build/host/render/speedscope.js";
import { renderFlamegraph } from "../build/host/render/svg.js";
import { renderProfile } from "../build/host/render/index.js";
import { svgRects as rects, frameRects } from "./helpers/svg.mjs";

const EVIL_NAME = "<script>alert(1)</script>";
const EVIL_FILE = "<b>&x.py";
const ODD_NAME = "semi;colon\nname";
// how every output shows it (host/io/escape.ts): the newline as a visible escape
const ODD_SHOWN = "semi;colon\\x0aname";

function meta(extra = {}) {
  return {
    target: "python app.py --n 3",
    pid: 4242,
    pythonVersion: "3.12.3",
    rate: 100,
    durationSec: 0.16,
    samples: 13,
    errors: { "torn read": 1 },
    startedAt: "2024-01-01T00:00:00.000Z",
    ...extra,
  };
}

/**
 * main (app.py:1)                              self 0
 *   work (app.py:10)                           self 3 (t0)
 *     helper (app.py:20)                       4 (3 t0, 1 t1)
 *     <script>alert(1)</script> (<b>&x.py:5)   2 (t0)
 *   dumps (/usr/lib/python3.12/json/__init__.py:231)   2 (t1)
 *   semi;colon\nname (odd.py:7)                1 (t1)
 * plus one sample with no stack (node -1), which every renderer skips.
 * work's subtree = 9 of 12 samples = 3/4.
 */
function smallProfile() {
  const frames = [
    { name: "main", file: "app.py", line: 1, kind: "python" },
    { name: "work", file: "app.py", line: 10, kind: "python" },
    { name: "helper", file: "app.py", line: 20, kind: "python" },
    { name: "dumps", file: "/usr/lib/python3.12/json/__init__.py", line: 231, kind: "python" },
    { name: EVIL_NAME, file: EVIL_FILE, line: 5, kind: "python" },
    { name: ODD_NAME, file: "odd.py", line: 7, kind: "python" },
  ];
  //                                n0  n1 n2 n3 n4 n5
  const nodeParent = Int32Array.from([-1, 0, 1, 0, 1, 0]);
  const nodeFrame = Int32Array.from([0, 1, 2, 3, 4, 5]);
  // [thread, node, weight]
  const seq = [
    [0, 2, 0.01], [0, 1, 0.01], [1, 3, 0.02], [0, 2, 0.01], [0, 4, 0.01], [1, 2, 0.02], [0, -1, 0.01],
    [0, 1, 0.01], [1, 5, 0.02], [0, 2, 0.01], [0, 4, 0.01], [1, 3, 0.02], [0, 1, 0.01],
  ];
  return {
    frames,
    nodeParent,
    nodeFrame,
    sampleTime: Float64Array.from(seq.map((_, i) => i * 0.01)),
    sampleThread: Int32Array.from(seq.map((s) => s[0])),
    sampleNode: Int32Array.from(seq.map((s) => s[1])),
    sampleWeight: Float64Array.from(seq.map((s) => s[2])),
    threads: [
      { ident: 140000000000001, tid: 100, name: "MainThread" },
      { ident: 140000000000002, tid: 101, name: "worker" },
    ],
    meta: meta(),
  };
}

// ---------- helpers for the SVG ----------

/** A strict-enough XML well-formedness check (no XML parser among the dependencies). */
function checkXml(src) {
  const errors = [];
  const stack = [];
  let roots = 0;
  const ENTITY = /^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/;
  const checkText = (text, where) => {
    if (text.includes("<")) errors.push(`raw < in ${where}`);
    for (let i = text.indexOf("&"); i >= 0; i = text.indexOf("&", i + 1)) {
      if (!ENTITY.test(text.slice(i))) errors.push(`bare & in ${where}: ${JSON.stringify(text.slice(i, i + 20))}`);
    }
  };
  let i = 0;
  while (i < src.length) {
    const lt = src.indexOf("<", i);
    const text = lt < 0 ? src.slice(i) : src.slice(i, lt);
    if (text.trim() && stack.length === 0) errors.push(`text outside root: ${JSON.stringify(text.slice(0, 30))}`);
    checkText(text, "text");
    if (lt < 0) break;
    if (src.startsWith("<?", lt)) { i = src.indexOf("?>", lt) + 2; if (i < 2) { errors.push("open PI"); break; } continue; }
    if (src.startsWith("<!--", lt)) { i = src.indexOf("-->", lt) + 3; if (i < 3) { errors.push("open comment"); break; } continue; }
    if (src.startsWith("<![CDATA[", lt)) {
      if (!stack.length) errors.push("CDATA outside root");
      i = src.indexOf("]]>", lt) + 3; if (i < 3) { errors.push("open CDATA"); break; } continue;
    }
    const gt = src.indexOf(">", lt);
    if (gt < 0) { errors.push("open tag"); break; }
    // a '>' inside a quoted attribute would end the tag early; find the real end
    let end = lt + 1, quote = null;
    for (; end < src.length; end++) {
      const c = src[end];
      if (quote) { if (c === quote) quote = null; else if (c === "<") errors.push("raw < in attribute"); }
      else if (c === '"' || c === "'") quote = c;
      else if (c === ">") break;
    }
    const tag = src.slice(lt + 1, end);
    i = end + 1;
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== name) errors.push(`</${name}> closes <${open}>`);
      continue;
    }
    const selfClose = tag.endsWith("/");
    const body = selfClose ? tag.slice(0, -1) : tag;
    const m = /^([A-Za-z_][\w:.-]*)/.exec(body);
    if (!m) { errors.push(`bad tag ${JSON.stringify(tag.slice(0, 30))}`); continue; }
    let rest = body.slice(m[0].length);
    const seen = new Set();
    const ATTR = /^\s+([A-Za-z_][\w:.-]*)\s*=\s*("([^"]*)"|'([^']*)')/;
    for (let a; (a = ATTR.exec(rest)); rest = rest.slice(a[0].length)) {
      if (seen.has(a[1])) errors.push(`duplicate attribute ${a[1]}`);
      seen.add(a[1]);
      checkText(a[3] ?? a[4], `attribute ${a[1]}`);
    }
    if (rest.trim()) errors.push(`junk in tag <${m[1]}: ${JSON.stringify(rest.slice(0, 30))}`);
    if (stack.length === 0) roots++;
    if (!selfClose) stack.push(m[1]);
  }
  if (stack.length) errors.push(`unclosed: ${stack.join(",")}`);
  if (roots !== 1) errors.push(`${roots} root elements`);
  return errors;
}


const byName = (svg, name) => frameRects(svg).filter((r) => r["data-name"] === name);

// ---------- collapsed ----------

t.test("collapsed stacks", async (t) => {
  const p = smallProfile();
  t.equal(
    renderCollapsed(p),
    [
      "main (app.py:1);dumps (/usr/lib/python3.12/json/__init__.py:231) 2",
      "main (app.py:1);semi:colon\\x0aname (odd.py:7) 1",
      "main (app.py:1);work (app.py:10) 3",
      `main (app.py:1);work (app.py:10);${EVIL_NAME} (${EVIL_FILE}:5) 2`,
      "main (app.py:1);work (app.py:10);helper (app.py:20) 4",
      "",
    ].join("\n"),
  );
  t.equal(
    renderCollapsed(p, { threads: true }),
    [
      "MainThread (100);main (app.py:1);work (app.py:10) 3",
      `MainThread (100);main (app.py:1);work (app.py:10);${EVIL_NAME} (${EVIL_FILE}:5) 2`,
      "MainThread (100);main (app.py:1);work (app.py:10);helper (app.py:20) 3",
      "worker (101);main (app.py:1);dumps (/usr/lib/python3.12/json/__init__.py:231) 2",
      "worker (101);main (app.py:1);semi:colon\\x0aname (odd.py:7) 1",
      "worker (101);main (app.py:1);work (app.py:10);helper (app.py:20) 1",
      "",
    ].join("\n"),
  );
  // every line parses back: frames by ';', count after the last space; counts add up to the stacked samples
  let sum = 0;
  for (const line of renderCollapsed(p).trimEnd().split("\n")) {
    const m = /^(.*) (\d+)$/.exec(line);
    t.ok(m, `line parses: ${line}`);
    sum += Number(m[2]);
  }
  t.equal(sum, 12);
  t.equal(renderCollapsed({ ...p, sampleNode: new Int32Array(0), sampleThread: new Int32Array(0) }), "");
  t.equal(renderProfile(p, "raw", { threads: true }), renderCollapsed(p, { threads: true }));
});

// ---------- speedscope ----------

t.test("speedscope JSON", async (t) => {
  const p = smallProfile();
  const text = renderSpeedscope(p);
  const doc = JSON.parse(text);
  const schemaPath = fileURLToPath(new URL("../node_modules/speedscope/dist/release/file-format-schema.json", import.meta.url));
  const validate = new Ajv({ strict: false }).compile(JSON.parse(readFileSync(schemaPath, "utf8")));
  t.ok(validate(doc), JSON.stringify(validate.errors));

  t.equal(doc.$schema, "https://www.speedscope.app/file-format-schema.json");
  t.equal(doc.exporter, "wspy");
  t.equal(doc.name, "python app.py --n 3");
  t.equal(doc.activeProfileIndex, 0);
  t.same(doc.shared.frames[0], { name: "main", file: "app.py", line: 1 });
  t.same(doc.shared.frames[4], { name: EVIL_NAME, file: EVIL_FILE, line: 5 });
  t.equal(doc.shared.frames[5].name, ODD_SHOWN, "a newline in a name is shown as \\x0a");

  t.equal(doc.profiles.length, 2);
  const [main, worker] = doc.profiles;
  t.match(main, { type: "sampled", unit: "seconds", name: "MainThread (100)" });
  t.match(worker, { type: "sampled", unit: "seconds", name: "worker (101)" });
  // the node -1 sample is dropped; time order kept; stacks root first
  t.same(main.samples, [[0, 1, 2], [0, 1], [0, 1, 2], [0, 1, 4], [0, 1], [0, 1, 2], [0, 1, 4], [0, 1]]);
  t.same(main.weights, Array(8).fill(0.01));
  t.same(worker.samples, [[0, 3], [0, 1, 2], [0, 5], [0, 3]]);
  t.same(worker.weights, Array(4).fill(0.02));
  for (const prof of doc.profiles) {
    const sum = prof.weights.reduce((a, b) => a + b, 0);
    t.equal(prof.samples.length, prof.weights.length);
    t.ok(Math.abs(prof.endValue - prof.startValue - sum) < 1e-9, `${prof.name}: end - start = sum of weights`);
  }
  t.equal(renderProfile(p, "speedscope"), text);
});

// ---------- SVG ----------

t.test("flame graph SVG", async (t) => {
  const p = smallProfile();
  const svg = renderFlamegraph(p);
  t.same(checkXml(svg), [], "well-formed XML");
  t.ok(svg.startsWith("<?xml"), "XML declaration");
  t.match(svg, /<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*width="1200"/);
  t.equal(renderFlamegraph(p), svg, "deterministic");
  t.equal(renderProfile(p, "flamegraph"), svg);

  // escaping: the hostile name and file appear only escaped, everywhere
  t.notOk(svg.includes("<script>alert"), "no raw <script>alert");
  t.notOk(svg.includes(EVIL_FILE), "no raw <b>&x.py");
  t.ok(svg.includes("&lt;script&gt;alert(1)&lt;/script&gt;"), "escaped name present");
  t.ok(svg.includes("&lt;b&gt;&amp;x.py"), "escaped file present");
  t.equal(svg.split("<script").length - 1, 1, "exactly one script element (the viewer)");
  const js = /<script[^>]*><!\[CDATA\[([\s\S]*?)\]\]><\/script>/.exec(svg);
  t.ok(js, "script inside CDATA");
  t.notOk(/alert|innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/.test(js[1]), "script builds no HTML and has no target data");
  t.ok(/textContent/.test(js[1]), "script writes text with textContent");
  // <title> tooltips carry the escaped text too
  t.ok(svg.includes("<title>&lt;script&gt;alert(1)&lt;/script&gt; (&lt;b&gt;&amp;x.py:5)&#10;2 samples, 16.67%</title>"));

  // data attributes round-trip to the original strings
  const evil = byName(svg, EVIL_NAME);
  t.equal(evil.length, 1);
  t.match(evil[0], { "data-file": EVIL_FILE, "data-line": "5", "data-samples": "2" });
  t.equal(byName(svg, ODD_SHOWN).length, 1, "a newline in a name is shown as \\x0a");

  // geometry: the root spans the inner width, work has 9/12 = 3/4 of it
  const [all] = byName(svg, "all");
  const [main] = byName(svg, "main");
  const [work] = byName(svg, "work");
  t.equal(Number(all.width), 1180);
  t.equal(all["data-samples"], "12");
  t.equal(Number(main.width), 1180);
  t.equal(work["data-samples"], "9");
  t.ok(Math.abs(Number(work.width) - 0.75 * Number(all.width)) < 0.02, `work width ${work.width} = 3/4 of ${all.width}`);
  t.ok(Number(all.y) > Number(main.y) && Number(main.y) > Number(work.y), "root at the bottom");
  // merged across threads: helper has 3 + 1 samples in one box
  t.match(byName(svg, "helper"), [{ "data-samples": "4" }]);
  // children of main in name order, left to right
  const kids = ["dumps", ODD_SHOWN, "work"].map((n) => Number(byName(svg, n)[0].x));
  t.ok(kids[0] < kids[1] && kids[1] < kids[2], `children sorted by name: ${kids}`);
  // standard library gets its own hue; colours are stable per function
  const [dumps] = byName(svg, "dumps");
  t.equal(dumps["data-origin"], "stdlib");
  t.equal(work["data-origin"], "user");
  const rgb = (r) => r.fill.match(/\d+/g).map(Number);
  t.ok(rgb(dumps)[2] > rgb(dumps)[0], `stdlib is cool-coloured: ${dumps.fill}`);
  t.ok(rgb(work)[0] > rgb(work)[2], `user code is warm: ${work.fill}`);

  // title and subtitle
  t.match(svg, /<text id="title"[^>]*>wspy<\/text>/);
  const sub = /<text id="subtitle"[^>]*>([^<]*)/.exec(svg)[1];
  for (const part of ["python app.py --n 3", "Python 3.12.3", "0.16 s", "100 Hz", "13 samples", "torn read: 1"]) {
    t.ok(sub.includes(part), `subtitle has ${part}`);
  }
  for (const ctl of ["Reset Zoom", "Search"]) t.ok(svg.includes(`>${ctl}</text>`), `${ctl} control`);
  t.ok(/ctrlKey/.test(js[1]) && /RegExp/.test(js[1]), "Ctrl-F and regex search in the script");

  const custom = renderFlamegraph(p, { title: `<T&"'>`, subtitle: "</text><script>alert(2)</script>" });
  t.same(checkXml(custom), []);
  t.notOk(custom.includes("<script>alert"));
  t.ok(custom.includes("&lt;T&amp;&quot;&#39;&gt;"));

  const icicle = renderFlamegraph(p, { reverse: true });
  t.same(checkXml(icicle), []);
  const [iall] = byName(icicle, "all");
  const [imain] = byName(icicle, "main");
  t.ok(Number(iall.y) < Number(imain.y), "reverse: root at the top");

  const empty = renderFlamegraph({ ...p, sampleNode: new Int32Array(0), sampleThread: new Int32Array(0), sampleTime: new Float64Array(0), sampleWeight: new Float64Array(0) });
  t.same(checkXml(empty), [], "empty profile still renders");
});

/** `n` distinct stacks: main -> mod{i} -> fn{j} [-> chain of `extra` unique frames], `per` samples each. */
function bigProfile(n, { fanout = 100, extra = 0, per = 1 } = {}) {
  const frames = [{ name: "main", file: "big.py", line: 1 }];
  const parent = [-1], frame = [0], leaves = [];
  const mods = new Map();
  for (let s = 0; s < n; s++) {
    const i = Math.floor(s / fanout);
    if (!mods.has(i)) {
      frames.push({ name: `mod${i}`, file: `/venv/lib/python3.12/site-packages/pkg${i}/m.py`, line: i + 1 });
      parent.push(0); frame.push(frames.length - 1); mods.set(i, parent.length - 1);
    }
    frames.push({ name: `fn${s}`, file: `big.py`, line: s + 2 });
    parent.push(mods.get(i)); frame.push(frames.length - 1);
    let leaf = parent.length - 1;
    for (let d = 0; d < extra; d++) {
      frames.push({ name: `deep${s}_${d}`, file: `big.py`, line: d + 1 });
      parent.push(leaf); frame.push(frames.length - 1); leaf = parent.length - 1;
    }
    for (let k = 0; k < per; k++) leaves.push(leaf);
  }
  return {
    frames,
    nodeParent: Int32Array.from(parent),
    nodeFrame: Int32Array.from(frame),
    sampleTime: Float64Array.from(leaves.map((_, i) => i / 100)),
    sampleThread: new Int32Array(leaves.length),
    sampleNode: Int32Array.from(leaves),
    sampleWeight: new Float64Array(leaves.length).fill(0.01),
    threads: [{ ident: 1, tid: 7, name: "MainThread" }],
    meta: meta({ samples: leaves.length }),
  };
}

t.test("10k distinct stacks stay usable", async (t) => {
  const p = bigProfile(10000);
  t.equal(renderCollapsed(p).trimEnd().split("\n").length, 10000, "10k distinct stacks");
  // (how fast is the bench's business: host/bench/render.ts; no timed assertion here)
  const svg = renderFlamegraph(p);
  const nRects = (svg.match(/<rect\b/g) ?? []).length;
  t.ok(nRects < 20000, `${nRects} rects`);
  t.equal(byName(svg, "fn0").length, 0, "0.01% frames are omitted");
  t.equal(byName(svg, "mod0").length, 1, "1% frames are drawn");
  t.equal(byName(svg, "mod0")[0]["data-origin"], "thirdparty");
  t.same(checkXml(svg), []);

  // many frames that are each >= 0.1% and deep: the frame cap keeps the file bounded
  const deep = bigProfile(1000, { fanout: 10, extra: 25, per: 10 });
  const dsvg = renderFlamegraph(deep);
  const dRects = (dsvg.match(/<rect\b/g) ?? []).length;
  t.ok(dRects < 20000, `deep profile: ${dRects} rects`);
  t.ok(dRects > 1000, "still shows plenty");
  t.same(checkXml(dsvg), []);
  // the speedscope output of the big profile still validates
  const schemaPath = fileURLToPath(new URL("../node_modules/speedscope/dist/release/file-format-schema.json", import.meta.url));
  const validate = new Ajv({ strict: false }).compile(JSON.parse(readFileSync(schemaPath, "utf8")));
  t.ok(validate(JSON.parse(renderSpeedscope(p))));
});
