// Profile → Profile transforms (host/profile/transform.ts) on hand-made profiles: thread roots, merging
// processes under process roots (ids renumbered, samples in time order), --function (first
// line, else lowest line), --nolineno, short file names.
import t from "tap";
import { withThreadRoots, mergeProcesses, aggregateFrames, fileShortener } from "../build/host/profile/transform.js";
import { renderCollapsed } from "../build/host/render/collapsed.js";

/** A profile from stacks of [name, file, line] (root first) per sample: [thread, time, stack]. */
function make(samples, threads, meta = {}) {
  const frames = [];
  const fid = new Map();
  const nodeParent = [], nodeFrame = [];
  const nid = new Map();
  const frameOf = ([name, file, line, firstLine]) => {
    const k = `${name}|${file}|${line}`;
    if (!fid.has(k)) { fid.set(k, frames.length); frames.push({ name, file, line, kind: "python", ...(firstLine ? { firstLine } : {}) }); }
    return fid.get(k);
  };
  const leafOf = (stack) => {
    let parent = -1;
    for (const f of stack) {
      const id = frameOf(f);
      const k = `${parent}|${id}`;
      if (!nid.has(k)) { nid.set(k, nodeParent.length); nodeParent.push(parent); nodeFrame.push(id); }
      parent = nid.get(k);
    }
    return parent;
  };
  const sampleNode = samples.map(([, , stack]) => leafOf(stack));
  return {
    frames,
    nodeParent: Int32Array.from(nodeParent),
    nodeFrame: Int32Array.from(nodeFrame),
    sampleTime: Float64Array.from(samples.map((s) => s[1])),
    sampleThread: Int32Array.from(samples.map((s) => s[0])),
    sampleNode: Int32Array.from(sampleNode),
    sampleWeight: Float64Array.from(samples.map(() => 0.01)),
    threads,
    meta: { target: "t", pid: 1, pythonVersion: "3.12.1", rate: 100, durationSec: 1, samples: samples.length, errors: {}, startedAt: "", ...meta },
  };
}

const A = ["main", "/srv/app.py", 10];
const B = ["work", "/srv/app.py", 20, 18];
const B2 = ["work", "/srv/app.py", 22, 18];
const C = ["sleep", "/usr/lib/python3.12/threading.py", 300];

t.test("thread roots", (t) => {
  const p = make([[0, 0.01, [A, B]], [1, 0.02, [A, C]], [0, 0.03, [A, B2]]],
    [{ ident: 1, tid: 100, name: "MainThread" }, { ident: 2, tid: 101, name: "" }]);
  const out = renderCollapsed(withThreadRoots(p)).trim().split("\n");
  t.same(out, [
    "thread (101);main (/srv/app.py:10);sleep (/usr/lib/python3.12/threading.py:300) 1",
    "thread MainThread (100);main (/srv/app.py:10);work (/srv/app.py:20) 1",
    "thread MainThread (100);main (/srv/app.py:10);work (/srv/app.py:22) 1",
  ]);
  const q = withThreadRoots(p);
  t.equal(q.frames.filter((f) => f.kind === "thread").length, 2, "one root frame per thread");
  t.same([...q.sampleTime], [...p.sampleTime], "samples keep their times");
  t.end();
});

t.test("merge processes", (t) => {
  const p1 = make([[0, 0.01, [A, B]], [0, 0.03, [A, B]]], [{ ident: 1, tid: 100, name: "MainThread" }]);
  const p2 = make([[0, 0.02, [A, C]]], [{ ident: 7, tid: 200, name: "MainThread" }]);
  const m = mergeProcesses([{ pid: 100, command: ["python", "a.py"], profile: p1 }, { pid: 200, command: ["python", "-c", "x"], profile: p2 }], p1.meta);
  t.same([...m.sampleTime], [0.01, 0.02, 0.03], "samples in time order");
  t.same(m.threads.map((th) => th.tid), [100, 200], "threads of both");
  t.same([...m.sampleThread], [0, 1, 0], "thread ids renumbered");
  t.same(renderCollapsed(m).trim().split("\n"), [
    'process 100: "python a.py";main (/srv/app.py:10);work (/srv/app.py:20) 2',
    'process 200: "python -c x";main (/srv/app.py:10);sleep (/usr/lib/python3.12/threading.py:300) 1',
  ]);
  t.equal(m.frames.filter((f) => f.kind === "process").length, 2, "a root frame per process");
  t.end();
});

t.test("--function, --nolineno, short names", (t) => {
  const p = make([[0, 0.01, [A, B]], [0, 0.02, [A, B2]], [0, 0.03, [A, C]]], [{ ident: 1, tid: 1, name: "" }]);
  t.same(renderCollapsed(aggregateFrames(p, { function: true })).trim().split("\n"), [
    "main (/srv/app.py:10);sleep (/usr/lib/python3.12/threading.py:300) 1",
    "main (/srv/app.py:10);work (/srv/app.py:18) 2",
  ], "--function: one frame per function, at its first line");
  const noFirst = make([[0, 0.01, [A, ["f", "/x.py", 30]]], [0, 0.02, [A, ["f", "/x.py", 25]]]], [{ ident: 1, tid: 1, name: "" }]);
  t.match(renderCollapsed(aggregateFrames(noFirst, { function: true })), /f \(\/x\.py:25\) 2/, "without a first line: the lowest line seen");
  t.same(renderCollapsed(aggregateFrames(p, { nolineno: true })).trim().split("\n"), [
    "main (/srv/app.py);sleep (/usr/lib/python3.12/threading.py) 1",
    "main (/srv/app.py);work (/srv/app.py) 2",
  ], "--nolineno: lines dropped and merged");
  const short = fileShortener(["/srv"]);
  t.equal(short("/srv/app.py"), "app.py", "relative to the target's directory");
  t.equal(short("/usr/lib/python3.12/threading.py"), "threading.py", "relative to the library folder");
  t.equal(short("/usr/lib/python3/dist-packages/requests/api.py"), "requests/api.py", "relative to dist-packages");
  t.equal(short("/root/.pyenv/versions/3.12.1/lib/python3.12/site-packages/x/y.py"), "x/y.py", "relative to site-packages");
  t.equal(short("/opt/other/z.py"), "/opt/other/z.py", "anything else whole");
  t.equal(short("<frozen importlib._bootstrap>"), "<frozen importlib._bootstrap>", "not a path: as is");
  t.match(renderCollapsed(aggregateFrames(p, { file: short })), /^main \(app\.py:10\);work \(app\.py:20\) 1$/m, "applied to frames");
  t.end();
});
