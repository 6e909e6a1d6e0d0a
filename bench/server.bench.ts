/**
 * Server benchmark (issues 3 and 11): the same mix of AdmissionReviews over keep-alive TLS, 16
 * connections, against servers run as separate processes (the load generator never shares their
 * event loop):
 *   (a) a bare node:https handler that reads the body, parses the review and echoes "allowed": the
 *       platform's ceiling on this machine;
 *   (b0) `virtguard serve` with a policy set that matches nothing: the server's own cost;
 *   (b) `virtguard serve` with the full shipped policy set, context files and default logging.
 * Throughput: (a) and (b) loaded in turn, --rounds times (autocannon, closed loop); the ratio is the
 * median of the rounds. Latency at a fixed rate: an open-loop paced generator (paced-load.ts).
 *
 *   npm run bench:server                              # 15 s warm-up, 5 rounds of 5 s runs, 15 s soak
 *   npm run bench:server -- --soak 60                 # with a 60 s zero-error run
 *   npm run bench:server -- --cpu-prof                # also profile (b), apart, and print where time goes
 *
 * Each server is warmed up under load first (--warmup, default 15 s): V8 optimises serve's ~500
 * generated policy functions over its first 10-15 s of load (about 1,000 functions optimised in
 * the first 5 s, 185 in the next 5, then a handful), and the figures are the steady state a
 * long-running replica serves in; with a 5 s warm-up the first (b) round still paid for compiling.
 *
 * Flags: --duration S (each max-throughput run), --rounds N, --warmup S, --rate N (paced run,
 * default 2000 req/s), --rate-duration S, --soak S (0 skips), --connections N (default 16), --cpu-prof.
 * BENCH_SERVE_NODE_OPTIONS sets serve's NODE_OPTIONS (e.g. the Deployment's).
 */
import autocannon from "autocannon";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generateDevCertificates } from "../src/pki/tls-certs.js";
import { TLS_OPTIONS } from "../src/admission/tls.js";
import type { JsonObject } from "../src/engine/index.js";
import { fixture } from "../test/support/fixtures.js";
import { CLI, FIXTURES } from "../test/support/paths.js";
import { policyDoc } from "../test/support/policy-doc.js";
import { quantile } from "../test/support/quantile.js";
import { admissionReview } from "../test/support/review.js";
import { pacedLoad } from "./paced-load.js";

const SELF = new URL(import.meta.url).pathname;

// ---------------------------------------------------------------------------------------------
// (a) The bare server, when this file runs as `--bare-server`.

function bareServer(): void {
  const { serving } = generateDevCertificates({ keyType: "ecdsa-p256" });
  const server = createServer({ ...TLS_OPTIONS, cert: serving.cert, key: serving.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { apiVersion?: string; kind?: string; request?: { uid?: string } };
      if (review.apiVersion !== "admission.k8s.io/v1" || review.kind !== "AdmissionReview" || typeof review.request?.uid !== "string") {
        res.writeHead(400).end();
        return;
      }
      const body = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: review.request.uid, allowed: true } });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 120_000;
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    process.stdout.write(JSON.stringify({ msg: "listening", port: typeof address === "object" && address ? address.port : 0 }) + "\n");
  });
  process.on("SIGTERM", () => {
    server.close();
    server.closeAllConnections();
  });
}

// ---------------------------------------------------------------------------------------------
// The load generator.

interface Flags {
  duration: number;
  rate: number;
  rateDuration: number;
  soak: number;
  connections: number;
  cpuProf: boolean;
  warmup: number;
  rounds: number;
}

function flags(): Flags {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "15" },
      rounds: { type: "string", default: "5" },
      rate: { type: "string", default: "2000" },
      "rate-duration": { type: "string", default: "10" },
      soak: { type: "string", default: "15" },
      connections: { type: "string", default: "16" },
      "cpu-prof": { type: "boolean", default: false },
    },
    strict: true,
  });
  return {
    duration: Number(values.duration),
    rate: Number(values.rate),
    rateDuration: Number(values["rate-duration"]),
    soak: Number(values.soak),
    connections: Number(values.connections),
    cpuProf: values["cpu-prof"] ?? false,
    warmup: Number(values.warmup),
    rounds: Math.max(1, Number(values.rounds)),
  };
}

const PARAMS = ["edition=EE", "kubernetesVersion=v1.33.4", 'featureGates=["SDN","VerticalVirtualMachineAutoscaler","HotplugCPUAndMemoryWithInPlaceResize"]'];
const CONTEXT = ["cluster/cluster-configuration.yaml", "cluster/leases.yaml", "cluster/nodes.yaml", "class/host-sized-v1alpha2.yaml", "moduleconfig/virtualization.yaml"];

/** The mix: VM create, VM update, class create, ModuleConfig update, in turn on every connection. */
function mix(): { name: string; body: string }[] {
  const vm = fixture("vm/vm-basic.yaml");
  const vmNew = structuredClone(vm);
  (vmNew.metadata as Record<string, unknown>).labels = { tier: "web" };
  (vmNew.spec as { runPolicy: string }).runPolicy = "AlwaysOn";
  const mc = fixture("moduleconfig/virtualization.yaml");
  const mcNew = structuredClone(mc);
  (mcNew.spec as { settings: { virtualMachineCIDRs: string[] } }).settings.virtualMachineCIDRs.push("10.66.30.0/24");
  const review = (name: string, object: JsonObject, oldObject?: JsonObject) => ({ name, body: JSON.stringify(admissionReview({ object, oldObject, uid: `bench-${name}` })) });
  return [
    review("VM create", vm),
    review("VM update", vmNew, vm),
    review("class create", fixture("class/host-sized-v1alpha3.yaml")),
    review("ModuleConfig update", mcNew, mc),
  ];
}

interface Proc {
  child: ChildProcess;
  port: number;
  /** Where /metrics is served (plain HTTP, its own port). */
  metricsPort: number | undefined;
  exited: Promise<number | null>;
}

function startProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Proc> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    let buffered = "";
    let found = false;
    child.stdout?.on("data", (c: Buffer) => {
      if (found) return; // keep draining the logs, unread
      buffered += c.toString();
      for (const line of buffered.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const parsed = JSON.parse(line) as { msg?: string; port?: number; metricsPort?: number };
          if (parsed.msg === "listening" && parsed.port) {
            found = true;
            resolve({ child, port: parsed.port, metricsPort: parsed.metricsPort, exited });
          }
        } catch {
          // a partial line: wait for the rest
        }
      }
    });
    void exited.then((code) => (found ? undefined : reject(new Error(`${args.join(" ")} exited ${code}: ${stderr}`))));
    setTimeout(() => (found ? undefined : reject(new Error(`no "listening" within 30 s: ${stderr}`))), 30_000).unref();
  });
}

async function stop(p: Proc): Promise<number | null> {
  p.child.kill("SIGTERM");
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 30_000);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}

/** User+system CPU seconds a process has used so far (Linux /proc; NaN elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100/s)
  } catch {
    return NaN;
  }
}

interface RunResult {
  label: string;
  /** Server CPU time per answered request, microseconds: what throughput is made of, whatever else runs on the machine. */
  cpuUs: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
}

/** One autocannon run; latencies recorded at full precision (autocannon's own histogram is in whole ms). */
async function load(label: string, server: Proc, requests: { body: string }[], opts: { duration: number; connections: number; overallRate?: number }): Promise<RunResult> {
  const port = server.port;
  const latencies: number[] = [];
  const cpuBefore = cpuSeconds(server.child.pid);
  let done!: (r: autocannon.Result) => void;
  let failed!: (e: Error) => void;
  const finished = new Promise<autocannon.Result>((resolve, reject) => ((done = resolve), (failed = reject)));
  const instance = autocannon({
    url: `https://127.0.0.1:${port}/validate?timeout=10s`,
    method: "POST",
    connections: opts.connections,
    pipelining: 1,
    duration: opts.duration,
    overallRate: opts.overallRate,
    headers: { "content-type": "application/json" },
    requests: requests.map((r) => ({ method: "POST", path: "/validate?timeout=10s", body: r.body, headers: { "content-type": "application/json" } })),
    timeout: 10,
  }, (err, result) => (err ? failed(err as Error) : done(result)));
  instance.on("response", (_client: unknown, status: number, _bytes: number, responseTime: number) => {
    if (status === 200) latencies.push(responseTime);
  });
  const result = await finished;
  const sorted = Float64Array.from(latencies).sort();
  const cpu = cpuSeconds(server.child.pid) - cpuBefore;
  return {
    label,
    cpuUs: (cpu * 1e6) / Math.max(1, latencies.length),
    requests: result.requests.total,
    rps: result.requests.total / (result.duration || opts.duration),
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted.length ? (sorted[sorted.length - 1] as number) : NaN,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

async function checkVerdicts(port: number, requests: { name: string; body: string }[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of requests) {
    const res = await fetchJson(port, r.body);
    const response = res.response as { allowed: boolean; warnings?: string[]; status?: { message: string } };
    out.push(`${r.name}: ${response.allowed ? "allowed" : "denied"}${response.warnings ? `, ${response.warnings.length} warning(s)` : ""}${response.status ? ` (${response.status.message.slice(0, 100)})` : ""}`);
  }
  return out;
}

/** Sum and count of virtguard's policy evaluation histogram: engine time, as the server measured it. */
async function evaluationTotals(proc: Proc): Promise<{ sum: number; count: number }> {
  const request = proc.metricsPort === undefined ? (await import("node:https")).request : (await import("node:http")).request;
  const port = proc.metricsPort ?? proc.port;
  const text = await new Promise<string>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/metrics", rejectUnauthorized: false }, (res) => {
      let t = "";
      res.on("data", (c: Buffer) => (t += c.toString()));
      res.on("end", () => resolve(t));
    });
    req.on("error", reject);
    req.end();
  });
  let sum = 0;
  let count = 0;
  for (const line of text.split("\n")) {
    const m = /^virtguard_policy_evaluation_duration_seconds_(sum|count)\{[^}]*\} (\S+)$/.exec(line);
    if (m) {
      if (m[1] === "sum") sum += Number(m[2]);
      else count += Number(m[2]);
    }
  }
  return { sum, count };
}

async function fetchJson(port: number, body: string): Promise<Record<string, unknown>> {
  const { request } = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/validate", method: "POST", rejectUnauthorized: false, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve(JSON.parse(text) as Record<string, unknown>));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : "-");

function table(rows: RunResult[]): string {
  const lines = [
    "| run | requests | req/s | p50 ms | p99 ms | max ms | errors | non-2xx | server CPU µs/req |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    lines.push(`| ${r.label} | ${r.requests} | ${Math.round(r.rps)} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${r.errors} | ${r.non2xx} | ${Number.isFinite(r.cpuUs) ? Math.round(r.cpuUs) : "-"} |`);
  }
  return lines.join("\n");
}

/** Self time by function and by area, from a V8 .cpuprofile. */
function summarizeProfile(file: string, window: { fromEndUs: number; toEndUs: number }): string {
  interface Node {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
  }
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  // Only the samples of the measured run: start-up (module loading, policy compilation) and
  // shutdown are left out.
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < profile.endTime - window.fromEndUs || t > profile.endTime - window.toEndUs) continue;
    const id = profile.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const area = (url: string, fn: string): string => {
    if (fn === "(idle)") return "idle";
    if (fn === "(garbage collector)") return "GC";
    if (fn === "(program)") return "V8/native (program)";
    // serve runs from the build's bundle: its server module keeps its name, the engine sits in shared chunks.
    if (url === "" && fn === "compiled") return "generated policy code";
    if (url.includes("/dist/src/engine/") || url.includes("/dist/src/bundle/chunk-") || url.includes("@bufbuild")) return "policy engine and shared modules";
    if (url.includes("/dist/src/admission/") || url.includes("/dist/src/bundle/server-")) return "virtguard server code";
    if (url.includes("prom-client")) return "prom-client";
    if (url.includes("pino") || url.includes("sonic-boom")) return "pino";
    if (url.includes("/express") || url.includes("/router/")) return "express";
    if (url.startsWith("node:internal/tls") || url.includes("_tls") || url === "node:tls") return "node TLS";
    if (url.startsWith("node:")) return "node http/net/streams";
    if (url === "") return "native (JSON, crypto, builtins)";
    return "other JS";
  };
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    total += us;
    const a = area(n.callFrame.url, n.callFrame.functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
    const short = n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, "$1/");
    const key = `${n.callFrame.functionName || "(anonymous)"} ${short}${short ? `:${n.callFrame.lineNumber + 1}` : ""}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const busy = total - (areas.get("idle") ?? 0);
  const pct = (us: number, of: number) => `${((100 * us) / of).toFixed(1)}%`;
  const lines = [`CPU profile of (b) during its ${(window.fromEndUs - window.toEndUs) / 1e6 | 0} s run: ${(total / 1e6).toFixed(1)} s sampled, ${pct(busy, total)} busy`, "", "| area | share of busy time |", "| --- | ---: |"];
  for (const [a, us] of [...areas].filter(([a]) => a !== "idle").sort((x, y) => y[1] - x[1])) lines.push(`| ${a} | ${pct(us, busy)} |`);
  lines.push("", "| top self-time functions | share of busy time |", "| --- | ---: |");
  for (const [f, us] of [...fns].filter(([f]) => !f.startsWith("(idle)")).sort((x, y) => y[1] - x[1]).slice(0, 25)) lines.push(`| \`${f}\` | ${pct(us, busy)} |`);
  return lines.join("\n");
}

/** A paced run's figures as a table row (latencies from the generator's own clock, see paced-load.ts). */
async function paced(label: string, server: Proc, requests: { body: string }[], f: Flags): Promise<RunResult & { lateness: number }> {
  const cpuBefore = cpuSeconds(server.child.pid);
  const r = await pacedLoad({ host: "127.0.0.1", port: server.port, path: "/validate?timeout=10s", bodies: requests.map((q) => q.body), rate: f.rate, durationS: f.rateDuration, connections: f.connections });
  const cpu = cpuSeconds(server.child.pid) - cpuBefore;
  const n = r.latenciesMs.length;
  return {
    label,
    cpuUs: (cpu * 1e6) / Math.max(1, n),
    requests: r.sent,
    rps: r.rps,
    p50: quantile(r.latenciesMs, 0.5),
    p99: quantile(r.latenciesMs, 0.99),
    max: n ? (r.latenciesMs[n - 1] as number) : NaN,
    errors: r.errors,
    non2xx: r.non2xx,
    lateness: r.timerLatenessP99Ms,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

function triviallyMatchingNothing(work: string): string {
  const dir = join(work, "trivial-policies");
  mkdirSync(dir);
  writeFileSync(
    join(dir, "pods-only.json"),
    JSON.stringify(
      policyDoc("pods-only", {
        description: "Matches no request of the benchmark's mix.",
        match: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], operations: ["CREATE"] }] },
      }),
    ),
  );
  return dir;
}

async function main(): Promise<void> {
  const f = flags();
  const requests = mix();
  const work = mkdtempSync(join(tmpdir(), "virtguard-bench-"));
  const log = (s: string) => process.stdout.write(s + "\n");
  const os = await import("node:os");
  log(`# virtguard server benchmark: ${f.connections} keep-alive TLS connections, mix of ${requests.map((r) => r.name).join(", ")}`);
  log(`node ${process.version}, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  const rows: RunResult[] = [];
  const serveArgs = (extra: string[], node: string[] = []) => [
    ...node,
    CLI,
    "serve",
    "--port=0",
    "--address=127.0.0.1",
    "--shutdown-delay=0s",
    "--metrics-port=0",
    ...extra,
  ];
  // The Deployment runs serve with NODE_OPTIONS (manifests/deployment.yaml); set the same here to measure with them.
  const serveEnv = process.env.BENCH_SERVE_NODE_OPTIONS !== undefined ? { NODE_OPTIONS: process.env.BENCH_SERVE_NODE_OPTIONS } : {};
  if (serveEnv.NODE_OPTIONS !== undefined) log(`serve's NODE_OPTIONS: ${serveEnv.NODE_OPTIONS}`);
  const full = [...PARAMS.map((p) => `--param=${p}`), ...CONTEXT.map((c) => `--context=${join(FIXTURES, c)}`)];

  // (b0) the same server with a policy set that matches none of the mix: the server's own cost.
  const bare0 = await startProcess(serveArgs([`--dev-ca-file=${join(work, "ca0.crt")}`, `--policies=${triviallyMatchingNothing(work)}`]), serveEnv);
  await load("warm-up", bare0, requests, { duration: f.warmup, connections: f.connections });
  const b0 = await load("(b0) virtguard serve, no policy matching", bare0, requests, { duration: f.duration, connections: f.connections });
  rows.push(b0);
  await stop(bare0);

  // (a) and (b) both up, loaded in turn: each round's ratio compares runs seconds apart, so the
  // machine's other load weighs on both alike; the median of the rounds is the figure.
  const bare = await startProcess([SELF, "--bare-server"]);
  const serve = await startProcess(serveArgs([`--dev-ca-file=${join(work, "ca.crt")}`, ...full]), serveEnv);
  for (const line of await checkVerdicts(serve.port, requests)) log(`  ${line}`);
  await load("warm-up", bare, requests, { duration: f.warmup, connections: f.connections });
  await load("warm-up", serve, requests, { duration: f.warmup, connections: f.connections });
  const evalBefore = await evaluationTotals(serve);
  const rounds: { a: RunResult; b: RunResult }[] = [];
  for (let i = 1; i <= f.rounds; i++) {
    const a = await load(`(a) bare node:https, round ${i}`, bare, requests, { duration: f.duration, connections: f.connections });
    const b = await load(`(b) virtguard serve, round ${i}`, serve, requests, { duration: f.duration, connections: f.connections });
    rows.push(a, b);
    rounds.push({ a, b });
  }
  const evalAfter = await evaluationTotals(serve);
  const engineUs = ((evalAfter.sum - evalBefore.sum) * 1e6) / Math.max(1, evalAfter.count - evalBefore.count);

  // The fixed rate, paced (paced-load.ts), on both.
  const aRate = await paced(`(a) bare, paced ${f.rate} req/s`, bare, requests, f);
  const bRate = await paced(`(b) virtguard, paced ${f.rate} req/s`, serve, requests, f);
  rows.push(aRate, bRate);
  await stop(bare);
  let soak: RunResult | undefined;
  if (f.soak > 0) {
    soak = await load(`(b) virtguard, ${f.soak} s soak at full load`, serve, requests, { duration: f.soak, connections: f.connections });
    rows.push(soak);
  }
  const exitCode = await stop(serve);

  log("");
  log(table(rows));
  log("");
  const ratios = rounds.map((r) => r.b.rps / r.a.rps);
  const ratio = median(ratios);
  const aCpu = median(rounds.map((r) => r.a.cpuUs));
  const bCpu = median(rounds.map((r) => r.b.cpuUs));
  const totalErrors = rows.reduce((n, r) => n + r.errors + r.non2xx, 0);
  log(`- throughput ratio b/a, median of ${f.rounds} interleaved rounds: ${ratio.toFixed(2)} (rounds: ${ratios.map((x) => x.toFixed(2)).join(", ")}; target ≥ 0.6, issue 11) ${ratio >= 0.6 ? "✓" : "✗"}`);
  log(`- server CPU per request, a/b: ${(aCpu / bCpu).toFixed(2)} (${Math.round(aCpu)} µs vs ${Math.round(bCpu)} µs, medians; the ratio a CPU-bound b/a approaches on an idle machine)`);
  log(`- server overhead without policies: ${Math.round(b0.cpuUs)} µs of CPU per request (bare: ${Math.round(aCpu)} µs)`);
  log(`- of (b)'s ${Math.round(bCpu)} µs: policy evaluation ${Math.round(engineUs)} µs (engine, wall time inside evaluate()), the rest ${Math.round(bCpu - engineUs)} µs is HTTP/TLS, parsing, encoding, metrics`);
  log(`- p99 at ${f.rate} req/s (paced): ${ms(bRate.p99)} ms (target ≤ 5 ms) ${bRate.p99 <= 5 ? "✓" : "✗"}; bare ${ms(aRate.p99)} ms; the generator's own timer lateness p99 ${ms(bRate.lateness)} ms, not counted`);
  log(`- errors across all runs: ${totalErrors}${soak ? ` (soak ${f.soak} s: ${soak.errors + soak.non2xx})` : ""} (target 0) ${totalErrors === 0 ? "✓" : "✗"}`);
  log(`- virtguard exited with ${exitCode} after SIGTERM`);
  if (f.cpuProf) {
    // Profiled apart, after the figures: the profiler's own cost stays out of them.
    const profDir = join(work, "prof");
    const profiled = await startProcess(serveArgs([`--dev-ca-file=${join(work, "ca2.crt")}`, ...full], ["--cpu-prof", `--cpu-prof-dir=${profDir}`]));
    await load("warm-up", profiled, requests, { duration: f.warmup, connections: f.connections });
    await load("profiled", profiled, requests, { duration: f.duration, connections: f.connections });
    const runEnd = performance.now();
    await stop(profiled);
    const exitLagUs = (performance.now() - runEnd) * 1000;
    // The main thread's profile (thread 0), not the probes' thread's.
    const file = readdirSync(profDir).find((n) => /\.0\.\d+\.cpuprofile$/.test(n));
    log("");
    const window = { fromEndUs: exitLagUs + f.duration * 1e6, toEndUs: exitLagUs };
    log(file ? summarizeProfile(join(profDir, file), window) : "no CPU profile written");
  }
  rmSync(work, { recursive: true, force: true });
}

if (process.argv.includes("--bare-server")) bareServer();
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
