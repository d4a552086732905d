// The merge of a thread's native frames with its Python frames (--native): the Python frames,
// innermost first, split into blocks (each the frames one eval-loop call ran: the core marks the
// outermost frame of each), and each native eval-loop frame replaced by the next block; C
// functions between them stay where they are (a C function calling back into Python), those
// above the innermost eval frame stay on top (time.sleep, a C extension's loop, BLAS), and
// interpreter plumbing is dropped unless all frames are asked for.
// Must not know: CPython layouts or versions (the block marks come from the core), how frames
// are read or printed.
// Source of truth: docs/native-stacks.md §6 (the rule, the reconciliation, the corner cases).

import type { NativeFrame } from "../target/native.js";

export type Merged<T> = { native: NativeFrame; python?: undefined } | { python: T; native?: undefined };

export interface MergeResult<T> {
  /** innermost first */
  frames: Merged<T>[];
  /**
   * true when the eval frames and the blocks paired up (as many, or one eval frame more: a frame
   * already popped in Python while its C call returns); false: the Python frames are given whole
   * under the leaf native frames, and the sample counts as a merge mismatch.
   */
  ok: boolean;
}

/**
 * Merges native (innermost first) with python (innermost first; blockEnd marks the outermost
 * frame of each eval-loop call). all: keep interpreter plumbing and libc's start frames.
 */
export function mergeNative<T>(native: NativeFrame[], python: { frame: T; blockEnd: boolean }[], all: boolean): MergeResult<T> {
  const blocks: T[][] = [];
  let cur: T[] = [];
  for (const p of python) {
    cur.push(p.frame);
    if (p.blockEnd) { blocks.push(cur); cur = []; }
  }
  if (cur.length) blocks.push(cur);
  const shown = (f: NativeFrame): boolean => all || !f.plumbing;
  const out: Merged<T>[] = [];
  if (!blocks.length) {
    for (const f of native) if (shown(f)) out.push({ native: f });
    return { frames: out, ok: true };
  }
  const evals = native.reduce((n, f) => n + (f.eval ? 1 : 0), 0);
  if (evals === blocks.length || evals === blocks.length + 1) {
    let b = 0;
    for (const f of native) {
      if (f.eval) {
        if (b < blocks.length) for (const p of blocks[b++]) out.push({ python: p });
        if (all) out.push({ native: f });
      } else if (shown(f)) {
        out.push({ native: f });
      }
    }
    return { frames: out, ok: true };
  }
  // no pairing (a stack read while a call entered or left the eval loop, code without unwind
  // info, an evaluator wspy does not know): the leaf C frames on top of the whole Python stack
  for (const f of native) {
    if (f.eval || f.interpreter) break;
    if (shown(f)) out.push({ native: f });
  }
  for (const p of python) out.push({ python: p.frame });
  return { frames: out, ok: false };
}
