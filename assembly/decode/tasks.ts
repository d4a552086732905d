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
import { O, tagMask, activeTableId, activeSet } from "../python/active";
import { registryAsyncio } from "../python/registry";
import { tableAt } from "../python/tables";
import { readRemote } from "../io";
import { Vec, U64Map } from "../util/vec";
import { qReset, qAdd, qFlush, qOk, MAX_QUEUE } from "./read-queue";
import { listAddr, listCount, interpAddr } from "./sample-state";
import {
  objectsBegin, objectsCheckDicts, objectTypeSlot, typeKind, readInt, intFitsU64, intU64, readSetKeys, dictGetStr, readAttr,
  objReadWord, objWordStatus, KIND_INT, KIND_STR, KIND_LIST, KIND_TUPLE, KIND_SET, KIND_DICT,
} from "./objects";
import { readName } from "./strings";
import { resolveFrames, frameLine, entries, E_NAME_ID, E_FILE_ID, E_FIRSTLINE } from "./code-cache";
import { internFrame, internString, FRAME_PYTHON } from "../aggregate/intern";

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
let coroLen: i32 = 0;   // bytes of a coroutine window: [0, gen_object.size)
let coroBuf: usize = 0; // one coroutine window per task (the task's own coroutine)
let coroCap: i32 = 0;
const DEEP_BUF: usize = memory.data(4096, 16);
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

// the coroutine chain of one task: code object, instruction offset (code units, -1: not started)
const chainCode = new StaticArray<u64>(MAX_CHAIN);
const chainEntry = new StaticArray<i32>(MAX_CHAIN);
const chainUnits = new StaticArray<i32>(MAX_CHAIN);

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
  if (taskLen <= 0 || taskLen > 4096 || coroLen <= 0 || coroLen > 4096) return fail(ERR_VERSION, 22);
  configured = true;
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

/** 3.14+: every thread's circular list, then the interpreter's (tasks of threads that exited). */
function listThreadTasks(): i32 {
  const oNode = <u64>O[F.F_TASK_NODE];
  for (let t = 0; t <= listCount; t++) {
    const head = t < listCount ? unchecked(listAddr[t]) + <u64>O[F.F_TSTATE_ASYNCIO_TASKS_HEAD]
      : (O[F.F_INTERP_ASYNCIO_TASKS_HEAD] >= 0 && interpAddr != 0 ? interpAddr + <u64>O[F.F_INTERP_ASYNCIO_TASKS_HEAD] : 0);
    if (head == 0) continue;
    let node = objReadWord(head);
    if (objWordStatus() != OK) { const e = objWordStatus(); if (e == ERR_GONE || e == ERR_PERM) return e; tornCount++; continue; }
    for (let n = 0; node != head; n++) {
      if (node == 0 || n >= MAX_TASKS) { tornCount++; break; }
      if (addTask(node - oNode) < 0 && taskIndex.get(node - oNode) >= 0) { tornCount++; break; } // a node seen twice: the list moved
      node = objReadWord(node);
      if (objWordStatus() != OK) { const e = objWordStatus(); if (e == ERR_GONE || e == ERR_PERM) return e; tornCount++; break; }
    }
  }
  return OK;
}

/** A WeakSet's members: its `data` set of weakrefs, each weakref's referent. */
function addWeakSetMembers(weakset: u64): i32 {
  const data = readAttr(weakset, "data");
  if (data == 0) return OK;
  return addSetMembers(data, true);
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
  const modules = objReadWord(interpAddr + <u64>O[F.F_INTERP_IMPORTS_MODULES]);
  if (objWordStatus() != OK) return objWordStatus();
  const ms = objectTypeSlot(modules);
  if (modules == 0 || ms < 0 || typeKind(ms) != KIND_DICT) return OK;
  const module = dictGetStr(modules, "_asyncio");
  if (module == 0) return OK; // asyncio not imported: no tasks
  if (registry == C.TASK_REGISTRY_ALL_TASKS) {
    const ws = readAttr(module, "_all_tasks");
    return ws == 0 ? OK : addWeakSetMembers(ws);
  }
  const eager = readAttr(module, "_eager_tasks");
  if (eager != 0) { const st = addSetMembers(eager, false); if (st != OK) return st; }
  const ws = readAttr(module, "_scheduled_tasks");
  return ws == 0 ? OK : addWeakSetMembers(ws);
}

// ---- one task ----

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

/** Is a coroutine in this gi_frame_state suspended inside an await (yield from)? */
function awaiting(state: i32): bool {
  const m = tableAt(configuredTable).caps[C.CAP_GEN_STATE];
  if (m == C.GEN_STATE_311) return state == -1; // SUSPENDED: only an await suspends a coroutine
  if (m == C.GEN_STATE_313) return state == -1;
  return state == 2 || state == 3;
}
function running(state: i32): bool {
  const m = tableAt(configuredTable).caps[C.CAP_GEN_STATE];
  return m == C.GEN_STATE_315 ? state == 4 : state == 0;
}
function finished(state: i32): bool {
  const m = tableAt(configuredTable).caps[C.CAP_GEN_STATE];
  return m == C.GEN_STATE_315 ? state >= 5 : state >= 1;
}

/** The object a coroutine suspended in an await awaits (coroutine window at w, remote coro), or 0. */
function readAwaited(coro: u64, w: usize): u64 {
  const frame = <u64>O[F.F_GEN_IFRAME];
  const slotModel = tableAt(configuredTable).caps[C.CAP_AWAITED_SLOT];
  let at: u64 = 0;
  if (slotModel == C.AWAITED_SLOT_STACKTOP) {
    const top = load<i32>(w + <usize>(frame + <u64>O[F.F_IFRAME_STACKTOP]));
    if (top < 1 || top > 1 << 20) return 0;
    at = coro + frame + <u64>O[F.F_IFRAME_LOCALSPLUS] + (<u64>(top - 1) << 3);
  } else {
    const sp = load<u64>(w + <usize>(frame + <u64>O[F.F_IFRAME_STACKPOINTER]));
    const back: u64 = slotModel == C.AWAITED_SLOT_STACKPOINTER_2 ? 16 : 8;
    if (sp < back) return 0;
    at = sp - back;
  }
  const v = objReadWord(at);
  return objWordStatus() == OK ? v & tagMask : 0;
}

/**
 * Reads task i's coroutine chain (its own coroutine's window already at w) into the frame ids;
 * fills the record's frames, running flag and frame address. OK or a status.
 */
function readChain(i: i32, coro: u64, w: usize): i32 {
  const r = record(i);
  const oFrame = <usize>O[F.F_GEN_IFRAME];
  const oState = <usize>O[F.F_GEN_FRAME_STATE];
  const oExec = <usize>O[F.F_IFRAME_EXECUTABLE], oInstr = <usize>O[F.F_IFRAME_INSTR_PTR];
  const adaptive = <u64>O[F.F_CODE_CO_CODE_ADAPTIVE];
  const coroType = load<u64>(w + <usize>O[F.F_PYOBJECT_OB_TYPE]);
  store<u64>(r + K.TK_FRAME_ADDR_LO, coro + <u64>oFrame);
  let depth = 0;
  let cur = coro;
  let win = w;
  while (depth < MAX_CHAIN) {
    const state = <i32>load<i8>(win + oState);
    if (finished(state)) break;
    const code = load<u64>(win + oFrame + oExec) & tagMask;
    if (code == 0) break;
    const instr = load<u64>(win + oFrame + oInstr);
    const units = (<i64>instr - <i64>(code + adaptive)) >> 1;
    unchecked(chainCode[depth] = code);
    unchecked(chainUnits[depth] = units < 0 || units > 0x3fffffff ? -1 : <i32>units);
    depth++;
    if (running(state)) {
      if (depth == 1) store<i32>(r + K.TK_RUNNING, 1);
      break;
    }
    if (!awaiting(state)) break;
    const next = readAwaited(cur, win);
    if (next == 0 || next == cur) break;
    // follow only a coroutine of the same type (a FutureIter or a Future ends the chain)
    if (readRemote(next, DEEP_BUF, coroLen) != OK) break;
    if (load<u64>(DEEP_BUF + <usize>O[F.F_PYOBJECT_OB_TYPE]) != coroType) break;
    cur = next;
    win = DEEP_BUF;
  }
  if (depth == 0) return OK;
  const st = resolveFrames(chainCode, chainEntry, depth);
  if (st != OK) return st;
  const first = frameIds.len;
  for (let k = 0; k < depth; k++) {
    const e = unchecked(chainEntry[k]);
    const p = entries.at(e);
    const line = frameLine(e, unchecked(chainUnits[k]));
    const fid = internFrame(load<i32>(p + E_NAME_ID), load<i32>(p + E_FILE_ID), line, FRAME_PYTHON, load<i32>(p + E_FIRSTLINE));
    if (fid < 0 || frameIds.pushI32(fid) < 0) return fail(ERR_NO_MEMORY, 40);
  }
  store<i32>(r + K.TK_FRAME_FIRST, first);
  store<i32>(r + K.TK_FRAME_COUNT, depth);
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
 * ≤3.13 (no awaited_by): task c is awaited by the task its done-callbacks wake (task_wakeup bound
 * to it), and by a TaskGroup's parent task (the group's _on_task_done bound to the group).
 */
function edgesFromCallback(c: i32, cb: u64): void {
  const self = callbackSelf(cb);
  if (self == 0) return;
  let parent = taskIndex.get(self);
  if (parent < 0) {
    const p = readAttr(self, "_parent_task");
    if (p != 0) parent = taskIndex.get(p);
  }
  addEdge(c, parent);
}

/** Groups the edges per awaited task into the records' awaiter ranges (deduplicated). */
function groupEdges(count: i32): i32 {
  const n = edgeChild.len;
  // counting sort by child
  groupStart.clear(); groupFill.clear();
  if (groupStart.grow(count + 1) < 0 || groupFill.grow(count) < 0) return fail(ERR_NO_MEMORY, 43);
  memory.fill(groupStart.ptr, 0, <usize>(count + 1) << 2);
  memory.fill(groupFill.ptr, 0, <usize>count << 2);
  for (let e = 0; e < n; e++) { const c = edgeChild.getI32(e) + 1; groupStart.setI32(c, groupStart.getI32(c) + 1); }
  for (let i = 0; i < count; i++) groupStart.setI32(i + 1, groupStart.getI32(i + 1) + groupStart.getI32(i));
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
  records.clear(); frameIds.clear(); awaiterIds.clear(); taskAddr.clear(); taskIndex.clear();
  edgeChild.clear(); edgeParent.clear();
  const registry = tableAt(configuredTable).caps[C.CAP_TASK_REGISTRY];
  st = registry == C.TASK_REGISTRY_THREAD_LIST ? listThreadTasks() : listModuleTasks(registry);
  if (st == ERR_GONE || st == ERR_PERM) return -st;
  const count = taskAddr.len;
  if (count == 0) return 0;
  // the task windows, then each task's own coroutine, in batched reads
  if (count > windowsCap) {
    if (windows != 0) heap.free(windows);
    if (coroBuf != 0) heap.free(coroBuf);
    windows = heap.alloc(<usize>count * taskLen);
    coroBuf = heap.alloc(<usize>count * coroLen);
    windowsCap = count;
  }
  qReset();
  for (let i = 0; i < count; i++) qAdd(taskAddr.getU64(i), taskLen, windows + <usize>i * taskLen);
  st = qFlush(0);
  if (st != OK) return -st;
  if (records.grow(count) < 0) return -fail(ERR_NO_MEMORY, 42);
  memory.fill(records.ptr, 0, <usize>count * K.TASK_RECORD_SIZE);
  const oCoro = <usize>O[F.F_TASK_CORO];
  for (let i = 0; i < count; i++) {
    const r = record(i);
    const a = taskAddr.getU64(i);
    store<u64>(r + K.TK_ADDR_LO, a);
    store<i32>(r + K.TK_NAME, -1);
    store<i32>(r + K.TK_STATUS, unchecked(qOk[i]) ? OK : K.ERR_READ);
  }
  qReset();
  for (let i = 0; i < count; i++) {
    const w = windows + <usize>i * taskLen;
    const coro = load<i32>(record(i) + K.TK_STATUS) == OK ? load<u64>(w + oCoro) : 0;
    // the queue index is the task index: an unqueued one still takes a slot
    if (qAdd(coro != 0 ? coro : 1, coroLen, coroBuf + <usize>i * coroLen) < 0) return -fail(ERR_LIMIT, 41);
  }
  st = qFlush(0);
  if (st != OK) return -st;
  coroOk.clear();
  if (coroOk.grow(count) < 0) return -fail(ERR_NO_MEMORY, 44);
  for (let i = 0; i < count; i++) coroOk.setI32(i, unchecked(qOk[i]) ? 1 : 0);
  for (let i = 0; i < count; i++) {
    const r = record(i);
    if (load<i32>(r + K.TK_STATUS) != OK) continue;
    const w = windows + <usize>i * taskLen;
    store<i32>(r + K.TK_STATE, load<i32>(w + <usize>O[F.F_TASK_FUT_STATE]));
    const nameId = readTaskName(load<u64>(w + <usize>O[F.F_TASK_NAME]) & tagMask);
    if (nameId < 0) {
      const e = lastErrorCode();
      if (e == ERR_GONE || e == ERR_PERM) return -e;
    }
    store<i32>(r + K.TK_NAME, nameId);
    const coro = load<u64>(w + oCoro);
    if (coro == 0 || coroOk.getI32(i) == 0) continue;
    const cs = readChain(i, coro, coroBuf + <usize>i * coroLen);
    if (cs == ERR_GONE || cs == ERR_PERM) return -cs;
    if (cs != OK) store<i32>(r + K.TK_STATUS, cs);
  }
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
    for (let a = 0; a < count; a++) {
      if (load<i32>(record(a) + K.TK_STATUS) == K.ERR_READ) continue;
      const waiter = load<u64>(windows + <usize>a * taskLen + oWaiter);
      if (waiter == 0) continue;
      const b = taskIndex.get(waiter);
      if (b >= 0) { addEdge(b, a); continue; }
      // gather(): a _GatheringFuture, whose children are in its _children
      const children = readAttr(waiter, "_children");
      if (children == 0) continue;
      const n = readSequence(children);
      for (let k = 0; k < n; k++) addEdge(taskIndex.get(load<u64>(KEYS + (<usize>k << 3))), a);
    }
    for (let c = 0; c < count; c++) {
      if (load<i32>(record(c) + K.TK_STATUS) == K.ERR_READ) continue;
      const w = windows + <usize>c * taskLen;
      edgesFromCallback(c, load<u64>(w + oCb0));
      const cbs = load<u64>(w + oCbs);
      if (cbs == 0) continue;
      const n = readSequence(cbs);
      if (n <= 0) continue;
      // each entry a (callback, context) tuple: copy them before reading each (KEYS is reused)
      tuples.clear();
      for (let k = 0; k < n; k++) tuples.pushU64(load<u64>(KEYS + (<usize>k << 3)));
      for (let k = 0; k < n; k++) {
        if (readSequence(tuples.getU64(k)) >= 1) edgesFromCallback(c, load<u64>(KEYS));
      }
    }
  }
  st = groupEdges(count);
  if (st != OK) return -st;
  return count;
}
