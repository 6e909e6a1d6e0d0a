/**
 * The API server's view (as Kyverno measures it): with the real e2e control plane (etcd +
 * kube-apiserver 1.33 built from Go modules), a Node client (not kubectl) creates 2,000
 * VirtualMachines with 16 concurrent clients in three set-ups:
 *   (a) no webhook;
 *   (b) virtguard serve registered (full shipped policy set, live cluster context);
 *   (c) the simple rules (cores, memory) as a native ValidatingAdmissionPolicy, for comparison.
 * Then, with 50,000 VirtualMachineIPAddressLeases and 1,000 Nodes created in the API server:
 * virtguard serve's start-up-to-ready time, its resident memory, and a ModuleConfig review's
 * latency (sent to /validate, and the server's own evaluation histogram).
 *
 *   npm run bench:apiserver
 *   BENCH_VMS=2000 BENCH_CONCURRENCY=16 BENCH_LEASES=50000 BENCH_NODES=1000 npm run bench:apiserver
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { admissionReview } from "../test/support/review.js";
import { fixture } from "../test/support/fixtures.js";
import { exchange } from "../test/support/http-exchange.js";
import { quantile } from "../test/support/quantile.js";
import { ensureBinaries, startControlPlane, type ControlPlane } from "../test/e2e/control-plane.js";
import { apiClient, createMany, pool, type Client } from "./apiserver-client.js";
import { makeWebhookCerts, metricSum, registerWebhook, startVirtguard, type VirtguardProcess } from "../test/e2e/virtguard-process.js";
import type { JsonObject } from "../src/engine/index.js";

const VMS = Number(process.env.BENCH_VMS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const LEASES = Number(process.env.BENCH_LEASES ?? 50_000);
const NODES = Number(process.env.BENCH_NODES ?? 1000);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 500);
/** The set-ups take turns this many times, so that load from anything else on the machine falls on all of them alike. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const WARMUP = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function vm(name: string, namespace: string, cores = 4): JsonObject {
  return {
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachine",
    metadata: { name, namespace },
    spec: {
      virtualMachineClassName: "host-sized",
      cpu: { cores, coreFraction: "50%" },
      memory: { size: "8Gi" },
      blockDeviceRefs: [{ kind: "VirtualDisk", name: `${name}-root` }],
      runPolicy: "AlwaysOnUnlessStoppedManually",
      osType: "Generic",
      bootloader: "BIOS",
    },
  };
}

interface Stats {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  rps: number;
}

function stats(latencies: number[], wallMs: number): Stats {
  const s = [...latencies].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p95: quantile(s, 0.95), p99: quantile(s, 0.99), mean: s.reduce((a, b) => a + b, 0) / s.length, rps: (s.length / wallMs) * 1000 };
}

interface Run {
  latencies: number[];
  wallMs: number;
  cpu: CpuSnapshot;
}

const ZERO_CPU: CpuSnapshot = { apiserver: 0, etcd: 0, virtguard: 0, client: 0 };

function addRun(into: Run, r: Run): void {
  into.latencies.push(...r.latencies);
  into.wallMs += r.wallMs;
  for (const k of Object.keys(into.cpu) as (keyof CpuSnapshot)[]) into.cpu[k] += r.cpu[k];
}

function emptyRun(): Run {
  return { latencies: [], wallMs: 0, cpu: { ...ZERO_CPU } };
}

let created = 0;

/** n VM creates in a namespace with `concurrency` clients in flight (after `warmup` unmeasured ones). */
async function createVMs(client: Client, namespace: string, n: number, concurrency: number, cpu: () => CpuSnapshot, warmup: number): Promise<Run> {
  const p = `/apis/virtualization.deckhouse.io/v1alpha2/namespaces/${namespace}/virtualmachines`;
  let failures = 0;
  let firstFailure = "";
  const task = async (): Promise<void> => {
    const r = await client.request("POST", p, vm(`vm-${created++}`, namespace));
    if (r.status !== 201) {
      failures++;
      firstFailure ||= `${r.status} ${r.body.slice(0, 300)}`;
    }
  };
  await pool(warmup, concurrency, task);
  const c0 = cpu();
  const t0 = performance.now();
  const latencies = await pool(n, concurrency, task);
  const wallMs = performance.now() - t0;
  const c1 = cpu();
  if (failures > 0) throw new Error(`${failures} of ${n + warmup} creates in ${namespace} failed; first: ${firstFailure}`);
  const delta = { ...ZERO_CPU };
  for (const k of Object.keys(delta) as (keyof CpuSnapshot)[]) delta[k] = c1[k] - c0[k];
  return { latencies, wallMs, cpu: delta };
}

async function kubectlOk(cp: ControlPlane, args: string[], input?: string): Promise<string> {
  const r = await cp.kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Waits until a server-side dry-run of a 300-core VM gets (or no longer gets) a denial matching re. */
async function waitForDenial(cp: ControlPlane, re: RegExp, wanted: boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { input: JSON.stringify(vm("probe", "bench-probe", 300)) });
    const denied = r.code !== 0 && re.test(r.stderr);
    if (denied === wanted) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for the probe to be ${wanted ? "denied" : "allowed"}: ${r.stderr}${r.stdout}`);
    await sleep(200);
  }
}

const VAP = [
  {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: "vm-cores-memory" },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: {
        resourceRules: [{ apiGroups: ["virtualization.deckhouse.io"], apiVersions: ["*"], operations: ["CREATE", "UPDATE"], resources: ["virtualmachines"] }],
      },
      validations: [
        {
          expression: "!has(object.spec.cpu) || !has(object.spec.cpu.cores) || object.spec.cpu.cores <= 248",
          messageExpression: "'spec.cpu.cores is ' + string(object.spec.cpu.cores) + '; a VirtualMachine may have at most 248 cores'",
        },
        {
          expression:
            "!has(object.spec.memory) || !has(object.spec.memory.size) || quantity(string(object.spec.memory.size)).compareTo(quantity('1024Gi')) <= 0",
          message: "spec.memory.size exceeds 1024Gi",
        },
      ],
    },
  },
  {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: "vm-cores-memory" },
    spec: { policyName: "vm-cores-memory", validationActions: ["Deny"] },
  },
];

/** TCP connections to or from 127.0.0.1:port that are open or in TIME-WAIT (the API server's webhook connections). */
async function connectionCount(port: number): Promise<{ open: number; closed: number }> {
  const { execFileSync } = await import("node:child_process");
  try {
    const out = execFileSync("ss", ["-tanH", `( sport = :${port} )`], { encoding: "utf8" });
    const lines = out.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("LISTEN"));
    return { open: lines.filter((l) => l.startsWith("ESTAB")).length, closed: lines.filter((l) => l.startsWith("TIME-WAIT")).length };
  } catch {
    return { open: -1, closed: -1 };
  }
}

/** CPU time (user + system) a process has used so far, in ms (Linux /proc; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

interface CpuSnapshot {
  apiserver: number;
  etcd: number;
  virtguard: number;
  client: number;
}

function cpuSnapshot(cp: ControlPlane, virtguardPid?: number): CpuSnapshot {
  const self = process.cpuUsage();
  return {
    apiserver: cpuMs(cp.pids.apiserver),
    etcd: cpuMs(cp.pids.etcd),
    virtguard: virtguardPid === undefined ? 0 : cpuMs(virtguardPid),
    client: (self.user + self.system) / 1000,
  };
}

/** CPU ms per create, by process. */
function cpuPer(d: CpuSnapshot, n: number): string {
  const f = (k: keyof CpuSnapshot): string => (d[k] / n).toFixed(2);
  return `apiserver ${f("apiserver")}, etcd ${f("etcd")}, virtguard ${f("virtguard")}, client ${f("client")}`;
}

function row(name: string, s: Stats): string {
  return `| ${name} | ${s.p50.toFixed(2)} | ${s.p95.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.mean.toFixed(2)} | ${s.rps.toFixed(0)} |`;
}

/** The latency `s` adds over `base`, a row of the same table. */
function overheadRow(name: string, s: Stats, base: Stats): string {
  return `| ${name} | ${(s.p50 - base.p50).toFixed(2)} | ${(s.p95 - base.p95).toFixed(2)} | ${(s.p99 - base.p99).toFixed(2)} | ${(s.mean - base.mean).toFixed(2)} | |`;
}

/** Prints the table of set-ups: its header (first column `setUp`) and a row for each. */
function printTable(setUp: string, rows: [string, Stats][]): void {
  console.log(`| ${setUp} | p50 ms | p95 ms | p99 ms | mean ms | creates/s |`);
  console.log("|---|---|---|---|---|---|");
  for (const [name, s] of rows) console.log(row(name, s));
}

async function main(): Promise<void> {
  // Without Go or a control plane build, this throws, naming what is missing.
  const bins = await ensureBinaries();
  const cp = await startControlPlane({ binaries: bins, namespaces: ["bench-a", "bench-b", "bench-c", "bench-probe"] });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "virtguard-bench-"));
  let server: VirtguardProcess | undefined;
  const client = apiClient(cp, CONCURRENCY);
  try {
    console.log(
      `virtguard apiserver benchmark: kube-apiserver ${cp.url}, ${VMS} VirtualMachine creates per set-up at ${CONCURRENCY} concurrent clients and ${SEQUENTIAL} at 1 client, in ${ROUNDS} interleaved rounds, node ${process.version}, ${os.cpus().length} CPUs`,
    );
    await kubectlOk(cp, ["apply", "-f", "-"], JSON.stringify(fixture("class/host-sized-v1alpha3.yaml")));
    const certs = await makeWebhookCerts(path.join(dir, "certs"));

    // The three set-ups take turns, ROUNDS times: (a) nothing registered; (b) virtguard's webhook
    // (admin kubeconfig; the e2e tests cover the least-privilege RBAC); (c) the
    // ValidatingAdmissionPolicy. Each is switched on, and proven on, before it is measured.
    server = await startVirtguard({ certs, kubeconfig: cp.kubeconfig, args: ["--log-level", "warn"] });
    const vg = server;
    const load0 = os.loadavg();
    const runs = { a: emptyRun(), b: emptyRun(), c: emptyRun(), a1: emptyRun(), b1: emptyRun(), c1: emptyRun() };
    const perRound = Math.ceil(VMS / ROUNDS);
    const seqPerRound = Math.ceil(SEQUENTIAL / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      const warm = round === 0 ? WARMUP : 20;
      addRun(runs.a, await createVMs(client, "bench-a", perRound, CONCURRENCY, () => cpuSnapshot(cp), warm));
      addRun(runs.a1, await createVMs(client, "bench-a", seqPerRound, 1, () => cpuSnapshot(cp), 5));

      await registerWebhook(cp, vg.port, certs.ca);
      await waitForDenial(cp, /admission webhook "virtualmachines\.virtguard\.io" denied/, true);
      addRun(runs.b, await createVMs(client, "bench-b", perRound, CONCURRENCY, () => cpuSnapshot(cp, vg.pid), warm));
      addRun(runs.b1, await createVMs(client, "bench-b", seqPerRound, 1, () => cpuSnapshot(cp, vg.pid), 5));
      await kubectlOk(cp, ["delete", "validatingwebhookconfiguration", "virtguard"]);
      await waitForDenial(cp, /virtguard/, false);

      await kubectlOk(cp, ["apply", "-f", "-"], VAP.map((o) => JSON.stringify(o)).join("\n---\n"));
      await waitForDenial(cp, /ValidatingAdmissionPolicy 'vm-cores-memory'/, true);
      addRun(runs.c, await createVMs(client, "bench-c", perRound, CONCURRENCY, () => cpuSnapshot(cp), warm));
      addRun(runs.c1, await createVMs(client, "bench-c", seqPerRound, 1, () => cpuSnapshot(cp), 5));
      await kubectlOk(cp, ["delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", "vm-cores-memory"]);
      await waitForDenial(cp, /vm-cores-memory/, false);
    }
    const load1 = os.loadavg();
    const a = stats(runs.a.latencies, runs.a.wallMs);
    const b = stats(runs.b.latencies, runs.b.wallMs);
    const c = stats(runs.c.latencies, runs.c.wallMs);
    const a1 = stats(runs.a1.latencies, runs.a1.wallMs);
    const b1 = stats(runs.b1.latencies, runs.b1.wallMs);
    const c1 = stats(runs.c1.latencies, runs.c1.wallMs);
    const metricsB = await vg.metrics();
    const conns = await connectionCount(vg.port);
    const calls = metricSum(metricsB, "virtguard_admission_request_duration_seconds_count", { kind: "VirtualMachine" });
    const serverSum = metricSum(metricsB, "virtguard_admission_request_duration_seconds_sum", { kind: "VirtualMachine" });
    const vmEvalMs = (metricSum(metricsB, "virtguard_policy_evaluation_duration_seconds_sum", { kind: "VirtualMachine" }) / Math.max(1, metricSum(metricsB, "virtguard_policy_evaluation_duration_seconds_count", { kind: "VirtualMachine" }))) * 1000;
    const rssB = vg.rssBytes();
    await vg.stop();
    server = undefined;

    console.log("");
    printTable("set-up", [["(a) no webhook", a], ["(b) virtguard webhook", b], ["(c) ValidatingAdmissionPolicy (cores, memory)", c]]);
    console.log(overheadRow("overhead b−a", b, a));
    console.log(overheadRow("overhead c−a", c, a));
    console.log("");
    console.log(`The same with 1 client (${runs.a1.latencies.length} creates each, nothing queued behind anything: the latency a webhook call adds):`);
    console.log("");
    printTable("set-up, 1 client", [["(a) no webhook", a1], ["(b) virtguard webhook", b1], ["(c) ValidatingAdmissionPolicy", c1]]);
    console.log(overheadRow("overhead b−a", b1, a1));
    console.log("");
    console.log(
      `CPU ms per create at 16 clients: (a) ${cpuPer(runs.a.cpu, runs.a.latencies.length)}; (b) ${cpuPer(runs.b.cpu, runs.b.latencies.length)}; (c) ${cpuPer(runs.c.cpu, runs.c.latencies.length)}`,
    );
    console.log(`machine load average (1 min) before and after the runs: ${load0[0]?.toFixed(2)} → ${load1[0]?.toFixed(2)} (the benchmark's own processes keep it near 2–3; well above that, something else competed for the CPUs)`);
    console.log(
      `virtguard in (b): ${calls} VirtualMachine reviews answered, mean ${((serverSum / Math.max(1, calls)) * 1000).toFixed(3)} ms inside the server (request in to response out), of which policy evaluation ${vmEvalMs.toFixed(3)} ms; RSS ${(rssB / 2 ** 20).toFixed(0)} MiB; webhook connections from the API server: ${conns.open} open, ${conns.closed} in TIME-WAIT`,
    );

    // Scale: 50,000 leases + 1,000 nodes in the API server, then a fresh virtguard.
    const leasePath = "/apis/virtualization.deckhouse.io/v1alpha2/virtualmachineipaddressleases";
    const leaseMs = await createMany(client, LEASES, (i) => ({
      path: leasePath,
      body: {
        apiVersion: "virtualization.deckhouse.io/v1alpha2",
        kind: "VirtualMachineIPAddressLease",
        metadata: { name: `ip-10-66-${(i >> 8) & 255}-${i & 255}` },
        spec: { virtualMachineIPAddressRef: { name: `vm-${i}`, namespace: "tenant" } },
      },
    }));
    const nodeBody = (i: number): JsonObject => ({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: `node-${i}`, labels: { "kubernetes.io/hostname": `node-${i}` } },
      status: { addresses: [{ type: "InternalIP", address: `192.168.${i >> 8}.${i & 255}` }, { type: "Hostname", address: `node-${i}` }] },
    });
    const nodeMs = await createMany(
      client,
      NODES,
      (i) => ({ path: "/api/v1/nodes", body: nodeBody(i) }),
      // A Node's status is written through its status subresource.
      (i) => ({ path: `/api/v1/nodes/node-${i}/status`, body: nodeBody(i) }),
    );
    console.log("");
    console.log(`created ${LEASES} leases in ${(leaseMs / 1000).toFixed(1)} s and ${NODES} nodes (+ status) in ${(nodeMs / 1000).toFixed(1)} s (32 parallel requests)`);

    const moduleConfig = fixture("moduleconfig/virtualization.yaml");
    delete (moduleConfig.metadata as JsonObject).generation;
    (moduleConfig.spec as { settings: { virtualMachineCIDRs: string[] } }).settings.virtualMachineCIDRs = ["10.66.0.0/16", "10.67.0.0/16"];
    await kubectlOk(cp, ["apply", "-f", "-"], JSON.stringify(moduleConfig));

    const t0 = Date.now();
    server = await startVirtguard({ certs, kubeconfig: cp.kubeconfig, args: ["--log-level", "info"], readyTimeoutMs: 180_000 });
    const readyMs = Date.now() - t0;
    const m = await server.metrics();
    const heapReady = metricSum(m, "nodejs_heap_size_used_bytes");
    const listed = /"ms":(\d+),"objects":(\d+)[^\n]*VirtualMachineIPAddressLease/.exec(server.output());
    const cached = {
      leases: metricSum(m, "virtguard_cluster_cache_objects", { kind: "VirtualMachineIPAddressLease" }),
      nodes: metricSum(m, "virtguard_cluster_cache_objects", { kind: "Node" }),
    };
    const rssReady = server.rssBytes();

    // ModuleConfig UPDATE reviews straight to /validate (the leased-subnets policy queries the
    // 50k-lease index, moduleconfig-cidrs the node index).
    const old: JsonObject = { ...moduleConfig, metadata: { name: "virtualization", generation: 3 } };
    const updated = structuredClone(old);
    (updated.spec as { settings: { virtualMachineCIDRs: string[] } }).settings.virtualMachineCIDRs = ["10.66.0.0/16"];
    (updated.metadata as { generation: number }).generation = 4;
    const body = Buffer.from(JSON.stringify(admissionReview({ object: updated, oldObject: old })));
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: fs.readFileSync(certs.ca) });
    const port = server.port;
    const post = async (): Promise<string> =>
      (await exchange(https.request({ host: "127.0.0.1", port, path: "/validate", method: "POST", agent, headers: { "Content-Type": "application/json", "Content-Length": body.length } }), body)).body;
    const verdict = JSON.parse(await post()) as { response: { allowed: boolean } };
    for (let i = 0; i < 200; i++) await post();
    const mcLat = await pool(2000, 1, async () => void (await post()));
    agent.destroy();
    const m2 = await server.metrics();
    const evalCount = metricSum(m2, "virtguard_policy_evaluation_duration_seconds_count", { kind: "ModuleConfig" });
    const evalSum = metricSum(m2, "virtguard_policy_evaluation_duration_seconds_sum", { kind: "ModuleConfig" });
    const mc = stats(mcLat, 1);
    const rssAfter = server.rssBytes();
    console.log(
      `virtguard serve with ${cached.leases} leases and ${cached.nodes} nodes cached: start-up to ready ${readyMs} ms (spawn to /readyz 200); RSS ${(rssReady / 2 ** 20).toFixed(0)} MiB at ready (V8 heap used ${(heapReady / 2 ** 20).toFixed(0)} MiB), ${(rssAfter / 2 ** 20).toFixed(0)} MiB after the reviews; the lease list (from the API server's watch cache) took ${listed?.[1] ?? "?"} ms for ${listed?.[2] ?? "?"} objects`,
    );
    console.log(
      `ModuleConfig UPDATE review (${verdict.response.allowed ? "allowed" : "denied"}): over HTTPS to /validate p50 ${mc.p50.toFixed(3)} ms, p99 ${mc.p99.toFixed(3)} ms; policy evaluation inside the server mean ${((evalSum / Math.max(1, evalCount)) * 1000).toFixed(3)} ms over ${evalCount} reviews`,
    );
  } finally {
    client.close();
    if (server) await server.stop();
    await cp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
