// Thread names: the interpreter's modules dict → the "threading" module → its `_active` dict
// {ident: Thread} → each Thread's `_name` (2.7: the mangled `_Thread__name`), set on the interned
// thread with that ident. Called by the host at attach and when a thread without a name appears,
// never per sample: it reads a few hundred objects at most.
// Must not know: version numbers (objects.ts reads every layout through the active table), the
// host's caching policy (when to call this).
// Source of truth: Lib/threading.py of 2.7–3.15 (`_active = {}` maps get_ident() to the Thread;
// `self._name` / 2.7 `self.__name`); docs/cpython-layouts.md §6.

import { OK, ERR_NO_RUNTIME, ERR_LIMIT, ERR_GONE, ERR_PERM, fail, lastErrorCode } from "../status";
import * as F from "../python/fields";
import { walkInterpAddr } from "./walk";
import { readName } from "./strings";
import { threadFindByIdent, setThreadName } from "../aggregate/intern";
import {
  objectsBegin, objectsCheckDicts, objField, objReadWord, objWordStatus, dictGetStr, readAttr, lookupStatus,
  scanDict, scanNext, scanDone, scanItemKey, scanItemValue, objectTypeSlot, typeKind, readInt, intFitsU64, intU64,
  intNegative, KIND_INT, KIND_LONG, KIND_DICT, MAX_DICT_ENTRIES, SCAN_CHUNK,
} from "./objects";

/** Most threads named in one refresh (walk.ts samples at most 4096 threads too). */
export const MAX_NAMED_THREADS: i32 = 4096;

const MAX_PAIRS: i32 = MAX_NAMED_THREADS;
const pairIdent = new StaticArray<u64>(MAX_PAIRS);
const pairThread = new StaticArray<u64>(MAX_PAIRS);

// The threading module's `_active` dict, found once and re-checked on every refresh (it is
// assigned once at import and never replaced).
let activeDictAddr: u64 = 0;
let activeInterp: u64 = 0;

function isDict(addr: u64): bool {
  const slot = objectTypeSlot(addr);
  return slot >= 0 && typeKind(slot) == KIND_DICT;
}

/** threading._active, or 0 (threading not imported yet, or a status in lastError). */
function findActiveDict(interp: u64): u64 {
  if (objField(F.F_INTERP_IMPORTS_MODULES) < 0) { fail(ERR_NO_RUNTIME, 11); return 0; }
  const modules = objReadWord(interp + <u64>objField(F.F_INTERP_IMPORTS_MODULES));
  if (objWordStatus() != OK || modules == 0 || !isDict(modules)) return 0;
  const module = dictGetStr(modules, "threading");
  if (module == 0) return 0;
  // the module's attributes: its md_dict, through the module type's tp_dictoffset
  const active = readAttr(module, "_active");
  if (active == 0 || !isDict(active)) return 0;
  return active;
}

/**
 * Names the interned threads from threading._active. Returns how many names it set (0 when
 * threading is not imported or no thread matched), or a negative status.
 */
export function threadNamesRefresh(): i32 {
  let st = objectsBegin();
  if (st != OK) return -st;
  st = objectsCheckDicts();
  if (st != OK) return -st;
  const interp = walkInterpAddr();
  if (interp == 0) return -fail(ERR_NO_RUNTIME, 12);
  if (activeInterp != interp || activeDictAddr == 0 || !isDict(activeDictAddr)) {
    activeDictAddr = findActiveDict(interp);
    activeInterp = interp;
    if (activeDictAddr == 0) {
      const e = lastErrorCode();
      if (lookupStatus() == ERR_GONE || lookupStatus() == ERR_PERM) return -lookupStatus();
      return e == ERR_GONE || e == ERR_PERM ? -e : 0;
    }
  }
  // collect (ident, Thread) first: the attribute lookups below start scans of their own
  st = scanDict(activeDictAddr);
  if (st != OK) { activeDictAddr = 0; return -st; }
  let pairs = 0;
  for (let guard = 0; guard <= MAX_DICT_ENTRIES / SCAN_CHUNK + 1 && !scanDone(); guard++) {
    const items = scanNext();
    if (items < 0) { activeDictAddr = 0; return items; }
    for (let i = 0; i < items; i++) {
      if (pairs >= MAX_PAIRS) return -fail(ERR_LIMIT, 22);
      unchecked(pairIdent[pairs] = scanItemKey(i));
      unchecked(pairThread[pairs] = scanItemValue(i));
      pairs++;
    }
  }
  let named = 0;
  for (let p = 0; p < pairs; p++) {
    const keySlot = objectTypeSlot(unchecked(pairIdent[p]));
    if (keySlot < 0) continue;
    const kind = typeKind(keySlot);
    if (kind != KIND_INT && kind != KIND_LONG) continue;
    if (readInt(unchecked(pairIdent[p]), kind) != OK || !intFitsU64()) continue;
    // 2.7 stores the ident as a signed C long: the same 64 bits
    let ident = intU64();
    if (intNegative()) ident = <u64>(-(<i64>ident));
    const threadId = threadFindByIdent(ident);
    if (threadId < 0) continue; // not sampled yet
    const thread = unchecked(pairThread[p]);
    let nameObj = readAttr(thread, "_name");
    if (nameObj == 0 && lookupStatus() == OK) nameObj = readAttr(thread, "_Thread__name");
    if (nameObj == 0) {
      const ls = lookupStatus();
      if (ls == ERR_GONE || ls == ERR_PERM) return -ls;
      continue;
    }
    const nameId = readName(nameObj);
    if (nameId < 0) continue;
    setThreadName(threadId, nameId);
    named++;
  }
  return named;
}
