// The drawing shared by the SVG flame graph (svg.ts) and the differential flame graph
// (diffsvg.ts): laying out a merged call tree (frames packed from their parent's left edge,
// frames narrower than a pixel lumped per parent into one "[N narrow frames]" box, a cap on
// drawn frames), and writing the self-contained SVG document around the boxes: title, subtitle,
// Reset Zoom, a search field (Ctrl-F), the details line, a legend, and the embedded viewer script
// (hover details, click to zoom, regex search with the matched share).
// Must not know: the Profile, where sizes come from (samples, shares), how boxes are coloured or
// what their details say (the callers decide; the script's describe/matched code is theirs).
// Source of truth: SVG 1.1 and XML 1.0 (well-formed, opens directly in a browser). Every string
// given here may come from a target: it goes through escapeXml(); the script reads data back with
// getAttribute() and writes only through textContent / setAttribute.

import { escapeXml } from "./common.js";

export const WIDTH = 1200;
export const XPAD = 10;
export const INNER = WIDTH - 2 * XPAD;
export const FRAME_H = 16;
const FONT = 12;
export const CHAR_W = FONT * 0.59; // average glyph width of Verdana at FONT px, as flamegraph.pl assumes
const TOP = 70; // title, subtitle, controls and legend
const BOTTOM = 34; // details line
/** a frame narrower than this many pixels at full width is not drawn on its own: it is merged
 *  with its narrow siblings into one "[N narrow frames]" box (drawn when that is wide enough) */
export const MIN_WIDTH_PX = 1;
/** hard cap on drawn frames, so pathological profiles still give a usable file */
const MAX_FRAMES = 12000;
/** hard cap on the merged boxes added on top of MAX_FRAMES */
const MAX_MERGED = 4000;
const SEARCH_FILL = "rgb(230,0,230)";
export const MERGED_FILL = "rgb(185,185,185)";
const SEARCH_BOX_W = 210;

export const num = (n: number): string => String(Math.round(n * 100) / 100);

/** The label as drawn in a box `px` wide: whole, cut with "..", or nothing (same rule as the script). */
export function fitLabel(label: string, px: number): string {
  const chars = Math.floor((px - 6) / CHAR_W);
  if (chars < 3) return "";
  const cps = Array.from(label); // never split a surrogate pair
  return cps.length <= chars ? label : cps.slice(0, chars - 2).join("") + "..";
}

/**
 * A merged call tree as the layout reads it: node 0 is the synthetic "all" root; children are
 * linked lists (firstChild / nextSibling); size[i] is node i's inclusive size (samples, or any
 * non-negative measure), never less than the sum of its children's.
 */
export interface LayoutTree {
  depth: ArrayLike<number>;
  size: ArrayLike<number>;
  firstChild: ArrayLike<number>;
  nextSibling: ArrayLike<number>;
  length: number;
}

/** One box to draw: a tree node, or (merged > 0) the narrow children of node m lumped together. */
export interface Box {
  m: number;
  start: number;
  /** number of narrow children lumped into this box; 0 for a real frame */
  merged: number;
  /** size of the box: the node's, or the lumped children's together */
  size: number;
}

/**
 * Lays the tree out: a pre-order walk, children in `order`, packed from the parent's left edge;
 * then one merged box for the children too narrow (below minSize) or past the cap to draw; the
 * parent's own size is the space left on the right. Every box spans exactly size/total of the
 * width and lies inside its parent's interval. Returns the real boxes (root first), the merged
 * ones, and the deepest depth drawn.
 */
export function layoutTree(tree: LayoutTree, minSize: number, order: (a: number, b: number) => number): { drawn: Box[]; mergedBoxes: Box[]; maxDepth: number } {
  const n = tree.length;
  // Which nodes are drawn: those at least minSize, and of those at most MAX_FRAMES, preferring
  // larger, then shallower. A child is never larger than its parent and is deeper, so either rule
  // keeps the drawn set ancestor-closed.
  const drawable = new Uint8Array(n);
  {
    const eligible: number[] = [];
    for (let i = 1; i < n; i++) if (tree.size[i] >= minSize) eligible.push(i);
    if (eligible.length > MAX_FRAMES) {
      eligible.sort((a, b) => tree.size[b] - tree.size[a] || tree.depth[a] - tree.depth[b] || a - b);
      eligible.length = MAX_FRAMES;
    }
    for (const i of eligible) drawable[i] = 1;
  }
  const drawn: Box[] = [];
  let mergedBoxes: Box[] = [];
  let maxDepth = 0;
  const stack: Box[] = [{ m: 0, start: 0, merged: 0, size: tree.size[0] }];
  while (stack.length) {
    const box = stack.pop() as Box;
    drawn.push(box);
    const m = box.m;
    if (tree.depth[m] > maxDepth) maxDepth = tree.depth[m];
    const kids: number[] = [];
    let narrowCount = 0, narrowSize = 0;
    for (let c = tree.firstChild[m]; c >= 0; c = tree.nextSibling[c]) {
      if (drawable[c] === 1) kids.push(c);
      else { narrowCount++; narrowSize += tree.size[c]; }
    }
    kids.sort(order);
    const placed: Box[] = [];
    let x = box.start;
    for (const c of kids) {
      placed.push({ m: c, start: x, merged: 0, size: tree.size[c] });
      x += tree.size[c];
    }
    if (narrowCount > 0 && narrowSize >= minSize) {
      mergedBoxes.push({ m, start: x, merged: narrowCount, size: narrowSize });
    }
    for (let i = placed.length - 1; i >= 0; i--) stack.push(placed[i]); // pop in order
  }
  if (mergedBoxes.length > MAX_MERGED) {
    mergedBoxes.sort((a, b) => b.size - a.size || tree.depth[a.m] - tree.depth[b.m] || a.m - b.m);
    mergedBoxes = mergedBoxes.slice(0, MAX_MERGED);
    mergedBoxes.sort((a, b) => a.m - b.m);
  }
  for (const b of mergedBoxes) if (tree.depth[b.m] + 1 > maxDepth) maxDepth = tree.depth[b.m] + 1;
  return { drawn, mergedBoxes, maxDepth };
}

/** A box ready to write: where, what fill, what it says; data = its data-* attributes in order. */
export interface DrawBox {
  start: number;
  size: number;
  depth: number;
  /** the root box spans the whole width whatever its size */
  root: boolean;
  fill: string;
  /** hover text (the <title>), and the label drawn in the box before fitting */
  tip: string;
  shown: string;
  data: [string, string | number][];
}

export interface FlameDocument {
  /** already through escapeText (the caller's), XML-escaped here */
  title: string;
  subtitle: string;
  /** size of the root: the width of the whole graph */
  total: number;
  reverse: boolean;
  maxDepth: number;
  boxes: DrawBox[];
  legend: [string, string][];
  /** extra attributes on the <svg> element, name="value" pairs (values XML-escaped here) */
  rootData?: [string, string | number][];
  /** the script's code: which data-* attribute holds a box's size, and two functions of theirs */
  script: ViewerCode;
}

/**
 * The parts of the viewer script a graph chooses. Written by wspy's own code, never from data:
 * - describe: the body of `function describe(f)` returning the details line of frame f
 *   (f.rect, f.label, f.name, f.size, f.depth, f.merged; pct(n) = n as a share of TOTAL);
 * - matched: the body of `function matchedText(tops, covered)`: the text after a search, given
 *   the outermost matched frames (nested matches count once) and their summed size.
 */
export interface ViewerCode {
  sizeAttr: string;
  describe: string;
  matched: string;
}

/** The SVG document around the boxes. */
export function flameSvg(doc: FlameDocument): string {
  const height = TOP + (doc.maxDepth + 1) * FRAME_H + BOTTOM;
  const yOf = (depth: number): number =>
    doc.reverse ? TOP + depth * FRAME_H : height - BOTTOM - (depth + 1) * FRAME_H;
  const scale = doc.total > 0 ? INNER / doc.total : 0;
  const boxX = WIDTH - XPAD - SEARCH_BOX_W;
  const rootData = (doc.rootData ?? []).map(([k, v]) => ` data-${k}="${escapeXml(String(v))}"`).join("");

  const out: string[] = [];
  out.push(
    `<?xml version="1.0" encoding="UTF-8" standalone="no"?>`,
    `<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" data-total="${doc.total}" data-reverse="${doc.reverse ? 1 : 0}"${rootData}>`,
    `<title>${escapeXml(doc.title)}</title>`,
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
    `<text id="title" x="${WIDTH / 2}" y="24">${escapeXml(fitLabel(doc.title, 600))}</text>`,
    `<text id="subtitle" x="${WIDTH / 2}" y="44">${escapeXml(fitLabel(doc.subtitle, INNER))}<title>${escapeXml(doc.subtitle)}</title></text>`,
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
  for (const b of doc.boxes) {
    const x = XPAD + b.start * scale;
    const w = b.root ? INNER : b.size * scale;
    const y = yOf(b.depth);
    const data = b.data.map(([k, v]) => ` data-${k}="${typeof v === "number" ? v : escapeXml(v)}"`).join("");
    out.push(
      `<g class="f"><title>${escapeXml(b.tip)}</title>` +
        `<rect x="${num(x)}" y="${y}" width="${num(w)}" height="${FRAME_H - 1}" rx="2" ry="2" fill="${b.fill}"${data}/>` +
        `<text x="${num(x + 3)}" y="${y + FRAME_H - 4.5}">${escapeXml(fitLabel(b.shown, w))}</text></g>`,
    );
  }
  out.push(`</g>`);

  // legend, top right under the search field
  let lx = WIDTH - XPAD;
  const legendParts: string[] = [];
  for (let i = doc.legend.length - 1; i >= 0; i--) {
    const [text, fill] = doc.legend[i];
    lx -= text.length * CHAR_W * 0.85;
    legendParts.unshift(
      `<rect x="${num(lx - 12)}" y="${TOP - 18}" width="9" height="9" fill="${fill}"/>` +
        `<text x="${num(lx)}" y="${TOP - 10}" style="font-size:10px">${escapeXml(text)}</text>`,
    );
    lx -= 24;
  }
  out.push(`<g id="legend">${legendParts.join("")}</g>`);

  out.push(`<script type="text/ecmascript"><![CDATA[`, script(doc.script), `]]></script>`, `</svg>`, ``);
  return out.join("\n");
}

/** The embedded viewer. Contains no data from the target: it reads data-* attributes at load
 *  time and only ever writes strings through textContent / setAttribute. */
function script(code: ViewerCode): string {
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
      size: +r.getAttribute("data-${code.sizeAttr}"), start: +r.getAttribute("data-start"),
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
    ${code.describe}
  }
  function matchedText(tops, covered) {
    ${code.matched}
  }

  function zoom(z) {
    if (TOTAL <= 0) return;
    zoomed = z;
    var s = z.start, e = z.start + z.size;
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i], fs = f.start, fe = f.start + f.size;
      f.g.classList.remove("hide", "anc");
      if (f.depth < z.depth && fs <= s && fe >= e) {
        f.g.classList.add("anc");                   // ancestor: kept, spanning the width
        place(f, XPAD, INNER);
      } else if (f.depth >= z.depth && fs >= s && fe <= e) {
        place(f, XPAD + (fs - s) / z.size * INNER, f.size / z.size * INNER);
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
    var hits = [];
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      if (i > 0 && !f.merged && re.test(f.label)) {
        f.rect.setAttribute("fill", SEARCH_FILL);
        hits.push(f);
      } else {
        f.rect.setAttribute("fill", f.fill);
      }
    }
    // nested matches (a function calling itself, or a match under a match) count once: a frame's
    // interval holds its callees', so only the outermost matches are counted
    hits.sort(function (a, b) { return a.start - b.start || b.size - a.size; });
    var tops = [], covered = 0, end = -1;
    for (var j = 0; j < hits.length; j++) {
      var h = hits[j];
      if (h.size > 0 && h.start >= end) { tops.push(h); covered += h.size; end = h.start + h.size; }
    }
    matched.textContent = matchedText(tops, covered);
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
