// The one escaping of strings that came from a target or a file, before a human sees them:
// escapeText for the terminal (dump, top, summaries, error messages) and every text that a
// viewer shows (the formats' names), escapeFileText for the collapsed-stack text format, and
// jsonInert for JSON that keeps the exact strings (dump --json) yet must be safe to print.
// Must not know: the core, CPython layouts, the formats' layouts (renderers call these).
// Source of truth: ECMA-48 §5 (C0 and C1 control functions: ESC, CSI, OSC, BEL...); Unicode
// UAX #9 (bidirectional formatting characters U+202A–U+202E, U+2066–U+2069, marks U+200E/F,
// U+061C) and the General_Category values Cc, Cf, Zl, Zp, Cs (controls, invisible format
// characters, line/paragraph separators, lone surrogates).

/**
 * Everything escapeText shows as an escape: C0 controls, DEL and C1 controls (Cc), invisible
 * format characters including every bidi override, embedding, isolate and mark (Cf), U+2028 and
 * U+2029 (Zl, Zp: line breaks to some terminals and viewers), and lone surrogates (Cs). Letters,
 * marks, symbols and spaces of every script (`é`, `名前`, emoji) are kept as they are.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const UNSAFE_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** Anything but printable ASCII: only such strings need the Unicode-aware look. */
// eslint-disable-next-line no-control-regex
const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/;

/** What JSON.stringify leaves raw of UNSAFE (it escapes C0 and lone surrogates already). */
const JSON_RAW = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/u;
const JSON_RAW_ALL = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu;

const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0");

/** `\xNN` up to U+00FF, `\uNNNN` in the BMP, `\UNNNNNNNN` above (Python's repr spelling). */
function escapeCodePoint(c: string): string {
  const cp = c.codePointAt(0) as number;
  return cp <= 0xff ? `\\x${hex(cp, 2)}` : cp <= 0xffff ? `\\u${hex(cp, 4)}` : `\\U${hex(cp, 8)}`;
}

/**
 * A string as a terminal or a viewer may show it: every control, invisible format or bidi
 * character becomes a visible escape (ESC -> `\x1b`, U+202E -> `\u202e`), so nothing from a
 * target can move the cursor, retitle or clear the terminal, hide text or reorder it.
 * Backslashes are kept as they are (paths and names stay readable; an escape is for reading).
 */
export function escapeText(s: string): string {
  if (!NOT_PRINTABLE_ASCII.test(s)) return s; // the common case, cheaply
  return UNSAFE.test(s) ? s.replace(UNSAFE_ALL, escapeCodePoint) : s;
}

/**
 * A frame or thread name for the collapsed-stack text format (flamegraph.pl, inferno): escapeText
 * (so no line break, tab or control byte ends up in the file), and `;`, the frame separator, shown
 * as `:` (the format has no escape for it). Spaces stay: the count is what follows the last one.
 */
export function escapeFileText(s: string): string {
  const e = escapeText(s);
  return e.includes(";") ? e.replace(/;/g, ":") : e;
}

/**
 * JSON text for a value whose strings stay exact (a program reads them back unchanged), with no
 * control, format or bidi character written raw: JSON.stringify escapes C0 and lone surrogates,
 * this also writes DEL, C1, Cf, U+2028/U+2029 as `\uNNNN` (JSON escapes: same value when parsed).
 * They can only occur inside strings, so the replacement never touches the JSON's structure (whose
 * only controls are the line breaks of `space`, which these patterns leave alone).
 */
export function jsonInert(value: unknown, space?: number): string {
  const text = JSON.stringify(value, null, space);
  return JSON_RAW.test(text)
    ? text.replace(JSON_RAW_ALL, (c) => {
        let out = "";
        for (let i = 0; i < c.length; i++) out += `\\u${hex(c.charCodeAt(i), 4)}`;
        return out;
      })
    : text;
}

/** One line on stderr, escaped: the default log of every command. */
export function stderrLine(line: string): void {
  process.stderr.write(escapeText(line) + "\n");
}

/** commander's outputError for every command: `wspy: MESSAGE`, escaped (it quotes what was typed). */
export function commanderError(str: string, write: (s: string) => void): void {
  write(`wspy: ${escapeText(str.replace(/^error: /, "").trim())}\n`);
}
