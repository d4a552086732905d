// Small helpers shared by the renderers: the profile as a viewer shows it, thread labels and the
// threads a format lists, XML escaping, string tables.
// Must not know: the core, the reader, or any CPython memory layout; only the Profile shape
// from host/profile/profile.ts.
// Source of truth: XML 1.0 (5th ed.) §2.2 Char (which characters may appear at all),
// §2.4 / §3.3.3 (escaping and attribute-value normalisation).

import type { Profile, ProfileFrame, ProfileThread } from "../profile/profile.js";
import { threadId } from "../profile/profile.js";
import { escapeText } from "../io/escape.js";

/**
 * The profile as a viewer shows it: every name, file, thread name and the target's command line
 * through escapeText (host/io/escape.ts), so a control, bidi or invisible character from the target
 * reaches no output but as a visible escape (`\x1b`, `\u202e`). Each renderer but the lossless
 * wspy recording starts with this; the same Profile comes back when nothing needs escaping.
 */
export function displayProfile(profile: Profile): Profile {
  let changed = false;
  const frames = profile.frames.map((f): ProfileFrame => {
    const name = escapeText(f.name), file = escapeText(f.file);
    if (name === f.name && file === f.file) return f;
    changed = true;
    return { ...f, name, file };
  });
  const threads = profile.threads.map((t): ProfileThread => {
    const name = escapeText(t.name ?? "");
    if (name === (t.name ?? "")) return t;
    changed = true;
    return { ...t, name };
  });
  const target = escapeText(profile.meta.target ?? "");
  if (target !== (profile.meta.target ?? "")) changed = true;
  return changed ? { ...profile, frames, threads, meta: { ...profile.meta, target } } : profile;
}

/** `name (tid)` for a thread index, falling back to the Python ident when the OS tid is unknown. */
export function threadLabel(profile: Profile, index: number): string {
  const t = profile.threads[index];
  if (!t) return `thread #${index}`;
  return `${t.name || "thread"} (${threadId(t)})`;
}

/**
 * The threads a format lists, by index, ascending: every thread a sample names, and every other
 * one whose identity is known, except a record with only an ident when another record of that
 * ident has its OS tid (the same thread met in the instant between its ident and its native id
 * being set: it had no stack yet). A thread state with neither id (created, not yet started)
 * runs no Python code and has no samples, so it is never listed: no "(ident 0)" thread.
 */
export function listedThreads(profile: Profile): number[] {
  const sampled = new Set<number>();
  for (let i = 0; i < profile.sampleNode.length; i++) if (profile.sampleNode[i] >= 0) sampled.add(profile.sampleThread[i]);
  const identWithTid = new Set<number>();
  for (const t of profile.threads) if (t.tid > 0 && t.ident > 0) identWithTid.add(t.ident);
  const out = new Set(sampled);
  profile.threads.forEach((t, i) => {
    if (t.tid > 0 || (t.ident > 0 && !identWithTid.has(t.ident))) out.add(i);
  });
  return [...out].sort((a, b) => a - b);
}

// Characters XML 1.0 forbids even as character references (C0 controls other than TAB/LF/CR,
// U+FFFE/U+FFFF) and unpaired UTF-16 surrogates; they become U+FFFD.
const XML_INVALID =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const XML_ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  // written as references so attribute-value normalisation does not turn them into spaces
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};

/**
 * A string table for the binary formats: each distinct string once, in first-seen order after
 * `seed` (pprof's string_table starts with ""); id(s) is the string's index.
 */
export function stringTable(seed: string[] = []): { strings: string[]; id: (s: string) => number } {
  const strings = seed.slice();
  const ids = new Map<string, number>(strings.map((s, i) => [s, i]));
  const id = (s: string): number => {
    let n = ids.get(s);
    if (n === undefined) {
      n = strings.length;
      strings.push(s);
      ids.set(s, n);
    }
    return n;
  };
  return { strings, id };
}

/** Escape any string for use both as XML text content and inside a quoted attribute value. */
export function escapeXml(s: string): string {
  return s.replace(XML_INVALID, "\uFFFD").replace(/[&<>"'\t\n\r]/g, (c) => XML_ENTITIES[c]);
}
