// `wspy agent --push URL`: each closed segment sent to Grafana Pyroscope's HTTP ingest API
// (`POST {URL}/ingest?name=APP{k=v,...}&from=S&until=S&sampleRate=N&spyName=wspy&format=pprof`,
// a gzipped pprof body) from a bounded queue, one request at a time, never on the sampler's path:
// enqueue() only queues (dropping the oldest segment when full), a send that fails by network,
// timeout, 408, 429 or 5xx is retried with exponential backoff, every other answer (400, 401, 413,
// 422...) drops the segment at once; every drop is counted by reason. Credentials come from the
// URL's user:pass (sent as Basic, never in the URL), a bearer token, and a tenant
// (X-Scope-OrgID); redirects are not followed (they could carry the credentials elsewhere).
// Must not know: the sampler, the core, how profiles are rendered (it gets pprof bytes).
// Source of truth: docs/agent.md ("Pyroscope's ingest API": grafana/pyroscope's ingest handler,
// labelset parsing, Alloy's retry rule).

import http from "node:http";
import https from "node:https";
import { WspyError } from "../errors.js";

export interface PushOptions {
  /** the server's base URL (a path prefix is kept: http://h:4040/pyroscope → /pyroscope/ingest) */
  url: string;
  /** the application name (Pyroscope's `service_name`) */
  app: string;
  /** labels added to every segment (host, pid, python, wspy...) */
  labels: Record<string, string>;
  /** samples per second, as an integer (the server reads anything else as 100) */
  sampleRate: number;
  /** Authorization: Bearer TOKEN (instead of the URL's user:pass) */
  bearer?: string;
  /** X-Scope-OrgID (multi-tenant servers) */
  tenant?: string;
  /** segments queued at most (default 20, as Pyroscope's Go client); the oldest is dropped first */
  maxQueue?: number;
  /** bytes queued at most (default 16 MB) */
  maxQueueBytes?: number;
  /** one request's time limit, ms (default 10 s) */
  timeoutMs?: number;
  /** tries per segment before it is dropped (default 10) */
  maxTries?: number;
  /** the first retry's delay, ms (default 500; doubled each time, up to maxBackoffMs) */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface PushSegment {
  /** the window, Unix seconds */
  from: number;
  until: number;
  /** the gzipped pprof body */
  body: Uint8Array;
  /** labels of this segment only (pid, python version) */
  labels?: Record<string, string>;
  /** the application this segment is of, when not the pusher's (agent --match: each process's own) */
  app?: string;
}

export interface PushStats {
  sent: number;
  /** segments given up, by reason ("queue full", "rejected 422", "gave up after 10 tries") */
  dropped: Record<string, number>;
  retries: number;
  queued: number;
  /** what the last failed request met ("HTTP 500", "ECONNREFUSED", "no answer in 10 s"), "" if none */
  lastFailure: string;
}

/** Pyroscope's labelset syntax has no escaping: `,` `}` `{` `=` and spaces would mis-split, so they become `_`. */
function cleanValue(v: string): string {
  return v.replace(/[,{}=\s]/g, "_").slice(0, 256);
}
function cleanKey(k: string): string {
  const key = k.replace(/[^A-Za-z0-9_.]/g, "_");
  return key === "__name__" || key === "" ? `label_${key}` : key;
}
function cleanApp(a: string): string {
  return a.replace(/[^A-Za-z0-9_.\-/]/g, "_") || "python";
}

/** `APP{k=v,...}`, keys and values cleaned so the server parses back exactly these labels. */
export function pyroscopeName(app: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${cleanKey(k)}=${cleanValue(v)}`);
  return `${cleanApp(app)}{${pairs.join(",")}}`;
}

export class Pusher {
  private queue: PushSegment[] = [];
  private queueBytes = 0;
  private busy = false;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly target: URL;
  private readonly auth: string | null;
  readonly stats: PushStats = { sent: 0, dropped: {}, retries: 0, queued: 0, lastFailure: "" };

  constructor(private readonly opts: PushOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new WspyError("BAD_INPUT", `--push ${JSON.stringify(opts.url)} is not a URL`, "e.g. --push http://pyroscope:4040");
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new WspyError("BAD_INPUT", `--push takes an http or https URL, not ${u.protocol}`, "");
    // credentials leave the URL: sent as a header, never logged with it
    this.auth = opts.bearer ? `Bearer ${opts.bearer}`
      : u.username ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}` : null;
    u.username = "";
    u.password = "";
    u.pathname = `${u.pathname.replace(/\/+$/, "")}/ingest`;
    u.search = "";
    this.target = u;
  }

  /** The URL without credentials, for messages. */
  get where(): string { return this.target.toString(); }

  private drop(reason: string): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
  }

  /** Queues a segment (never waits). Full: the oldest queued segment is dropped ("queue full"). */
  enqueue(seg: PushSegment): void {
    if (this.closed) { this.drop("stopped"); return; }
    const maxQueue = this.opts.maxQueue ?? 20, maxBytes = this.opts.maxQueueBytes ?? 16 << 20;
    if (seg.body.length > maxBytes) { this.drop("too large to queue"); return; }
    while (this.queue.length >= maxQueue || this.queueBytes + seg.body.length > maxBytes) {
      const old = this.queue.shift()!;
      this.queueBytes -= old.body.length;
      this.drop("queue full");
    }
    this.queue.push(seg);
    this.queueBytes += seg.body.length;
    this.stats.queued = this.queue.length;
    this.pump(0);
  }

  private pump(delayMs: number): void {
    if (this.busy || this.timer || this.closed || !this.queue.length) return;
    this.timer = setTimeout(() => { this.timer = null; void this.sendHead(1); }, delayMs);
    this.timer.unref();
  }

  private async sendHead(tryNo: number): Promise<void> {
    const seg = this.queue[0];
    if (!seg || this.busy) return;
    this.busy = true;
    let outcome: "sent" | "retry" | string;
    try {
      outcome = await this.post(seg);
    } catch {
      outcome = "retry";
    }
    this.busy = false;
    const maxTries = this.opts.maxTries ?? 10;
    if (outcome === "retry" && tryNo < maxTries && !this.closed) {
      this.stats.retries++;
      const base = this.opts.backoffMs ?? 500, cap = this.opts.maxBackoffMs ?? 300_000;
      const delay = Math.min(cap, base * 2 ** (tryNo - 1));
      this.timer = setTimeout(() => { this.timer = null; void this.sendHead(tryNo + 1); }, delay);
      this.timer.unref();
      return;
    }
    // done with the head: sent, rejected, or out of tries
    if (this.queue[0] === seg) {
      this.queue.shift();
      this.queueBytes -= seg.body.length;
    }
    if (outcome === "sent") this.stats.sent++;
    else this.drop(outcome === "retry" ? `gave up after ${maxTries} tries` : outcome);
    this.stats.queued = this.queue.length;
    this.pump(0);
  }

  /** One request: "sent", "retry" (network, timeout, 408, 429, 5xx), or a drop reason ("rejected 422"). */
  private post(seg: PushSegment): Promise<string> {
    const u = new URL(this.target.toString());
    u.searchParams.set("name", pyroscopeName(seg.app ?? this.opts.app, { ...this.opts.labels, ...(seg.labels ?? {}) }));
    u.searchParams.set("from", String(Math.floor(seg.from)));
    u.searchParams.set("until", String(Math.max(Math.floor(seg.from) + 1, Math.ceil(seg.until))));
    u.searchParams.set("sampleRate", String(Math.max(1, Math.round(this.opts.sampleRate))));
    u.searchParams.set("spyName", "wspy");
    u.searchParams.set("format", "pprof");
    const headers: Record<string, string | number> = { "Content-Type": "application/octet-stream", "Content-Length": seg.body.length };
    if (this.auth) headers.Authorization = this.auth;
    if (this.opts.tenant) headers["X-Scope-OrgID"] = this.opts.tenant;
    const lib = u.protocol === "https:" ? https : http;
    return new Promise((resolve) => {
      const req = lib.request(u, { method: "POST", headers, timeout: this.opts.timeoutMs ?? 10_000 }, (res) => {
        res.resume(); // the body says nothing wspy acts on
        const code = res.statusCode ?? 0;
        if (code >= 200 && code < 300) { resolve("sent"); return; }
        this.stats.lastFailure = `HTTP ${code}`;
        if (code === 408 || code === 429 || code >= 500) resolve("retry");
        else resolve(`rejected ${code}`);
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e: NodeJS.ErrnoException) => {
        this.stats.lastFailure = e.message === "timeout" ? `no answer in ${(this.opts.timeoutMs ?? 10_000) / 1000} s` : (e.code ?? e.message);
        resolve("retry");
      });
      req.end(seg.body);
    });
  }

  /** Waits until the queue is empty or deadlineMs passed (the agent's exit: the last segment gets its chance). */
  async flush(deadlineMs: number): Promise<void> {
    const end = Date.now() + deadlineMs;
    while ((this.queue.length || this.busy) && Date.now() < end) {
      if (!this.busy && !this.timer) this.pump(0);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops sending; what is still queued counts as dropped ("stopped"). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (let i = 0; i < this.queue.length; i++) this.drop("stopped");
    this.queue = [];
    this.queueBytes = 0;
    this.stats.queued = 0;
  }
}
