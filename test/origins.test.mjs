// Flame graph colours by origin, on real recordings: a real interpreter runs code of the standard
// library (json, threading), of a third-party package (a fake one in a real site-packages folder
// put on sys.path) and of the user (test/fixtures/origins.py); `wspy record` to SVG with short
// file names (the default) and with --full-filenames; every frame's data-origin and its colour's
// hue (the legend's) must be its code's origin, however its file name is shown. Plus the rules
// on the path patterns themselves (host/profile/profile.ts codeOrigin).
// Build first: npm run build
import t from "tap";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { wspy, startFixture } from "./helpers/run.mjs";
import { findPythons } from "./helpers/pythons.mjs";
import { codeOrigin } from "../build/host/profile/profile.js";
import { aggregateFrames, fileShortener } from "../build/host/profile/transform.js";
import { frameRects as allFrameRects } from "./helpers/svg.mjs";

t.test("origin rules: from the whole path, site-/dist-packages before the library folder", async (t) => {
  const cases = [
    ["/usr/lib/python3.11/threading.py", "stdlib"],
    ["/root/.pyenv/versions/3.12.7/lib/python3.12/json/__init__.py", "stdlib"],
    ["/opt/py/lib64/python2.7/socketserver.py", "stdlib"],
    ["/usr/local/lib/python3.13t/json/encoder.py", "stdlib"],
    ["<frozen importlib._bootstrap>", "stdlib"],
    ["/usr/lib/python3/dist-packages/flask/app.py", "thirdparty"],
    ["/srv/app/.venv/lib/python3.12/site-packages/werkzeug/serving.py", "thirdparty"],
    ["/root/.local/lib/python3.12/site-packages/requests/api.py", "thirdparty"],
    ["/usr/lib/python3.11/site-packages/x.py", "thirdparty"],
    ["<built-in>", "native"],
    ["/home/me/app/service.py", "user"],
    ["/home/me/lib/python_utils/helpers.py", "user"], // not an interpreter's library folder
    ["/home/me/lib/python3/x.py", "user"], // no X.Y: not PREFIX/lib/pythonX.Y
    ["service.py", "user"],
    ["<string>", "user"],
    // what the shortener makes of standard library files: no longer recognisable by themselves
    ["threading.py", "user"],
  ];
  for (const [file, want] of cases) t.equal(codeOrigin(file, "python"), want, file);
  t.equal(codeOrigin("", "thread"), "synthetic");
  t.equal(codeOrigin("x.py", "native"), "native");

  // aggregateFrames decides the origin before shortening, and keeps two same-named files of
  // different origin apart
  const frames = [
    { name: "dumps", file: "/usr/lib/python3.11/json/__init__.py", line: 231, kind: "python" },
    { name: "dumps", file: "/home/me/app/json/__init__.py", line: 231, kind: "python" },
  ];
  const p = {
    frames, nodeParent: Int32Array.from([-1, -1]), nodeFrame: Int32Array.from([0, 1]),
    sampleTime: Float64Array.from([0, 0.01]), sampleThread: Int32Array.from([0, 0]), sampleNode: Int32Array.from([0, 1]),
    sampleWeight: Float64Array.from([0.01, 0.01]), threads: [{ ident: 1, tid: 1, name: "MainThread" }], meta: {},
  };
  const short = aggregateFrames(p, { file: fileShortener(["/home/me/app"]) });
  t.same(short.frames.map((f) => [f.file, f.origin]), [["json/__init__.py", "stdlib"], ["json/__init__.py", "user"]]);
});

const wanted = ["pyenv 3.12", "debian 3.11", "provisioned 3.14", "pyenv 2.7"];
const pythons = wanted.map((w) => findPythons().find((p) => p.label.startsWith(w)) ?? w);

const dir = mkdtempSync(path.join(tmpdir(), "wspy-origins-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
// a real site-packages layout: SITE/fakepkg/__init__.py
const site = path.join(dir, "venv", "lib", "python3.99", "site-packages");
mkdirSync(path.join(site, "fakepkg"), { recursive: true });
writeFileSync(path.join(site, "fakepkg", "__init__.py"), [
  '"""A third-party package for test/origins.test.mjs: calls the handler it is given."""',
  "",
  "def pkg_serve(handler):",
  "    return _pkg_dispatch(handler)",
  "",
  "",
  "def _pkg_dispatch(handler):",
  "    return handler()",
  "",
].join("\n"));


/** the SVG's frame boxes: their data-* attributes and fill */
function frameRects(svg) {
  return allFrameRects(svg).filter((r) => !["merged", "synthetic"].includes(r["data-origin"]));
}

/** which legend hue a fill is in (host/render/svg.ts colour: warm / aqua / green / violet) */
function hueOf(fill) {
  const [r, g, b] = fill.match(/\d+/g).map(Number);
  if (r >= 205 && b <= 55) return "user";
  if (r <= 110 && g >= 165 && b >= 185) return "stdlib";
  if (r <= 150 && g >= 185 && b <= 110) return "thirdparty";
  if (r >= 160 && r <= 210 && b >= 215) return "native";
  return `unknown ${fill}`;
}

const STDLIB_FILES = /^(json\/(__init__|encoder)\.py|threading\.py)$/;

for (const py of pythons) {
  if (typeof py === "string") {
    t.test(`origins under ${py}`, async (t) => t.skip(`${py} is not on this machine (test/helpers/pythons.mjs)`));
    continue;
  }
  t.test(`origins under ${py.label}: standard library, third-party and your code`, async (t) => {
    const fx = await startFixture(py.path, "origins.py", [site]);
    t.teardown(() => fx.kill());
    for (const full of [false, true]) {
      const out = path.join(dir, `${py.label.replace(/\W+/g, "_")}${full ? "-full" : ""}.svg`);
      // --idle: every thread waits in threading's Event.wait, so all three are in every sample
      const r = await wspy(["record", "-p", String(fx.pid), "-d", "1", "--idle", "-o", out, ...(full ? ["--full-filenames"] : [])]);
      t.equal(r.code, 0, `record${full ? " --full-filenames" : ""}: ${r.stderr}`);
      const rects = frameRects(readFileSync(out, "utf8"));
      const names = (origin) => new Set(rects.filter((x) => x["data-origin"] === origin).map((x) => x["data-name"]));
      let wrong = 0;
      for (const x of rects) {
        const file = x["data-file"];
        const base = full ? null : file;
        let want;
        if (file.endsWith("origins.py")) want = "user";
        else if (file.includes("fakepkg")) want = "thirdparty";
        else if (full ? file.startsWith("/") && !file.startsWith(dir) && !file.includes("site-packages") : STDLIB_FILES.test(base)) want = "stdlib";
        else want = `unexpected file ${file}`;
        if (x["data-origin"] !== want || hueOf(x.fill) !== want) {
          wrong++;
          t.fail(`${x["data-name"]} (${file}): origin ${x["data-origin"]}, hue ${hueOf(x.fill)}, want ${want}`);
        }
      }
      const label = full ? "full file names" : "short file names";
      t.equal(wrong, 0, `${label}: ${rects.length} frames, each of its origin and hue`);
      if (!full) {
        t.ok(rects.some((x) => x["data-file"] === "json/__init__.py"), `${label}: json's file shortened (json/__init__.py)`);
        t.ok(rects.some((x) => x["data-file"] === "fakepkg/__init__.py"), `${label}: fakepkg's file shortened`);
      }
      // every origin is there: the functions the fixture's stacks must have (qualified names such
      // as Event.wait from 3.11 on)
      for (const [origin, want] of [["user", ["user_main", "user_default", "user_handler"]], ["stdlib", ["dumps", "wait"]], ["thirdparty", ["pkg_serve", "_pkg_dispatch"]]]) {
        const have = [...names(origin)];
        for (const n of want) t.ok(have.some((h) => h === n || h.endsWith(`.${n}`)), `${label}: ${n} is ${origin} (${have.join(", ")})`);
      }
    }
  });
}
