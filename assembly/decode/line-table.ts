// Line tables: turn an instruction offset into a source line number, given a code object's
// line table bytes (co_lnotab / co_linetable) that have already been copied into local WASM
// memory at [tablePtr, tablePtr + tableLen).
// Must not know: any Python version number (the caller picks the format), the target
// process, or any I/O. It only reads the bytes it is given.
// Source of truth: CPython's Objects/lnotab_notes.txt (2.7–3.10) and Objects/locations.md
// (3.11+) of each version; the algorithms are those of docs/cpython-layouts.md
// §4.6, which matched CPython's own dis.findlinestarts / co_lines() / co_positions() on every
// instruction of several stdlib modules for every version 2.7–3.15.
//
// Safety rules: every loop is bounded by tableLen, no byte outside the table is read, no
// allocation, no trap (no division, no unchecked array access).

/** co_lnotab of 2.7 (and ≤3.5): (addr_incr: u8, line_incr: u8) pairs. */
export const LINE_TABLE_LNOTAB_UNSIGNED: i32 = 0;
/** co_lnotab of 3.6–3.9: (addr_incr: u8, line_incr: i8) pairs. */
export const LINE_TABLE_LNOTAB: i32 = 1;
/** co_linetable of 3.10: (sdelta: u8, ldelta: i8) pairs, ldelta -128 = no line. */
export const LINE_TABLE_310: i32 = 2;
/** co_linetable of 3.11+: the location table (PEP 657), entries in code units. */
export const LINE_TABLE_LOCATIONS: i32 = 3;

/** Returned when the table has no line for the offset. */
export const NO_LINE: i32 = -1;

/**
 * The line of the instruction at `offset`.
 *
 * `offset` is, per format:
 *  - LINE_TABLE_LNOTAB_UNSIGNED / LINE_TABLE_LNOTAB: the instruction's byte offset (f_lasti);
 *  - LINE_TABLE_310: the instruction's byte offset (2 * f_lasti; the caller doubles);
 *  - LINE_TABLE_LOCATIONS: the code-unit index (byte offset / 2).
 *
 * Returns -1 when the table says the range has no line (3.10's ldelta -128, 3.11+'s kind 15),
 * when the offset is negative or lies past the end of the table (3.10+), when the table is
 * malformed at the entry that would answer, or when the format is unknown. The lnotab formats
 * cannot tell where the code ends: offsets past the last entry get the last line.
 * Callers that want CPython's behaviour for not-yet-started frames substitute co_firstlineno
 * for -1 themselves.
 */
export function decodeLineNumber(
  format: i32, tablePtr: usize, tableLen: i32, firstLineNo: i32, offset: i32,
): i32 {
  if (offset < 0 || tableLen < 0) return NO_LINE;
  if (format == LINE_TABLE_LNOTAB_UNSIGNED) return decodeLnotab(tablePtr, tableLen, firstLineNo, offset, false);
  if (format == LINE_TABLE_LNOTAB) return decodeLnotab(tablePtr, tableLen, firstLineNo, offset, true);
  if (format == LINE_TABLE_310) return decode310(tablePtr, tableLen, firstLineNo, offset);
  if (format == LINE_TABLE_LOCATIONS) return decodeLocations(tablePtr, tableLen, firstLineNo, offset);
  return NO_LINE;
}

// lnotab_notes.txt (≤3.9): line = firstlineno, addr = 0; for each pair addr += addr_incr,
// stop once addr > lasti, else line += line_incr. A trailing odd byte is ignored.
function decodeLnotab(tablePtr: usize, tableLen: i32, firstLineNo: i32, offset: i32, signedLines: bool): i32 {
  let line = firstLineNo;
  let addr = 0;
  for (let i = 0; i + 1 < tableLen; i += 2) {
    addr += <i32>load<u8>(tablePtr + <usize>i);
    if (addr > offset) break;
    const incr = signedLines
      ? <i32>load<i8>(tablePtr + <usize>(i + 1))
      : <i32>load<u8>(tablePtr + <usize>(i + 1));
    line += incr;
  }
  return line;
}

// 3.10 co_linetable: consecutive half-open byte ranges [start, start + sdelta). ldelta -128
// means "no line" for that range, but the range still advances the address, and the line
// accumulator is left unchanged. A trailing odd byte is ignored.
function decode310(tablePtr: usize, tableLen: i32, firstLineNo: i32, offset: i32): i32 {
  let line = firstLineNo;
  let end = 0;
  for (let i = 0; i + 1 < tableLen; i += 2) {
    const start = end;
    end += <i32>load<u8>(tablePtr + <usize>i);
    const ldelta = <i32>load<i8>(tablePtr + <usize>(i + 1));
    if (ldelta != -128) line += ldelta;
    if (start <= offset && offset < end) return ldelta == -128 ? NO_LINE : line;
  }
  return NO_LINE;
}

// 3.11+ location table (Objects/locations.md). Each entry: a header byte with bit 7 set,
// code = bits 6..3, length in code units = (bits 2..0) + 1; then a payload by code:
//   0–9   short form, 1 byte, line delta 0
//   10–12 one-line form, 2 bytes, line delta code - 10
//   13    no-column form, svarint line delta
//   14    long form, svarint line delta + 3 varints (end line delta, col + 1, end col + 1)
//   15    no location, no payload, no line; the accumulator is unchanged
// The answer is the entry whose half-open range [addr, addr + n) holds the code unit.
function decodeLocations(tablePtr: usize, tableLen: i32, firstLineNo: i32, offset: i32): i32 {
  let line = firstLineNo;
  let addr = 0;
  let i = 0;
  while (i < tableLen) {
    const header = <i32>load<u8>(tablePtr + <usize>i);
    i++;
    if ((header & 0x80) == 0) return NO_LINE; // not an entry start: malformed table
    const code = (header >> 3) & 15;
    const start = addr;
    addr += (header & 7) + 1;
    const hit = start <= offset && offset < addr;
    if (code == 15) {
      if (hit) return NO_LINE;
      continue;
    }
    if (code < 10) {
      i += 1;
      if (hit) return line; // the column byte does not matter for the line
      continue;
    }
    if (code < 13) {
      line += code - 10;
      i += 2;
      if (hit) return line;
      continue;
    }
    // 13 and 14 start with an svarint line delta.
    const u = readVarint(tablePtr, tableLen, i);
    if (u < 0) return NO_LINE; // truncated: this entry and all later ones are unusable
    i = varintEnd;
    const v = <u32>u;
    const delta = (v & 1) != 0 ? -<i32>(v >> 1) : <i32>(v >> 1);
    line += delta;
    if (hit) return line;
    if (code == 14) {
      for (let k = 0; k < 3; k++) {
        if (readVarint(tablePtr, tableLen, i) < 0) return NO_LINE;
        i = varintEnd;
      }
    }
  }
  return NO_LINE;
}

// Position just after the last varint read by readVarint (a global avoids a tuple/allocation).
let varintEnd: i32 = 0;

// Unsigned varint: little-endian 6-bit groups, 0x40 = more bytes follow. Returns the value
// (at most 30 significant bits are kept, which keeps it non-negative), or -1 when the table
// ends before the varint does. Sets varintEnd.
function readVarint(tablePtr: usize, tableLen: i32, pos: i32): i32 {
  let result: u32 = 0;
  let shift: u32 = 0;
  let i = pos;
  while (i < tableLen) {
    const b = <u32>load<u8>(tablePtr + <usize>i);
    i++;
    if (shift < 30) {
      result |= (b & 0x3f) << shift;
      shift += 6;
    }
    if ((b & 0x40) == 0) {
      varintEnd = i;
      return <i32>(result & 0x3fffffff);
    }
  }
  varintEnd = i;
  return -1;
}
