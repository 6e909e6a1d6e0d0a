import { parseQuantity, type QuantityValue } from "./quantity.js";

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * Kubernetes' `Quantity.Value()`: the value as an integer, rounded up away from zero (`1.5` → 2,
 * `100m` → 1). Memory sizes are byte counts, and this is the value Kubernetes controllers compare.
 */
function value(q: QuantityValue): bigint {
  if (q.scale === 0) return q.num;
  const div = 10n ** BigInt(q.scale);
  const whole = q.num / div;
  if (q.num % div === 0n) return whole;
  return q.num > 0n ? whole + 1n : whole - 1n;
}

/** Parsed integer values of the quantity texts policies meet (bounded: a hostile stream cannot grow it). */
const values = new Map<string, bigint | Error>();

function valueOf(text: string): bigint | Error {
  let v = values.get(text);
  if (v === undefined) {
    try {
      v = value(parseQuantity(text));
      if (v > INT64_MAX || v < INT64_MIN) v = new Error(`quantity "${text}" is out of int64 range`);
    } catch (err) {
      v = err as Error;
    }
    if (values.size >= 4096) values.clear();
    values.set(text, v);
  }
  return v;
}

function orThrow(v: bigint | Error): bigint {
  if (v instanceof Error) throw v;
  return v;
}

function fromDouble(d: number): bigint | Error {
  if (!Number.isFinite(d)) return new Error(`quantity ${d} is not finite`);
  const v = BigInt(d > 0 ? Math.ceil(d) : Math.floor(d));
  return v > INT64_MAX || v < INT64_MIN ? new Error(`quantity ${d} is out of int64 range`) : v;
}

/**
 * `quantityValue(x)`: the integer value of a quantity given as a string (`"2Gi"`) or as a JSON
 * number, as Kubernetes' `Quantity.Value()` computes it. Text that is not a quantity, and values
 * beyond int64, are errors, never a default: a policy that reads a size it cannot measure must
 * say so (check `isQuantity(s)` and compare with `quantity(s)`, which is exact at any size, first).
 *
 * Not in Kubernetes' CEL library: `quantity(x).asInteger()` does the same for integral quantities
 * but costs several times more per call, and sizing rules read several quantities per request.
 */
export function quantityValue(x: string | number): bigint {
  return orThrow(typeof x === "string" ? valueOf(x) : fromDouble(x));
}
