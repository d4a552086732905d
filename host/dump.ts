// One-shot stack dump: every thread's stack, innermost frame first, as text or JSON.
// Must not know: CPython layouts (the core walks); it formats what the core found.
// Source of truth: the JSON shape documented in README ("wspy dump --json").

import { Target, TargetInfo } from "./attach.js";
import { ST_GONE, ST_PERM, STATUS_NAMES, R_TID, R_THREAD, R_NODE, R_STATUS, R_GIL } from "./core.js";
import { TaskStates } from "./proc.js";
import { WspyError, permissionHint } from "./errors.js";
import { terminalSafe } from "./render/text.js";

export interface DumpFrame { name: string; file: string; line: number }
export interface DumpThread {
  ident: number;
  tid: number;
  active: boolean;
  gil: boolean;
  /** why the stack is missing or partial, when it is */
  error?: string;
  frames: DumpFrame[];
}
export interface DumpResult {
  pid: number;
  command: string[];
  python: string;
  binary: string;
  tableSource: string;
  threads: DumpThread[];
}

/** Samples every thread of pid once (retrying torn stacks a few times). */
export async function dump(pid: number, opts: { versionTables?: string[]; forceVersion?: string } = {}): Promise<DumpResult> {
  const target = await Target.attach(pid, {
    versionTables: opts.versionTables, forceVersion: opts.forceVersion, wantGil: true,
    notice: (l) => process.stderr.write(l + "\n"),
  });
  try {
    return dumpTarget(target);
  } finally {
    target.close();
  }
}

export function dumpTarget(target: Target): DumpResult {
  const core = target.core;
  const tasks = new TaskStates(target.info.pid);
  let threads: DumpThread[] = [];
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const n = core.x.walkSample();
      if (n < 0) {
        if (-n === ST_GONE) throw new WspyError("NO_SUCH_PROCESS", `process ${target.info.pid} exited`, "");
        if (-n === ST_PERM) throw new WspyError("PERMISSION", `permission denied reading process ${target.info.pid}`, permissionHint());
        continue;
      }
      const v = core.i32();
      const base = core.x.walkResultsPtr() >> 2;
      threads = [];
      let torn = false;
      for (let i = 0; i < n; i++) {
        const r = base + i * 8;
        const st = v[r + R_STATUS];
        const info = core.thread(v[r + R_THREAD]);
        const node = v[r + R_NODE];
        const frames = st === 0 && node >= 0 ? core.stackOf(node).map((f) => {
          const fr = core.frame(f);
          return { name: fr.name, file: fr.file, line: fr.line };
        }) : [];
        if (st !== 0) torn = true;
        threads.push({
          ident: info.ident,
          tid: v[r + R_TID],
          active: !tasks.active(v[r + R_TID]) ? false : true,
          gil: v[r + R_GIL] === 1,
          ...(st !== 0 ? { error: STATUS_NAMES[st] } : {}),
          frames,
        });
      }
      if (!torn) break;
    }
  } finally {
    tasks.close();
  }
  const i: TargetInfo = target.info;
  return { pid: i.pid, command: i.command, python: i.version, binary: i.binary, tableSource: i.tableSource, threads };
}

export function renderDumpText(d: DumpResult): string {
  const out: string[] = [];
  out.push(`Process ${d.pid}: ${terminalSafe(d.command.join(" "))}`);
  out.push(`Python v${d.python} (${terminalSafe(d.binary)})`);
  for (const t of d.threads) {
    out.push("");
    const flags = [t.active ? "active" : "idle", ...(t.gil ? ["gil"] : [])].join(", ");
    out.push(`Thread ${t.tid || "?"} (${flags}): ident 0x${t.ident.toString(16)}${t.error ? ` [${t.error}]` : ""}`);
    for (const f of t.frames) out.push(`    ${terminalSafe(f.name)} (${terminalSafe(f.file)}:${f.line})`);
  }
  return out.join("\n") + "\n";
}
