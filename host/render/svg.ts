// An interactive, self-contained SVG flame graph (in the manner of flamegraph.pl / inferno,
// written from scratch): stacks merged by call path across threads, width = share of samples,
// hover details, click-to-zoom, Reset Zoom, regex search (a search field, focused by Ctrl-F) with
// the matched share; colours by origin (your code, standard library, third-party, native).
// Frames narrower than a pixel are merged, per parent, into one grey "[N narrow frames]" box.
// Must not know: the core, the reader, or any CPython layout; it reads only a Profile.
// Source of truth: SVG 1.1 and XML 1.0 (the file must be well-formed XML and open directly in a
// browser). Every string that came from the target is shown escaped (displayProfile: controls and
// bidi characters as visible `\x1b`, `\u202e` text) and goes through escapeXml(); the embedded
// script reads them back with getAttribute() and writes them only with textContent.

import type { Profile } from "../profile/profile.js";
import { frameLabel, frameOrigin, type CodeOrigin } from "../profile/profile.js";
import { pathFold } from "../profile/paths.js";
import { displayProfile, escapeXml } from "./common.js";
import { escapeText } from "../io/escape.js";

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

const num = (n: number): string => String(Math.round(n * 100) / 100);
const pct = (n: number, total: number): string => (total > 0 ? ((100 * n) / total).toFixed(2) : "0.00");

/** The label as drawn in a box `px` wide: whole, cut with "..", or nothing (same rule as the script). */
function fitLabel(label: string, px: number): string {
  const chars = Math.floor((px - 6) / CHAR_W);
  if (chars < 3) return "";
  const cps = Array.from(label); // never split a surrogate pair
  return cps.length <= chars ? label : cps.slice(0, chars - 2).join("") + "..";
}

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

/** One box to draw: a merged-tree node, or (merged > 0) the narrow children of node m lumped together. */
interface Box {
  m: number;
  start: number;
  /** number of narrow children lumped into this box; 0 for a real frame */
  merged: number;
  /** samples of the lumped children (merged boxes only) */
  samples: number;
}

export function renderFlamegraph(raw: Profile, opts: FlamegraphOptions = {}): string {
  const profile = displayProfile(raw);
  const tree = buildTree(profile);
  const total = tree.total[0];
  const reverse = !!opts.reverse;
  const nTree = tree.frame.length;
  const minSamples = Math.max(1, (total * MIN_WIDTH_PX) / INNER);

  // Which merged nodes are drawn: those at least a pixel wide, and of those at most MAX_FRAMES,
  // preferring more samples, then shallower depth. A child never has more samples than its
  // parent and is deeper, so either rule keeps the drawn set ancestor-closed.
  const drawable = new Uint8Array(nTree);
  {
    const eligible: number[] = [];
    for (let i = 1; i < nTree; i++) if (tree.total[i] >= minSamples) eligible.push(i);
    if (eligible.length > MAX_FRAMES) {
      eligible.sort((a, b) => tree.total[b] - tree.total[a] || tree.depth[a] - tree.depth[b] || a - b);
      eligible.length = MAX_FRAMES;
    }
    for (const i of eligible) drawable[i] = 1;
  }

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

  // Lay out: pre-order walk, children sorted by name, packed from the parent's left edge; then
  // one merged box for the children too narrow (or past the cap) to draw; the parent's self time
  // is the space left on the right. Every box spans exactly samples/total of the width and lies
  // inside its parent's sample interval.
  const drawn: Box[] = [];
  const mergedBoxes: Box[] = [];
  let maxDepth = 0;
  const stack: Box[] = [{ m: 0, start: 0, merged: 0, samples: total }];
  while (stack.length) {
    const box = stack.pop() as Box;
    drawn.push(box);
    const m = box.m;
    if (tree.depth[m] > maxDepth) maxDepth = tree.depth[m];
    const kids: number[] = [];
    let narrowCount = 0, narrowSamples = 0;
    for (let c = tree.firstChild[m]; c >= 0; c = tree.nextSibling[c]) {
      if (drawable[c] === 1) kids.push(c);
      else { narrowCount++; narrowSamples += tree.total[c]; }
    }
    kids.sort(order);
    const placed: Box[] = [];
    let x = box.start;
    for (const c of kids) {
      placed.push({ m: c, start: x, merged: 0, samples: tree.total[c] });
      x += tree.total[c];
    }
    if (narrowCount > 0 && narrowSamples >= minSamples) {
      mergedBoxes.push({ m, start: x, merged: narrowCount, samples: narrowSamples });
    }
    for (let i = placed.length - 1; i >= 0; i--) stack.push(placed[i]); // pop in name order
  }
  if (mergedBoxes.length > MAX_MERGED) {
    mergedBoxes.sort((a, b) => b.samples - a.samples || tree.depth[a.m] - tree.depth[b.m] || a.m - b.m);
    mergedBoxes.length = MAX_MERGED;
    mergedBoxes.sort((a, b) => a.m - b.m);
  }
  for (const b of mergedBoxes) if (tree.depth[b.m] + 1 > maxDepth) maxDepth = tree.depth[b.m] + 1;

  const height = TOP + (maxDepth + 1) * FRAME_H + BOTTOM;
  const yOf = (depth: number): number =>
    reverse ? TOP + depth * FRAME_H : height - BOTTOM - (depth + 1) * FRAME_H;
  const scale = total > 0 ? INNER / total : 0;

  const title = escapeText(opts.title ?? "wspy");
  const subtitle = escapeText(opts.subtitle ?? defaultSubtitle(profile));
  const boxX = WIDTH - XPAD - SEARCH_BOX_W;

  const out: string[] = [];
  out.push(
    `<?xml version="1.0" encoding="UTF-8" standalone="no"?>`,
    `<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" data-total="${total}" data-reverse="${reverse ? 1 : 0}">`,
    `<title>${escapeXml(title)}</title>`,
    `<style type="text/css"><![CDATA[`,
    `text { font-family: Verdana, "DejaVu Sans", sans-serif; font-size: ${FONT}px; fill: rgb(0,0,0); }`,
    `#title { font-size: 17px; text-anchor: middle; }`,
    `#subtitle { fill: rgb(90,90,90); text-anchor: middle; }`,
    `.ctl { cursor: pointer; fill: rgb(40,40,160); }`,
    `.ctl:hover { text-decoration: underline; }`,
    `.ctl.off { opacity: 0.35; cursor: default; text-decoration: none; }`,
    `#matched { text-anchor: end; }`,
    `#searchbox { box-sizing: border-box; width: ${SEARCH_BOX_W}px; height: 22px; font: 12px Verdana, "DejaVu Sans", sans-serif; padding: 1px 4px; }`,
    `#searchbox.bad { background: rgb(255,225,225); }`,
    `g.f { cursor: pointer; }`,
    `g.f text { pointer-events: none; }`,
    `g.f:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; }`,
    `g.f.hide { display: none; }`,
    `g.f.anc rect { opacity: 0.55; }`,
    `]]></style>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="rgb(250,250,245)"/>`,
    `<text id="title" x="${WIDTH / 2}" y="24">${escapeXml(fitLabel(title, 600))}</text>`,
    `<text id="subtitle" x="${WIDTH / 2}" y="44">${escapeXml(fitLabel(subtitle, INNER))}<title>${escapeXml(subtitle)}</title></text>`,
    `<text id="unzoom" class="ctl off" x="${XPAD}" y="24">Reset Zoom</text>`,
    `<text id="search" class="ctl" x="${boxX - 8}" y="24" text-anchor="end">Search</text>`,
    // a real text field where the viewer supports foreignObject (every current browser); the
    // script falls back to a prompt() where it does not
    `<foreignObject x="${boxX}" y="8" width="${SEARCH_BOX_W}" height="24">` +
      `<input xmlns="http://www.w3.org/1999/xhtml" id="searchbox" type="text" spellcheck="false" autocomplete="off"` +
      ` placeholder="regular expression (Ctrl-F)" title="Search: a regular expression matched against name (file:line)"/>` +
      `</foreignObject>`,
    `<text id="details" x="${XPAD}" y="${height - 12}"> </text>`,
    `<text id="matched" x="${WIDTH - XPAD}" y="${height - 12}"> </text>`,
    `<g id="frames">`,
  );

  const all = [...drawn, ...mergedBoxes];
  for (const box of all) {
    const { m, start } = box;
    const isMerged = box.merged > 0;
    const depth = tree.depth[m] + (isMerged ? 1 : 0);
    const samples = box.samples;
    const x = XPAD + start * scale;
    const w = m === 0 && !isMerged ? INNER : samples * scale;
    const y = yOf(depth);
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
    const tip = m === 0 && total === 0 ? "all: no samples" : `${label}\n${samples} ${samples === 1 ? "sample" : "samples"}, ${pct(samples, total)}%`;
    const shown = m === 0 && total === 0 ? "no samples" : fitLabel(isMerged ? name : label, w);
    out.push(
      `<g class="f"><title>${escapeXml(tip)}</title>` +
        `<rect x="${num(x)}" y="${y}" width="${num(w)}" height="${FRAME_H - 1}" rx="2" ry="2" fill="${fill}"` +
        ` data-name="${escapeXml(name)}" data-file="${escapeXml(file)}" data-line="${line}"` +
        ` data-samples="${samples}" data-start="${start}" data-depth="${depth}" data-origin="${origin}"/>` +
        `<text x="${num(x + 3)}" y="${y + FRAME_H - 4.5}">${escapeXml(shown)}</text></g>`,
    );
  }
  out.push(`</g>`);

  // legend, top right under the search field
  const legend: [string, string][] = [
    ["your code", colour("a", "", "user")],
    ["standard library", colour("a", "", "stdlib")],
    ["third-party", colour("a", "", "thirdparty")],
    ["native", colour("a", "", "native")],
    ["merged narrow frames", MERGED_FILL],
  ];
  let lx = WIDTH - XPAD;
  const legendParts: string[] = [];
  for (let i = legend.length - 1; i >= 0; i--) {
    const [text, fill] = legend[i];
    lx -= text.length * CHAR_W * 0.85;
    legendParts.unshift(
      `<rect x="${num(lx - 12)}" y="${TOP - 18}" width="9" height="9" fill="${fill}"/>` +
        `<text x="${num(lx)}" y="${TOP - 10}" style="font-size:10px">${text}</text>`,
    );
    lx -= 24;
  }
  out.push(`<g id="legend">${legendParts.join("")}</g>`);

  out.push(`<script type="text/ecmascript"><![CDATA[`, script(), `]]></script>`, `</svg>`, ``);
  return out.join("\n");
}

/** The embedded viewer. Contains no data from the target: it reads data-* attributes at load
 *  time and only ever writes strings through textContent / setAttribute. */
function script(): string {
  return `(function () {
  "use strict";
  var XPAD = ${XPAD}, INNER = ${INNER}, CHAR_W = ${CHAR_W}, SEARCH_FILL = "${SEARCH_FILL}";
  var doc = document, root = doc.documentElement;
  var TOTAL = +root.getAttribute("data-total");
  var details = doc.getElementById("details"), matched = doc.getElementById("matched");
  var unzoomBtn = doc.getElementById("unzoom"), searchBtn = doc.getElementById("search");
  var box = doc.getElementById("searchbox");
  if (box && typeof box.focus !== "function") box = null;
  var frames = [], byGroup = new Map(), zoomed = null, searching = null;

  var groups = doc.getElementById("frames").children;
  for (var i = 0; i < groups.length; i++) {
    var g = groups[i], r = g.querySelector("rect"), t = g.querySelector("text");
    var line = +r.getAttribute("data-line"), file = r.getAttribute("data-file");
    var name = r.getAttribute("data-name"), origin = r.getAttribute("data-origin");
    // the same text as frameLabel() in profile.ts: "name (file:line)", bare name for synthetic frames
    var label = origin === "synthetic" || origin === "merged" ? name
      : name + " (" + file + (line > 0 ? ":" + line : "") + ")";
    var f = { g: g, rect: r, text: t, name: name, label: label, merged: origin === "merged",
      samples: +r.getAttribute("data-samples"), start: +r.getAttribute("data-start"),
      depth: +r.getAttribute("data-depth"), fill: r.getAttribute("fill") };
    frames.push(f);
    byGroup.set(g, f);
  }

  function pct(n) { return TOTAL > 0 ? (100 * n / TOTAL).toFixed(2) : "0.00"; }
  function fit(label, px) {
    var chars = Math.floor((px - 6) / CHAR_W);
    if (chars < 3) return "";
    var cps = Array.from(label);
    return cps.length <= chars ? label : cps.slice(0, chars - 2).join("") + "..";
  }
  function place(f, x, w) {
    f.rect.setAttribute("x", x.toFixed(2));
    f.rect.setAttribute("width", w.toFixed(2));
    f.text.setAttribute("x", (x + 3).toFixed(2));
    f.text.textContent = TOTAL > 0 ? fit(f.merged ? f.name : f.label, w) : f.text.textContent;
  }
  function frameOf(node) {
    for (; node && node !== root; node = node.parentNode) {
      var f = byGroup.get(node);
      if (f) return f;
    }
    return null;
  }
  function describe(f) {
    return (f.depth === 0 ? "all" : f.label) + " \\u2014 " + f.samples + (f.samples === 1 ? " sample (" : " samples (") + pct(f.samples) + "%)";
  }

  function zoom(z) {
    if (TOTAL <= 0) return;
    zoomed = z;
    var s = z.start, e = z.start + z.samples;
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i], fs = f.start, fe = f.start + f.samples;
      f.g.classList.remove("hide", "anc");
      if (f.depth < z.depth && fs <= s && fe >= e) {
        f.g.classList.add("anc");                   // ancestor: kept, spanning the width
        place(f, XPAD, INNER);
      } else if (f.depth >= z.depth && fs >= s && fe <= e) {
        place(f, XPAD + (fs - s) / z.samples * INNER, f.samples / z.samples * INNER);
      } else {
        f.g.classList.add("hide");
      }
    }
    unzoomBtn.classList.toggle("off", z.depth === 0);
    if (z.depth === 0) zoomed = null;
  }
  function unzoom() { if (frames.length) zoom(frames[0]); }

  function search(text) {
    var re;
    try { re = new RegExp(text); } catch (err) {
      matched.textContent = "Bad regular expression: " + err.message;
      if (box) box.classList.add("bad");
      return;
    }
    if (box) box.classList.remove("bad");
    searching = text;
    var spans = [];
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      if (i > 0 && !f.merged && re.test(f.label)) {
        f.rect.setAttribute("fill", SEARCH_FILL);
        spans.push([f.start, f.start + f.samples]);
      } else {
        f.rect.setAttribute("fill", f.fill);
      }
    }
    // nested matches (a function calling itself, or a match under a match) count once
    spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    var covered = 0, end = -1;
    for (var j = 0; j < spans.length; j++) {
      var a = Math.max(spans[j][0], end), b = spans[j][1];
      if (b > a) { covered += b - a; end = b; }
    }
    matched.textContent = "Matched: " + pct(covered) + "% (" + covered + " of " + TOTAL + " samples)";
    searchBtn.textContent = "Reset Search";
  }
  function resetSearch() {
    searching = null;
    for (var i = 0; i < frames.length; i++) frames[i].rect.setAttribute("fill", frames[i].fill);
    matched.textContent = " ";
    searchBtn.textContent = "Search";
    if (box) { box.value = ""; box.classList.remove("bad"); }
  }
  function askSearch() {
    if (box) { box.focus(); box.select(); return; }
    var text = window.prompt("Search for a regular expression (matched against name (file:line))", searching || "");
    if (text === null) return;
    if (text === "") resetSearch(); else search(text);
  }

  var layer = doc.getElementById("frames");
  layer.addEventListener("mouseover", function (ev) {
    var f = frameOf(ev.target);
    if (f) details.textContent = describe(f);
  });
  layer.addEventListener("mouseout", function () { details.textContent = " "; });
  layer.addEventListener("click", function (ev) {
    var f = frameOf(ev.target);
    if (f) zoom(f);
  });
  unzoomBtn.addEventListener("click", function () { if (zoomed) unzoom(); });
  searchBtn.addEventListener("click", function () { if (searching !== null) resetSearch(); else askSearch(); });
  if (box) {
    box.addEventListener("input", function () { if (box.value === "") resetSearch(); else search(box.value); });
    box.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); if (box.value === "") resetSearch(); else search(box.value); }
      else if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); resetSearch(); box.blur(); }
    });
  }
  window.addEventListener("keydown", function (ev) {
    if (((ev.ctrlKey || ev.metaKey) && (ev.key === "f" || ev.key === "F")) || ev.key === "F3") {
      ev.preventDefault();
      askSearch();
    } else if (ev.key === "Escape") {
      if (searching !== null) resetSearch(); else if (zoomed) unzoom();
    }
  });
})();`;
}
