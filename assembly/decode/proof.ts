// Proving a sample: the frames each walk followed are read a second time (with the next sample's
// first batch, or in a batch of their own) and a thread's stack is kept only when every frame
// still links to the same caller, runs the same code and, below the innermost, waits at the same
// instruction, and no caller is the thread's current frame just before or just after those
// reads. See sample-state.ts for why (the target runs while it is read). A walk that shows,
// frame for frame, the stack the sample before kept needs no second read (sameAsKept).
// Must not know: how frames were found (frames.ts), code objects, versions (only the active
// table's frame offsets, python/active.ts).
// Source of truth: docs/design.md (sample consistency), docs/cpython-layouts.md §4.

import { OK, ERR_NO_MEMORY, ERR_GONE, ERR_PERM, ERR_TORN, fail } from "../status";
import * as F from "../python/fields";
import * as C from "../python/capabilities";
import { O, frameModel } from "../python/active";
import { qOk, qCount, qReset, qAdd, qFlush } from "./read-queue";
import { tstateCframe } from "./frames";
import {
  CUR_BUF, EARLY_CUR_BUF, slotCurQ, slotEarlyCurQ, tstateArena,
  C_ADDR, C_CODE, C_INSTR, C_PREV, checks, earlyArena, frameLen, growArena, listAddr, oRefcnt, slotCheckEnd, slotCheckStart, slotEarlyQ, slotFromA, slotSame, slotVerifyQ, slotVerifyTsQ, specPrev, tstateLen, verifyArena, verifyCap, verifyTsArena,
} from "./sample-state";

/** Makes the verify arena hold a frame window for every check record. False: no memory. */
export function reserveVerify(): bool {
  const arena = growArena(verifyArena, verifyCap, checks.len, frameLen);
  if (arena == 0) return checks.len == 0;
  if (arena != verifyArena || checks.len * frameLen > verifyCap) { verifyArena = arena; verifyCap = checks.len * frameLen; }
  return true;
}

/** Queues the second read of every frame slot's walk followed (and its tstate, for a retry). */
export function queueVerify(slot: i32): void {
  unchecked(slotVerifyTsQ[slot] = -1);
  const tAddr = unchecked(listAddr[slot]);
  const cf = tstateCframe(tstateArena + <usize>slot * tstateLen);
  unchecked(slotCurQ[2 * slot] = queueCurrent(tAddr, cf, CUR_BUF + (<usize>slot << 4)));
  unchecked(slotVerifyQ[slot] = qCount);
  for (let k = unchecked(slotCheckStart[slot]); k < unchecked(slotCheckEnd[slot]); k++) {
    if (qAdd(load<u64>(checks.at(k) + C_ADDR), frameLen, verifyArena + <usize>k * frameLen) < 0) {
      unchecked(slotVerifyQ[slot] = -1); // the queue is full: proven alone later
      return;
    }
  }
  unchecked(slotCurQ[2 * slot + 1] = queueCurrent(tAddr, cf, CUR_BUF + (<usize>slot << 4) + 8));
  unchecked(slotVerifyTsQ[slot] = qAdd(tAddr, tstateLen, verifyTsArena + <usize>slot * tstateLen));
}

/**
 * Queues a read of the word holding a thread's current frame (tstate tAddr, its cframe cf on
 * 3.11–3.12) into dst. The queue index, or -1 when it cannot be read.
 */
function queueCurrent(tAddr: u64, cf: u64, dst: usize): i32 {
  if (frameModel == C.FRAME_MODEL_FRAME_OBJECT) return qAdd(tAddr + <u64>O[F.F_TSTATE_FRAME], 8, dst);
  if (frameModel == C.FRAME_MODEL_CFRAME) return cf == 0 ? -1 : qAdd(cf + <u64>O[F.F_CFRAME_CURRENT_FRAME], 8, dst);
  return qAdd(tAddr + <u64>O[F.F_TSTATE_CURRENT_FRAME], 8, dst);
}

/**
 * Did both reads of the current frame (queueCurrent, at q[0] and q[1], into buf) succeed and show
 * none of the walk's callers (checks lo+1 … hi-1) running? A caller that runs waits at no call.
 */
function noCallerRuns(qBefore: i32, qAfter: i32, buf: usize, lo: i32, hi: i32): bool {
  if (hi - lo < 2) return true; // no caller (or no frame at all: a thread between calls)
  if (qBefore < 0 || qAfter < 0 || !unchecked(qOk[qBefore]) || !unchecked(qOk[qAfter])) return false;
  const before = load<u64>(buf), after = load<u64>(buf + 8);
  for (let k = lo + 1; k < hi; k++) {
    const a = load<u64>(checks.at(k) + C_ADDR);
    if (a == before || a == after) return false;
  }
  return true;
}

/** Does the second read (queueVerify, flushed) show every frame of slot's walk unchanged? */
export function verified(slot: i32): bool {
  let q = unchecked(slotVerifyQ[slot]);
  if (q < 0) return false;
  const lo = unchecked(slotCheckStart[slot]), hi = unchecked(slotCheckEnd[slot]);
  for (let k = lo; k < hi; k++, q++) {
    if (!unchecked(qOk[q])) return false;
    if (!frameUnchanged(checks.at(k), verifyArena + <usize>k * frameLen, k == lo)) return false;
  }
  return noCallerRuns(unchecked(slotCurQ[2 * slot]), unchecked(slotCurQ[2 * slot + 1]), CUR_BUF + (<usize>slot << 4), lo, hi);
}

/** Does the second copy v of a frame show what check record c saw? (leaf: its instruction may move) */
export function frameUnchanged(c: usize, v: usize, leaf: bool): bool {
  const objects = frameModel == C.FRAME_MODEL_FRAME_OBJECT;
  const oPrev = objects ? O[F.F_FRAME_F_BACK] : O[F.F_IFRAME_PREVIOUS];
  const oCode = objects ? O[F.F_FRAME_F_CODE] : O[F.F_IFRAME_EXECUTABLE];
  const oInstr = objects ? O[F.F_FRAME_F_LASTI] : O[F.F_IFRAME_INSTR_PTR];
  if (load<u64>(v + <usize>oPrev) != load<u64>(c + C_PREV) || load<u64>(v + <usize>oCode) != load<u64>(c + C_CODE)) return false;
  if (oRefcnt >= 0 && load<i64>(v + <usize>oRefcnt) <= 0) return false;
  if (leaf) return true; // the innermost frame runs on
  const instr: u64 = objects ? <u64>load<i32>(v + <usize>oInstr) : load<u64>(v + <usize>oInstr);
  return instr == load<u64>(c + C_INSTR);
}

/**
 * Is slot's walk proven by the second reads at the end of phase A? Only when the walk used
 * nothing read after that batch and followed exactly the frames the previous sample did.
 */
export function verifiedEarly(slot: i32): bool {
  const q = unchecked(slotEarlyQ[slot]);
  if (q < 0 || !unchecked(slotFromA[slot])) return false;
  const prev = specPrev;
  const plo = unchecked(prev.proofStart[slot]), phi = unchecked(prev.proofStart[slot + 1]);
  const lo = unchecked(slotCheckStart[slot]), hi = unchecked(slotCheckEnd[slot]);
  if (hi - lo != phi - plo) return false;
  for (let j = 0; j < hi - lo; j++) {
    const c = checks.at(lo + j);
    if (load<u64>(c + C_ADDR) != prev.proof.getU64(plo + j) || !unchecked(qOk[q + j])) return false;
    if (!frameUnchanged(c, earlyArena + <usize>(plo + j) * frameLen, j == 0)) return false;
  }
  return noCallerRuns(unchecked(slotEarlyCurQ[2 * slot]), unchecked(slotEarlyCurQ[2 * slot + 1]), EARLY_CUR_BUF + (<usize>slot << 4), lo, hi);
}

/** Queues, last in phase A's batch, the frames slot's previous walk followed. */
export function queueEarly(slot: i32): void {
  unchecked(slotEarlyQ[slot] = -1);
  const prev = specPrev;
  const plo = unchecked(prev.proofStart[slot]), phi = unchecked(prev.proofStart[slot + 1]);
  if (phi <= plo) return;
  const tAddr = unchecked(prev.owner[slot]), cf = unchecked(prev.cframe[slot]);
  const buf = EARLY_CUR_BUF + (<usize>slot << 4);
  unchecked(slotEarlyCurQ[2 * slot] = queueCurrent(tAddr, cf, buf));
  const first = qCount;
  for (let k = plo; k < phi; k++) {
    if (qAdd(prev.proof.getU64(k), frameLen, earlyArena + <usize>k * frameLen) < 0) return;
  }
  unchecked(slotEarlyCurQ[2 * slot + 1] = queueCurrent(tAddr, cf, buf + 8));
  unchecked(slotEarlyQ[slot] = first);
}

/** Proves slot's latest walk alone (one batch). OK, ERR_TORN, or ERR_GONE / ERR_PERM. */
export function verifyOne(slot: i32): i32 {
  if (!reserveVerify()) return fail(ERR_NO_MEMORY, 8);
  qReset();
  queueVerify(slot);
  const st = qFlush(0);
  if (st != OK) return st;
  return verified(slot) ? OK : fail(ERR_TORN, 2);
}

/**
 * Does slot's walk show, frame for frame, the stack the previous sample kept for the same thread:
 * the same frames, each linking to the same caller and running the same code, every caller at
 * the same instruction (only the innermost may have moved)? Then the walk is kept without a
 * second read. What a torn read can show is a stack the thread never had: a caller off its
 * call, a callee under a caller that went on. A walk equal to a proven stack shows every caller
 * waiting at a call to the frame above it, as it was proven to, rooted at the frame that was
 * current when this sample read the thread state: a stack the thread had. The previous
 * sample's second reads of those frames are what this walk skips (walk.ts, phase A), so a stack
 * that holds still (a loop in one function, a thread waiting in select) costs no second read.
 * Call before walk.ts swaps the generations (specPrev is still the previous sample).
 */
export function sameAsKept(slot: i32): bool {
  const prev = specPrev;
  if (slot >= prev.count || !unchecked(prev.keptOk[slot]) || unchecked(prev.owner[slot]) != unchecked(listAddr[slot])) return false;
  const plo = unchecked(prev.keptStart[slot]), phi = unchecked(prev.keptEnd[slot]);
  const lo = unchecked(slotCheckStart[slot]), hi = unchecked(slotCheckEnd[slot]);
  if (hi <= lo || hi - lo != phi - plo) return false;
  for (let j = 0; j < hi - lo; j++) {
    const c = checks.at(lo + j), k = prev.kept.at(plo + j);
    if (load<u64>(c + C_ADDR) != load<u64>(k + C_ADDR) || load<u64>(c + C_PREV) != load<u64>(k + C_PREV) ||
        load<u64>(c + C_CODE) != load<u64>(k + C_CODE)) return false;
    if (j > 0 && load<u64>(c + C_INSTR) != load<u64>(k + C_INSTR)) return false;
  }
  return true;
}

/**
 * Records slot's proven walk (its check records) for the next sample's sameAsKept. Call after
 * walk.ts swapped the generations (specPrev is this sample's). False: no memory (not kept).
 */
export function keepProven(slot: i32): bool {
  const gen = specPrev;
  unchecked(gen.keptOk[slot] = false);
  const lo = unchecked(slotCheckStart[slot]), hi = unchecked(slotCheckEnd[slot]);
  const at = gen.kept.grow(hi - lo);
  if (at < 0) return false;
  if (hi > lo) memory.copy(gen.kept.at(at), checks.at(lo), <usize>(hi - lo) * <usize>checks.elemSize);
  unchecked(gen.keptStart[slot] = at);
  unchecked(gen.keptEnd[slot] = at + hi - lo);
  unchecked(gen.keptOk[slot] = true);
  unchecked(gen.stable[slot] = unchecked(slotSame[slot]));
  return true;
}
