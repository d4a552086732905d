// Native stacks (#13, prototype on wip/native): a stopped thread's registers (ptrace) and a window
// of its stack, unwound frame by frame with the core's CFI decoder (assembly/unwind/cfi.ts) over
// each mapped object's `.eh_frame_hdr` / `.eh_frame` read from the target's memory, and named
// from the object's symbol tables (a symbol's range must hold the pc). Not merged with Python's
// frames yet.
// Must not know: CPython; how the tables are decoded (the core).
// Source of truth: docs/native-stacks.md §3 (formats, bias, the step), §4.1 (user_regs_struct).

import type { Target } from "./attach.js";
import type { Module } from "./modules.js";
import path from "node:path";

/** user_regs_struct word index of each DWARF register 0–16 (rax rdx rcx rbx rsi rdi rbp rsp r8–r15, rip). */
const DWARF_TO_USER = [10, 12, 11, 5, 13, 14, 4, 19, 9, 8, 7, 6, 3, 2, 1, 0, 16];
const REG_COUNT = 17, REG_RSP = 7, REG_RA = 16;
/** Stack bytes read above rsp at once (less when the mapping ends sooner). */
const STACK_WINDOW = 256 * 1024;
/** Most native frames of one thread. */
const MAX_NATIVE_FRAMES = 256;

export interface NativeFrame {
  pc: bigint;
  /** the function's name, "" when no symbol holds the pc */
  name: string;
  /** the object's file name */
  module: string;
  /** pc minus the object's load bias (the file's own address) */
  offset: bigint;
}

interface Tables { hdrPtr: number; hdrLen: number; hdrAddr: bigint; ehPtr: number; ehLen: number; ehAddr: bigint; id: number; bias: bigint }

export class NativeUnwinder {
  private tables = new Map<Module, Tables | null>();
  private readonly decoder = new TextDecoder();

  constructor(private readonly target: Target) {}

  private moduleAt(pc: bigint): Module | null {
    const n = Number(pc);
    for (const m of this.target.modules.modules) for (const r of m.ranges) if (n >= r.start && n < r.end) return m;
    return null;
  }

  private tablesOf(m: Module): Tables | null {
    if (this.tables.has(m)) return this.tables.get(m)!;
    let t: Tables | null = null;
    try {
      const obj = this.target.object(m, { keepSymbols: true });
      const x = this.target.core.x;
      const hdr = BigInt.asUintN(64, x.elfEhFrameHdr(obj.id)), hdrLen = Number(x.elfEhFrameHdrSize(obj.id));
      const eh = BigInt.asUintN(64, x.elfEhFrame(obj.id)), ehLen = Number(x.elfEhFrameSize(obj.id));
      if (hdr !== 0n && eh !== 0n && hdrLen > 0 && ehLen > 0 && hdrLen < 64 << 20 && ehLen < 256 << 20) {
        // both sit in a loaded read-only segment: read from the target (docs/native-stacks.md §3.1)
        const hb = this.target.readMemory(hdr + obj.bias, hdrLen), eb = this.target.readMemory(eh + obj.bias, ehLen);
        if (hb && eb) {
          t = { hdrPtr: this.target.core.copyIn(hb), hdrLen, hdrAddr: hdr + obj.bias, ehPtr: this.target.core.copyIn(eb), ehLen, ehAddr: eh + obj.bias, id: obj.id, bias: obj.bias };
        }
      }
    } catch {
      t = null; // an object whose file cannot be read: its frames end the stack
    }
    this.tables.set(m, t);
    return t;
  }

  private symbol(t: Tables, pc: bigint): string {
    const x = this.target.core.x;
    const p = x.elfSymbolAt(t.id, pc - t.bias);
    if (!p) return "";
    const u8 = this.target.core.u8();
    let end = p;
    while (end < u8.length && u8[end] !== 0 && end - p < 4096) end++;
    return this.decoder.decode(u8.subarray(p, end));
  }

  /** Unwinds from user_regs (27 words, as PTRACE_GETREGS gives them). */
  unwind(userRegs: BigUint64Array): { frames: NativeFrame[]; stop: string } {
    const x = this.target.core.x;
    const r = new Array<bigint>(REG_COUNT);
    for (let k = 0; k < REG_COUNT; k++) r[k] = userRegs[DWARF_TO_USER[k]];
    const rsp0 = r[REG_RSP];
    let win: Buffer | null = null;
    for (let size = STACK_WINDOW; size >= 4096 && !win; size >>= 2) win = this.target.readMemory(rsp0, size);
    if (!win) return { frames: [], stop: "stack not readable" };
    const winPtr = this.target.core.copyIn(win);
    const frames: NativeFrame[] = [];
    let stop = "";
    try {
      for (let depth = 0; depth < MAX_NATIVE_FRAMES; depth++) {
        const pc = r[REG_RA];
        const m = this.moduleAt(pc);
        const t = m ? this.tablesOf(m) : null;
        frames.push({ pc, name: t ? this.symbol(t, depth === 0 ? pc : pc - 1n) : "", module: m ? path.basename(m.path) : "?", offset: t ? pc - t.bias : pc });
        if (!t) { stop = m ? "no unwind tables" : "pc in no mapped file"; break; }
        const lookup = depth === 0 ? pc : pc - 1n;
        const fde = BigInt.asUintN(64, x.cfiFindFde(t.hdrPtr, t.hdrLen, t.hdrAddr, lookup));
        if (fde === 0n) { stop = "no FDE"; break; }
        if (x.cfiRow(t.ehPtr, t.ehLen, t.ehAddr, fde, lookup) !== 0) { stop = "bad FDE"; break; }
        const regs = new BigUint64Array(x.memory.buffer, x.cfiRegsPtr(), REG_COUNT);
        for (let k = 0; k < REG_COUNT; k++) regs[k] = r[k];
        const st = x.cfiStep(winPtr, win.length, rsp0);
        if (st !== 0) { stop = x.lastErrorDetail() === 77 ? "" : "step failed"; break; }
        const out = new BigUint64Array(x.memory.buffer, x.cfiRegsPtr(), REG_COUNT);
        const prevSp = r[REG_RSP];
        for (let k = 0; k < REG_COUNT; k++) r[k] = out[k];
        if (r[REG_RA] === 0n || r[REG_RSP] <= prevSp) break; // the end, or no progress
      }
    } finally {
      x.freeBuffer(winPtr);
    }
    return { frames, stop };
  }
}
