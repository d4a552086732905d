// The installed command, as users get it: `npm pack` of this tree installed with `npm install -g
// --prefix DIR` (its dependencies from npm's cache, as `npm ci` left them; the registry only for
// what the cache lacks), then `DIR/bin/wspy` run by its own `#!/usr/bin/env node` line (not through
// `node FILE` as the other tests do), and `npx wspy` in this checkout (the README's first command).
// Each answers --version, and dumps a live Python process's stacks (known_stacks.py).
// Must not know: how the bundle is made (host/build-bundle.mjs); only what a user types.
// Source of truth: README (the first commands, "Usage"); package.json ("bin", "files").
import t from "tap";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, startFixture, FIXTURE_LIFETIME } from "./helpers/run.mjs";
import { findPythons } from "./helpers/pythons.mjs";

const VERSION = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).version;
const python = findPythons().find((p) => /^3\./.test(p.version));
const NPM_TIMEOUT = 600_000;

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: opts.timeout ?? 120_000, cwd: opts.cwd ?? ROOT, env: { ...process.env, ...(opts.env ?? {}) } });
  return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error };
}

/** Checks that a command is wspy: --version, then a dump of pid with the fixture's functions. */
function checkCommand(t, cmd, prefixArgs, pid, opts = {}) {
  const v = run(cmd, [...prefixArgs, "--version"], opts);
  t.equal(v.code, 0, `--version exits 0 ${v.stderr}`);
  t.equal(v.stdout.trim(), VERSION, "prints the package's version");
  const d = run(cmd, [...prefixArgs, "dump", "-p", String(pid)], opts);
  t.equal(d.code, 0, `dump exits 0 ${d.stderr}`);
  t.match(d.stdout, /main_wait/, "the main thread's innermost function");
  t.match(d.stdout, /park/, "a worker thread's function");
  t.match(d.stdout, /known_stacks\.py:\d+/, "file and line");
}

t.test("npm install -g of the packed tree: the wspy command", { timeout: NPM_TIMEOUT + 120_000 }, async (t) => {
  if (!python) return t.skip("no Python 3 found (see test/helpers/pythons.mjs)");
  const dir = mkdtempSync(path.join(os.tmpdir(), "wspy-install-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // the build is already there (the tests run on it): pack it as it is, no second build
  const pack = run("npm", ["pack", "--ignore-scripts", "--pack-destination", dir, "--json"], { timeout: NPM_TIMEOUT });
  t.equal(pack.code, 0, `npm pack ${pack.stderr.slice(-500)}`);
  const tarball = path.join(dir, JSON.parse(pack.stdout)[0].filename);
  t.ok(existsSync(tarball), "a tarball");
  const prefix = path.join(dir, "prefix");
  const inst = run("npm", ["install", "-g", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", tarball], { timeout: NPM_TIMEOUT });
  t.equal(inst.code, 0, `npm install -g ${inst.stderr.slice(-500)}`);
  const bin = path.join(prefix, "bin", "wspy");
  t.ok(existsSync(bin), "bin/wspy is installed");
  const fx = await startFixture(python.path, "known_stacks.py", [FIXTURE_LIFETIME]);
  t.teardown(fx.kill);
  // run as a user runs it: the file itself (its #! line), with the install's bin on PATH
  checkCommand(t, bin, [], fx.pid, { cwd: dir, env: { PATH: `${path.join(prefix, "bin")}:${process.env.PATH}` } });
});

// npx keeps what it ran in its cache, keyed by the package's path, and does not link the bins
// again: a checkout whose "bin" moved would run the old one. A user's first npx is a fresh cache,
// as this test's is (the checkout's own package linked in, nothing fetched).
t.test("npx wspy in this checkout (the README's first command's form)", { timeout: NPM_TIMEOUT }, async (t) => {
  if (!python) return t.skip("no Python 3 found (see test/helpers/pythons.mjs)");
  const cache = mkdtempSync(path.join(os.tmpdir(), "wspy-npx-cache-"));
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const fx = await startFixture(python.path, "known_stacks.py", [FIXTURE_LIFETIME]);
  t.teardown(fx.kill);
  checkCommand(t, "npx", ["--yes", "wspy"], fx.pid, { env: { npm_config_cache: cache } });
});
