// `virtguard manifests` and the kustomize base in manifests/: every object and field the
// deployment issue asks for, RBAC exactly least privilege, the webhook's CEL matchConditions
// evaluated, kustomize and kubectl reading the result.
//
// Not here: `kubectl apply --dry-run=client` needs an API server even in client mode (it asks
// the server's discovery to map kinds and GETs each object), and this machine has none outside
// the e2e suite. The e2e suite runs `virtguard manifests | kubectl apply --dry-run=server -f -`
// against its real kube-apiserver (renderManifests() in src/deploy/manifests.ts). Here,
// `kubectl annotate --local` decodes every document with kubectl's own YAML reader.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync, mkdirSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { run as celRun } from "@bufbuild/cel";
import { generateCA } from "../../src/pki/tls-certs.js";
import {
  BASE_NAMESPACE,
  CA_BUNDLE_PLACEHOLDER,
  buildManifests,
  defaultImage,
  policiesKustomizationDrift,
  packageVersion,
  parseManifests,
  policyFiles,
  type K8sObject,
} from "../../src/deploy/manifests.js";
import { auditGrants, expectedGrants, grantsOf, lookupRbac, sortGrants, type Grant, type PolicyRule } from "../../src/deploy/rbac.js";
import { loadPolicyDir } from "../../src/policy-files/policy-dir.js";
import { requireTool, removeTempDirs, repoRoot, tempDir, tool, virtguard } from "./helpers.js";
import { policyDoc } from "../support/policy-doc.js";

requireTool("kubectl", ["version", "--client"]);

type Obj = K8sObject & Record<string, unknown>;

// Typed views of the fields under test.
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}
interface Probe {
  httpGet?: { path: string; port: string | number; scheme?: string };
}
interface PodSpec {
  serviceAccountName: string;
  priorityClassName?: string;
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  topologySpreadConstraints?: { topologyKey: string; maxSkew: number; whenUnsatisfiable: string; labelSelector: { matchLabels: Record<string, string> } }[];
  affinity?: { podAntiAffinity?: { preferredDuringSchedulingIgnoredDuringExecution?: { podAffinityTerm: { topologyKey: string } }[] } };
  containers: Container[];
  volumes: { name: string; secret?: { secretName: string }; configMap?: { name: string }; emptyDir?: object }[];
}
interface Deployment {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    strategy?: { rollingUpdate?: { maxUnavailable: number; maxSurge: number } };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}
interface Webhook {
  name: string;
  admissionReviewVersions: string[];
  sideEffects: string;
  timeoutSeconds: number;
  failurePolicy: string;
  matchPolicy: string;
  clientConfig: { service: { name: string; namespace: string; path: string; port: number }; caBundle: string };
  rules: { apiGroups: string[]; apiVersions: string[]; resources: string[]; operations: string[]; scope: string }[];
  namespaceSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
  matchConditions?: { name: string; expression: string }[];
}

function find(objs: Obj[], kind: string, name?: string): Obj {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  assert.ok(o, `no ${kind}${name ? ` ${name}` : ""}`);
  return o;
}

function deploymentOf(objs: Obj[]): Deployment {
  return find(objs, "Deployment") as unknown as Deployment;
}

function webhooksOf(objs: Obj[]): Webhook[] {
  return (find(objs, "ValidatingWebhookConfiguration") as unknown as { webhooks: Webhook[] }).webhooks;
}

/** JSON → CEL input, the way the API server presents objects: maps, and integers as int. */
function cel(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(cel);
  if (typeof v === "object") return new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, cel(x)]));
  return v;
}

interface Req {
  group: string;
  resource: string;
  operation: "CREATE" | "UPDATE" | "DELETE";
  object: unknown;
  oldObject: unknown;
}

function evalConditions(w: Webhook, r: Req): boolean {
  let all = true;
  for (const c of w.matchConditions ?? []) {
    const request = { operation: r.operation, resource: { group: r.group, version: "v1", resource: r.resource }, name: "" };
    const result = celRun(c.expression, { request: cel(request), object: cel(r.object), oldObject: cel(r.oldObject) } as never);
    assert.equal(typeof result, "boolean", `${w.name} / ${c.name} did not evaluate to a bool (an error makes the API server apply failurePolicy): ${String(result)}`);
    all = all && (result as boolean);
  }
  return all;
}

describe("virtguard manifests", () => {
  let dir: string;
  let caPem: string;
  let out: ReturnType<typeof virtguard>;
  let objs: Obj[];
  const NS = "guard-system";
  const IMAGE = "registry.example/virtguard:9.9.9";

  after(removeTempDirs);
  before(() => {
    dir = tempDir();
    caPem = generateCA({ keyType: "ecdsa-p256" }).cert;
    writeFileSync(join(dir, "ca.crt"), caPem);
    out = virtguard(["manifests", "--namespace", NS, "--ca-bundle", join(dir, "ca.crt"), "--image", IMAGE]);
    assert.equal(out.code, 0, out.stderr);
    objs = parseManifests(out.stdout) as Obj[];
  });

  test("prints every object, the webhook configuration last", () => {
    const ids = objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
    assert.deepEqual(ids, [
      `Namespace//${NS}`,
      "PriorityClass//virtguard-critical",
      `ServiceAccount/${NS}/virtguard`,
      "ClusterRole//virtguard-lookups",
      "ClusterRoleBinding//virtguard-lookups",
      "Role/d8-virtualization/virtguard-lookups",
      "RoleBinding/d8-virtualization/virtguard-lookups",
      "Role/kube-system/virtguard-cluster-configuration",
      "RoleBinding/kube-system/virtguard-cluster-configuration",
      "ClusterRole//virtguard-audit-reports",
      "ClusterRoleBinding//virtguard-audit-reports",
      `Role/${NS}/virtguard-audit-lease`,
      `RoleBinding/${NS}/virtguard-audit-lease`,
      `ConfigMap/${NS}/virtguard-policies`,
      `Service/${NS}/virtguard`,
      `Deployment/${NS}/virtguard`,
      `PodDisruptionBudget/${NS}/virtguard`,
      "ValidatingWebhookConfiguration//virtguard",
    ]);
    assert.equal(out.stderr, "", "no warning when --ca-bundle is given");
  });

  test("the namespace is applied everywhere, and the base namespace appears nowhere", () => {
    assert.ok(!new RegExp(`\\b${BASE_NAMESPACE}\\.svc\\b`).test(out.stdout));
    // The lookup Roles stay in the namespaces of what they grant (the platform's, not virtguard's).
    const lookups = new Set(lookupRbac(loadPolicyDir()).namespaceRules.keys());
    for (const o of objs) {
      if (o.metadata.namespace !== undefined && !lookups.has(o.metadata.namespace)) assert.equal(o.metadata.namespace, NS, `${o.kind} ${o.metadata.name}`);
    }
    for (const b of objs.filter((o) => o.kind.endsWith("RoleBinding"))) {
      assert.deepEqual(b.subjects, [{ kind: "ServiceAccount", name: "virtguard", namespace: NS }]);
    }
    for (const w of webhooksOf(objs)) {
      assert.equal(w.clientConfig.service.namespace, NS);
      assert.deepEqual(w.namespaceSelector.matchExpressions, [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: [NS, "kube-system"] }]);
    }
  });

  test("Deployment: 3 replicas spread across nodes, priority, probes, resources, security, grace period, TLS Secret", () => {
    const d = deploymentOf(objs);
    const pod = d.spec.template.spec;
    const c = pod.containers.find((x) => x.name === "virtguard");
    assert.ok(c);
    assert.equal(d.spec.replicas, 3);
    assert.deepEqual(d.spec.strategy?.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
    // Labels: the selector picks the template's pods.
    for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) assert.equal(d.spec.template.metadata.labels[k], v);
    // Spread across nodes: a hard topology spread on the hostname, and anti-affinity as a preference.
    const spread = pod.topologySpreadConstraints?.find((t) => t.topologyKey === "kubernetes.io/hostname");
    assert.ok(spread);
    assert.equal(spread.maxSkew, 1);
    assert.equal(spread.whenUnsatisfiable, "DoNotSchedule");
    assert.deepEqual(spread.labelSelector.matchLabels, d.spec.selector.matchLabels);
    assert.equal(pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey, "kubernetes.io/hostname");
    // A priority class that the set itself creates.
    assert.equal(pod.priorityClassName, "virtguard-critical");
    find(objs, "PriorityClass", pod.priorityClassName);
    // Probes on the metrics port, answered off the evaluation thread.
    assert.equal(c.ports?.[0]?.name, "https");
    assert.deepEqual(c.ports?.[1], { name: "metrics", containerPort: 9090, protocol: "TCP" });
    assert.ok(c.args?.includes("--metrics-port=9090"));
    assert.deepEqual(c.readinessProbe?.httpGet, { path: "/readyz", port: "metrics", scheme: "HTTP" });
    assert.deepEqual(c.livenessProbe?.httpGet, { path: "/healthz", port: "metrics", scheme: "HTTP" });
    // Requests and limits for CPU and memory.
    for (const r of ["cpu", "memory"]) {
      assert.ok(c.resources?.requests?.[r], `requests.${r}`);
      assert.ok(c.resources?.limits?.[r], `limits.${r}`);
    }
    // Security.
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.seccompProfile?.type, "RuntimeDefault");
    assert.equal(c.securityContext?.runAsNonRoot, true);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"]);
    // The drain fits: serve's shutdown delay plus one webhook timeout of in-flight work fit in its
    // grace period, which ends before the kubelet's SIGKILL; evaluation ends before the API server gives up.
    const seconds = (name: string): number => {
      const a = c.args?.find((x) => x.startsWith(`--${name}=`));
      assert.ok(a, `--${name} missing from args`);
      const m = /^--[a-z-]+=(\d+)s$/.exec(a);
      assert.ok(m, `${a}: expected whole seconds`);
      return Number(m[1]);
    };
    const timeout = Math.max(...webhooksOf(objs).map((w) => w.timeoutSeconds));
    assert.ok(seconds("shutdown-delay") + timeout <= seconds("shutdown-grace-period"), "shutdown-grace-period too short for the delay and one request");
    assert.ok(seconds("shutdown-grace-period") + 5 <= (pod.terminationGracePeriodSeconds ?? 30), "terminationGracePeriodSeconds too short");
    assert.ok(seconds("eval-timeout") < Math.min(...webhooksOf(objs).map((w) => w.timeoutSeconds)), "eval-timeout must be below timeoutSeconds");
    assert.equal(c.lifecycle?.preStop, undefined, "serve's --shutdown-delay does what a preStop sleep would");
    // Image, service account.
    assert.equal(c.image, IMAGE);
    assert.equal(pod.serviceAccountName, "virtguard");
    find(objs, "ServiceAccount", "virtguard");
  });

  test("Deployment: serve's flags point into the mounted TLS Secret and policies ConfigMap", () => {
    const pod = deploymentOf(objs).spec.template.spec;
    const c = pod.containers[0] as Container;
    const flag = (name: string): string => {
      const a = c.args?.find((x) => x.startsWith(`--${name}=`));
      assert.ok(a, `--${name} missing from args`);
      return a.slice(name.length + 3);
    };
    const mountOf = (path: string): string => {
      const m = c.volumeMounts?.find((v) => path.startsWith(v.mountPath + "/") || path === v.mountPath);
      assert.ok(m, `${path} is not on a mounted volume`);
      return m.name;
    };
    const volume = (name: string) => pod.volumes.find((v) => v.name === name);
    assert.equal(volume(mountOf(flag("tls-cert")))?.secret?.secretName, "virtguard-tls");
    assert.equal(volume(mountOf(flag("tls-key")))?.secret?.secretName, "virtguard-tls");
    assert.equal(volume(mountOf(flag("policies")))?.configMap?.name, "virtguard-policies");
    find(objs, "ConfigMap", "virtguard-policies");
    assert.equal(flag("port"), String(c.ports?.[0]?.containerPort));
    // Every writable path is an emptyDir (the root filesystem is read-only).
    for (const m of c.volumeMounts ?? []) if (!m.readOnly) assert.ok(volume(m.name)?.emptyDir, `${m.mountPath} is writable but not an emptyDir`);
  });

  test("the policies ConfigMap holds the policy files verbatim", () => {
    const cm = find(objs, "ConfigMap", "virtguard-policies") as Obj & { data: Record<string, string> };
    const dirp = join(repoRoot, "policies");
    const files = policyFiles(dirp);
    assert.ok(files.length > 0);
    assert.deepEqual(Object.keys(cm.data).sort(), files);
    for (const f of files) assert.equal(cm.data[f], readFileSync(join(dirp, f), "utf8"));
    assert.ok(!Object.keys(cm.data).some((k) => k.endsWith(".schema.json")), "the schema is not a policy");
  });

  test("PodDisruptionBudget maxUnavailable 1 and Service select the pods", () => {
    const d = deploymentOf(objs);
    const labels = d.spec.template.metadata.labels;
    const pdb = find(objs, "PodDisruptionBudget") as unknown as { spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } } };
    assert.equal(pdb.spec.maxUnavailable, 1);
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(labels[k], v);
    const svc = find(objs, "Service") as unknown as { spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] } };
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(labels[k], v);
    const port = svc.spec.ports[0];
    assert.ok(port);
    assert.equal(port.targetPort, d.spec.template.spec.containers[0]?.ports?.[0]?.name);
    for (const w of webhooksOf(objs)) {
      assert.equal(w.clientConfig.service.name, (find(objs, "Service") as Obj).metadata.name);
      assert.equal(w.clientConfig.service.port, port.port);
      assert.equal(w.clientConfig.service.path, "/validate");
    }
  });

  test("ValidatingWebhookConfiguration: rules, matchPolicy, sideEffects, versions, timeouts, failurePolicy, caBundle", () => {
    const ws = webhooksOf(objs);
    const byName = new Map(ws.map((w) => [w.name, w]));
    assert.equal(byName.size, 5, "webhook names must be unique");
    // docs/operations.md's emergency runbook patches the webhooks by index.
    assert.deepEqual(
      ws.map((w) => w.name),
      ["virtualmachines.virtguard.io", "virtualmachineclasses.virtguard.io", "moduleconfigs.virtguard.io", "virtualmachinepools.virtguard.io", "virtualmachineipaddresses.virtguard.io"],
    );
    for (const w of ws) {
      assert.match(w.name, /^[a-z0-9-]+(\.[a-z0-9-]+){2,}$/, "a webhook name is fully qualified");
      assert.deepEqual(w.admissionReviewVersions, ["v1"]);
      assert.equal(w.sideEffects, "None");
      assert.equal(w.matchPolicy, "Equivalent");
      assert.equal(w.timeoutSeconds, 5);
      assert.equal(Buffer.from(w.clientConfig.caBundle, "base64").toString("utf8"), caPem.trim() + "\n");
    }
    const vm = byName.get("virtualmachines.virtguard.io");
    const vmclass = byName.get("virtualmachineclasses.virtguard.io");
    const mc = byName.get("moduleconfigs.virtguard.io");
    assert.ok(vm && vmclass && mc);
    assert.deepEqual(vm.rules, [
      { apiGroups: ["virtualization.deckhouse.io"], apiVersions: ["v1alpha2"], resources: ["virtualmachines"], operations: ["CREATE", "UPDATE"], scope: "Namespaced" },
    ]);
    assert.deepEqual(vmclass.rules, [
      {
        apiGroups: ["virtualization.deckhouse.io"],
        apiVersions: ["v1alpha2", "v1alpha3"],
        resources: ["virtualmachineclasses"],
        operations: ["CREATE", "UPDATE"],
        scope: "Cluster",
      },
    ]);
    assert.deepEqual(mc.rules, [{ apiGroups: ["deckhouse.io"], apiVersions: ["v1alpha1"], resources: ["moduleconfigs"], operations: ["CREATE", "UPDATE", "DELETE"], scope: "Cluster" }]);
    // Every kind a shipped policy judges reaches virtguard: pools and addresses too.
    for (const resource of ["virtualmachinepools", "virtualmachineipaddresses"]) {
      assert.deepEqual(byName.get(`${resource}.virtguard.io`)?.rules, [
        { apiGroups: ["virtualization.deckhouse.io"], apiVersions: ["v1alpha2"], resources: [resource], operations: ["CREATE", "UPDATE"], scope: "Namespaced" },
      ]);
    }
    // The documented choices (docs/operations.md).
    assert.equal(vm.failurePolicy, "Fail");
    assert.equal(vmclass.failurePolicy, "Ignore");
    assert.equal(mc.failurePolicy, "Fail");
  });

  test("matchConditions: only the 'virtualization' ModuleConfig, DELETE included; VM and class requests untouched", () => {
    const ws = webhooksOf(objs);
    const vm = ws.find((w) => w.name.startsWith("virtualmachines."));
    const vmclass = ws.find((w) => w.name.startsWith("virtualmachineclasses."));
    const mc = ws.find((w) => w.name.startsWith("moduleconfigs."));
    assert.ok(vm && vmclass && mc);
    for (const w of ws) {
      for (const c of w.matchConditions ?? []) assert.match(c.name, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "matchCondition names are qualified names");
    }
    const mcObj = (name: string, generation: number): object => ({ apiVersion: "deckhouse.io/v1alpha1", kind: "ModuleConfig", metadata: { name, generation }, spec: {} });
    const vmObj = (extra: object = {}): object => ({ apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachine", metadata: { name: "vm", namespace: "ns", generation: 1, ...extra }, spec: {} });
    const MC = { group: "deckhouse.io", resource: "moduleconfigs" };
    const VM = { group: "virtualization.deckhouse.io", resource: "virtualmachines" };
    const CLASS = { group: "virtualization.deckhouse.io", resource: "virtualmachineclasses" };

    // ModuleConfig webhook.
    assert.equal(evalConditions(mc, { ...MC, operation: "CREATE", object: mcObj("virtualization", 1), oldObject: null }), true);
    assert.equal(evalConditions(mc, { ...MC, operation: "CREATE", object: mcObj("cni-cilium", 1), oldObject: null }), false);
    assert.equal(evalConditions(mc, { ...MC, operation: "UPDATE", object: mcObj("virtualization", 3), oldObject: mcObj("virtualization", 2) }), true);
    assert.equal(evalConditions(mc, { ...MC, operation: "UPDATE", object: mcObj("virtualization", 2), oldObject: mcObj("virtualization", 2) }), false, "metadata-only updates skip");
    assert.equal(evalConditions(mc, { ...MC, operation: "UPDATE", object: mcObj("global", 3), oldObject: mcObj("global", 2) }), false);
    assert.equal(evalConditions(mc, { ...MC, operation: "DELETE", object: null, oldObject: mcObj("virtualization", 2) }), true, "DELETE: object is null");
    assert.equal(evalConditions(mc, { ...MC, operation: "DELETE", object: null, oldObject: mcObj("global", 2) }), false);
    // The ModuleConfig condition would let VM requests through, were the rules ever merged.
    assert.equal(evalConditions(mc, { ...VM, operation: "CREATE", object: vmObj(), oldObject: null }), true);

    // VM and class webhooks: everything but updates of objects being deleted.
    for (const [w, r] of [
      [vm, VM],
      [vmclass, CLASS],
    ] as const) {
      assert.equal(evalConditions(w, { ...r, operation: "CREATE", object: vmObj(), oldObject: null }), true);
      assert.equal(evalConditions(w, { ...r, operation: "UPDATE", object: vmObj({ labels: { a: "b" } }), oldObject: vmObj() }), true);
      assert.equal(evalConditions(w, { ...r, operation: "UPDATE", object: vmObj({ deletionTimestamp: "2026-01-01T00:00:00Z" }), oldObject: vmObj() }), false);
    }
  });

  test("RBAC grants exactly the shipped policies' lookups, read-only, the Secrets they read by name, and the audit's reports and Lease", () => {
    const shipped = loadPolicyDir();
    const secrets = new Set([...shipped.targets.values()].flatMap((t) => (t.fromSecret ? [`${t.fromSecret.namespace}/${t.fromSecret.name}`] : [])));
    const granted: Grant[] = [];
    const roles = new Map<string, Obj>();
    for (const o of objs) {
      if (o.kind === "ClusterRole") granted.push(...grantsOf(o.rules as PolicyRule[], "*"));
      if (o.kind === "Role") granted.push(...grantsOf(o.rules as PolicyRule[], o.metadata.namespace ?? "?"));
      if (o.kind === "ClusterRole" || o.kind === "Role") roles.set(`${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`, o);
    }
    const audit = auditGrants(NS);
    assert.deepEqual(sortGrants(granted), sortGrants([...expectedGrants(shipped), ...audit]));
    // Each role is bound to virtguard's ServiceAccount, and only to it; nothing else is bound.
    const bindings = objs.filter((o) => o.kind === "ClusterRoleBinding" || o.kind === "RoleBinding");
    assert.equal(bindings.length, roles.size);
    for (const b of bindings) {
      const ref = b.roleRef as { kind: string; name: string };
      const ns = b.kind === "RoleBinding" ? (b.metadata.namespace ?? "") : "";
      assert.ok(roles.has(`${ref.kind}/${ns}/${ref.name}`), `${b.kind} ${b.metadata.name} binds a role the set lacks`);
    }
    // No wildcards; the only writes are the audit's: its reports, and its Lease in virtguard's own namespace.
    const auditKeys = new Set(audit.map((g) => JSON.stringify(g)));
    for (const g of audit) {
      assert.ok(g.apiGroup === "wgpolicyk8s.io" || (g.apiGroup === "coordination.k8s.io" && g.resource === "leases" && g.namespace === NS), JSON.stringify(g));
      if (g.resource === "leases" && g.verb !== "create") assert.equal(g.resourceName, "virtguard-audit");
    }
    for (const g of granted) {
      assert.ok(["get", "list", "watch"].includes(g.verb) || auditKeys.has(JSON.stringify(g)), `write verb ${g.verb} on ${g.resource}`);
      assert.ok(g.resource !== "*" && g.apiGroup !== "*");
      if (g.resource === "secrets") assert.ok(secrets.has(`${g.namespace}/${g.resourceName}`), `a Secret no policy reads: ${g.namespace}/${g.resourceName}`);
    }
    // What every lookup names is granted by name: the dvcr PVC and the virtualization ModuleConfig, no other.
    const keys = new Set(granted.map((g) => `${g.namespace} ${g.apiGroup}/${g.resource} ${g.verb} ${g.resourceName}`));
    for (const verb of ["get", "list", "watch"]) {
      assert.ok(keys.has(`d8-virtualization /persistentvolumeclaims ${verb} dvcr`), `${verb} on the dvcr PVC`);
      assert.ok(keys.has(`* deckhouse.io/moduleconfigs ${verb} virtualization`), `${verb} on the virtualization ModuleConfig`);
    }
    assert.deepEqual(granted.filter((g) => ["persistentvolumeclaims", "moduleconfigs"].includes(g.resource) && g.resourceName === "*"), []);
    // manifests/rbac.yaml, read on its own, says the same.
    const base = parseManifests(readFileSync(join(repoRoot, "manifests", "rbac.yaml"), "utf8"));
    const baseGrants = base.flatMap((o) =>
      o.kind === "ClusterRole" ? grantsOf(o.rules as PolicyRule[], "*") : o.kind === "Role" ? grantsOf(o.rules as PolicyRule[], o.metadata.namespace ?? "?") : [],
    );
    assert.deepEqual(sortGrants(baseGrants), expectedGrants(shipped), "manifests/rbac.yaml must grant what the shipped policies look up (see src/deploy/rbac.ts)");
    const auditBase = parseManifests(readFileSync(join(repoRoot, "manifests", "audit-rbac.yaml"), "utf8"));
    const auditBaseGrants = auditBase.flatMap((o) =>
      o.kind === "ClusterRole" ? grantsOf(o.rules as PolicyRule[], "*") : o.kind === "Role" ? grantsOf(o.rules as PolicyRule[], o.metadata.namespace ?? "?") : [],
    );
    assert.deepEqual(sortGrants(auditBaseGrants), auditGrants("virtguard"), "manifests/audit-rbac.yaml must grant what src/deploy/rbac.ts's AUDIT_RBAC says");
  });

  test("with --policies, RBAC follows the lookups of that set: new kinds and Secrets granted, unused ones dropped", () => {
    const dirp = tempDir();
    for (const f of policyFiles(join(repoRoot, "policies"))) {
      if (f === "moduleconfig-cidrs.json" || f === "moduleconfig-dvcr.json") continue; // no Secret, no PersistentVolumeClaim
      copyFileSync(join(repoRoot, "policies", f), join(dirp, f));
    }
    const configMaps = policyDoc("configmap-lookup", {
      description: "Looks up ConfigMaps and a Secret in tenant-a, so that RBAC must grant them.",
      match: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"], operations: ["CREATE"] }] },
      variables: [
        { name: "cm", lookup: { target: { apiVersion: "v1", kind: "ConfigMap", resource: "configmaps", namespaced: true }, list: { limit: 1 } } },
        { name: "token", lookup: { target: { apiVersion: "example.io/v1", kind: "Settings", resource: "settings", fromSecret: { namespace: "tenant-a", name: "settings", key: "s.yaml" } }, list: { limit: 1 } } },
      ],
      validations: [{ expression: "size(variables.cm) >= 0 && size(variables.token) >= 0", message: "never", action: "Deny" }],
    });
    writeFileSync(join(dirp, "configmap-lookup.json"), JSON.stringify(configMaps));
    const set = loadPolicyDir(dirp);
    const out = buildManifests({ policiesDir: dirp });
    const granted = out.flatMap((o) => (o.kind === "ClusterRole" ? grantsOf(o.rules as PolicyRule[], "*") : o.kind === "Role" ? grantsOf(o.rules as PolicyRule[], o.metadata.namespace ?? "?") : []));
    assert.deepEqual(sortGrants(granted), sortGrants([...expectedGrants(set), ...auditGrants("virtguard")]));
    const keys = new Set(granted.map((g) => `${g.namespace} ${g.apiGroup}/${g.resource} ${g.verb} ${g.resourceName}`));
    assert.ok(keys.has("* /configmaps list *"));
    assert.ok(keys.has("tenant-a /secrets watch settings"));
    assert.ok(!keys.has("* /persistentvolumeclaims get *"), "no policy of the set looks PVCs up");
    assert.ok(![...keys].some((k) => k.startsWith("kube-system ")), "no policy of the set reads the kube-system Secret");
    // The Role of the new namespace is bound to virtguard's ServiceAccount.
    const binding = out.find((o) => o.kind === "RoleBinding" && o.metadata.namespace === "tenant-a");
    assert.deepEqual(binding?.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "virtguard-lookups" });
    assert.equal((binding?.subjects as { name: string }[] | undefined)?.[0]?.name, "virtguard");
  });

  test("--ca-bundle repeated makes an overlapping bundle", () => {
    const second = generateCA({ keyType: "ecdsa-p256" }).cert;
    writeFileSync(join(dir, "new-ca.crt"), second);
    const r = virtguard(["manifests", "--webhook-only", "--ca-bundle", join(dir, "ca.crt"), "--ca-bundle", join(dir, "new-ca.crt")]);
    assert.equal(r.code, 0, r.stderr);
    const docs = parseManifests(r.stdout) as Obj[];
    assert.deepEqual(
      docs.map((o) => o.kind),
      ["ValidatingWebhookConfiguration"],
    );
    for (const w of webhooksOf(docs)) assert.equal(Buffer.from(w.clientConfig.caBundle, "base64").toString("utf8"), caPem.trim() + "\n" + second.trim() + "\n");

  });

  test("without a CA, no webhook configuration: exit 2 with one line saying what to pass", () => {
    const empty = tempDir();
    for (const args of [[], ["--webhook-only"], ["--webhook-only", "--webhook-url", "https://127.0.0.1:8443/validate"]]) {
      const r = virtguard(["manifests", ...args], { cwd: empty });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.deepEqual(r.stderr.trim().split("\n"), [
        "virtguard: no CA for the webhook's caBundle: pass --ca-bundle FILE (the CA of virtguard's serving certificate), or run 'virtguard certs' first (it writes certs/ca.crt)",
      ]);
    }
    // Everything but the webhook needs no CA.
    const app = virtguard(["manifests", "--skip-webhook"], { cwd: empty });
    assert.equal(app.code, 0, app.stderr);
    assert.ok(!(parseManifests(app.stdout) as Obj[]).some((o) => o.kind === "ValidatingWebhookConfiguration"));
    // The library still renders the placeholder for kustomize-style callers that patch it in later.
    for (const w of webhooksOf(buildManifests({ include: "webhook" }) as Obj[])) assert.equal(w.clientConfig.caBundle, CA_BUNDLE_PLACEHOLDER);
  });

  test("certs/ca.crt, where 'virtguard certs' writes it, is the default CA", () => {
    const work = tempDir();
    const certs = virtguard(["certs", "--key-type", "ecdsa-p256"], { cwd: work });
    assert.equal(certs.code, 0, certs.stderr);
    const r = virtguard(["manifests", "--webhook-only"], { cwd: work });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "virtguard manifests: caBundle from certs/ca.crt\n");
    const ca = readFileSync(join(work, "certs", "ca.crt"), "utf8");
    for (const w of webhooksOf(parseManifests(r.stdout) as Obj[])) assert.equal(Buffer.from(w.clientConfig.caBundle, "base64").toString("utf8"), ca.trim() + "\n");
  });

  test("--failure-policy sets each webhook's failurePolicy; kinds not named keep the default", () => {
    const policies = (args: string[]) => {
      const r = virtguard(["manifests", "--webhook-only", "--ca-bundle", join(dir, "ca.crt"), ...args]);
      assert.equal(r.code, 0, r.stderr);
      return Object.fromEntries(webhooksOf(parseManifests(r.stdout) as Obj[]).map((w) => [w.name, w.failurePolicy]));
    };
    const defaults = {
      "virtualmachines.virtguard.io": "Fail",
      "virtualmachineclasses.virtguard.io": "Ignore",
      "moduleconfigs.virtguard.io": "Fail",
      "virtualmachinepools.virtguard.io": "Ignore",
      "virtualmachineipaddresses.virtguard.io": "Ignore",
    };
    assert.deepEqual(policies([]), defaults);
    assert.deepEqual(policies(["--failure-policy", "virtualmachines=Ignore"]), { ...defaults, "virtualmachines.virtguard.io": "Ignore" });
    assert.deepEqual(policies(["--failure-policy", "virtualmachines=ignore,virtualmachineclasses=Fail", "--failure-policy", "moduleconfigs=Ignore"]), {
      ...defaults,
      "virtualmachines.virtguard.io": "Ignore",
      "virtualmachineclasses.virtguard.io": "Fail",
      "moduleconfigs.virtguard.io": "Ignore",
    });
    assert.deepEqual(policies(["--failure-policy", "Ignore"]), Object.fromEntries(Object.keys(defaults).map((k) => [k, "Ignore"])));
  });

  test("the default image is the public registry path of this version; --image replaces it", () => {
    assert.equal(defaultImage(), `ghcr.io/virtguard/virtguard:${packageVersion()}`);
    const image = (args: string[]) =>
      ((find(parseManifests(virtguard(["manifests", "--skip-webhook", ...args]).stdout) as Obj[], "Deployment") as unknown as Deployment).spec.template.spec.containers[0] as { image: string }).image;
    assert.equal(image([]), defaultImage());
    assert.equal(image(["--image", "registry.example/mirror/virtguard:0.1.0"]), "registry.example/mirror/virtguard:0.1.0");
  });

  test("--webhook-url replaces the Service reference (a virtguard outside the cluster)", () => {
    const r = virtguard(["manifests", "--webhook-only", "--ca-bundle", join(dir, "ca.crt"), "--webhook-url", "https://127.0.0.1:8443/validate"]);
    assert.equal(r.code, 0, r.stderr);
    for (const w of webhooksOf(parseManifests(r.stdout) as Obj[])) {
      assert.deepEqual(Object.keys(w.clientConfig).sort(), ["caBundle", "url"]);
      assert.equal((w.clientConfig as unknown as { url: string }).url, "https://127.0.0.1:8443/validate");
    }
    const bad = virtguard(["manifests", "--webhook-only", "--webhook-url", "http://127.0.0.1:8443/validate"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /must use https/);
  });

  test("--skip-webhook and --webhook-only split the set", () => {
    const app = parseManifests(virtguard(["manifests", "--skip-webhook"]).stdout);
    const hook = parseManifests(virtguard(["manifests", "--webhook-only", "--ca-bundle", join(dir, "ca.crt")]).stdout);
    assert.equal(app.length + hook.length, objs.length);
    assert.ok(!app.some((o) => o.kind === "ValidatingWebhookConfiguration"));
    assert.deepEqual(
      hook.map((o) => o.kind),
      ["ValidatingWebhookConfiguration"],
    );
  });

  for (const [args, message] of [
    [["--namespace", "Bad_NS"], /namespace "Bad_NS" is not a DNS-1123 label/],
    [["--ca-bundle", "/nonexistent/ca.crt"], /cannot read CA bundle file/],
    [["--ca-bundle", "package.json"], /neither PEM certificates nor a base64 caBundle/],
    [["--policies", "/nonexistent"], /policy directory \/nonexistent does not exist/],
    [["--skip-webhook", "--webhook-only"], /exclude each other/],
    [["--image", "bad image"], /is not an image reference/],
    [["--failure-policy", "virtualmachines=Maybe"], /--failure-policy virtualmachines=Maybe: "Maybe" is not Fail or Ignore/],
    [["--failure-policy", "vms=Ignore"], /failure policy for "vms": no webhook covers it \(known: virtualmachines, virtualmachineclasses, moduleconfigs, virtualmachinepools, virtualmachineipaddresses\)/],
  ] as const) {
    test(`bad input ${args.join(" ")}: one line on stderr, exit 2`, () => {
      const r = virtguard(["manifests", ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.equal(r.stdout, "");
    });
  }

  test("an invalid policy directory is refused: new pods could not load it", () => {
    const bad = join(dir, "bad-policies");
    mkdirSync(bad);
    writeFileSync(join(bad, "broken.json"), '{"apiVersion": "nope"}');
    const r = virtguard(["manifests", "--policies", bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /policy/);
  });

  test("--policies DIR fills the ConfigMap from that directory", () => {
    const mine = join(dir, "my-policies");
    mkdirSync(mine);
    const src = join(repoRoot, "policies");
    const first = policyFiles(src)[0];
    assert.ok(first);
    copyFileSync(join(src, first), join(mine, first));
    const cm = find(buildManifests({ policiesDir: mine }) as Obj[], "ConfigMap") as Obj & { data: Record<string, string> };
    assert.deepEqual(Object.keys(cm.data), [first]);
  });

  test("YAML that YAML 1.1 readers would misread is quoted (namespace 'y', 'on', 'no')", () => {
    for (const ns of ["y", "on", "no"]) {
      const r = virtguard(["manifests", "--namespace", ns, "--ca-bundle", join(dir, "ca.crt")]);
      assert.equal(r.code, 0, r.stderr);
      for (const o of parseManifests(r.stdout)) if (o.metadata.namespace !== undefined) assert.equal(typeof o.metadata.namespace, "string");
      const k = tool("kubectl", ["annotate", "--local", "-f", "-", "virtguard.io/check=1", "-o", "name"], { input: r.stdout, env: offlineKubectlEnv(dir) });
      assert.equal(k.code, 0, k.stderr);
    }
  });

  test("kubectl reads every document (kubectl annotate --local, no server)", () => {
    const k = tool("kubectl", ["annotate", "--local", "-f", "-", "virtguard.io/check=1", "-o", "name"], { input: out.stdout, env: offlineKubectlEnv(dir) });
    assert.equal(k.code, 0, k.stderr);
    const names = k.stdout.trim().split("\n");
    assert.equal(names.length, objs.length);
    assert.ok(names.includes("validatingwebhookconfiguration.admissionregistration.k8s.io/virtguard"));
    assert.ok(names.includes("deployment.apps/virtguard"));
    assert.ok(names.includes("poddisruptionbudget.policy/virtguard"));
  });

  test("kubectl kustomize manifests/ builds the same objects as virtguard manifests", () => {
    const k = tool("kubectl", ["kustomize", join(repoRoot, "manifests")]);
    assert.equal(k.code, 0, k.stderr);
    const fromKustomize = parseManifests(k.stdout);
    const fromCli = buildManifests();
    const key = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    const sortByKey = (l: K8sObject[]): K8sObject[] => [...l].sort((a, b) => key(a).localeCompare(key(b)));
    assert.deepEqual(sortByKey(fromKustomize), sortByKey(fromCli));
    // kustomize orders the webhook configuration last as well.
    assert.equal(fromKustomize.at(-1)?.kind, "ValidatingWebhookConfiguration");
  });

  test("policies/kustomization.yaml lists exactly the policy files (else: npm run manifests:sync)", () => {
    const drift = policiesKustomizationDrift(join(repoRoot, "policies"));
    assert.deepEqual(drift, [], `policies/kustomization.yaml is stale (${drift.join("; ")}): run 'npm run manifests:sync' and commit policies/kustomization.yaml`);
  });

  test("the base's image is the default image: the public registry path, tagged with the package version", () => {
    const base = parseManifests(readFileSync(join(repoRoot, "manifests", "deployment.yaml"), "utf8"));
    const c = (base[0] as unknown as Deployment).spec.template.spec.containers[0];
    assert.equal(c?.image, defaultImage());
  });

  test("every file in manifests/ is listed in the kustomization", () => {
    const k = parseManifests(readFileSync(join(repoRoot, "manifests", "kustomization.yaml"), "utf8"))[0] as unknown as { resources: string[] };
    const files = readdirSync(join(repoRoot, "manifests")).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    for (const f of files) assert.ok(k.resources.includes(f), `${f} is not in manifests/kustomization.yaml`);
  });

  test("the Deployment's flags are flags that serve accepts", () => {
    const help = virtguard(["serve", "--help"]);
    assert.equal(help.code, 0, help.stderr);
    const c = deploymentOf(objs).spec.template.spec.containers[0] as Container;
    for (const a of c.args ?? []) {
      const flag = a.split("=")[0] ?? a;
      assert.ok(help.stdout.includes(flag), `serve --help does not mention ${flag}`);
    }
  });
});

/** A kubeconfig that points nowhere, so kubectl never reaches a real cluster by accident. */
function offlineKubectlEnv(dir: string): NodeJS.ProcessEnv {
  const path = join(dir, "offline.kubeconfig");
  writeFileSync(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters: [{name: offline, cluster: {server: 'https://127.0.0.1:1'}}]",
      "contexts: [{name: offline, context: {cluster: offline, user: offline}}]",
      "users: [{name: offline, user: {}}]",
      "current-context: offline",
      "",
    ].join("\n"),
  );
  return { ...process.env, KUBECONFIG: path };
}
