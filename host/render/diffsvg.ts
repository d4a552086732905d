// The differential flame graph of `wspy diff A B`: one interactive SVG (the same viewer as the
// flame graph: hover details, click to zoom, Reset Zoom, Ctrl-F search) whose frames are the call
// paths of both profiles. Each stack is as wide as the larger of its two shares (so a path only A
// has is drawn too), a frame as wide as its stacks together; its colour says how its total share
// changed from A to B: red = more of B's time (slower), blue = less (faster), intensity by the
// size of the change, grey-white when the change is within sampling noise. Hovering shows A's and
// B's total and self shares and their changes in percentage points.
// Must not know: the core, the reader, files, the terminal; it reads two Profiles.
// Source of truth: host/profile/diff.ts (the comparison); host/render/flame.ts (the drawing);
// brendangregg/FlameGraph difffolded.pl and flamegraph.pl's differential colours (red grew, blue
// shrank). Every string from a target is shown escaped (displayProfile) and XML-escaped.

import type { Profile } from "../profile/profile.js";
import { frameLabel, frameOrigin } from "../profile/profile.js";
import { diffProfiles, withinNoise, type DiffOptions, type ProfileDiff } from "../profile/diff.js";
import { displayProfile } from "./common.js";
import { escapeText } from "../io/escape.js";
import { flameSvg, layoutTree, INNER, MIN_WIDTH_PX, MERGED_FILL, type DrawBox, type ViewerCode } from "./flame.js";

export interface DiffFlamegraphOptions extends DiffOptions {
  /** what A and B are (file names, history ranges), for the subtitle */
  nameA?: string;
  nameB?: string;
  title?: string;
  reverse?: boolean;
}

/** Width units per whole profile: integers, so that sums and the viewer's comparisons are exact. */
const UNITS = 1_000_000;

export const SAME_FILL = "rgb(228,228,222)";
/** red (more of B's time) or blue (less), paler for smaller changes: t in 0..1 */
export function changeFill(delta: number, t: number): string {
  const v = Math.round(225 - 185 * Math.min(1, Math.max(0, t)));
  return delta > 0 ? `rgb(255,${v},${v})` : `rgb(${v},${v},255)`;
}

const pct = (share: number): string => (100 * share).toFixed(2);
const points = (delta: number): string => `${delta >= 0 ? "+" : "-"}${Math.abs(100 * delta).toFixed(2)}`;
/** a share as a data attribute: percent, 4 decimals */
const attr = (share: number): number => Math.round(share * 1e6) / 1e4;

/** "A 15.22% → B 30.26% (+15.04 points)" */
export function shareChange(a: number, b: number): string {
  return `A ${pct(a)}% \u2192 B ${pct(b)}% (${points(b - a)} points)`;
}

const DIFF_VIEWER: ViewerCode = {
  sizeAttr: "w",
  describe: `var r = f.rect, a = +r.getAttribute("data-a"), b = +r.getAttribute("data-b");
    function ch(x, y) {
      var d = y - x;
      return "A " + x.toFixed(2) + "% \\u2192 B " + y.toFixed(2) + "% (" + (d >= 0 ? "+" : "-") + Math.abs(d).toFixed(2) + " points)";
    }
    var text = (f.depth === 0 ? "all" : f.label) + " \\u2014 total " + ch(a, b);
    if (!f.merged && f.depth > 0) text += "; self " + ch(+r.getAttribute("data-sa"), +r.getAttribute("data-sb"));
    return text;`,
  matched: `var a = 0, b = 0;
    for (var i = 0; i < tops.length; i++) { a += +tops[i].rect.getAttribute("data-a"); b += +tops[i].rect.getAttribute("data-b"); }
    var d = b - a;
    return "Matched: A " + a.toFixed(2) + "% \\u2192 B " + b.toFixed(2) + "% (" + (d >= 0 ? "+" : "-") + Math.abs(d).toFixed(2) + " points)";`,
};

function sideText(name: string | undefined, p: Profile, samples: number): string {
  const parts = [name ?? p.meta.target, `${samples} samples`];
  if (p.meta.durationSec > 0) parts.push(`${p.meta.durationSec.toFixed(2)} s`);
  return `${parts[0]} (${parts.slice(1).join(", ")})`;
}

export function renderDiffFlamegraph(rawA: Profile, rawB: Profile, opts: DiffFlamegraphOptions = {}): string {
  const A = displayProfile(rawA), B = displayProfile(rawB);
  const d: ProfileDiff = diffProfiles(A, B, opts);
  const n = d.frame.length;

  // widths: each node's own stacks at the larger of their two shares, plus its callees' widths
  const size = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    size[i] += Math.round(Math.max(d.selfA[i], d.selfB[i]) * UNITS);
    if (i > 0) size[d.parent[i]] += size[i];
  }
  const total = size[0];

  const frameOf = (m: number) => d.frames[d.frame[m]];
  const fname = (m: number): string => frameOf(m)?.name ?? "";
  const ffile = (m: number): string => frameOf(m)?.file ?? "";
  const fline = (m: number): number => frameOf(m)?.line ?? 0;
  const labelOf = (m: number): string => (m === 0 ? "all" : frameLabel(frameOf(m)));
  const order = (x: number, y: number): number => {
    const nx = fname(x), ny = fname(y);
    if (nx !== ny) return nx < ny ? -1 : 1;
    const fx = ffile(x), fy = ffile(y);
    if (fx !== fy) return fx < fy ? -1 : 1;
    return fline(x) - fline(y) || d.frame[x] - d.frame[y];
  };
  const { drawn, mergedBoxes, maxDepth } = layoutTree(
    { depth: d.depth, size, firstChild: d.firstChild, nextSibling: d.nextSibling, length: n },
    (total * MIN_WIDTH_PX) / INNER, order,
  );

  // colour intensity: relative to the largest change of a drawn frame
  let maxDelta = 0;
  for (const box of drawn) {
    if (box.m === 0) continue;
    const delta = Math.abs(d.totalB[box.m] - d.totalA[box.m]);
    if (delta > maxDelta && !withinNoise(d, d.totalA[box.m], d.totalB[box.m])) maxDelta = delta;
  }

  const boxes: DrawBox[] = [];
  for (const box of drawn) {
    const m = box.m;
    const a = d.totalA[m], b = d.totalB[m];
    const same = m === 0 || withinNoise(d, a, b);
    const change = same ? "same" : b > a ? "up" : "down";
    const fill = same ? SAME_FILL : changeFill(b - a, maxDelta > 0 ? Math.abs(b - a) / maxDelta : 1);
    const f = m === 0 ? undefined : frameOf(m);
    const origin = f ? frameOrigin(f) : "synthetic";
    const label = labelOf(m);
    const tip = m === 0 ? `all\ntotal ${shareChange(a, b)}` : `${label}\ntotal ${shareChange(a, b)}\nself ${shareChange(d.selfA[m], d.selfB[m])}`;
    boxes.push({
      start: box.start, size: box.size, depth: d.depth[m], root: m === 0, fill, tip, shown: label,
      data: [
        ["name", m === 0 ? "all" : fname(m)], ["file", origin === "synthetic" ? "" : ffile(m)], ["line", origin === "synthetic" ? 0 : fline(m)],
        ["w", box.size], ["start", box.start], ["depth", d.depth[m]], ["origin", origin],
        ["a", attr(a)], ["b", attr(b)], ["sa", attr(d.selfA[m])], ["sb", attr(d.selfB[m])], ["change", change],
      ],
    });
  }
  // a merged box: the parent's children not drawn on their own, lumped together
  const drawnNodes = new Set(drawn.map((x) => x.m));
  for (const box of mergedBoxes) {
    let a = 0, b = 0;
    for (let c = d.firstChild[box.m]; c >= 0; c = d.nextSibling[c]) {
      if (!drawnNodes.has(c)) { a += d.totalA[c]; b += d.totalB[c]; }
    }
    const name = `[${box.merged} narrow ${box.merged === 1 ? "frame" : "frames"}]`;
    boxes.push({
      start: box.start, size: box.size, depth: d.depth[box.m] + 1, root: false, fill: MERGED_FILL,
      tip: `${name} called from ${labelOf(box.m)}\ntotal ${shareChange(a, b)}`, shown: name,
      data: [
        ["name", name], ["file", ""], ["line", 0], ["w", box.size], ["start", box.start], ["depth", d.depth[box.m] + 1],
        ["origin", "merged"], ["a", attr(a)], ["b", attr(b)], ["sa", 0], ["sb", 0], ["change", "merged"],
      ],
    });
  }

  return flameSvg({
    title: escapeText(opts.title ?? "wspy diff"),
    subtitle: escapeText(`A: ${sideText(opts.nameA, A, d.a.samples)} \u2192 B: ${sideText(opts.nameB, B, d.b.samples)}; shares of each profile's samples; width: the larger share`),
    total, reverse: !!opts.reverse, maxDepth, boxes,
    legend: [
      ["more of B's time (slower)", changeFill(1, 0.6)],
      ["less (faster)", changeFill(-1, 0.6)],
      ["within noise", SAME_FILL],
      ["merged narrow frames", MERGED_FILL],
    ],
    rootData: [["samples-a", d.a.samples], ["samples-b", d.b.samples]],
    script: DIFF_VIEWER,
  });
}
