// Small helpers shared by the renderers: thread labels, XML escaping, and the
// "whose code is this" classification of a file path used for flame graph colours.
// Must not know: the core, the reader, or any CPython memory layout; only the Profile shape
// from host/profile.ts.
// Source of truth: XML 1.0 (5th ed.) §2.2 Char (which characters may appear at all),
// §2.4 / §3.3.3 (escaping and attribute-value normalisation).

import type { Profile } from "../profile.js";

/** `name (tid)` for a thread index, falling back to the Python ident when the OS tid is unknown. */
export function threadLabel(profile: Profile, index: number): string {
  const t = profile.threads[index];
  if (!t) return `thread #${index}`;
  const id = t.tid > 0 ? String(t.tid) : `ident ${t.ident}`;
  return `${t.name || "thread"} (${id})`;
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

/** Escape any string for use both as XML text content and inside a quoted attribute value. */
export function escapeXml(s: string): string {
  return s.replace(XML_INVALID, "\uFFFD").replace(/[&<>"'\t\n\r]/g, (c) => XML_ENTITIES[c]);
}

/** user = your code, stdlib, thirdparty = site-/dist-packages, native = C frames (reserved: the
 *  recorder does not walk native stacks yet), synthetic = thread/process roots. */
export type CodeOrigin = "user" | "stdlib" | "thirdparty" | "native" | "synthetic";

/**
 * Where a frame's code comes from, judged only by its file path (native by its kind):
 * third-party = `site-packages` or `dist-packages` anywhere in the path (checked first, since
 * Debian's /usr/lib/python3/dist-packages also contains /lib/python); standard library =
 * `/lib/python` in the path, or a frozen module (`<frozen importlib._bootstrap>`); else user code.
 */
export function codeOrigin(file: string, kind?: string): CodeOrigin {
  if (kind === "thread" || kind === "process") return "synthetic";
  if (kind === "native") return "native";
  const f = file.replace(/\\/g, "/").toLowerCase();
  if (f.includes("site-packages") || f.includes("dist-packages")) return "thirdparty";
  if (f.includes("/lib/python") || f.startsWith("<frozen ")) return "stdlib";
  return "user";
}
