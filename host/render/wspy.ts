// The wspy recording (`-f wspy`, `.wspy`): a Profile stored whole, so that one recording can be
// rendered into every other format later (`wspy convert`, `wspy view`). Encoder and decoder.
// Must not know: the core, the reader, files or the terminal: bytes in, Profile out (and back).
// Source of truth: this file's format description below; ProfileMeta/Profile in host/profile/profile.ts.
//
// Layout (all integers little-endian):
//   header  8 bytes  magic "WSPYREC" + 0x00
//           u16      major version (1; a reader refuses a newer major)
//           u16      minor version (0; a newer minor only adds sections, which a reader skips)
//           then the body, gzip-compressed (RFC 1952), up to the end of the file.
//   body    sections, each: 4-byte ASCII tag, u32 byte length, payload; ending with tag "END "
//           (length 0). Sections in this order; every one but END is required:
//     META  UTF-8 JSON: the ProfileMeta object
//     STRS  u32 count, then per string: u32 byte length, UTF-8 bytes     (interned strings)
//     FRMS  u32 count, then per frame: u32 name string, u32 file string, i32 line,
//           i32 first line of the function (0 = unknown), u8 kind (0 python, 1 thread,
//           2 process, 3 native)
//     NODE  u32 count, then i32 parent[count] (-1 = root level), then i32 frame[count]
//     THRD  u32 count, then per thread: f64 ident, i32 tid, u32 name string
//     SMPL  u32 count, then f64 time[count], i32 thread[count], i32 node[count] (-1 = no stack),
//           f64 weight[count]
//   Every index is checked against its table on reading, and the stack trie must be a forest
//   (no cycles); anything else is reported as a bad recording, never thrown as a crash.

import { gzipSync, gunzipSync } from "node:zlib";
import type { Profile, ProfileFrame, ProfileMeta, ProfileThread } from "../profile/profile.js";
import { inputLimit, sizeText, quoteBytes, jsonProblem } from "../io/files.js";
import { stringTable } from "./common.js";

export const WSPY_MAGIC = "WSPYREC\u0000";
export const WSPY_MAJOR = 1;
export const WSPY_MINOR = 0;
const HEADER_BYTES = 12;

const KINDS: (ProfileFrame["kind"] | "native")[] = ["python", "thread", "process", "native", "task"];

/** A recording that cannot be read: the message says what is wrong, without the file name. */
export class RecordingError extends Error {
  /** overLimit: the recording is refused for its size (a limit the user may raise), not damaged */
  constructor(message: string, public overLimit = false) {
    super(message);
    this.name = "RecordingError";
  }
}

/** True when the bytes start like a wspy recording (the magic). */
export function isWspyRecording(bytes: Uint8Array): boolean {
  if (bytes.length < WSPY_MAGIC.length) return false;
  for (let i = 0; i < WSPY_MAGIC.length; i++) if (bytes[i] !== WSPY_MAGIC.charCodeAt(i)) return false;
  return true;
}

class Out {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(1 << 16);
  private view = new DataView(this.cur.buffer);
  private pos = 0;
  private ensure(n: number): void {
    if (this.pos + n <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.pos));
    const size = Math.max(1 << 16, n);
    this.cur = new Uint8Array(size);
    this.view = new DataView(this.cur.buffer);
    this.pos = 0;
  }
  u8(v: number): void { this.ensure(1); this.view.setUint8(this.pos, v); this.pos += 1; }
  u16(v: number): void { this.ensure(2); this.view.setUint16(this.pos, v, true); this.pos += 2; }
  u32(v: number): void { this.ensure(4); this.view.setUint32(this.pos, v >>> 0, true); this.pos += 4; }
  i32(v: number): void { this.ensure(4); this.view.setInt32(this.pos, v | 0, true); this.pos += 4; }
  f64(v: number): void { this.ensure(8); this.view.setFloat64(this.pos, v, true); this.pos += 8; }
  bytes(b: Uint8Array): void { this.ensure(b.length); this.cur.set(b, this.pos); this.pos += b.length; }
  ascii(s: string): void { for (let i = 0; i < s.length; i++) this.u8(s.charCodeAt(i)); }
  finish(): Uint8Array {
    this.chunks.push(this.cur.subarray(0, this.pos));
    const n = this.chunks.reduce((s, c) => s + c.length, 0);
    const all = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) { all.set(c, o); o += c.length; }
    this.chunks = [];
    this.cur = new Uint8Array(16);
    this.view = new DataView(this.cur.buffer);
    this.pos = 0;
    return all;
  }
}

const utf8 = new TextEncoder();

function section(body: Out, tag: string, fill: (o: Out) => void): void {
  const o = new Out();
  fill(o);
  const payload = o.finish();
  body.ascii(tag);
  body.u32(payload.length);
  body.bytes(payload);
}

/** The recording's bytes: header, then the gzipped sections. */
export function renderWspy(profile: Profile): Uint8Array {
  // strings: interned here (the Profile holds them resolved)
  const { strings, id: sid } = stringTable();
  const frames = profile.frames.map((f) => ({
    name: sid(f.name), file: sid(f.file), line: f.line | 0, firstLine: (f.firstLine ?? 0) | 0,
    kind: Math.max(0, KINDS.indexOf(f.kind ?? "python")),
  }));
  const threads = profile.threads.map((t) => ({ ident: t.ident, tid: t.tid | 0, name: sid(t.name ?? "") }));

  const body = new Out();
  section(body, "META", (o) => o.bytes(utf8.encode(JSON.stringify(profile.meta))));
  section(body, "STRS", (o) => {
    o.u32(strings.length);
    for (const s of strings) {
      const b = utf8.encode(s);
      o.u32(b.length);
      o.bytes(b);
    }
  });
  section(body, "FRMS", (o) => {
    o.u32(frames.length);
    for (const f of frames) { o.u32(f.name); o.u32(f.file); o.i32(f.line); o.i32(f.firstLine); o.u8(f.kind); }
  });
  section(body, "NODE", (o) => {
    const n = profile.nodeParent.length;
    o.u32(n);
    for (let i = 0; i < n; i++) o.i32(profile.nodeParent[i]);
    for (let i = 0; i < n; i++) o.i32(profile.nodeFrame[i]);
  });
  section(body, "THRD", (o) => {
    o.u32(threads.length);
    for (const t of threads) { o.f64(t.ident); o.i32(t.tid); o.u32(t.name); }
  });
  section(body, "SMPL", (o) => {
    const n = profile.sampleNode.length;
    o.u32(n);
    for (let i = 0; i < n; i++) o.f64(profile.sampleTime[i]);
    for (let i = 0; i < n; i++) o.i32(profile.sampleThread[i]);
    for (let i = 0; i < n; i++) o.i32(profile.sampleNode[i]);
    for (let i = 0; i < n; i++) o.f64(profile.sampleWeight[i]);
  });
  body.ascii("END ");
  body.u32(0);

  const gz = gzipSync(body.finish());
  const out = new Out();
  out.ascii(WSPY_MAGIC);
  out.u16(WSPY_MAJOR);
  out.u16(WSPY_MINOR);
  out.bytes(gz);
  return out.finish();
}

/** Reads a payload with bounds checks: running past the end is a RecordingError. */
class In {
  private view: DataView;
  pos = 0;
  constructor(private buf: Uint8Array, private what: string) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  get left(): number { return this.buf.length - this.pos; }
  need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new RecordingError(`the ${this.what} section is cut short (needs ${n} more bytes at offset ${this.pos} of ${this.buf.length})`);
  }
  u8(): number { this.need(1); return this.view.getUint8(this.pos++); }
  u32(): number { this.need(4); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  i32(): number { this.need(4); const v = this.view.getInt32(this.pos, true); this.pos += 4; return v; }
  f64(): number { this.need(8); const v = this.view.getFloat64(this.pos, true); this.pos += 8; return v; }
  bytes(n: number): Uint8Array { this.need(n); const b = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return b; }
  /** a count of items each at least `each` bytes long, checked against what is left */
  count(each: number): number {
    const n = this.u32();
    if (n * each > this.left) throw new RecordingError(`the ${this.what} section claims ${n} entries but holds only ${this.left} more bytes`);
    return n;
  }
  done(): void {
    if (this.left !== 0) throw new RecordingError(`the ${this.what} section has ${this.left} unexpected trailing bytes`);
  }
}

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/**
 * A Profile from a recording's bytes; throws RecordingError saying what is wrong (never quoting
 * the file's bytes raw). maxBodyBytes: what the gzip body may expand to at most (a gzip bomb
 * stops there; default: the recording limit of host/io/files.ts).
 */
export function decodeWspy(bytes: Uint8Array, maxBodyBytes = inputLimit("recording")): Profile {
  if (bytes.length === 0) throw new RecordingError("the file is empty");
  if (!isWspyRecording(bytes)) throw new RecordingError("not a wspy recording (no WSPYREC header)");
  if (bytes.length < HEADER_BYTES) throw new RecordingError("the header is cut short");
  const hv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = hv.getUint16(8, true);
  const minor = hv.getUint16(10, true);
  if (major !== WSPY_MAJOR) {
    throw new RecordingError(`recording format version ${major}.${minor} is not readable by this wspy (it reads ${WSPY_MAJOR}.x)`);
  }
  let body: Uint8Array;
  try {
    body = gunzipSync(bytes.subarray(HEADER_BYTES), { maxOutputLength: maxBodyBytes });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    if (code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError) {
      throw new RecordingError(`it expands past the ${sizeText(maxBodyBytes)} limit for a recording when decompressed`, true);
    }
    const why = code === "Z_BUF_ERROR" || /unexpected end/i.test((e as Error).message) ? "it is truncated" : `its compressed data is corrupt (${code || "zlib error"})`;
    throw new RecordingError(`cannot decompress the recording: ${why}`);
  }

  // split into sections
  const top = new In(body, "body");
  const sections = new Map<string, Uint8Array>();
  let ended = false;
  while (top.left > 0) {
    const tagBytes = top.bytes(4);
    const tag = String.fromCharCode(...tagBytes);
    const len = top.u32();
    if (len > top.left) throw new RecordingError(`section ${quoteBytes(tagBytes)} is cut short (${len} bytes declared, ${top.left} left)`);
    const payload = top.bytes(len);
    if (tag === "END ") { ended = true; break; }
    if (!/^[A-Z]{4}$/.test(tag)) throw new RecordingError(`unreadable section tag ${quoteBytes(tagBytes)} at offset ${top.pos - 8 - len}`);
    if (sections.has(tag)) throw new RecordingError(`section ${tag} appears twice`);
    sections.set(tag, payload); // unknown (newer minor version) sections are kept and ignored
  }
  if (!ended) throw new RecordingError("the recording has no END section (truncated?)");
  const need = (tag: string, what: string): In => {
    const b = sections.get(tag);
    if (!b) throw new RecordingError(`the ${what} section (${tag}) is missing`);
    return new In(b, what);
  };

  // META
  let meta: ProfileMeta;
  {
    const s = need("META", "meta");
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8Strict.decode(s.bytes(s.left)));
    } catch (e) {
      throw new RecordingError(`the meta section is not valid JSON (${e instanceof TypeError ? "not UTF-8" : jsonProblem(e)})`);
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new RecordingError("the meta section is not a JSON object");
    const p = parsed as Record<string, unknown>;
    const numOr = (v: unknown, d: number): number => (typeof v === "number" && Number.isFinite(v) ? v : d);
    const strOr = (v: unknown, d: string): string => (typeof v === "string" ? v : d);
    const errors: Record<string, number> = {};
    if (p.errors && typeof p.errors === "object") {
      for (const [k, v] of Object.entries(p.errors as Record<string, unknown>)) if (typeof v === "number") errors[k] = v;
    }
    meta = {
      ...p,
      target: strOr(p.target, ""),
      pid: numOr(p.pid, 0),
      pythonVersion: strOr(p.pythonVersion, ""),
      rate: numOr(p.rate, 0),
      durationSec: numOr(p.durationSec, 0),
      samples: numOr(p.samples, 0),
      errors,
      startedAt: strOr(p.startedAt, ""),
    } as ProfileMeta;
  }

  // STRS
  const strings: string[] = [];
  {
    const s = need("STRS", "strings");
    const n = s.count(4);
    for (let i = 0; i < n; i++) {
      const len = s.u32();
      try {
        strings.push(utf8Strict.decode(s.bytes(len)));
      } catch (e) {
        if (e instanceof RecordingError) throw e;
        throw new RecordingError(`string #${i} is not valid UTF-8`);
      }
    }
    s.done();
  }
  const strAt = (id: number, what: string): string => {
    if (id >= strings.length) throw new RecordingError(`${what} names string #${id}, but there are only ${strings.length}`);
    return strings[id];
  };

  // FRMS
  const frames: ProfileFrame[] = [];
  {
    const s = need("FRMS", "frames");
    const n = s.count(17);
    for (let i = 0; i < n; i++) {
      const name = strAt(s.u32(), `frame #${i}`);
      const file = strAt(s.u32(), `frame #${i}`);
      const line = s.i32();
      const firstLine = s.i32();
      const k = s.u8();
      if (k >= KINDS.length) throw new RecordingError(`frame #${i} has an unknown kind ${k}`);
      const frame: ProfileFrame = { name, file, line, kind: KINDS[k] as ProfileFrame["kind"] };
      if (firstLine > 0) frame.firstLine = firstLine;
      frames.push(frame);
    }
    s.done();
  }

  // NODE
  let nodeParent: Int32Array, nodeFrame: Int32Array;
  {
    const s = need("NODE", "stack trie");
    const n = s.count(8);
    nodeParent = new Int32Array(n);
    nodeFrame = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const p = s.i32();
      if (p < -1 || p >= n) throw new RecordingError(`stack node #${i} has parent ${p}, outside -1..${n - 1}`);
      nodeParent[i] = p;
    }
    for (let i = 0; i < n; i++) {
      const f = s.i32();
      if (f < 0 || f >= frames.length) throw new RecordingError(`stack node #${i} names frame #${f}, but there are only ${frames.length}`);
      nodeFrame[i] = f;
    }
    s.done();
    // the trie must be a forest: every chain of parents ends at -1 (0 unknown, 1 on the walk, 2 fine)
    const state = new Uint8Array(n);
    const walk: number[] = [];
    for (let i = 0; i < n; i++) {
      let x = i;
      while (x >= 0 && state[x] === 0) { state[x] = 1; walk.push(x); x = nodeParent[x]; }
      if (x >= 0 && state[x] === 1) throw new RecordingError(`the stack trie has a cycle through node #${x}`);
      for (const w of walk) state[w] = 2;
      walk.length = 0;
    }
  }

  // THRD
  const threads: ProfileThread[] = [];
  {
    const s = need("THRD", "threads");
    const n = s.count(16);
    for (let i = 0; i < n; i++) {
      const ident = s.f64();
      const tid = s.i32();
      const name = strAt(s.u32(), `thread #${i}`);
      threads.push({ ident, tid, name });
    }
    s.done();
  }

  // SMPL
  let sampleTime: Float64Array, sampleThread: Int32Array, sampleNode: Int32Array, sampleWeight: Float64Array;
  {
    const s = need("SMPL", "samples");
    const n = s.count(24);
    sampleTime = new Float64Array(n);
    sampleThread = new Int32Array(n);
    sampleNode = new Int32Array(n);
    sampleWeight = new Float64Array(n);
    for (let i = 0; i < n; i++) sampleTime[i] = s.f64();
    for (let i = 0; i < n; i++) {
      const t = s.i32();
      if (t < 0 || t >= Math.max(threads.length, 1)) throw new RecordingError(`sample #${i} names thread #${t}, but there are only ${threads.length}`);
      sampleThread[i] = t;
    }
    for (let i = 0; i < n; i++) {
      const nd = s.i32();
      if (nd < -1 || nd >= nodeParent.length) throw new RecordingError(`sample #${i} names stack node #${nd}, outside -1..${nodeParent.length - 1}`);
      sampleNode[i] = nd;
    }
    for (let i = 0; i < n; i++) sampleWeight[i] = s.f64();
    s.done();
  }

  return { frames, nodeParent, nodeFrame, sampleTime, sampleThread, sampleNode, sampleWeight, threads, meta };
}
