// Reading wspy's SVG flame graphs back in tests: every <rect> as a map of its attributes, with the
// XML escapes undone (names from a target are escaped in the file; tests compare them as text).
// Must not know: how the SVG is laid out beyond its <rect data-*> attributes.
// Source of truth: host/render/flame.ts (the attributes it writes).

/** Undoes the five XML entities and numeric character references. */
export function unescapeXml(s) {
  return s.replace(/&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/g, (_, e) =>
    e === "amp" ? "&" : e === "lt" ? "<" : e === "gt" ? ">" : e === "quot" ? '"' : e === "apos" ? "'"
      : String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)));
}

/** Every <rect> of an SVG as a map of its (unescaped) attributes. */
export function svgRects(svg) {
  return [...svg.matchAll(/<rect\b([^>]*?)\/?>/g)].map((m) => {
    const attrs = {};
    for (const a of m[1].matchAll(/([\w:-]+)="([^"]*)"/g)) attrs[a[1]] = unescapeXml(a[2]);
    return attrs;
  });
}

/** The frame boxes (rects with a data-name). */
export const frameRects = (svg) => svgRects(svg).filter((r) => "data-name" in r);
