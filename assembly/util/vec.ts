// Growable arrays of plain numbers in raw linear memory: the tables the aggregate keeps and the
// host views directly (pointer + length). Growth reallocates (amortised), nothing else does.
// Must not know: what the numbers mean.
// Source of truth: this file.

export class Vec {
  ptr: usize = 0;
  len: i32 = 0;
  cap: i32 = 0;
  constructor(public elemSize: i32) {}

  /** Makes room for n more elements; false when memory cannot grow. */
  reserve(n: i32): bool {
    const need = this.len + n;
    if (need <= this.cap) return true;
    let cap = this.cap < 64 ? 64 : this.cap;
    while (cap < need) cap <<= 1;
    const p = this.ptr == 0 ? heap.alloc(<usize>cap * this.elemSize) : heap.realloc(this.ptr, <usize>cap * this.elemSize);
    if (p == 0) return false;
    this.ptr = p;
    this.cap = cap;
    return true;
  }

  @inline at(i: i32): usize { return this.ptr + <usize>i * this.elemSize; }

  pushI32(v: i32): i32 {
    if (!this.reserve(1)) return -1;
    store<i32>(this.at(this.len), v);
    return this.len++;
  }
  pushU64(v: u64): i32 {
    if (!this.reserve(1)) return -1;
    store<u64>(this.at(this.len), v);
    return this.len++;
  }
  pushF64(v: f64): i32 {
    if (!this.reserve(1)) return -1;
    store<f64>(this.at(this.len), v);
    return this.len++;
  }
  /** Appends n uninitialised elements and returns the index of the first. */
  grow(n: i32): i32 {
    if (!this.reserve(n)) return -1;
    const i = this.len;
    this.len += n;
    return i;
  }
  @inline getI32(i: i32): i32 { return load<i32>(this.at(i)); }
  @inline setI32(i: i32, v: i32): void { store<i32>(this.at(i), v); }
  @inline getU64(i: i32): u64 { return load<u64>(this.at(i)); }
  @inline setU64(i: i32, v: u64): void { store<u64>(this.at(i), v); }
  clear(): void { this.len = 0; }
}

/** Open-addressing hash map from a u64 key to an i32 value (>= 0). No deletion. */
export class U64Map {
  keys: usize = 0;
  vals: usize = 0;
  mask: i32 = 0;
  count: i32 = 0;

  constructor(initialLog2: i32 = 10) {
    this.alloc(1 << initialLog2);
  }

  private alloc(cap: i32): void {
    this.keys = heap.alloc(<usize>cap << 3);
    this.vals = heap.alloc(<usize>cap << 2);
    memory.fill(this.vals, 0xff, <usize>cap << 2); // -1: empty
    this.mask = cap - 1;
  }

  @inline static hash(k: u64): u32 {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccd;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53;
    k ^= k >> 33;
    return <u32>k;
  }

  get(k: u64): i32 {
    let i = <i32>(U64Map.hash(k) & <u32>this.mask);
    for (let n = 0; n <= this.mask; n++) {
      const v = load<i32>(this.vals + (<usize>i << 2));
      if (v < 0) return -1;
      if (load<u64>(this.keys + (<usize>i << 3)) == k) return v;
      i = (i + 1) & this.mask;
    }
    return -1;
  }

  /** Sets k to v (v >= 0). False when memory cannot grow. */
  set(k: u64, v: i32): bool {
    if ((this.count + 1) * 2 > this.mask + 1) {
      if (!this.rehash()) return false;
    }
    let i = <i32>(U64Map.hash(k) & <u32>this.mask);
    for (let n = 0; n <= this.mask; n++) {
      const p = this.vals + (<usize>i << 2);
      const cur = load<i32>(p);
      if (cur < 0) {
        store<u64>(this.keys + (<usize>i << 3), k);
        store<i32>(p, v);
        this.count++;
        return true;
      }
      if (load<u64>(this.keys + (<usize>i << 3)) == k) {
        store<i32>(p, v);
        return true;
      }
      i = (i + 1) & this.mask;
    }
    return false;
  }

  private rehash(): bool {
    const oldKeys = this.keys, oldVals = this.vals, oldCap = this.mask + 1;
    const cap = oldCap << 1;
    const keys = heap.alloc(<usize>cap << 3);
    const vals = heap.alloc(<usize>cap << 2);
    if (keys == 0 || vals == 0) return false;
    memory.fill(vals, 0xff, <usize>cap << 2);
    this.keys = keys;
    this.vals = vals;
    this.mask = cap - 1;
    this.count = 0;
    for (let i = 0; i < oldCap; i++) {
      const v = load<i32>(oldVals + (<usize>i << 2));
      if (v >= 0) this.set(load<u64>(oldKeys + (<usize>i << 3)), v);
    }
    heap.free(oldKeys);
    heap.free(oldVals);
    return true;
  }

  clear(): void {
    memory.fill(this.vals, 0xff, <usize>(this.mask + 1) << 2);
    this.count = 0;
  }
}
