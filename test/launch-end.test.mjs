// `record -d N -- program` ends the program it started once the profile is written (issue #11
// item 4): SIGTERM, then SIGKILL if it is still there 5 s later; wspy exits 0 and says so.
//  - exits_soon.py 600 (would run ten minutes): wspy returns (the test's timeout would catch it
//    hanging), the profile holds burn(), and the program's pid no longer exists;
//  - ignores_term.py (ignores SIGTERM): ended with SIGKILL, same checks.
import t from "tap";
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { wspy, FIXTURES } from "./helpers/run.mjs";
import { findByLabel, missingReason } from "./helpers/pythons.mjs";

function parseCollapsed(text) {
  return text.split("\n").filter((l) => l.length > 0).map((l) => {
    const sp = l.lastIndexOf(" ");
    return { frames: l.slice(0, sp).split(";"), count: Number(l.slice(sp + 1)) };
  });
}
const samplesOf = (stacks, name) => stacks.filter((s) => s.frames.some((f) => f.startsWith(`${name} (`))).reduce((a, s) => a + s.count, 0);

/** Is pid a live process (not a zombie)? */
function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2)[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

const python = findByLabel("pyenv 3.12");
const skip = python ? false : missingReason("3.12");

for (const [fixture, fn, signal] of [["exits_soon.py", "burn", "SIGTERM"], ["ignores_term.py", "stubborn", "SIGKILL"]]) {
  t.test(`record -d 2 -- python ${fixture}: the program is ended with ${signal}`, { skip, timeout: 90000 }, async (t) => {
    const dir = t.testdir();
    const out = path.join(dir, "prof.txt");
    let launched = [];
    t.teardown(() => { for (const pid of launched) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } });
    const r = await wspy(["record", "-d", "2", "-f", "raw", "-o", out, "--", python.path, path.join(FIXTURES, fixture), "600"]);
    const m = /ended \S+ \(pid (\d+)\) with (SIG[A-Z]+) at the end of --duration/.exec(r.stderr);
    if (m) launched = [Number(m[1])];
    t.equal(r.code, 0, `record exits 0 ${r.stderr}`);
    t.ok(m, "the summary says wspy ended the program");
    t.equal(m?.[2], signal, `with ${signal}`);
    t.notOk(m && alive(Number(m[1])), "the program's pid no longer exists");
    t.ok(existsSync(out), "the profile is written");
    t.ok(samplesOf(parseCollapsed(readFileSync(out, "utf8")), fn) > 0, `${fn}() is in the profile`);
  });
}
