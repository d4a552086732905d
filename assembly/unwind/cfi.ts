// Call-frame information (x86-64): finds the FDE covering a pc through an object's
// `.eh_frame_hdr` search table, and runs its CIE's and its own CFA programs up to the pc, giving
// the unwind row: how to compute the CFA (a register plus an offset, or an expression) and where
// each callee-saved register and the return address were saved. One step of an unwind then reads
// the caller's registers from the stack bytes the host handed over.
// Must not know: processes, files (the host hands copies of `.eh_frame_hdr` / `.eh_frame` and
// their addresses), Python.
// Source of truth: docs/native-stacks.md §3.2–3.6 (the formats and opcodes GCC emits, verified
// against readelf); the LSB "Exception Frames" chapter; DWARF 5 §6.4.

import { OK, ERR_CHAIN, ERR_LIMIT, ERR_READ, fail } from "../status";

/** DWARF register numbers kept in a row: rax..r15 (0–15) and the return address (16). */
export const REG_COUNT: i32 = 17;
export const REG_RSP: i32 = 7;
export const REG_RBP: i32 = 6;
export const REG_RA: i32 = 16;

// register rules
export const RULE_SAME = 0;       // keeps its value (no rule)
export const RULE_UNDEFINED = 1;  // not recoverable (the return address: the outermost frame)
export const RULE_OFFSET = 2;     // saved at [CFA + n]
export const RULE_VAL_OFFSET = 3; // is CFA + n
export const RULE_REGISTER = 4;   // is in register n
export const RULE_EXPRESSION = 5; // saved at [value of the expression at exprPtr, exprLen]
export const RULE_VAL_EXPRESSION = 6;

// the CFA: register + offset, or an expression
export let cfaReg: i32 = REG_RSP;
export let cfaOffset: i64 = 8;
export let cfaExprPtr: usize = 0;
export let cfaExprLen: i32 = 0;
export const ruleKind = new StaticArray<i32>(REG_COUNT);
export const ruleValue = new StaticArray<i64>(REG_COUNT);
export const ruleExprPtr = new StaticArray<u32>(REG_COUNT);
export const ruleExprLen = new StaticArray<i32>(REG_COUNT);
/** The CIE's signal-frame flag ("S"): the caller's pc is not a return address (no -1 at lookup). */
export let signalFrame: bool = false;
/** The FDE found: its first pc and the end of its range. */
export let fdeStart: u64 = 0;
export let fdeEnd: u64 = 0;

// the CIE's initial row, for restore
const initKind = new StaticArray<i32>(REG_COUNT);
const initValue = new StaticArray<i64>(REG_COUNT);
// remember_state / restore_state
const MAX_STATES: i32 = 8;
const stKind = new StaticArray<i32>(MAX_STATES * REG_COUNT);
const stValue = new StaticArray<i64>(MAX_STATES * REG_COUNT);
const stExpr = new StaticArray<u32>(MAX_STATES * REG_COUNT);
const stExprLen = new StaticArray<i32>(MAX_STATES * REG_COUNT);
const stCfaReg = new StaticArray<i32>(MAX_STATES);
const stCfaOff = new StaticArray<i64>(MAX_STATES);
const stCfaExpr = new StaticArray<usize>(MAX_STATES);
const stCfaExprLen = new StaticArray<i32>(MAX_STATES);
let depth = 0;

// ---- the bytes being decoded: [bufPtr, bufEnd), at remote address bufAddr ----
let bufPtr: usize = 0;
let bufEnd: usize = 0;
let bufAddr: u64 = 0;
let pos: usize = 0;
let bad = false;

@inline function remoteOf(p: usize): u64 { return bufAddr + <u64>(p - bufPtr); }
function u8at(): u32 { if (pos + 1 > bufEnd) { bad = true; return 0; } const v = <u32>load<u8>(pos); pos += 1; return v; }
function u16at(): u32 { if (pos + 2 > bufEnd) { bad = true; return 0; } const v = <u32>load<u16>(pos); pos += 2; return v; }
function u32at(): u32 { if (pos + 4 > bufEnd) { bad = true; return 0; } const v = load<u32>(pos); pos += 4; return v; }
function u64at(): u64 { if (pos + 8 > bufEnd) { bad = true; return 0; } const v = load<u64>(pos); pos += 8; return v; }
function uleb(): u64 {
  let v: u64 = 0;
  let shift: u64 = 0;
  for (let i = 0; i < 10; i++) {
    const b = u8at();
    if (bad) return 0;
    if (shift < 64) v |= <u64>(b & 0x7f) << shift;
    shift += 7;
    if ((b & 0x80) == 0) return v;
  }
  bad = true;
  return 0;
}
function sleb(): i64 {
  let v: i64 = 0;
  let shift: u64 = 0;
  let b: u32 = 0;
  for (let i = 0; i < 10; i++) {
    b = u8at();
    if (bad) return 0;
    if (shift < 64) v |= <i64>(b & 0x7f) << shift;
    shift += 7;
    if ((b & 0x80) == 0) break;
    if (i == 9) { bad = true; return 0; }
  }
  if (shift < 64 && (b & 0x40) != 0) v |= -(<i64>1 << shift);
  return v;
}

/** A pointer in encoding enc (DW_EH_PE_*) at pos; datarel is relative to dataBase. */
function encoded(enc: u32, dataBase: u64): u64 {
  if (enc == 0xff) return 0;
  const at = remoteOf(pos);
  let v: u64 = 0;
  switch (enc & 0x0f) {
    case 0x00: v = u64at(); break;
    case 0x01: v = uleb(); break;
    case 0x02: v = <u64>u16at(); break;
    case 0x03: v = <u64>u32at(); break;
    case 0x04: v = u64at(); break;
    case 0x09: v = <u64>sleb(); break;
    case 0x0a: v = <u64><i64><i16>u16at(); break;
    case 0x0b: v = <u64><i64><i32>u32at(); break;
    case 0x0c: v = u64at(); break;
    default: bad = true; return 0;
  }
  switch (enc & 0x70) {
    case 0x00: break;
    case 0x10: v += at; break;
    case 0x30: v += dataBase; break;
    default: bad = true; return 0; // textrel, funcrel, aligned: never emitted on x86-64 Linux
  }
  if ((enc & 0x80) != 0) bad = true; // indirect: not met (docs/native-stacks.md §3.3)
  return v;
}

// ---- .eh_frame_hdr ----

/**
 * The address of the FDE covering pc, from a copy of `.eh_frame_hdr` (hdrPtr, hdrLen bytes, at
 * remote hdrAddr), or 0 when the table has no entry at or below pc. The FDE's own range is
 * checked by cfiRow.
 */
export function cfiFindFde(hdrPtr: usize, hdrLen: i32, hdrAddr: u64, pc: u64): u64 {
  bufPtr = hdrPtr; bufEnd = hdrPtr + <usize>hdrLen; bufAddr = hdrAddr; pos = hdrPtr; bad = false;
  if (u8at() != 1) return 0;
  const ptrEnc = u8at(), countEnc = u8at(), tableEnc = u8at();
  encoded(ptrEnc, hdrAddr); // eh_frame_ptr (not needed: the FDE addresses are absolute)
  const count = encoded(countEnc, hdrAddr);
  if (bad || tableEnc != 0x3b) return 0; // datarel|sdata4: the only table GCC's linker writes
  const table = pos;
  if (count == 0 || count > <u64>((bufEnd - table) >> 3)) return 0;
  // the last entry whose initial location is <= pc
  let lo: i64 = 0, hi: i64 = <i64>count - 1, found: i64 = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const loc = hdrAddr + <u64><i64>load<i32>(table + <usize>(mid << 3));
    if (loc <= pc) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  if (found < 0) return 0;
  return hdrAddr + <u64><i64>load<i32>(table + <usize>(found << 3) + 4);
}

// ---- CIE / FDE ----
let codeAlign: u64 = 1;
let dataAlign: i64 = -8;
let raColumn: i32 = REG_RA;
let fdeEnc: u32 = 0;

function resetRow(): void {
  cfaReg = REG_RSP; cfaOffset = 8; cfaExprPtr = 0; cfaExprLen = 0;
  for (let r = 0; r < REG_COUNT; r++) { unchecked(ruleKind[r] = RULE_SAME); unchecked(ruleValue[r] = 0); }
  depth = 0;
}

function setRule(r: u64, kind: i32, value: i64): void {
  if (r >= <u64>REG_COUNT) return; // a register wspy does not restore (vector registers): ignored
  unchecked(ruleKind[<i32>r] = kind);
  unchecked(ruleValue[<i32>r] = value);
}

/**
 * Runs CFA instructions [from, to) of the current buffer up to target pc (loc starts at start).
 * OK, or ERR_CHAIN for an opcode this decoder does not know or bytes that end early.
 */
function runProgram(from: usize, to: usize, start: u64, target: u64): i32 {
  pos = from;
  let loc = start;
  const saved = bufEnd;
  bufEnd = to;
  for (let n = 0; pos < to && n < 100000; n++) {
    const op = u8at();
    const hi = op & 0xc0, low = op & 0x3f;
    if (hi == 0x40) { loc += <u64>low * codeAlign; if (loc > target) break; continue; }
    if (hi == 0x80) { setRule(<u64>low, RULE_OFFSET, <i64>uleb() * dataAlign); continue; }
    if (hi == 0xc0) { if (low < <u32>REG_COUNT) { unchecked(ruleKind[low] = initKind[low]); unchecked(ruleValue[low] = initValue[low]); } continue; }
    switch (op) {
      case 0x00: break; // nop
      case 0x01: loc = encoded(fdeEnc, 0); if (loc > target) { bufEnd = saved; return OK; } break;
      case 0x02: loc += <u64>u8at() * codeAlign; if (loc > target) { bufEnd = saved; return OK; } break;
      case 0x03: loc += <u64>u16at() * codeAlign; if (loc > target) { bufEnd = saved; return OK; } break;
      case 0x04: loc += <u64>u32at() * codeAlign; if (loc > target) { bufEnd = saved; return OK; } break;
      case 0x05: { const r = uleb(); setRule(r, RULE_OFFSET, <i64>uleb() * dataAlign); break; }
      case 0x06: { const r = uleb(); if (r < <u64>REG_COUNT) { unchecked(ruleKind[<i32>r] = initKind[<i32>r]); unchecked(ruleValue[<i32>r] = initValue[<i32>r]); } break; }
      case 0x07: setRule(uleb(), RULE_UNDEFINED, 0); break;
      case 0x08: setRule(uleb(), RULE_SAME, 0); break;
      case 0x09: { const r = uleb(); setRule(r, RULE_REGISTER, <i64>uleb()); break; }
      case 0x0a: {
        if (depth >= MAX_STATES) { bufEnd = saved; return fail(ERR_LIMIT, 60); }
        for (let r = 0; r < REG_COUNT; r++) {
          stKind[depth * REG_COUNT + r] = ruleKind[r]; stValue[depth * REG_COUNT + r] = ruleValue[r];
          stExpr[depth * REG_COUNT + r] = ruleExprPtr[r]; stExprLen[depth * REG_COUNT + r] = ruleExprLen[r];
        }
        stCfaReg[depth] = cfaReg; stCfaOff[depth] = cfaOffset; stCfaExpr[depth] = cfaExprPtr; stCfaExprLen[depth] = cfaExprLen;
        depth++;
        break;
      }
      case 0x0b: {
        if (depth == 0) { bufEnd = saved; return fail(ERR_CHAIN, 61); }
        depth--;
        for (let r = 0; r < REG_COUNT; r++) {
          ruleKind[r] = stKind[depth * REG_COUNT + r]; ruleValue[r] = stValue[depth * REG_COUNT + r];
          ruleExprPtr[r] = stExpr[depth * REG_COUNT + r]; ruleExprLen[r] = stExprLen[depth * REG_COUNT + r];
        }
        cfaReg = stCfaReg[depth]; cfaOffset = stCfaOff[depth]; cfaExprPtr = stCfaExpr[depth]; cfaExprLen = stCfaExprLen[depth];
        break;
      }
      case 0x0c: cfaReg = <i32>uleb(); cfaOffset = <i64>uleb(); cfaExprPtr = 0; break;
      case 0x0d: cfaReg = <i32>uleb(); cfaExprPtr = 0; break;
      case 0x0e: cfaOffset = <i64>uleb(); break;
      case 0x0f: { const n = <usize>uleb(); cfaExprPtr = pos; cfaExprLen = <i32>n; pos += n; break; }
      case 0x10: case 0x16: {
        const r = uleb(); const n = <usize>uleb();
        if (r < <u64>REG_COUNT) {
          unchecked(ruleKind[<i32>r] = op == 0x10 ? RULE_EXPRESSION : RULE_VAL_EXPRESSION);
          unchecked(ruleExprPtr[<i32>r] = <u32>pos); unchecked(ruleExprLen[<i32>r] = <i32>n);
        }
        pos += n;
        break;
      }
      case 0x11: { const r = uleb(); setRule(r, RULE_OFFSET, sleb() * dataAlign); break; }
      case 0x12: cfaReg = <i32>uleb(); cfaOffset = sleb() * dataAlign; cfaExprPtr = 0; break;
      case 0x13: cfaOffset = sleb() * dataAlign; break;
      case 0x14: { const r = uleb(); setRule(r, RULE_VAL_OFFSET, <i64>uleb() * dataAlign); break; }
      case 0x15: { const r = uleb(); setRule(r, RULE_VAL_OFFSET, sleb() * dataAlign); break; }
      case 0x2e: uleb(); break; // GNU_args_size
      case 0x2f: { const r = uleb(); setRule(r, RULE_OFFSET, -(<i64>uleb() * dataAlign)); break; } // GNU_negative_offset_extended
      default: bufEnd = saved; return fail(ERR_CHAIN, 62);
    }
    if (bad) { bufEnd = saved; return fail(ERR_CHAIN, 63); }
  }
  bufEnd = saved;
  if (bad) return fail(ERR_CHAIN, 63);
  return OK;
}

/**
 * The unwind row at pc, from a copy of `.eh_frame` (ehPtr, ehLen bytes, at remote ehAddr) and
 * the FDE at remote fdeAddr (cfiFindFde). OK (cfaReg/cfaOffset or the CFA expression, and the
 * register rules, are set; fdeStart/fdeEnd the FDE's range), or ERR_CHAIN (pc outside the FDE,
 * or records this decoder refuses).
 */
export function cfiRow(ehPtr: usize, ehLen: i32, ehAddr: u64, fdeAddr: u64, pc: u64): i32 {
  bufPtr = ehPtr; bufEnd = ehPtr + <usize>ehLen; bufAddr = ehAddr; bad = false;
  if (fdeAddr < ehAddr || fdeAddr - ehAddr >= <u64>ehLen) return fail(ERR_CHAIN, 64, fdeAddr);
  // FDE header
  pos = ehPtr + <usize>(fdeAddr - ehAddr);
  let len = <u64>u32at();
  if (len == 0xffffffff) len = u64at();
  const bodyStart = pos;
  if (bad || len < 8 || len > <u64>(bufEnd - bodyStart)) return fail(ERR_CHAIN, 65, fdeAddr);
  const fdeBodyEnd = bodyStart + <usize>len;
  const idPos = pos;
  const ciePtrOff = <u64>u32at();
  if (ciePtrOff == 0 || <u64>(idPos - ehPtr) < ciePtrOff) return fail(ERR_CHAIN, 66, fdeAddr); // an FDE points back to its CIE
  const ciePos = idPos - <usize>ciePtrOff;
  // CIE
  const savedPos = pos;
  pos = ciePos;
  let cieLen = <u64>u32at();
  if (cieLen == 0xffffffff) cieLen = u64at();
  const cieBody = pos;
  if (bad || cieLen < 8 || cieLen > <u64>(bufEnd - cieBody)) return fail(ERR_CHAIN, 67, fdeAddr);
  const cieEnd = cieBody + <usize>cieLen;
  if (u32at() != 0) return fail(ERR_CHAIN, 68, fdeAddr);
  const version = u8at();
  if (version != 1 && version != 3 && version != 4) return fail(ERR_CHAIN, 69, fdeAddr);
  // augmentation string
  let aug: u32 = 0; // bits: 1 z, 2 R, 4 P, 8 L, 16 S
  const augStart = pos;
  for (let i = 0; i < 16; i++) {
    const c = u8at();
    if (c == 0 || bad) break;
    if (c == 0x7a) aug |= 1; else if (c == 0x52) aug |= 2; else if (c == 0x50) aug |= 4; else if (c == 0x4c) aug |= 8;
    else if (c == 0x53) aug |= 16;
    else if ((aug & 1) == 0) return fail(ERR_CHAIN, 70, fdeAddr); // an unknown letter without 'z': its data cannot be skipped
  }
  if (version == 4) { u8at(); u8at(); }
  codeAlign = uleb();
  dataAlign = sleb();
  raColumn = version == 1 ? <i32>u8at() : <i32>uleb();
  fdeEnc = 0;
  signalFrame = (aug & 16) != 0;
  if ((aug & 1) != 0) {
    const augLen = <usize>uleb();
    const augEnd = pos + augLen;
    // letters in order after 'z': read what each one carries
    for (let p = augStart + 1; p < augEnd && p < cieEnd; p++) {
      const c = <u32>load<u8>(p);
      if (c == 0) break;
      if (c == 0x52) fdeEnc = u8at();
      else if (c == 0x50) { const e = u8at(); encoded(e & 0x7f, 0); } // the personality routine: skipped, so an indirect one is fine
      else if (c == 0x4c) u8at();
      if (pos > augEnd) break;
    }
    pos = augEnd;
  }
  if (bad || codeAlign == 0 || raColumn != REG_RA) return fail(ERR_CHAIN, 71, fdeAddr);
  const cieInstr = pos;
  // the FDE's range
  pos = savedPos;
  const begin = encoded(fdeEnc, 0);
  const range = encoded(fdeEnc & 0x0f, 0);
  if (bad) return fail(ERR_CHAIN, 72, fdeAddr);
  fdeStart = begin;
  fdeEnd = begin + range;
  if (pc < fdeStart || pc >= fdeEnd) return fail(ERR_CHAIN, 73, pc);
  if ((aug & 1) != 0) { const n = <usize>uleb(); pos += n; }
  const fdeInstr = pos;
  if (bad || fdeInstr > fdeBodyEnd) return fail(ERR_CHAIN, 74, fdeAddr);
  // the CIE's initial row, then the FDE's program up to pc
  resetRow();
  let st = runProgram(cieInstr, cieEnd, begin, 0xffffffffffffffff);
  if (st != OK) return st;
  for (let r = 0; r < REG_COUNT; r++) { unchecked(initKind[r] = ruleKind[r]); unchecked(initValue[r] = ruleValue[r]); }
  depth = 0;
  st = runProgram(fdeInstr, fdeBodyEnd, begin, pc);
  return st;
}

// ---- one unwind step ----
/** The registers of a frame (DWARF order; REG_RA is its pc), in and out of cfiStep. */
export const regs = new StaticArray<u64>(REG_COUNT);
const next = new StaticArray<u64>(REG_COUNT);
/** When cfiStep needs stack bytes outside the window it was given: the address (the host reads more, or stops). */
export let missingAddr: u64 = 0;

// the stack window: a copy of [winAddr, winAddr + winLen) at winPtr
let winPtr: usize = 0;
let winLen: i32 = 0;
let winAddr: u64 = 0;

function stackWord(addr: u64): u64 {
  if (addr < winAddr || addr - winAddr > <u64>(winLen - 8) || winLen < 8) { if (missingAddr == 0) missingAddr = addr; bad = true; return 0; }
  return load<u64>(winPtr + <usize>(addr - winAddr));
}

const EXPR_STACK: i32 = 16;
const exprStack = new StaticArray<u64>(EXPR_STACK);

/** Evaluates the DWARF expression at [p, p + len) on the registers (initial: pushed first when withInitial). */
function evalExpr(p: usize, len: i32, withInitial: bool, initial: u64): u64 {
  let sp = 0;
  if (withInitial) exprStack[sp++] = initial;
  const savedPos = pos, savedEnd = bufEnd;
  pos = p; bufEnd = p + <usize>len;
  for (let n = 0; pos < bufEnd && n < 256 && !bad; n++) {
    const op = u8at();
    if (sp >= EXPR_STACK - 1) { bad = true; break; }
    if (op >= 0x30 && op <= 0x4f) { exprStack[sp++] = <u64>(op - 0x30); continue; }          // lit0..31
    if (op >= 0x70 && op <= 0x8f) {                                                          // breg0..31
      const r = <i32>(op - 0x70);
      const off = sleb();
      if (r >= REG_COUNT) { bad = true; break; }
      exprStack[sp++] = regs[r] + <u64>off;
      continue;
    }
    switch (op) {
      case 0x06: if (sp < 1) { bad = true; break; } exprStack[sp - 1] = stackWord(exprStack[sp - 1]); break; // deref
      case 0x08: exprStack[sp++] = <u64>u8at(); break;                        // const1u
      case 0x09: exprStack[sp++] = <u64><i64><i8>u8at(); break;               // const1s
      case 0x0a: exprStack[sp++] = <u64>u16at(); break;                       // const2u
      case 0x0c: exprStack[sp++] = <u64>u32at(); break;                       // const4u
      case 0x10: exprStack[sp++] = uleb(); break;                             // constu
      case 0x11: exprStack[sp++] = <u64>sleb(); break;                        // consts
      case 0x12: if (sp < 1) { bad = true; break; } exprStack[sp] = exprStack[sp - 1]; sp++; break; // dup
      case 0x1a: if (sp < 2) { bad = true; break; } sp--; exprStack[sp - 1] &= exprStack[sp]; break; // and
      case 0x1c: if (sp < 2) { bad = true; break; } sp--; exprStack[sp - 1] -= exprStack[sp]; break; // minus
      case 0x22: if (sp < 2) { bad = true; break; } sp--; exprStack[sp - 1] += exprStack[sp]; break; // plus
      case 0x23: if (sp < 1) { bad = true; break; } exprStack[sp - 1] += uleb(); break;              // plus_uconst
      case 0x24: if (sp < 2) { bad = true; break; } sp--; exprStack[sp - 1] = exprStack[sp] >= 64 ? 0 : exprStack[sp - 1] << exprStack[sp]; break; // shl
      case 0x2a: if (sp < 2) { bad = true; break; } sp--; exprStack[sp - 1] = <i64>exprStack[sp - 1] >= <i64>exprStack[sp] ? 1 : 0; break; // ge
      default: bad = true;
    }
  }
  pos = savedPos; bufEnd = savedEnd;
  if (bad || sp < 1) { bad = true; return 0; }
  return exprStack[sp - 1];
}

/**
 * One unwind step with the row cfiRow left: the caller's registers from regs (in place), reading
 * saved values from the stack window (a copy of winLen bytes at remote winAddr, at local ptr).
 * OK; ERR_READ when a saved value lies outside the window (missingAddr says where); ERR_CHAIN
 * for the outermost frame (the return address undefined) or an expression this decoder refuses.
 */
export function cfiStep(ptr: usize, len: i32, addr: u64): i32 {
  winPtr = ptr; winLen = len; winAddr = addr; missingAddr = 0; bad = false;
  const cfa = cfaExprPtr != 0 ? evalExpr(cfaExprPtr, cfaExprLen, false, 0) : (cfaReg >= 0 && cfaReg < REG_COUNT ? regs[cfaReg] + <u64>cfaOffset : 0);
  if (bad) return missingAddr != 0 ? fail(ERR_READ, 75, missingAddr) : fail(ERR_CHAIN, 76);
  if (ruleKind[REG_RA] == RULE_UNDEFINED) return fail(ERR_CHAIN, 77); // the outermost frame (_start, clone3)
  for (let r = 0; r < REG_COUNT; r++) {
    const v = ruleValue[r];
    let out = regs[r];
    switch (ruleKind[r]) {
      case RULE_OFFSET: out = stackWord(cfa + <u64>v); break;
      case RULE_VAL_OFFSET: out = cfa + <u64>v; break;
      case RULE_REGISTER: out = v >= 0 && v < <i64>REG_COUNT ? regs[<i32>v] : 0; break;
      case RULE_EXPRESSION: out = stackWord(evalExpr(<usize>ruleExprPtr[r], ruleExprLen[r], true, cfa)); break;
      case RULE_VAL_EXPRESSION: out = evalExpr(<usize>ruleExprPtr[r], ruleExprLen[r], true, cfa); break;
      default: break;
    }
    next[r] = out;
  }
  if (bad) return missingAddr != 0 ? fail(ERR_READ, 75, missingAddr) : fail(ERR_CHAIN, 76);
  for (let r = 0; r < REG_COUNT; r++) regs[r] = next[r];
  regs[REG_RSP] = cfa;
  return OK;
}

// ---- a row kept for later: the same return address gives the same row every sample ----
/** Bytes of a saved row (cfiSaveRow / cfiLoadRow). */
export const ROW_BYTES: i32 = 32 + REG_COUNT * 24;

/** Copies the row cfiRow left (everything cfiStep uses, and the FDE's range) to dst. */
export function cfiSaveRow(dst: usize): void {
  store<i32>(dst, cfaReg);
  store<i32>(dst, cfaExprLen, 4);
  store<i64>(dst, cfaOffset, 8);
  store<u64>(dst, <u64>cfaExprPtr, 16);
  store<u64>(dst, fdeStart, 24);
  for (let r = 0; r < REG_COUNT; r++) {
    const p = dst + 32 + <usize>r * 24;
    store<i32>(p, unchecked(ruleKind[r]));
    store<i32>(p, unchecked(ruleExprLen[r]), 4);
    store<i64>(p, unchecked(ruleValue[r]), 8);
    store<u32>(p, unchecked(ruleExprPtr[r]), 16);
  }
}

/** Makes the row saved at src the current one, for cfiStep. */
export function cfiLoadRow(src: usize): void {
  cfaReg = load<i32>(src);
  cfaExprLen = load<i32>(src, 4);
  cfaOffset = load<i64>(src, 8);
  cfaExprPtr = <usize>load<u64>(src, 16);
  fdeStart = load<u64>(src, 24);
  for (let r = 0; r < REG_COUNT; r++) {
    const p = src + 32 + <usize>r * 24;
    unchecked(ruleKind[r] = load<i32>(p));
    unchecked(ruleExprLen[r] = load<i32>(p, 4));
    unchecked(ruleValue[r] = load<i64>(p, 8));
    unchecked(ruleExprPtr[r] = load<u32>(p, 16));
  }
}
