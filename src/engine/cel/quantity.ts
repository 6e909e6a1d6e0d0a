/**
 * Kubernetes resource quantities (`resource.Quantity`) as exact rationals.
 *
 * A quantity's value is `num / 10^scale`. Binary suffixes multiply `num` by a power of two, so
 * every quantity the API server accepts is represented exactly and compared without rounding.
 */
export interface QuantityValue {
  readonly num: bigint;
  readonly scale: number;
}

const BINARY: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

// Same grammar as k8s.io/apimachinery/pkg/api/resource: <sign><digits>[.<digits>]<suffix>
const QUANTITY = /^([+-]?)(\d*)(?:\.(\d*))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

export function parseQuantity(text: string): QuantityValue {
  const m = QUANTITY.exec(text);
  if (!m || (m[2] === "" && (m[3] === undefined || m[3] === ""))) {
    throw new Error(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': "${text}"`);
  }
  const sign = m[1] === "-" ? -1n : 1n;
  const whole = m[2] ?? "";
  const frac = m[3] ?? "";
  const suffix = m[4] ?? "";
  let num = BigInt((whole + frac) || "0") * sign;
  let scale = frac.length;
  if (suffix in BINARY) {
    num *= BINARY[suffix] as bigint;
  } else {
    // "E" alone is the exa suffix; only "E" followed by digits is an exponent.
    const exp = suffix.length > 1 && (suffix[0] === "e" || suffix[0] === "E") ? Number(suffix.slice(1)) : (DECIMAL[suffix] as number);
    if (Math.abs(exp) > 1000) throw new Error(`quantity exponent out of range: "${text}"`);
    scale -= exp;
  }
  return normalize(num, scale);
}

export function isQuantity(text: string): boolean {
  try {
    parseQuantity(text);
    return true;
  } catch {
    return false;
  }
}

function normalize(num: bigint, scale: number): QuantityValue {
  if (num === 0n) return { num: 0n, scale: 0 };
  while (scale > 0 && num % 10n === 0n) {
    num /= 10n;
    scale--;
  }
  if (scale < 0) {
    num *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { num, scale };
}

function align(a: QuantityValue, b: QuantityValue): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [a.num * 10n ** BigInt(scale - a.scale), b.num * 10n ** BigInt(scale - b.scale), scale];
}

export function compareQuantity(a: QuantityValue, b: QuantityValue): -1 | 0 | 1 {
  // Sizes written in the same notation (most memory sizes are whole bytes) need no scaling.
  if (a.scale === b.scale) return a.num < b.num ? -1 : a.num > b.num ? 1 : 0;
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function addQuantity(a: QuantityValue, b: QuantityValue): QuantityValue {
  const [x, y, scale] = align(a, b);
  return normalize(x + y, scale);
}

export function negateQuantity(a: QuantityValue): QuantityValue {
  return { num: -a.num, scale: a.scale };
}

export function fromInteger(n: bigint): QuantityValue {
  return normalize(n, 0);
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/** As Quantity.AsInt64: whole, and within int64. */
export function isIntegerQuantity(q: QuantityValue): boolean {
  return q.scale === 0 && q.num <= INT64_MAX && q.num >= INT64_MIN;
}

export function multiplyQuantity(q: QuantityValue, n: bigint): QuantityValue {
  return normalize(q.num * n, q.scale);
}

/** Integer division, truncating toward zero, as Quantity.QuoIntegerDivision. */
export function divideQuantityInteger(q: QuantityValue, n: bigint): QuantityValue {
  if (n === 0n) throw new Error("division by zero error");
  return normalize(q.num / 10n ** BigInt(q.scale) / n, 0);
}

export function quantityAsInteger(q: QuantityValue): bigint {
  if (q.scale !== 0) throw new Error("cannot convert value to integer: it has a fractional part");
  if (q.num > INT64_MAX || q.num < INT64_MIN) throw new Error("cannot convert value to integer: out of int64 range");
  return q.num;
}

export function quantityAsFloat(q: QuantityValue): number {
  return Number(q.num) / 10 ** q.scale;
}

/** A stable text form, used as the value's identity (so `==` compares values, not spellings). */
export function canonicalKey(q: QuantityValue): string {
  return q.scale === 0 ? q.num.toString() : `${q.num}e-${q.scale}`;
}

export function parseCanonicalKey(key: string): QuantityValue {
  const at = key.indexOf("e-");
  return at < 0 ? { num: BigInt(key), scale: 0 } : { num: BigInt(key.slice(0, at)), scale: Number(key.slice(at + 2)) };
}

/**
 * Formats a quantity in the shortest exact form with a Kubernetes suffix: 2Gi, 1536Mi, 50G, 500m.
 * A computed value has no spelling of its own, so the shorter of the binary and decimal forms
 * wins (binary on a tie, as memory sizes are usually written).
 */
export function formatQuantity(q: QuantityValue): string {
  if (q.num === 0n) return "0";
  const sign = q.num < 0n ? "-" : "";
  const abs = q.num < 0n ? -q.num : q.num;
  if (q.scale === 0) {
    let binary = abs.toString();
    for (const suffix of ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"]) {
      const unit = BINARY[suffix] as bigint;
      if (abs % unit === 0n) {
        binary = `${abs / unit}${suffix}`;
        break;
      }
    }
    let decimal = abs.toString();
    for (const [suffix, exp] of [["E", 18], ["P", 15], ["T", 12], ["G", 9], ["M", 6], ["k", 3]] as const) {
      const unit = 10n ** BigInt(exp);
      if (abs % unit === 0n) {
        decimal = `${abs / unit}${suffix}`;
        break;
      }
    }
    return sign + (decimal.length < binary.length ? decimal : binary);
  }
  // Fractions: milli, micro or nano when exact, else a plain decimal.
  for (const [suffix, exp] of [["m", 3], ["u", 6], ["n", 9]] as const) {
    if (q.scale <= exp) return `${sign}${abs * 10n ** BigInt(exp - q.scale)}${suffix}`;
  }
  const digits = abs.toString().padStart(q.scale + 1, "0");
  return `${sign}${digits.slice(0, digits.length - q.scale)}.${digits.slice(digits.length - q.scale)}`;
}
