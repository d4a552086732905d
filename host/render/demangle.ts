/**
 * Itanium C++ ABI demangler for native stack frames.
 *
 * Native frames are named from ELF symbol tables of a target process, so every
 * input is untrusted. `demangle()` therefore never throws, does bounded work
 * (input length, recursion depth, nodes built, parse and print steps, and
 * output length are all capped) and returns its input unchanged whenever the
 * name is not a mangled name, uses a construct not covered here, or would
 * demangle to more than DEMANGLE_MAX_OUTPUT characters.
 *
 * The output is GNU c++filt's (binutils 2.40: libiberty's cp-demangle with
 * c++filt's options DMGL_PARAMS | DMGL_ANSI | DMGL_VERBOSE), quirks included,
 * so that frames read as they do in gdb, perf and c++filt: `std::string` and
 * friends are printed in full, template argument lists close with "> >",
 * literals print as `5u`, `true`, `(char)97`, lambdas as `{lambda(int)#1}`,
 * GCC clone suffixes as ` [clone .cold]`, template parameters (`T_`) are
 * resolved while printing against the function template being printed, and
 * Rust's legacy mangling (`_ZN...17h<hash>E`) is decoded as c++filt does.
 * test/demangle.test.mjs checks this against c++filt on libstdc++'s and
 * numpy's symbol tables (all agree) and on mutations of them (c++filt's
 * answer or the input, never another demangling).
 *
 * Why hand-written: no npm package fits. `demangler-js` (0.1.7, 2018) runs out
 * of memory on libstdc++'s own symbol table; `demangle` (kripken, 1.0.1, 2016)
 * is a 277 kB emscripten build of a 2015 libc++abi that cannot be reviewed, and
 * prints `std::istream` where c++filt prints the full type; and
 * `gecko-profiler-demangle` is a WebAssembly blob.
 *
 * Not covered (input returned unchanged): expressions beyond literals,
 * template parameters and `&name` (so `decltype(...)`, `sizeof`, `sr` names),
 * vendor qualifiers (`U`), C++20 requires-clauses, lambda template parameters
 * and modules, Rust v0 symbols (`_R...`).
 */

/** Longest demangled name returned; longer results give the input back. */
export const DEMANGLE_MAX_OUTPUT = 4096;
/** Longest input considered; longer names are returned unchanged at once. */
export const DEMANGLE_MAX_INPUT = 16384;

const MAX_DEPTH = 192; // parser and printer recursion
const MAX_PARSE_STEPS = 200_000; // parser calls plus characters copied
const MAX_NODES = 50_000; // nodes built while parsing
const MAX_PRINT_STEPS = 200_000; // node visits while printing, flag queries and pack searches included

/** Thrown (as this one object) to abandon a demangling. */
const FAIL: { readonly fail: true } = Object.freeze({ fail: true as const });
function fail(): never {
  throw FAIL;
}

// ---------------------------------------------------------------- output

/** cv-qualifiers as bits (for de-duplication) and as printed. */
const CONST = 1;
const VOLATILE = 2;
const RESTRICT = 4;
const QUAL_BITS: Record<string, number> = { K: CONST, V: VOLATILE, r: RESTRICT };
const QUAL_CHARS: Record<string, string> = { K: " const", V: " volatile", r: " restrict" };
function qualText(q: number): string {
  return q === CONST ? " const" : q === VOLATILE ? " volatile" : " restrict";
}

/** The template arguments `T_` refers to while printing, innermost first. */
interface Frame {
  readonly args: readonly Node[];
  readonly next: Frame | null;
}

class Out {
  s = "";
  private steps = 0;
  private depth = 0;
  /** Templates in scope: a function template's arguments while its type prints. */
  frames: Frame | null = null;
  /** Innermost template name being printed; a conversion operator's type sees its arguments. */
  currentTemplate: WithTemplateArgs | null = null;
  /** Inside a lambda's parameter list, where `T_` prints as `auto:1`. */
  lambdaArg = 0;
  /** The next array bound printed is that of an array's element type. */
  arrayElement = false;
  /** Pack element being expanded; like libiberty's it is left as it was after an expansion. */
  packIndex = 0;
  /** Frames a template parameter under a reference was first printed in (libiberty's saved scopes). */
  readonly savedScopes = new Map<Node, Frame | null>();
  /**
   * cv-qualifiers of the enclosing qualified type still to be printed:
   * c++filt prints `PKT_` with T = `int const` as `int const*`, once.
   */
  pendingQuals = 0;
  /**
   * Last character appended. Like libiberty's last_char it is not rewound
   * when a list drops a ", " before empty packs, which c++filt shows as
   * `A<B<int>>` instead of `A<B<int> >` in that case.
   */
  private lastChar = "";

  add(t: string): void {
    if (t.length === 0) return;
    this.s += t;
    this.lastChar = t[t.length - 1];
    if (this.s.length > DEMANGLE_MAX_OUTPUT) fail();
  }
  last(): string {
    return this.lastChar;
  }
  /** Drops the ", " that was appended when the output was `len` long. */
  dropSeparator(len: number): void {
    this.s = this.s.slice(0, len - 2);
  }
  /**
   * How many times each node is being printed, nested. Like libiberty, give
   * up when a node would be printed inside itself a third time: template
   * parameters can lead back to the nodes that refer to them.
   */
  private readonly printing = new Map<Node, number>();

  /** One unit of printing work that prints nothing (a flag query, a pack search step). */
  tick(): void {
    if (++this.steps > MAX_PRINT_STEPS) fail();
  }
  /** Entering a query that may recurse (through template parameters and declarators). */
  enterQuery(): void {
    if (++this.depth > MAX_DEPTH || ++this.steps > MAX_PRINT_STEPS) fail();
  }
  leaveQuery(): void {
    this.depth--;
  }
  enter(n: Node): void {
    if (++this.depth > MAX_DEPTH || ++this.steps > MAX_PRINT_STEPS) fail();
    const c = this.printing.get(n) ?? 0;
    if (c > 1) fail();
    this.printing.set(n, c + 1);
  }
  leave(n: Node): void {
    this.depth--;
    this.printing.set(n, this.printing.get(n)! - 1);
  }
}

// ---------------------------------------------------------------- nodes
//
// Types print in two halves, as C declarators need: `left` is everything
// before the declarator hole, `right` what follows it. `void (*)(int)` is a
// pointer whose pointee (a function type) prints "void " on the left and
// "(int)" on the right, with "(*" and ")" put around the hole by the pointer.
// Whether a node has a right half, or is an array or function type, is fixed
// when it is built, except for nodes that contain a template parameter in
// declarator position ("dyn" nodes): those are asked at print time.

abstract class Node {
  // Assigned in the constructor rather than declared with initialisers, which
  // made demangling libstdc++'s symbols about 4 times faster (warm, V8 11).
  /** Prints something on the right (function parameters, array bounds). */
  declare protected rhs: boolean;
  /** Is an array type (seen through cv-qualifiers). */
  declare protected arr: boolean;
  /** Is a function type (seen through cv-qualifiers). */
  declare protected fn: boolean;
  /** The three flags depend on what template parameters stand for. */
  declare dyn: boolean;
  /**
   * Lets the enclosing cv-qualifiers through, for de-duplication, as
   * libiberty's modifier list reaches through names, qualified and array
   * types, template parameters, packs and lambda parameters.
   */
  declare qualTransparent: boolean;

  constructor() {
    this.rhs = false;
    this.arr = false;
    this.fn = false;
    this.dyn = false;
    this.qualTransparent = false;
  }

  staticFlags(): [boolean, boolean, boolean] {
    return [this.rhs, this.arr, this.fn];
  }
  hasRHS(o: Out): boolean {
    if (!this.dyn) return this.rhs;
    o.enterQuery();
    const r = this.dynRHS(o);
    o.leaveQuery();
    return r;
  }
  isArray(o: Out): boolean {
    if (!this.dyn) return this.arr;
    o.enterQuery();
    const r = this.dynArray(o);
    o.leaveQuery();
    return r;
  }
  isFunction(o: Out): boolean {
    if (!this.dyn) return this.fn;
    o.enterQuery();
    const r = this.dynFunction(o);
    o.leaveQuery();
    return r;
  }
  protected dynRHS(_o: Out): boolean {
    return this.rhs;
  }
  protected dynArray(_o: Out): boolean {
    return this.arr;
  }
  protected dynFunction(_o: Out): boolean {
    return this.fn;
  }
  abstract left(o: Out): void;
  right(_o: Out): void {}
  /** Child nodes, searched for the argument pack a pack expansion expands. */
  kids(): readonly Node[] {
    return [];
  }
}

function printLeft(n: Node, o: Out): void {
  o.enter(n);
  const pending = o.pendingQuals;
  if (!n.qualTransparent) o.pendingQuals = 0;
  n.left(o);
  o.pendingQuals = pending;
  o.leave(n);
}
function printRight(n: Node, o: Out): void {
  if (!n.hasRHS(o)) return;
  o.enter(n);
  const pending = o.pendingQuals;
  if (!n.qualTransparent) o.pendingQuals = 0;
  n.right(o);
  o.pendingQuals = pending;
  o.leave(n);
}
function print(n: Node, o: Out): void {
  printLeft(n, o);
  printRight(n, o);
}
/**
 * Prints nodes separated by ", " as libiberty prints its recursive argument
 * lists: the separator before element i is dropped only when elements i..n-1
 * all print nothing (empty packs), so `<JE, int>` gives "<, int>".
 */
function printList(nodes: readonly Node[], o: Out): void {
  const marks: number[] = [];
  for (let i = 0; i < nodes.length; i++) {
    if (i > 0) {
      o.add(", ");
      marks.push(o.s.length);
    }
    print(nodes[i], o);
  }
  for (let j = marks.length - 1; j >= 0 && o.s.length === marks[j]; j--) o.dropSeparator(marks[j]);
}

class Name extends Node {
  constructor(readonly text: string) {
    super();
  }
  left(o: Out): void {
    o.add(this.text);
  }
}

class Nested extends Node {
  constructor(
    readonly qual: Node,
    readonly name: Node,
  ) {
    super();
    this.qualTransparent = true;
  }
  override kids(): readonly Node[] {
    return [this.qual, this.name];
  }
  left(o: Out): void {
    checkScope(this.qual, o);
    print(this.qual, o);
    o.add("::");
    print(this.name, o);
  }
}

/**
 * A pointer, reference, qualified, array or function type as a scope (`A::`
 * or `A::*`) is no C++, and c++filt prints the enclosing declarator inside
 * it: give up instead.
 */
function checkScope(scope: Node, o: Out): void {
  let q = scope;
  if (q instanceof TemplateParam && o.lambdaArg === 0) q = q.argument(o);
  if (q instanceof Pointer || q instanceof Reference || q instanceof Qualified || q instanceof MemberPointer) fail();
  if (q.hasRHS(o)) fail();
}

class AbiTagged extends Node {
  constructor(
    readonly name: Node,
    readonly tag: string,
  ) {
    super();
    this.qualTransparent = true;
  }
  left(o: Out): void {
    print(this.name, o);
    o.add("[abi:" + this.tag + "]");
  }
}

/** Named, as in c++filt, after the last source name parsed outside template arguments. */
class CtorDtor extends Node {
  constructor(
    readonly cls: string,
    readonly dtor: boolean,
  ) {
    super();
  }
  left(o: Out): void {
    o.add((this.dtor ? "~" : "") + this.cls);
  }
}

/** `cv <type>`: the type sees the arguments of the template name it is part of. */
class Conversion extends Node {
  constructor(readonly type: Node) {
    super();
  }
  override kids(): readonly Node[] {
    return [this.type];
  }
  left(o: Out): void {
    o.add("operator ");
    const outer = o.frames;
    const ct = o.currentTemplate;
    const inner = ct ? { args: ct.args.args, next: outer } : outer;
    const t = this.type;
    o.frames = inner;
    if (t instanceof WithTemplateArgs) {
      print(t.name, o);
      o.frames = outer;
      t.printArgs(o);
    } else {
      print(t, o);
      o.frames = outer;
    }
  }
}

class TemplateArgs extends Node {
  constructor(readonly args: Node[]) {
    super();
  }
  override kids(): readonly Node[] {
    return this.args;
  }
  left(o: Out): void {
    printList(this.args, o);
  }
}

class WithTemplateArgs extends Node {
  constructor(
    readonly name: Node,
    readonly args: TemplateArgs,
  ) {
    super();
  }
  override kids(): readonly Node[] {
    return [this.name, this.args];
  }
  left(o: Out): void {
    const held = o.currentTemplate;
    o.currentTemplate = this;
    print(this.name, o);
    this.printArgs(o);
    o.currentTemplate = held;
  }
  printArgs(o: Out): void {
    if (o.last() === "<") o.add(" ");
    o.add("<");
    print(this.args, o);
    if (o.last() === ">") o.add(" ");
    o.add(">");
  }
}

class LocalName extends Node {
  constructor(
    readonly encoding: Node,
    readonly entity: Node,
  ) {
    super();
    this.qualTransparent = true;
  }
  override kids(): readonly Node[] {
    return [this.encoding, this.entity];
  }
  left(o: Out): void {
    print(this.encoding, o);
    o.add("::");
    print(this.entity, o);
  }
}

/** `Z <encoding> Ed [<number>] _ <entity>` */
class DefaultArg extends Node {
  constructor(
    readonly num: number,
    readonly entity: Node,
  ) {
    super();
    this.qualTransparent = true;
  }
  left(o: Out): void {
    o.add("{default arg#" + this.num + "}::");
    print(this.entity, o);
  }
}

/** Template argument pack `J...E`. */
class ArgPack extends Node {
  constructor(readonly elems: Node[]) {
    super();
    this.qualTransparent = true; // as in libiberty, enclosing cv-qualifiers reach the elements
  }
  override kids(): readonly Node[] {
    return this.elems;
  }
  left(o: Out): void {
    printList(this.elems, o);
  }
}

/**
 * `T_`, `T0_`...: the argument of the innermost template in scope, printed
 * with that template out of scope; a pack gives its current element.
 */
class TemplateParam extends Node {
  constructor(readonly index: number) {
    super();
    this.dyn = true;
    this.qualTransparent = true;
  }
  /** The argument as written (a pack stays a pack), or null past the end. */
  lookup(o: Out): Node | null {
    const f = o.frames;
    if (f === null) fail();
    return f.args[this.index] ?? null;
  }
  /** The argument this prints as, pack element chosen. */
  argument(o: Out): Node {
    let a = this.lookup(o);
    if (a instanceof ArgPack) a = a.elems[o.packIndex] ?? null;
    if (a === null) fail();
    return a;
  }
  private inScope<T>(o: Out, f: (arg: Node) => T): T {
    const arg = this.argument(o);
    const saved = o.frames;
    o.frames = saved!.next;
    const r = f(arg);
    o.frames = saved;
    return r;
  }
  protected override dynRHS(o: Out): boolean {
    return o.lambdaArg > 0 ? false : this.inScope(o, (a) => a.hasRHS(o));
  }
  protected override dynArray(o: Out): boolean {
    return o.lambdaArg > 0 ? false : this.inScope(o, (a) => a.isArray(o));
  }
  protected override dynFunction(o: Out): boolean {
    return o.lambdaArg > 0 ? false : this.inScope(o, (a) => a.isFunction(o));
  }
  left(o: Out): void {
    if (o.lambdaArg > 0) {
      o.add("auto:" + (this.index + 1));
      return;
    }
    this.inScope(o, (a) => printLeft(a, o));
  }
  override right(o: Out): void {
    if (o.lambdaArg > 0) return;
    this.inScope(o, (a) => printRight(a, o));
  }
}

/** `Dp <type>`: the pattern printed once per element of the pack it names. */
class PackExpansion extends Node {
  constructor(readonly pattern: Node) {
    super();
    this.qualTransparent = true; // as in libiberty, enclosing cv-qualifiers reach the elements
  }
  left(o: Out): void {
    const pack = findPack(this.pattern, o);
    if (pack === null) fail(); // a function parameter pack: c++filt prints "(pattern)..."
    const n = pack.elems.length;
    for (let i = 0; i < n; i++) {
      o.packIndex = i;
      print(this.pattern, o);
      if (i < n - 1) o.add(", ");
    }
  }
}

/** The argument pack a `Dp` pattern names, searched as libiberty's d_find_pack does. */
function findPack(pattern: Node, o: Out): ArgPack | null {
  const stack: Node[] = [pattern];
  while (stack.length > 0) {
    o.tick();
    const n = stack.pop()!;
    if (n instanceof TemplateParam) {
      const a = n.lookup(o);
      if (a instanceof ArgPack) return a;
      continue;
    }
    if (n instanceof PackExpansion) continue;
    const k = n.kids();
    for (let j = k.length - 1; j >= 0; j--) stack.push(k[j]);
  }
  return null;
}

/**
 * A chain of cv-qualifiers over a type, outermost (first written) first.
 * c++filt prints them innermost first, and skips one whose kind is already
 * pending from further out: `KKi` is "int const", `PKT_` with T = `int
 * const` is "int const*", `KVi` is "int volatile const".
 */
class Qualified extends Node {
  constructor(
    readonly child: Node,
    readonly quals: readonly number[],
  ) {
    super();
    [this.rhs, this.arr, this.fn] = child.staticFlags();
    this.dyn = child.dyn;
    this.qualTransparent = true;
  }
  override kids(): readonly Node[] {
    return [this.child];
  }
  protected override dynRHS(o: Out): boolean {
    return this.child.hasRHS(o);
  }
  protected override dynArray(o: Out): boolean {
    return this.child.isArray(o);
  }
  protected override dynFunction(o: Out): boolean {
    return this.child.isFunction(o);
  }
  left(o: Out): void {
    // cv on a function type reached through a substitution or template
    // parameter: c++filt prints "ret ( volatile)(params)".
    if (this.child.isFunction(o)) fail();
    const outer = o.pendingQuals;
    let seen = outer;
    const kept: number[] = [];
    for (const q of this.quals) {
      if (seen & q) continue;
      kept.push(q);
      seen |= q;
    }
    o.pendingQuals = seen;
    printLeft(this.child, o);
    o.pendingQuals = outer;
    // On an array type they come out first written first.
    if (this.child.isArray(o)) for (const q of kept) o.add(qualText(q));
    else for (let j = kept.length - 1; j >= 0; j--) o.add(qualText(kept[j]));
  }
  override right(o: Out): void {
    printRight(this.child, o);
  }
}

function declaratorLeft(target: Node, sym: string, o: Out): void {
  printLeft(target, o);
  if (target.isArray(o)) o.add(" (");
  else if (target.isFunction(o)) openFunctionDeclarator(o, false);
  o.add(sym);
}
/**
 * The "(" of `ret (*)(params)`, spaced as libiberty's d_print_function_type:
 * after a space, "(" or "*" none is added, as in `void (*(*)(int))()`, else
 * one is, as in `int (*& (*)(char))(long)`.
 */
function openFunctionDeclarator(o: Out, forceSpace: boolean): void {
  const last = o.last();
  if ((forceSpace || (last !== "(" && last !== "*")) && last !== " ") o.add(" ");
  o.add("(");
}
function declaratorRight(target: Node, o: Out): void {
  if (target.isArray(o) || target.isFunction(o)) o.add(")");
  printRight(target, o);
}

class Pointer extends Node {
  constructor(readonly pointee: Node) {
    super();
    this.rhs = pointee.staticFlags()[0];
    this.dyn = pointee.dyn;
  }
  override kids(): readonly Node[] {
    return [this.pointee];
  }
  protected override dynRHS(o: Out): boolean {
    return this.pointee.hasRHS(o);
  }
  protected override dynArray(): boolean {
    return false;
  }
  protected override dynFunction(): boolean {
    return false;
  }
  left(o: Out): void {
    declaratorLeft(this.pointee, "*", o);
  }
  override right(o: Out): void {
    declaratorRight(this.pointee, o);
  }
}

/**
 * `R`/`O`. Collapses one level as libiberty does: a reference to a reference
 * (written so, or through a template parameter) prints as the inner one, or
 * as an lvalue reference to its target for `& &&`; qualifiers in between stop
 * it (`int& const&`). A template parameter met again under a reference is
 * looked up in the templates it was first seen with (libiberty's saved
 * scopes).
 */
class Reference extends Node {
  constructor(
    readonly pointee: Node,
    readonly lvalue: boolean,
  ) {
    super();
    this.dyn = true;
  }
  override kids(): readonly Node[] {
    return [this.pointee];
  }
  /** Runs `f` with the frames this reference prints in, and its collapsed target. */
  private within<T>(o: Out, f: (target: Node, lvalue: boolean) => T): T {
    const p = this.pointee;
    if (o.lambdaArg > 0 || !(p instanceof TemplateParam)) {
      if (p instanceof Reference) return f(p.pointee, p.lvalue || !this.lvalue ? p.lvalue : true);
      return f(p, this.lvalue);
    }
    const saved = o.frames;
    if (o.savedScopes.has(p)) o.frames = o.savedScopes.get(p)!;
    else o.savedScopes.set(p, o.frames);
    const sub = p.argument(o);
    let r: T;
    if (sub instanceof Reference) r = f(sub.pointee, sub.lvalue || !this.lvalue ? sub.lvalue : true);
    else r = f(p, this.lvalue);
    o.frames = saved;
    return r;
  }
  protected override dynRHS(o: Out): boolean {
    return this.within(o, (t) => t.hasRHS(o));
  }
  protected override dynArray(): boolean {
    return false;
  }
  protected override dynFunction(): boolean {
    return false;
  }
  left(o: Out): void {
    this.within(o, (t, lvalue) => declaratorLeft(t, lvalue ? "&" : "&&", o));
  }
  override right(o: Out): void {
    this.within(o, (t) => declaratorRight(t, o));
  }
}

class MemberPointer extends Node {
  constructor(
    readonly cls: Node,
    readonly member: Node,
  ) {
    super();
    this.rhs = member.staticFlags()[0];
    this.dyn = member.dyn;
  }
  override kids(): readonly Node[] {
    return [this.cls, this.member];
  }
  protected override dynRHS(o: Out): boolean {
    return this.member.hasRHS(o);
  }
  protected override dynArray(): boolean {
    return false;
  }
  protected override dynFunction(): boolean {
    return false;
  }
  left(o: Out): void {
    const m = this.member;
    checkScope(this.cls, o);
    printLeft(m, o);
    if (m.isFunction(o)) openFunctionDeclarator(o, true);
    else o.add(m.isArray(o) ? " (" : " ");
    print(this.cls, o);
    o.add("::*");
  }
  override right(o: Out): void {
    const m = this.member;
    if (m.isArray(o) || m.isFunction(o)) o.add(")");
    printRight(m, o);
  }
}

class ArrayType extends Node {
  constructor(
    readonly elem: Node,
    readonly dim: Node | null, // digits as written, or an expression
  ) {
    super();
    this.rhs = true;
    this.arr = true;
    this.qualTransparent = true;
  }
  override kids(): readonly Node[] {
    return this.dim ? [this.dim, this.elem] : [this.elem];
  }
  left(o: Out): void {
    printLeft(this.elem, o);
  }
  override right(o: Out): void {
    // "int [3][4]": no space before the bound of an array's element array.
    const inner = o.arrayElement;
    o.arrayElement = false;
    o.add(inner ? "[" : " [");
    if (this.dim) print(this.dim, o);
    o.add("]");
    o.arrayElement = this.elem.isArray(o);
    printRight(this.elem, o);
    o.arrayElement = false;
  }
}

/** Type with a suffix that is no declarator: `float __vector(4)`, `double _Complex`. */
class Suffixed extends Node {
  constructor(
    readonly child: Node,
    readonly suffix: string,
  ) {
    super();
  }
  override kids(): readonly Node[] {
    return [this.child];
  }
  left(o: Out): void {
    print(this.child, o);
    o.add(this.suffix);
  }
}

class FunctionType extends Node {
  constructor(
    readonly ret: Node,
    readonly params: Node[],
    readonly quals: string, // " const", " &", " noexcept", ...
  ) {
    super();
    this.rhs = true;
    this.fn = true;
  }
  override kids(): readonly Node[] {
    return [this.ret, ...this.params];
  }
  left(o: Out): void {
    printLeft(this.ret, o);
    if (!this.ret.hasRHS(o)) o.add(" ");
  }
  override right(o: Out): void {
    o.add("(");
    printList(this.params, o);
    o.add(")");
    printRight(this.ret, o);
    o.add(this.quals);
  }
}

/**
 * A function: return type and parameters print with the function's own
 * template arguments in scope, its name with the enclosing ones.
 */
class FunctionEncoding extends Node {
  constructor(
    readonly ret: Node | null,
    readonly name: Node,
    readonly params: Node[],
    readonly quals: string,
  ) {
    super();
    this.rhs = true;
  }
  override kids(): readonly Node[] {
    return this.ret ? [this.name, this.ret, ...this.params] : [this.name, ...this.params];
  }
  private innerFrames(o: Out): Frame | null {
    let n = this.name;
    if (n instanceof LocalName) n = n.entity;
    if (n instanceof DefaultArg) n = n.entity;
    return n instanceof WithTemplateArgs ? { args: n.args.args, next: o.frames } : o.frames;
  }
  left(o: Out): void {
    if (this.ret) {
      const outer = o.frames;
      o.frames = this.innerFrames(o);
      printLeft(this.ret, o);
      if (!this.ret.hasRHS(o)) o.add(" ");
      o.frames = outer;
    }
    print(this.name, o);
  }
  override right(o: Out): void {
    const outer = o.frames;
    o.frames = this.innerFrames(o);
    o.add("(");
    printList(this.params, o);
    o.add(")");
    if (this.ret) printRight(this.ret, o);
    o.frames = outer;
    o.add(this.quals);
  }
}

class Prefixed extends Node {
  constructor(
    readonly prefix: string,
    readonly child: Node,
  ) {
    super();
  }
  override kids(): readonly Node[] {
    return [this.child];
  }
  left(o: Out): void {
    o.add(this.prefix);
    print(this.child, o);
  }
}

class CtorVtable extends Node {
  constructor(
    readonly first: Node,
    readonly second: Node,
  ) {
    super();
  }
  override kids(): readonly Node[] {
    return [this.first, this.second];
  }
  left(o: Out): void {
    o.add("construction vtable for ");
    print(this.first, o);
    o.add("-in-");
    print(this.second, o);
  }
}

class Clone extends Node {
  constructor(
    readonly encoding: Node,
    readonly suffix: string,
  ) {
    super();
  }
  override kids(): readonly Node[] {
    return [this.encoding];
  }
  left(o: Out): void {
    print(this.encoding, o);
    o.add(" [clone " + this.suffix + "]");
  }
}

class UnnamedType extends Node {
  constructor(readonly count: number) {
    super();
  }
  left(o: Out): void {
    o.add("{unnamed type#" + this.count + "}");
  }
}

class Lambda extends Node {
  constructor(
    readonly params: Node[],
    readonly count: number,
  ) {
    super();
    this.qualTransparent = true; // as in libiberty, enclosing cv-qualifiers reach the elements
  }
  left(o: Out): void {
    o.add("{lambda(");
    o.lambdaArg++;
    printList(this.params, o);
    o.lambdaArg--;
    o.add(")#" + this.count + "}");
  }
}

class Literal extends Node {
  constructor(
    readonly type: Node,
    readonly text: string, // what goes after "(type)", or the whole literal
    readonly bare: boolean,
  ) {
    super();
  }
  override kids(): readonly Node[] {
    return [this.type];
  }
  left(o: Out): void {
    if (this.bare) {
      o.add(this.text);
      return;
    }
    o.add("(");
    print(this.type, o);
    o.add(")" + this.text);
  }
}

/**
 * `ad <expression>`: "&" and the operand, parenthesised unless a plain or
 * qualified name; c++filt drops the parameters of a plain member function.
 */
class AddressOf extends Node {
  constructor(readonly operand: Node) {
    super();
  }
  override kids(): readonly Node[] {
    return [this.operand];
  }
  left(o: Out): void {
    o.add("&");
    let e = this.operand;
    if (e instanceof FunctionEncoding && e.name instanceof Nested && e.ret === null && e.quals === "") e = e.name;
    if (e instanceof Nested || (e instanceof Name && !BUILTIN_CODE.has(e))) {
      print(e, o);
    } else {
      o.add("(");
      print(e, o);
      o.add(")");
    }
  }
}

// ---------------------------------------------------------------- tables

const BUILTINS: Record<string, string> = {
  a: "signed char",
  b: "bool",
  c: "char",
  d: "double",
  e: "long double",
  f: "float",
  g: "__float128",
  h: "unsigned char",
  i: "int",
  j: "unsigned int",
  l: "long",
  m: "unsigned long",
  n: "__int128",
  o: "unsigned __int128",
  s: "short",
  t: "unsigned short",
  v: "void",
  w: "wchar_t",
  x: "long long",
  y: "unsigned long long",
  z: "...",
};
const D_BUILTINS: Record<string, string> = {
  d: "decimal64",
  e: "decimal128",
  f: "decimal32",
  h: "half",
  i: "char32_t",
  s: "char16_t",
  u: "char8_t",
  a: "auto",
  c: "decltype(auto)",
  n: "decltype(nullptr)",
};
/** Builtins whose literals c++filt prints as a bare number with this suffix. */
const INT_LITERAL_SUFFIX: Record<string, string> = {
  i: "",
  j: "u",
  l: "l",
  m: "ul",
  x: "ll",
  y: "ull",
};
/** Builtins whose literals c++filt prints as `(double)[hex]`. */
const FLOAT_BUILTINS = "defg";

const OPERATORS: Record<string, string> = {
  nw: "new",
  na: "new[]",
  dl: "delete",
  da: "delete[]",
  aw: "co_await",
  ps: "+",
  ng: "-",
  ad: "&",
  de: "*",
  co: "~",
  pl: "+",
  mi: "-",
  ml: "*",
  dv: "/",
  rm: "%",
  an: "&",
  or: "|",
  eo: "^",
  aS: "=",
  pL: "+=",
  mI: "-=",
  mL: "*=",
  dV: "/=",
  rM: "%=",
  aN: "&=",
  oR: "|=",
  eO: "^=",
  ls: "<<",
  rs: ">>",
  lS: "<<=",
  rS: ">>=",
  eq: "==",
  ne: "!=",
  lt: "<",
  gt: ">",
  le: "<=",
  ge: ">=",
  ss: "<=>",
  nt: "!",
  aa: "&&",
  oo: "||",
  pp: "++",
  mm: "--",
  cm: ",",
  pm: "->*",
  pt: "->",
  cl: "()",
  ix: "[]",
};

/** Standard substitutions as c++filt prints them (verbose), and the name a ctor of theirs takes. */
const STD_SUBS: Record<string, [string, string]> = {
  a: ["std::allocator", "allocator"],
  b: ["std::basic_string", "basic_string"],
  s: ["std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "basic_string"],
  i: ["std::basic_istream<char, std::char_traits<char> >", "basic_istream"],
  o: ["std::basic_ostream<char, std::char_traits<char> >", "basic_ostream"],
  d: ["std::basic_iostream<char, std::char_traits<char> >", "basic_iostream"],
};

const SPECIAL_TYPE_PREFIX: Record<string, string> = {
  V: "vtable for ",
  T: "VTT for ",
  I: "typeinfo for ",
  S: "typeinfo name for ",
};

const STD = new Name("std");
const BUILTIN_NODES: Record<string, Name> = {};
const BUILTIN_CODE = new Map<Node, string>();
for (const [k, v] of Object.entries(BUILTINS)) {
  BUILTIN_NODES[k] = new Name(v);
  BUILTIN_CODE.set(BUILTIN_NODES[k], k);
}
const D_BUILTIN_NODES: Record<string, Name> = {};
for (const [k, v] of Object.entries(D_BUILTINS)) D_BUILTIN_NODES[k] = new Name(v);
const VOID = BUILTIN_NODES.v;
const NULLPTR = D_BUILTIN_NODES.n;

// ---------------------------------------------------------------- parser

/** What parsing a <name> learnt that the enclosing <encoding> needs. */
interface NameState {
  ctorDtorConv: boolean;
  endsWithTemplateArgs: boolean;
  quals: string; // cv and ref qualifiers of a nested name, printed after the parameters
}

function isDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}
function isLower(c: string): boolean {
  return c >= "a" && c <= "z";
}
function isUpper(c: string): boolean {
  return c >= "A" && c <= "Z";
}
function isCloneChar(c: string): boolean {
  return isLower(c) || isDigit(c) || c === "_";
}

class Parser {
  private i = 0;
  private depth = 0;
  private steps = 0;
  private nodes = 0;
  private readonly subs: Node[] = [];
  /** Last source name parsed outside template arguments and ABI tags: what a ctor is called. */
  private lastName: string | null = null;
  /** Parsing the type of a conversion operator (libiberty's is_conversion). */
  private inConversion = false;

  constructor(private readonly s: string) {}

  // -- cursor

  private ch(k = 0): string {
    return this.s.charAt(this.i + k);
  }
  private eat(c: string): boolean {
    if (this.s.startsWith(c, this.i)) {
      this.i += c.length;
      return true;
    }
    return false;
  }
  private expect(c: string): void {
    if (!this.eat(c)) fail();
  }
  private atEnd(): boolean {
    return this.i >= this.s.length;
  }
  private make<T extends Node>(n: T): T {
    if (++this.nodes > MAX_NODES) fail();
    return n;
  }
  private enter(): void {
    if (++this.depth > MAX_DEPTH || ++this.steps > MAX_PARSE_STEPS) fail();
  }
  /** Counts `n` characters of copying or scanning as parse work. */
  private work(n: number): void {
    this.steps += n;
    if (this.steps > MAX_PARSE_STEPS) fail();
  }
  private leave(): void {
    this.depth--;
  }

  /** <number> ::= [n] <decimal> */
  private number(): void {
    this.eat("n");
    this.natural();
  }
  /** A decimal number, at most 9 digits. */
  private natural(): number {
    const start = this.i;
    while (isDigit(this.ch())) this.i++;
    if (this.i === start || this.i - start > 9) fail();
    return Number(this.s.slice(start, this.i));
  }
  /** <seq-id> in base 36 followed by "_": "_" is 0, "0_" is 1. */
  private seqId(): number {
    if (this.eat("_")) return 0;
    let v = 0;
    for (;;) {
      const c = this.ch();
      let d: number;
      if (isDigit(c)) d = c.charCodeAt(0) - 48;
      else if (isUpper(c)) d = c.charCodeAt(0) - 55;
      else break;
      v = v * 36 + d;
      if (v > 1e9) fail();
      this.i++;
    }
    this.expect("_");
    return v + 1;
  }

  // -- top level

  /** The whole symbol, "_Z" included. */
  mangledName(): Node {
    this.expect("_Z");
    let enc = this.encoding();
    while (this.ch() === "." && isCloneChar(this.ch(1))) enc = this.cloneSuffix(enc);
    if (!this.atEnd()) fail();
    return enc;
  }

  /** `.cold`, `.isra.0`, `.constprop.0`...: c++filt shows each as " [clone .x.N]". */
  private cloneSuffix(enc: Node): Node {
    const start = this.i;
    this.i += 2;
    while (isCloneChar(this.ch())) this.i++;
    while (this.ch() === "." && isDigit(this.ch(1))) {
      this.i += 2;
      while (isDigit(this.ch())) this.i++;
    }
    return this.make(new Clone(enc, this.s.slice(start, this.i)));
  }

  private encoding(): Node {
    this.enter();
    const c = this.ch();
    if (c === "G" || c === "T") {
      const special = this.specialName();
      this.leave();
      return special;
    }
    const state: NameState = { ctorDtorConv: false, endsWithTemplateArgs: false, quals: "" };
    const name = this.name(state);
    const next = this.ch();
    let enc: Node;
    if (next === "" || next === "E") {
      if (state.quals) fail();
      enc = name;
    } else {
      // A function. (A variable followed by ".cold" fails here, as in c++filt.)
      const ret = state.endsWithTemplateArgs && !state.ctorDtorConv ? this.innerType() : null;
      enc = this.make(new FunctionEncoding(ret, name, this.paramList(), state.quals));
    }
    this.leave();
    return enc;
  }

  /** Parameter types up to the end, "E", "." or a ref-qualifier; a lone void is (). */
  private paramList(): Node[] {
    const params: Node[] = [];
    for (;;) {
      const c = this.ch();
      if (c === "" || c === "E" || c === "." || c === "Q") break;
      if ((c === "R" || c === "O") && this.ch(1) === "E") break;
      params.push(this.type());
    }
    if (params.length === 0) fail();
    return params.length === 1 && params[0] === VOID ? [] : params;
  }

  private callOffset(): void {
    if (this.eat("h")) {
      this.number();
      this.expect("_");
    } else if (this.eat("v")) {
      this.number();
      this.expect("_");
      this.number();
      this.expect("_");
    } else fail();
  }

  private specialName(): Node {
    if (this.eat("T")) {
      const c = this.ch();
      this.i++;
      const prefix = SPECIAL_TYPE_PREFIX[c];
      if (prefix !== undefined) return this.make(new Prefixed(prefix, this.innerType()));
      switch (c) {
        case "h":
          this.i--;
          this.callOffset();
          return this.make(new Prefixed("non-virtual thunk to ", this.encoding()));
        case "v":
          this.i--;
          this.callOffset();
          return this.make(new Prefixed("virtual thunk to ", this.encoding()));
        case "c":
          this.callOffset();
          this.callOffset();
          return this.make(new Prefixed("covariant return thunk to ", this.encoding()));
        case "C": {
          const derived = this.innerType();
          this.number();
          this.expect("_");
          const base = this.innerType();
          return this.make(new CtorVtable(base, derived));
        }
        case "H":
          return this.make(new Prefixed("TLS init function for ", this.name(null)));
        case "W":
          return this.make(new Prefixed("TLS wrapper function for ", this.name(null)));
        default:
          fail();
      }
    }
    this.expect("G");
    const c = this.ch();
    this.i++;
    switch (c) {
      case "V":
        return this.make(new Prefixed("guard variable for ", this.name(null)));
      case "R": {
        const name = this.name(null);
        const n = isDigit(this.ch()) ? this.natural() : 0;
        return this.make(new Prefixed("reference temporary #" + n + " for ", name));
      }
      case "A":
        return this.make(new Prefixed("hidden alias for ", this.encoding()));
      case "T":
        if (this.eat("t")) return this.make(new Prefixed("transaction clone for ", this.encoding()));
        if (this.eat("n")) return this.make(new Prefixed("non-transaction clone for ", this.encoding()));
        fail();
      default:
        fail();
    }
  }

  // -- names

  private name(state: NameState | null): Node {
    this.enter();
    const c = this.ch();
    let n: Node;
    if (c === "N") n = this.nestedName(state);
    else if (c === "Z") n = this.localName(state);
    else if (c === "U") n = this.unqualifiedName(state, null); // no template arguments here
    else {
      let isSub = false;
      if (c === "S" && this.ch(1) !== "t") {
        n = this.substitution();
        isSub = true;
      } else if (this.eat("St")) {
        n = this.make(new Nested(STD, this.unqualifiedName(state, null)));
      } else {
        n = this.unqualifiedName(state, null);
      }
      if (this.ch() === "I") {
        if (!isSub) this.subs.push(n);
        n = this.make(new WithTemplateArgs(n, this.templateArgs()));
        if (state) state.endsWithTemplateArgs = true;
      } else if (isSub) {
        fail();
      }
    }
    this.leave();
    return n;
  }

  /** N [<CV-qualifiers>] [<ref-qualifier>] <prefix> E, parsed as libiberty's d_prefix does. */
  private nestedName(state: NameState | null): Node {
    this.expect("N");
    // Qualifiers of a member function print after its parameters, last first.
    let quals = "";
    for (;;) {
      const q = QUAL_CHARS[this.ch()];
      if (q === undefined) break;
      quals = q + quals;
      this.i++;
    }
    if (this.ch() === "D" && "xoOw".includes(this.ch(1))) fail();
    if (this.eat("R")) quals += " &";
    else if (this.eat("O")) quals += " &&";
    if (state) state.quals = quals;
    else if (quals) fail();

    let soFar: Node | null = null;
    for (;;) {
      const c = this.ch();
      if (c === "D" && (this.ch(1) === "t" || this.ch(1) === "T")) {
        fail(); // decltype
      } else if (c === "I") {
        if (!soFar) fail();
        soFar = this.make(new WithTemplateArgs(soFar, this.templateArgs()));
        if (state) state.endsWithTemplateArgs = true;
      } else if (c === "T") {
        if (soFar) fail();
        soFar = this.templateParam();
        if (state) {
          state.endsWithTemplateArgs = false;
          state.ctorDtorConv = false;
        }
      } else if (c === "M") {
        // Initializer scope of a lambda: already a substitution candidate.
        this.i++;
        continue;
      } else if (c === "S") {
        if (soFar) fail();
        if (this.ch(1) === "t") {
          this.i += 2;
          soFar = STD;
        } else {
          soFar = this.substitution();
        }
        if (state) {
          state.endsWithTemplateArgs = false;
          state.ctorDtorConv = false;
        }
        continue; // not a new candidate, and not the last component
      } else {
        const n = this.unqualifiedName(state, soFar);
        soFar = soFar ? this.make(new Nested(soFar, n)) : n;
      }
      if (this.ch() === "E") break;
      this.subs.push(soFar);
    }
    this.i++;
    return soFar;
  }

  private localName(state: NameState | null): Node {
    this.expect("Z");
    let enc = this.encoding();
    this.expect("E");
    // c++filt leaves out the return type of the function a local entity is in.
    if (enc instanceof FunctionEncoding && enc.ret) {
      enc = this.make(new FunctionEncoding(null, enc.name, enc.params, enc.quals));
    }
    if (this.eat("s")) {
      this.discriminator();
      return this.make(new LocalName(enc, this.make(new Name("string literal"))));
    }
    if (this.eat("d")) {
      const n = this.ch() === "_" ? 1 : this.natural() + 2;
      this.expect("_");
      const entity = this.name(state);
      if (!(entity instanceof Lambda || entity instanceof UnnamedType)) this.discriminator();
      return this.make(new LocalName(enc, this.make(new DefaultArg(n, entity))));
    }
    const entity = this.name(state);
    // Lambdas and unnamed types carry their own number.
    if (!(entity instanceof Lambda || entity instanceof UnnamedType)) this.discriminator();
    return this.make(new LocalName(enc, entity));
  }

  /** `_ [<digits>]` or `__ <number> [_]` (libiberty's d_discriminator); c++filt does not print it. */
  private discriminator(): void {
    if (!this.eat("_")) return;
    const two = this.eat("_");
    const start = this.i;
    if (this.ch() === "n") fail();
    while (isDigit(this.ch())) this.i++;
    if (this.i - start > 9) fail();
    const n = this.i === start ? 0 : Number(this.s.slice(start, this.i));
    if (two && n >= 10) this.expect("_");
  }

  /** <unqualified-name> with its ABI tags; `scope` is the class a ctor belongs to. */
  private unqualifiedName(state: NameState | null, scope: Node | null): Node {
    this.enter();
    let n: Node;
    let ctorDtorConv = false;
    const internal = this.eat("L"); // internal linkage (GCC)
    const c = this.ch();
    if (internal && !isDigit(c)) fail();
    if (isDigit(c)) {
      n = this.sourceName();
      if (internal) this.discriminator();
    } else if (c === "U") {
      n = this.unnamedTypeName();
    } else if (c === "C") {
      if (!scope || scope === STD) fail();
      this.i++;
      const inheriting = this.eat("I");
      if (!/[1-5]/.test(this.ch())) fail();
      this.i++;
      if (inheriting) this.innerType();
      if (this.lastName === null) fail();
      n = this.make(new CtorDtor(this.lastName, false));
      ctorDtorConv = true;
    } else if (c === "D" && "01245".includes(this.ch(1)) && this.ch(1) !== "") {
      if (!scope || scope === STD) fail();
      this.i += 2;
      if (this.lastName === null) fail();
      n = this.make(new CtorDtor(this.lastName, true));
      ctorDtorConv = true;
    } else if (isLower(c)) {
      const code = this.s.slice(this.i, this.i + 2);
      this.i += 2;
      if (code === "cv") {
        const held = this.inConversion;
        this.inConversion = true;
        n = this.make(new Conversion(this.innerType()));
        this.inConversion = held;
        ctorDtorConv = true;
      } else if (code === "li") {
        n = this.make(new Name('operator"" ' + this.sourceName().text));
      } else {
        const op = OPERATORS[code];
        if (op === undefined) fail();
        n = this.make(new Name(isLower(op[0]) ? "operator " + op : "operator" + op));
      }
    } else {
      fail();
    }
    const held = this.lastName;
    if (this.ch() === "B") ctorDtorConv = false; // c++filt then expects a return type
    while (this.ch() === "B") {
      this.i++;
      n = this.make(new AbiTagged(n, this.sourceName().text));
    }
    this.lastName = held;
    if (state) {
      state.ctorDtorConv = ctorDtorConv;
      state.endsWithTemplateArgs = false;
    }
    this.leave();
    return n;
  }

  private sourceName(): Name {
    const len = this.natural();
    if (len === 0 || this.i + len > this.s.length) fail();
    this.work(len);
    const id = this.s.slice(this.i, this.i + len);
    this.i += len;
    const anonymous = len >= 10 && id.startsWith("_GLOBAL_") && "._$".includes(id[8]) && id[9] === "N";
    this.lastName = anonymous ? "(anonymous namespace)" : id;
    return this.make(new Name(this.lastName));
  }

  private unnamedTypeName(): Node {
    this.expect("U");
    if (this.eat("t")) {
      const n = this.ch() === "_" ? 1 : this.natural() + 2;
      this.expect("_");
      // An unnamed type is a substitution candidate by itself (a lambda is not).
      const t = this.make(new UnnamedType(n));
      this.subs.push(t);
      return t;
    }
    if (this.eat("l")) {
      if (this.ch() === "T" && !isDigit(this.ch(1)) && this.ch(1) !== "_") fail(); // template parameter declarations
      const params: Node[] = [];
      while (this.ch() !== "E") {
        if (this.atEnd() || this.ch() === "Q") fail();
        params.push(this.type());
      }
      this.i++;
      if (params.length === 0) fail();
      const n = this.ch() === "_" ? 1 : this.natural() + 2;
      this.expect("_");
      return this.make(new Lambda(params.length === 1 && params[0] === VOID ? [] : params, n));
    }
    fail();
  }

  private substitution(): Node {
    this.expect("S");
    const c = this.ch();
    if (isLower(c)) {
      const std = STD_SUBS[c];
      if (std === undefined) fail();
      this.i++;
      this.lastName = std[1];
      return this.make(new Name(std[0]));
    }
    const n = this.subs[this.seqId()];
    if (n === undefined) fail();
    return n;
  }

  /** T_ is 0, T0_ is 1: a decimal number, unlike substitutions. */
  private templateParam(): TemplateParam {
    this.expect("T");
    let n = 0;
    if (!this.eat("_")) {
      n = this.natural() + 1;
      this.expect("_");
    }
    return this.make(new TemplateParam(n));
  }

  private templateArgs(): TemplateArgs {
    this.enter();
    const held = this.lastName;
    this.expect("I");
    const args: Node[] = [];
    while (!this.eat("E")) {
      if (this.atEnd()) fail();
      args.push(this.templateArg());
    }
    this.lastName = held;
    this.leave();
    return this.make(new TemplateArgs(args));
  }

  private templateArg(): Node {
    this.enter();
    let arg: Node;
    const c = this.ch();
    if (c === "J") {
      this.i++;
      const elems: Node[] = [];
      while (!this.eat("E")) {
        if (this.atEnd()) fail();
        elems.push(this.templateArg());
      }
      arg = this.make(new ArgPack(elems));
    } else if (c === "L") {
      arg = this.exprPrimary();
    } else if (c === "X") {
      this.i++;
      arg = this.expression();
      this.expect("E");
    } else {
      arg = this.type();
    }
    this.leave();
    return arg;
  }

  /**
   * The expressions covered: literals, template parameters and the address
   * of an entity (`ad`), as in `f<&A::g>`; anything else fails.
   */
  private expression(): Node {
    this.enter();
    let e: Node;
    const c = this.ch();
    if (c === "L") e = this.exprPrimary();
    else if (c === "T") e = this.templateParam();
    else if (this.eat("ad")) e = this.make(new AddressOf(this.expression()));
    else fail();
    this.leave();
    return e;
  }

  /** `L <type> <value> E` or `L _Z <encoding> E`, printed as c++filt does. */
  private exprPrimary(): Node {
    this.expect("L");
    if (this.ch() === "Z" || (this.ch() === "_" && this.ch(1) === "Z")) {
      this.eat("_");
      this.expect("Z");
      const enc = this.encoding();
      this.expect("E");
      return enc;
    }
    const type = this.innerType();
    const neg = this.eat("n");
    const start = this.i;
    while (this.ch() !== "E") {
      if (this.atEnd()) fail();
      this.i++;
    }
    this.work(this.i - start);
    const value = this.s.slice(start, this.i);
    this.i++;
    if (type === NULLPTR && value === "" && !neg) return type;
    if (value === "") fail();
    const code = BUILTIN_CODE.get(type);
    const sign = neg ? "-" : "";
    if (code !== undefined && code in INT_LITERAL_SUFFIX) {
      return this.make(new Literal(type, sign + value + INT_LITERAL_SUFFIX[code], true));
    }
    if (code === "b" && !neg && (value === "0" || value === "1")) {
      return this.make(new Literal(type, value === "1" ? "true" : "false", true));
    }
    if (code !== undefined && FLOAT_BUILTINS.includes(code)) {
      return this.make(new Literal(type, sign + "[" + value + "]", false));
    }
    return this.make(new Literal(type, sign + value, false));
  }

  // -- types

  private type(): Node {
    this.enter();
    const c = this.ch();
    const builtin = BUILTIN_NODES[c];
    if (builtin !== undefined) {
      this.i++;
      this.leave();
      return builtin;
    }
    let t: Node;
    switch (c) {
      case "D": {
        const d = this.ch(1);
        const db = D_BUILTIN_NODES[d];
        if (db !== undefined) {
          this.i += 2;
          this.leave();
          return db;
        }
        this.i += 2;
        if (d === "F") {
          const bits = this.natural();
          if (this.eat("_")) t = this.make(new Name("_Float" + bits));
          else if (this.eat("x")) t = this.make(new Name("_Float" + bits + "x"));
          else if (bits === 16 && this.eat("b")) t = this.make(new Name("std::bfloat16_t"));
          else fail();
          this.leave();
          return t;
        }
        if (d === "p") {
          t = this.make(new PackExpansion(this.innerType()));
        } else if (d === "v") {
          if (!isDigit(this.ch())) fail();
          const dim = this.natural();
          this.expect("_");
          t = this.make(new Suffixed(this.plainType(), " __vector(" + dim + ")"));
        } else if (d === "o" || d === "x") {
          this.i -= 2;
          t = this.functionType("");
        } else {
          fail();
        }
        break;
      }
      case "r":
      case "V":
      case "K": {
        const quals = this.cvQuals();
        if (this.ch() === "F" || (this.ch() === "D" && "xoOw".includes(this.ch(1)))) {
          t = this.functionType(quals);
        } else {
          const q: number[] = [];
          for (const c of quals) q.push(QUAL_BITS[c]);
          t = this.make(new Qualified(this.innerType(), q));
        }
        break;
      }
      case "F":
        t = this.functionType("");
        break;
      case "A":
        t = this.arrayType();
        break;
      case "M": {
        this.i++;
        const cls = this.innerType();
        t = this.make(new MemberPointer(cls, this.innerType()));
        break;
      }
      case "P":
        this.i++;
        t = this.make(new Pointer(this.innerType()));
        break;
      case "R":
      case "O":
        this.i++;
        t = this.make(new Reference(this.innerType(), c === "R"));
        break;
      case "C":
        this.i++;
        t = this.make(new Suffixed(this.plainType(), " _Complex"));
        break;
      case "G":
        this.i++;
        t = this.make(new Suffixed(this.plainType(), " _Imaginary"));
        break;
      case "u":
        this.i++;
        t = this.sourceName();
        if (this.ch() === "I") fail();
        break;
      case "T":
        t = this.templateParamType();
        break;
      case "S": {
        if (this.ch(1) === "t") {
          t = this.name(null);
          break;
        }
        const sub = this.substitution();
        if (this.ch() !== "I") {
          this.leave();
          return sub; // not a new candidate
        }
        t = this.make(new WithTemplateArgs(sub, this.templateArgs()));
        break;
      }
      case "N":
      case "Z":
        t = this.name(null);
        break;
      default:
        if (!isDigit(c)) fail();
        t = this.name(null);
    }
    this.subs.push(t);
    this.leave();
    return t;
  }

  /**
   * A type anywhere but as an element of a list (parameters, template
   * arguments): a pack expansion there is no C++, and c++filt prints odd
   * things for it ("char const (& const) [20]").
   */
  private innerType(): Node {
    const t = this.type();
    if (t instanceof PackExpansion) fail();
    return t;
  }

  /**
   * A type that is no function or array type, nor may stand for one: what
   * `_Complex`, `_Imaginary` and `__vector` apply to here (c++filt prints
   * them as declarators otherwise, as in "void ( _Complex*)()").
   */
  private plainType(): Node {
    const t = this.innerType();
    if (t.dyn || t.staticFlags()[0]) fail();
    return t;
  }

  /** `T_`, and `T_ <template-args>` for a template template parameter. */
  private templateParamType(): Node {
    const p = this.templateParam();
    if (this.ch() !== "I") return p;
    if (!this.inConversion) {
      this.subs.push(p);
      return this.make(new WithTemplateArgs(p, this.templateArgs()));
    }
    // In a conversion operator's type, `cv T_ I..E` leaves the arguments to
    // the operator name unless a second argument list follows.
    const at = this.i;
    const nsubs = this.subs.length;
    const args = this.templateArgs();
    if (this.ch() === "I") {
      this.subs.push(p);
      return this.make(new WithTemplateArgs(p, args));
    }
    this.i = at;
    this.subs.length = nsubs;
    return p;
  }

  /** r, V and K in any order and number, as libiberty reads them ("rVK"). */
  private cvQuals(): string {
    const start = this.i;
    while (this.ch() in QUAL_CHARS) this.i++;
    return this.s.slice(start, this.i);
  }

  /**
   * [<qualifiers>] F [Y] <return type> <parameter types> [<ref-qualifier>] E.
   * The qualifiers (`cv` already read, then Dx/Do mixed with more cv) print
   * after the parameters, last first, then the ref-qualifier.
   */
  private functionType(cv: string): Node {
    let quals = "";
    for (const c of cv) quals = QUAL_CHARS[c] + quals;
    for (;;) {
      const c = this.ch();
      if (c in QUAL_CHARS) quals = QUAL_CHARS[c] + quals;
      else if (c === "D" && this.ch(1) === "x") quals = " transaction_safe" + quals;
      else if (c === "D" && this.ch(1) === "o") quals = " noexcept" + quals;
      else break;
      this.i += c === "D" ? 2 : 1;
    }
    this.expect("F");
    this.eat("Y");
    const ret = this.innerType();
    const params: Node[] = [];
    let ref = "";
    for (;;) {
      if (this.eat("E")) break;
      if (this.eat("RE")) {
        ref = " &";
        break;
      }
      if (this.eat("OE")) {
        ref = " &&";
        break;
      }
      if (this.atEnd()) fail();
      params.push(this.type());
    }
    if (params.length === 0) fail();
    const [, retArr, retFn] = ret.staticFlags();
    if (retArr || retFn) fail(); // no function returns an array or a function
    const list = params.length === 1 && params[0] === VOID ? [] : params;
    return this.make(new FunctionType(ret, list, quals + ref));
  }

  private arrayType(): Node {
    this.expect("A");
    let dim: Node | null = null;
    if (isDigit(this.ch())) {
      const start = this.i;
      while (isDigit(this.ch())) this.i++;
      this.work(this.i - start);
      dim = this.make(new Name(this.s.slice(start, this.i)));
    } else if (this.ch() !== "_") {
      dim = this.expression();
    }
    this.expect("_");
    const elem = this.innerType();
    if (elem.staticFlags()[2]) fail(); // no arrays of functions
    return this.make(new ArrayType(elem, dim));
  }
}

// ---------------------------------------------------------------- Rust

/**
 * Rust's legacy mangling is an Itanium nested name ending in a `17h<hash>`
 * segment, with `$LT$`-style escapes. c++filt tries it before C++ and prints
 * the path with the hash kept (its verbose mode) and any `.llvm.N` suffix
 * dropped, e.g. `<T as core::fmt::Debug>::fmt::h0123456789abcdef`.
 * Returns null when `name` is not such a symbol, and TOO_LONG when its path
 * alone is longer than DEMANGLE_MAX_OUTPUT (so would any demangling be).
 */
const TOO_LONG = Symbol("too long");
function rustLegacy(name: string): string | null | typeof TOO_LONG {
  if (!name.startsWith("_ZN") || !/^[_0-9a-zA-Z$.:@]*$/.test(name)) return null;
  const sym = name.slice(3);
  // The path ends at the last "E" that ends the symbol or precedes a ".suffix".
  let len = sym.length;
  let dotSuffix = true;
  while (len > 0 && !(dotSuffix && sym[len - 1] === "E")) {
    dotSuffix = sym[len - 1] === ".";
    len--;
  }
  if (len === 0) return null;
  len--;
  if (!(len > 19 && sym.startsWith("17h", len - 19))) return null;
  const idents: string[] = [];
  let i = 0;
  let total = 0;
  do {
    if (!isDigit(sym[i] ?? "")) return null;
    let n = sym.charCodeAt(i++) - 48;
    if (n !== 0) while (i < len && isDigit(sym[i])) n = n * 10 + sym.charCodeAt(i++) - 48;
    if (n === 0 || i + n > len) return null;
    total += n + 2;
    if (total > DEMANGLE_MAX_OUTPUT + 2) return TOO_LONG;
    idents.push(sym.slice(i, i + n));
    i += n;
  } while (i < len);
  if (!isLegacyHash(idents[idents.length - 1])) return null;
  const out = idents.map(rustIdent).join("::");
  return out.length > DEMANGLE_MAX_OUTPUT ? null : out;
}

/** `h` and 16 lowercase hex digits, at least 5 of them distinct. */
function isLegacyHash(id: string): boolean {
  return id.length === 17 && /^h[0-9a-f]{16}$/.test(id) && new Set(id.slice(1)).size >= 5;
}

const RUST_ESCAPES: Record<string, string> = { SP: "@", BP: "*", RF: "&", LT: "<", GT: ">", LP: "(", RP: ")" };

/** One legacy Rust identifier: `$LT$` → `<`, `$u20$` → ` `, `..` → `::`. */
function rustIdent(id: string): string {
  if (id.startsWith("_$")) id = id.slice(1);
  let out = "";
  let i = 0;
  while (i < id.length) {
    const c = id[i];
    if (c === "$") {
      const esc = rustEscape(id, i);
      if (esc === null) return out + id.slice(i); // unknown escape: the rest verbatim
      out += esc[0];
      i += esc[1];
    } else if (c === ".") {
      const two = id[i + 1] === ".";
      out += two ? "::" : ".";
      i += two ? 2 : 1;
    } else {
      let j = i;
      while (j < id.length && id[j] !== "$" && id[j] !== ".") j++;
      out += id.slice(i, j);
      i = j;
    }
  }
  return out;
}

/** The escape at `id[i] === "$"`: [character, length], or null. */
function rustEscape(id: string, i: number): [string, number] | null {
  const len = id.length - i - 1; // after the "$"
  if (len < 2) return null;
  const e = id.slice(i + 1);
  let c = "";
  let n = 0;
  if (e[0] === "C") {
    c = ",";
    n = 1;
  } else if (len > 2) {
    n = 2;
    const two = RUST_ESCAPES[e.slice(0, 2)];
    if (two !== undefined) c = two;
    else if (e[0] === "u" && len > 3) {
      n = 3;
      if (!/^[0-7][0-9a-f]$/.test(e.slice(1, 3))) return null;
      const code = parseInt(e.slice(1, 3), 16);
      if (code < 0x20) return null;
      c = String.fromCharCode(code);
    }
  }
  if (c === "" || len <= n || e[n] !== "$") return null;
  return [c, n + 2];
}

// ---------------------------------------------------------------- API

/** `_GLOBAL__I_x` / `_GLOBAL__D_x`: the static initialiser names c++filt knows. */
function globalCtorDtor(name: string): string | null {
  if (name.length < 12 || !"._$".includes(name[8])) return null;
  if ((name[9] !== "I" && name[9] !== "D") || name[10] !== "_") return null;
  const rest = name.slice(11);
  const inner = rest.startsWith("_Z") ? demangleItanium(rest) : rest;
  if (inner === null) return null;
  const out = (name[9] === "I" ? "global constructors keyed to " : "global destructors keyed to ") + inner;
  return out.length > DEMANGLE_MAX_OUTPUT ? null : out;
}

function demangleItanium(name: string): string | null {
  try {
    const node = new Parser(name).mangledName();
    const out = new Out();
    print(node, out);
    return out.s;
  } catch {
    // FAIL, or a RangeError from the engine's stack limit: either way, give up.
    return null;
  }
}

/**
 * Demangles an Itanium C++ ABI symbol (`_Z...`) the way `c++filt` does.
 * Returns `name` unchanged when it is not a mangled name, cannot be
 * demangled, or its demangling would exceed DEMANGLE_MAX_OUTPUT characters.
 * Never throws; work is bounded for any input.
 */
export function demangle(name: string): string {
  if (typeof name !== "string" || name.length < 3 || name.length > DEMANGLE_MAX_INPUT) return name;
  if (name.charCodeAt(0) !== 95 /* _ */) return name;
  if (name.charCodeAt(1) === 90 /* Z */) {
    const rust = rustLegacy(name);
    if (rust === TOO_LONG) return name;
    return rust ?? demangleItanium(name) ?? name;
  }
  if (name.startsWith("_GLOBAL_")) return globalCtorDtor(name) ?? name;
  return name;
}
