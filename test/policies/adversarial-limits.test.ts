import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadPolicySet, type JsonObject, type JsonValue, type PolicySet } from "../../src/engine/index.js";
import { policyLoadOptions, readPolicySources, SHIPPED_POLICIES } from "../../src/policy-files/policy-dir.js";
import { fixture } from "../support/fixtures.js";
import { judgeCleanly as judgeWith, type Judgement, type JudgeOptions } from "../support/judge.js";
import { settingsOf } from "../support/moduleconfig.js";

/*
 * Every limit of the shipped set, attacked: generated inputs around and beyond each boundary, in
 * every notation the CRD schemas accept, each verdict compared with a reference written here, a
 * few lines per rule, that shares nothing with the policies' CEL or the engine's quantity and CIDR
 * code. The generator is seeded, so a failure reproduces.
 */

function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = random(20261203);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));

// ---- Reference: Kubernetes quantities as exact fractions n/d. ----
const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
interface Fraction {
  n: bigint;
  d: bigint;
}
function refQuantity(s: string): Fraction | undefined {
  const m = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/.exec(s);
  if (!m) return undefined;
  const [whole = "", frac = ""] = (m[2] as string).split(".");
  let n = BigInt((whole || "0") + frac) * (m[1] === "-" ? -1n : 1n);
  let d = 10n ** BigInt(frac.length);
  const suffix = m[3] ?? "";
  if (suffix in BINARY) return { n: n << BigInt(BINARY[suffix] as number), d };
  const exp = suffix in DECIMAL ? (DECIMAL[suffix] as number) : Number(suffix.slice(1));
  if (Math.abs(exp) > 1000) return undefined;
  if (exp >= 0) n *= 10n ** BigInt(exp);
  else d *= 10n ** BigInt(-exp);
  return { n, d };
}
const cmp = (a: Fraction, b: Fraction) => (a.n * b.d < b.n * a.d ? -1 : a.n * b.d > b.n * a.d ? 1 : 0);
const bytes = (b: bigint): Fraction => ({ n: b, d: 1n });
/** Quantity.Value(): rounded up away from zero. */
const ceil = (q: Fraction) => (q.n % q.d === 0n ? q.n / q.d : q.n / q.d + (q.n > 0n ? 1n : -1n));

/** Spellings of exactly `b` bytes, in the notations the CRD pattern admits. */
function spellings(b: bigint): string[] {
  const out = [b.toString(), `+${b}`, `${b * 1000n}m`, `${b * 1000000000n}n`];
  for (const [suffix, bits] of Object.entries(BINARY)) {
    const unit = 1n << BigInt(bits);
    if (b % unit === 0n) out.push(`${b / unit}${suffix}`);
    // A fraction of the unit, when it ends: 1.5Gi, 0.25Ti.
    for (const digits of [1, 2, 3, 10]) {
      const scaled = b * 10n ** BigInt(digits);
      if (scaled % unit === 0n && b % unit !== 0n) {
        const v = (scaled / unit).toString().padStart(digits + 1, "0");
        out.push(`${v.slice(0, -digits)}.${v.slice(-digits)}${suffix}`);
        break;
      }
    }
  }
  for (const [suffix, exp] of Object.entries(DECIMAL)) {
    if (exp > 0 && b % 10n ** BigInt(exp) === 0n) out.push(`${b / 10n ** BigInt(exp)}${suffix}`);
  }
  const digits = b.toString();
  if (digits.length > 1) {
    out.push(`${digits[0]}.${digits.slice(1)}e${digits.length - 1}`, `${digits[0]}.${digits.slice(1)}E+${digits.length - 1}`, `${digits}0e-1`, `.${digits}e${digits.length}`);
  }
  return out;
}

const HOSTILE_SIZES = ["-8Gi", "1e30", "99999999999999999999999Ei", "1e400Gi", "1e1001", "-0", "0", "0Gi", "-1", "0.0001", "1e-30", "1e1.5", "Gi", "8 Gi", "8gi", "0x10", "", "NaN", "Infinity", "8Gi ", "9223372036854775807", "9223372036854775808", "18446744073709551616", "8Ei", "7.99999999999999999999Ei", "1E", "1P", "1Pi", "1024.0000000000000001Gi"];

function vm(cores: number, size: string, extra: JsonObject = {}): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  const spec = object.spec as JsonObject;
  spec.virtualMachineClassName = "target";
  spec.cpu = { cores, coreFraction: "50%" };
  spec.memory = { size };
  Object.assign(spec, extra);
  return object;
}

const UNSIZED = { apiVersion: "virtualization.deckhouse.io/v1alpha3", kind: "VirtualMachineClass", metadata: { name: "target" }, spec: { cpu: { type: "Host" } } };

/** The shipped policies under attack, loaded alone: thousands of cases run fast without the rest of the set. */
const attacked: PolicySet = loadPolicySet(
  readPolicySources(SHIPPED_POLICIES).filter((s) => /(vm-resource-limits|vm-class-sizing|moduleconfig-cidrs)\.json$/.test(s.file)),
  policyLoadOptions(),
);
const judgeCleanly = (opts: JudgeOptions) => judgeWith({ policies: attacked, ...opts });

function of(policy: string, j: Judgement, pattern: RegExp): string[] {
  return j.denials.filter((d) => d.startsWith(`[${policy}] `) && pattern.test(d));
}

const counts: Record<string, number> = {};
const count = (rule: string) => (counts[rule] = (counts[rule] ?? 0) + 1);

describe("adversarial limits: vm-resource-limits", () => {
  test("memory: every notation around 1024Gi, and hostile sizes, against the reference", () => {
    const limit = 1n << 40n;
    const points = [limit - 1n, limit, limit + 1n, limit - (1n << 20n), limit + (1n << 20n), limit * 2n, 1n, 1n << 30n, limit / 3n];
    for (let i = 0; i < 12; i++) points.push(limit + BigInt(int(-(1 << 30), 1 << 30)));
    const sizes = [...points.flatMap(spellings), ...HOSTILE_SIZES, "1099511627776001m", "1099511627775999m", "1.0000000001Ti", "0.9999999999Ti", "1.1e12", "1.09e12"];
    for (const size of sizes) {
      const q = refQuantity(size);
      const expected = q === undefined ? "not a quantity" : q.n <= 0n ? "not positive" : cmp(q, bytes(limit)) > 0 ? "too large" : "allowed";
      const found = of("vm-resource-limits", judgeCleanly({ object: vm(4, size), context: [UNSIZED] }), /spec\.memory\.size/);
      count("memory limit");
      if (expected === "allowed") {
        assert.deepEqual(found, [], `${size} is within 1024Gi`);
        continue;
      }
      assert.equal(found.length, 1, `${size}: ${expected}, got ${JSON.stringify(found)}`);
      const message = found[0] as string;
      assert.ok(message.includes(`spec.memory.size is ${expected === "not a quantity" ? `"${size}"` : size}`), `${size}: the value as written in ${message}`);
      assert.ok(message.includes("1024Gi"), `${size}: the limit in ${message}`);
    }
  });

  test("cores: every count to 300 and beyond, with the default and a tightened topology", () => {
    const topologies: { maxCores: number; tiers: { minCores: number; maxCores: number; sockets: number }[] }[] = [
      { maxCores: 248, tiers: [{ minCores: 1, maxCores: 16, sockets: 1 }, { minCores: 17, maxCores: 32, sockets: 2 }, { minCores: 33, maxCores: 64, sockets: 4 }, { minCores: 65, maxCores: 248, sockets: 8 }] },
      { maxCores: int(8, 200), tiers: [{ minCores: 1, maxCores: 8, sockets: 1 }, { minCores: 9, maxCores: 248, sockets: pick([2, 3, 4, 6]) }] },
    ];
    const coreCounts = [...Array.from({ length: 300 }, (_, i) => i + 1), 2 ** 31 - 1, 1000, 100000];
    for (const [t, topo] of topologies.entries()) {
      const params: Record<string, JsonValue> = t === 0 ? {} : { maxCores: topo.maxCores, socketTopology: topo.tiers };
      for (const cores of coreCounts) {
        const j = judgeCleanly({ object: vm(cores, "1Gi"), context: [UNSIZED], params });
        const found = of("vm-resource-limits", j, /spec\.cpu\.cores/);
        count("cores limit and topology");
        const tier = topo.tiers.find((x) => x.minCores <= cores && cores <= x.maxCores);
        if (cores > topo.maxCores) {
          assert.deepEqual(found, [`[vm-resource-limits] spec.cpu.cores is ${cores}; a VirtualMachine may have at most ${topo.maxCores} cores. Set spec.cpu.cores to ${topo.maxCores} or fewer`]);
        } else if (tier && cores % tier.sockets !== 0) {
          const lower = cores - (cores % tier.sockets);
          assert.equal(found.length, 1, `${cores} cores`);
          assert.match(found[0] as string, new RegExp(`multiple of ${tier.sockets} .*Use ${lower} or ${lower + tier.sockets} cores$`));
        } else {
          assert.deepEqual(found, [], `${cores} cores fit`);
        }
      }
    }
  });
});

// ---- vm-class-sizing: random classes, random VMs. ----
interface SizingPolicy {
  cores: { min: number; max: number; step?: number };
  memory?: { min?: string | number; max?: string | number; step?: string | number; perCore?: { min?: string | number; max?: string | number } };
  coreFractions?: (number | string)[];
  defaultCoreFraction?: number | string;
}

/** A quantity in a random notation the class CRD accepts (int-or-string). */
function spell(b: bigint, v2: boolean): string | number {
  if (v2 && rnd() < 0.2 && b < 2n ** 53n) return Number(b);
  return pick(spellings(b));
}

function randomClass(v2: boolean): SizingPolicy[] {
  const policies: SizingPolicy[] = [];
  let next = int(1, 3);
  for (let i = 0; i < int(0, 4); i++) {
    const min = next;
    const max = min + int(1, 12);
    next = max + int(1, 3);
    const p: SizingPolicy = { cores: { min, max } };
    if (rnd() < 0.6) p.cores.step = int(1, max - min);
    const gi = 1n << 30n;
    if (rnd() < 0.8) {
      const memory: NonNullable<SizingPolicy["memory"]> = {};
      const lo = BigInt(int(1, 8)) * gi;
      if (rnd() < 0.7) memory.min = spell(lo, v2);
      if (rnd() < 0.7) memory.max = spell(lo + BigInt(int(1, 32)) * gi, v2);
      if (rnd() < 0.6) memory.step = spell(pick([256n, 512n, 1024n]) << 20n, v2);
      if (rnd() < 0.5) memory.perCore = { min: spell(BigInt(int(1, 2)) * gi, v2), ...(rnd() < 0.8 ? { max: spell(BigInt(int(3, 8)) * gi, v2) } : {}) };
      p.memory = memory;
    }
    const fractions = [5, 10, 20, 25, 50, 100].filter(() => rnd() < 0.5);
    if (rnd() < 0.8) p.coreFractions = fractions.map((f) => (v2 ? f : `${f}%`));
    if (rnd() < 0.4 && fractions.length > 0) {
      const f = pick(fractions);
      p.defaultCoreFraction = v2 ? f : `${f}%`;
    }
    policies.push(p);
  }
  return policies;
}

const q = (v: string | number | undefined): Fraction | undefined => (v === undefined ? undefined : refQuantity(String(v)));
const percent = (f: number | string) => (typeof f === "number" ? `${f}%` : f);

/** The rules of vm-class-sizing, from the class's text and the VM's, independently of the policy. */
function expectedClassDenials(policies: SizingPolicy[], cores: number, size: string, coreFraction: string | undefined): Set<string> {
  const out = new Set<string>();
  const p = policies.find((x) => x.cores.min <= cores && cores <= x.cores.max);
  if (!p) {
    if (policies.length > 0) out.add("cores range");
    return out;
  }
  const step = p.cores.step ?? 1;
  if (cores !== p.cores.max && (cores - p.cores.min) % step !== 0) out.add("cores step");
  const allowed = (p.coreFractions ?? []).map(percent);
  const fraction = coreFraction ?? (p.defaultCoreFraction !== undefined ? percent(p.defaultCoreFraction) : "100%");
  if (allowed.length > 0 && fraction !== "Auto" && !allowed.includes(fraction)) out.add("core fraction");
  const m = p.memory;
  if (!m) return out;
  const mem = refQuantity(size);
  const valid = mem !== undefined && mem.n > 0n;
  const min = q(m.min);
  const max = q(m.max);
  const inRange = valid && (!min || cmp(mem, min) >= 0) && (!max || cmp(mem, max) <= 0);
  if ((min || max) && !inRange) out.add("memory range");
  const stepBytes = m.step !== undefined ? ceil(q(m.step) as Fraction) : 0n;
  if (max && stepBytes > 0n && inRange && cmp(mem, max) !== 0) {
    if ((ceil(mem) - (min ? ceil(min) : 0n)) % stepBytes !== 0n) out.add("memory step");
  }
  if (m.perCore) {
    const huge = valid && cmp(mem, bytes(1n << 62n)) >= 0;
    const perCore = valid && !huge ? ceil(mem) / BigInt(cores) : undefined;
    const pmin = m.perCore.min !== undefined ? ceil(q(m.perCore.min) as Fraction) : 0n;
    const pmax = m.perCore.max !== undefined ? ceil(q(m.perCore.max) as Fraction) : undefined;
    const below = !valid || (perCore !== undefined && perCore < pmin);
    const ok = !below && (pmax === undefined || (perCore !== undefined && perCore <= pmax));
    if (!ok) out.add("memory per core");
    else if (pmax !== undefined && perCore !== undefined && stepBytes > 0n && perCore !== pmax && (perCore - pmin) % stepBytes !== 0n) out.add("memory per core step");
  }
  return out;
}

const CLASS_RULES: [string, RegExp][] = [
  ["cores range", /has no sizing policy for that many cores/],
  ["cores step", /allows core counts from/],
  ["core fraction", /^\[vm-class-sizing\] spec\.cpu\.coreFraction/],
  ["memory range", /of memory\. Set spec\.memory\.size to/],
  ["memory step", /allows memory sizes from/],
  ["memory per core", /per core, that is/],
  ["memory per core step", /allows memory per core from/],
];

describe("adversarial limits: vm-class-sizing", () => {
  for (const version of ["v1alpha2", "v1alpha3"]) {
    test(`random ${version} classes and VirtualMachines around their ranges, against the reference`, () => {
      const v2 = version === "v1alpha2";
      for (let c = 0; c < 60; c++) {
        const policies = randomClass(v2);
        const cls = { apiVersion: `virtualization.deckhouse.io/${version}`, kind: "VirtualMachineClass", metadata: { name: "target" }, spec: { cpu: { type: "Host" }, sizingPolicies: policies } } as unknown as JsonObject;
        for (let v = 0; v < 12; v++) {
          const p = policies.length > 0 && rnd() < 0.85 ? pick(policies) : undefined;
          const cores = p ? int(Math.max(1, p.cores.min - 1), p.cores.max + 1) : int(1, 64);
          const around = [p?.memory?.min, p?.memory?.max].map((x) => q(x)).filter((x): x is Fraction => x !== undefined).map(ceil);
          const base = around.length > 0 && rnd() < 0.7 ? pick(around) : BigInt(int(1, 40)) << 30n;
          const size = rnd() < 0.1 ? pick(HOSTILE_SIZES) : pick(spellings(base + BigInt(pick([-1, 0, 1, 0, 0])) * pick([1n, 1n << 20n, 1n << 29n]) || 1n));
          const fraction = rnd() < 0.2 ? undefined : rnd() < 0.1 ? "Auto" : `${pick([1, 5, 10, 20, 25, 33, 50, 100])}%`;
          const object = vm(cores, size);
          const cpu = (object.spec as JsonObject).cpu as JsonObject;
          if (fraction === undefined) delete cpu.coreFraction;
          else cpu.coreFraction = fraction;
          const j = judgeCleanly({ object, context: [cls] });
          const found = new Set(CLASS_RULES.filter(([, re]) => of("vm-class-sizing", j, re).length > 0).map(([rule]) => rule));
          const expected = expectedClassDenials(policies, cores, size, fraction);
          for (const rule of [...CLASS_RULES.map(([r]) => r)]) if (expected.has(rule) || found.has(rule)) count(`class ${rule}`);
          count("class cases");
          assert.deepEqual([...found].sort(), [...expected].sort(), `${JSON.stringify(policies)} VM cores ${cores} size ${size} coreFraction ${fraction}\n${j.denials.join("\n")}`);
          for (const m of of("vm-class-sizing", j, /./)) assert.match(m, /VirtualMachineClass "target"/, "the class is named");
        }
      }
    });
  }
});

// ---- moduleconfig-cidrs: random CIDR lists. ----
function ipv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}
function randomCIDR(): JsonValue {
  const roll = rnd();
  if (roll < 0.04) return pick(["10.0.0.0/33", "10.0.0/8", "10.0.0.0", "not-a-cidr", "10.0.0.0/-1", "010.0.0.0/8", " 10.0.0.0/8", 42, null]);
  const prefix = int(12, 30);
  const size = 2 ** (32 - prefix);
  const start = (10 << 24) + Math.floor(rnd() * 2 ** 20) * 16;
  const aligned = start - (start % size);
  return `${ipv4(roll < 0.08 ? aligned + 1 : aligned)}/${prefix}`;
}

interface Range {
  text: string;
  start: number;
  end: number;
}
function refCIDR(v: JsonValue): Range | undefined {
  if (typeof v !== "string") return undefined;
  const m = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\/(3[0-2]|[12]?\d)$/.exec(v);
  if (!m) return undefined;
  const ip = ((Number(m[1]) * 256 + Number(m[2])) * 256 + Number(m[3])) * 256 + Number(m[4]);
  const size = 2 ** (32 - Number(m[5]));
  const start = ip - (ip % size);
  return { text: v, start, end: start + size - 1 };
}

describe("adversarial limits: moduleconfig-cidrs", () => {
  test("random lists of CIDRs: malformed, unaligned, overlapping, nested and repeated items, against the reference", () => {
    const stored = fixture("moduleconfig/virtualization.yaml");
    for (let i = 0; i < 300; i++) {
      const items: JsonValue[] = Array.from({ length: int(1, i < 290 ? 12 : 1000) }, randomCIDR);
      if (rnd() < 0.2) items.push(items[0] as JsonValue);
      const mc = structuredClone(stored);
      settingsOf(mc).virtualMachineCIDRs = items;
      const j = judgeCleanly({ object: mc });
      const ranges = items.map(refCIDR);
      const valid = ranges.filter((r): r is Range => r !== undefined);
      const expected = {
        invalid: ranges.some((r) => r === undefined),
        unaligned: valid.some((r) => !r.text.startsWith(`${ipv4(r.start)}/`)),
        overlap: valid.some((a, x) => valid.some((b, y) => x < y && a.start <= b.end && b.start <= a.end)),
      };
      const found = {
        invalid: of("moduleconfig-cidrs", j, /(is not a CIDR|are not CIDRs)/).length > 0,
        unaligned: of("moduleconfig-cidrs", j, /does not start at its network address/).length > 0,
        overlap: of("moduleconfig-cidrs", j, /items must not overlap/).length > 0,
      };
      count("cidr lists");
      for (const [rule, yes] of Object.entries(expected)) if (yes) count(`cidr ${rule}`);
      assert.deepEqual(found, expected, JSON.stringify(items.slice(0, 40)));
    }
  });

  test("the figures", () => {
    // Reported so the generated coverage is visible in the test output.
    console.log(`adversarial cases by rule: ${JSON.stringify(counts)}`);
    assert.ok((counts["memory limit"] ?? 0) > 200 && (counts["class cases"] ?? 0) >= 1000 && (counts["cidr lists"] ?? 0) === 300);
  });
});
