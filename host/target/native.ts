// Native stacks (--native): each thread's registers (ptrace while it is stopped, NT_PRSTATUS in a
// core file) and a window of its stack, copied in the same stop; unwound afterwards by the core
// (assembly/unwind/native.ts) over the unwind tables of each mapped object, which this file reads
// once per object from the target's memory (a core file serves them from the mapped files) and
// registers with the core, with the interpreter's eval-loop ranges; frames named from the
// objects' symbol tables (a symbol's range must hold the pc) and classified for the merge
// (host/sampling/native-merge.ts): eval loop, interpreter plumbing, or shown. What it needs of
// each object (where it is mapped, its bias, where its tables and eval loop are, symbol names)
// comes through NativeObjects: the target's modules and ELF files (targetObjects), or what a
// snapshot recorded of them (host/target/native-record.ts); memory always through the target's reader.
// Must not know: CPython layouts (the eval ranges come from the core's ELF facts), how tables
// are decoded (the core), output formats, where the objects' facts come from.
// Source of truth: docs/native-stacks.md §3 (formats, bias, the step), §4 (registers), §6 (eval
// ranges: named parts and the split-out parts found by where the function's jumps land).

import path from "node:path";
import type { Target, ElfObject } from "./attach.js";
import type { CoreExports } from "../core/core.js";
import { ModuleList, type Module, type ModuleRange } from "./modules.js";
import { readMaps, type Mapping } from "./proc.js";
import { demangle } from "../render/demangle.js";

/** user_regs_struct word index of each DWARF register 0–16 (rax rdx rcx rbx rsi rdi rbp rsp r8–r15, rip). */
const DWARF_TO_USER = [10, 12, 11, 5, 13, 14, 4, 19, 9, 8, 7, 6, 3, 2, 1, 0, 16];
export const USER_REGS_WORDS = 27;
const REG_COUNT = 17, REG_RSP = 7;
/** Stack bytes copied above rsp at first; grown per thread (up to MAX_WINDOW) when an unwind needs more. */
const FIRST_WINDOW = 64 * 1024;
const MAX_WINDOW = 1024 * 1024;
/** The System V x86-64 red zone: bytes below rsp a function may use without moving it. */
const RED_ZONE = 128n;
/**
 * CPython's perf trampolines (-X perf), as their code reads around a return address: [the core's
 * TRAMP_* kind, the bytes, where the call returns in them]. Python/asm_trampoline.S (sub $8,%rsp;
 * call *%rcx; add $8,%rsp; ret), pyenv 3.12/3.13; endbr64; push %rbp; mov %rsp,%rbp; call *%rcx;
 * pop %rbp; ret, Debian's 3.14+ (docs/native-stacks.md §3.7).
 */
const TRAMPOLINES: ["TRAMP_SUB8" | "TRAMP_PUSH_RBP", Buffer, number][] = [
  ["TRAMP_SUB8", Buffer.from("4883ec08ffd14883c408c3", "hex"), 6],
  ["TRAMP_PUSH_RBP", Buffer.from("f30f1efa554889e5ffd15dc3", "hex"), 10],
];
const TRAMPOLINE_BEFORE = 10, TRAMPOLINE_SPAN = 16;
/** Unwind tables bigger than this are not read (no real object comes near). */
const MAX_TABLE = 64 << 20;
/** An eval function's code scanned for jumps at most. */
const MAX_EVAL_CODE = 4 << 20;
/** Jumps that must land in one FDE before it counts as a split-out part of the eval loop. */
const MIN_JUMPS_INTO_PART = 3;

/** How each nativeStop() code (the core's NS_*, assembly/unwind/native.ts) is worded; NS_END: the walk reached the outermost frame. */
const STOP_WORDS: [keyof CoreExports & `NS_${string}`, string][] = [
  ["NS_END", ""], ["NS_NO_OBJECT", "pc in no mapped object"], ["NS_NO_FDE", "no unwind info"], ["NS_BAD_CFI", "bad unwind info"],
  ["NS_WINDOW", "stack beyond the window read"], ["NS_LIMIT", "too many frames"], ["NS_NO_PROGRESS", "stack did not grow"],
  ["NS_CHECK_TRAMPOLINE", "a perf trampoline not checked"],
];

export interface NativeFrame {
  pc: bigint;
  /** the function's name; "" when no symbol holds the pc */
  name: string;
  /** the object's file name (basename), "?" for none */
  module: string;
  /** pc as the object's file addresses it (pc minus the load bias) */
  offset: bigint;
  /** the start of the function (its FDE) in the file's addresses, 0 when unknown: names an unnamed function stably */
  start: bigint;
  /** the pc lies in the interpreter's eval loop: one block of Python frames takes its place */
  eval: boolean;
  /** the object is the interpreter (libpython, or the python executable) */
  interpreter: boolean;
  /** interpreter plumbing (hidden unless --native-all): a frame of the interpreter's own objects that says nothing a Python frame does not */
  plumbing: boolean;
}

export interface NativeStack {
  frames: NativeFrame[];
  /** why the walk ended early ("" when it reached the outermost frame) */
  stop: string;
}

/** A mapped object as the unwinder sees it: the mapping that holds a pc. */
export interface NativeModule {
  /** the file as the target names it ("[vdso]" for the vdso) */
  path: string;
  /** the mapping (of the file) that holds the pc */
  start: number;
  end: number;
  /** the interpreter's own object (libpython, or the python executable) */
  interpreter: boolean;
}

/** What the unwinder needs of one object; addresses as its file has them (add bias for the target's). */
export interface NativeObjectFacts {
  bias: bigint;
  /** .eh_frame_hdr and .eh_frame (0n and 0 when absent) */
  ehFrameHdr: bigint;
  ehFrameHdrSize: number;
  ehFrame: bigint;
  ehFrameSize: number;
  /** the eval loop's named ranges (its function and .cold parts), [lo, hi) */
  evalRanges: [bigint, bigint][];
  /** the name of the symbol whose range holds fileAddr, "" when none does */
  symbolAt(fileAddr: bigint): string;
}

/** Where NativeStacks learns about the target's objects. */
export interface NativeObjects {
  /** the object mapped at pc, null when no mapping of a file (or the vdso) holds it */
  moduleAt(pc: bigint): NativeModule | null;
  /** its facts; null (or a throw) when its file cannot be read: its frames end the stack (or follow rbp) */
  facts(mod: NativeModule): NativeObjectFacts | null;
  /** the anonymous executable mapping holding pc, when one holds it (live processes: perf trampolines) */
  anonymousAt?(pc: bigint): { start: number; end: number } | null;
}

/** How often a live target's memory map is read again at most, for pcs in no object known (ms). */
const MAPS_REFRESH_MS = 500;

/**
 * The target's own objects: its module list, each object's ELF file parsed by the core (symbols
 * kept). A live process maps objects after wspy attached (extension modules imported later): a pc
 * in none of the attach-time list is looked up in the memory map read again, at most every
 * MAPS_REFRESH_MS (a pc in nothing mapped, such as JIT code, then costs no read per sample).
 */
export function targetObjects(target: Target): NativeObjects {
  const byKey = new Map<string, Module>();
  const decoder = new TextDecoder();
  let fresh: { at: number; maps: Mapping[]; list: ModuleList } | null = null;
  const freshMaps = (): { maps: Mapping[]; list: ModuleList } | null => {
    if (!target.live) return null;
    const now = performance.now();
    if (!fresh || now - fresh.at >= MAPS_REFRESH_MS) {
      const maps = readMaps(target.info.pid);
      const exe = target.modules.modules.find((m) => m.kind === "executable")?.path ?? "";
      fresh = { at: now, maps, list: ModuleList.fromMaps(maps, exe) };
    }
    return fresh;
  };
  const found = (list: ModuleList, n: number): NativeModule | null => {
    for (const m of list.modules) {
      const r = m.ranges.find((q: ModuleRange) => q.start <= n && n < q.end);
      if (!r) continue;
      byKey.set(`${m.path}\u0000${r.start}`, m);
      const exe = target.modules.interpreter;
      const interpreter = m.isInterpreter || m.isLibpython || (m.kind === "executable" && !!exe && /python/i.test(path.basename(m.path)));
      return { path: m.path, start: r.start, end: r.end, interpreter };
    }
    return null;
  };
  return {
    moduleAt(pc: bigint): NativeModule | null {
      const n = Number(pc);
      const known = found(target.modules, n);
      if (known) return known;
      const list = freshMaps()?.list;
      return list ? found(list, n) : null;
    },
    anonymousAt(pc: bigint): { start: number; end: number } | null {
      const n = Number(pc);
      const m = freshMaps()?.maps.find((q) => q.start <= n && n < q.end && q.perms.includes("x") && !q.path);
      return m ? { start: m.start, end: m.end } : null;
    },
    facts(nm: NativeModule): NativeObjectFacts | null {
      const mod = byKey.get(`${nm.path}\u0000${nm.start}`);
      if (!mod) return null;
      const obj: ElfObject = target.object(mod, { keepSymbols: true });
      const x = target.core.x;
      // a stripped object: the names of its static functions may be in a separate debug file
      const debugId = x.elfHasSymtab(obj.id) ? -1 : debugObject(target, mod, obj);
      const evalRanges: [bigint, bigint][] = [];
      for (let i = 0, n = x.elfEvalRangeCount(obj.id); i < n; i++) {
        evalRanges.push([BigInt.asUintN(64, x.elfEvalRangeLo(obj.id, i)), BigInt.asUintN(64, x.elfEvalRangeHi(obj.id, i))]);
      }
      return {
        bias: obj.bias,
        ehFrameHdr: BigInt.asUintN(64, x.elfEhFrameHdr(obj.id)), ehFrameHdrSize: Number(x.elfEhFrameHdrSize(obj.id)),
        ehFrame: BigInt.asUintN(64, x.elfEhFrame(obj.id)), ehFrameSize: Number(x.elfEhFrameSize(obj.id)),
        evalRanges,
        symbolAt(fileAddr: bigint): string {
          // the object's own names first: where a debug file lists aliases, .dynsym's is the public one
          const p = x.elfSymbolAt(obj.id, fileAddr) || (debugId >= 0 ? x.elfSymbolAt(debugId, fileAddr) : 0);
          if (!p) return "";
          const u8 = target.core.u8();
          let end = p;
          while (end < u8.length && u8[end] !== 0 && end - p < 4096) end++;
          return decoder.decode(u8.subarray(p, end));
        },
      };
    },
  };
}

/** Where distributions install separate debug files, by build id (Debian's *-dbg / *-dbgsym packages). */
const DEBUG_ROOT = "/usr/lib/debug/.build-id";
/** A build-id note is a few dozen bytes; more is not one. */
const MAX_BUILD_ID_NOTE = 256;

/**
 * The core's id of the separate debug file of obj (DEBUG_ROOT/xx/rest.debug, named by the build
 * id the object's .note.gnu.build-id holds; looked up in the target's root like its other files),
 * with its symbol tables kept; -1 when it has no build id or no such file. Its .symtab has the
 * object's own addresses (the debug file is the same link with the code left out).
 */
function debugObject(target: Target, mod: Module, obj: ElfObject): number {
  const x = target.core.x;
  const note = BigInt.asUintN(64, x.elfBuildIdNote(obj.id)), size = Number(x.elfBuildIdNoteSize(obj.id));
  if (note === 0n || size < 16 || size > MAX_BUILD_ID_NOTE) return -1;
  const bytes = target.readMemory(note + obj.bias, size);
  if (!bytes) return -1;
  const ptr = target.core.copyIn(bytes);
  let hex = "";
  try {
    const n = x.elfDecodeBuildId(ptr, size);
    if (n > 0) hex = Buffer.from(target.core.u8().subarray(ptr + 16, ptr + 16 + n)).toString("hex");
  } finally {
    x.freeBuffer(ptr);
  }
  if (!hex) return -1;
  const file = `${DEBUG_ROOT}/${hex.slice(0, 2)}/${hex.slice(2)}.debug`;
  const debugMod: Module = { path: file, kind: "other", ranges: [], base: mod.base, isInterpreter: false, isLibpython: false };
  try {
    return target.object(debugMod, { keepSymbols: true }).id;
  } catch {
    return -1; // not installed (or not readable): the object's own symbols only
  }
}

interface Slot {
  module: NativeModule;
  name: string;
  bias: bigint;
  facts: NativeObjectFacts | null;
  interpreter: boolean;
  names: Map<bigint, { name: string; start: bigint }>;
}

/** A captured thread: registers (DWARF order) and the stack window, in the core's memory. */
interface Capture {
  regsDwarf: BigUint64Array;
  winPtr: number;
  winCap: number;
  winLen: number;
  winAddr: bigint;
  /** the window the next capture of this thread asks for */
  want: number;
  /** where the mapping of the thread's stack ends, as a short read showed (0n: not known yet) */
  stackEnd: bigint;
}

/** Names the interpreter's own objects keep visible: where a Python program's time goes in C (sleeps, locks, GC, I/O). */
const KEEP_IN_INTERPRETER = /^(time_|sys_|gc_|_?PyGC_|os_|posix_|lock_|rlock_|thread_|_thread_|select_|poll_|epoll_|sock_|signal_|faulthandler_|_?PyThread_|PyGILState_|take_gil|drop_gil|PyEval_(Restore|Save)Thread|_?PyMutex_|_PySemaphore_|_?PyEvent_|pysleep|unicode_|stringio_|_io_|_bufferedreader_|_bufferedwriter_|fileio_|_sre_|sre_|_Py_(read|write|open)|collect)/;
/** libc's thread and process start frames: below every stack, said by nothing (hidden like interpreter plumbing). */
const START_FRAMES = /^(__libc_start_main|__libc_start_call_main|_start|start_thread|clone3?|__clone3?)$/;

export class NativeStacks {
  private slots: Slot[] = [];
  private slotOf = new Map<string, number>();
  private captures = new Map<number, Capture>();
  /** the live target's memory map, as last read (stack ends) */
  private maps: { start: number; end: number }[] | null = null;

  /** the core's codes this file acts on, and the words for every stop code */
  private readonly code: { noObject: number; window: number; checkTrampoline: number; eval: number };
  private readonly stopWords = new Map<number, string>();

  /** objects: where the objects' facts come from (the target's own files by default) */
  constructor(private readonly target: Target, private readonly objects: NativeObjects = targetObjects(target)) {
    const x = target.core.x;
    this.code = { noObject: x.NS_NO_OBJECT.value, window: x.NS_WINDOW.value, checkTrampoline: x.NS_CHECK_TRAMPOLINE.value, eval: x.NF_EVAL.value };
    for (const [key, words] of STOP_WORDS) this.stopWords.set(x[key].value, words);
  }

  /**
   * Thread tid's capture with its registers (user_regs_struct words) taken, and where its stack
   * window starts: below rsp, since an epilogue's rows still say where the registers it popped
   * were saved (GCC emits no restore for them), in the red zone the psABI leaves intact below rsp.
   */
  private take(tid: number, userRegs: BigUint64Array): { c: Capture; addr: bigint } {
    let c = this.captures.get(tid);
    if (!c) {
      c = { regsDwarf: new BigUint64Array(REG_COUNT), winPtr: 0, winCap: 0, winLen: 0, winAddr: 0n, want: FIRST_WINDOW, stackEnd: 0n };
      this.captures.set(tid, c);
    }
    for (let k = 0; k < REG_COUNT; k++) c.regsDwarf[k] = userRegs[DWARF_TO_USER[k]];
    const sp = c.regsDwarf[REG_RSP];
    return { c, addr: sp > RED_ZONE ? sp - RED_ZONE : sp };
  }

  /** A window buffer of at least want bytes for c (the old one freed when too small). */
  private ensureBuffer(c: Capture, want: number): void {
    if (c.winCap >= want) return;
    const x = this.target.core.x;
    if (c.winPtr) x.freeBuffer(c.winPtr);
    c.winPtr = x.allocBuffer(want);
    c.winCap = want;
  }

  /** Copies thread tid's registers (user_regs_struct words) and a window of its stack. false when the stack pointer reads nothing. */
  capture(tid: number, userRegs: BigUint64Array): boolean {
    const { c, addr } = this.take(tid, userRegs);
    return this.readWindow(c, addr, c.want);
  }

  /**
   * Takes thread tid's registers and says which window of its stack to read, for a read batched
   * with others (the walk's first batch, walkExtraRead): {addr, len, ptr}, or null when the end of
   * its stack's mapping is not known yet (a window read past it would fail whole: then capture()
   * reads it alone, and learns the end). windowRead() says how the batched read went.
   */
  planWindow(tid: number, userRegs: BigUint64Array): { addr: bigint; len: number; ptr: number } | null {
    const { c, addr } = this.take(tid, userRegs);
    c.winLen = 0;
    c.winAddr = addr;
    if (c.stackEnd <= addr || c.stackEnd - addr > BigInt(MAX_WINDOW) * 64n) return null;
    const len = Math.min(c.want, Number(c.stackEnd - addr));
    this.ensureBuffer(c, c.want);
    return { addr, len, ptr: c.winPtr };
  }

  /** After the batched read of planWindow's window: ok, it holds len bytes; else it is read alone now (the thread must still be stopped). */
  windowRead(tid: number, len: number, ok: boolean): boolean {
    const c = this.captures.get(tid);
    if (!c) return false;
    if (ok) { c.winLen = len; return true; }
    return this.readWindow(c, c.winAddr, c.want);
  }

  /** How many threads' captures (and window buffers) are held. */
  get threadCount(): number { return this.captures.size; }

  /** Forgets threads not in keep (ended threads' windows are freed). */
  retain(keep: Set<number>): void {
    for (const [tid, c] of this.captures) {
      if (keep.has(tid)) continue;
      if (c.winPtr) this.target.core.x.freeBuffer(c.winPtr);
      this.captures.delete(tid);
    }
  }

  private readWindow(c: Capture, sp: bigint, want: number): boolean {
    this.ensureBuffer(c, want);
    c.winAddr = sp;
    // a short read is fine: the window then ends where the stack's mapping does
    let got = this.target.readInto(c.winPtr, sp, want);
    if (got <= 0) got = this.readToPageEnd(c.winPtr, sp, want);
    c.winLen = got > 0 ? got : 0;
    if (c.winLen > 0) c.stackEnd = c.winLen < want ? sp + BigInt(c.winLen) : this.mappingEnd(sp);
    return c.winLen > 0;
  }

  /** The end of the live target's mapping that holds addr (its /proc map, read again when addr is in none known), 0n when unknown. */
  private mappingEnd(addr: bigint): bigint {
    if (!this.target.live) return 0n;
    const n = Number(addr);
    for (let pass = 0; pass < 2; pass++) {
      if (!this.maps || pass === 1) this.maps = readMaps(this.target.info.pid);
      const m = this.maps.find((q) => q.start <= n && n < q.end);
      if (m) return BigInt(m.end);
    }
    return 0n;
  }

  /**
   * An offline reader (a core file, a snapshot) serves a read whole or not at all, where a live
   * one stops at the end of the mapping: the longest window that ends on a page boundary and
   * reads, found by halving (a stack mapping ends on a page boundary). 0 when not even sp's page reads.
   */
  private readToPageEnd(ptr: number, sp: bigint, want: number): number {
    const PAGE = 4096;
    const first = PAGE - Number(sp % BigInt(PAGE)); // sp to the end of its page
    if (want <= first) return 0;
    let lo = 0, hi = Math.floor((want - first) / PAGE); // pages past the first that read: lo do, more than hi do not
    if (this.target.readInto(ptr, sp, first) !== first) return 0;
    for (let guard = 0; lo < hi && guard < 32; guard++) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.target.readInto(ptr, sp, first + mid * PAGE) === first + mid * PAGE) lo = mid;
      else hi = mid - 1;
    }
    const len = first + lo * PAGE;
    return this.target.readInto(ptr, sp, len) === len ? len : 0;
  }

  /**
   * Unwinds thread tid's last capture, innermost frame first. stillStopped: the thread has not run
   * since (dump): a walk that needs more of the stack reads more now; otherwise the next capture
   * of this thread reads more.
   */
  unwind(tid: number, stillStopped: boolean): NativeStack {
    const c = this.captures.get(tid);
    if (!c || c.winLen === 0) return { frames: [], stop: "stack not readable" };
    const core = this.target.core, x = core.x;
    let n = 0, stop = 0;
    for (let attempt = 0; attempt < 64; attempt++) {
      new BigUint64Array(x.memory.buffer, x.nativeRegsPtr(), REG_COUNT).set(c.regsDwarf);
      n = x.nativeUnwind(c.winPtr, c.winLen, c.winAddr);
      stop = x.nativeStop();
      if (stop === this.code.noObject && this.register(BigInt.asUintN(64, x.nativeStopPc()))) continue;
      if (stop === this.code.checkTrampoline && this.checkTrampoline(BigInt.asUintN(64, x.nativeStopPc()))) continue;
      if (stop === this.code.window) {
        const need = Number(BigInt.asUintN(64, x.nativeStopPc()) - c.winAddr) + 4096;
        if (need > c.winLen && need <= MAX_WINDOW) {
          const want = Math.min(MAX_WINDOW, Math.max(need, c.winLen * 2));
          c.want = want;
          if (stillStopped && this.readWindow(c, c.winAddr, want) && c.winLen >= need - 4096 + 8) continue;
        }
      }
      break;
    }
    const frames: NativeFrame[] = [];
    for (let i = 0; i < n; i++) {
      const pc = BigInt.asUintN(64, x.nativeFramePc(i));
      const slot = this.slots[x.nativeFrameModule(i)];
      frames.push(this.describe(slot, pc, i === 0, (x.nativeFrameFlags(i) & this.code.eval) !== 0, BigInt.asUintN(64, x.nativeFrameFdeStart(i))));
    }
    return { frames, stop: this.stopWords.get(stop) ?? `stop ${stop}` };
  }

  private describe(slot: Slot | undefined, pc: bigint, innermost: boolean, isEval: boolean, fdeStart: bigint): NativeFrame {
    if (!slot) return { pc, name: "", module: "?", offset: pc, start: 0n, eval: false, interpreter: false, plumbing: false };
    // a caller's pc is a return address: its call ends one byte before (the symbol of pc - 1)
    const at = innermost ? pc : pc - 1n;
    let named = slot.names.get(at);
    if (!named) {
      // C++ (and old-style Rust) symbols read as c++filt shows them
      named = { name: demangle(this.symbolAt(slot, at - slot.bias)), start: fdeStart ? fdeStart - slot.bias : 0n };
      if (slot.names.size < 65536) slot.names.set(at, named);
    }
    const name = named.name;
    const plumbing = !isEval && ((slot.interpreter && !KEEP_IN_INTERPRETER.test(name)) || START_FRAMES.test(name));
    return { pc, name, module: slot.name, offset: pc - slot.bias, start: named.start, eval: isEval, interpreter: slot.interpreter, plumbing };
  }

  private symbolAt(slot: Slot, fileAddr: bigint): string {
    return slot.facts ? slot.facts.symbolAt(fileAddr) : "";
  }

  /** Registers the object mapped at pc with the core (its tables and eval ranges). false when no mapping holds pc. */
  private register(pc: bigint): boolean {
    const mod = this.objects.moduleAt(pc);
    if (!mod) return this.registerTrampolines(pc);
    const key = `${mod.path}\u0000${mod.start}`;
    if (this.slotOf.has(key)) return false; // registered already: the pc is not in it after all
    const core = this.target.core, x = core.x;
    const slotIndex = this.slots.length;
    if (slotIndex >= x.MAX_NATIVE_MODULES.value) return false;
    let facts: NativeObjectFacts | null = null;
    try {
      facts = this.objects.facts(mod);
    } catch {
      facts = null; // a file that cannot be read: its frames end the stack (or follow rbp)
    }
    const slot: Slot = { module: mod, name: path.basename(mod.path), bias: facts ? facts.bias : 0n, facts, interpreter: mod.interpreter, names: new Map() };
    let hdrPtr = 0, hdrLen = 0, hdrAddr = 0n, ehPtr = 0, ehLen = 0, ehAddr = 0n;
    if (facts) {
      const hdr = facts.ehFrameHdr, hl = facts.ehFrameHdrSize, eh = facts.ehFrame, el = facts.ehFrameSize;
      if (hdr !== 0n && eh !== 0n && hl > 0 && el > 0 && hl <= MAX_TABLE && el <= MAX_TABLE) {
        // both sit in a loaded read-only segment: read where the target has them (docs/native-stacks.md §3.1)
        const hb = this.target.readMemory(hdr + facts.bias, hl), eb = this.target.readMemory(eh + facts.bias, el);
        if (hb && eb) {
          hdrPtr = core.copyIn(hb); hdrLen = hl; hdrAddr = hdr + facts.bias;
          ehPtr = core.copyIn(eb); ehLen = el; ehAddr = eh + facts.bias;
        }
      }
    }
    x.nativeModuleSet(slotIndex, BigInt(mod.start), BigInt(mod.end), hdrPtr, hdrLen, hdrAddr, ehPtr, ehLen, ehAddr);
    this.slots.push(slot);
    this.slotOf.set(key, slotIndex);
    if (facts) this.registerEval(slotIndex, facts, hdrPtr, hdrLen, hdrAddr, ehPtr, ehLen, ehAddr);
    return true;
  }

  /**
   * CPython's perf trampolines (3.12+ `-X perf`): an anonymous executable mapping of small
   * copies of one trampoline (docs/native-stacks.md §3.7); each return address met in it is
   * checked against the known trampolines' code (checkTrampoline). false when no such mapping holds pc.
   */
  private registerTrampolines(pc: bigint): boolean {
    const m = this.objects.anonymousAt?.(pc);
    if (!m) return false;
    const key = `\u0000anon\u0000${m.start}`;
    if (this.slotOf.has(key)) return false;
    const x = this.target.core.x, slotIndex = this.slots.length;
    if (slotIndex >= x.MAX_NATIVE_MODULES.value) return false;
    x.nativeModuleSet(slotIndex, BigInt(m.start), BigInt(m.end), 0, 0, 0n, 0, 0, 0n);
    x.nativeModuleSetTrampolines(slotIndex);
    const module: NativeModule = { path: "[perf trampolines]", start: m.start, end: m.end, interpreter: true };
    this.slots.push({ module, name: "[perf trampoline]", bias: BigInt(m.start), facts: null, interpreter: true, names: new Map() });
    this.slotOf.set(key, slotIndex);
    return true;
  }

  /** Reads the code around return address pc in a trampoline region and tells the core which trampoline it is (or none). */
  private checkTrampoline(pc: bigint): boolean {
    const code = pc > BigInt(TRAMPOLINE_BEFORE) ? this.target.readMemory(pc - BigInt(TRAMPOLINE_BEFORE), TRAMPOLINE_SPAN) : null;
    const x = this.target.core.x;
    let kind = x.TRAMP_NONE.value;
    if (code) {
      for (const [k, bytes, ret] of TRAMPOLINES) {
        const at = TRAMPOLINE_BEFORE - ret;
        if (code.subarray(at, at + bytes.length).equals(bytes)) { kind = x[k].value; break; }
      }
    }
    return x.nativeTrampolineChecked(pc, kind) !== 0;
  }

  /**
   * The eval loop's ranges in object slot: its named function and .cold parts (the core's ELF
   * facts), and the parts a compiler split out unnamed (a stripped build): the FDEs where at
   * least MIN_JUMPS_INTO_PART of the named function's jumps land (docs/native-stacks.md §5.4, §6).
   */
  private registerEval(slot: number, facts: NativeObjectFacts, hdrPtr: number, hdrLen: number, hdrAddr: bigint, ehPtr: number, ehLen: number, ehAddr: bigint): void {
    const core = this.target.core, x = core.x;
    if (facts.evalRanges.length === 0) return;
    const ranges: [bigint, bigint][] = [];
    for (const [fileLo, fileHi] of facts.evalRanges) {
      const lo = fileLo + facts.bias, hi = fileHi + facts.bias;
      ranges.push([lo, hi]);
      x.nativeModuleAddEval(slot, lo, hi);
    }
    if (!hdrLen) return;
    const [lo, hi] = ranges[0];
    const len = Number(hi - lo);
    if (len <= 0 || len > MAX_EVAL_CODE) return;
    const code = this.target.readMemory(lo, len);
    if (!code) return;
    const ptr = core.copyIn(code);
    let targets: bigint[] = [];
    try {
      const t = x.nativeJumpTargets(ptr, len, lo);
      for (let i = 0; i < t; i++) targets.push(BigInt.asUintN(64, x.nativeJumpTarget(i)));
    } finally {
      x.freeBuffer(ptr);
    }
    const hits = new Map<bigint, { end: bigint; n: number }>();
    for (const pc of targets) {
      if (ranges.some(([a, b]) => pc >= a && pc < b)) continue;
      const fde = BigInt.asUintN(64, x.cfiFindFde(hdrPtr, hdrLen, hdrAddr, pc));
      if (fde === 0n || x.cfiRow(ehPtr, ehLen, ehAddr, fde, pc) !== 0) continue;
      const start = BigInt.asUintN(64, x.cfiFdeStart()), end = BigInt.asUintN(64, x.cfiFdeEnd());
      const h = hits.get(start) ?? { end, n: 0 };
      h.n++;
      hits.set(start, h);
    }
    for (const [start, h] of hits) {
      // a named function is a tail call's target, not a part split out of the eval loop (the
      // named parts, .cold ones included, are eval ranges already: their jumps were not counted)
      if (h.n < MIN_JUMPS_INTO_PART || facts.symbolAt(start - facts.bias)) continue;
      x.nativeModuleAddEval(slot, start, h.end);
    }
  }

  /** Frees every window and forgets the objects (the core forgets them too). */
  close(): void {
    this.retain(new Set());
    this.target.core.x.nativeModulesClear();
    this.slots = [];
    this.slotOf.clear();
  }
}

/** How a native frame is printed: `function (object+0xoffset)`, or `object+0xstart` for a function without a name. */
export function nativeFrameName(f: NativeFrame): string {
  if (f.name) return f.name;
  return `${f.module}+0x${(f.start || f.offset).toString(16)}`;
}
