// Unit tests of the live context's pure parts: backoff, Secret decoding, overrides, REST paths and
// the serve flags that select a live cluster. The informers themselves are tested against a real
// kube-apiserver in test/e2e/live-context.test.ts.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, test } from "node:test";
import type { TargetSpec } from "../../src/engine/index.js";
import { collectionPath, describeTarget } from "../../src/cluster/live/api-paths.js";
import { Backoff } from "../../src/cluster/live/backoff.js";
import { applyOverrides, decodeSecretDocument } from "../../src/cluster/live/from-secret.js";
import { slim } from "../../src/cluster/live/slim.js";
import { parseServeConfig } from "../../src/cli/serve.js";

const CLUSTER_CONFIGURATION: TargetSpec = {
  apiVersion: "deckhouse.io/v1",
  kind: "ClusterConfiguration",
  resource: "clusterconfigurations",
  fromSecret: { namespace: "kube-system", name: "d8-cluster-configuration", key: "cluster-configuration.yaml" },
};

function secretWith(text: string): { apiVersion: string; kind: string; data: Record<string, string> } {
  return { apiVersion: "v1", kind: "Secret", data: { "cluster-configuration.yaml": Buffer.from(text).toString("base64") } };
}

describe("Backoff", () => {
  test("grows exponentially up to the cap, with jitter in [ceiling/2, ceiling]", () => {
    const b = new Backoff(100, 1000, () => 1);
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
    const low = new Backoff(100, 1000, () => 0);
    assert.deepEqual([low.next(), low.next(), low.next()], [50, 100, 200]);
  });
  test("reset starts over", () => {
    const b = new Backoff(100, 1000, () => 1);
    b.next();
    b.next();
    b.reset();
    assert.equal(b.attempts, 0);
    assert.equal(b.next(), 100);
  });
});

describe("fromSecret", () => {
  test("decodes the YAML document and gives it the target's apiVersion and kind when it has none", () => {
    const doc = decodeSecretDocument(secretWith("podSubnetCIDR: 10.111.0.0/16\nserviceSubnetCIDR: 10.222.0.0/16\n"), CLUSTER_CONFIGURATION);
    assert.deepEqual(doc, { apiVersion: "deckhouse.io/v1", kind: "ClusterConfiguration", podSubnetCIDR: "10.111.0.0/16", serviceSubnetCIDR: "10.222.0.0/16" });
  });
  test("keeps the document's own apiVersion and kind", () => {
    const doc = decodeSecretDocument(secretWith("apiVersion: deckhouse.io/v1\nkind: ClusterConfiguration\nclusterType: Static\n"), CLUSTER_CONFIGURATION);
    assert.equal(doc.clusterType, "Static");
    assert.equal(doc.kind, "ClusterConfiguration");
  });
  test("a missing key, invalid YAML or a scalar are errors that never quote the data", () => {
    assert.throws(() => decodeSecretDocument({ data: {} }, CLUSTER_CONFIGURATION), /key cluster-configuration.yaml: no such key/);
    const secretText = "podSubnetCIDR: [unclosed s3cr3t";
    assert.throws(
      () => decodeSecretDocument(secretWith(secretText), CLUSTER_CONFIGURATION),
      (err: Error) => /not valid YAML \(line \d+\)/.test(err.message) && !err.message.includes("s3cr3t"),
    );
    assert.throws(() => decodeSecretDocument(secretWith("just a string"), CLUSTER_CONFIGURATION), /expected a YAML mapping/);
  });
  test("overrides replace fields, or stand for the object when there is none", () => {
    const doc = { apiVersion: "deckhouse.io/v1", kind: "ClusterConfiguration", podSubnetCIDR: "10.111.0.0/16", serviceSubnetCIDR: "10.222.0.0/16" };
    assert.deepEqual(applyOverrides(doc, { podSubnetCIDR: "10.1.0.0/16" }, CLUSTER_CONFIGURATION), { ...doc, podSubnetCIDR: "10.1.0.0/16" });
    assert.deepEqual(applyOverrides(undefined, { serviceSubnetCIDR: "10.2.0.0/16" }, CLUSTER_CONFIGURATION), {
      apiVersion: "deckhouse.io/v1",
      kind: "ClusterConfiguration",
      serviceSubnetCIDR: "10.2.0.0/16",
    });
    assert.equal(applyOverrides(doc, {}, CLUSTER_CONFIGURATION), doc);
    assert.equal(applyOverrides(undefined, undefined, CLUSTER_CONFIGURATION), undefined);
  });
});

describe("REST paths and names", () => {
  test("core and grouped kinds, cluster-wide and in a namespace", () => {
    assert.equal(collectionPath({ apiVersion: "v1", resource: "nodes" }), "/api/v1/nodes");
    assert.equal(collectionPath({ apiVersion: "v1", resource: "secrets" }, "kube-system"), "/api/v1/namespaces/kube-system/secrets");
    assert.equal(
      collectionPath({ apiVersion: "virtualization.deckhouse.io/v1alpha2", resource: "virtualmachineipaddressleases" }),
      "/apis/virtualization.deckhouse.io/v1alpha2/virtualmachineipaddressleases",
    );
  });
  test("descriptions name the resource, group and version, or the Secret", () => {
    assert.equal(describeTarget({ apiVersion: "v1", kind: "Node", resource: "nodes" }), "Node (nodes/v1)");
    assert.equal(
      describeTarget({ apiVersion: "network.deckhouse.io/v1alpha1", kind: "SystemNetwork", resource: "systemnetworks" }),
      "SystemNetwork (systemnetworks.network.deckhouse.io/v1alpha1)",
    );
    assert.equal(
      describeTarget({ apiVersion: "v1", kind: "PersistentVolumeClaim", resource: "persistentvolumeclaims", namespaced: true, only: { name: "dvcr", namespace: "d8-virtualization" } }),
      "PersistentVolumeClaim (persistentvolumeclaims/v1, only d8-virtualization/dvcr)",
    );
    assert.equal(describeTarget(CLUSTER_CONFIGURATION), "ClusterConfiguration (from Secret kube-system/d8-cluster-configuration, key cluster-configuration.yaml)");
  });
  test("slim drops managedFields and kubectl's last-applied copy, nothing else", () => {
    const o = {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "n", labels: { a: "b" }, annotations: { keep: "me", "kubectl.kubernetes.io/last-applied-configuration": "{}" }, managedFields: [{ manager: "kubectl" }] },
      status: {},
    };
    assert.deepEqual(slim(o), { apiVersion: "v1", kind: "Node", metadata: { name: "n", labels: { a: "b" }, annotations: { keep: "me" } }, status: {} });
  });
  test("slim rebuilds the metadata in its key order instead of deleting from it; an object with nothing to drop is left as it is", () => {
    const metadata = { creationTimestamp: "t", managedFields: [{}], name: "vm", namespace: "ns", uid: "u" };
    const o = slim({ apiVersion: "x/v1", kind: "VM", metadata, spec: { a: 1 } });
    assert.notEqual(o.metadata, metadata);
    assert.deepEqual(Object.keys(o.metadata as object), ["creationTimestamp", "name", "namespace", "uid"]);
    const plain = { apiVersion: "x/v1", kind: "VM", metadata: { name: "vm" } };
    const plainMetadata = plain.metadata;
    assert.equal(slim(plain, { apiVersion: "x/v1", kind: "VM" }).metadata, plainMetadata);
    assert.deepEqual(slim({ apiVersion: "y/v1", kind: "VM" }, { apiVersion: "x/v1", kind: "VM" }), { apiVersion: "y/v1", kind: "VM" });
  });
  test("slimmed metadata keeps V8's fast properties (a delete would make it a dictionary, several times larger)", () => {
    const slimUrl = new URL("../../src/cluster/live/slim.js", import.meta.url).href;
    const code = `
      const { slim } = await import(${JSON.stringify(slimUrl)});
      const parsed = () => JSON.parse('{"metadata":{"annotations":{"a":"1","kubectl.kubernetes.io/last-applied-configuration":"{}","z":"2"},"generation":1,"managedFields":[{}],"name":"n","uid":"u"}}');
      const o = slim(parsed());
      const d = parsed();
      delete d.metadata.managedFields;
      process.stdout.write(JSON.stringify([%HasFastProperties(o.metadata), %HasFastProperties(o.metadata.annotations), %HasFastProperties(d.metadata)]));`;
    const out = execFileSync(process.execPath, ["--allow-natives-syntax", "--input-type=module", "-e", code], { encoding: "utf8" });
    assert.deepEqual(JSON.parse(out), [true, true, false]);
  });
});

describe("serve: selecting a live cluster", () => {
  const noPod = {};
  test("--kubeconfig selects the live provider; the default is files", () => {
    assert.deepEqual(parseServeConfig(["--kubeconfig", "/k"], noPod).cluster, { kubeconfig: "/k" });
    assert.equal(parseServeConfig([], noPod).cluster, undefined);
    assert.deepEqual(parseServeConfig([], { VIRTGUARD_KUBECONFIG: "/e" }).cluster, { kubeconfig: "/e" });
    assert.deepEqual(parseServeConfig(["--cluster", "in-cluster"], noPod).cluster, { inCluster: true });
    assert.equal(parseServeConfig(["--cluster", "off"], { KUBERNETES_SERVICE_HOST: "10.0.0.1" }).cluster, undefined);
  });
  test("auto needs both KUBERNETES_SERVICE_HOST and a mounted token (none here)", () => {
    assert.equal(parseServeConfig([], { KUBERNETES_SERVICE_HOST: "10.0.0.1" }).cluster, undefined);
  });
  test("contradictions and bad values are usage errors naming the flag", () => {
    assert.throws(() => parseServeConfig(["--kubeconfig", "/k", "--context", "a.yaml"], noPod), /--kubeconfig and --context exclude each other/);
    assert.throws(() => parseServeConfig(["--cluster", "sometimes"], noPod), /--cluster "sometimes": expected auto, in-cluster or off/);
    assert.throws(() => parseServeConfig(["--kubeconfig", "/k", "--override", "ClusterConfiguration=1"], noPod), /--override "ClusterConfiguration=1": expected group\/Kind=\{JSON object\}/);
    assert.throws(() => parseServeConfig(["--kubeconfig", "/k", "--override", "deckhouse.io/ClusterConfiguration={podSubnetCIDR}"], noPod), /--override deckhouse.io\/ClusterConfiguration: the fields are not JSON/);
    assert.throws(() => parseServeConfig(["--kubeconfig", "/k", "--override", "deckhouse.io/ClusterConfiguration=[1]"], noPod), /expected a JSON object of top-level fields/);
    assert.throws(() => parseServeConfig(["--override", 'deckhouse.io/ClusterConfiguration={"podSubnetCIDR":"10.0.0.0/16"}'], noPod), /--override needs a live cluster/);
    assert.throws(() => parseServeConfig(["--kubeconfig", "/k", "--stale-cache", "maybe"], noPod), /--stale-cache "maybe": expected fail or serve/);
  });
  test("overrides (merged per kind, from flags or one per line of the environment) and the staleness setting", () => {
    const c = parseServeConfig(
      ["--kubeconfig", "/k", "--override", 'deckhouse.io/ClusterConfiguration={"podSubnetCIDR":"10.111.0.0/16"}', "--override", 'deckhouse.io/ClusterConfiguration={"serviceSubnetCIDR":"fd00::/108"}', "--stale-cache", "serve", "--stale-cache-after", "30s"],
      noPod,
    );
    assert.deepEqual([...c.overrides], [["deckhouse.io/ClusterConfiguration", { podSubnetCIDR: "10.111.0.0/16", serviceSubnetCIDR: "fd00::/108" }]]);
    const e = parseServeConfig(["--kubeconfig", "/k"], { VIRTGUARD_OVERRIDE: 'deckhouse.io/ClusterConfiguration={"podSubnetCIDR":"10.1.0.0/16"}\n/Node={"x":1}' });
    assert.deepEqual([...e.overrides.keys()], ["deckhouse.io/ClusterConfiguration", "/Node"]);
    assert.deepEqual(c.staleCache, { mode: "serve", afterMs: 30_000 });
    assert.deepEqual(parseServeConfig(["--kubeconfig", "/k"], noPod).staleCache, { mode: "fail", afterMs: 120_000 });
  });
});
