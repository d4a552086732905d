#!/usr/bin/env node
// The `wspy` command's entry (bundled by `npm run build` into build/bin/wspy.cjs): answers
// --version at once; otherwise runs the CLI (cli.ts), which the build bundles into one script,
// build/bin/wspy-main.cjs, compiled with V8's code cache for it. The cache is kept in wspy's
// private cache folder (host/io/cache.ts), keyed by the script's identity and this Node's version:
// the first run on a machine writes it, and a cache V8 rejects is written again. A one-shot
// command's start-up is most of its time: see README "Performance" (start-up).
// Must not know: the commands (cli.ts).
// Source of truth: issue "Start-up and one-shot latency"; Node's vm.Script (cachedData).

import "./no-inspector.js"; // first: SIGUSR1 must not open Node's inspector, even while wspy loads
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { VERSION } from "./version.js";
import { traceMark } from "./trace.js";
import { cacheGetBytes, cachePutBytes } from "./io/cache.js";
import { fileIdentity } from "./io/files.js";
import { EXIT_CODES } from "./errors.js";

traceMark("entry");
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  process.stdout.write(`${VERSION}\n`);
} else {
  runCli();
}

/** Runs the bundled CLI as CommonJS would run it, with the code cache when there is a good one. */
function runCli(): void {
  const main = path.join(path.dirname(fileURLToPath(import.meta.url)), "wspy-main.cjs");
  let source: string;
  try {
    source = readFileSync(main, "utf8");
  } catch (e) {
    // an install with a part missing: one line, the INTERNAL status
    process.stderr.write(`wspy: cannot read ${JSON.stringify(main)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}) (reinstall wspy: npm ci, or npm run build)\n`);
    process.exit(EXIT_CODES.INTERNAL);
  }
  const key = `${fileIdentity(statSync(main))}|${process.version}|${process.arch}|${process.execArgv.join(" ")}`;
  const cached = cacheGetBytes("code", key);
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: main, cachedData: cached });
  traceMark(cached && !script.cachedDataRejected ? "code-cached" : "code-compiled");
  if (!cached || script.cachedDataRejected) {
    // made at exit: by then the functions this command ran are compiled, and go in too
    process.once("exit", () => cachePutBytes("code", key, script.createCachedData()));
  }
  const mod = { exports: {} };
  const run = script.runInThisContext() as (e: object, r: NodeRequire, m: object, f: string, d: string) => void;
  run(mod.exports, createRequire(main), mod, main, path.dirname(main));
}
