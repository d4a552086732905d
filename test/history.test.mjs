// The agent's local history (host/agent/history.ts): segment file names that say what they hold,
// atomic writes, retention by age and by total size (oldest first), listing by time range, and a
// folder's other files (and links) never touched.
// Must not know: the sampler. Source of truth: host/agent/history.ts's header.
import t from "tap";
import { mkdtempSync, rmSync, writeFileSync, symlinkSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT } from "./helpers/run.mjs";

const { History, segmentName, parseSegmentName, parseAge, parseSize } = await import(path.join(ROOT, "build", "host", "agent", "history.js"));

t.test("names round-trip", async (t) => {
  const from = Date.UTC(2026, 10, 28, 21, 25, 0, 123), until = from + 10_000;
  const name = segmentName("check out", 4242, from, until, "wspy");
  t.equal(name, "check_out.4242.20261128T212500123Z-20261128T212510123Z.wspy");
  t.same(parseSegmentName(name), { app: "check_out", pid: 4242, fromMs: from, untilMs: until });
  t.equal(parseSegmentName("notes.txt"), null);
  t.equal(parseSegmentName(segmentName("a", 1, until, from, "pprof")), null, "a window that ends before it starts is no segment");
  t.equal(parseAge("7d"), 7 * 864e5);
  t.equal(parseAge("30m"), 30 * 6e4);
  t.equal(parseSize("1GB"), 1e9);
  t.equal(parseSize("64KiB"), 65536);
  t.throws(() => parseAge("soon"), /not an age/);
  t.throws(() => parseSize("big"), /not a size/);
});

t.test("retention by age and by size; other files and links left alone", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "wspy-history-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, "README.txt"), "mine");
  const outside = path.join(dir, "..", `wspy-history-outside-${process.pid}`);
  writeFileSync(outside, "do not delete");
  t.teardown(() => rmSync(outside, { force: true }));
  const t0 = Date.UTC(2026, 10, 28, 0, 0, 0);
  // a link named like an old segment: not a regular file, never deleted (nor its target)
  symlinkSync(outside, path.join(dir, segmentName("app", 1, t0 - 864e5, t0 - 864e5 + 10_000, "wspy")));
  const h = new History(dir, 3600_000, null);
  for (let i = 0; i < 12; i++) h.write(segmentName("app", 7, t0 + i * 600_000, t0 + (i + 1) * 600_000, "wspy"), new Uint8Array(1000), t0 + 12 * 600_000);
  // windows end at t0 + 10 min .. t0 + 120 min; "now" t0 + 120 min keeps those ending in the last hour
  const kept = h.list();
  t.equal(kept.length, 7, `the segments of the last hour kept (${kept.length})`);
  t.ok(kept.every((s) => s.untilMs >= t0 + 60 * 60_000), "older ones deleted");
  t.ok(existsSync(path.join(dir, "README.txt")), "another file is left alone");
  t.equal(readFileSync(outside, "utf8"), "do not delete", "a link's target is left alone");
  t.equal(h.between(t0 + 95 * 60_000, t0 + 105 * 60_000).length, 2, "listing by time range");
  const small = new History(dir, null, 3500);
  small.prune();
  t.equal(small.list().length, 3, "by size: the newest 3 of 1,000 bytes fit in 3,500");
  t.equal(small.list()[2].untilMs, t0 + 120 * 60_000, "the newest is kept");
  t.notOk(readdirSync(dir).some((n) => n.endsWith(".tmp")), "no temporary file left behind");
});

t.test("--dir must be a folder", async (t) => {
  t.throws(() => new History("/nonexistent/wspy", null, null), /does not exist/);
  t.throws(() => new History("/etc/hostname", null, null), /not a folder/);
});
