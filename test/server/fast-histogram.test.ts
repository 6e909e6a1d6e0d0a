import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Histogram, Registry } from "prom-client";
import { FastHistogram } from "../../src/admission/fast-histogram.js";
import { latencyBuckets } from "../../src/admission/metrics.js";

const buckets = latencyBuckets(10);
const config = { name: "duration_seconds", help: "test", buckets };

/** The same observations through prom-client's own Histogram and through FastHistogram. */
function both(labelNames: string[], observations: { labels: Record<string, string>; value: number }[]) {
  const reference = new Registry();
  const fast = new Registry();
  const h = new Histogram({ ...config, labelNames, registers: [reference] });
  const f = new FastHistogram({ ...config, labelNames, registers: [fast] });
  for (const o of observations) {
    if (labelNames.length === 0) h.observe(o.value);
    else h.observe(Object.fromEntries(labelNames.map((n) => [n, o.labels[n] as string])), o.value);
    f.observeValues(labelNames.map((n) => o.labels[n] as string), o.value);
  }
  return { reference, fast, h, f };
}

const sortLines = (text: string) => text.split("\n").sort().join("\n");

describe("FastHistogram: what prom-client's Histogram exports, at a lookup per label", () => {
  const observations = [
    { labels: { decision: "allowed", kind: "VirtualMachine", operation: "CREATE" }, value: 0.00004 },
    { labels: { decision: "allowed", kind: "VirtualMachine", operation: "CREATE" }, value: 0.0001 },
    { labels: { decision: "denied", kind: "VirtualMachine", operation: "CREATE" }, value: 0.0031 },
    { labels: { decision: "allowed", kind: "VirtualMachineClass", operation: "UPDATE" }, value: 2.5 },
    { labels: { decision: "warned", kind: "ModuleConfig", operation: "UPDATE" }, value: 42 },
  ];

  test("the exposition text is the reference's, bucket by bucket, with sums and counts", async () => {
    const { reference, fast } = both(["decision", "kind", "operation"], observations);
    const want = await reference.metrics();
    const got = await fast.metrics();
    assert.equal(sortLines(got), sortLines(want));
    assert.match(got, /^duration_seconds_bucket\{le="0\.0001",decision="allowed",kind="VirtualMachine",operation="CREATE"\} 2$/m);
    assert.match(got, /^duration_seconds_bucket\{le="\+Inf",decision="warned",kind="ModuleConfig",operation="UPDATE"\} 1$/m);
    assert.match(got, /^duration_seconds_count\{decision="allowed",kind="VirtualMachine",operation="CREATE"\} 2$/m);
  });

  test("get() gives the reference's values; observe() with a label object and reset() work as prom-client's", async () => {
    const { h, f } = both(["kind", "operation"], observations);
    h.observe({ kind: "Pod", operation: "DELETE" }, 0.2);
    f.observe({ kind: "Pod", operation: "DELETE" }, 0.2);
    const key = (v: { labels: object; metricName?: string; value: number }) => `${v.metricName} ${JSON.stringify(Object.entries(v.labels).sort())} ${v.value}`;
    const [want, got] = [await h.get(), await f.get()];
    assert.deepEqual(got.values.map(key).sort(), want.values.map(key).sort());
    assert.equal(got.name, want.name);
    f.reset();
    assert.equal((await f.get()).values.length, 0);
  });

  test("without labels, one series", async () => {
    const { reference, fast } = both([], observations);
    assert.equal(sortLines(await fast.metrics()), sortLines(await reference.metrics()));
  });
});
