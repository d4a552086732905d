// Bounds arithmetic that cannot wrap: every check of a remote length or offset against a range
// goes through these, so a garbage pointer (0xffff…, a torn read) fails the check instead of
// wrapping past it and sending a load outside a local buffer (a WASM trap).
// Must not know: what the ranges hold.
// Source of truth: this file (u64 arithmetic; a sum is never formed before it is known to fit).

/** True when [addr, addr + len) lies inside [lo, hi): no sum is formed, so nothing wraps. */
@inline export function rangeInside(addr: u64, len: u64, lo: u64, hi: u64): bool {
  return addr >= lo && addr <= hi && len <= hi - addr;
}

/** True when offset + len <= size for non-negative i32s, computed in 64 bits. */
@inline export function fitsIn(offset: i32, len: i32, size: i32): bool {
  return offset >= 0 && len >= 0 && <i64>offset + <i64>len <= <i64>size;
}

/** addr + len, or u64 max when the sum would wrap (an end that no range contains). */
@inline export function endOf(addr: u64, len: u64): u64 {
  return addr > ~len ? ~(<u64>0) : addr + len;
}
