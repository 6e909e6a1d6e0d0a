import assert from "node:assert/strict";
import { test } from "node:test";
import { IPIndex } from "../../src/engine/ip-index.js";
import type { JsonObject } from "../../src/engine/index.js";

const lease = (ip: string): JsonObject => ({ metadata: { name: `ip-${ip.replace(/\./g, "-")}` } });
const names = (objects: JsonObject[]) => objects.map((o) => (o.metadata as { name: string }).name).sort();

function indexOf(addresses: string[]): { index: IPIndex; objects: Map<string, JsonObject> } {
  const index = new IPIndex();
  const objects = new Map<string, JsonObject>();
  for (const a of addresses) {
    const o = lease(a);
    objects.set(a, o);
    index.add(o, [a]);
  }
  return { index, objects };
}

test("within: objects whose address lies inside any of the CIDRs", () => {
  const { index } = indexOf(["10.0.0.1", "10.0.1.200", "10.0.2.1", "192.168.1.1"]);
  assert.deepEqual(names(index.query({ within: ["10.0.0.0/23"] })), ["ip-10-0-0-1", "ip-10-0-1-200"]);
  assert.deepEqual(names(index.query({ within: ["10.0.0.0/24", "192.168.0.0/16"] })), ["ip-10-0-0-1", "ip-192-168-1-1"]);
});

test("outside: objects inside none of the CIDRs (narrowing /23 to /24 strands only the upper half)", () => {
  const { index } = indexOf(["10.0.0.1", "10.0.1.200", "10.0.2.1"]);
  assert.deepEqual(names(index.query({ outside: ["10.0.0.0/23", "10.0.2.0/24"] })), []);
  assert.deepEqual(names(index.query({ outside: ["10.0.0.0/24", "10.0.2.0/24"] })), ["ip-10-0-1-200"]);
  assert.deepEqual(names(index.query({ outside: [] })), ["ip-10-0-0-1", "ip-10-0-1-200", "ip-10-0-2-1"]);
});

test("range edges are inclusive, and overlapping CIDRs do not duplicate results", () => {
  const { index } = indexOf(["10.0.0.0", "10.0.0.255", "10.0.1.0"]);
  assert.deepEqual(names(index.query({ within: ["10.0.0.0/24", "10.0.0.0/25", "10.0.0.128/25"] })), ["ip-10-0-0-0", "ip-10-0-0-255"]);
  assert.deepEqual(names(index.query({ outside: ["10.0.0.0/24"] })), ["ip-10-0-1-0"]);
});

test("limit stops the query early", () => {
  const { index } = indexOf(["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
  assert.equal(index.query({ within: ["10.0.0.0/8"], limit: 2 }).length, 2);
});

test("IPv6 keys are kept apart from IPv4 ranges", () => {
  const index = new IPIndex();
  const v6 = { metadata: { name: "v6" } };
  index.add(v6, ["fd00::1"]);
  assert.deepEqual(index.query({ within: ["10.0.0.0/8"] }), []);
  assert.deepEqual(index.query({ within: ["fd00::/8"] }), [v6]);
  assert.deepEqual(index.query({ outside: ["10.0.0.0/8"] }), [v6]);
});

test("delete removes an object under every key; unparsable keys are not indexed", () => {
  const index = new IPIndex();
  const node = { metadata: { name: "node" } };
  index.add(node, ["192.168.0.10", "203.0.113.5", "node-0.example"]);
  assert.equal(index.size, 1);
  assert.deepEqual(index.query({ within: ["203.0.113.0/24"] }), [node]);
  index.delete(node);
  assert.equal(index.size, 0);
  assert.deepEqual(index.query({ within: ["0.0.0.0/0"] }), []);
});

test("50,000 keys: range queries return exactly the objects in range", () => {
  const index = new IPIndex();
  // Every other address from 10.0.0.0 on: the first 32,768 land in 10.0.0.0/16, the rest in 10.1.0.0/16.
  for (let i = 0; i < 50_000; i++) {
    const n = i * 2;
    index.add({ metadata: { name: `l${i}` } }, [`10.${n >> 16}.${(n >> 8) & 255}.${n & 255}`]);
  }
  assert.equal(index.size, 50_000);
  assert.equal(index.query({ within: ["10.0.0.0/24"] }).length, 128);
  assert.equal(index.query({ outside: ["10.0.0.0/16"] }).length, 50_000 - 32_768);
  // 10.1.128.0 up to the last key, 10.1.134.158: (99998 - 98304) / 2 + 1 keys.
  assert.equal(index.query({ within: ["10.1.0.0/16"], outside: ["10.1.0.0/17"] }).length, 848);
});

test("within and outside, random CIDRs: the objects a direct check of every address finds", () => {
  // A seeded generator: the same cases every run.
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const addr = (n: number): string => `10.0.${n >> 8}.${n & 255}`;
  const cidr = (): { text: string; start: number; end: number } => {
    const prefix = 22 + rand(11);
    const size = 2 ** (32 - prefix);
    const start = Math.floor(rand(1024) / size) * size;
    return { text: `${addr(start)}/${prefix}`, start, end: start + size - 1 };
  };
  const index = new IPIndex();
  for (let n = 0; n < 1024; n += 3) index.add({ metadata: { name: `a${n}` } }, [addr(n)]);
  for (let round = 0; round < 200; round++) {
    const within = Array.from({ length: rand(6) }, cidr);
    const outside = Array.from({ length: rand(8) }, cidr);
    const expected: string[] = [];
    for (let n = 0; n < 1024; n += 3) {
      if (within.some((c) => c.start <= n && n <= c.end) && !outside.some((c) => c.start <= n && n <= c.end)) expected.push(`a${n}`);
    }
    const got = index.query({ within: within.map((c) => c.text), outside: outside.map((c) => c.text) });
    assert.deepEqual(names(got), expected.sort(), `within ${within.map((c) => c.text)} outside ${outside.map((c) => c.text)}`);
  }
});
