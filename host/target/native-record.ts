// What a snapshot keeps of native stacks (`wspy snapshot --native`), so `dump --snapshot FILE
// --native` unwinds them again without the process or its files: each thread's registers, and
// of each object the unwind looked at, what NativeStacks asked of its ELF file (where it is
// mapped, its load bias, where its unwind tables and eval loop are, and the symbol names it looked
// up). The bytes the unwind read (stack windows, unwind tables, the eval function's code) are in
// the snapshot's memory like every other read. RecordingNativeObjects wraps the target's own
// objects while the snapshot is taken and notes every answer; RecordedNativeObjects gives the
// same answers back. An unwind of the same registers over the same memory asks the same
// questions, so it finds the same frames; a question never asked then gets "nothing there".
// Must not know: CPython layouts, how the unwind works (host/target/native.ts), the snapshot's bytes.
// Source of truth: host/target/native.ts (NativeObjects: what is asked); this file (the JSON
// shape of the snapshot header's field "native").

import { hexAddress, parseHexAddress } from "./attach.js";
import type { NativeModule, NativeObjects, NativeObjectFacts } from "./native.js";

/** Threads, objects and symbol names a record holds at most (far above a real process's). */
const MAX_THREADS = 1 << 16;
const MAX_OBJECTS = 1 << 12;
const MAX_SYMBOLS = 1 << 20;
const MAX_NAME = 4096;
const MAX_EVAL_RANGES = 64;
const MAX_PATH = 4096;
/** user_regs_struct words (docs/native-stacks.md §4.1) */
const REGS_WORDS = 27;

/** One recorded object: the mapping that held a pc, and its facts (null: its file could not be read). */
interface RecordedObject {
  module: NativeModule;
  facts: {
    bias: bigint;
    ehFrameHdr: bigint; ehFrameHdrSize: number; ehFrame: bigint; ehFrameSize: number;
    evalRanges: [bigint, bigint][];
    symbols: Map<bigint, string>;
  } | null;
}

/** The snapshot's native record: every OS thread (registers null when they could not be read), and the objects. */
export interface NativeRecord {
  threads: { tid: number; regs: BigUint64Array | null }[];
  objects: RecordedObject[];
}

function keyOf(m: NativeModule): string {
  return `${m.path}\u0000${m.start}`;
}

/** Wraps the target's objects and notes every answer (toJson: the header's field "native", with the threads). */
export class RecordingNativeObjects implements NativeObjects {
  private readonly objects = new Map<string, RecordedObject>();
  constructor(private readonly inner: NativeObjects) {}

  moduleAt(pc: bigint): NativeModule | null {
    const m = this.inner.moduleAt(pc);
    if (m && !this.objects.has(keyOf(m))) this.objects.set(keyOf(m), { module: { ...m }, facts: null });
    return m;
  }

  facts(mod: NativeModule): NativeObjectFacts | null {
    const rec = this.objects.get(keyOf(mod)) ?? { module: { ...mod }, facts: null };
    this.objects.set(keyOf(mod), rec);
    const f = this.inner.facts(mod); // a throw: recorded as unreadable (facts null), as NativeStacks takes it
    if (!f) return null;
    const symbols = new Map<bigint, string>();
    rec.facts = {
      bias: f.bias, ehFrameHdr: f.ehFrameHdr, ehFrameHdrSize: f.ehFrameHdrSize, ehFrame: f.ehFrame, ehFrameSize: f.ehFrameSize,
      evalRanges: f.evalRanges.map(([lo, hi]) => [lo, hi]), symbols,
    };
    return {
      ...f,
      symbolAt: (fileAddr: bigint): string => {
        const name = f.symbolAt(fileAddr);
        if (name && symbols.size < MAX_SYMBOLS) symbols.set(fileAddr, name);
        return name;
      },
    };
  }

  /** The record as the snapshot header holds it. */
  toJson(threads: { tid: number; regs: BigUint64Array | null }[]): NativeRecordJson {
    return {
      threads: threads.map((t) => ({ tid: t.tid, regs: t.regs ? Array.from(t.regs, (w) => hexAddress(w)) : null })),
      objects: [...this.objects.values()].map((o) => ({
        path: o.module.path, start: hexAddress(BigInt(o.module.start)), end: hexAddress(BigInt(o.module.end)), interpreter: o.module.interpreter,
        facts: o.facts ? {
          bias: hexAddress(o.facts.bias),
          ehFrameHdr: hexAddress(o.facts.ehFrameHdr), ehFrameHdrSize: o.facts.ehFrameHdrSize,
          ehFrame: hexAddress(o.facts.ehFrame), ehFrameSize: o.facts.ehFrameSize,
          eval: o.facts.evalRanges.map(([lo, hi]) => [hexAddress(lo), hexAddress(hi)]),
          symbols: Object.fromEntries([...o.facts.symbols].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([a, n]) => [hexAddress(a), n])),
        } : null,
      })),
    };
  }
}

/** The objects of a snapshot's record: the answers given while it was taken. */
export class RecordedNativeObjects implements NativeObjects {
  constructor(private readonly record: NativeRecord) {}

  moduleAt(pc: bigint): NativeModule | null {
    const n = Number(pc);
    const o = this.record.objects.find((r) => r.module.start <= n && n < r.module.end);
    return o ? o.module : null;
  }

  facts(mod: NativeModule): NativeObjectFacts | null {
    const o = this.record.objects.find((r) => keyOf(r.module) === keyOf(mod));
    const f = o?.facts;
    if (!f) return null;
    return {
      bias: f.bias, ehFrameHdr: f.ehFrameHdr, ehFrameHdrSize: f.ehFrameHdrSize, ehFrame: f.ehFrame, ehFrameSize: f.ehFrameSize,
      evalRanges: f.evalRanges,
      symbolAt: (fileAddr: bigint): string => f.symbols.get(fileAddr) ?? "",
    };
  }
}

/** The JSON shape of the snapshot header's field "native" (addresses as hex text, like every address in the header). */
export interface NativeRecordJson {
  /** every OS thread of the process, in the order the tracer held them; regs: user_regs_struct's 27 words, null when unread */
  threads: { tid: number; regs: string[] | null }[];
  objects: {
    path: string; start: string; end: string; interpreter: boolean;
    facts: {
      bias: string; ehFrameHdr: string; ehFrameHdrSize: number; ehFrame: string; ehFrameSize: number;
      eval: [string, string][];
      /** file address -> name, for each lookup that found a name */
      symbols: Record<string, string>;
    } | null;
  }[];
}

/**
 * A NativeRecord from NativeRecordJson's shape, checked strictly: bad(what) is called (and throws)
 * with the first problem, its field named from "native" ("native.threads[2].tid must be …").
 */
export function nativeRecordFromJson(v: unknown, bad: (what: string) => never): NativeRecord {
  const obj = (x: unknown, field: string): Record<string, unknown> => {
    if (typeof x !== "object" || x === null || Array.isArray(x)) bad(`${field} must be an object`);
    return x as Record<string, unknown>;
  };
  const list = (x: unknown, field: string, max: number): unknown[] => {
    if (!Array.isArray(x)) bad(`${field} must be a list`);
    if ((x as unknown[]).length > max) bad(`${field} has more than ${max} entries`);
    return x as unknown[];
  };
  const address = (x: unknown, field: string): bigint => {
    const a = parseHexAddress(x);
    if (a === null || a < 0n) bad(`${field} must be a hex address like "0x7f00"`);
    return a as bigint;
  };
  const int = (x: unknown, field: string, min: number, max: number): number => {
    if (!Number.isSafeInteger(x) || (x as number) < min || (x as number) > max) bad(`${field} must be an integer from ${min} to ${max}`);
    return x as number;
  };
  const text = (x: unknown, field: string, max: number): string => {
    if (typeof x !== "string" || x.length > max) bad(`${field} must be a string of at most ${max} characters`);
    return x as string;
  };
  const r = obj(v, "native");
  const threads = list(r.threads, "native.threads", MAX_THREADS).map((t, i) => {
    const f = `native.threads[${i}]`;
    const th = obj(t, f);
    let regs: BigUint64Array | null = null;
    if (th.regs !== null) {
      const words = list(th.regs, `${f}.regs`, REGS_WORDS);
      if (words.length !== REGS_WORDS) bad(`${f}.regs must hold ${REGS_WORDS} registers or be null`);
      regs = BigUint64Array.from(words, (w, k) => address(w, `${f}.regs[${k}]`));
    }
    return { tid: int(th.tid, `${f}.tid`, 1, 2 ** 31 - 1), regs };
  });
  const objects = list(r.objects, "native.objects", MAX_OBJECTS).map((o, i): RecordedObject => {
    const f = `native.objects[${i}]`;
    const ob = obj(o, f);
    const start = address(ob.start, `${f}.start`), end = address(ob.end, `${f}.end`);
    if (end <= start || end > 2n ** 53n) bad(`${f}.end must lie above ${f}.start, below 2^53`);
    if (typeof ob.interpreter !== "boolean") bad(`${f}.interpreter must be true or false`);
    const module: NativeModule = { path: text(ob.path, `${f}.path`, MAX_PATH), start: Number(start), end: Number(end), interpreter: ob.interpreter as boolean };
    if (ob.facts === null) return { module, facts: null };
    const fa = obj(ob.facts, `${f}.facts`);
    const evalRanges = list(fa.eval, `${f}.facts.eval`, MAX_EVAL_RANGES).map((e, k): [bigint, bigint] => {
      const pair = list(e, `${f}.facts.eval[${k}]`, 2);
      if (pair.length !== 2) bad(`${f}.facts.eval[${k}] must be [lo, hi]`);
      return [address(pair[0], `${f}.facts.eval[${k}][0]`), address(pair[1], `${f}.facts.eval[${k}][1]`)];
    });
    const syms = obj(fa.symbols, `${f}.facts.symbols`);
    const names = Object.entries(syms);
    if (names.length > MAX_SYMBOLS) bad(`${f}.facts.symbols has more than ${MAX_SYMBOLS} entries`);
    const symbols = new Map<bigint, string>();
    for (const [a, n] of names) symbols.set(address(a, `${f}.facts.symbols key ${JSON.stringify(a.slice(0, 40))}`), text(n, `${f}.facts.symbols[${JSON.stringify(a.slice(0, 40))}]`, MAX_NAME));
    const parsedBias = parseHexAddress(fa.bias);
    if (parsedBias === null) bad(`${f}.facts.bias must be a hex address like "0x7f00"`);
    return {
      module,
      facts: {
        bias: parsedBias as bigint, // a non-PIE executable's bias is 0; a prelinked object's may be below 0
        ehFrameHdr: address(fa.ehFrameHdr, `${f}.facts.ehFrameHdr`), ehFrameHdrSize: int(fa.ehFrameHdrSize, `${f}.facts.ehFrameHdrSize`, 0, 2 ** 31 - 1),
        ehFrame: address(fa.ehFrame, `${f}.facts.ehFrame`), ehFrameSize: int(fa.ehFrameSize, `${f}.facts.ehFrameSize`, 0, 2 ** 31 - 1),
        evalRanges, symbols,
      },
    };
  });
  return { threads, objects };
}
