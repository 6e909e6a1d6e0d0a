import { celList, celMap, isCelList, isCelMap, type CelValue } from "@bufbuild/cel";

/** JSON as it comes off the wire or out of YAML. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

function scalarToCel(value: JsonValue | undefined): CelValue | undefined {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "number":
      return Number.isInteger(value) ? BigInt(value) : value;
    case "string":
    case "boolean":
      return value;
  }
  return undefined;
}

/** A container being converted: its source, and the slots its converted children go into. */
interface Frame {
  entries: [string, JsonValue][] | JsonValue[];
  next: number;
  list: CelValue[] | undefined;
  map: Map<string, CelValue> | undefined;
  keys: string[] | undefined;
}

/**
 * Kubernetes' CEL sees integer fields as `int`; JSON has only doubles. Converting once per object
 * (integral numbers to bigint, containers to CEL maps and lists) lets `cores % 8` work and lets
 * every expression of every policy share one converted tree.
 *
 * Iterative, with an explicit stack: the API server accepts objects nested 10,000 levels deep
 * (ModuleConfig settings are free-form), deeper than the JavaScript stack goes.
 */
export function toCel(value: JsonValue | undefined): CelValue {
  const scalar = scalarToCel(value);
  if (scalar !== undefined) return scalar;
  const open = (v: JsonValue[] | JsonObject): Frame =>
    Array.isArray(v)
      ? { entries: v, next: 0, list: new Array<CelValue>(v.length), map: undefined, keys: undefined }
      : { entries: v as unknown as JsonValue[], next: 0, list: undefined, map: new Map(), keys: Object.keys(v) };
  const close = (f: Frame): CelValue => (f.list ? celList(f.list) : celMap(f.map as Map<string, CelValue>));
  const stack: Frame[] = [open(value as JsonValue[] | JsonObject)];
  let done: CelValue = null;
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Frame;
    const count = top.keys ? top.keys.length : (top.entries as JsonValue[]).length;
    if (top.next >= count) {
      stack.pop();
      done = close(top);
      const parent = stack[stack.length - 1];
      if (parent) place(parent, done);
      continue;
    }
    const child = top.keys ? (top.entries as unknown as JsonObject)[top.keys[top.next] as string] : (top.entries as JsonValue[])[top.next];
    const s = scalarToCel(child);
    if (s !== undefined) place(top, s);
    else stack.push(open(child as JsonValue[] | JsonObject));
  }
  return done;
}

function place(frame: Frame, value: CelValue): void {
  if (frame.list) frame.list[frame.next] = value;
  else (frame.map as Map<string, CelValue>).set((frame.keys as string[])[frame.next] as string, value);
  frame.next++;
}

const converted = new WeakMap<object, CelValue>();

/** toCel for objects that do not change once stored (cached context objects). */
export function toCelCached(value: JsonObject): CelValue {
  let v = converted.get(value);
  if (v === undefined) {
    v = toCel(value);
    converted.set(value, v);
  }
  return v;
}

function scalarFromCel(value: CelValue): JsonValue | undefined {
  if (typeof value === "bigint") return Number(value);
  if (value === null || typeof value === "boolean" || typeof value === "number" || typeof value === "string") return value;
  if (isCelList(value) || isCelMap(value)) return undefined;
  // Quantity, IP and CIDR values carry their canonical text.
  const text = (value as { message?: { v?: unknown } }).message?.v;
  return typeof text === "string" ? text : String(value);
}

/** The inverse, for values that leave the engine (parameters in logs, lookup keys); iterative like toCel. */
export function fromCel(value: CelValue): JsonValue {
  const scalar = scalarFromCel(value);
  if (scalar !== undefined) return scalar;
  type Out = { out: JsonValue[] | JsonObject; pending: Iterator<[CelValue, CelValue]> | Iterator<CelValue> };
  const open = (v: CelValue): Out =>
    isCelList(v) ? { out: [] as JsonValue[], pending: v[Symbol.iterator]() } : { out: {} as JsonObject, pending: (v as Iterable<[CelValue, CelValue]>)[Symbol.iterator]() };
  const root = open(value);
  const stack: Out[] = [root];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Out;
    const step = top.pending.next();
    if (step.done) {
      stack.pop();
      continue;
    }
    let key: string | undefined;
    let item: CelValue;
    if (Array.isArray(top.out)) item = step.value as CelValue;
    else [key, item] = [String((step.value as [CelValue, CelValue])[0]), (step.value as [CelValue, CelValue])[1]];
    const s = scalarFromCel(item);
    let json: JsonValue;
    if (s !== undefined) json = s;
    else {
      const child = open(item);
      json = child.out;
      stack.push(child);
    }
    if (Array.isArray(top.out)) top.out.push(json);
    // A key "__proto__" (JSON.parse makes it an own property) must stay data, not become a prototype.
    else Object.defineProperty(top.out, key as string, { value: json, enumerable: true, writable: true, configurable: true });
  }
  return root.out;
}
