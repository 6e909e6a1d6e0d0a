// The live cluster context (informers) against a real kube-apiserver: readiness, a kind whose CRD
// is missing, objects appearing and disappearing, the ClusterConfiguration read from its Secret,
// watches the server ends, an API server restart (staleness setting, re-list) and 410 Gone after
// an etcd compaction. No mocks: every object goes through the API server.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { loadKubeConfig } from "../../src/cluster/live/kube-config.js";
import { LiveContextProvider, StaleCacheError, type LiveProviderOptions } from "../../src/cluster/live/live-provider.js";
import { bindParameters, evaluate, type ClusterContext, type JsonObject, type PolicySet } from "../../src/engine/index.js";
import { loadPolicyDir } from "../../src/policy-files/policy-dir.js";
import { admissionRequest } from "../support/review.js";
import { ApiserverRestarter } from "./apiserver-restart.js";
import { e2eBinaries, startControlPlane, type ControlPlane } from "./control-plane.js";

const LEASE = "virtualization.deckhouse.io/VirtualMachineIPAddressLease";
const SYSTEM_NETWORK = "network.deckhouse.io/SystemNetwork";
/** Kinds the shipped policies look up whose CRDs this cluster does not install (policies/crds/ vendors only the judged kinds). */
const NOT_INSTALLED = new Set([SYSTEM_NETWORK, "virtualization.deckhouse.io/VirtualImage", "virtualization.deckhouse.io/ClusterVirtualImage"]);
const CLUSTER_CONFIGURATION = "deckhouse.io/ClusterConfiguration";
const NODE = "/Node";
const PVC = "/PersistentVolumeClaim";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await sleep(50);
  }
}

const logLines: string[] = [];
const logger = pino({ level: "debug" }, { write: (line: string) => void logLines.push(line) });

const SECRET_YAML = (pod: string, svc: string): string =>
  `apiVersion: deckhouse.io/v1\nkind: ClusterConfiguration\nclusterType: Static\npodSubnetCIDR: ${pod}\nserviceSubnetCIDR: ${svc}\n`;

function secretManifest(pod: string, svc: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "d8-cluster-configuration", namespace: "kube-system" },
    data: { "cluster-configuration.yaml": Buffer.from(SECRET_YAML(pod, svc)).toString("base64") },
  });
}

const SYSTEM_NETWORK_CRD = JSON.stringify({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "systemnetworks.network.deckhouse.io" },
  spec: {
    group: "network.deckhouse.io",
    scope: "Cluster",
    names: { plural: "systemnetworks", singular: "systemnetwork", kind: "SystemNetwork", listKind: "SystemNetworkList" },
    versions: [{ name: "v1alpha1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
  },
});

function lease(ip: string): string {
  return JSON.stringify({ apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachineIPAddressLease", metadata: { name: `ip-${ip.replaceAll(".", "-")}` }, spec: {} });
}

async function etcdPost(cp: ControlPlane, path: string, body: JsonObject): Promise<JsonObject> {
  const res = await fetch(`${cp.etcdUrl}${path}`, { method: "POST", body: JSON.stringify(body) });
  const json = (await res.json()) as JsonObject;
  if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const bins = await e2eBinaries();

if (bins) {
  describe("live cluster context against a real kube-apiserver", () => {
    let cp: ControlPlane;
    let kc: KubeConfig;
    let set: PolicySet;
    let restarter: ApiserverRestarter | undefined;
    const providers: LiveContextProvider[] = [];

    const kubectl = async (args: string[], input?: string): Promise<string> => {
      const r = await cp.kubectl(args, { input });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
      return r.stdout;
    };

    const provider = (opts: Partial<LiveProviderOptions> = {}): LiveContextProvider => {
      const p = new LiveContextProvider({
        kc,
        description: "e2e",
        logger,
        ...opts,
        watch: { backoffInitialMs: 100, backoffMaxMs: 1000, ...opts.watch },
      });
      providers.push(p);
      return p;
    };

    const ready = async (p: LiveContextProvider): Promise<void> => {
      await until("the provider to be ready", () => p.notReady() === undefined);
    };

    const phaseOf = (p: LiveContextProvider, kind: string) => p.status().find((s) => s.kind === kind);

    before(async () => {
      cp = await startControlPlane({ binaries: bins, namespaces: ["vms", "d8-virtualization"] });
      kc = loadKubeConfig({ kubeconfig: cp.kubeconfig }).kc;
      set = loadPolicyDir();
    });

    after(async () => {
      for (const p of providers) await p.close();
      await restarter?.stop();
      await cp?.stop();
      const warnings = logLines.filter((l) => /"level":(40|50)/.test(l));
      if (warnings.length > 0) console.log(`live-context log, warnings and errors (${warnings.length}):\n${warnings.slice(0, 30).join("")}`);
    });

    test("the shipped policies' lookups are what gets watched", () => {
      assert.ok(set.targets.has(LEASE) && set.targets.has(NODE) && set.targets.has(CLUSTER_CONFIGURATION));
    });

    test("readiness: not ready until every informer has completed its first list", async () => {
      const p = provider();
      p.activate(set);
      const reason = p.notReady();
      assert.match(reason ?? "", /waiting for the first list of/);
      console.log(`notReady() right after activate: ${reason}`);
      await ready(p);
      for (const s of p.status()) {
        assert.ok(s.phase === "watching" || (NOT_INSTALLED.has(s.kind) && s.phase === "missing"), `${s.kind}: ${s.phase} ${s.lastError ?? ""}`);
      }
      assert.ok(p.readyAt !== undefined && p.readyAt - p.startedAt < 10_000);
    });

    test("a kind whose CRD is not installed is reported clearly, does not block readiness, and is picked up once installed", async () => {
      const p = provider();
      const ctx = p.activate(set);
      await ready(p);
      const sn = phaseOf(p, SYSTEM_NETWORK);
      assert.equal(sn?.phase, "missing");
      assert.match(sn?.lastError ?? "", /does not serve SystemNetwork \(systemnetworks\.network\.deckhouse\.io\/v1alpha1\) \(404: is its CustomResourceDefinition installed\?\)/);
      assert.ok(logLines.some((l) => l.includes("does not serve SystemNetwork")), "a log line says so");
      assert.equal(ctx.get(SYSTEM_NETWORK, "default"), undefined, "lookups see no objects");
      const registry = new Registry();
      p.registerMetrics(registry);
      const text = await registry.metrics();
      assert.match(text, /virtguard_cluster_cache_api_missing\{kind="SystemNetwork"\} 1/);
      assert.match(text, /virtguard_cluster_cache_synced\{kind="VirtualMachineIPAddressLease"\} 1/);

      await kubectl(["apply", "-f", "-"], SYSTEM_NETWORK_CRD);
      await kubectl(["wait", "--for=condition=Established", "--timeout=30s", "crd/systemnetworks.network.deckhouse.io"]);
      await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "network.deckhouse.io/v1alpha1", kind: "SystemNetwork", metadata: { name: "lm" }, spec: {} }));
      const found = await until("SystemNetwork lm in the cache", () => ctx.get(SYSTEM_NETWORK, "lm"));
      assert.equal((found.metadata as JsonObject).name, "lm");
      assert.equal(phaseOf(p, SYSTEM_NETWORK)?.phase, "watching");
    });

    test("objects appear and disappear; leases and nodes are found by address", async () => {
      const p = provider();
      const ctx = p.activate(set);
      await ready(p);
      await kubectl(["apply", "-f", "-"], lease("10.66.0.5"));
      const found = await until("lease ip-10-66-0-5", () => ctx.get(LEASE, "ip-10-66-0-5"));
      assert.equal((found.metadata as JsonObject).managedFields, undefined, "managedFields are dropped");
      assert.deepEqual(
        ctx.ipQuery(LEASE, "address", { within: ["10.66.0.0/24"] }).map((o) => (o.metadata as JsonObject).name),
        ["ip-10-66-0-5"],
      );
      assert.equal(ctx.ipQuery(LEASE, "address", { within: ["10.67.0.0/24"] }).length, 0);

      await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: "worker-1" } }));
      await kubectl(["patch", "node", "worker-1", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { addresses: [{ type: "InternalIP", address: "192.168.50.10" }] } })]);
      await until("node worker-1 by address", () => ctx.ipQuery(NODE, "address", { within: ["192.168.50.0/24"] }).length === 1);

      await kubectl(["delete", "virtualmachineipaddresslease", "ip-10-66-0-5", "--wait=false"]);
      await until("lease gone", () => ctx.get(LEASE, "ip-10-66-0-5") === undefined);
      assert.equal(ctx.ipQuery(LEASE, "address", { within: ["10.66.0.0/24"] }).length, 0);
      await kubectl(["delete", "node", "worker-1", "--wait=false"]);
      await until("node gone", () => ctx.ipQuery(NODE, "address", { within: ["192.168.50.0/24"] }).length === 0);
    });

    test("a kind the policies read by one name (the dvcr PVC) is listed and watched by that name: no other object is held", async () => {
      assert.deepEqual(set.targets.get(PVC)?.only, { name: "dvcr", namespace: "d8-virtualization" });
      const pvc = (namespace: string, name: string): string =>
        JSON.stringify({ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name, namespace }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } });
      await kubectl(["apply", "-f", "-"], pvc("d8-virtualization", "other"));
      await kubectl(["apply", "-f", "-"], pvc("vms", "dvcr"));
      const p = provider();
      const ctx = p.activate(set);
      await ready(p);
      assert.deepEqual(ctx.list(PVC), []);
      await kubectl(["apply", "-f", "-"], pvc("d8-virtualization", "dvcr"));
      await until("the dvcr PVC, from the watch", () => ctx.get(PVC, "dvcr", "d8-virtualization"));
      assert.deepEqual(ctx.list(PVC).map((o) => `${(o.metadata as JsonObject).namespace}/${(o.metadata as JsonObject).name}`), ["d8-virtualization/dvcr"]);
    });

    test("ClusterConfiguration comes from its Secret; flags override the subnets", async () => {
      const plain = provider();
      const overridden = provider({ overrides: new Map([[CLUSTER_CONFIGURATION, { podSubnetCIDR: "10.1.0.0/16" }]]) });
      const a = plain.activate(set);
      const b = overridden.activate(set);
      await ready(plain);
      await ready(overridden);
      const cc = (ctx: ClusterContext): JsonObject | undefined => ctx.list(CLUSTER_CONFIGURATION)[0];
      assert.equal(cc(a), undefined, "no Secret: no ClusterConfiguration");
      assert.deepEqual(cc(b), { apiVersion: "deckhouse.io/v1", kind: "ClusterConfiguration", podSubnetCIDR: "10.1.0.0/16" }, "the override alone");

      await kubectl(["apply", "-f", "-"], secretManifest("10.111.0.0/16", "10.222.0.0/16"));
      await until("ClusterConfiguration from the Secret", () => cc(a)?.podSubnetCIDR === "10.111.0.0/16");
      assert.equal(cc(a)?.serviceSubnetCIDR, "10.222.0.0/16");
      assert.equal(cc(a)?.clusterType, "Static");
      await until("overridden ClusterConfiguration", () => cc(b)?.serviceSubnetCIDR === "10.222.0.0/16");
      assert.equal(cc(b)?.podSubnetCIDR, "10.1.0.0/16", "the flag wins over the Secret");

      await kubectl(["apply", "-f", "-"], secretManifest("10.112.0.0/16", "10.223.0.0/16"));
      await until("the Secret's change", () => cc(a)?.podSubnetCIDR === "10.112.0.0/16");
      await until("the Secret's change under the override", () => cc(b)?.serviceSubnetCIDR === "10.223.0.0/16");

      await kubectl(["delete", "secret", "-n", "kube-system", "d8-cluster-configuration"]);
      await until("ClusterConfiguration gone with its Secret", () => cc(a) === undefined);
      await until("only the override left", () => cc(b)?.serviceSubnetCIDR === undefined);
      assert.ok(!logLines.some((l) => l.includes("10.111.0.0/16")), "the Secret's contents are never logged");
    });

    test("the controller's feature gates come from its Deployment in the cluster, not from an assumed parameter", async () => {
      const p = provider();
      const ctx = p.activate(set);
      await ready(p);
      const vm: JsonObject = {
        apiVersion: "virtualization.deckhouse.io/v1alpha2",
        kind: "VirtualMachine",
        metadata: { name: "multi", namespace: "vms" },
        spec: { virtualMachineClassName: "generic", cpu: { cores: 2, coreFraction: "100%" }, memory: { size: "2Gi" }, networks: [{ type: "Main" }, { type: "Network", name: "backend" }] },
      };
      const judge = () => evaluate(set, admissionRequest({ object: vm }), { context: ctx, params: bindParameters(set, {}) });
      const networkDenials = () => judge().denials.filter((d) => d.policy === "vm-networks");

      const unknown = networkDenials();
      assert.equal(unknown.length, 1, "no controller Deployment: the default (no gates) is assumed");
      assert.deepEqual(unknown[0]?.assumes, ["featureGates"]);

      const deployment = (gates: string) =>
        JSON.stringify({
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "virtualization-controller", namespace: "d8-virtualization" },
          spec: {
            selector: { matchLabels: { app: "virtualization-controller" } },
            template: {
              metadata: { labels: { app: "virtualization-controller" } },
              spec: { containers: [{ name: "virtualization-controller", image: "example/controller:v1", args: [`--feature-gates=${gates}`] }] },
            },
          },
        });
      await kubectl(["apply", "-f", "-"], deployment("SDN=true"));
      await until("SDN read from the controller's Deployment", () => networkDenials().length === 0);

      await kubectl(["apply", "-f", "-"], deployment("UploadViaAPIGateway=true"));
      const known = await until("the Deployment's change", () => {
        const d = networkDenials();
        return d.length === 1 ? d : undefined;
      });
      assert.match(known[0]?.message ?? "", /its gates: UploadViaAPIGateway, read from Deployment d8-virtualization\/virtualization-controller\)/);
      assert.equal(known[0]?.assumes, undefined, "a gate read from the cluster is no assumption");
      await kubectl(["delete", "deployment", "-n", "d8-virtualization", "virtualization-controller"]);
    });

    test("the API server's version is a cluster fact: kubernetesVersion comes from it, and version checks use it", async () => {
      const p = provider();
      const ctx = p.activate(set);
      await ready(p);
      const facts = await p.clusterFacts();
      assert.match(String(facts.serverVersion), /^v1\.\d+\.\d+/);
      const params = bindParameters(set, {}, facts);
      assert.equal(params.values.kubernetesVersion, facts.serverVersion);
      const mc = (gates: string[]): JsonObject => ({
        apiVersion: "deckhouse.io/v1alpha1",
        kind: "ModuleConfig",
        metadata: { name: "virtualization", generation: 2 },
        spec: { enabled: true, version: 1, settings: { featureGates: gates, virtualMachineCIDRs: ["10.66.10.0/24"], dvcr: { storage: { type: "PersistentVolumeClaim", persistentVolumeClaim: { size: "50G" } } } } },
      });
      const old = { ...mc([]), metadata: { name: "virtualization", generation: 1 } };
      const gpu = evaluate(set, admissionRequest({ object: mc(["GPU"]), oldObject: old }), { context: ctx, params: bindParameters(set, { edition: "EE" }, facts) });
      const denial = gpu.denials.find((d) => d.policy === "moduleconfig-feature-gates");
      assert.ok(denial, JSON.stringify(gpu.denials));
      assert.ok(denial.message.includes(`the cluster runs ${String(facts.serverVersion)}`), denial.message);
      assert.equal(denial.assumes?.includes("kubernetesVersion") ?? false, false);
    });

    test("watches the server ends are resumed from their resourceVersion, without a re-list", async () => {
      const p = provider({ watch: { watchTimeoutSeconds: 2 } });
      const ctx = p.activate(set);
      await ready(p);
      await sleep(6000); // several watch timeouts (1–3 s each)
      await kubectl(["apply", "-f", "-"], lease("10.66.1.1"));
      await until("a lease created after several watch restarts", () => ctx.get(LEASE, "ip-10-66-1-1"));
      const s = phaseOf(p, LEASE);
      assert.equal(s?.lists, 1, "no re-list");
      assert.equal(s?.errors, 0);
      await kubectl(["delete", "virtualmachineipaddresslease", "ip-10-66-1-1"]);
    });

    test("API server restart: stale lookups fail (fail) or are served (serve), then a re-list; 410 Gone after a compaction re-lists", async () => {
      const failing = provider({ staleness: { mode: "fail", afterMs: 1000 } });
      const serving = provider({ staleness: { mode: "serve", afterMs: 1000 } });
      const f = failing.activate(set);
      const s = serving.activate(set);
      await ready(failing);
      await ready(serving);
      await kubectl(["apply", "-f", "-"], lease("10.66.2.1"));
      await until("lease before the restart", () => f.get(LEASE, "ip-10-66-2-1") && s.get(LEASE, "ip-10-66-2-1"));
      const listsBefore = phaseOf(failing, LEASE)?.lists ?? 0;

      restarter = new ApiserverRestarter(cp);
      await restarter.down();
      await until("the watch failure noticed", () => phaseOf(failing, LEASE)?.phase === "retrying");
      await sleep(1500);
      assert.throws(() => f.get(LEASE, "ip-10-66-2-1"), (err: Error) => {
        console.log(`lookup while the API server is down (--stale-cache fail): ${err.message}`);
        return err instanceof StaleCacheError && /the cluster cache of VirtualMachineIPAddressLease is stale: not in sync with the API server for \d+ s/.test(err.message);
      });
      assert.ok(s.get(LEASE, "ip-10-66-2-1"), "--stale-cache serve answers from the cache");
      assert.ok(logLines.some((l) => l.includes("answering from it (--stale-cache serve)")));
      const registry = new Registry();
      failing.registerMetrics(registry);
      const since = /virtguard_cluster_cache_seconds_since_sync\{kind="VirtualMachineIPAddressLease"\} ([\d.]+)/.exec(await registry.metrics());
      assert.ok(since && Number(since[1]) >= 1, `seconds since sync: ${since?.[1]}`);
      assert.notEqual(failing.notReady(), "", "readiness is about the first list only");
      assert.equal(failing.notReady(), undefined);

      // Same etcd, same port; the watch cache off, so that a watch from an old resourceVersion
      // reaches etcd (for the 410 below).
      await restarter.up(["--watch-cache=false"]);
      await kubectl(["apply", "-f", "-"], lease("10.66.2.2"));
      await until("a lease created after the restart", () => f.get(LEASE, "ip-10-66-2-2"), 30_000);
      const after = phaseOf(failing, LEASE);
      assert.equal(after?.phase, "watching");
      assert.ok((after?.lists ?? 0) > listsBefore, "re-listed");
      assert.ok((after?.errors ?? 0) >= 1);
      assert.ok(f.get(LEASE, "ip-10-66-2-1"), "objects from before are there after the re-list");

      // 410 Gone: a watch resumed from a resourceVersion etcd has compacted away.
      const gone = provider({ watch: { watchTimeoutSeconds: 2 } });
      const g = gone.activate(set);
      await ready(gone);
      for (let i = 0; i < 5; i++) await kubectl(["create", "configmap", `bump-${i}`, "-n", "vms"]);
      const range = await etcdPost(cp, "/v3/kv/range", { key: Buffer.from("/").toString("base64") });
      const revision = (range.header as JsonObject).revision as string;
      await etcdPost(cp, "/v3/kv/compaction", { revision, physical: true });
      await until("a re-list after 410 Gone", () => (phaseOf(gone, LEASE)?.lists ?? 0) >= 2, 30_000);
      assert.equal(phaseOf(gone, LEASE)?.errors, 0, "410 is not an error: ListWatch re-lists at once");
      await kubectl(["apply", "-f", "-"], lease("10.66.2.3"));
      await until("watching after the 410", () => g.get(LEASE, "ip-10-66-2-3"));
    });
  });
}
