// The profile tables: interned strings, frames, a stack trie, threads and the sample sequence.
// The host views these tables directly (pointer, length) at render time. They can be reset (a
// window of `top`, a segment of a long run: aggregateReset) at three depths; capacity is kept,
// so a run that resets regularly stays at the memory its largest window needed.
// Must not know: CPython, the target, the clock (times arrive as numbers from the host), which
// decoders cache ids (they compare stringGeneration(); the host compares stackGeneration()).
// Source of truth: host/profile/profile.ts, the shape the host lifts these tables into.

import { Vec, U64Map } from "../util/vec";

// ---- strings: UTF-8 bytes in one arena ----
const strBytes = new Vec(1);
const strStart = new Vec(4);
const strLen = new Vec(4);
const strMap = new U64Map(12);

function hashBytes(ptr: usize, len: i32): u64 {
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < len; i++) {
    h ^= <u64>load<u8>(ptr + i);
    h *= 0x100000001b3;
  }
  return h;
}

/** Interns len UTF-8 bytes at ptr; returns the string id or -1 when memory is exhausted. */
export function internString(ptr: usize, len: i32): i32 {
  const h = hashBytes(ptr, len);
  for (let attempt: u64 = 0; attempt < 8; attempt++) {
    const key = h + attempt * 0x9e3779b97f4a7c15;
    const id = strMap.get(key);
    if (id < 0) {
      const start = strBytes.grow(len);
      if (start < 0) return -1;
      memory.copy(strBytes.at(start), ptr, len);
      const sid = strStart.pushI32(start);
      if (sid < 0 || strLen.pushI32(len) < 0 || !strMap.set(key, sid)) return -1;
      return sid;
    }
    if (strLen.getI32(id) == len && memory.compare(strBytes.at(strStart.getI32(id)), ptr, len) == 0) return id;
  }
  return -1;
}

export function stringCount(): i32 { return strStart.len; }
export function stringPtr(id: i32): usize { return strBytes.at(strStart.getI32(id)); }
export function stringLen(id: i32): i32 { return strLen.getI32(id); }

// ---- frames: (name id, file id, line, kind, first line of the function) ----
export const FRAME_PYTHON: i32 = 0;
export const FRAME_THREAD: i32 = 1;
export const FRAME_PROCESS: i32 = 2;
/** `<task NAME>` above an asyncio task's coroutine frames (--async) */
export const FRAME_TASK: i32 = 3;
/** a native (C/C++) frame (--native): name = the function (or object+0xoffset), file = the object */
export const FRAME_NATIVE: i32 = 4;
/** i32 slots per frame record: name, file, line, kind, firstLine, 3 spare. */
export const FRAME_FIELDS = 8;
const frames = new Vec(4 * FRAME_FIELDS);
const frameMap = new U64Map(12);

export function internFrame(nameId: i32, fileId: i32, line: i32, kind: i32, firstLine: i32): i32 {
  const h = (<u64>nameId * 0x9e3779b97f4a7c15) ^ (<u64>fileId << 32) ^ (<u64>line * 0xbf58476d1ce4e5b9) ^ <u64>kind ^
    (<u64>firstLine << 48);
  for (let attempt: u64 = 0; attempt < 8; attempt++) {
    const key = h + attempt * 0x94d049bb133111eb;
    const id = frameMap.get(key);
    if (id < 0) {
      const fid = frames.grow(1);
      if (fid < 0) return -1;
      const p = frames.at(fid);
      store<i32>(p, nameId);
      store<i32>(p, fileId, 4);
      store<i32>(p, line, 8);
      store<i32>(p, kind, 12);
      store<i32>(p, firstLine, 16);
      if (!frameMap.set(key, fid)) return -1;
      return fid;
    }
    const p = frames.at(id);
    if (load<i32>(p) == nameId && load<i32>(p, 4) == fileId && load<i32>(p, 8) == line && load<i32>(p, 12) == kind &&
      load<i32>(p, 16) == firstLine) return id;
  }
  return -1;
}

export function frameCount(): i32 { return frames.len; }
export function frameStride(): i32 { return FRAME_FIELDS; }
export function framesPtr(): usize { return frames.ptr; }

// ---- stack trie: node = (parent node, frame id) ----
const nodes = new Vec(8);
const nodeMap = new U64Map(12);

/** The child of parent (-1: a root) for frameId, created when new. -1 when memory is exhausted. */
export function internNode(parent: i32, frameId: i32): i32 {
  const key = (<u64>(parent + 1) << 32) | <u64><u32>frameId;
  const id = nodeMap.get(key);
  if (id >= 0) return id;
  const nid = nodes.grow(1);
  if (nid < 0) return -1;
  const p = nodes.at(nid);
  store<i32>(p, parent);
  store<i32>(p, frameId, 4);
  if (!nodeMap.set(key, nid)) return -1;
  return nid;
}

export function nodeCount(): i32 { return nodes.len; }
export function nodesPtr(): usize { return nodes.ptr; }

// ---- threads: Python thread ident -> (ident, OS tid) ----
const threads = new Vec(16);
const threadMap = new U64Map(8);

export function internThread(ident: u64, tid: i32): i32 {
  const key = ident ^ (<u64>tid << 48);
  const id = threadMap.get(key);
  if (id >= 0) return id;
  const t = threads.grow(1);
  if (t < 0) return -1;
  const p = threads.at(t);
  store<u64>(p, ident);
  store<i32>(p, tid, 8);
  store<i32>(p, -1, 12); // name string id, filled by the host later
  if (!threadMap.set(key, t)) return -1;
  return t;
}

export function threadCount(): i32 { return threads.len; }
export function threadsPtr(): usize { return threads.ptr; }
export function setThreadName(threadId: i32, nameId: i32): void {
  if (threadId >= 0 && threadId < threads.len) store<i32>(threads.at(threadId), nameId, 12);
}
/** The newest thread record with this Python ident (idents are reused after a thread ends), or -1. */
export function threadFindByIdent(ident: u64): i32 {
  for (let i = threads.len - 1; i >= 0; i--) if (load<u64>(threads.at(i)) == ident) return i;
  return -1;
}
export function threadNameId(threadId: i32): i32 {
  return threadId >= 0 && threadId < threads.len ? load<i32>(threads.at(threadId), 12) : -1;
}

// ---- the sample sequence ----
const sampleTime = new Vec(8);
const sampleThread = new Vec(4);
const sampleNode = new Vec(4);
const sampleWeight = new Vec(8);

export function pushSample(time: f64, weight: f64, threadId: i32, node: i32): bool {
  return sampleTime.pushF64(time) >= 0 && sampleWeight.pushF64(weight) >= 0 &&
    sampleThread.pushI32(threadId) >= 0 && sampleNode.pushI32(node) >= 0;
}

export function sampleCount(): i32 { return sampleTime.len; }
export function sampleTimesPtr(): usize { return sampleTime.ptr; }
export function sampleWeightsPtr(): usize { return sampleWeight.ptr; }
export function sampleThreadsPtr(): usize { return sampleThread.ptr; }
export function sampleNodesPtr(): usize { return sampleNode.ptr; }

// ---- resets ----
/** aggregateReset depths: the sample sequence only (every id stays valid) ... */
export const RESET_SAMPLES: i32 = 0;
/** ... and the frames and the stack trie (frame and node ids start again; strings and threads stay) ... */
export const RESET_STACKS: i32 = 1;
/** ... and the threads and the strings too (every id starts again: decoders drop the string ids they cached). */
export const RESET_ALL: i32 = 2;
let stackGen: i32 = 0;
let stringGen: i32 = 0;

/**
 * Bumped by each reset that forgets frames and nodes (RESET_STACKS, RESET_ALL): a frame or
 * node id is only meaningful with the generation it was handed out in.
 */
export function stackGeneration(): i32 { return stackGen; }
/**
 * Bumped by each reset that forgets strings and threads (RESET_ALL): a decoder that cached a
 * string id (the code cache's names, the type cache's names) drops it when this has changed.
 */
export function stringGeneration(): i32 { return stringGen; }

/**
 * Empties the tables down to `depth` (RESET_SAMPLES, RESET_STACKS or RESET_ALL), keeping their
 * capacity. Call between samples (after walkCommit), never between walkSample and walkCommit:
 * the result records hold ids of the tables as they were. Returns the stack generation.
 */
export function aggregateReset(depth: i32): i32 {
  sampleTime.clear();
  sampleThread.clear();
  sampleNode.clear();
  sampleWeight.clear();
  if (depth >= RESET_STACKS) {
    frames.clear();
    frameMap.clear();
    nodes.clear();
    nodeMap.clear();
    stackGen++;
  }
  if (depth >= RESET_ALL) {
    threads.clear();
    threadMap.clear();
    strBytes.clear();
    strStart.clear();
    strLen.clear();
    strMap.clear();
    stringGen++;
  }
  return stackGen;
}

/** Bytes of string text interned (the host's reset policy bounds it). */
export function stringBytes(): i32 { return strBytes.len; }
