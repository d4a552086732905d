// asyncio task graphs (--async): after a walk, every live asyncio task of the interpreter: its
// name, its coroutine chain (each suspended coroutine's function and line, outermost first, the
// same interned frames as thread stacks), whether it runs now (its frame is then on a thread's
// stack), and the tasks that await it. Results are task records (contract.ts TK_*).
// Must not know: version numbers (the record's task_object / gen_object fields and the
// capabilities task_registry, gen_state and awaited_slot say everything), files, output formats.
// Source of truth: docs/cpython-layouts.md §8 (task lists, TaskObj, coroutine frames, the
// awaited slot), Modules/_asynciomodule.c and Objects/genobject.c (_PyGen_yf) of 3.11–3.15.

import { OK, ERR_LIMIT, ERR_NO_MEMORY, ERR_CHAIN, ERR_GONE, ERR_PERM, ERR_VERSION, ERR_NO_RUNTIME, fail, lastErrorCode } from "../status";
import * as K from "../contract";
import * as F from "../python/fields";
import * as C from "../python/capabilities";
import { O, tagMask, activeTableId, activeSet, taskRegistry, genState, awaitedSlotModel } from "../python/active";
import { registryAsyncio } from "../python/registry";
import { readRemote } from "../io";
import { Vec, U64Map } from "../util/vec";
import { qReset, qAdd, qFlush, qOk, qCount, MAX_QUEUE } from "./read-queue";
import { listAddr, listCount, interpAddr } from "./sample-state";
import {
  objectsBegin, objectsCheckDicts, objectTypeSlot, typeKind, readInt, intFitsU64, intU64, readSetKeys, dictGetStr, readAttr,
  objReadWord, objWordStatus, typeSlot, typeNameId, KIND_INT, KIND_STR, KIND_LIST, KIND_TUPLE, KIND_SET, KIND_DICT,
} from "./objects";
import { readName } from "./strings";
import { resolveFrames, frameLine, entries, E_NAME_ID, E_FILE_ID, E_FIRSTLINE } from "./code-cache";
import { internFrame, internString, stringGeneration, FRAME_PYTHON } from "../aggregate/intern";

/** Most tasks read (a bigger graph is cut): one read queue's worth, so each task's reads are one batch. */
export const MAX_TASKS: i32 = MAX_QUEUE;
/** Most coroutines followed down one task's await chain. */
export const MAX_CHAIN: i32 = 64;
/** Most awaiters read for one task. */
const MAX_AWAITERS: i32 = 4096;

const records = new Vec(K.TASK_RECORD_SIZE);
const frameIds = new Vec(4);
const awaiterIds = new Vec(4);
const taskIndex = new U64Map(10);
const taskAddr = new Vec(8);
let windows: usize = 0; // one task window per task
let windowsCap: i32 = 0;
let taskLen: i32 = 0;   // bytes of a task window: [0, task_object.size)
let coroLen: i32 = 0;   // bytes of a coroutine that are read at least: [0, gen_object.size)
let coroWin: i32 = 0;   // bytes read when they can be: its frame's first stack slots too (the awaited object is there)
/** Bytes read past gen_object.size when mapped: a small coroutine's value stack, so what it awaits needs no read of its own. */
const COROUTINE_STACK_SLACK: i32 = 256;
let coroBuf: usize = 0; // one coroutine window per task (the task's own coroutine)
const NAME_BUF: usize = memory.data(32, 8);
const WORDS: usize = memory.data(64, 8);
const KEYS: usize = memory.data(MAX_AWAITERS * 8, 8);
let members: usize = 0; // a registry set's members (MAX_TASKS words), allocated at first use

// edges (awaited task index, awaiting task index), grouped per awaited task at the end
const edgeChild = new Vec(4);
const edgeParent = new Vec(4);
// scratch kept between calls (the sampling path allocates nothing)
const groupStart = new Vec(4);
const groupFill = new Vec(4);
const coroOk = new Vec(4);
const tuples = new Vec(8);
const waiterType = new Vec(8);  // ≤3.13: per task, the type of the future it waits on (0: a task, none, or unread)
const cbSelf = new Vec(8);      // ≤3.13: per task, what its first done-callback is bound to
const cbSelfType = new Vec(8);  // ... and that object's type


let configured: bool = false;
let configuredTable: i32 = -1;
let tornCount: i32 = 0;

export function tasksRecordsPtr(): usize { return records.ptr; }
export function tasksFramesPtr(): usize { return frameIds.ptr; }
export function tasksAwaitersPtr(): usize { return awaiterIds.ptr; }
/** Task lists that changed while they were read (a repeated or unreadable node ended them), since the last tasksConfigure. */
export function tasksTornCount(): i32 { return tornCount; }

/**
 * Readies the task decoder for the active table: completes it with the task graph's fields for a
 * target of version hex (registry.ts), from the target's `.AsyncioDebug` bytes at ptr (len 0: none).
 * OK, or ERR_VERSION (detail 20: no task layout for this version or build; 21: 3.14+ and asyncio
 * not imported yet), ERR_TABLE.
 */
export function tasksConfigure(hex: u32, freeThreaded: bool, ptr: usize, len: i32): i32 {
  const id = activeTableId;
  if (id < 0) return fail(ERR_NO_RUNTIME, 30);
  configured = false;
  const st = registryAsyncio(id, hex, freeThreaded, ptr, len);
  if (st != OK) return st;
  const st2 = activeSet(id);
  if (st2 != OK) return st2;
  taskLen = O[F.F_TASK_SIZE];
  coroLen = O[F.F_GEN_SIZE];
  coroWin = coroLen + COROUTINE_STACK_SLACK;
  if (taskLen <= 0 || taskLen > 4096 || coroLen <= 0 || coroLen > 4096) return fail(ERR_VERSION, 22);
  configured = true;
  regInterp = 0; regWeak = 0; regEager = 0;
  prevTasks.clear(); prevIndex.clear();
  configuredTable = id;
  tornCount = 0;
  return OK;
}

function record(i: i32): usize { return records.at(i); }

/** Adds a task address (once); its index, or -1 (seen already, limit, or not a pointer). */
function addTask(addr: u64): i32 {
  if (addr == 0 || (addr & 7) != 0) return -1;
  if (taskIndex.get(addr) >= 0) return -1;
  if (taskAddr.len >= MAX_TASKS) { fail(ERR_LIMIT, 40); return -1; }
  const i = taskAddr.pushU64(addr);
  if (i < 0 || !taskIndex.set(addr, i)) return -1;
  return i;
}

// ---- where the tasks are ----

// the previous read's tasks: their list links are read in one batch first (speculation: the data
// is as fresh as any read; only the choice of addresses comes from the sample before)
const prevTasks = new Vec(8);
const prevIndex = new U64Map(10);
let specBuf: usize = 0;  // the previous tasks' windows, read this call
let specCap: i32 = 0;
const specOk = new Vec(4); // per previous task: its window read whole (empty: no speculation this call)

/** 3.14+: every thread's circular list, then the interpreter's (tasks of threads that exited). */
function listThreadTasks(): i32 {
  const oNode = <u64>O[F.F_TASK_NODE];
  const nPrev = prevTasks.len;
  if (nPrev > specCap) {
    if (specBuf != 0) heap.free(specBuf);
    specBuf = heap.alloc(<usize>nPrev * taskLen);
    specCap = specBuf == 0 ? 0 : nPrev;
  }
  const spec = nPrev > 0 && nPrev <= specCap;
  specOk.clear();
  if (spec) {
    // whole task windows: the list links are in them, and a task still listed needs no read of its own
    qReset();
    for (let j = 0; j < nPrev; j++) qAdd(prevTasks.getU64(j), taskLen, specBuf + <usize>j * taskLen);
    const st = qFlush(0);
    if (st != OK) return st;
    for (let j = 0; j < nPrev; j++) specOk.pushI32(unchecked(qOk[j]) ? 1 : 0);
  }
  for (let t = 0; t <= listCount; t++) {
    const head = t < listCount ? unchecked(listAddr[t]) + <u64>O[F.F_TSTATE_ASYNCIO_TASKS_HEAD]
      : (O[F.F_INTERP_ASYNCIO_TASKS_HEAD] >= 0 && interpAddr != 0 ? interpAddr + <u64>O[F.F_INTERP_ASYNCIO_TASKS_HEAD] : 0);
    if (head == 0) continue;
    let node = objReadWord(head);
    if (objWordStatus() != OK) { const e = objWordStatus(); if (e == ERR_GONE || e == ERR_PERM) return e; tornCount++; continue; }
    for (let n = 0; node != head; n++) {
      if (node == 0 || n >= MAX_TASKS) { tornCount++; break; }
      if (addTask(node - oNode) < 0 && taskIndex.get(node - oNode) >= 0) { tornCount++; break; } // a node seen twice: the list moved
      const j = spec ? prevIndex.get(node - oNode) : -1;
      if (j >= 0 && specOk.getI32(j) != 0) { node = load<u64>(specBuf + <usize>j * taskLen + <usize>oNode); continue; }
      node = objReadWord(node);
      if (objWordStatus() != OK) { const e = objWordStatus(); if (e == ERR_GONE || e == ERR_PERM) return e; tornCount++; break; }
    }
  }
  return OK;
}

/** The members of the set at set (through their weakrefs when weak), up to MAX_TASKS. */
function addSetMembers(set: u64, weak: bool): i32 {
  const slot = objectTypeSlot(set);
  if (slot < 0 || typeKind(slot) != KIND_SET) return OK;
  if (members == 0) {
    members = heap.alloc(<usize>MAX_TASKS << 3);
    if (members == 0) return fail(ERR_NO_MEMORY, 45);
  }
  const n = readSetKeys(set, MAX_TASKS, members);
  if (n < 0) return -n;
  if (!weak) {
    for (let i = 0; i < n; i++) addTask(load<u64>(members + (<usize>i << 3)));
    return OK;
  }
  const oObj = <u64>O[F.F_WEAKREF_WR_OBJECT];
  qReset();
  for (let i = 0; i < n; i++) qAdd(load<u64>(members + (<usize>i << 3)) + oObj, 8, members + (<usize>i << 3));
  const st = qFlush(0);
  if (st != OK) return st;
  for (let i = 0; i < n; i++) if (unchecked(qOk[i])) addTask(load<u64>(members + (<usize>i << 3)));
  return OK;
}

/** ≤3.13: the `_asyncio` module's registries (sys.modules["_asyncio"]: the objects its C tasks register in). */
function listModuleTasks(registry: i32): i32 {
  if (O[F.F_INTERP_IMPORTS_MODULES] < 0 || interpAddr == 0) return fail(ERR_NO_RUNTIME, 31);
  // the registry's sets, found once per interpreter through sys.modules and checked each time
  // (they are made at _asyncio's import and never replaced): a set still a set is taken as is
  if (regInterp != interpAddr || !isSet(regWeak) || (regEager != 0 && !isSet(regEager))) {
    regWeak = 0; regEager = 0; regInterp = 0;
    const modules = objReadWord(interpAddr + <u64>O[F.F_INTERP_IMPORTS_MODULES]);
    if (objWordStatus() != OK) return objWordStatus();
    const ms = objectTypeSlot(modules);
    if (modules == 0 || ms < 0 || typeKind(ms) != KIND_DICT) return OK;
    const module = dictGetStr(modules, "_asyncio");
    if (module == 0) return OK; // asyncio not imported: no tasks
    const ws = readAttr(module, registry == C.TASK_REGISTRY_ALL_TASKS ? "_all_tasks" : "_scheduled_tasks");
    const data = ws != 0 ? readAttr(ws, "data") : 0;
    if (data == 0 || !isSet(data)) return OK;
    if (registry != C.TASK_REGISTRY_ALL_TASKS) {
      const eager = readAttr(module, "_eager_tasks");
      if (eager != 0 && isSet(eager)) regEager = eager;
    }
    regWeak = data;
    regInterp = interpAddr;
  }
  if (regEager != 0) { const st = addSetMembers(regEager, false); if (st != OK) return st; }
  return addSetMembers(regWeak, true);
}

let regInterp: u64 = 0;
let regWeak: u64 = 0;   // the WeakSet's data: a set of weakrefs to tasks
let regEager: u64 = 0;  // 3.12+: the set of tasks in their first, eager step

function isSet(obj: u64): bool {
  if (obj == 0) return false;
  const slot = objectTypeSlot(obj);
  return slot >= 0 && typeKind(slot) == KIND_SET;
}

// ---- one task ----

// names by task and name object (a str, or the lazy int): a task keeps its name object until it
// is renamed, and a freed task and a freed name both coming back at the same two addresses with
// another name is what it takes to show a stale name; for the string generation they were
// interned in, bounded
const nameCache = new U64Map(10);
let nameCacheGen: i32 = -1;
const MAX_NAME_CACHE: i32 = 1 << 16;

/** The task's name, through the cache. */
function taskName(task: u64, nameObj: u64): i32 {
  if (nameCacheGen != stringGeneration() || nameCache.count >= MAX_NAME_CACHE) { nameCache.clear(); nameCacheGen = stringGeneration(); }
  const key = (task * 0x9e3779b97f4a7c15) ^ nameObj;
  const hit = nameCache.get(key);
  if (hit >= 0) return hit;
  const id = readTaskName(nameObj);
  if (id >= 0) nameCache.set(key, id);
  return id;
}

/** The task's name: a str, or an int n meaning "Task-n" (3.12+ name tasks lazily). */
function readTaskName(nameObj: u64): i32 {
  if (nameObj == 0) return -1;
  const slot = objectTypeSlot(nameObj);
  if (slot < 0) return -1;
  const kind = typeKind(slot);
  if (kind == KIND_STR) return readName(nameObj);
  if (kind != KIND_INT || readInt(nameObj, kind) != OK || !intFitsU64()) return -1;
  let v = intU64();
  const prefix = "Task-";
  let n = 0;
  for (let i = 0; i < prefix.length; i++) store<u8>(NAME_BUF + <usize>(n++), <u8>prefix.charCodeAt(i));
  let digits = 0;
  let t = v;
  do { digits++; t /= 10; } while (t != 0);
  for (let i = digits - 1; i >= 0; i--) { store<u8>(NAME_BUF + <usize>(n + i), <u8>(48 + <i32>(v % 10))); v /= 10; }
  return internString(NAME_BUF, n + digits);
}

/**
 * Is a coroutine in this gi_frame_state suspended inside an await (yield from)? state_311 has no
 * such state: SUSPENDED (-1), as only an await suspends a coroutine; state_313 SUSPENDED_YIELD_FROM
 * (-1); state_315 SUSPENDED_YIELD_FROM (2) or its _LOCKED twin (3).
 */
function awaiting(state: i32): bool {
  return genState == C.GEN_STATE_315 ? state == 2 || state == 3 : state == -1;
}
function running(state: i32): bool {
  return genState == C.GEN_STATE_315 ? state == 4 : state == 0;
}
function finished(state: i32): bool {
  return genState == C.GEN_STATE_315 ? state >= 5 : state >= 1;
}
/** Not started yet (CREATED: -2 in state_311, -3 in state_313, 0 in state_315). */
function created(state: i32): bool {
  return genState == C.GEN_STATE_315 ? state == 0 : genState == C.GEN_STATE_313 ? state == -3 : state == -2;
}

/** Where a coroutine suspended in an await keeps what it awaits (its window at w, remote coro), or 0. */
function awaitedSlot(coro: u64, w: usize): u64 {
  const frame = <u64>O[F.F_GEN_IFRAME];
  if (awaitedSlotModel == C.AWAITED_SLOT_STACKTOP) {
    const top = load<i32>(w + <usize>(frame + <u64>O[F.F_IFRAME_STACKTOP]));
    if (top < 1 || top > 1 << 20) return 0;
    return coro + frame + <u64>O[F.F_IFRAME_LOCALSPLUS] + (<u64>(top - 1) << 3);
  }
  const sp = load<u64>(w + <usize>(frame + <u64>O[F.F_IFRAME_STACKPOINTER]));
  const back: u64 = awaitedSlotModel == C.AWAITED_SLOT_STACKPOINTER_2 ? 16 : 8;
  return sp < back ? 0 : sp - back;
}

// the coroutine chains, read one level at a time for every task at once (each level a few
// batched reads): the tasks still going down, their current coroutine and its window
const chainTask = new Vec(4);     // this level's tasks
const chainNext = new Vec(4);     // the next level's tasks
const chainCur = new Vec(8);      // per task: its current coroutine (remote)
const chainType = new Vec(8);     // per task: its own coroutine's type (a chain follows only that type)
const chainWin = new Vec(4);      // per task: its current window (local pointer)
const chainSlot = new Vec(8);     // per next-level task: the awaited object
const chainQ = new Vec(4);        // per next-level task: the read queue index of its window (-1: none)
const chainLen = new Vec(4);      // per task: the bytes of its current window that were read
const slotQ = new Vec(4);         // per next-level task: the read queue index of its slot (-1: taken from the window)
let levelBuf: StaticArray<usize> = [0, 0];
let levelCap: i32 = 0;
// the frames found, in level order: (task, code, instruction offset); grouped per task at the end
const foundTask = new Vec(4);
const foundCode = new Vec(8);
const foundUnits = new Vec(4);
const RESOLVE_CHUNK: i32 = 1024;
const resolveCode = new StaticArray<u64>(RESOLVE_CHUNK);
const resolveEntry = new StaticArray<i32>(RESOLVE_CHUNK);
const foundEntry = new Vec(4);
// the proof of a suspended coroutine's frame: what the chain read of it ([snapLo, snapLo +
// snapLen) of the coroutine: its state, code, instruction and stack top), read a second time
const foundCoro = new Vec(8);     // per frame found: its coroutine (0: running, not proven here)
let foundSnap = new Vec(1);       // per frame found: snapLen bytes as the chain read them
let snapLo: i32 = 0, snapLen: i32 = 0;
let verifyBuf: usize = 0;
let verifyCap: i32 = 0;
const proofQ = new Vec(4);        // per frame found: the queue index of its second read (-1: none)
const foundSlot = new Vec(8);     // per frame found: where what it awaits was read (0: the chain ended there)
const foundAwaited = new Vec(8);  // ... and what it was
const nextFound = new Vec(4);     // per next-level task: the frame found whose slot it follows
const slotProofQ = new Vec(4);    // per frame found: the queue index of its slot's second read (-1: none)
let slotProofBuf: usize = 0;

/**
 * Reads every task's coroutine chain (task i's own coroutine window at coroBuf + i * coroWin when
 * coroOk), level by level, and fills the records' frames, running flags and frame addresses.
 * OK, or ERR_GONE / ERR_PERM / ERR_NO_MEMORY.
 */
function readChains(count: i32): i32 {
  const oFrame = <usize>O[F.F_GEN_IFRAME];
  const oState = <usize>O[F.F_GEN_FRAME_STATE];
  const oExec = <usize>O[F.F_IFRAME_EXECUTABLE], oInstr = <usize>O[F.F_IFRAME_INSTR_PTR];
  const oType = <usize>O[F.F_PYOBJECT_OB_TYPE];
  const adaptive = <u64>O[F.F_CODE_CO_CODE_ADAPTIVE];
  if (count > levelCap) {
    for (let b = 0; b < 2; b++) {
      if (levelBuf[b] != 0) heap.free(levelBuf[b]);
      levelBuf[b] = heap.alloc(<usize>count * coroWin);
      if (levelBuf[b] == 0) return fail(ERR_NO_MEMORY, 46);
    }
    levelCap = count;
  }
  chainTask.clear(); chainCur.clear(); chainType.clear(); chainWin.clear();
  foundTask.clear(); foundCode.clear(); foundUnits.clear(); foundCoro.clear(); foundSnap.clear();
  foundSlot.clear(); foundAwaited.clear();
  // the bytes a frame's proof compares: gi_frame_state, f_executable, instr_ptr, the stack top
  const oStack = oFrame + <usize>(O[F.F_IFRAME_STACKPOINTER] >= 0 ? O[F.F_IFRAME_STACKPOINTER] : O[F.F_IFRAME_STACKTOP]);
  const proofFields: StaticArray<usize> = [oState, oFrame + oExec, oFrame + oInstr, oStack];
  let lo: usize = oState, hi: usize = oState + 1;
  for (let f = 0; f < proofFields.length; f++) { const at = proofFields[f]; if (at < lo) lo = at; if (at + 8 > hi) hi = at + 8; }
  snapLo = <i32>lo; snapLen = <i32>(hi - lo);
  if (foundSnap.elemSize != snapLen) foundSnap = new Vec(snapLen); // (once: the layout is the table's)
  chainLen.clear();
  if (chainCur.grow(count) < 0 || chainType.grow(count) < 0 || chainWin.grow(count) < 0 || chainLen.grow(count) < 0) return fail(ERR_NO_MEMORY, 47);
  const oCoro = <usize>O[F.F_TASK_CORO];
  for (let i = 0; i < count; i++) {
    const r = record(i);
    if (load<i32>(r + K.TK_STATUS) != OK || coroOk.getI32(i) <= 0) continue;
    const coro = load<u64>(windows + <usize>i * taskLen + oCoro);
    const w = coroBuf + <usize>i * coroWin;
    store<u64>(chainCur.at(i), coro);
    chainLen.setI32(i, coroOk.getI32(i) == 1 ? coroWin : coroLen);
    store<u64>(chainType.at(i), load<u64>(w + oType));
    store<u32>(chainWin.at(i), <u32>w);
    store<u64>(r + K.TK_FRAME_ADDR_LO, coro + <u64>oFrame);
    chainTask.pushI32(i);
  }
  for (let level = 0; level < MAX_CHAIN && chainTask.len > 0; level++) {
    // this level's frames; the tasks that go on queue the read of their awaited object
    chainNext.clear(); chainSlot.clear(); slotQ.clear(); nextFound.clear();
    // the queue writes into chainSlot: room for all now, so it does not move while queued
    if (!chainSlot.reserve(chainTask.len)) return fail(ERR_NO_MEMORY, 54);
    qReset();
    for (let k = 0; k < chainTask.len; k++) {
      const i = chainTask.getI32(k);
      const w = <usize>load<u32>(chainWin.at(i));
      const state = <i32>load<i8>(w + oState);
      if (level > 0 && (finished(state) || created(state))) {
        // a coroutine its awaiter is suspended in has started (the await ran it) and has not
        // finished (it returns into the awaiter at once): the reads straddle a step
        store<i32>(record(i) + K.TK_STATUS, K.ERR_TORN);
        continue;
      }
      if (finished(state)) continue;
      const code = load<u64>(w + oFrame + oExec) & tagMask;
      if (code == 0) continue;
      const units = (<i64>load<u64>(w + oFrame + oInstr) - <i64>(code + adaptive)) >> 1;
      if (foundTask.pushI32(i) < 0 || foundCode.pushU64(code) < 0) return fail(ERR_NO_MEMORY, 48);
      foundUnits.pushI32(units < 0 || units > 0x3fffffff ? -1 : <i32>units);
      const s = foundSnap.grow(1);
      if (s < 0 || foundCoro.pushU64(running(state) ? 0 : load<u64>(chainCur.at(i))) < 0) return fail(ERR_NO_MEMORY, 56);
      if (foundSlot.pushU64(0) < 0 || foundAwaited.pushU64(0) < 0) return fail(ERR_NO_MEMORY, 57);
      memory.copy(foundSnap.at(s), w + <usize>snapLo, <usize>snapLen);
      if (running(state)) {
        if (level == 0) store<i32>(record(i) + K.TK_RUNNING, 1);
        continue;
      }
      if (!awaiting(state)) continue;
      const cur = load<u64>(chainCur.at(i));
      const at = awaitedSlot(cur, w);
      if (at == 0) continue;
      const n = chainNext.pushI32(i);
      if (n < 0 || chainSlot.pushU64(0) < 0 || nextFound.pushI32(s) < 0) return fail(ERR_NO_MEMORY, 49);
      foundSlot.setU64(s, at);
      if (at >= cur && at - cur <= <u64>(chainLen.getI32(i) - 8)) {
        // in the window already (a coroutine's first stack slots)
        store<u64>(chainSlot.at(n), load<u64>(w + <usize>(at - cur)));
        slotQ.pushI32(-1);
      } else {
        slotQ.pushI32(qAdd(at, 8, chainSlot.at(n)));
      }
    }
    if (chainNext.len == 0) break;
    let st = qFlush(0);
    if (st != OK) return st;
    // the awaited objects' windows, into the buffer this level does not use
    const buf = levelBuf[level & 1];
    chainTask.clear();
    for (let k = 0; k < chainNext.len; k++) {
      const q = slotQ.getI32(k);
      const next = q == -1 || (q >= 0 && unchecked(qOk[q])) ? load<u64>(chainSlot.at(k)) & tagMask : 0;
      // a coroutine suspended in an await holds what it awaits: none (or unreadable) is a torn read
      if (next == 0) store<i32>(record(chainNext.getI32(k)) + K.TK_STATUS, K.ERR_TORN);
      store<u64>(chainSlot.at(k), next);
      foundAwaited.setU64(nextFound.getI32(k), next);
    }
    qReset();
    chainQ.clear();
    for (let k = 0; k < chainNext.len; k++) {
      const next = load<u64>(chainSlot.at(k));
      const i = chainNext.getI32(k);
      // an unreadable or self-referencing slot ends that chain
      chainQ.pushI32(next != 0 && next != load<u64>(chainCur.at(i)) ? qAdd(next, coroWin, buf + <usize>k * coroWin) : -1);
    }
    st = qFlush(0);
    if (st != OK) return st;
    for (let k = 0; k < chainNext.len; k++) {
      const i = chainNext.getI32(k);
      const w = buf + <usize>k * coroWin;
      const q = chainQ.getI32(k);
      if (q < 0) continue;
      let len = coroWin;
      if (!unchecked(qOk[q])) {
        // the slack ran past the mapping (or the object went): the object alone, then
        if (readRemote(load<u64>(chainSlot.at(k)), w, coroLen) != OK) { store<i32>(record(i) + K.TK_STATUS, K.ERR_TORN); continue; }
        len = coroLen;
      }
      // follow only a coroutine of the task's own coroutine type (a FutureIter or a Future ends it)
      if (load<u64>(w + oType) != load<u64>(chainType.at(i))) continue;
      chainLen.setI32(i, len);
      store<u64>(chainCur.at(i), load<u64>(chainSlot.at(k)));
      store<u32>(chainWin.at(i), <u32>w);
      chainTask.pushI32(i);
    }
  }
  // the proof: every suspended frame read again in one batch; a task one of whose frames moved
  // (it ran between the reads) shows a chain it may never have had: marked torn
  const total = foundTask.len;
  if (total > verifyCap) {
    if (verifyBuf != 0) heap.free(verifyBuf);
    if (slotProofBuf != 0) heap.free(slotProofBuf);
    verifyBuf = heap.alloc(<usize>total * snapLen);
    slotProofBuf = heap.alloc(<usize>total << 3);
    verifyCap = total;
  }
  // (and the slot each frame's await was followed through: the same instruction may await a new object)
  proofQ.clear(); slotProofQ.clear();
  qReset();
  for (let k = 0; k < total; k++) {
    const coro = foundCoro.getU64(k);
    proofQ.pushI32(coro != 0 ? qAdd(coro + <u64>snapLo, snapLen, verifyBuf + <usize>k * snapLen) : -1);
    const slot = foundSlot.getU64(k);
    slotProofQ.pushI32(slot != 0 ? qAdd(slot, 8, slotProofBuf + (<usize>k << 3)) : -1);
  }
  const pst = qFlush(0);
  if (pst != OK) return pst;
  for (let k = 0; k < total; k++) {
    const q = proofQ.getI32(k), sq = slotProofQ.getI32(k);
    const frameMoved = q != -1 && (q < 0 || !unchecked(qOk[q]) || memory.compare(verifyBuf + <usize>k * snapLen, foundSnap.at(k), <usize>snapLen) != 0);
    const slotMoved = sq != -1 && (sq < 0 || !unchecked(qOk[sq]) || (load<u64>(slotProofBuf + (<usize>k << 3)) & tagMask) != foundAwaited.getU64(k));
    if (frameMoved || slotMoved) store<i32>(record(foundTask.getI32(k)) + K.TK_STATUS, K.ERR_TORN);
  }
  // code objects to names and lines, in chunks of batched validations
  foundEntry.clear();
  if (foundEntry.grow(total) < 0) return fail(ERR_NO_MEMORY, 50);
  for (let lo = 0; lo < total; lo += RESOLVE_CHUNK) {
    const n = total - lo < RESOLVE_CHUNK ? total - lo : RESOLVE_CHUNK;
    for (let k = 0; k < n; k++) unchecked(resolveCode[k] = foundCode.getU64(lo + k));
    const st = resolveFrames(resolveCode, resolveEntry, n);
    if (st == ERR_GONE || st == ERR_PERM) return st;
    if (st == OK) {
      for (let k = 0; k < n; k++) foundEntry.setI32(lo + k, unchecked(resolveEntry[k]));
      continue;
    }
    // one code object that does not read spoils the batch: resolve them one by one
    for (let k = 0; k < n; k++) {
      unchecked(resolveCode[0] = foundCode.getU64(lo + k));
      const one = resolveFrames(resolveCode, resolveEntry, 1);
      if (one == ERR_GONE || one == ERR_PERM) return one;
      foundEntry.setI32(lo + k, one == OK ? unchecked(resolveEntry[0]) : -1);
    }
  }
  // group per task, outermost first (the level order within each task)
  if (!countGroups(foundTask, count)) return fail(ERR_NO_MEMORY, 51);
  const base = frameIds.grow(total);
  if (base < 0 && total > 0) return fail(ERR_NO_MEMORY, 52);
  for (let k = 0; k < total; k++) {
    const i = foundTask.getI32(k);
    const e = foundEntry.getI32(k);
    let fid = -1;
    if (e < 0 && load<i32>(record(i) + K.TK_STATUS) == OK) store<i32>(record(i) + K.TK_STATUS, K.ERR_NOT_CODE); // the frame is left out (-1)
    else {
      const p = entries.at(e);
      fid = internFrame(load<i32>(p + E_NAME_ID), load<i32>(p + E_FILE_ID), frameLine(e, foundUnits.getI32(k)), FRAME_PYTHON, load<i32>(p + E_FIRSTLINE));
      if (fid < 0) return fail(ERR_NO_MEMORY, 53);
    }
    frameIds.setI32(base + groupStart.getI32(i) + groupFill.getI32(i), fid);
    groupFill.setI32(i, groupFill.getI32(i) + 1);
  }
  for (let i = 0; i < count; i++) {
    const r = record(i);
    store<i32>(r + K.TK_FRAME_FIRST, base + groupStart.getI32(i));
    store<i32>(r + K.TK_FRAME_COUNT, groupFill.getI32(i));
  }
  return OK;
}

function addEdge(child: i32, parent: i32): void {
  if (child < 0 || parent < 0 || child == parent) return;
  edgeChild.pushI32(child);
  edgeParent.pushI32(parent);
}

/** The items of a list or tuple at obj (up to MAX_AWAITERS) into KEYS; how many, or -status. */
function readSequence(obj: u64): i32 {
  const slot = objectTypeSlot(obj);
  if (slot < 0) return 0;
  const kind = typeKind(slot);
  if (kind != KIND_LIST && kind != KIND_TUPLE) return 0;
  const oSize = O[kind == KIND_LIST ? F.F_LIST_OB_SIZE : F.F_TUPLE_OB_SIZE];
  const oItem = O[kind == KIND_LIST ? F.F_LIST_OB_ITEM : F.F_TUPLE_OB_ITEM];
  if (oSize < 0 || oItem < 0) return 0;
  if (readRemote(obj + <u64>oSize, WORDS, 8) != OK) return -lastErrorCode();
  let n = load<i64>(WORDS);
  if (n <= 0) return 0;
  if (n > <i64>MAX_AWAITERS) n = MAX_AWAITERS;
  let items = obj + <u64>oItem;
  if (kind == KIND_LIST) {
    items = objReadWord(items);
    if (objWordStatus() != OK || items == 0) return 0;
  }
  if (readRemote(items, KEYS, <i32>n << 3) != OK) return -lastErrorCode();
  return <i32>n;
}

/** The object a callback is bound to (a bound C method's m_self, a bound method's im_self). */
function callbackSelf(cb: u64): u64 {
  if (cb == 0) return 0;
  const v = objReadWord(cb + <u64>O[F.F_CFUNCTION_M_SELF]);
  return objWordStatus() == OK ? v : 0;
}

/**
 * ≤3.13 (no awaited_by): task c is awaited by the task one of its done-callbacks is bound to
 * (task_wakeup bound to the waiter), and by a TaskGroup's parent task (the group's _on_task_done
 * bound to the group): self is what the callback is bound to, selfType its type (0: unread).
 */
function edgeFromCallback(c: i32, self: u64, selfType: u64, groupName: i32): void {
  if (self == 0) return;
  const parent = taskIndex.get(self);
  if (parent >= 0) addEdge(c, parent);
  else if (typeNamed(selfType, groupName)) addEdge(c, groupParent(self));
}

/** The task a TaskGroup belongs to (its _parent_task), as a task index, or -1. */
function groupParent(group: u64): i32 {
  const p = readAttr(group, "_parent_task");
  return p != 0 ? taskIndex.get(p) : -1;
}

/** Is the type at typeAddr (0: unknown) named nameId? (types are read once per tasksRead) */
function typeNamed(typeAddr: u64, nameId: i32): bool {
  if (typeAddr == 0 || nameId < 0) return false;
  const slot = typeSlot(typeAddr);
  return slot >= 0 && typeNameId(slot) == nameId;
}

/** An ASCII literal's interned string id. */
function internAscii(s: string): i32 {
  for (let i = 0; i < s.length; i++) store<u8>(NAME_BUF + <usize>i, <u8>s.charCodeAt(i));
  return internString(NAME_BUF, s.length);
}

/**
 * A counting sort's first half: groupStart[i] = where task i's group starts among the entries of
 * keys (task indices below count), groupFill zeroed for the placing pass. False without memory.
 */
function countGroups(keys: Vec, count: i32): bool {
  groupStart.clear(); groupFill.clear();
  if (groupStart.grow(count + 1) < 0 || groupFill.grow(count) < 0) return false;
  memory.fill(groupStart.ptr, 0, <usize>(count + 1) << 2);
  memory.fill(groupFill.ptr, 0, <usize>count << 2);
  for (let k = 0; k < keys.len; k++) { const c = keys.getI32(k) + 1; groupStart.setI32(c, groupStart.getI32(c) + 1); }
  for (let i = 0; i < count; i++) groupStart.setI32(i + 1, groupStart.getI32(i + 1) + groupStart.getI32(i));
  return true;
}

/** Groups the edges per awaited task into the records' awaiter ranges (deduplicated). */
function groupEdges(count: i32): i32 {
  const n = edgeChild.len;
  // counting sort by child
  if (!countGroups(edgeChild, count)) return fail(ERR_NO_MEMORY, 43);
  const base = awaiterIds.grow(n);
  if (base < 0 && n > 0) return fail(ERR_NO_MEMORY, 41);
  for (let e = 0; e < n; e++) {
    const c = edgeChild.getI32(e);
    awaiterIds.setI32(base + groupStart.getI32(c) + groupFill.getI32(c), edgeParent.getI32(e));
    groupFill.setI32(c, groupFill.getI32(c) + 1);
  }
  // dedupe each range in place, keeping the first occurrence
  let out = base;
  for (let c = 0; c < count; c++) {
    const r = record(c);
    const first = out;
    const lo = base + groupStart.getI32(c), hi = lo + groupFill.getI32(c);
    for (let k = lo; k < hi; k++) {
      const v = awaiterIds.getI32(k);
      let dup = false;
      for (let j = first; j < out; j++) if (awaiterIds.getI32(j) == v) { dup = true; break; }
      if (!dup) awaiterIds.setI32(out++, v);
    }
    store<i32>(r + K.TK_AWAITER_FIRST, first);
    store<i32>(r + K.TK_AWAITER_COUNT, out - first);
  }
  awaiterIds.len = out;
  return OK;
}

/**
 * Reads every live task of the interpreter the last walk read (call after walkSample). Returns
 * the number of task records, or a negative status (ERR_GONE, ERR_PERM; others mean no graph).
 */
export function tasksRead(): i32 {
  if (!configured || configuredTable != activeTableId) return -fail(ERR_VERSION, 23);
  let st = objectsBegin();
  if (st != OK) return -st;
  st = objectsCheckDicts();
  if (st != OK) return -st;
  records.clear(); frameIds.clear(); awaiterIds.clear(); taskAddr.clear(); taskIndex.clear(); specOk.clear(); coroOk.clear();
  edgeChild.clear(); edgeParent.clear();
  st = taskRegistry == C.TASK_REGISTRY_THREAD_LIST ? listThreadTasks() : listModuleTasks(taskRegistry);
  if (st == ERR_GONE || st == ERR_PERM) return -st;
  const count = taskAddr.len;
  if (count == 0) return 0;
  // the task windows, then each task's own coroutine, in batched reads
  if (count > windowsCap) {
    if (windows != 0) heap.free(windows);
    if (coroBuf != 0) heap.free(coroBuf);
    windows = heap.alloc(<usize>count * taskLen);
    coroBuf = heap.alloc(<usize>count * coroWin);
    windowsCap = count;
  }
  // a window the list walk read this call is taken as is; the others are read now
  if (coroOk.grow(count) < 0) return -fail(ERR_NO_MEMORY, 44); // (used here for the windows' queue indices)
  qReset();
  for (let i = 0; i < count; i++) {
    const a = taskAddr.getU64(i);
    const j = specOk.len > 0 ? prevIndex.get(a) : -1;
    if (j >= 0 && specOk.getI32(j) != 0) {
      memory.copy(windows + <usize>i * taskLen, specBuf + <usize>j * taskLen, <usize>taskLen);
      coroOk.setI32(i, -2);
    } else {
      coroOk.setI32(i, qAdd(a, taskLen, windows + <usize>i * taskLen));
    }
  }
  st = qFlush(0);
  if (st != OK) return -st;
  if (records.grow(count) < 0) return -fail(ERR_NO_MEMORY, 42);
  memory.fill(records.ptr, 0, <usize>count * K.TASK_RECORD_SIZE);
  const oCoro = <usize>O[F.F_TASK_CORO];
  for (let i = 0; i < count; i++) {
    const r = record(i);
    const a = taskAddr.getU64(i);
    const q = coroOk.getI32(i);
    store<u64>(r + K.TK_ADDR_LO, a);
    store<i32>(r + K.TK_NAME, -1);
    store<i32>(r + K.TK_STATUS, q == -2 || (q >= 0 && unchecked(qOk[q])) ? OK : K.ERR_READ);
  }
  coroOk.clear();
  if (coroOk.grow(count) < 0) return -fail(ERR_NO_MEMORY, 44);
  qReset();
  for (let i = 0; i < count; i++) {
    const w = windows + <usize>i * taskLen;
    const coro = load<i32>(record(i) + K.TK_STATUS) == OK ? load<u64>(w + oCoro) : 0;
    coroOk.setI32(i, coro != 0 ? qAdd(coro, coroWin, coroBuf + <usize>i * coroWin) : -1); // its queue index for now
  }
  st = qFlush(0);
  if (st != OK) return -st;
  // 1: read with the slack; -3: to read again without it (the slack ran past a mapping); 0: none
  let retry = 0;
  for (let i = 0; i < count; i++) {
    const q = coroOk.getI32(i);
    const v = q >= 0 && unchecked(qOk[q]) ? 1 : q >= 0 ? -3 : 0;
    coroOk.setI32(i, v);
    if (v == -3) retry++;
  }
  if (retry > 0) {
    qReset();
    for (let i = 0; i < count; i++) {
      if (coroOk.getI32(i) != -3) continue;
      const coro = load<u64>(windows + <usize>i * taskLen + oCoro);
      coroOk.setI32(i, -10 - qAdd(coro, coroLen, coroBuf + <usize>i * coroWin));
    }
    st = qFlush(0);
    if (st != OK) return -st;
    for (let i = 0; i < count; i++) {
      const v = coroOk.getI32(i);
      if (v > -10) continue;
      const q = -10 - v;
      coroOk.setI32(i, q >= 0 && unchecked(qOk[q]) ? 2 : 0); // 2: read without the slack
    }
  }
  for (let i = 0; i < count; i++) {
    const r = record(i);
    if (load<i32>(r + K.TK_STATUS) != OK) continue;
    const w = windows + <usize>i * taskLen;
    store<i32>(r + K.TK_STATE, load<i32>(w + <usize>O[F.F_TASK_FUT_STATE]));
    const nameId = taskName(taskAddr.getU64(i), load<u64>(w + <usize>O[F.F_TASK_NAME]) & tagMask);
    if (nameId < 0) {
      const e = lastErrorCode();
      if (e == ERR_GONE || e == ERR_PERM) return -e;
    }
    store<i32>(r + K.TK_NAME, nameId);
  }
  st = readChains(count);
  if (st != OK) return -st;
  // who awaits whom
  if (O[F.F_TASK_AWAITED_BY] >= 0) {
    const oBy = <usize>O[F.F_TASK_AWAITED_BY], oSet = <usize>O[F.F_TASK_AWAITED_BY_IS_SET];
    for (let c = 0; c < count; c++) {
      if (load<i32>(record(c) + K.TK_STATUS) == K.ERR_READ) continue;
      const w = windows + <usize>c * taskLen;
      const by = load<u64>(w + oBy);
      if (by == 0) continue;
      if (load<u8>(w + oSet) == 0) { addEdge(c, taskIndex.get(by)); continue; }
      const n = readSetKeys(by, MAX_AWAITERS, KEYS);
      for (let k = 0; k < n; k++) addEdge(c, taskIndex.get(load<u64>(KEYS + (<usize>k << 3))));
    }
  } else {
    const oWaiter = <usize>O[F.F_TASK_FUT_WAITER];
    const oCb0 = <usize>O[F.F_TASK_FUT_CALLBACK0], oCbs = <usize>O[F.F_TASK_FUT_CALLBACKS];
    // the types of the futures tasks wait on that are not tasks, and of what their first
    // done-callbacks are bound to, in two batched reads: only a _GatheringFuture and a TaskGroup
    // are looked into further
    const gatherName = internAscii("_GatheringFuture"), groupName = internAscii("TaskGroup");
    if (!waiterType.reserve(count) || !cbSelf.reserve(count) || !cbSelfType.reserve(count)) return -fail(ERR_NO_MEMORY, 55);
    waiterType.len = count; cbSelf.len = count; cbSelfType.len = count;
    memory.fill(waiterType.ptr, 0, <usize>count << 3);
    memory.fill(cbSelf.ptr, 0, <usize>count << 3);
    memory.fill(cbSelfType.ptr, 0, <usize>count << 3);
    const oType = <u64>O[F.F_PYOBJECT_OB_TYPE], oSelf = <u64>O[F.F_CFUNCTION_M_SELF];
    qReset();
    for (let a = 0; a < count; a++) {
      if (load<i32>(record(a) + K.TK_STATUS) == K.ERR_READ) continue;
      const w = windows + <usize>a * taskLen;
      const waiter = load<u64>(w + oWaiter);
      if (waiter != 0 && taskIndex.get(waiter) < 0) qAdd(waiter + oType, 8, waiterType.at(a));
      const cb0 = load<u64>(w + oCb0);
      if (cb0 != 0) qAdd(cb0 + oSelf, 8, cbSelf.at(a));
    }
    st = qFlush(0);
    if (st != OK) return -st;
    qReset();
    for (let c = 0; c < count; c++) {
      const self = cbSelf.getU64(c);
      if (self != 0 && taskIndex.get(self) < 0) qAdd(self + oType, 8, cbSelfType.at(c));
    }
    st = qFlush(0);
    if (st != OK) return -st;
    for (let a = 0; a < count; a++) {
      if (load<i32>(record(a) + K.TK_STATUS) == K.ERR_READ) continue;
      const waiter = load<u64>(windows + <usize>a * taskLen + oWaiter);
      if (waiter == 0) continue;
      const b = taskIndex.get(waiter);
      if (b >= 0) { addEdge(b, a); continue; }
      // gather(): a _GatheringFuture, whose children are in its _children
      if (!typeNamed(waiterType.getU64(a), gatherName)) continue;
      const children = readAttr(waiter, "_children");
      if (children == 0) continue;
      const n = readSequence(children);
      for (let k = 0; k < n; k++) addEdge(taskIndex.get(load<u64>(KEYS + (<usize>k << 3))), a);
    }
    for (let c = 0; c < count; c++) {
      if (load<i32>(record(c) + K.TK_STATUS) == K.ERR_READ) continue;
      const w = windows + <usize>c * taskLen;
      edgeFromCallback(c, cbSelf.getU64(c), cbSelfType.getU64(c), groupName);
      const cbs = load<u64>(w + oCbs);
      if (cbs == 0) continue;
      const n = readSequence(cbs);
      if (n <= 0) continue;
      // each entry a (callback, context) tuple: copy them before reading each (KEYS is reused)
      tuples.clear();
      for (let k = 0; k < n; k++) tuples.pushU64(load<u64>(KEYS + (<usize>k << 3)));
      for (let k = 0; k < n; k++) {
        if (readSequence(tuples.getU64(k)) < 1) continue;
        const self = callbackSelf(load<u64>(KEYS));
        const selfType = self != 0 && taskIndex.get(self) < 0 ? objReadWord(self + oType) : 0;
        edgeFromCallback(c, self, selfType, groupName);
      }
    }
  }
  st = groupEdges(count);
  if (st != OK) return -st;
  prevTasks.clear(); prevIndex.clear();
  for (let i = 0; i < count; i++) { const a = taskAddr.getU64(i); if (prevTasks.pushU64(a) >= 0) prevIndex.set(a, i); }
  return count;
}
