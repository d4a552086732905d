// `wspy view FILE`: serve the speedscope viewer (its npm package's static build) on 127.0.0.1 at a
// free port, with FILE at a private URL that the viewer loads through `#profileURL=`; print the
// URL, open a browser only when asked (--open), stop on Ctrl-C (or SIGTERM).
// A `-f wspy` recording is converted to speedscope JSON in memory; a speedscope JSON (or another
// file speedscope imports itself: Trace Event JSON, collapsed stacks, pprof) is served as it is.
// Must not know: the core, the reader, CPython layouts; speedscope's internals beyond its
// documented `#profileURL=` and `#title=` hash parameters.
// Source of truth: speedscope's README ("Importing via URL"), node_modules/speedscope/dist/release/.

import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Command } from "commander";
import { WspyError } from "../errors.js";
import { readInput, decodeRecording } from "./convert.js";
import { readProfileInput, isHistoryInput, type RangeOptions } from "../agent/range.js";
import { jsonProblem } from "../io/files.js";
import { renderSpeedscope, isWspyRecording } from "../render/index.js";
import { commanderError, stderrLine } from "../io/escape.js";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** The folder holding speedscope's static build (index.html and its assets). */
export function speedscopeDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve("speedscope/package.json");
  } catch {
    throw new WspyError("INTERNAL", "the speedscope package is not installed", "reinstall wspy (npm ci)");
  }
  return path.join(path.dirname(pkg), "dist", "release");
}

export interface ViewProfile {
  /** the bytes the viewer fetches */
  bytes: Uint8Array;
  /** file name the viewer sees (speedscope picks an importer partly by it) */
  name: string;
  /** true when converted from a wspy recording */
  converted: boolean;
}

/** What to serve for FILE: a recording converted to speedscope JSON, else the file itself. */
export function profileForViewing(file: string, range?: RangeOptions): ViewProfile {
  if (isHistoryInput(file) || (range && (range.since !== undefined || range.until !== undefined || range.match?.length))) {
    const { profile, what } = readProfileInput(file, range);
    const json = renderSpeedscope(profile);
    return { bytes: new TextEncoder().encode(json), name: `${what.replace(/[^A-Za-z0-9_.-]+/g, "_")}.speedscope.json`, converted: true };
  }
  const bytes = readInput(file);
  const base = path.basename(file);
  if (bytes.length === 0) throw new WspyError("BAD_INPUT", `${file} is empty`, "give a speedscope JSON file or a .wspy recording");
  if (isWspyRecording(bytes) || /\.wspy$/i.test(file)) {
    const profile = decodeRecording(file, bytes);
    const json = renderSpeedscope(profile);
    return { bytes: new TextEncoder().encode(json), name: `${base.replace(/\.wspy$/i, "")}.speedscope.json`, converted: true };
  }
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3; // UTF-8 BOM
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  const first = bytes[i];
  if (first === 0x3c /* < */) {
    throw new WspyError("BAD_INPUT", `${file} is an XML/SVG file (a flame graph?), which speedscope cannot read`, "open an SVG flame graph in a browser directly; view takes a speedscope JSON or a .wspy recording");
  }
  if (first === 0x7b /* { */ || first === 0x5b /* [ */) {
    let doc: unknown;
    try {
      doc = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new WspyError("BAD_INPUT", `${file} is not valid JSON: ${jsonProblem(e)}`, "give a speedscope JSON file or a .wspy recording");
    }
    // speedscope's own format (FileFormat.File), or the Trace Event Format (object or array form)
    const o = (doc ?? {}) as Record<string, unknown>;
    const speedscope = typeof o.$schema === "string" && o.$schema.includes("speedscope") || (Array.isArray(o.profiles) && typeof o.shared === "object");
    const traceEvents = Array.isArray(doc) || Array.isArray(o.traceEvents);
    if (!speedscope && !traceEvents) {
      throw new WspyError("BAD_INPUT", `${file} is JSON but not a speedscope profile (nor a Trace Event file)`, "give a speedscope JSON file or a .wspy recording");
    }
  }
  // speedscope JSON, or a format speedscope imports itself (Trace Event JSON, collapsed stacks, pprof)
  return { bytes, name: base, converted: false };
}

export interface Viewer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the local server; resolves once it listens. */
export async function startViewer(file: string, opts: { port?: number; range?: RangeOptions } = {}): Promise<Viewer> {
  const prof = profileForViewing(file, opts.range);
  const dir = speedscopeDir();
  let assets: Set<string>;
  try {
    assets = new Set(readdirSync(dir).filter((n) => !n.startsWith(".")));
  } catch {
    throw new WspyError("INTERNAL", `the speedscope viewer files are missing (${dir})`, "reinstall wspy (npm ci)");
  }
  if (!assets.has("index.html")) throw new WspyError("INTERNAL", `the speedscope viewer has no index.html in ${dir}`, "reinstall wspy (npm ci)");
  // the server's modules load when a viewer starts, not with every wspy command
  // (require, not import(): the bundled command runs as a script, where import() has no loader)
  const req = createRequire(import.meta.url);
  const http = req("node:http") as typeof import("node:http");
  const { randomBytes } = req("node:crypto") as typeof import("node:crypto");
  const token = randomBytes(16).toString("hex");
  const profilePath = `/profile/${token}/${encodeURIComponent(prof.name)}`;
  const cache = new Map<string, Buffer>();
  let port = 0;

  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string | Uint8Array): void => {
      res.writeHead(status, {
        "Content-Type": type,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
      });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    // only this machine's loopback names: a page elsewhere cannot reach us through DNS rebinding
    const host = (req.headers.host ?? "").toLowerCase();
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return send(403, "text/plain", "forbidden\n");
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain", "method not allowed\n");
    const urlPath = (req.url ?? "/").split("?")[0].split("#")[0];
    if (urlPath === profilePath) {
      return send(200, prof.name.endsWith(".json") ? "application/json" : "application/octet-stream", prof.bytes);
    }
    let name: string;
    try {
      name = urlPath === "/" ? "index.html" : decodeURIComponent(urlPath.slice(1));
    } catch {
      return send(400, "text/plain", "bad request: malformed %-escape in the path\n"); // `GET /%`
    }
    if (!assets.has(name)) return send(404, "text/plain", "not found\n");
    let body = cache.get(name);
    if (!body) {
      try {
        body = readFileSync(path.join(dir, name));
      } catch {
        return send(404, "text/plain", "not found\n");
      }
      cache.set(name, body);
    }
    send(200, CONTENT_TYPES[path.extname(name)] ?? "application/octet-stream", body);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new WspyError("BAD_INPUT", `cannot listen on 127.0.0.1:${opts.port ?? 0}: ${e.code ?? e.message}`, "choose another --port, or leave it out for a free one")));
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  port = (server.address() as { port: number }).port;
  const origin = `http://127.0.0.1:${port}`;
  const url = `${origin}/#profileURL=${encodeURIComponent(origin + profilePath)}&title=${encodeURIComponent(path.basename(file))}`;
  return {
    url,
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** Opens url in the desktop's browser; failures are reported, never fatal. */
async function openBrowser(url: string, log: (s: string) => void): Promise<void> {
  const { spawn } = createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process");
  const [cmd, args] = process.platform === "darwin" ? ["open", [url]]
    : process.platform === "win32" ? ["cmd", ["/c", "start", "", url]]
    : ["xdg-open", [url]];
  try {
    const child = spawn(cmd, args as string[], { stdio: "ignore", detached: true });
    child.once("error", (e) => log(`wspy: could not open a browser (${cmd}: ${(e as NodeJS.ErrnoException).code ?? e.message}); open the URL yourself`));
    child.unref();
  } catch (e) {
    log(`wspy: could not open a browser (${(e as Error).message}); open the URL yourself`);
  }
}

export interface ViewOptions {
  port?: number;
  /** a history folder's range (--since, --until, --match) */
  range?: RangeOptions;
  open?: boolean;
  log?: (line: string) => void;
  /** stop when aborted (library callers); the CLI also stops on SIGINT/SIGTERM */
  signal?: AbortSignal;
}

/** Serves FILE until Ctrl-C / SIGTERM / the signal; prints the URL on stdout. */
export async function view(file: string, opts: ViewOptions = {}): Promise<void> {
  const log = opts.log ?? stderrLine;
  const viewer = await startViewer(file, { port: opts.port, range: opts.range });
  process.stdout.write(viewer.url + "\n");
  log(`wspy: serving ${file} in speedscope at http://127.0.0.1:${viewer.port}/ (Ctrl-C stops)`);
  if (opts.open) void openBrowser(viewer.url, log);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    opts.signal?.addEventListener("abort", stop);
  });
  await viewer.close();
  log("wspy: viewer stopped");
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new WspyError("BAD_INPUT", `not a port number: ${JSON.stringify(v)}`, "0 to 65535; leave --port out for a free one");
  return n;
}

export function viewCommand(): Command {
  return new Command("view")
    .description("open a profile in the speedscope viewer, served locally (a speedscope JSON, a .wspy recording, or a range of an agent's history folder)")
    .argument("<file>", "a speedscope JSON file, a .wspy recording, an agent's history folder, or FOLDER@SINCE..UNTIL")
    .option("--since <time>", "history folder: segments from this time (15m, 2h, 7d ago; 14:00; 2026-11-28T14:00)")
    .option("--until <time>", "history folder: segments up to this time (default: now)")
    .option("--match <label=value>", "history folder: only segments with this label (app, pid, host, python, or an agent's --label); repeatable", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--open", "also open the URL in the default browser", false)
    .option("--port <port>", "port on 127.0.0.1 (default: a free one)", parsePort)
    .exitOverride()
    .configureOutput({ outputError: commanderError })
    .action(async (file: string, o) => {
      await view(file, { open: !!o.open, port: o.port, range: { since: o.since, until: o.until, match: o.match } });
    });
}
