#!/usr/bin/env node
// Runs a command (by default the test suite, `tap`) with the machine's cores kept busy by CPU
// hogs, to check that the tests hold on a loaded machine (issue #11: fixtures that exit on a timer,
// exact sample counts and proportions on too few samples failed at load average 10-25).
//   node test/helpers/load.mjs [--hogs N] [-- COMMAND ARGS...]
//   npm run test:loaded [-- tap arguments, e.g. test/formats.test.mjs]
// N: --hogs, else WSPY_TEST_LOAD, else the number of cores. Each hog is a `nice -n 0` busy loop
// (the same priority as the tests) that also exits when this process is gone (it polls its parent
// pid), so a killed run leaves none behind. The command's exit status is passed on.
// Must not know: the tests themselves; it only starts, waits for and ends processes it started.
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";

// (the parent's pid comes as an argument: a hog slow to start may find its parent gone already;
// process.ppid is read once at start-up, the live parent comes from /proc/self/stat)
const HOG = `
const fs = require("fs");
const ppid = () => { const s = fs.readFileSync("/proc/self/stat", "latin1"); return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]); };
const parent = Number(process.argv[1]);
for (;;) {
  let x = 0;
  for (let i = 0; i < 2e6; i++) x += i;
  if (ppid() !== parent) process.exit(0);
}`;

function parseArgs(argv) {
  let hogs = Number(process.env.WSPY_TEST_LOAD || availableParallelism());
  let cmd = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--hogs") hogs = Number(argv[++i]);
    else if (argv[i] === "--") { cmd = argv.slice(i + 1); break; }
    else { cmd = argv.slice(i); break; }
  }
  if (!Number.isInteger(hogs) || hogs < 0 || hogs > 64) {
    process.stderr.write(`load: the number of hogs must be 0..64, not ${hogs}\n`);
    process.exit(2);
  }
  if (cmd.length === 0) cmd = ["tap"];
  return { hogs, cmd };
}

const { hogs, cmd } = parseArgs(process.argv.slice(2));
const started = [];
for (let i = 0; i < hogs; i++) {
  started.push(spawn("nice", ["-n", "0", process.execPath, "-e", HOG, String(process.pid)], { stdio: "ignore" }));
}
const stopHogs = () => { for (const h of started) if (h.exitCode === null && h.signalCode === null) h.kill("SIGKILL"); };
process.on("exit", stopHogs);
process.stderr.write(`load: ${hogs} CPU hog(s) running (pids ${started.map((h) => h.pid).join(", ") || "none"}): ${cmd.join(" ")}\n`);

const t0 = Date.now();
// npm puts node_modules/.bin on PATH for `npm run`; elsewhere `npx` finds tap the same way
const child = spawn(cmd[0], cmd.slice(1), { stdio: "inherit", env: process.env });
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
child.on("error", (e) => { process.stderr.write(`load: cannot run ${cmd[0]}: ${e.message}\n`); stopHogs(); process.exit(127); });
child.on("exit", (code, signal) => {
  stopHogs();
  process.stderr.write(`load: ${cmd.join(" ")} ended (${signal ?? `status ${code}`}) after ${((Date.now() - t0) / 1000).toFixed(0)} s with ${hogs} hog(s)\n`);
  process.exit(code ?? 1);
});
