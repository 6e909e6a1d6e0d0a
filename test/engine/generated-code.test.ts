import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { compileExpression, type GeneratedCode } from "../../src/engine/cel/compile.js";
import { compileSelfRule, loadPolicySet, PolicyLoadError, type GeneratedCodeCache, type PolicySource } from "../../src/engine/index.js";
import { BUILT_CODE_DIR, CodeStore, engineDigest, openCodeStore, saveCodeStore, selfRuleCodeStore, userCodeDir } from "../../src/policy-files/code-store.js";
import { loadPolicySources, policySetKey, readPolicySources, SHIPPED_POLICIES } from "../../src/policy-files/policy-dir.js";

const dir = mkdtempSync(join(tmpdir(), "virtguard-code-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A cache that keeps what it is given, as JSON (what crosses processes). */
function jsonCache(): GeneratedCodeCache & { entries: Map<string, GeneratedCode> } {
  const entries = new Map<string, GeneratedCode>();
  return {
    entries,
    get: (key) => entries.get(key),
    set: (key, code) => void entries.set(key, JSON.parse(JSON.stringify(code)) as GeneratedCode),
  };
}

test("stored code evaluates exactly like freshly compiled code, for every kind of constant", () => {
  const cases: [string, Record<string, unknown>][] = [
    ["1u + 2u == 3u", {}],
    ["-0.0 == 0.0 && 1.0 / 0.0 > 1.0 && 2.0 == 2", {}],
    ["b'abc' == b'abc' && size(b'abc') == 3", {}],
    ["type(object.n) == int && type(1.5) == double", { object: { n: 3 } }],
    ["duration('1s') < duration('2s') && 'ab'.matches('^a')", {}],
    // A message literal is left to the interpreter: its tree is stored.
    ["google.protobuf.Int64Value{value: object.n} == 3", { object: { n: 3 } }],
    ["object.spec.cpu.cores % 8 == 0 ? 'even' : 'odd'", { object: { spec: { cpu: { cores: 16 } } } }],
    ["quantity(object.size).isLessThan(quantity('2Gi')) && object.list.all(x, x > 0)", { object: { size: "1Gi", list: [1, 2] } }],
    ["object.missing.field == 1", { object: {} }],
  ];
  for (const [source, bindings] of cases) {
    const cache = jsonCache();
    const fresh = compileExpression(source, { code: cache, engine: "compiler" }).evaluate(bindings);
    assert.equal(cache.entries.size, 1, `${source}: its code is stored`);
    // Nothing to parse: an expression answered from the cache never reaches the parser.
    const stored = compileExpression(source, { code: cache, parsed: { get: () => assert.fail("parsed") }, engine: "compiler" }).evaluate(bindings);
    assert.deepEqual(stored, fresh, source);
  }
});

test("a CRD rule compiles once into the store, and is read from it afterwards", () => {
  const cache = jsonCache();
  assert.equal(compileSelfRule("self.min <= self.max", cache)({ min: 1, max: 2 }), true);
  const [key] = [...cache.entries.keys()];
  assert.ok(key?.startsWith("self\n"), "keyed by the names the rule may read");
  assert.equal(compileSelfRule("self.min <= self.max", cache)({ min: 3, max: 2 }), false);
});

const policy = (name: string, expression: string): PolicySource => ({
  file: join(dir, `${name}.json`),
  text: JSON.stringify({
    apiVersion: "policies.virtguard.io/v1alpha1",
    kind: "ValidationPolicy",
    metadata: { name },
    spec: {
      description: "test",
      match: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"], operations: ["CREATE"] }] },
      validations: [{ expression, message: "no", action: "Deny" }],
    },
  }),
});

test("a set's code is only used as is when the caller vouches for the set: otherwise every expression is checked", () => {
  const bad = [policy("p", "1 + 1")];
  // A cache claiming code for the bad expression does not make an unverified load accept it.
  const cache = jsonCache();
  compileExpression("1 + 1", { code: cache, engine: "compiler" });
  assert.throws(() => loadPolicySet(bad, { code: cache }), (err: unknown) => err instanceof PolicyLoadError && /must evaluate to bool/.test(err.message));
  // A verified load takes the stored code without parsing anything.
  const good = [policy("p", "object.data.x == 'y'")];
  const recorded = jsonCache();
  loadPolicySet(good, { code: recorded });
  assert.equal(recorded.entries.size, 1);
  const set = loadPolicySet(good, { code: recorded, verified: true, parsed: { get: () => assert.fail("parsed") } });
  assert.equal(set.policies[0]?.validations[0]?.expr?.evaluate({ object: { data: { x: "y" } } }), true);
});

test("a policy directory's code is kept in the user cache after its first clean load, keyed by its texts", () => {
  const env = { ...process.env, VIRTGUARD_CACHE_DIR: join(dir, "cache") };
  const saved = process.env.VIRTGUARD_CACHE_DIR;
  process.env.VIRTGUARD_CACHE_DIR = env.VIRTGUARD_CACHE_DIR;
  try {
    const sources = [policy("keep", "object.data.x == 'kept'")];
    assert.equal(openCodeStore(policySetKey(sources), env).stored, false);
    loadPolicySources(sources);
    const store = openCodeStore(policySetKey(sources), env);
    assert.equal(store.stored, true, "stored after the first load");
    assert.equal(store.size, 1);
    const set = loadPolicySources(sources);
    assert.equal(set.policies[0]?.validations[0]?.expr?.evaluate({ object: { data: { x: "kept" } } }), true);
    // An edited text is another set; a set with a problem is never stored.
    const edited = [policy("keep", "object.data.x == 'edited'")];
    assert.notEqual(policySetKey(edited), policySetKey(sources));
    const broken = [policy("keep", "1 + 1")];
    assert.throws(() => loadPolicySources(broken), PolicyLoadError);
    assert.equal(openCodeStore(policySetKey(broken), env).stored, false);
    assert.equal(readdirSync(userCodeDir(env)).length, 1);
    assert.match(engineDigest(), /^[0-9a-f]{64}$/);
    // A file from another build is ignored; a file that is not JSON as well. One whose build only
    // differs in file times (npm resets them on install) but holds the same engine code is used.
    writeFileSync(join(userCodeDir(env), `${policySetKey(edited)}.json`), JSON.stringify({ stamp: "0.0.0:0:0", entries: {} }));
    assert.equal(openCodeStore(policySetKey(edited), env).stored, false);
    writeFileSync(join(userCodeDir(env), `${policySetKey(edited)}.json`), JSON.stringify({ stamp: "0.0.0:0:0", digest: "0".repeat(64), entries: {} }));
    assert.equal(openCodeStore(policySetKey(edited), env).stored, false);
    writeFileSync(join(userCodeDir(env), `${policySetKey(edited)}.json`), JSON.stringify({ stamp: "0.1.0:499162500000:1", digest: engineDigest(), entries: {} }));
    assert.equal(openCodeStore(policySetKey(edited), env).stored, true);
    writeFileSync(join(userCodeDir(env), `${policySetKey(edited)}.json`), "{not json");
    assert.equal(openCodeStore(policySetKey(edited), env).stored, false);
    // VIRTGUARD_NO_CODE_CACHE=1 neither reads nor writes it.
    const off = { ...env, VIRTGUARD_NO_CODE_CACHE: "1" };
    assert.equal(openCodeStore(policySetKey(sources), off).stored, false);
    const fresh = new CodeStore("k");
    fresh.set("x", { body: "return 1;", constants: [] });
    saveCodeStore(fresh, off);
    assert.equal(existsSync(join(userCodeDir(env), "k.json")), false);
  } finally {
    if (saved === undefined) delete process.env.VIRTGUARD_CACHE_DIR;
    else process.env.VIRTGUARD_CACHE_DIR = saved;
  }
});

test("the build stored the code of the shipped set and of the shipped CRDs' rules", () => {
  const sources = readPolicySources(SHIPPED_POLICIES);
  assert.ok(existsSync(join(BUILT_CODE_DIR, `${policySetKey(sources)}.json`)), "run `npm run build`");
  const store = openCodeStore(policySetKey(sources), { ...process.env, VIRTGUARD_NO_CODE_CACHE: "1" });
  assert.equal(store.stored, true);
  const seen = new Set<string>();
  loadPolicySet(sources, { code: { get: () => undefined, set: (key) => void seen.add(key) } });
  assert.deepEqual([...seen].filter((k) => !store.get(k)), [], "every expression of the shipped set is stored");
  assert.ok(selfRuleCodeStore().size > 0);
});
