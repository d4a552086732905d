// pprof: a gzipped perftools.profiles.Profile protocol buffer, for `go tool pprof`, Pyroscope,
// Parca and anything else that reads profile.proto. Two sample types: samples/count and
// wall/nanoseconds (the time each sample stands for); one sample per (stack, thread) with a
// "thread" label; one location (with one line) per interned frame; one function per
// (name, file), with its first line where the recorder read it.
// Must not know: the core, the reader, or any CPython layout; it reads only a Profile. Nor how
// to write bytes to a file: it returns them.
// Source of truth: github.com/google/pprof proto/profile.proto (field numbers and comments:
// location_id leaf first, string_table[0] == "", the serialized message is gzip-compressed).
// The schema below states the messages and fields wspy writes, with the same numbers.

import { gzipSync } from "node:zlib";
import type protobuf from "protobufjs";
import { createRequire } from "node:module";
import type { Profile } from "../profile/profile.js";
import { displayProfile, threadLabel, stringTable } from "./common.js";
import { stackPaths } from "../profile/paths.js";

export const PPROF_PROTO = `
syntax = "proto3";
package perftools.profiles;
message Profile {
  repeated ValueType sample_type = 1;
  repeated Sample sample = 2;
  repeated Mapping mapping = 3;
  repeated Location location = 4;
  repeated Function function = 5;
  repeated string string_table = 6;
  int64 drop_frames = 7;
  int64 keep_frames = 8;
  int64 time_nanos = 9;
  int64 duration_nanos = 10;
  ValueType period_type = 11;
  int64 period = 12;
  repeated int64 comment = 13;
  int64 default_sample_type = 14;
}
message ValueType { int64 type = 1; int64 unit = 2; }
message Sample {
  repeated uint64 location_id = 1;
  repeated int64 value = 2;
  repeated Label label = 3;
}
message Label { int64 key = 1; int64 str = 2; int64 num = 3; int64 num_unit = 4; }
message Mapping {
  uint64 id = 1;
  uint64 memory_start = 2;
  uint64 memory_limit = 3;
  uint64 file_offset = 4;
  int64 filename = 5;
  int64 build_id = 6;
  bool has_functions = 7;
  bool has_filenames = 8;
  bool has_line_numbers = 9;
  bool has_inline_frames = 10;
}
message Location {
  uint64 id = 1;
  uint64 mapping_id = 2;
  uint64 address = 3;
  repeated Line line = 4;
  bool is_folded = 5;
}
message Line { uint64 function_id = 1; int64 line = 2; }
message Function {
  uint64 id = 1;
  int64 name = 2;
  int64 system_name = 3;
  int64 filename = 4;
  int64 start_line = 5;
}
`;

let profileType: protobuf.Type | null = null;
/** The perftools.profiles.Profile message type, parsed once (field names kept in snake_case). */
export function pprofType(): protobuf.Type {
  // protobufjs loads on first use: only pprof output needs it
  if (!profileType) {
    const pb = createRequire(import.meta.url)("protobufjs") as typeof protobuf;
    profileType = pb.parse(PPROF_PROTO, { keepCase: true }).root.lookupType("perftools.profiles.Profile");
  }
  return profileType;
}

/** The profile as pprof's protobuf message, not yet encoded (plain object, snake_case fields). */
/**
 * What the time value of each sample is called: "wall" (the default: every sample, running or
 * waiting) or "cpu" (the agent's push without --idle: only running threads were kept, so their
 * time is CPU time; Grafana Pyroscope files a profile with a `cpu` sample type as process_cpu and
 * one with any `wall` type as wall: docs/agent.md).
 */
export type PprofTime = "wall" | "cpu";

export function buildPprof(raw: Profile, time: PprofTime = "wall"): Record<string, unknown> {
  const profile = displayProfile(raw);
  // string_table[0] is "" (profile.proto)
  const { strings, id: str } = stringTable([""]);
  const nNodes = profile.nodeParent.length;

  const sampleType = [
    { type: str("samples"), unit: str("count") },
    { type: str(time), unit: str("nanoseconds") },
  ];

  // aggregate the sample sequence by (leaf node, thread), in first-seen order
  interface Agg { node: number; thread: number; count: number; seconds: number }
  const aggs = new Map<number, Agg>();
  const nThreadsKey = Math.max(1, profile.threads.length) + 1;
  for (let i = 0; i < profile.sampleNode.length; i++) {
    const node = profile.sampleNode[i];
    if (node < 0 || node >= nNodes) continue; // no Python stack in this sample
    const thread = profile.sampleThread[i];
    const key = node * nThreadsKey + (thread >= 0 && thread < nThreadsKey - 1 ? thread : nThreadsKey - 1);
    let a = aggs.get(key);
    if (!a) aggs.set(key, (a = { node, thread, count: 0, seconds: 0 }));
    a.count++;
    a.seconds += profile.sampleWeight[i] > 0 ? profile.sampleWeight[i] : 0;
  }

  // functions per (name, file); locations per frame id actually used
  const functions: Record<string, unknown>[] = [];
  const functionIds = new Map<string, number>();
  const locations: Record<string, unknown>[] = [];
  const locationIds = new Map<number, number>();
  // mapping 1 is the interpreter (Python frames); a native frame's object gets a mapping of its own
  const mappings: Record<string, unknown>[] = [{
    id: 1, memory_start: 0, memory_limit: 0, file_offset: 0,
    filename: str(profile.meta.pythonVersion ? `python${profile.meta.pythonVersion}` : "python"), build_id: 0,
    has_functions: true, has_filenames: true, has_line_numbers: true, has_inline_frames: false,
  }];
  const mappingIds = new Map<string, number>();
  const mappingOf = (object: string): number => {
    let id = mappingIds.get(object);
    if (id === undefined) {
      id = mappings.length + 1;
      mappingIds.set(object, id);
      mappings.push({
        id, memory_start: 0, memory_limit: 0, file_offset: 0, filename: str(object), build_id: 0,
        has_functions: true, has_filenames: false, has_line_numbers: false, has_inline_frames: false,
      });
    }
    return id;
  };
  const locationOf = (fid: number): number => {
    let id = locationIds.get(fid);
    if (id !== undefined) return id;
    const f = profile.frames[fid];
    const name = f ? f.name : `frame #${fid}`;
    const file = f && f.kind !== "thread" && f.kind !== "process" && f.kind !== "task" ? f.file : "";
    const fkey = `${name}\u0000${file}`;
    let fnId = functionIds.get(fkey);
    if (fnId === undefined) {
      fnId = functions.length + 1;
      functionIds.set(fkey, fnId);
      // system_name: the code object's identity, "file:qualname". It must differ from name: pprof
      // demangles a system_name equal to name, and its demangler turns "<module>" into "".
      // start_line: co_firstlineno where the recorder read it, else 0 (unknown)
      const startLine = f && f.firstLine && f.firstLine > 0 ? f.firstLine : 0;
      functions.push({ id: fnId, name: str(name), system_name: str(file ? `${file}:${name}` : `[${name}]`), filename: str(file), start_line: startLine });
    }
    id = locations.length + 1;
    locationIds.set(fid, id);
    locations.push({ id, mapping_id: f && f.kind === "native" ? mappingOf(f.file) : 1, address: 0, line: [{ function_id: fnId, line: f && f.line > 0 ? f.line : 0 }] });
    return id;
  };

  const threadKey = str("thread");
  const samples: Record<string, unknown>[] = [];
  const pathCache = new Map<number, number[]>();
  const paths = stackPaths(profile);
  for (const a of aggs.values()) {
    let locs = pathCache.get(a.node);
    if (!locs) {
      const frames = paths.framesOf(a.node);
      locs = [];
      for (let i = frames.length - 1; i >= 0; i--) locs.push(locationOf(frames[i])); // leaf first
      pathCache.set(a.node, locs);
    }
    samples.push({
      location_id: locs,
      value: [a.count, Math.round(a.seconds * 1e9)],
      label: [{ key: threadKey, str: str(threadLabel(profile, a.thread)) }],
    });
  }

  const m = profile.meta;
  const startedMs = Date.parse(m.startedAt);
  const errs = Object.entries(m.errors ?? {}).filter(([, n]) => n > 0);
  const comments = [
    `wspy: ${m.target}`,
    m.pythonVersion ? `Python ${m.pythonVersion}` : "",
    `${m.samples} samples at ${m.rate} Hz`,
    errs.length ? `errors: ${errs.map(([k, n]) => `${k}: ${n}`).join(", ")}` : "errors: none",
  ].filter((c) => c !== "");

  return {
    sample_type: sampleType,
    sample: samples,
    mapping: mappings,
    location: locations,
    function: functions,
    string_table: strings,
    // int64 fields past 2^53 go as decimal strings (protobufjs reads them with long.js)
    time_nanos: Number.isFinite(startedMs) ? (BigInt(startedMs) * 1_000_000n).toString() : 0,
    duration_nanos: Math.round((m.durationSec > 0 ? m.durationSec : 0) * 1e9),
    period_type: { type: str(time), unit: str("nanoseconds") },
    period: m.rate > 0 ? Math.round(1e9 / m.rate) : 0,
    comment: comments.map(str),
  };
}

/** The gzipped, serialized profile.proto message. */
export function renderPprof(profile: Profile, time: PprofTime = "wall"): Uint8Array {
  const type = pprofType();
  const msg = buildPprof(profile, time);
  const bytes = type.encode(type.fromObject(msg)).finish();
  return new Uint8Array(gzipSync(bytes));
}
