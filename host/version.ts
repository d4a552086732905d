// wspy's version, as package.json says it (checked by test/cli-edges.test.mjs).
// Must not know: anything else.
// Source of truth: package.json "version".

export const VERSION = "0.1.0";
