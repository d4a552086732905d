// Dev check (#13, not a test yet). Usage: node test/helpers/native/unwind-core.mjs CORE_FILE; compare with
// gdb -batch -ex "source test/helpers/native/gdb-physical-frames.py" PYTHON CORE_FILE (gdb's normal frames: no inline, no tail-call frames).
// Unwinds every thread of a core file with the wspy core's CFI decoder (cfiFindFde/cfiRow/cfiStep)
// and prints each thread's pcs, to compare with gdb's `thread apply all bt` (physical frames).
import { readFileSync, openSync, readSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { Core } from "../../../build/host/core/core.js";
const coreFile = process.argv[2];
const fd = openSync(coreFile, "r");
const rd = (off, len) => { const b = Buffer.alloc(len); readSync(fd, b, 0, len, off); return b; };
const eh = rd(0, 64);
const phoff = Number(eh.readBigUInt64LE(32)), phnum = eh.readUInt16LE(56);
const loads = [], notes = [];
for (let i = 0; i < phnum; i++) {
  const p = rd(phoff + i * 56, 56);
  const type = p.readUInt32LE(0), off = Number(p.readBigUInt64LE(8)), vaddr = p.readBigUInt64LE(16), filesz = Number(p.readBigUInt64LE(32));
  if (type === 1) loads.push({ off, vaddr, filesz });
  if (type === 4) notes.push({ off, filesz });
}
const mem = (addr, len) => {
  for (const l of loads) if (addr >= l.vaddr && addr + BigInt(len) <= l.vaddr + BigInt(l.filesz)) return rd(l.off + Number(addr - l.vaddr), len);
  return null;
};
// notes: NT_PRSTATUS (1), NT_FILE (0x46494c45)
const threads = []; let files = [];
for (const n of notes) {
  const b = rd(n.off, n.filesz);
  for (let p = 0; p + 12 <= b.length;) {
    const nsz = b.readUInt32LE(p), dsz = b.readUInt32LE(p + 4), type = b.readUInt32LE(p + 8);
    const d = p + 12 + ((nsz + 3) & ~3);
    if (type === 1) {
      const r = (k) => b.readBigUInt64LE(d + 112 + k * 8);
      // user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp
      const dw = [r(10), r(12), r(11), r(5), r(13), r(14), r(4), r(19), r(9), r(8), r(7), r(6), r(3), r(2), r(1), r(0), r(16)];
      threads.push({ tid: b.readInt32LE(d + 32), regs: dw });
    }
    if (type === 0x46494c45) {
      const count = Number(b.readBigUInt64LE(d)), page = b.readBigUInt64LE(d + 8);
      let s = d + 16 + count * 24;
      for (let i = 0; i < count; i++) {
        const e = d + 16 + i * 24;
        const end = b.indexOf(0, s);
        files.push({ start: b.readBigUInt64LE(e), end: b.readBigUInt64LE(e + 8), off: b.readBigUInt64LE(e + 16) * page, path: b.toString("utf8", s, end) });
        s = end + 1;
      }
    }
    p = d + ((dsz + 3) & ~3);
  }
}
const core = new Core(); const x = core.x;
const objs = new Map();
function objectFor(pc) {
  const f = files.find((m) => pc >= m.start && pc < m.end);
  if (!f) return null;
  let o = objs.get(f.path);
  if (!o) {
    const secs = spawnSync("readelf", ["-SWl", f.path], { encoding: "utf8" }).stdout;
    const sec = (name) => { const m = new RegExp(`\\s${name.replace(".", "\\.")}\\s+PROGBITS\\s+([0-9a-f]+)\\s+([0-9a-f]+)\\s+([0-9a-f]+)`).exec(secs); return m && { addr: BigInt("0x" + m[1]), off: parseInt(m[2], 16), size: parseInt(m[3], 16) }; };
    const loadsF = [...secs.matchAll(/LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/g)].map((m) => ({ off: BigInt("0x" + m[1]), vaddr: BigInt("0x" + m[2]), filesz: BigInt("0x" + m[3]) }));
    const hdr = sec(".eh_frame_hdr"), ehf = sec(".eh_frame");
    if (!hdr || !ehf) { objs.set(f.path, null); return null; }
    const bytes = readFileSync(f.path);
    const lo = loadsF.find((l) => f.off >= l.off && f.off < l.off + l.filesz) ?? loadsF[0];
    const bias = f.start - (lo.vaddr + f.off - lo.off);
    o = { path: f.path, bias, hdr, ehf, hdrPtr: core.copyIn(bytes.subarray(hdr.off, hdr.off + hdr.size)), ehPtr: core.copyIn(bytes.subarray(ehf.off, ehf.off + ehf.size)) };
    objs.set(f.path, o);
  }
  return o;
}
const regsPtr = x.cfiRegsPtr();
for (const t of threads) {
  const r = t.regs.slice();
  const pcs = [];
  const rsp0 = r[7];
  const seg = loads.find((l) => rsp0 >= l.vaddr && rsp0 < l.vaddr + BigInt(l.filesz));
  const avail = seg ? Number(seg.vaddr + BigInt(seg.filesz) - rsp0) : 0;
  const win = mem(rsp0, Math.min(avail, 512 * 1024));
  const winPtr = core.copyIn(win);
  let stop = "";
  for (let depth = 0; depth < 128; depth++) {
    const pc = r[16];
    pcs.push(pc);
    const o = objectFor(pc);
    if (!o) { stop = `no module for 0x${pc.toString(16)}`; break; }
    const lookup = depth === 0 ? pc : pc - 1n;
    const fde = x.cfiFindFde(o.hdrPtr, o.hdr.size, o.hdr.addr + o.bias, lookup);
    if (!fde) { stop = "no FDE"; break; }
    if (x.cfiRow(o.ehPtr, o.ehf.size, o.ehf.addr + o.bias, BigInt.asUintN(64, fde), lookup) !== 0) { stop = `row ${x.lastErrorDetail()}`; break; }
    if (process.env.DBG) console.log(`  pc 0x${pc.toString(16)} rsp 0x${r[7].toString(16)} obj ${o.path.split("/").pop()} fde 0x${BigInt.asUintN(64, fde).toString(16)} range 0x${x.cfiFdeStart().toString(16)}..0x${x.cfiFdeEnd().toString(16)} cfa r${x.cfiCfaReg()}+${x.cfiCfaOffset()} expr ${x.cfiCfaIsExpression()} ra ${x.cfiRuleKind(16)}:${x.cfiRuleValue(16)}`);
    const v = new BigUint64Array(x.memory.buffer, regsPtr, 17);
    for (let k = 0; k < 17; k++) v[k] = r[k];
    const st = x.cfiStep(winPtr, win.length, rsp0);
    if (st !== 0) { stop = `step ${x.lastErrorDetail()}`; break; }
    const v2 = new BigUint64Array(x.memory.buffer, regsPtr, 17);
    for (let k = 0; k < 17; k++) r[k] = v2[k];
    if (r[16] === 0n) { stop = "ra 0"; break; }
  }
  console.log(`Thread ${t.tid}: ${pcs.length} frames (${stop})`);
  console.log(pcs.map((p) => "0x" + p.toString(16)).join(" "));
}
