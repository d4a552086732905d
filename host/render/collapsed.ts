// Collapsed ("folded") stacks: one line per distinct stack, `root;...;leaf count`, the input
// format of flamegraph.pl, inferno and speedscope's importer.
// Must not know: the core, the reader, or any CPython layout; it reads only a Profile.
// Source of truth: Brendan Gregg's stackcollapse format (flamegraph.pl README): frames joined
// by `;`, then one space and the sample count; the count is everything after the last space.

import type { Profile } from "../profile/profile.js";
import { frameLabel } from "../profile/profile.js";
import { pathFold } from "../profile/paths.js";
import { displayProfile, threadLabel } from "./common.js";
import { escapeFileText } from "../io/escape.js";

export interface CollapsedOptions {
  /** start every stack with a `thread-name (tid)` frame */
  threads?: boolean;
}

export function renderCollapsed(raw: Profile, opts: CollapsedOptions = {}): string {
  const profile = displayProfile(raw);
  // a label made safe for the format (host/io/escape.ts): controls and line breaks escaped by
  // displayProfile, `;` (the frame separator) shown as `:`
  const clean = escapeFileText;
  const nNodes = profile.nodeParent.length;
  const frameText = profile.frames.map((f) => clean(frameLabel(f)));
  // node -> "root;...;node", once per node
  const textOf = pathFold(profile.nodeParent, "", (prefix, node) => {
    const fid = profile.nodeFrame[node];
    const label = frameText[fid] ?? `frame #${fid}`;
    return prefix === "" ? label : `${prefix};${label}`;
  });

  const counts = new Map<string, number>();
  const threadText = new Map<number, string>();
  for (let i = 0; i < profile.sampleNode.length; i++) {
    const node = profile.sampleNode[i];
    if (node < 0 || node >= nNodes) continue; // no Python stack in this sample
    let key = textOf(node);
    if (opts.threads) {
      const t = profile.sampleThread[i];
      let tl = threadText.get(t);
      if (tl === undefined) threadText.set(t, (tl = clean(threadLabel(profile, t))));
      key = `${tl};${key}`;
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }

  const lines: string[] = [];
  for (const [stack, count] of counts) lines.push(`${stack} ${count}`);
  lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // code-unit order: deterministic, locale-free
  return lines.length ? lines.join("\n") + "\n" : "";
}
