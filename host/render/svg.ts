// An interactive, self-contained SVG flame graph (in the manner of flamegraph.pl / inferno,
// written from scratch): stacks merged by call path across threads, width = share of samples,
// hover details, click-to-zoom, Reset Zoom, regex search (a search field, focused by Ctrl-F) with
// the matched share; colours by origin (your code, standard library, third-party, native).
// Frames narrower than a pixel are merged, per parent, into one grey "[N narrow frames]" box.
// The layout, the document and its viewer script are flame.ts's (shared with diffsvg.ts); this
// file builds the tree of samples, colours the frames and says what hovering one shows.
// Must not know: the core, the reader, or any CPython layout; it reads only a Profile.
// Source of truth: SVG 1.1 and XML 1.0 (the file must be well-formed XML and open directly in a
// browser). Every string that came from the target is shown escaped (displayProfile: controls and
// bidi characters as visible `\x1b`, `\u202e` text) and goes through escapeXml(); the embedded
// script reads them back with getAttribute() and writes them only with textContent.

import type { Profile } from "../profile/profile.js";
import { frameLabel, frameOrigin, type CodeOrigin } from "../profile/profile.js";
import { pathFold } from "../profile/paths.js";
import { displayProfile } from "./common.js";
import { escapeText } from "../io/escape.js";
import { flameSvg, layoutTree, INNER, MIN_WIDTH_PX, MERGED_FILL, type DrawBox, type ViewerCode } from "./flame.js";

export interface FlamegraphOptions {
  /** text at the top; default "wspy" */
  title?: string;
  /** second line; default: target, Python version, duration, rate, samples, errors from meta */
  subtitle?: string;
  /** icicle graph: root at the top, callees below */
  reverse?: boolean;
}

/**
 * The merged call tree: node 0 is the synthetic "all" root (frame -1). Children are linked
 * lists (firstChild / nextSibling) found through one map keyed by (parent, frame): an hour's
 * profile has ~10^5 nodes, and a Map per node would cost tens of MB.
 */
interface Tree {
  frame: number[];
  parent: number[];
  depth: number[];
  total: number[];
  firstChild: number[];
  nextSibling: number[];
}

/** (parent, frame id) as one exact number key: frame ids stay below 2^24, nodes below 2^29. */
const FRAME_KEY = 2 ** 24;

function buildTree(profile: Profile): Tree {
  const tree: Tree = { frame: [-1], parent: [-1], depth: [0], total: [0], firstChild: [-1], nextSibling: [-1] };
  const nNodes = profile.nodeParent.length;
  const self: number[] = [0];
  const childOf = new Map<number, number>();

  const child = (parent: number, fid: number): number => {
    const key = parent * FRAME_KEY + (fid >= 0 && fid < FRAME_KEY ? fid : FRAME_KEY - 1);
    let c = childOf.get(key);
    if (c === undefined || tree.frame[c] !== fid) {
      c = tree.frame.length;
      tree.frame.push(fid);
      tree.parent.push(parent);
      tree.depth.push(tree.depth[parent] + 1);
      tree.total.push(0);
      tree.firstChild.push(-1);
      tree.nextSibling.push(tree.firstChild[parent]);
      tree.firstChild[parent] = c;
      self.push(0);
      childOf.set(key, c);
    }
    return c;
  };

  // trie node -> merged node, once per node; the root level hangs under "all" (0)
  const mapNode = pathFold(profile.nodeParent, 0, (m, node) => child(m, profile.nodeFrame[node]));

  for (let i = 0; i < profile.sampleNode.length; i++) {
    const node = profile.sampleNode[i];
    if (node < 0 || node >= nNodes) continue; // no Python stack in this sample
    self[mapNode(node)] += 1;
  }
  // children are always created after their parent, so a reverse sweep sums subtrees
  for (let i = tree.frame.length - 1; i >= 0; i--) {
    tree.total[i] += self[i];
    if (i > 0) tree.total[tree.parent[i]] += tree.total[i];
  }
  return tree;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Stable colour per function (name + file, not line), hashed so that it is the same in every
 *  run: warm for your code, aqua for the standard library, green for third-party packages,
 *  violet for native code (reserved), grey for synthetic frames. */
function colour(name: string, file: string, origin: CodeOrigin): string {
  if (origin === "synthetic") return "rgb(200,200,200)";
  const h = fnv1a(`${name}\u0000${file}`);
  const v1 = (h & 0xff) / 255;
  const v2 = ((h >>> 8) & 0xff) / 255;
  const v3 = ((h >>> 16) & 0xff) / 255;
  let r: number, g: number, b: number;
  switch (origin) {
    case "stdlib":
      [r, g, b] = [50 + 60 * v1, 165 + 55 * v2, 185 + 55 * v3];
      break;
    case "thirdparty":
      [r, g, b] = [80 + 70 * v1, 185 + 60 * v2, 60 + 50 * v3];
      break;
    case "native":
      [r, g, b] = [160 + 50 * v1, 120 + 40 * v2, 215 + 40 * v3];
      break;
    default:
      [r, g, b] = [205 + 50 * v3, 230 * v1, 55 * v2];
  }
  return `rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})`;
}

const pct = (n: number, total: number): string => (total > 0 ? ((100 * n) / total).toFixed(2) : "0.00");

function defaultSubtitle(profile: Profile): string {
  const m = profile.meta;
  const errs = Object.entries(m.errors ?? {}).filter(([, n]) => n > 0);
  const nErr = errs.reduce((s, [, n]) => s + n, 0);
  const parts = [
    m.target,
    m.pythonVersion ? `Python ${m.pythonVersion}` : "",
    `${(m.durationSec ?? 0).toFixed(2)} s`,
    `${m.rate} Hz`,
    `${m.samples} samples`,
    nErr ? `${nErr} errors (${errs.map(([k, n]) => `${k}: ${n}`).join(", ")})` : "0 errors",
  ];
  return parts.filter((p) => p !== "").join(" \u00b7 ");
}

/** The viewer's details line and search result for a flame graph of samples. */
const SAMPLES_VIEWER: ViewerCode = {
  sizeAttr: "samples",
  describe: `return (f.depth === 0 ? "all" : f.label) + " \\u2014 " + f.size + (f.size === 1 ? " sample (" : " samples (") + pct(f.size) + "%)";`,
  matched: `return "Matched: " + pct(covered) + "% (" + covered + " of " + TOTAL + " samples)";`,
};

export function renderFlamegraph(raw: Profile, opts: FlamegraphOptions = {}): string {
  const profile = displayProfile(raw);
  const tree = buildTree(profile);
  const total = tree.total[0];
  const minSamples = Math.max(1, (total * MIN_WIDTH_PX) / INNER);

  const fname = (m: number): string => profile.frames[tree.frame[m]]?.name ?? `frame #${tree.frame[m]}`;
  const ffile = (m: number): string => profile.frames[tree.frame[m]]?.file ?? "";
  const fline = (m: number): number => profile.frames[tree.frame[m]]?.line ?? 0;
  const labelOf = (m: number): string => {
    if (m === 0) return "all";
    const f = profile.frames[tree.frame[m]];
    return f ? frameLabel(f) : `frame #${tree.frame[m]}`;
  };
  const order = (a: number, b: number): number => {
    const na = fname(a), nb = fname(b);
    if (na !== nb) return na < nb ? -1 : 1;
    const fa = ffile(a), fb = ffile(b);
    if (fa !== fb) return fa < fb ? -1 : 1;
    return fline(a) - fline(b) || tree.frame[a] - tree.frame[b];
  };
  const { drawn, mergedBoxes, maxDepth } = layoutTree(
    { depth: tree.depth, size: tree.total, firstChild: tree.firstChild, nextSibling: tree.nextSibling, length: tree.frame.length },
    minSamples, order,
  );

  const boxes: DrawBox[] = [];
  for (const box of [...drawn, ...mergedBoxes]) {
    const { m, start } = box;
    const isMerged = box.merged > 0;
    const depth = tree.depth[m] + (isMerged ? 1 : 0);
    const samples = box.size;
    let name: string, file: string, line: number, origin: string, fill: string, label: string;
    if (isMerged) {
      name = `[${box.merged} narrow ${box.merged === 1 ? "frame" : "frames"}]`;
      file = "";
      line = 0;
      origin = "merged";
      fill = MERGED_FILL;
      label = `${name} called from ${labelOf(m)}`;
    } else {
      const f = m === 0 ? undefined : profile.frames[tree.frame[m]];
      name = m === 0 ? "all" : fname(m);
      const o: CodeOrigin = m === 0 ? "synthetic" : f ? frameOrigin(f) : "user";
      origin = o;
      file = o === "synthetic" ? "" : ffile(m);
      line = o === "synthetic" ? 0 : fline(m);
      fill = colour(name, file, o);
      label = labelOf(m);
    }
    const empty = m === 0 && total === 0;
    boxes.push({
      start, size: samples, depth, root: m === 0 && !isMerged, fill,
      tip: empty ? "all: no samples" : `${label}\n${samples} ${samples === 1 ? "sample" : "samples"}, ${pct(samples, total)}%`,
      shown: empty ? "no samples" : isMerged ? name : label,
      data: [["name", name], ["file", file], ["line", line], ["samples", samples], ["start", start], ["depth", depth], ["origin", origin]],
    });
  }

  return flameSvg({
    title: escapeText(opts.title ?? "wspy"),
    subtitle: escapeText(opts.subtitle ?? defaultSubtitle(profile)),
    total, reverse: !!opts.reverse, maxDepth, boxes,
    legend: [
      ["your code", colour("a", "", "user")],
      ["standard library", colour("a", "", "stdlib")],
      ["third-party", colour("a", "", "thirdparty")],
      ["native", colour("a", "", "native")],
      ["merged narrow frames", MERGED_FILL],
    ],
    script: SAMPLES_VIEWER,
  });
}
