// The viewers in a real browser (Debian's chromium, driven by playwright-core): the SVG flame
// graph recorded from a real Python process (hover details, click to zoom, reset, Ctrl-F search
// with the matched share), a hostile file and function name that must show as text and run
// nothing, and `wspy view` serving the speedscope viewer with a real recording, stopped by SIGINT.
// Screenshots go to .tap/artifacts/. Build first: npm run build
import t from "tap";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { wspy, ROOT, CLI, FIXTURES } from "./helpers/run.mjs";
import { findPythons } from "./helpers/pythons.mjs";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = path.join(ROOT, ".tap", "artifacts");
const LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let chromium = null;
let whyNot = null;
if (!existsSync(CHROMIUM)) whyNot = `no ${CHROMIUM} (install Debian's chromium: apt-get install -y chromium)`;
else {
  try {
    ({ chromium } = await import("playwright-core"));
  } catch (e) {
    whyNot = `playwright-core is not installed (npm ci): ${e.message}`;
  }
}
// co_qualname (3.11+) is needed to give the hostile function its name
const python = findPythons().find((p) => p.label.startsWith("pyenv 3.12"))
  ?? findPythons().find((p) => /^3\.(1[1-9])\./.test(p.version));
if (!whyNot && !python) whyNot = "no Python 3.11+ interpreter found (see test/helpers/pythons.mjs)";
if (whyNot) {
  t.skip(whyNot);
  process.exit(0);
}

mkdirSync(ARTIFACTS, { recursive: true });
const dir = mkdtempSync(path.join(tmpdir(), "wspy-browser-"));
let browser;
t.before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
});
t.teardown(async () => {
  if (browser) await browser.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A page that records page errors, dialogs and console errors. */
async function openPage(url) {
  const page = await browser.newPage({ viewport: { width: 1220, height: 800 } });
  const trouble = { pageErrors: [], dialogs: [] };
  page.on("pageerror", (e) => trouble.pageErrors.push(e.message));
  page.on("dialog", async (d) => { trouble.dialogs.push(`${d.type()}: ${d.message()}`); await d.dismiss(); });
  await page.goto(url);
  return { page, trouble };
}

/** HTTP status of GET path on 127.0.0.1:port with the given Host header (fetch cannot set Host). */
function status(port, urlPath, host = `127.0.0.1:${port}`) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: urlPath, headers: { Host: host } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
  });
}

async function record(out, args) {
  const r = await wspy(["record", "-o", out, "-d", "3", ...args]);
  if (r.code !== 0) throw new Error(`wspy record failed (${r.code}): ${r.stderr}`);
  return r;
}

t.test("flame graph of a real process: hover, zoom, reset, search", async (t) => {
  const svgFile = path.join(dir, "demo.svg");
  await record(svgFile, ["--", python.path, path.join(FIXTURES, "demo_app.py"), "4"]);
  const { page, trouble } = await openPage(`file://${svgFile}`);
  const total = Number(await page.getAttribute("svg", "data-total"));
  t.ok(total > 20, `${total} samples`);
  t.match(await page.textContent("#subtitle"), /demo_app\.py.*Hz.*samples/);

  // hover: the details line has the full name, file:line, samples and percent
  const target = page.locator('rect[data-name="handle_request"]').first();
  const samples = Number(await target.getAttribute("data-samples"));
  const line = await target.getAttribute("data-line");
  await target.hover();
  const details = await page.textContent("#details");
  t.match(details, new RegExp(`^handle_request \\(.*demo_app\\.py:${line}\\) \\u2014 ${samples} samples? \\(${(100 * samples / total).toFixed(2)}%\\)$`), `details: ${details}`);

  // click: the clicked frame spans the full width; frames outside it are hidden
  const before = await page.$$eval("g.f rect", (rs) => rs.map((r) => r.getAttribute("width")));
  const zoomOn = page.locator('rect[data-name="count_primes"]').first();
  await zoomOn.click();
  t.equal(Number(await zoomOn.getAttribute("width")), 1180, "zoomed frame spans the width");
  const hidden = await page.$$eval('rect[data-name="sort_words"]', (rs) => rs.every((r) => r.parentNode.classList.contains("hide")));
  t.ok(hidden, "a frame outside the zoomed one is hidden");
  t.notOk(await page.$eval("#unzoom", (e) => e.classList.contains("off")), "Reset Zoom is active");
  await page.screenshot({ path: path.join(ARTIFACTS, "flamegraph-zoomed.png") });
  await page.click("#unzoom");
  const after = await page.$$eval("g.f rect", (rs) => rs.map((r) => r.getAttribute("width")));
  t.same(after.map(Number), before.map(Number), "reset restores every frame's width");
  t.equal(await page.$$eval("g.f.hide", (gs) => gs.length), 0, "nothing hidden after reset");

  // Ctrl-F focuses the search field; a regex highlights the matches and reports their share
  await page.mouse.move(5, 5);
  await page.keyboard.press("Control+f");
  t.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "searchbox", "Ctrl-F focuses search");
  await page.keyboard.type("^is_prime ");
  await page.keyboard.press("Enter");
  const hits = await page.$$eval('rect[data-name="is_prime"]', (rs) => rs.map((r) => [r.getAttribute("fill"), +r.getAttribute("data-samples")]));
  t.ok(hits.length > 0 && hits.every(([fill]) => fill === "rgb(230,0,230)"), `${hits.length} is_prime frames highlighted`);
  const others = await page.$$eval('rect[data-name="sort_words"]', (rs) => rs.map((r) => r.getAttribute("fill")));
  t.ok(others.every((f) => f !== "rgb(230,0,230)"), "others keep their colour");
  const matched = hits.reduce((s, [, n]) => s + n, 0);
  t.equal(await page.textContent("#matched"), `Matched: ${(100 * matched / total).toFixed(2)}% (${matched} of ${total} samples)`);
  await page.screenshot({ path: path.join(ARTIFACTS, "flamegraph-search.png") });
  await page.keyboard.press("Escape");
  t.equal((await page.textContent("#matched")).trim(), "", "Escape clears the search");
  t.ok((await page.$$eval('rect[data-name="is_prime"]', (rs) => rs.map((r) => r.getAttribute("fill")))).every((f) => f !== "rgb(230,0,230)"), "colours restored");
  // a bad regular expression says so instead of throwing
  await page.fill("#searchbox", "(unclosed");
  t.match(await page.textContent("#matched"), /^Bad regular expression/);

  t.same(trouble.pageErrors, [], "no page errors");
  t.same(trouble.dialogs, [], "no dialogs");
  await page.close();
});

t.test("hostile file and function names render as text and run nothing", async (t) => {
  // the path holds `<script>alert(1)</script>&.py` (the "/" in it makes "<script>alert(1)<" a folder)
  const evilDir = path.join(dir, "<script>alert(1)<");
  mkdirSync(evilDir, { recursive: true });
  const evilFile = path.join(dir, "<script>alert(1)</script>&.py");
  const evilName = `<img src=x onerror=alert(2)>&amp;"'</text><script>alert(3)</script>`;
  writeFileSync(evilFile, [
    "import sys, time",
    "def spin(seconds):",
    "    end = time.time() + seconds",
    "    n = 0",
    "    while time.time() < end:",
    "        n += 1",
    "    return n",
    `spin.__code__ = spin.__code__.replace(co_name=${JSON.stringify(evilName)}, co_qualname=${JSON.stringify(evilName)})`,
    "spin(float(sys.argv[1]))",
    "",
  ].join("\n"));
  const svgFile = path.join(dir, "evil.svg");
  await record(svgFile, ["--", python.path, evilFile, "4"]);
  const { page, trouble } = await openPage(`file://${svgFile}`);
  const names = await page.$$eval("rect[data-name]", (rs) => rs.map((r) => [r.getAttribute("data-name"), r.getAttribute("data-file")]));
  const hit = names.find(([n]) => n === evilName);
  t.ok(hit, "the function's name is stored exactly");
  t.equal(hit?.[1], evilFile, "the file's name is stored exactly");
  const texts = await page.$$eval("g.f text", (ts) => ts.map((x) => x.textContent));
  t.ok(texts.some((x) => x.includes("<img src=x onerror=alert(2)>")), "the name is drawn as text");
  await page.locator("rect[data-name]").nth(names.findIndex(([n]) => n === evilName)).hover();
  t.ok((await page.textContent("#details")).startsWith(`${evilName} (${evilFile}:`), "details show it as text");
  t.equal(await page.evaluate(() => document.querySelectorAll("img, foreignObject script").length), 0, "no element was made from a name");
  t.equal(await page.evaluate(() => document.getElementsByTagName("script").length), 1, "only the viewer's script");
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(ARTIFACTS, "flamegraph-hostile.png") });
  t.same(trouble.dialogs, [], "no dialog opened (no script ran)");
  t.same(trouble.pageErrors, [], "no page errors");
  await page.close();
});

t.test("wspy view serves a real speedscope recording; SIGINT stops it with status 0", async (t) => {
  const json = path.join(dir, "demo.json");
  await record(json, ["-f", "speedscope", "--", python.path, path.join(FIXTURES, "demo_app.py"), "4"]);
  const child = spawn(process.execPath, [CLI, "view", json], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${stderr}`)), 120000); // a bound on the condition
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/\S*)$/m.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/#profileURL=/, `printed ${url}`);
  try {
    // the sandwich view lists functions as text (the flame chart itself is a canvas)
    const { page, trouble } = await openPage(`${url}&view=sandwich`);
    await page.waitForFunction(() => document.body.innerText.includes("is_prime"), null, { timeout: 120000 });
    t.pass("speedscope shows is_prime from the recording");
    t.match(await page.title(), /demo\.json/, "the title names the file");
    await page.screenshot({ path: path.join(ARTIFACTS, "speedscope-view.png") });
    t.same(trouble.pageErrors, [], "no page errors");
    t.same(trouble.dialogs, [], "no dialogs");
    await page.close();
    // only loopback names are served (DNS rebinding), and nothing outside the viewer's files
    const port = new URL(url).port;
    t.equal(await status(port, "/", `evil.example:${port}`), 403, "a foreign Host header is refused");
    t.equal(await status(port, "/", `localhost:${port}`), 200, "localhost is fine");
    t.equal(await status(port, "/..%2Fpackage.json"), 404, "no path outside the viewer");
    t.equal(await status(port, "/../../package.json"), 404, "no path outside the viewer, unnormalised");
  } finally {
    child.kill("SIGINT");
  }
  const { code, signal } = await exited;
  t.equal(signal, null, "not killed by the signal");
  t.equal(code, 0, `exit 0 after SIGINT (${stderr.trim()})`);
});

t.test("wspy view: a .wspy recording (converted in memory), and chrometrace and pprof through speedscope's importers", async (t) => {
  const rec = path.join(dir, "demo.wspy");
  await record(rec, ["-f", "wspy", "--", python.path, path.join(FIXTURES, "demo_app.py"), "4"]);
  const files = { wspy: rec };
  for (const [format, ext] of [["chrometrace", "trace.json"], ["pprof", "pb.gz"]]) {
    files[format] = path.join(dir, `demo.${ext}`);
    const r = await wspy(["convert", rec, "-f", format, "-o", files[format]]);
    t.equal(r.code, 0, r.stderr);
  }
  for (const [format, file] of Object.entries(files)) {
    const child = spawn(process.execPath, [CLI, "view", file], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const url = await new Promise((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error("no URL printed")), 120000); // a bound on the condition
        child.stdout.on("data", (d) => {
          out += d;
          const m = /^(http:\/\/\S+)$/m.exec(out);
          if (m) { clearTimeout(timer); resolve(m[1]); }
        });
      });
      const { page, trouble } = await openPage(`${url}&view=sandwich`);
      await page.waitForFunction(() => document.body.innerText.includes("is_prime"), null, { timeout: 120000 });
      t.pass(`${format}: speedscope shows is_prime`);
      t.same(trouble.pageErrors, [], `${format}: no page errors`);
      t.same(trouble.dialogs, [], `${format}: no dialogs`);
      await page.close();
    } finally {
      child.kill("SIGINT");
    }
    t.equal(await exited, 0, `${format}: view exits 0 on SIGINT`);
  }
});
