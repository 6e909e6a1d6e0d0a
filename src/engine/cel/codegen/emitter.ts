import { celUint } from "@bufbuild/cel";
import type { Expr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import { dispatcher, isLibraryFunction } from "./calls.js";
import { planSubtree, type EnvironmentFor, type Planned } from "./fallback.js";
import { subtreeSpec, type ConstantSpec } from "./constants.js";
import { TYPE_IDENTS } from "./types.js";
import { Double, TypeBox } from "./values.js";

/*
 * Turns a parsed CEL expression into the body of a JavaScript function. Every node becomes a
 * JavaScript expression, preceded where needed by statements (error absorption, loops). CEL
 * errors are thrown CelFaults; `&&`, `||`, `?:` and comprehension steps catch them where CEL
 * absorbs errors. Constants the code needs (dispatchers, planned fallbacks, literals JavaScript
 * cannot spell) are passed in `$k`.
 */

interface Local {
  readonly js: string;
  /** An accumulator, which may hold an error value: reading it rethrows. */
  readonly accu: boolean;
}
type Scope = ReadonlyMap<string, Local>;

type Kind = Expr["exprKind"];
type Call = Extract<Kind, { case: "callExpr" }>["value"];
type Comprehension = Extract<Kind, { case: "comprehensionExpr" }>["value"];

const RELATIONS: Record<string, string> = { "_<_": "lt", "_<=_": "le", "_>_": "gt", "_>=_": "ge" };
const ARITHMETIC: Record<string, string> = { "_-_": "sub", "_*_": "mul", "_/_": "div", "_%_": "mod" };

export interface Emitted {
  readonly body: string;
  readonly constants: readonly unknown[];
  /** How to rebuild each constant in another process; undefined when one cannot be (a fallback with a custom environment). */
  readonly specs: readonly ConstantSpec[] | undefined;
  /** Sub-expressions left to the interpreter, for tests and diagnostics. */
  readonly fallbacks: number;
}

export function emit(root: Expr, roots: ReadonlySet<string>, env?: EnvironmentFor, container = ""): Emitted {
  const e = new Emitter(roots, env, container);
  const result = e.expr(root, new Map());
  e.push(`return ${result};`);
  const memos = e.variableMemos();
  const body = (memos ? [memos, ...e.lines] : e.lines).join("\n");
  return { body, constants: e.constants, specs: e.portable ? e.specs : undefined, fallbacks: e.fallbacks };
}

class Emitter {
  lines: string[] = [];
  readonly constants: unknown[] = [];
  readonly specs: ConstantSpec[] = [];
  /** Whether every constant has a spec. */
  portable = true;
  fallbacks = 0;
  private temps = 0;

  constructor(
    private readonly roots: ReadonlySet<string>,
    private readonly env: EnvironmentFor | undefined,
    private readonly container: string,
  ) {}

  push(line: string): void {
    this.lines.push(line);
  }

  /** `variables.NAME` read by this expression: the local that remembers it for the rest of this call. */
  private readonly variableLocals = new Map<string, string>();

  /**
   * A policy variable, read through the scope once per evaluation of this expression and then from
   * a local: an expression often names the same variable several times. The first read still happens
   * where CEL reaches it, so a variable that fails is an error there and only there. (No value is
   * undefined: null, as JSON says it, is a value.)
   */
  private variableRead(field: string): string {
    let local = this.variableLocals.get(field);
    if (local === undefined) this.variableLocals.set(field, (local = `$v${this.variableLocals.size}`));
    return `(${local} !== undefined ? ${local} : (${local} = $b.variables.get(${JSON.stringify(field)})))`;
  }

  /** The declaration of the variable locals, if any. */
  variableMemos(): string | undefined {
    return this.variableLocals.size ? `let ${[...this.variableLocals.values()].join(", ")};` : undefined;
  }

  private temp(prefix = "t"): string {
    return `${prefix}${this.temps++}`;
  }

  private constant(v: unknown, spec: ConstantSpec | undefined): string {
    this.constants.push(v);
    if (spec) this.specs.push(spec);
    else this.portable = false;
    return `$k[${this.constants.length - 1}]`;
  }

  /** Emits `fn` into a fresh statement list, returning those statements and its expression. */
  private block(fn: () => string): { code: string; result: string } {
    const saved = this.lines;
    this.lines = [];
    const result = fn();
    const code = this.lines.join("\n");
    this.lines = saved;
    return { code, result };
  }

  /** Evaluates `e` into a new variable that holds either its value or the CelFault it raised. */
  private captured(e: Expr, scope: Scope, asBool: boolean): string {
    const t = this.temp();
    const b = this.block(() => this.expr(e, scope));
    this.push(`let ${t};`);
    this.push(`try {\n${b.code}\n${t} = ${b.result};\n} catch (e) { ${t} = $rt.fault(e); }`);
    if (asBool) this.push(`if (typeof ${t} !== "boolean" && !(${t} instanceof $rt.CelFault)) ${t} = $rt.notBool(${t});`);
    return t;
  }

  expr(e: Expr, scope: Scope): string {
    const kind = e.exprKind;
    switch (kind.case) {
      case "constExpr":
        return this.literal(kind.value.constantKind);
      case "identExpr":
        return this.ident(e, kind.value.name, scope);
      case "selectExpr": {
        const { operand, field, testOnly } = kind.value;
        if (!operand) return this.fallback(e, scope);
        if (!testOnly && operand.exprKind.case === "identExpr" && operand.exprKind.value.name === "variables" && this.isRoot("variables", scope)) {
          return this.variableRead(field);
        }
        if (this.qualifiedName(e, scope)) return this.fallback(e, scope);
        return testOnly ? this.has(this.expr(operand, scope), field) : this.select(this.expr(operand, scope), field);
      }
      case "callExpr":
        return this.call(e, kind.value, scope);
      case "listExpr":
        if (kind.value.optionalIndices.length) return this.fallback(e, scope);
        return `[${kind.value.elements.map((x) => this.expr(x, scope)).join(", ")}]`;
      case "structExpr": {
        const s = kind.value;
        if (s.messageName || s.entries.some((x) => x.optionalEntry || x.keyKind.case !== "mapKey")) return this.fallback(e, scope);
        const parts: string[] = [];
        for (const entry of s.entries) {
          if (entry.keyKind.case !== "mapKey" || !entry.value) return this.fallback(e, scope);
          parts.push(this.expr(entry.keyKind.value, scope), this.expr(entry.value, scope));
        }
        return `$rt.mapOf([${parts.join(", ")}])`;
      }
      case "comprehensionExpr":
        return this.comprehension(e, kind.value, scope);
      default:
        return this.fallback(e, scope);
    }
  }

  /**
   * `x.f` inline, so each site keeps its own property cache (JSON objects of one kind share
   * shapes): a plain object holding the key answers at once, anything else takes the helper.
   */
  private select(x: string, field: string): string {
    const f = JSON.stringify(field);
    if (field in Object.prototype) return `$rt.select(${x}, ${f})`;
    const n = this.temps++;
    this.push(`const s${n} = ${x};`);
    this.push(`let v${n};`);
    this.push(`if (s${n} == null || (v${n} = s${n}[${f}]) === undefined || s${n}.constructor !== Object) v${n} = $rt.select(s${n}, ${f});`);
    return `v${n}`;
  }

  private has(x: string, field: string): string {
    const f = JSON.stringify(field);
    if (field in Object.prototype) return `$rt.has(${x}, ${f})`;
    const n = this.temps++;
    this.push(`const s${n} = ${x};`);
    return `(s${n} != null && s${n}.constructor === Object ? (s${n}[${f}] ?? null) !== null : $rt.has(s${n}, ${f}))`;
  }

  private literal(c: Extract<Kind, { case: "constExpr" }>["value"]["constantKind"]): string {
    switch (c.case) {
      case "int64Value":
        return Number.isSafeInteger(Number(c.value)) ? String(Number(c.value)) : `${c.value}n`;
      case "uint64Value":
        return this.constant(celUint(c.value), ["uint", String(c.value)]);
      case "doubleValue":
        return Number.isFinite(c.value) && !Number.isInteger(c.value)
          ? String(c.value)
          : this.constant(Number.isInteger(c.value) ? new Double(c.value) : c.value, [Number.isInteger(c.value) ? "double" : "number", Object.is(c.value, -0) ? "-0" : String(c.value)]);
      case "stringValue":
        return JSON.stringify(c.value);
      case "boolValue":
        return String(c.value);
      case "nullValue":
        return "null";
      case "bytesValue":
        return this.constant(c.value, ["bytes", Buffer.from(c.value).toString("base64")]);
      default:
        throw new Error(`unsupported constant ${c.case}`);
    }
  }

  private isRoot(name: string, scope: Scope): boolean {
    return !scope.has(name) && this.roots.has(name);
  }

  private ident(e: Expr, name: string, scope: Scope): string {
    const local = scope.get(name);
    if (local) return local.accu ? `$rt.read(${local.js})` : local.js;
    if (name === "variables" && this.roots.has(name)) return `$b.variables.all()`;
    // In a container "a.b", `y` means "a.b.y", else "a.y", else "y", whichever is bound first.
    const parts = this.container ? this.container.split(".") : [];
    for (let i = parts.length; i > 0; i--) {
      const qualified = `${parts.slice(0, i).join(".")}.${name}`;
      if (this.roots.has(qualified)) return `($b[${JSON.stringify(qualified)}] ?? null)`;
    }
    if (this.roots.has(name)) return `($b[${JSON.stringify(name)}] ?? null)`;
    const type = TYPE_IDENTS.get(name);
    if (type) return this.constant(new TypeBox(type as TypeBox["t"]), ["type", name]);
    return this.fallback(e, scope);
  }

  /** A dotted name whose head is not a variable: a qualified identifier the interpreter resolves. */
  private qualifiedName(e: Expr, scope: Scope): boolean {
    let x: Expr | undefined = e;
    while (x?.exprKind.case === "selectExpr") x = x.exprKind.value.operand;
    return x?.exprKind.case === "identExpr" && !scope.has(x.exprKind.value.name) && !this.roots.has(x.exprKind.value.name);
  }

  private call(e: Expr, c: Call, scope: Scope): string {
    const args = c.args;
    const [a, b] = args as [Expr, Expr];
    if (!c.target) {
      switch (c.function) {
        case "_&&_":
        case "_||_":
          return this.logic(c.function === "_&&_", a, b, scope);
        case "_?_:_":
          return this.conditional(args[0] as Expr, args[1] as Expr, args[2] as Expr, scope);
        case "@not_strictly_false": {
          const t = this.captured(a, scope, false);
          return `(${t} !== false)`;
        }
        case "_==_":
        case "_!=_": {
          const r = this.equality(a, b, scope);
          return c.function === "_==_" ? r : `!${r}`;
        }
        case "!_":
          return `$rt.not(${this.expr(a, scope)})`;
        case "-_":
          return `$rt.neg(${this.expr(a, scope)})`;
        case "_+_":
          return `$rt.add(${this.expr(a, scope)}, ${this.expr(b, scope)}, $c)`;
        case "_[_]":
          return `$rt.index(${this.expr(a, scope)}, ${this.expr(b, scope)})`;
        case "@in":
          return `$rt.inside(${this.expr(a, scope)}, ${this.expr(b, scope)}, $c)`;
      }
      const rel = RELATIONS[c.function] ?? ARITHMETIC[c.function];
      if (rel && args.length === 2) return `$rt.${rel}(${this.expr(a, scope)}, ${this.expr(b, scope)})`;
      if (c.function.startsWith("_") || c.function.startsWith("@") || c.function.startsWith("optional.")) return this.fallback(e, scope);
      return this.invoke(c.function, false, args, scope);
    }
    const target = c.target;
    if (target.exprKind.case === "identExpr" && !scope.has(target.exprKind.value.name) && !this.roots.has(target.exprKind.value.name)) {
      // A namespaced function such as ip.isCanonical(s) parses as a method call on an identifier.
      const qualified = `${target.exprKind.value.name}.${c.function}`;
      if (isLibraryFunction(qualified)) return this.invoke(qualified, false, args, scope);
      return this.fallback(e, scope);
    }
    return this.invoke(c.function, true, [target, ...args], scope);
  }

  private invoke(name: string, member: boolean, args: readonly Expr[], scope: Scope): string {
    const values = args.map((x) => this.expr(x, scope));
    return `${this.constant(dispatcher(name, member, args.length), ["call", name, member, args.length])}($c${values.map((v) => `, ${v}`).join("")})`;
  }

  /** `==` with a literal side compiles to `===`: CEL equality across types is false, never an error. */
  private equality(a: Expr, b: Expr, scope: Scope): string {
    const x = this.expr(a, scope);
    const y = this.expr(b, scope);
    if (strictLiteral(b)) return `(${x} === ${y})`;
    if (strictLiteral(a)) return `(${y} === ${x})`;
    return `$rt.eq(${x}, ${y})`;
  }

  /**
   * CEL's commutative `&&` / `||`: false (true) wins over an error on either side; otherwise an
   * error, or a non-bool operand, is the result.
   */
  private logic(and: boolean, a: Expr, b: Expr, scope: Scope): string {
    const stop = and ? "false" : "true";
    const l = this.captured(a, scope, true);
    this.push(`if (${l} !== ${stop}) {`);
    const r = this.captured(b, scope, true);
    this.push(`if (${r} === ${stop} || ${l} === ${and ? "true" : "false"}) ${l} = ${r};`);
    this.push(`}`);
    this.push(`if (typeof ${l} !== "boolean") throw ${l};`);
    return l;
  }

  private conditional(cond: Expr, yes: Expr, no: Expr, scope: Scope): string {
    const c = this.expr(cond, scope);
    const t = this.temp();
    this.push(`let ${t};`);
    this.push(`const ${t}c = ${c};`);
    const y = this.block(() => this.expr(yes, scope));
    const n = this.block(() => this.expr(no, scope));
    this.push(`if (${t}c === true) {\n${y.code}\n${t} = ${y.result};\n} else if (${t}c === false) {\n${n.code}\n${t} = ${n.result};\n} else throw $rt.badCondition(${t}c);`);
    return t;
  }

  private comprehension(e: Expr, c: Comprehension, scope: Scope): string {
    const { iterRange, accuInit, loopCondition, loopStep, result } = c;
    if (!iterRange || !accuInit || !loopCondition || !loopStep || !result || c.iterVar2) return this.fallback(e, scope);
    const n = this.temps++;
    const acc = `acc${n}`;
    const range = `range${n}`;
    const item = `item${n}`;
    const appendOnly = isEmptyList(accuInit) && isIdent(result, c.accuVar) && !mentions(loopCondition, c.accuVar) && appends(loopStep, c.accuVar);
    this.push(`let ${acc} = ${appendOnly ? "[]" : this.expr(accuInit, scope)};`);
    this.push(`const ${range} = $rt.rangeOf(${this.expr(iterRange, scope)});`);
    this.push(`for (let i${n} = 0; i${n} < ${range}.length; i${n}++) {`);
    this.push(`$c.charge(1);`);
    this.push(`const ${item} = ${range}[i${n}];`);
    const inner = new Map(scope);
    inner.set(c.iterVar, { js: item, accu: false });
    inner.set(c.accuVar, { js: acc, accu: !appendOnly });
    if (!isTrue(loopCondition)) {
      const k = this.expr(loopCondition, inner);
      this.push(`if (${k} !== true) break;`);
    }
    if (appendOnly) {
      // map() and filter(): push onto a list no other code can see yet, instead of copying it.
      this.appendStep(loopStep, c.accuVar, acc, inner);
    } else {
      const s = this.block(() => this.expr(loopStep, inner));
      this.push(`try {\n${s.code}\n${acc} = ${s.result};\n} catch (e) { ${acc} = $rt.fault(e); }`);
    }
    this.push(`}`);
    const after = new Map(scope);
    after.set(c.accuVar, { js: acc, accu: !appendOnly });
    return this.expr(result, after);
  }

  /** Emits a step that `appends` accepted: an error leaves the loop, as the result would be one anyway. */
  private appendStep(step: Expr, accu: string, acc: string, scope: Scope): void {
    const k = step.exprKind;
    if (k.case === "identExpr") return;
    if (k.case === "callExpr" && k.value.function === "_+_") {
      const item = (k.value.args[1] as Expr).exprKind as Extract<Kind, { case: "listExpr" }>;
      this.push(`${acc}.push(${this.expr(item.value.elements[0] as Expr, scope)});`);
      return;
    }
    const [cond, yes, no] = (k as Extract<Kind, { case: "callExpr" }>).value.args as [Expr, Expr, Expr];
    const c = this.expr(cond, scope);
    const t = this.temp();
    this.push(`const ${t} = ${c};`);
    this.push(`if (${t} === true) {`);
    this.appendStep(yes, accu, acc, scope);
    this.push(`} else if (${t} === false) {`);
    this.appendStep(no, accu, acc, scope);
    this.push(`} else throw $rt.badCondition(${t});`);
  }

  /** Leaves a sub-expression to the interpreter, binding the variables it reads. */
  private fallback(e: Expr, scope: Scope): string {
    // Dotted root names ("a.b") are bound as such: the interpreter resolves qualified names and containers against them.
    const names = [...new Set([...freeNames(e), ...[...this.roots].filter((r) => r.includes("."))])].filter((n) => scope.has(n) || this.roots.has(n));
    const planned: Planned = planSubtree(e, names, this.env);
    this.fallbacks++;
    const values = names.map((n) => {
      const local = scope.get(n);
      if (local) return local.accu ? `$rt.read(${local.js})` : local.js;
      return n === "variables" ? `$b.variables.all()` : `($b[${JSON.stringify(n)}] ?? null)`;
    });
    return `${this.constant(planned, this.env ? undefined : subtreeSpec(e, names))}([${values.join(", ")}])`;
  }
}

function strictLiteral(e: Expr): boolean {
  if (e.exprKind.case !== "constExpr") return false;
  const c = e.exprKind.value.constantKind.case;
  return c === "stringValue" || c === "boolValue" || c === "nullValue";
}

function isTrue(e: Expr): boolean {
  return e.exprKind.case === "constExpr" && e.exprKind.value.constantKind.case === "boolValue" && e.exprKind.value.constantKind.value;
}

function isEmptyList(e: Expr): boolean {
  return e.exprKind.case === "listExpr" && e.exprKind.value.elements.length === 0 && e.exprKind.value.optionalIndices.length === 0;
}

function isIdent(e: Expr, name: string): boolean {
  return e.exprKind.case === "identExpr" && e.exprKind.value.name === name;
}

/** A step that only keeps the accumulator or appends one element to it (map, filter). */
function appends(step: Expr, accu: string): boolean {
  const k = step.exprKind;
  if (isIdent(step, accu)) return true;
  if (k.case !== "callExpr" || k.value.target) return false;
  const args = k.value.args;
  if (k.value.function === "_+_" && args.length === 2) {
    const item = (args[1] as Expr).exprKind;
    return isIdent(args[0] as Expr, accu) && item.case === "listExpr" && item.value.elements.length === 1 && item.value.optionalIndices.length === 0 && !mentions(args[1] as Expr, accu);
  }
  if (k.value.function === "_?_:_" && args.length === 3) {
    return !mentions(args[0] as Expr, accu) && appends(args[1] as Expr, accu) && appends(args[2] as Expr, accu);
  }
  return false;
}

function children(e: Expr): Expr[] {
  const k = e.exprKind;
  switch (k.case) {
    case "selectExpr":
      return k.value.operand ? [k.value.operand] : [];
    case "callExpr":
      return [...(k.value.target ? [k.value.target] : []), ...k.value.args];
    case "listExpr":
      return k.value.elements;
    case "structExpr":
      return k.value.entries.flatMap((x) => [...(x.keyKind.case === "mapKey" ? [x.keyKind.value] : []), ...(x.value ? [x.value] : [])]);
    case "comprehensionExpr": {
      const c = k.value;
      return [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result].filter((x): x is Expr => x !== undefined);
    }
    default:
      return [];
  }
}

function mentions(e: Expr, name: string): boolean {
  return freeNames(e).has(name);
}

/** Identifiers an expression reads (comprehension variables it binds itself excluded). */
function freeNames(e: Expr, out = new Set<string>()): Set<string> {
  const k = e.exprKind;
  if (k.case === "identExpr") out.add(k.value.name);
  else if (k.case === "comprehensionExpr") {
    const c = k.value;
    for (const x of [c.iterRange, c.accuInit]) if (x) freeNames(x, out);
    const inner = new Set<string>();
    for (const x of [c.loopCondition, c.loopStep, c.result]) if (x) freeNames(x, inner);
    for (const n of inner) if (n !== c.iterVar && n !== c.iterVar2 && n !== c.accuVar) out.add(n);
  } else for (const child of children(e)) freeNames(child, out);
  return out;
}
