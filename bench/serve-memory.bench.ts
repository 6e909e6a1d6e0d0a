/**
 * `virtguard serve`'s resident memory at the platform's scale, measured on the real e2e control
 * plane (etcd + kube-apiserver built from Go modules): 50,000 VirtualMachines in 100 namespaces
 * and 50,000 VirtualMachineIPAddressLeases are created in the API server, then a serve process
 * (the full shipped policy set, live cluster context, --audit-interval) lists them into its
 * informer caches. Reports RSS at ready, after a background audit of every cached VM (PolicyReports
 * written to the API server) and after admission reviews that use the indexes, and the peak
 * (VmHWM). Goal: under 512 MiB per replica.
 *
 * serve runs once per NODE_OPTIONS setting, one after the other against the same API server: by
 * default with none (Node's defaults) and with the Deployment's (manifests/deployment.yaml).
 *
 *   npm run bench:serve-memory
 *   BENCH_VMS=50000 BENCH_LEASES=50000 npm run bench:serve-memory
 *   BENCH_SERVE_NODE_OPTIONS='--max-old-space-size=384;' npm run bench:serve-memory   # ";"-separated settings, "" for none
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { admissionReview } from "../test/support/review.js";
import { exchange } from "../test/support/http-exchange.js";
import { REPO_ROOT } from "../test/support/paths.js";
import { ensureBinaries, startControlPlane } from "../test/e2e/control-plane.js";
import { CLUSTER_CONFIGURATION_SECRET, policyReportCrds } from "../test/e2e/audit-fixtures.js";
import { makeWebhookCerts, metricSum, startVirtguard, type VirtguardProcess } from "../test/e2e/virtguard-process.js";
import type { JsonObject } from "../src/engine/index.js";
import { apiClient, createMany } from "./apiserver-client.js";

const VMS = Number(process.env.BENCH_VMS ?? 50_000);
const LEASES = Number(process.env.BENCH_LEASES ?? 50_000);
const NAMESPACES = 100;
/** The NODE_OPTIONS the Deployment gives serve. */
function deploymentNodeOptions(): string {
  const text = fs.readFileSync(path.join(REPO_ROOT, "manifests", "deployment.yaml"), "utf8");
  const m = /- name: NODE_OPTIONS\n\s+value: "?([^"\n]*)"?/.exec(text);
  if (!m) throw new Error("manifests/deployment.yaml sets no NODE_OPTIONS");
  return (m[1] as string).trim();
}

/** The NODE_OPTIONS settings serve runs with, one run each ("" is none). */
const SERVE_NODE_OPTIONS = (process.env.BENCH_SERVE_NODE_OPTIONS ?? `;${deploymentNodeOptions()}`).split(";").map((o) => o.trim());
const CLASSES: [string, number][] = [
  ["small", 4],
  ["medium", 8],
  ["large", 16],
  ["tightened", 4],
];

function vmClass(name: string, maxCores: number): JsonObject {
  return {
    apiVersion: "virtualization.deckhouse.io/v1alpha3",
    kind: "VirtualMachineClass",
    metadata: { name },
    spec: { cpu: { type: "Host" }, sizingPolicies: [{ cores: { min: 1, max: maxCores }, memory: { min: "1Gi", max: "64Gi" } }] },
  };
}

/** As in bench:audit: the tightened class's VMs have 1-8 cores, so those with 5-8 no longer fit. */
function vm(i: number): JsonObject {
  const [className, max] = CLASSES[i % CLASSES.length] as [string, number];
  const cores = className === "tightened" ? 1 + (i % 8) : 1 + (i % max);
  return {
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachine",
    metadata: { name: `vm-${i}`, namespace: `tenant-${i % NAMESPACES}`, labels: { app: "web", tier: String(i % 3) } },
    spec: {
      virtualMachineClassName: className,
      cpu: { cores, coreFraction: "100%" },
      memory: { size: `${cores * 2}Gi` },
      blockDeviceRefs: [{ kind: "VirtualDisk", name: `vm-${i}-root` }],
      runPolicy: "AlwaysOnUnlessStoppedManually",
      osType: "Generic",
      bootloader: "BIOS",
    },
  };
}

function lease(i: number): JsonObject {
  return {
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachineIPAddressLease",
    metadata: { name: `ip-10-66-${(i >> 8) & 255}-${i & 255}` },
    spec: { virtualMachineIPAddressRef: { name: `vm-${i}`, namespace: `tenant-${i % NAMESPACES}` } },
  };
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** A field of /proc/PID/status in bytes: VmHWM (peak resident set), RssAnon, RssFile. */
function procStatus(pid: number, field: "VmHWM" | "RssAnon" | "RssFile"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Where serve's resident memory is: anonymous (heaps) and file-backed (the node binary), and the main isolate's V8 heap. */
async function breakdown(vg: VirtguardProcess): Promise<string> {
  const m = await vg.metrics();
  const heap = (name: string): string => mib(metricSum(m, name));
  return `anon ${mib(procStatus(vg.pid, "RssAnon"))}, file ${mib(procStatus(vg.pid, "RssFile"))}; V8 heap used ${heap("nodejs_heap_size_used_bytes")} of ${heap("nodejs_heap_size_total_bytes")}, external ${heap("nodejs_external_memory_bytes")}`;
}

interface Figures {
  nodeOptions: string;
  ready: number;
  audit: number;
  after: number;
  peak: number;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** One serve process: RSS at ready, after its first background audit, after 501 reviews, and its peak. */
async function measure(vg: VirtguardProcess, nodeOptions: string, caFile: string): Promise<Figures> {
  const m = await vg.metrics();
  const cached = {
    vms: metricSum(m, "virtguard_cluster_cache_objects", { kind: "VirtualMachine" }),
    leases: metricSum(m, "virtguard_cluster_cache_objects", { kind: "VirtualMachineIPAddressLease" }),
  };
  const rssReady = vg.rssBytes();
  console.log(`\nNODE_OPTIONS=${nodeOptions === "" ? "(none)" : nodeOptions}`);
  console.log(`serve ready in ${(vg.readyMs / 1000).toFixed(1)} s with ${cached.vms} VMs and ${cached.leases} leases cached: RSS ${mib(rssReady)} (${await breakdown(vg)})`);

  const auditLine = await until("the background audit", () => /"objects":(\d+),"findings":(\d+)[^\n]*"tookMs":(\d+)[^\n]*"msg":"background audit done"/.exec(vg.output()) ?? undefined, 600_000).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${vg.output().slice(-3000)}`);
  });
  const rssAudit = vg.rssBytes();
  const written = /"reports":(\{[^}]*\})[^\n]*"msg":"background audit done"/.exec(vg.output())?.[1] ?? "none";
  console.log(`background audit of ${auditLine[1]} objects: ${auditLine[2]} findings in ${(Number(auditLine[3]) / 1000).toFixed(1)} s (report writes ${written}); RSS ${mib(rssAudit)} (${await breakdown(vg)})`);

  // Reviews that use the indexes: a class UPDATE (VMs by class) and VM CREATEs (leases, class).
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: fs.readFileSync(caFile) });
  const post = async (review: unknown): Promise<string> => {
    const body = Buffer.from(JSON.stringify(review));
    return (await exchange(https.request({ host: "127.0.0.1", port: vg.port, path: "/validate", method: "POST", agent, headers: { "Content-Type": "application/json", "Content-Length": body.length } }), body)).body;
  };
  const narrowed = vmClass("medium", 4);
  const classReview = await post(admissionReview({ object: narrowed, oldObject: vmClass("medium", 8) }));
  const warned = /"warnings":\["([^"]{0,160})/.exec(classReview)?.[1] ?? "(no warning)";
  for (let i = 0; i < 500; i++) await post(admissionReview({ object: vm(VMS + i) }));
  agent.destroy();
  const rssAfter = vg.rssBytes();
  console.log(`class UPDATE 1-8 → 1-4 cores warns: ${warned}…; RSS ${mib(rssAfter)} (${await breakdown(vg)})`);
  return { nodeOptions, ready: rssReady, audit: rssAudit, after: rssAfter, peak: procStatus(vg.pid, "VmHWM") };
}

async function main(): Promise<void> {
  const bins = await ensureBinaries();
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `tenant-${i}`);
  const cp = await startControlPlane({ binaries: bins, namespaces });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "virtguard-bench-serve-memory-"));
  const client = apiClient(cp, 32);
  let server: VirtguardProcess | undefined;
  try {
    const apply = async (text: string): Promise<void> => {
      const r = await cp.kubectl(["apply", "-f", "-"], { input: text });
      if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
    };
    await apply(CLUSTER_CONFIGURATION_SECRET);
    await apply(policyReportCrds());
    for (const [name, max] of CLASSES) await apply(JSON.stringify(vmClass(name, max)));

    const vmMs = await createMany(client, VMS, (i) => {
      const body = vm(i);
      return { path: `/apis/virtualization.deckhouse.io/v1alpha2/namespaces/${(body.metadata as { namespace: string }).namespace}/virtualmachines`, body };
    });
    const leaseMs = await createMany(client, LEASES, (i) => ({ path: "/apis/virtualization.deckhouse.io/v1alpha2/virtualmachineipaddressleases", body: lease(i) }));
    console.log(`created ${VMS.toLocaleString("en-US")} VMs in ${(vmMs / 1000).toFixed(0)} s and ${LEASES.toLocaleString("en-US")} leases in ${(leaseMs / 1000).toFixed(0)} s (32 parallel requests)`);

    const certs = await makeWebhookCerts(path.join(dir, "certs"));
    const figures: Figures[] = [];
    for (const nodeOptions of SERVE_NODE_OPTIONS) {
      server = await startVirtguard({ certs, kubeconfig: cp.kubeconfig, env: { ...process.env, NODE_OPTIONS: nodeOptions }, args: ["--log-level", "info", "--audit-interval", "10m", "--audit-lease", "default/virtguard-audit"], readyTimeoutMs: 600_000 });
      figures.push(await measure(server, nodeOptions, certs.ca));
      await server.stop();
      server = undefined;
    }
    console.log("");
    for (const f of figures) {
      console.log(
        `serve (NODE_OPTIONS=${f.nodeOptions === "" ? "none" : JSON.stringify(f.nodeOptions)}) with ${VMS.toLocaleString("en-US")} VMs and ${LEASES.toLocaleString("en-US")} leases in its caches: RSS ${mib(f.ready)} at ready, ${mib(f.audit)} after the background audit, ${mib(f.after)} after 501 reviews; peak (VmHWM) ${mib(f.peak)}; goal < 512 MiB: ${f.peak < 512 * 2 ** 20 ? "met" : "MISSED"}`,
      );
    }
  } finally {
    client.close();
    await server?.stop();
    await cp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
