// A thread's native stack from bytes: the mapped objects' unwind tables (local copies of each
// one's `.eh_frame_hdr` / `.eh_frame`, registered by the host once per object), the thread's
// registers and a window of its stack, walked frame by frame with the CFI decoder (cfi.ts), with
// a frame-pointer step where a pc has no FDE. Each frame is classified for the merge with the
// Python frames: in one of the interpreter's eval-loop ranges or not. Also the x86-64 jumps that
// leave a function, to find an eval loop's unnamed split-out parts in a stripped build.
// Must not know: processes, files, maps (the host registers objects and hands bytes over), CPython
// layouts (the eval ranges are addresses the host took from the ELF facts).
// Source of truth: docs/native-stacks.md §3.6 (one step), §3.7 (code without CFI), §6 (eval
// ranges, merge key); the System V x86-64 psABI (rbp chains); Intel SDM (E9 / 0F 8x rel32).

import { OK, ERR_READ, ERR_LIMIT, fail, lastErrorDetail } from "../status";
import { REG_COUNT, REG_RSP, REG_RBP, REG_RA, ROW_BYTES, regs, cfiFindFde, cfiRow, cfiStep, cfiSaveRow, cfiLoadRow } from "./cfi";
import * as CFI from "./cfi";
import { U64Map } from "../util/vec";

// ---- objects: [lo, hi) of a mapped object's code, its tables, its eval ranges ----
export const MAX_NATIVE_MODULES: i32 = 1024;
const MAX_MODULE_EVAL: i32 = 16;
const modLo = new StaticArray<u64>(MAX_NATIVE_MODULES);
const modHi = new StaticArray<u64>(MAX_NATIVE_MODULES);
const modHdrPtr = new StaticArray<usize>(MAX_NATIVE_MODULES);
const modHdrLen = new StaticArray<i32>(MAX_NATIVE_MODULES);
const modHdrAddr = new StaticArray<u64>(MAX_NATIVE_MODULES);
const modEhPtr = new StaticArray<usize>(MAX_NATIVE_MODULES);
const modEhLen = new StaticArray<i32>(MAX_NATIVE_MODULES);
const modEhAddr = new StaticArray<u64>(MAX_NATIVE_MODULES);
const modEvalCount = new StaticArray<i32>(MAX_NATIVE_MODULES);
/** 1: a region of CPython's perf trampolines (-X perf): code without CFI, each return address checked by the host */
const modTramp = new StaticArray<i32>(MAX_NATIVE_MODULES);
/** return addresses checked to be a trampoline's (host: nativeTrampolineChecked): the trampoline's kind, 0 none */
const trampKinds = new U64Map(8);
/** trampoline kinds (docs/native-stacks.md §3.7) */
export const TRAMP_NONE = 0;
export const TRAMP_SUB8 = 1;      // sub $8,%rsp; call *%rcx; add $8,%rsp; ret (CPython's asm_trampoline.S)
export const TRAMP_PUSH_RBP = 2;  // endbr64; push %rbp; mov %rsp,%rbp; call *%rcx; pop %rbp; ret (Debian's 3.14+ build)
const modEvalLo = new StaticArray<u64>(MAX_NATIVE_MODULES * MAX_MODULE_EVAL);
const modEvalHi = new StaticArray<u64>(MAX_NATIVE_MODULES * MAX_MODULE_EVAL);
let modCount: i32 = 0;

/**
 * Registers object slot `slot` (0 ≤ slot < MAX_NATIVE_MODULES): its code at remote [lo, hi) and
 * local copies of its tables (hdrLen/ehLen 0: none, its frames end a stack unless rbp chains on).
 * The copies belong to the core from here on (freed when the slot is registered again).
 */
export function nativeModuleSet(slot: i32, lo: u64, hi: u64, hdrPtr: usize, hdrLen: i32, hdrAddr: u64, ehPtr: usize, ehLen: i32, ehAddr: u64): i32 {
  if (slot < 0 || slot >= MAX_NATIVE_MODULES) return fail(ERR_LIMIT, 60);
  // kept rows may point into the tables a slot held before
  if (slot < modCount) { rowCache.clear(); rowCount = 0; }
  if (unchecked(modHdrPtr[slot]) != 0 && unchecked(modHdrPtr[slot]) != hdrPtr) heap.free(unchecked(modHdrPtr[slot]));
  if (unchecked(modEhPtr[slot]) != 0 && unchecked(modEhPtr[slot]) != ehPtr) heap.free(unchecked(modEhPtr[slot]));
  unchecked(modLo[slot] = lo); unchecked(modHi[slot] = hi);
  unchecked(modHdrPtr[slot] = hdrPtr); unchecked(modHdrLen[slot] = hdrLen); unchecked(modHdrAddr[slot] = hdrAddr);
  unchecked(modEhPtr[slot] = ehPtr); unchecked(modEhLen[slot] = ehLen); unchecked(modEhAddr[slot] = ehAddr);
  unchecked(modEvalCount[slot] = 0);
  unchecked(modTramp[slot] = 0);
  if (slot >= modCount) modCount = slot + 1;
  return OK;
}

/**
 * Marks object slot as a region of perf trampolines (CPython 3.12+ `-X perf`): small copies of
 * one trampoline, without CFI. Each return address met there is handed to the host once
 * (NS_CHECK_TRAMPOLINE), which reads the code around it and says which trampoline it is
 * (nativeTrampolineChecked). Both kinds unwind by CFA = rsp + 16, RA = [CFA - 8]; the push-rbp
 * kind also restores rbp from [CFA - 16] (docs/native-stacks.md §3.7).
 */
export function nativeModuleSetTrampolines(slot: i32): i32 {
  if (slot < 0 || slot >= modCount) return fail(ERR_LIMIT, 63);
  unchecked(modTramp[slot] = 1);
  return OK;
}

/** The host read the code at return address pc: kind TRAMP_* (TRAMP_NONE: not a trampoline's). */
export function nativeTrampolineChecked(pc: u64, kind: i32): bool {
  if (trampKinds.count >= 1 << 16) return false;
  return trampKinds.set(pc, kind < 0 || kind > TRAMP_PUSH_RBP ? TRAMP_NONE : kind);
}

/** Adds an eval-loop range [lo, hi) (remote addresses) to object slot. */
export function nativeModuleAddEval(slot: i32, lo: u64, hi: u64): i32 {
  if (slot < 0 || slot >= modCount) return fail(ERR_LIMIT, 61);
  const n = unchecked(modEvalCount[slot]);
  if (n >= MAX_MODULE_EVAL) return fail(ERR_LIMIT, 62);
  unchecked(modEvalLo[slot * MAX_MODULE_EVAL + n] = lo);
  unchecked(modEvalHi[slot * MAX_MODULE_EVAL + n] = hi);
  unchecked(modEvalCount[slot] = n + 1);
  return OK;
}

/** Forgets every object (a new target, or the maps changed). */
export function nativeModulesClear(): void {
  for (let i = 0; i < modCount; i++) {
    if (unchecked(modHdrPtr[i]) != 0) heap.free(unchecked(modHdrPtr[i]));
    if (unchecked(modEhPtr[i]) != 0) heap.free(unchecked(modEhPtr[i]));
    unchecked(modHdrPtr[i] = 0); unchecked(modEhPtr[i] = 0);
    unchecked(modLo[i] = 0); unchecked(modHi[i] = 0); unchecked(modEvalCount[i] = 0); unchecked(modTramp[i] = 0);
  }
  modCount = 0;
  rowCache.clear();
  rowCount = 0;
}

function moduleOf(pc: u64): i32 {
  for (let i = 0; i < modCount; i++) {
    if (pc >= unchecked(modLo[i]) && pc < unchecked(modHi[i])) return i;
  }
  return -1;
}

function isEval(slot: i32, pc: u64): bool {
  const n = unchecked(modEvalCount[slot]);
  for (let k = 0; k < n; k++) {
    const j = slot * MAX_MODULE_EVAL + k;
    if (pc >= unchecked(modEvalLo[j]) && pc < unchecked(modEvalHi[j])) return true;
  }
  return false;
}

// ---- rows by pc, kept across walks (cleared with the objects) ----
const MAX_ROWS: i32 = 8192;
const rowCache = new U64Map(10);
let rowArena: usize = 0;
let rowCount: i32 = 0;

function keepRow(pc: u64): void {
  if (rowCount >= MAX_ROWS) return;
  if (rowArena == 0) rowArena = heap.alloc(<usize>MAX_ROWS * <usize>ROW_BYTES);
  cfiSaveRow(rowArena + <usize>rowCount * <usize>ROW_BYTES);
  if (rowCache.set(pc, rowCount)) rowCount++;
}

// ---- the walk ----
/** The most frames of one thread. */
export const MAX_NATIVE_FRAMES: i32 = 512;
/** Per frame: pc (u64), the object slot (i32, -1: none), flags (i32). */
const outPc = new StaticArray<u64>(MAX_NATIVE_FRAMES);
const outMod = new StaticArray<i32>(MAX_NATIVE_FRAMES);
const outFlags = new StaticArray<i32>(MAX_NATIVE_FRAMES);
/** frame flags */
export const NF_EVAL: i32 = 1;      // the pc lies in an eval-loop range (a block of Python frames goes here)
export const NF_NO_CFI: i32 = 2;    // the caller was found by the rbp chain, not by CFI

/** Why the last walk ended (nativeStop): */
export const NS_END = 0;            // the outermost frame (RA undefined, or 0)
export const NS_NO_OBJECT = 1;      // a pc in no registered object (nativeStopPc)
export const NS_NO_FDE = 2;         // no CFI for a pc and no usable rbp chain
export const NS_BAD_CFI = 3;        // a table or expression this decoder refuses
export const NS_WINDOW = 4;         // a saved value beyond the stack window (nativeStopPc: its address)
export const NS_LIMIT = 5;          // MAX_NATIVE_FRAMES
export const NS_NO_PROGRESS = 6;    // the stack pointer did not grow: a loop
export const NS_CHECK_TRAMPOLINE = 7; // a return address in a trampoline region not checked yet (nativeStopPc)
let stopReason: i32 = NS_END;
let stopPc: u64 = 0;
const fdeStartOut = new StaticArray<u64>(MAX_NATIVE_FRAMES);

export function nativeStop(): i32 { return stopReason; }
export function nativeStopPc(): u64 { return stopPc; }
export function nativeFramePc(i: i32): u64 { return i >= 0 && i < MAX_NATIVE_FRAMES ? unchecked(outPc[i]) : 0; }
export function nativeFrameModule(i: i32): i32 { return i >= 0 && i < MAX_NATIVE_FRAMES ? unchecked(outMod[i]) : -1; }
export function nativeFrameFlags(i: i32): i32 { return i >= 0 && i < MAX_NATIVE_FRAMES ? unchecked(outFlags[i]) : 0; }
/** The start of the FDE (the function, when its FDE is one) holding frame i's pc, 0 when unknown. */
export function nativeFrameFdeStart(i: i32): u64 { return i >= 0 && i < MAX_NATIVE_FRAMES ? unchecked(fdeStartOut[i]) : 0; }

/** The registers a walk starts from, DWARF order (rax..r15, then rip): the host fills them. */
const regsIn = new StaticArray<u64>(REG_COUNT);
export function nativeRegsPtr(): usize { return changetype<usize>(regsIn); }

/**
 * Walks the stack from the registers at nativeRegsPtr() with the stack window [winAddr,
 * winAddr + winLen) copied at winPtr. Returns the number of frames (innermost first: nativeFramePc
 * and friends); nativeStop() says why it ended. Never traps on the bytes it is given: each loop is
 * bounded, every read of the window is checked (cfi.ts), a stack that does not grow ends the walk.
 */
export function nativeUnwind(winPtr: usize, winLen: i32, winAddr: u64): i32 {
  for (let r = 0; r < REG_COUNT; r++) unchecked(regs[r] = unchecked(regsIn[r]));
  stopReason = NS_END;
  stopPc = 0;
  let n = 0;
  for (; n < MAX_NATIVE_FRAMES; n++) {
    const pc = unchecked(regs[REG_RA]);
    if (pc == 0) { stopReason = NS_END; break; }
    const slot = moduleOf(pc);
    unchecked(outPc[n] = pc);
    unchecked(outMod[n] = slot);
    unchecked(fdeStartOut[n] = 0);
    // a caller's pc is a return address: the call it made ends one byte before
    const lookup = n == 0 ? pc : pc - 1;
    let flags = 0;
    if (slot >= 0 && isEval(slot, lookup)) flags |= NF_EVAL;
    unchecked(outFlags[n] = flags);
    if (slot < 0) { stopReason = NS_NO_OBJECT; stopPc = pc; n++; break; }
    const sp = unchecked(regs[REG_RSP]);
    let fde: u64 = 0;
    // a row seen before (the same return addresses come back every sample): no table search,
    // no CFA program run again (an eval loop's FDE program runs to thousands of rows)
    const cached = unchecked(modTramp[slot]) == 0 ? rowCache.get(lookup) : -1;
    if (cached >= 0) {
      cfiLoadRow(rowArena + <usize>cached * <usize>ROW_BYTES);
      fde = 1;
    } else if (unchecked(modHdrLen[slot]) > 0) fde = cfiFindFde(unchecked(modHdrPtr[slot]), unchecked(modHdrLen[slot]), unchecked(modHdrAddr[slot]), lookup);
    if (unchecked(modTramp[slot]) != 0) {
      // a perf trampoline: its call's return address, below it 8 bytes (padding, or the saved rbp)
      const kind = n == 0 ? TRAMP_NONE : trampKinds.get(pc);
      if (kind < 0) { stopReason = NS_CHECK_TRAMPOLINE; stopPc = pc; n++; break; }
      if (kind == TRAMP_NONE) { stopReason = NS_NO_FDE; stopPc = pc; n++; break; }
      if (sp < winAddr || sp - winAddr > <u64>winLen - 16 || winLen < 16) { stopReason = NS_WINDOW; stopPc = sp + 8; n++; break; }
      const p = winPtr + <usize>(sp - winAddr);
      if (kind == TRAMP_PUSH_RBP) unchecked(regs[REG_RBP] = load<u64>(p));
      unchecked(regs[REG_RA] = load<u64>(p, 8));
      unchecked(regs[REG_RSP] = sp + 16);
      unchecked(outFlags[n] = flags | NF_NO_CFI);
    } else if (fde != 0) {
      if (cached < 0) {
        if (cfiRow(unchecked(modEhPtr[slot]), unchecked(modEhLen[slot]), unchecked(modEhAddr[slot]), fde, lookup) != OK) {
          stopReason = NS_BAD_CFI; stopPc = pc; n++; break;
        }
        keepRow(lookup);
      }
      unchecked(fdeStartOut[n] = CFI.fdeStart);
      const st = cfiStep(winPtr, winLen, winAddr);
      if (st != OK) {
        if (st == ERR_READ) { stopReason = NS_WINDOW; stopPc = CFI.missingAddr; }
        else stopReason = lastErrorDetail() == 77 ? NS_END : NS_BAD_CFI;
        n++;
        break;
      }
    } else {
      // no CFI (hand-written or generated code): follow rbp when it points into the window above sp
      const fp = unchecked(regs[REG_RBP]);
      if (fp < sp || fp < winAddr || fp - winAddr > <u64>winLen - 16 || winLen < 16) { stopReason = NS_NO_FDE; stopPc = pc; n++; break; }
      const p = winPtr + <usize>(fp - winAddr);
      unchecked(regs[REG_RBP] = load<u64>(p));
      unchecked(regs[REG_RA] = load<u64>(p, 8));
      unchecked(regs[REG_RSP] = fp + 16);
      unchecked(outFlags[n] = flags | NF_NO_CFI);
    }
    if (unchecked(regs[REG_RSP]) <= sp) { stopReason = NS_NO_PROGRESS; n++; break; }
  }
  if (n >= MAX_NATIVE_FRAMES) { stopReason = NS_LIMIT; n = MAX_NATIVE_FRAMES; }
  return n;
}

// ---- split-out parts of a function: where its rel32 jumps land outside it ----
export const MAX_JUMP_TARGETS: i32 = 4096;
const jumpTargets = new StaticArray<u64>(MAX_JUMP_TARGETS);
export function nativeJumpTarget(i: i32): u64 { return i >= 0 && i < MAX_JUMP_TARGETS ? unchecked(jumpTargets[i]) : 0; }

/**
 * The targets of the `jmp rel32` (E9) and `jcc rel32` (0F 80–8F) byte patterns in the code copied
 * at [codePtr, codePtr + codeLen) from remote codeAddr that land outside it. A byte scan, not a
 * disassembly: a pattern inside another instruction gives a stray target, so the host counts how
 * many land in the same FDE before it believes one. Returns how many (nativeJumpTarget).
 */
export function nativeJumpTargets(codePtr: usize, codeLen: i32, codeAddr: u64): i32 {
  let n = 0;
  const end = <u64>codeLen;
  for (let i = 0; i + 5 <= codeLen && n < MAX_JUMP_TARGETS; i++) {
    const b = load<u8>(codePtr + <usize>i);
    let len = 0;
    let rel: i64 = 0;
    if (b == 0xe9) { len = 5; rel = <i64>load<i32>(codePtr + <usize>i + 1); }
    else if (b == 0x0f && i + 6 <= codeLen) {
      const b2 = load<u8>(codePtr + <usize>i + 1);
      if (b2 >= 0x80 && b2 <= 0x8f) { len = 6; rel = <i64>load<i32>(codePtr + <usize>i + 2); }
    }
    if (len == 0) continue;
    const off = <i64>i + <i64>len + rel; // relative to codeAddr
    if (off >= 0 && <u64>off < end) continue;
    unchecked(jumpTargets[n++] = codeAddr + <u64>off);
  }
  return n;
}
