// An interactive, self-contained SVG flame graph (in the manner of flamegraph.pl / inferno,
// written from scratch): stacks merged by call path across threads, width = share of samples,
// hover details, click-to-zoom, Reset Zoom, regex search (a search field, focused by Ctrl-F) with
// the matched share; colours by origin (your code, standard library, third-party, native).
// Frames narrower than a pixel are merged, per parent, into one grey "[N narrow frames]" box.
// Must not know: the core, the reader, or any CPython layout; it reads only a Profile.
// Source of truth: SVG 1.1 and XML 1.0 (the file must be well-formed XML and open directly in a
// browser). Every string that came from the target goes through escapeXml(); the embedded
// script reads them back with getAttribute() and writes them only with textContent.

import type { Profile } from "../profile.js";
import { frameLabel } from "../profile.js";
import { codeOrigin, escapeXml, type CodeOrigin } from "./common.js";

export interface FlamegraphOptions {
  /** text at the top; default "wspy" */
  title?: string;
  /** second line; default: target, Python version, duration, rate, samples, errors from meta */
  subtitle?: string;
  /** icicle graph: root at the top, callees below */
  reverse?: boolean;
}

const WIDTH = 1200;
const XPAD = 10;
const INNER = WIDTH - 2 * XPAD;
const FRAME_H = 16;
const FONT = 12;
const CHAR_W = FONT * 0.59; // average glyph width of Verdana at FONT px, as flamegraph.pl assumes
const TOP = 70; // title, subtitle, controls and legend
const BOTTOM = 34; // details line
/** a frame narrower than this many pixels at full width is not drawn on its own: it is merged
 *  with its narrow siblings into one "[N narrow frames]" box (drawn when that is wide enough) */
const MIN_WIDTH_PX = 1;
/** hard cap on drawn frames, so pathological profiles still give a usable file */
const MAX_FRAMES = 12000;
/** hard cap on the merged boxes added on top of MAX_FRAMES */
const MAX_MERGED = 4000;
const SEARCH_FILL = "rgb(230,0,230)";
const MERGED_FILL = "rgb(185,185,185)";
const SEARCH_BOX_W = 210;

/** The merged call tree: node 0 is the synthetic "all" root (frame -1). */
interface Tree {
  frame: number[];
  parent: number[];
  depth: number[];
  total: number[];
  children: Map<number, number>[];
}

function buildTree(profile: Profile): Tree {
  const tree: Tree = { frame: [-1], parent: [-1], depth: [0], total: [0], children: [new Map()] };
  const nNodes = profile.nodeParent.length;
  // trie node -> merged node (-1 = not yet mapped)
  const merged = new Int32Array(nNodes).fill(-1);
  const self: number[] = [0];

  const child = (parent: number, fid: number): number => {
    const kids = tree.children[parent];
    let c = kids.get(fid);
    if (c === undefined) {
      c = tree.frame.length;
      tree.frame.push(fid);
      tree.parent.push(parent);
      tree.depth.push(tree.depth[parent] + 1);
      tree.total.push(0);
      tree.children.push(new Map());
      self.push(0);
      kids.set(fid, c);
    }
    return c;
  };

  const mapNode = (node: number): number => {
    const chain: number[] = [];
    let n = node;
    for (let guard = 0; n >= 0 && n < nNodes && merged[n] < 0 && guard <= nNodes; guard++) {
      chain.push(n);
      n = profile.nodeParent[n];
    }
    let m = n >= 0 && n < nNodes ? merged[n] : 0;
    for (let i = chain.length - 1; i >= 0; i--) {
      m = child(m, profile.nodeFrame[chain[i]]);
      merged[chain[i]] = m;
    }
    return m;
  };

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

@@TAIL@@