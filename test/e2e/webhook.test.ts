// End to end: a real kube-apiserver calls a real `virtguard serve` (live cluster context, with the
// RBAC of `virtguard manifests`), and a tenant admin uses the real kubectl. Every kubectl output is
// printed into the test log. Each verdict is one only the webhook can give (a denial or warning in
// virtguard's words), or is checked against virtguard's own decision counter, so these tests fail
// if the webhook is not actually called.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { generateCA, issueClientCert } from "../../src/pki/tls-certs.js";
import { e2eBinaries, showCommand as show, startControlPlane, type ControlPlane, type KubectlResult } from "./control-plane.js";
import {
  installVirtguardRbac,
  makeWebhookCerts,
  metricSum,
  registerWebhook,
  serviceAccountKubeconfig,
  startVirtguard,
  virtguardCli,
  type Certs,
  type VirtguardProcess,
} from "./virtguard-process.js";

/**
 * A client CA and certificate for the API server, and the AdmissionConfiguration whose kubeconfig
 * makes it present that certificate to every webhook ("*" matches any host).
 */
function apiserverClientCertificate(dir: string): { caFile: string; admissionConfiguration: string } {
  fs.mkdirSync(dir, { recursive: true });
  const ca = generateCA({ keyType: "ecdsa-p256", commonName: "e2e webhook client CA" });
  const client = issueClientCert(ca, { commonName: "kube-apiserver" });
  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const caFile = file("ca.crt", ca.cert);
  const kubeconfig = file(
    "webhook-client.kubeconfig",
    JSON.stringify({ apiVersion: "v1", kind: "Config", users: [{ name: "*", user: { "client-certificate": file("client.crt", client.cert), "client-key": file("client.key", client.key) } }] }),
  );
  const admissionConfiguration = file(
    "admission-configuration.json",
    JSON.stringify({
      apiVersion: "apiserver.config.k8s.io/v1",
      kind: "AdmissionConfiguration",
      plugins: [{ name: "ValidatingAdmissionWebhook", configuration: { apiVersion: "apiserver.config.k8s.io/v1", kind: "WebhookAdmissionConfiguration", kubeConfigFile: kubeconfig } }],
    }),
  );
  return { caFile, admissionConfiguration };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const DENIED = /admission webhook "virtualmachines\.virtguard\.io" denied the request: /;

function vm(name: string, cores: number, opts: { className?: string; memory?: string; coreFraction?: string } = {}): string {
  return JSON.stringify({
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachine",
    metadata: { name, namespace: "vms" },
    spec: {
      virtualMachineClassName: opts.className ?? "host-sized",
      cpu: { cores, coreFraction: opts.coreFraction ?? "100%" },
      memory: { size: opts.memory ?? "4Gi" },
      blockDeviceRefs: [{ kind: "VirtualDisk", name: `${name}-root` }],
      runPolicy: "AlwaysOnUnlessStoppedManually",
      osType: "Generic",
      bootloader: "BIOS",
    },
  });
}

function vmClass(name: string, maxCores: number): string {
  return JSON.stringify({
    apiVersion: "virtualization.deckhouse.io/v1alpha3",
    kind: "VirtualMachineClass",
    metadata: { name },
    spec: {
      cpu: { type: "Host" },
      sizingPolicies: [{ cores: { min: 1, max: maxCores }, memory: { min: "1Gi", max: "16Gi" }, coreFractions: ["5%", "10%", "20%", "50%", "100%"] }],
    },
  });
}

function moduleConfig(cidrs: string[]): string {
  return JSON.stringify({
    apiVersion: "deckhouse.io/v1alpha1",
    kind: "ModuleConfig",
    metadata: { name: "virtualization" },
    spec: {
      enabled: true,
      version: 1,
      settings: {
        virtualMachineCIDRs: cidrs,
        dvcr: { storage: { type: "PersistentVolumeClaim", persistentVolumeClaim: { size: "50G", storageClassName: "linstor-thin-r1" } } },
      },
    },
  });
}

function lease(ip: string): string {
  return JSON.stringify({
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachineIPAddressLease",
    metadata: { name: `ip-${ip.replaceAll(".", "-")}` },
    spec: { virtualMachineIPAddressRef: { name: "db-vm", namespace: "vms" } },
  });
}

const CLUSTER_CONFIGURATION_SECRET = JSON.stringify({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "d8-cluster-configuration", namespace: "kube-system" },
  data: {
    "cluster-configuration.yaml": Buffer.from(
      "apiVersion: deckhouse.io/v1\nkind: ClusterConfiguration\nclusterType: Static\npodSubnetCIDR: 10.111.0.0/16\nserviceSubnetCIDR: 10.222.0.0/16\n",
    ).toString("base64"),
  },
});

const TENANT_RBAC = [
  { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "tenant-admin", namespace: "vms" } },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "vm-admin", namespace: "vms" },
    rules: [{ apiGroups: ["virtualization.deckhouse.io"], resources: ["virtualmachines"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"] }],
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "tenant-admin", namespace: "vms" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "vm-admin" },
    subjects: [{ kind: "ServiceAccount", name: "tenant-admin", namespace: "vms" }],
  },
]
  .map((o) => JSON.stringify(o))
  .join("\n---\n");

const bins = await e2eBinaries();

if (bins) {
  describe("e2e: kube-apiserver → virtguard serve, kubectl as a tenant admin", () => {
    let cp: ControlPlane;
    let dir: string;
    let certs: Certs;
    let server: VirtguardProcess | undefined;
    let tenantKubeconfig: string;

    /** kubectl as the cluster admin (system:masters). */
    const admin = async (args: string[], input?: string, log = true): Promise<KubectlResult> => {
      const r = await cp.kubectl(args, { input });
      if (log) show(`kubectl ${args.join(" ")}  (cluster admin)`, r);
      return r;
    };
    const mustAdmin = async (args: string[], input?: string): Promise<KubectlResult> => {
      const r = await admin(args, input);
      assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
      return r;
    };
    /** kubectl as the tenant admin (a ServiceAccount with a Role for VirtualMachines in vms). */
    const tenant = async (args: string[], input?: string): Promise<KubectlResult> => {
      const r = await cp.kubectl(["--kubeconfig", tenantKubeconfig, ...args], { input });
      show(`kubectl ${args.join(" ")}  (tenant admin)`, r);
      return r;
    };
    const decisions = async (labels: Record<string, string>): Promise<number> => metricSum(await (server as VirtguardProcess).metrics(), "virtguard_decisions_total", labels);

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "virtguard-e2e-webhook-"));
      // mTLS: the API server presents a client certificate to webhooks (AdmissionConfiguration →
      // kubeconfig), and serve answers /validate only to certificates from that CA (--client-ca).
      const client = apiserverClientCertificate(path.join(dir, "client"));
      cp = await startControlPlane({ binaries: bins, namespaces: ["vms"], apiserverArgs: [`--admission-control-config-file=${client.admissionConfiguration}`] });
      certs = await makeWebhookCerts(path.join(dir, "certs"));
      const kubeconfig = await installVirtguardRbac(cp, dir);
      await mustAdmin(["apply", "-f", "-"], TENANT_RBAC);
      tenantKubeconfig = await serviceAccountKubeconfig(cp, "vms", "tenant-admin", path.join(dir, "tenant.kubeconfig"));
      await mustAdmin(["apply", "-f", "-"], CLUSTER_CONFIGURATION_SECRET);
      await mustAdmin(["apply", "-f", "-"], vmClass("host-sized", 8));

      server = await startVirtguard({ certs, kubeconfig, args: ["--client-ca", client.caFile] });
      console.log(`virtguard serve ready in ${server.readyMs} ms (pid ${server.pid}, port ${server.port}), with the ServiceAccount of virtguard manifests`);
      await registerWebhook(cp, server.port, certs.ca);
      // The API server loads webhook configurations asynchronously: retry a known-denied object
      // until it is denied, before asserting anything.
      const deadline = Date.now() + 30_000;
      for (let i = 1; ; i++) {
        const r = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { input: vm("probe", 300) });
        if (r.code !== 0 && DENIED.test(r.stderr)) {
          console.log(`webhook active after ${i} probe(s)`);
          break;
        }
        if (Date.now() > deadline) throw new Error(`the webhook never denied the probe VM: ${r.stderr}${r.stdout}\n--- virtguard:\n${server.output().slice(-3000)}`);
        await sleep(200);
      }
    });

    after(async () => {
      if (server) {
        const code = await server.stop();
        console.log(`virtguard serve exited with ${code}`);
        const interesting = server
          .output()
          .split("\n")
          .filter((l) => /"level":"(warn|error)"|RBAC|cluster caches synced/.test(l));
        if (interesting.length > 0) console.log(`virtguard log (warnings, errors, cache lines):\n${interesting.slice(0, 40).join("\n")}`);
      }
      await cp?.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test("the live cache is synced with the manifests' RBAC (the cluster-configuration Secret read with get only)", async () => {
      const metrics = await (server as VirtguardProcess).metrics();
      assert.match(metrics, /virtguard_cluster_cache_synced\{kind="VirtualMachineClass"\} 1/);
      assert.match(metrics, /virtguard_cluster_cache_objects\{kind="ClusterConfiguration"\} 1/);
      assert.match(metrics, /virtguard_cluster_cache_api_missing\{kind="SystemNetwork"\} 1/);
      assert.match(metrics, /virtguard_ready 1/);
    });

    test("mTLS: /validate refuses a caller without the API server's client certificate (the API server's own calls pass: see every test)", async () => {
      const ca = fs.readFileSync(certs.ca);
      const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.request(`https://127.0.0.1:${(server as VirtguardProcess).port}/validate`, { method: "POST", ca, headers: { "content-type": "application/json" } }, (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString("utf8")));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end("{}");
      });
      console.log(`POST /validate without a client certificate: HTTP ${r.status} ${r.body}`);
      assert.equal(r.status, 401);
      assert.match(r.body, /a client certificate signed by the configured client CA is required/);
    });

    test("a VM with 300 cores: kubectl apply fails with virtguard's denial", async () => {
      const r = await tenant(["apply", "-f", "-"], vm("too-big", 300));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, DENIED);
      assert.match(r.stderr, /denied the request: [\s\S]*\[vm-resource-limits\] spec\.cpu\.cores is 300; a VirtualMachine may have at most \d+ cores/);
      const get = await tenant(["get", "virtualmachine", "too-big", "-n", "vms"]);
      assert.match(get.stderr, /NotFound|not found/);
    });

    test("a VM within limits is created, and virtguard judged it", async () => {
      const before = await decisions({ kind: "VirtualMachine", operation: "CREATE", decision: "allowed" });
      const r = await tenant(["apply", "-f", "-"], vm("ok-vm", 4));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /virtualmachine\.virtualization\.deckhouse\.io\/ok-vm created/);
      assert.doesNotMatch(r.stderr, /Warning/);
      assert.ok((await decisions({ kind: "VirtualMachine", operation: "CREATE", decision: "allowed" })) > before, "the webhook was called");
    });

    test("class generic: created, with virtguard's warning on stderr", async () => {
      await mustAdmin(["apply", "-f", "-"], vmClass("generic", 8));
      const r = await tenant(["apply", "-f", "-"], vm("generic-vm", 2, { className: "generic" }));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /generic-vm created/);
      assert.match(r.stderr, /^Warning: .*generic VirtualMachineClass is a catch-all default/m);
    });

    test("ModuleConfig: dropping a leased CIDR is denied naming the CIDR and the lease; without leases it goes through", async () => {
      const created = await admin(["apply", "-f", "-"], moduleConfig(["10.66.0.0/16", "10.77.0.0/16"]));
      assert.equal(created.code, 0, created.stderr);
      await mustAdmin(["apply", "-f", "-"], lease("10.77.0.5"));
      // The lease reaches virtguard's cache through its watch: give it a moment, then judge.
      let r: KubectlResult | undefined;
      for (let i = 0; i < 50; i++) {
        r = await admin(["apply", "-f", "-"], moduleConfig(["10.66.0.0/16"]), i === 0);
        if (r.code !== 0) break;
        // Allowed: the lease was not in the cache yet. Put the CIDR back and try again.
        await admin(["apply", "-f", "-"], moduleConfig(["10.66.0.0/16", "10.77.0.0/16"]), false);
        await sleep(100);
      }
      assert.ok(r);
      show("kubectl apply -f - (ModuleConfig without 10.77.0.0/16, lease ip-10-77-0-5 present)", r);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /admission webhook "moduleconfigs\.virtguard\.io" denied the request: /);
      assert.match(r.stderr, /10\.77\.0\.0\/16/);
      assert.match(r.stderr, /ip-10-77-0-5/);

      await mustAdmin(["delete", "virtualmachineipaddresslease", "ip-10-77-0-5"]);
      const deadline = Date.now() + 10_000;
      for (;;) {
        r = await admin(["apply", "-f", "-"], moduleConfig(["10.66.0.0/16"]));
        if (r.code === 0 || Date.now() > deadline) break;
        await sleep(200);
      }
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /moduleconfig\.deckhouse\.io\/virtualization configured/);
    });

    test("the pool and address webhooks: a VirtualMachinePool whose template has 300 cores and a static address outside virtualMachineCIDRs are denied", async () => {
      const pool = JSON.stringify({
        apiVersion: "virtualization.deckhouse.io/v1alpha2",
        kind: "VirtualMachinePool",
        metadata: { name: "runners", namespace: "vms" },
        spec: {
          replicas: 2,
          scaleDownPolicy: "NewestFirst",
          virtualMachineTemplate: { spec: { ...JSON.parse(vm("x", 300)).spec, liveMigrationPolicy: "PreferSafe", blockDeviceRefs: [{ kind: "VirtualDisk", name: "root" }] } },
          virtualDiskTemplates: [{ name: "root", spec: { persistentVolumeClaim: { size: "10Gi" } } }],
        },
      });
      const p = await admin(["apply", "-f", "-"], pool);
      assert.notEqual(p.code, 0);
      assert.match(p.stderr, /admission webhook "virtualmachinepools\.virtguard\.io" denied the request: [\s\S]*\[vm-resource-limits\] spec\.virtualMachineTemplate\.spec\.cpu\.cores is 300;/);

      await mustAdmin(["apply", "-f", "-"], moduleConfig(["10.66.0.0/16"]));
      const address = JSON.stringify({
        apiVersion: "virtualization.deckhouse.io/v1alpha2",
        kind: "VirtualMachineIPAddress",
        metadata: { name: "outside", namespace: "vms" },
        spec: { type: "Static", staticIP: "10.99.0.5" },
      });
      let r: KubectlResult | undefined;
      // The ModuleConfig reaches virtguard's cache through its watch: judge until it has.
      for (let i = 0; i < 50; i++) {
        r = await admin(["apply", "-f", "-"], address, i === 0);
        if (r.code !== 0) break;
        await admin(["delete", "virtualmachineipaddress", "outside", "-n", "vms"], undefined, false);
        await sleep(100);
      }
      assert.ok(r);
      show("kubectl apply -f - (VirtualMachineIPAddress 10.99.0.5, virtualMachineCIDRs 10.66.0.0/16)", r);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /admission webhook "virtualmachineipaddresses\.virtguard\.io" denied the request: [\s\S]*spec\.staticIP is 10\.99\.0\.5, which is outside the usable addresses of virtualMachineCIDRs \(10\.66\.0\.0\/16/);
    });

    test("live cache: a class's new sizing policy judges the next VM, with no restart", async () => {
      await mustAdmin(["apply", "-f", "-"], vmClass("team-a", 8));
      let r = await tenant(["apply", "-f", "-"], vm("team-a-1", 6, { className: "team-a" }));
      // The class may not be in virtguard's cache for the very first request: then the VM gets the
      // "class does not exist yet" warning; it is created either way.
      assert.equal(r.code, 0, r.stderr);
      await mustAdmin(["apply", "-f", "-"], vmClass("team-a", 4));
      const deadline = Date.now() + 10_000;
      for (let i = 2; ; i++) {
        r = await tenant(["apply", "-f", "-"], vm(`team-a-${i}`, 6, { className: "team-a" }));
        if (r.code !== 0 || Date.now() > deadline) break;
        await sleep(200);
      }
      assert.notEqual(r.code, 0, "the next VM is judged by the class's new sizing policy");
      assert.match(r.stderr, DENIED);
      assert.match(r.stderr, /team-a/);
      assert.equal((await tenant(["apply", "-f", "-"], vm("team-a-small", 4, { className: "team-a" }))).code, 0);
    });

    test("server-side dry-run is judged the same way", async () => {
      const denied = await tenant(["apply", "--dry-run=server", "-f", "-"], vm("dry-big", 300));
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, DENIED);
      assert.match(denied.stderr, /\[vm-resource-limits\] spec\.cpu\.cores is 300/);
      const before = await decisions({ kind: "VirtualMachine", operation: "CREATE", decision: "allowed" });
      const ok = await tenant(["apply", "--dry-run=server", "-f", "-"], vm("dry-ok", 2));
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /dry-ok created \(server dry run\)/);
      assert.ok((await decisions({ kind: "VirtualMachine", operation: "CREATE", decision: "allowed" })) > before, "the webhook was called for the dry run");
      const gone = await tenant(["get", "virtualmachine", "dry-ok", "-n", "vms"]);
      assert.notEqual(gone.code, 0, "a dry run creates nothing");
    });

    test("virtguard manifests | kubectl apply --dry-run=server -f - succeeds", async () => {
      const manifests = await virtguardCli(["manifests", "--ca-bundle", certs.ca]);
      assert.equal(manifests.code, 0, manifests.stderr);
      const r = await admin(["apply", "--dry-run=server", "-f", "-"], manifests.stdout);
      assert.equal(r.code, 0, r.stderr);
      for (const kind of ["namespace", "serviceaccount", "clusterrole", "deployment", "poddisruptionbudget", "validatingwebhookconfiguration"]) {
        assert.match(r.stdout, new RegExp(`^${kind}[./].*\\(server dry run\\)$`, "m"), kind);
      }
    });

    test("webhook down: failurePolicy Fail refuses VMs and ModuleConfigs, Ignore lets classes through", async () => {
      const code = await (server as VirtguardProcess).stop();
      assert.equal(code, 0, "virtguard exits 0 on SIGTERM");
      const r = await tenant(["apply", "-f", "-"], vm("while-down", 2));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /failed calling webhook "virtualmachines\.virtguard\.io"/);
      assert.match(r.stderr, /connection refused/);
      const mc = await admin(["apply", "-f", "-"], moduleConfig(["10.66.0.0/16", "10.88.0.0/16"]));
      assert.notEqual(mc.code, 0);
      assert.match(mc.stderr, /failed calling webhook "moduleconfigs\.virtguard\.io"/);
      const cls = await admin(["apply", "-f", "-"], vmClass("while-down", 4));
      assert.equal(cls.code, 0, "virtualmachineclasses.virtguard.io fails open (failurePolicy Ignore)");
      assert.match(cls.stdout, /while-down created/);
    });
  });
}
