// Injected by esbuild into the bundled command (package.json "build:bundle"), which is CommonJS:
// import.meta.url, as the ES modules compiled by tsc use it, becomes this file URL of the bundle.
// Must not know: anything else. Source of truth: esbuild's docs (define, inject).
export const wspyImportMetaUrl = require("node:url").pathToFileURL(__filename).href;
