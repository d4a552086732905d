// Dev check (#13, not a test yet): the core's CFI rows (assembly/unwind/cfi.ts) against
// readelf --debug-dump=frames-interp for every row of one ELF file.
// Usage: node test/helpers/native/cfi-vs-readelf.mjs FILE [MAX_ROWS]
// Checks the core's CFI rows against readelf --debug-dump=frames-interp for one ELF file.
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { Core } from "../../../build/host/core/core.js";
const file = process.argv[2];
const limit = Number(process.argv[3] ?? 1e9);
const secs = execFileSync("readelf", ["-SW", file], { encoding: "utf8" });
const sec = (name) => { const m = new RegExp(`\\s${name.replace(".", "\\.")}\\s+PROGBITS\\s+([0-9a-f]+)\\s+([0-9a-f]+)\\s+([0-9a-f]+)`).exec(secs); return { addr: BigInt("0x" + m[1]), off: parseInt(m[2], 16), size: parseInt(m[3], 16) }; };
const hdr = sec(".eh_frame_hdr"), eh = sec(".eh_frame");
const bytes = readFileSync(file);
const core = new Core();
const x = core.x;
const hdrPtr = core.copyIn(bytes.subarray(hdr.off, hdr.off + hdr.size));
const ehPtr = core.copyIn(bytes.subarray(eh.off, eh.off + eh.size));
import { spawnSync } from "node:child_process";
const out = spawnSync("readelf", ["--debug-dump=frames-interp", file], { encoding: "utf8", maxBuffer: 1 << 30 }).stdout;
const REG = { rax: 0, rdx: 1, rcx: 2, rbx: 3, rsi: 4, rdi: 5, rbp: 6, rsp: 7, r8: 8, r9: 9, r10: 10, r11: 11, r12: 12, r13: 13, r14: 14, r15: 15, ra: 16 };
let rows = 0, ok = 0, bad = 0, exprs = 0, shown = 0;
let cols = null, fde = false;
for (const line of out.split("\n")) {
  if (/ FDE cie=/.test(line)) { fde = true; cols = null; continue; }
  if (/ CIE\b/.test(line) || /ZERO terminator/.test(line)) { fde = false; continue; }
  if (!fde) continue;
  const h = line.trim().split(/\s+/);
  if (h[0] === "LOC") { cols = h.slice(2); continue; }
  if (!cols || !/^[0-9a-f]{8,16}$/.test(h[0])) continue;
  if (rows >= limit) break;
  rows++;
  const pc = BigInt("0x" + h[0]);
  const fdeAddr = x.cfiFindFde(hdrPtr, hdr.size, hdr.addr, pc);
  const st = fdeAddr ? x.cfiRow(ehPtr, eh.size, eh.addr, fdeAddr, pc) : -1;
  const problems = [];
  if (st !== 0) problems.push(`status ${st} detail ${x.lastErrorDetail()}`);
  else {
    const cfa = h[1];
    if (cfa === "exp") { if (!x.cfiCfaIsExpression()) problems.push("cfa not expression"); exprs++; }
    else {
      const m = /^([a-z0-9]+)\+(\d+)$/.exec(cfa);
      if (!m) problems.push(`cfa ${cfa}?`);
      else if (x.cfiCfaIsExpression() || x.cfiCfaReg() !== REG[m[1]] || Number(x.cfiCfaOffset()) !== Number(m[2])) problems.push(`cfa ${cfa} vs r${x.cfiCfaReg()}+${x.cfiCfaOffset()}${x.cfiCfaIsExpression() ? " expr" : ""}`);
    }
    cols.forEach((c, i) => {
      const r = REG[c];
      if (r === undefined) return;
      const v = h[2 + i];
      const kind = x.cfiRuleKind(r), val = Number(x.cfiRuleValue(r));
      if (v === "u") { if (kind !== 1 && kind !== 0) problems.push(`${c} u vs ${kind}`); }
      else if (/^c[+-]\d+$/.test(v)) { if (kind !== 2 || val !== Number(v.slice(1))) problems.push(`${c} ${v} vs ${kind}:${val}`); }
      else if (v === "exp") { if (kind !== 5) problems.push(`${c} exp vs ${kind}`); }
      else if (v === undefined || v === "") { /* same */ }
      else problems.push(`${c} ${v} unchecked`);
    });
  }
  if (problems.length) { bad++; if (shown++ < 10) console.log(h[0], line.trim(), "|", problems.join("; ")); } else ok++;
}
console.log(`${file}: ${rows} rows, ${ok} agree, ${bad} differ, ${exprs} CFA expressions`);
