// Text for a terminal: names from the target made safe to print (no control characters, so no
// escape sequences can reach the user's terminal).
// Must not know: the core or any layout.
// Source of truth: ECMA-48 (C0 and C1 control characters).

/** Replaces C0/C1 control characters (ESC, BEL, CR, ...) with visible escapes like \x1b. */
export function terminalSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
