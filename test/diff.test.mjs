// `wspy diff A B` against real Python: test/fixtures/diff_pair.py recorded (--idle) as "a" and as
// "b", where grows() takes twice its share of the time in b, two slack functions give that time
// up and two steady functions keep theirs. The text table ranks grows first with a positive change and
// the steady ones near zero; the SVG marks grows red, the slack ones blue, the steady ones
// neutral; in Chromium, hovering grows shows A's and B's shares, click zooms, search reports the
// matched shares. The same two recordings as an agent's history folder, compared as two ISO time
// ranges. Hostile names (synthetic recordings) are shown escaped in the table and the SVG. Bad
// input: one line, exit 2. Screenshots go to .tap/artifacts/. Build first: npm run build
import t from "tap";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { wspy, oneLine, startFixture, marks, ROOT, FIXTURE_LIFETIME } from "./helpers/run.mjs";
import { findPythons } from "./helpers/pythons.mjs";
import { frameRects } from "./helpers/svg.mjs";

const { renderWspy } = await import(path.join(ROOT, "build", "host", "render", "index.js"));
const { segmentName } = await import(path.join(ROOT, "build", "host", "agent", "history.js"));
const { diffProfiles, withinNoise } = await import(path.join(ROOT, "build", "host", "profile", "diff.js"));

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = path.join(ROOT, ".tap", "artifacts");
const LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** what the viewer fills a search match with (host/render/flame.ts) */
const SEARCH_FILL = "rgb(230,0,230)";

const python = findPythons().find((p) => p.label.startsWith("pyenv 3.12"))
  ?? findPythons().find((p) => /^3\.(1[1-9])\./.test(p.version));

const dir = mkdtempSync(path.join(tmpdir(), "wspy-diff-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Characters no terminal-bound text may hold: C0 but LF, DEL, C1, bidi/format (Cf), separators. */
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\p{Cf}\u2028\u2029]/u;


/**
 * The table's rows: {aSelf, bSelf, change, noise, aTotal, bTotal, name}, in its order (percent
 * and points as numbers).
 */
function tableRows(text) {
  const rows = [];
  for (const line of text.split("\n")) {
    const m = /^\s*([\d.]+)%\s+([\d.]+)%\s+(~?)([+-][\d.]+)\s+([\d.]+)%\s+([\d.]+)%\s{2}(.*)$/.exec(line);
    if (m) rows.push({ aSelf: +m[1], bSelf: +m[2], noise: m[3] === "~", change: +m[4], aTotal: +m[5], bTotal: +m[6], name: m[7] });
  }
  return rows;
}

// ---------- synthetic profiles: the comparison itself ----------

function profile(frames, stacks, extra = {}) {
  // stacks: [[frame ids outermost first], count, weight per sample]
  const nodeParent = [], nodeFrame = [], index = new Map();
  const node = (parent, f) => {
    const k = `${parent}:${f}`;
    if (!index.has(k)) { index.set(k, nodeParent.length); nodeParent.push(parent); nodeFrame.push(f); }
    return index.get(k);
  };
  const sampleNode = [], sampleWeight = [];
  for (const [path, count, weight] of stacks) {
    let n = -1;
    for (const f of path) n = node(n, f);
    for (let i = 0; i < count; i++) { sampleNode.push(n); sampleWeight.push(weight ?? 0.01); }
  }
  return {
    frames,
    nodeParent: Int32Array.from(nodeParent),
    nodeFrame: Int32Array.from(nodeFrame),
    sampleTime: Float64Array.from(sampleNode.map((_, i) => i * 0.01)),
    sampleThread: new Int32Array(sampleNode.length),
    sampleNode: Int32Array.from(sampleNode),
    sampleWeight: Float64Array.from(sampleWeight),
    threads: [{ ident: 1, tid: 100, name: "MainThread" }],
    meta: {
      target: "python app.py", pid: 4242, pythonVersion: "3.12.1", rate: 100, durationSec: sampleNode.length / 100,
      samples: sampleNode.length, errors: {}, startedAt: "2026-01-01T00:00:00.000Z", ...extra,
    },
  };
}

t.test("the comparison: shares of each profile's own time, frames matched by name and file, recursion counted once", async (t) => {
  const F = (name, line = 1) => ({ name, file: "app.py", line, kind: "python" });
  // A: 100 samples of 10 ms; B: 50 samples of 20 ms (the same second, fewer ticks)
  const a = profile([F("main"), F("f"), F("g"), F("r")], [[[0, 1], 60], [[0, 2], 20], [[0, 3, 3], 20]]);
  // B numbers its frames differently and has h (new) instead of g, f at another line
  const b = profile([F("h"), F("main"), F("f", 7), F("r")], [[[1, 2], 15, 0.02], [[1, 0], 25, 0.02], [[1, 3, 3], 10, 0.02]]);
  const d = diffProfiles(a, b);
  // shares rounded to 9 places (sums of floating-point weights)
  const round = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === "number" ? Math.round(v * 1e9) / 1e9 : v]));
  const fn = (name) => round(d.functions.find((x) => d.frames[x.frame].name === name));
  t.same([d.a.samples, d.b.samples], [100, 50]);
  t.match(fn("f"), { selfA: 0.6, selfB: 0.3 }, "f: its share of each profile, matched though its line moved");
  t.equal(d.frames[fn("f").frame].line, 7, "shown as B has it");
  t.match(fn("g"), { selfA: 0.2, selfB: 0 }, "g: only in A");
  t.match(fn("h"), { selfA: 0, selfB: 0.5 }, "h: only in B");
  t.match(fn("r"), { selfA: 0.2, selfB: 0.2, totalA: 0.2, totalB: 0.2 }, "r calling itself: its total counted once");
  t.match(fn("main"), { totalA: 1, totalB: 1 });
  t.same(round({ a: d.totalA[0], b: d.totalB[0] }), { a: 1, b: 1 }, "the root is all of A and all of B");
  const byLine = diffProfiles(a, b, { lines: true });
  t.ok(byLine.functions.filter((x) => byLine.frames[x.frame].name === "f").length === 2, "--lines: f at two lines is two frames");
  t.ok(withinNoise(d, 0.2, 0.2), "no change is noise");
  t.ok(withinNoise({ a: { samples: 100 }, b: { samples: 100 } }, 0.25, 0.27), "2 points on 100 samples is noise");
  t.notOk(withinNoise({ a: { samples: 2000 }, b: { samples: 2000 } }, 0.15, 0.30), "15 points on 2000 samples is not");
});

t.test("hostile names are escaped in the table and the SVG", async (t) => {
  const EVIL = "<script>alert(1)</script>\x1b[2J\u202eoops";
  const EVIL_FILE = "<b>&\x07x.py";
  const F = [{ name: "main", file: "app.py", line: 1, kind: "python" }, { name: EVIL, file: EVIL_FILE, line: 3, kind: "python" }];
  const fa = path.join(dir, "evil-a.wspy"), fb = path.join(dir, "evil-b.wspy");
  writeFileSync(fa, renderWspy(profile(F, [[[0], 50], [[0, 1], 50]], { target: "python \x1b]0;PWNED\x07" })));
  writeFileSync(fb, renderWspy(profile(F, [[[0], 20], [[0, 1], 80]])));
  const text = await wspy(["diff", fa, fb, "-f", "text"]);
  t.equal(text.code, 0, text.stderr);
  t.notOk(RAW_UNSAFE.test(text.stdout), "no raw control, bidi or format character in the table");
  t.ok(text.stdout.includes("<script>alert(1)</script>\\x1b[2J\\u202eoops (<b>&\\x07x.py:3)"), "the name, escaped for the terminal");
  t.equal(tableRows(text.stdout)[0].change, 30, "and it ranks first: +30 points");
  const svgFile = path.join(dir, "evil.svg");
  const svg = await wspy(["diff", fa, fb, "-o", svgFile]);
  t.equal(svg.code, 0, svg.stderr);
  const xml = readFileSync(svgFile, "utf8");
  t.notOk(RAW_UNSAFE.test(xml.replace(/\n/g, " ")), "no raw control character in the SVG");
  t.notOk(xml.includes("<script>alert"), "no raw <script>alert");
  t.notOk(xml.includes("<b>&"), "no raw <b>&");
  t.equal(xml.split("<script").length - 1, 1, "one script element: the viewer");
  const evil = frameRects(xml).find((r) => r["data-name"].startsWith("<script>"));
  t.equal(evil?.["data-name"], "<script>alert(1)</script>\\x1b[2J\\u202eoops", "the SVG holds the escaped name");
  t.equal(evil?.["data-file"], "<b>&\\x07x.py", "and the escaped file");
  t.equal(evil?.["data-change"], "up", "marked as grown");
});

t.test("bad input: one line, exit 2", async (t) => {
  const good = path.join(dir, "good.wspy");
  writeFileSync(good, renderWspy(profile([{ name: "main", file: "app.py", line: 1, kind: "python" }], [[[0], 10]])));
  const empty = path.join(dir, "empty.wspy");
  writeFileSync(empty, renderWspy(profile([{ name: "main", file: "app.py", line: 1, kind: "python" }], [])));
  const notRecording = path.join(dir, "notes.txt");
  writeFileSync(notRecording, "not a recording\n");
  const hist = path.join(dir, "empty-history");
  mkdirSync(hist);
  oneLine(t, await wspy(["diff", path.join(dir, "missing.wspy"), good]), 2, /missing\.wspy/);
  oneLine(t, await wspy(["diff", good, notRecording, "-f", "text"]), 2, /notes\.txt is not a readable wspy recording/);
  oneLine(t, await wspy(["diff", empty, good]), 2, /A \(.*empty\.wspy\) has no samples/);
  oneLine(t, await wspy(["diff", good, `${hist}@2026-01-01T00:00:00Z..2026-01-01T01:00:00Z`, "-f", "text"]), 2, /no segment of .*empty-history falls between/);
  oneLine(t, await wspy(["diff", good, `${hist}@yesterday..now`]), 2, /is not a time/);
  oneLine(t, await wspy(["diff", good]), 2, /missing required argument/);
  oneLine(t, await wspy(["diff", good, good, "-f", "png"]), 2, /png/);
  oneLine(t, await wspy(["diff", good, good, "-o", dir]), 2, /will not write .*: it is a folder/);
  oneLine(t, await wspy(["diff", good, good, "-f", "text", "--rows", "x"]), 2, /--rows must be a whole number/);
});

// ---------- real Python ----------

if (!python) {
  t.skip("no Python 3.11+ interpreter found (see test/helpers/pythons.mjs)");
} else {
  const fa = path.join(dir, "a.wspy"), fb = path.join(dir, "b.wspy");
  const mk = marks("diff_pair.py");

  t.before(async () => {
    // both at once: attached once each says "ready" (no start-up in the shares), 15 s at 200 Hz
    // (≥ 1,000 samples even on a busy machine); the fixture waits in its functions: --idle
    const fixtures = await Promise.all(["a", "b"].map((mode) => startFixture(python.path, "diff_pair.py", [mode, FIXTURE_LIFETIME])));
    try {
      const [ra, rb] = await Promise.all(fixtures.map((fx, i) =>
        wspy(["record", "-f", "wspy", "-o", i === 0 ? fa : fb, "-r", "200", "-d", "15", "--idle", "-p", String(fx.pid)])));
      for (const r of [ra, rb]) if (r.code !== 0) throw new Error(`wspy record failed (${r.code}): ${r.stderr}`);
    } finally {
      for (const fx of fixtures) fx.kill();
    }
  });

  t.test(`text table (${python.label}): grows first and up, steady functions within noise, slack functions down`, async (t) => {
    const r = await wspy(["diff", fa, fb, "-f", "text"]);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stderr, "", "nothing on stderr when the table goes to stdout");
    const header = /^A: .*a\.wspy \((\d+) samples.*\nB: .*b\.wspy \((\d+) samples/.exec(r.stdout);
    t.ok(header, "the header names A and B");
    t.ok(Number(header?.[1]) >= 1000 && Number(header?.[2]) >= 1000, `enough samples: ${header?.[1]}, ${header?.[2]}`);
    const rows = tableRows(r.stdout);
    const row = (name) => rows.find((x) => x.name.startsWith(`${name} (`));
    t.match(rows[0].name, new RegExp(`^grows \\(.*diff_pair\\.py:${mk.GROWS}\\)$`), "grows ranks first, at its def line");
    const grows = row("grows");
    t.ok(grows.change >= 10 && grows.change <= 20, `grows: ${grows.aSelf}% -> ${grows.bSelf}%, ${grows.change} points (expected +15)`);
    t.notOk(grows.noise, "not noise");
    t.ok(grows.bSelf / grows.aSelf > 1.6 && grows.bSelf / grows.aSelf < 2.5, "about twice its share");
    for (const name of ["steady_one", "steady_two"]) {
      const s = row(name);
      t.ok(Math.abs(s.change) <= 3, `${name}: ${s.aSelf}% -> ${s.bSelf}%, ${s.change} points (expected 0)`);
    }
    for (const name of ["slack_one", "slack_two"]) {
      const s = row(name);
      t.ok(s.change <= -4 && s.change >= -11, `${name}: ${s.change} points (expected -7.5)`);
    }
    const main = row("main");
    t.same([main.aTotal, main.bTotal], [100, 100], "main holds all of both (total shares)");
    // each column of shares adds up to the whole profile
    const sum = (k) => rows.reduce((s, x) => s + x[k], 0);
    t.ok(Math.abs(sum("aSelf") - 100) < 0.1 && Math.abs(sum("bSelf") - 100) < 0.1, "self shares add up to 100%");
    // --rows limits, and says how many are left
    const two = await wspy(["diff", fa, fb, "-f", "text", "--rows", "2"]);
    t.equal(tableRows(two.stdout).length, 2);
    t.match(two.stdout, /\.\.\. \d+ more functions \(--rows 0 shows all\)/);
    // --lines: grows still first (its body's lines), at a line inside it
    const lines = tableRows((await wspy(["diff", fa, fb, "-f", "text", "--lines"])).stdout);
    const m = /^grows \(.*:(\d+)\)$/.exec(lines[0].name);
    t.ok(m && Number(m[1]) > mk.GROWS && Number(m[1]) < mk.SLACK_ONE, `--lines: first is a line of grows: ${lines[0].name}`);
  });

  t.test(`SVG (${python.label}): grows red, slack blue, steady neutral`, async (t) => {
    const out = path.join(dir, "diff.svg");
    const r = await wspy(["diff", fa, fb, "-o", out]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stderr, /wrote the diff flame graph to .*diff\.svg/);
    const svg = readFileSync(out, "utf8");
    const rects = frameRects(svg);
    const one = (name) => {
      const found = rects.filter((x) => x["data-name"] === name);
      t.equal(found.length, 1, `one ${name} frame`);
      return found[0] ?? {};
    };
    const grows = one("grows");
    t.equal(grows["data-change"], "up");
    t.match(grows.fill, /^rgb\(255,\d+,\d+\)$/, "red");
    t.equal(Number(grows["data-line"]), mk.GROWS);
    t.ok(+grows["data-b"] > +grows["data-a"] * 1.6, `B ${grows["data-b"]}% vs A ${grows["data-a"]}%`);
    for (const name of ["steady_one", "steady_two"]) {
      const s = one(name);
      t.equal(s["data-change"], "same", `${name}: within noise (A ${s["data-a"]}%, B ${s["data-b"]}%)`);
      t.equal(s.fill, "rgb(228,228,222)", `${name}: neutral`);
    }
    for (const name of ["slack_one", "slack_two"]) {
      const s = one(name);
      t.equal(s["data-change"], "down", name);
      t.match(s.fill, /^rgb\((\d+),\1,255\)$/, `${name}: blue`);
    }
    // widths: the larger share of each stack; grows is as wide as B's share of it
    const total = Number(/data-total="(\d+)"/.exec(svg)[1]);
    t.ok(Math.abs(+grows["data-w"] / 1e4 - +grows["data-b"]) < 0.01, "grows: as wide as its B share");
    t.ok(Math.abs(+one("slack_one")["data-w"] / 1e4 - +one("slack_one")["data-a"]) < 0.01, "slack_one: as wide as its A share");
    t.ok(total >= 1e6, "the whole is at least 100%");
    // the <title> (hover in any viewer) says both shares and both changes
    t.match(svg, new RegExp(`<title>grows \\([^)]*diff_pair\\.py:${mk.GROWS}\\)&#10;total A [\\d.]+% \u2192 B [\\d.]+% \\(\\+[\\d.]+ points\\)&#10;self A [\\d.]+% \u2192 B [\\d.]+% \\(\\+[\\d.]+ points\\)</title>`));
  });

  t.test(`two ranges of an agent's history folder (${python.label})`, async (t) => {
    const hist = path.join(dir, "history");
    mkdirSync(hist);
    const t0 = Date.parse("2026-03-01T10:00:00.000Z");
    copyFileSync(fa, path.join(hist, segmentName("diffpair", 101, t0, t0 + 10_000, "wspy")));
    copyFileSync(fb, path.join(hist, segmentName("diffpair", 102, t0 + 60_000, t0 + 70_000, "wspy")));
    writeFileSync(path.join(hist, "README.txt"), "not a segment: left alone\n");
    const rangeA = `${hist}@2026-03-01T10:00:00Z..2026-03-01T10:00:30Z`;
    const rangeB = `${hist}@2026-03-01T10:00:30Z..2026-03-01T10:01:30Z`;
    const r = await wspy(["diff", rangeA, rangeB, "-f", "text"]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stderr, /A: 1 segments of .*history@2026-03-01T10:00:00Z\.\.2026-03-01T10:00:30Z/);
    t.match(r.stderr, /B: 1 segments of /);
    const fromFiles = tableRows((await wspy(["diff", fa, fb, "-f", "text"])).stdout);
    const rows = tableRows(r.stdout);
    t.same(rows.map((x) => [x.name, x.change]), fromFiles.map((x) => [x.name, x.change]), "the same table as the two files give");
    t.match(rows[0].name, /^grows /);
    // a range holding both segments compared with one holding B: grows still up, by half as much
    const both = tableRows((await wspy(["diff", `${hist}@2026-03-01T09:00:00Z..2026-03-01T11:00:00Z`, rangeB, "-f", "text"])).stdout);
    const g = both.find((x) => x.name.startsWith("grows ("));
    t.ok(g.change > 3 && g.change < 12, `A = both segments: grows +${g.change} points (expected about +7.5)`);
    const svg = await wspy(["diff", rangeA, rangeB, "-o", path.join(dir, "hist.svg")]);
    t.equal(svg.code, 0, svg.stderr);
    t.equal(frameRects(readFileSync(path.join(dir, "hist.svg"), "utf8")).find((x) => x["data-name"] === "grows")?.["data-change"], "up");
  });

  // ---------- Chromium ----------
  let chromium = null, whyNot = null;
  if (!existsSync(CHROMIUM)) whyNot = `no ${CHROMIUM} (install Debian's chromium: apt-get install -y chromium)`;
  else {
    try {
      ({ chromium } = await import("playwright-core"));
    } catch (e) {
      whyNot = `playwright-core is not installed (npm ci): ${e.message}`;
    }
  }
  t.test(`in Chromium (${python.label}): hover shows A and B, click zooms, search reports the matched shares`, { skip: whyNot ?? false }, async (t) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const out = path.join(dir, "browser.svg");
    const r = await wspy(["diff", fa, fb, "-o", out]);
    t.equal(r.code, 0, r.stderr);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
    t.teardown(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1220, height: 400 } });
    const trouble = { pageErrors: [], dialogs: [] };
    page.on("pageerror", (e) => trouble.pageErrors.push(e.message));
    page.on("dialog", async (d) => { trouble.dialogs.push(`${d.type()}: ${d.message()}`); await d.dismiss(); });
    await page.goto(`file://${out}`);
    t.equal(await page.evaluate(() => document.documentElement.localName + ":" + document.getElementsByTagName("parsererror").length), "svg:0", "well-formed: the SVG loads");
    const ch = (a, b) => `A ${a.toFixed(2)}% \u2192 B ${b.toFixed(2)}% (${b - a >= 0 ? "+" : "-"}${Math.abs(b - a).toFixed(2)} points)`;

    // hover: name, file:line, total and self shares of A and B, the changes
    const grows = page.locator('rect[data-name="grows"]').first();
    const [a, b, sa, sb] = await Promise.all(["data-a", "data-b", "data-sa", "data-sb"].map(async (k) => Number(await grows.getAttribute(k))));
    await grows.hover();
    const details = await page.textContent("#details");
    t.equal(details, `grows (${await grows.getAttribute("data-file")}:${mk.GROWS}) \u2014 total ${ch(a, b)}; self ${ch(sa, sb)}`, `details: ${details}`);
    t.ok(b - a > 10, "a rise of more than 10 points");
    await page.screenshot({ path: path.join(ARTIFACTS, "diff-hover.png") });

    // click: the clicked frame spans the width, a frame outside it is hidden; reset restores
    const before = await page.$$eval("g.f rect", (rs) => rs.map((x) => x.getAttribute("width")));
    const steady = page.locator('rect[data-name="steady_one"]').first();
    await steady.click();
    t.equal(Number(await steady.getAttribute("width")), 1180, "zoomed frame spans the width");
    t.ok(await page.$eval('rect[data-name="grows"]', (x) => x.parentNode.classList.contains("hide")), "grows, beside it, is hidden");
    t.notOk(await page.$eval("#unzoom", (e) => e.classList.contains("off")), "Reset Zoom is active");
    await page.click("#unzoom");
    t.same((await page.$$eval("g.f rect", (rs) => rs.map((x) => x.getAttribute("width")))).map(Number), before.map(Number), "reset restores every width");

    // Ctrl-F, a regex: matches highlighted, the matched shares of A and B
    await page.mouse.move(5, 5);
    await page.keyboard.press("Control+f");
    t.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "searchbox", "Ctrl-F focuses search");
    await page.keyboard.type("^slack_");
    await page.keyboard.press("Enter");
    const hits = await page.$$eval('rect[data-name^="slack_"]', (rs) => rs.map((x) => [x.getAttribute("fill"), +x.getAttribute("data-a"), +x.getAttribute("data-b")]));
    t.equal(hits.length, 2, "both slack functions");
    t.ok(hits.every(([fill]) => fill === SEARCH_FILL), "highlighted");
    t.not(await page.$eval('rect[data-name="grows"]', (x) => x.getAttribute("fill")), SEARCH_FILL, "grows keeps its colour");
    const ma = hits.reduce((s, h) => s + h[1], 0), mb = hits.reduce((s, h) => s + h[2], 0);
    t.equal(await page.textContent("#matched"), `Matched: ${ch(ma, mb)}`);
    await page.screenshot({ path: path.join(ARTIFACTS, "diff-search.png") });
    await page.keyboard.press("Escape");
    t.equal((await page.textContent("#matched")).trim(), "", "Escape clears the search");
    t.match(await page.$eval('rect[data-name="slack_one"]', (x) => x.getAttribute("fill")), /,255\)$/, "blue again");

    // the hostile diff from the synthetic recordings: names as text, no script of theirs runs
    const evilSvg = path.join(dir, "evil.svg");
    if (existsSync(evilSvg)) {
      await page.goto(`file://${evilSvg}`);
      await page.locator('rect[data-name^="<script>"]').first().hover();
      t.ok((await page.textContent("#details")).startsWith("<script>alert(1)</script>\\x1b[2J\\u202eoops (<b>&\\x07x.py:3)"), "hostile name shown as text");
      t.equal(await page.evaluate(() => document.getElementsByTagName("script").length), 1, "only the viewer's script");
      await page.waitForTimeout(300);
    }
    t.same(trouble.pageErrors, [], "no page errors");
    t.same(trouble.dialogs, [], "no dialogs");
  });
}
