// The text table of `wspy diff A B -f text`: functions sorted by how much their self share
// changed from A to B (largest first, either way), with each side's self and total shares and
// the change in percentage points; a change within sampling noise is marked `~`.
// Must not know: the core, the reader, files; where the text goes (stdout or a file).
// Source of truth: host/profile/diff.ts (the comparison). Every name from a target is shown
// escaped for the terminal (displayProfile → escapeText, host/io/escape.ts).

import type { Profile } from "../profile/profile.js";
import { frameLabel } from "../profile/profile.js";
import { diffProfiles, withinNoise, NOISE_Z, type DiffOptions, type FunctionChange } from "../profile/diff.js";
import { displayProfile } from "./common.js";
import { escapeText } from "../io/escape.js";

export interface DiffTableOptions extends DiffOptions {
  nameA?: string;
  nameB?: string;
  /** at most this many functions (0: all) */
  rows?: number;
}

const pct = (share: number): string => `${(100 * share).toFixed(2)}%`;
const points = (delta: number): string => `${delta >= 0 ? "+" : "-"}${Math.abs(100 * delta).toFixed(2)}`;

/** The functions in the table's order: largest self change first, then largest total change, then by name. */
export function rankFunctions(list: FunctionChange[], label: (f: FunctionChange) => string): FunctionChange[] {
  return list.slice().sort((x, y) =>
    Math.abs(y.selfB - y.selfA) - Math.abs(x.selfB - x.selfA)
    || Math.abs(y.totalB - y.totalA) - Math.abs(x.totalB - x.totalA)
    || (label(x) < label(y) ? -1 : label(x) > label(y) ? 1 : 0));
}

export function renderDiffTable(rawA: Profile, rawB: Profile, opts: DiffTableOptions = {}): string {
  const A = displayProfile(rawA), B = displayProfile(rawB);
  const d = diffProfiles(A, B, opts);
  const label = (f: FunctionChange): string => frameLabel(d.frames[f.frame]);
  const ranked = rankFunctions(d.functions, label);
  const limit = opts.rows && opts.rows > 0 ? Math.min(opts.rows, ranked.length) : ranked.length;
  const side = (name: string | undefined, p: Profile, samples: number): string =>
    `${escapeText(name ?? p.meta.target)} (${samples} samples${p.meta.durationSec > 0 ? `, ${p.meta.durationSec.toFixed(2)} s` : ""})`;

  const head = ["A self", "B self", "change", "A total", "B total"];
  const rows = ranked.slice(0, limit).map((f) => {
    const noise = withinNoise(d, f.selfA, f.selfB);
    return [pct(f.selfA), pct(f.selfB), `${noise ? "~" : ""}${points(f.selfB - f.selfA)}`, pct(f.totalA), pct(f.totalB), label(f)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.slice(0, 5).map((c, i) => c.padStart(widths[i])).join("  ") + "  " + cells[5];
  const out = [
    `A: ${side(opts.nameA, A, d.a.samples)}`,
    `B: ${side(opts.nameB, B, d.b.samples)}`,
    `shares of each profile's samples; change = B self - A self in percentage points; ~ = within noise (${NOISE_Z} standard errors)`,
    "",
    line([...head, "function"]),
    ...rows.map(line),
  ];
  if (limit < ranked.length) out.push(`... ${ranked.length - limit} more functions (--rows 0 shows all)`);
  return out.join("\n") + "\n";
}
