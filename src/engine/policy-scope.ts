import { BudgetExceededError } from "./budget.js";
import type { Bindings, Value, VariableScope } from "./cel/compile.js";
import { CelFault } from "./cel/codegen/values.js";
import type { CompiledPolicy, CompiledVariable } from "./policy-set.js";
import type { AdmissionRequest } from "./types.js";

/** Stops a policy's evaluation once a lookup's onMissing has decided it. */
export class PolicyStopped extends Error {}

/**
 * `request` as expressions see it: the AdmissionRequest without object and oldObject. Made on first
 * read, once per request: most expressions never read it, and copying the request costs.
 */
export class RequestView {
  private rest: unknown;

  constructor(readonly source: AdmissionRequest) {}

  get request(): unknown {
    if (this.rest === undefined) {
      const rest: Record<string, unknown> = {};
      const source = this.source as unknown as Record<string, unknown>;
      for (const key in source) if (key !== "object" && key !== "oldObject") rest[key] = source[key];
      this.rest = rest;
    }
    return this.rest;
  }
}

/**
 * What one expression reads. Every scope has the same shape (a class, not literals of varying
 * keys), so the generated code's property reads stay monomorphic.
 */
export class ExpressionBindings {
  readonly object: unknown;
  readonly oldObject: unknown;

  constructor(
    private readonly view: RequestView,
    readonly params: unknown,
    readonly variables: VariableScope | undefined,
    /** The object an indexQuery's anyOf is looking at. */
    readonly item: unknown = undefined,
  ) {
    this.object = view.source.object ?? null;
    this.oldObject = view.source.oldObject ?? null;
  }

  get request(): unknown {
    return this.view.request;
  }

  /** The same scope with `item` bound. */
  withItem(item: unknown): Bindings {
    return new ExpressionBindings(this.view, this.params, this.variables, item).asBindings();
  }

  asBindings(): Bindings {
    return this as unknown as Bindings;
  }
}

/** A policy's variables by name, and in declaration order: built once per policy. */
interface VariableTable {
  readonly slot: ReadonlyMap<string, number>;
  readonly list: readonly CompiledVariable[];
}

const tables = new WeakMap<CompiledPolicy, VariableTable>();

function tableOf(policy: CompiledPolicy): VariableTable {
  let t = tables.get(policy);
  if (!t) tables.set(policy, (t = { slot: new Map(policy.variables.map((v, i) => [v.name, i])), list: policy.variables }));
  return t;
}

/** How a variable's value is found: an expression, or a lookup in the cluster context. */
export interface VariableResolver {
  resolve(variable: CompiledVariable): Value;
}

/**
 * A policy's variables for one request: each is computed on first use and remembered in its slot,
 * so naming a value costs nothing and an unused one is never computed. A variable that fails is a
 * CEL error where it is used.
 */
export class LazyVariables implements VariableScope {
  private readonly table: VariableTable;
  /** Made on first use: a validation may read no variable at all. */
  private values: (Value | CelFault | undefined)[] | undefined;

  constructor(
    policy: CompiledPolicy,
    private readonly resolver: VariableResolver,
  ) {
    this.table = tableOf(policy);
  }

  get(name: string): Value {
    const slot = this.table.slot.get(name);
    if (slot === undefined) throw new CelFault(`field not found: ${name}`);
    return this.at(slot);
  }

  /** Settles a variable's value from outside (a missing lookup reads as null afterwards). */
  set(name: string, value: Value): void {
    const slot = this.table.slot.get(name);
    if (slot !== undefined) this.slots()[slot] = value;
  }

  all(): Value {
    const m = new Map<string, Value>();
    for (const [name, slot] of this.table.slot) m.set(name, this.at(slot));
    return m;
  }

  private slots(): (Value | CelFault | undefined)[] {
    return (this.values ??= new Array<Value | CelFault | undefined>(this.table.list.length));
  }

  private at(slot: number): Value {
    const values = this.slots();
    let v = values[slot];
    if (v === undefined) {
      try {
        v = this.resolver.resolve(this.table.list[slot] as CompiledVariable);
      } catch (err) {
        if (err instanceof PolicyStopped || err instanceof BudgetExceededError) throw err;
        v = new CelFault(err instanceof Error || err instanceof CelFault ? err.message : String(err));
      }
      values[slot] = v;
    }
    if (v instanceof CelFault) throw v;
    return v;
  }
}
