// Bundles the compiled host (build/host) into the installed command: build/bin/wspy-main.cjs
// (the CLI) and build/bin/wspy.cjs (the small entry that answers --version and runs the CLI with
// V8's code cache), with esbuild's API. One transform: commander requires node:child_process at
// load (for executable subcommands, which wspy does not use), and that module pulls in node:net
// and node:stream, about 9 ms of a one-shot `wspy dump`; the bundle gives commander a
// child_process that loads on first use instead. wspy's own code imports it where it spawns.
// Must not know: wspy's commands. Source of truth: esbuild's plugin API (onLoad).
// Usage: node host/build-bundle.mjs (npm run build:bundle)
import { build } from "esbuild";
import { readFile, rm, chmod } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const EAGER = "const childProcess = require('node:child_process');";
const LAZY = "let childProcessLoaded; const childProcess = new Proxy({}, { get: (_, k) => (childProcessLoaded ??= require('node:child_process'))[k] });";

const lazyChildProcess = {
  name: "commander-lazy-child-process",
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const text = await readFile(args.path, "utf8");
      // a commander whose first lines changed is bundled as it is: slower to start, never broken
      return { contents: text.includes(EAGER) ? text.replace(EAGER, LAZY) : text, loader: "js" };
    });
  },
};

const common = {
  bundle: true, format: "cjs", platform: "node", target: "node20", logLevel: "warning",
  external: ["koffi", "protobufjs", "speedscope"],
  define: { "import.meta.url": "wspyImportMetaUrl" },
  inject: [path.join(ROOT, "host", "bundle-import-meta-url.js")],
  plugins: [lazyChildProcess],
};

await rm(path.join(ROOT, "build", "bin"), { recursive: true, force: true });
await build({ ...common, entryPoints: [path.join(ROOT, "build", "host", "cli.js")], outfile: path.join(ROOT, "build", "bin", "wspy-main.cjs") });
await build({ ...common, entryPoints: [path.join(ROOT, "build", "host", "wspy.js")], outfile: path.join(ROOT, "build", "bin", "wspy.cjs") });
await chmod(path.join(ROOT, "build", "bin", "wspy.cjs"), 0o755);
