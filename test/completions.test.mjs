// `wspy completions bash|zsh|fish`: the scripts complete wspy's real commands and options, in
// the real shells. bash: the completion function driven through COMP_WORDS/COMP_CWORD as bash's
// `complete -F` calls it; fish: `complete -C` (fish's own completion of a command line); zsh: a
// real interactive zsh in tmux (own socket), Tab pressed, the completed line read off the pane.
// The options are checked against `--help` (the scripts come from the same commander program).
import t from "tap";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { wspy, haveTmux } from "./helpers/run.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const have = (bin) => {
  try {
    execFileSync(bin, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

const dir = mkdtempSync(path.join(tmpdir(), "wspy-completions-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function script(t, shell) {
  const r = await wspy(["completions", shell]);
  t.equal(r.code, 0, `completions ${shell} exits 0 ${r.stderr}`);
  const file = path.join(dir, `wspy.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

t.test("a bad shell is a clear BAD_INPUT error", async (t) => {
  const r = await wspy(["completions", "tcsh"]);
  t.equal(r.code, 2);
  t.match(r.stderr, /^wspy: .*tcsh.*bash, zsh, fish/s);
});

t.test("bash: COMP_WORDS in, COMPREPLY out", { skip: have("bash") ? false : "bash is not installed" }, async (t) => {
  const file = await script(t, "bash");
  /** What _wspy offers for the words (the last one is being completed). */
  const complete = (...words) => {
    const prog = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _wspy; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return execFileSync("bash", ["--norc", "--noprofile", "-c", prog, "bash", file, ...words], { encoding: "utf8", cwd: dir }).split("\n").filter(Boolean);
  };
  t.same(complete("wspy", "rec"), ["record"], "wspy rec -> record");
  t.same(complete("wspy", "record", "--ra"), ["--rate"], "wspy record --ra -> --rate");
  t.same(complete("wspy", "record", "-f", "sp"), ["speedscope"], "a choice of --format");
  t.same(complete("wspy", "convert", "--format", "=", "r"), ["raw"], "--format=r (bash splits at =)");
  t.same(complete("wspy", "tables", "ch"), ["check"], "a nested command");
  t.same(complete("wspy", "completions", "f"), ["fish"], "the shells");
  t.same(complete("wspy", "-V", "dum"), ["dump"], "after a flag of the program");
  t.same(complete("wspy", "dump", "-p", "1", "--sys"), ["--sysroot"], "after an option's value");
  t.same(complete("wspy", "dump", "-p", String(process.pid)), [String(process.pid)], "-p completes pids");
  t.same(complete("wspy", "record", "-o", "wspy.ba"), ["wspy.bash"], "-o completes files");
  // every option of every command that --help lists is offered
  for (const cmd of ["record", "dump", "snapshot", "top", "convert", "view", "diff"]) {
    const help = (await wspy([cmd, "--help"])).stdout;
    const longs = [...help.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]+)/gm)].map((m) => m[1]);
    const offered = complete("wspy", cmd, "--");
    for (const l of new Set(longs)) t.ok(offered.includes(l), `${cmd} ${l} is offered`);
  }
});

t.test("fish: the script parses and fish completes with it", { skip: have("fish") ? false : "fish is not installed" }, async (t) => {
  const file = await script(t, "fish");
  execFileSync("fish", ["-n", file]);
  t.pass("fish -n accepts the script");
  const complete = (line) => execFileSync("fish", ["--no-config", "-c", `source ${file}; complete -C ${JSON.stringify(line)}`], { encoding: "utf8", cwd: dir })
    .split("\n").filter(Boolean).map((l) => l.split("\t")[0]);
  t.same(complete("wspy rec"), ["record"], "wspy rec -> record");
  t.same(complete("wspy record --ra"), ["--rate"], "wspy record --ra -> --rate");
  t.same(complete("wspy record -f sp"), ["speedscope"], "a choice of --format");
  t.same(complete("wspy tables ch"), ["check"], "a nested command");
  t.notOk(complete("wspy tables export --").includes("--json"), "a nested command offers its own options only");
  t.ok(complete("wspy tables export --").includes("--pid"), "tables export --pid");
  t.same(complete("wspy completions z"), ["zsh"], "the shells");
});

t.test("zsh: the script parses, and Tab in a real zsh completes with it", { skip: !have("zsh") ? "zsh is not installed" : !haveTmux() ? "tmux is not installed (to drive an interactive zsh)" : false }, async (t) => {
  const file = await script(t, "zsh");
  execFileSync("zsh", ["-n", file]);
  t.pass("zsh -n accepts the script");
  const socket = `wspy-completions-test-${process.pid}`;
  const tmux = (...args) => execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
  t.teardown(() => { try { tmux("kill-server"); } catch {} });
  tmux("new-session", "-d", "-s", "z", "-x", "160", "-y", "30", "env", "-i", `HOME=${dir}`, "TERM=xterm", "PATH=/usr/bin:/bin", "zsh", "-f");
  const capture = () => tmux("capture-pane", "-p", "-t", "z");
  const waitFor = async (pred) => {
    let text = "";
    for (let i = 0; i < 300; i++) {
      text = capture();
      if (pred(text)) return text;
      await sleep(100);
    }
    return text;
  };
  tmux("send-keys", "-t", "z", `autoload -U compinit && compinit -u -D && source '${file}' && PS1='READY%% '`, "Enter");
  t.match(await waitFor((s) => /^READY%/m.test(s)), /^READY%/m, "zsh is ready with compinit and the script");
  const lineAfterTab = async (typed, want) => {
    tmux("send-keys", "-t", "z", "C-u", typed, "Tab");
    const text = await waitFor((s) => s.includes(`READY% ${want}`));
    return text.split("\n").filter((l) => l.startsWith("READY% ")).pop() ?? "";
  };
  t.equal((await lineAfterTab("wspy rec", "wspy record")).trimEnd(), "READY% wspy record", "wspy rec<Tab> -> wspy record");
  t.equal((await lineAfterTab("wspy record --ra", "wspy record --rate")).trimEnd(), "READY% wspy record --rate", "wspy record --ra<Tab> -> --rate");
  t.equal((await lineAfterTab("wspy record -f sp", "wspy record -f speedscope")).trimEnd(), "READY% wspy record -f speedscope", "a choice of --format");
  t.equal((await lineAfterTab("wspy tables ch", "wspy tables check")).trimEnd(), "READY% wspy tables check", "a nested command");
});
