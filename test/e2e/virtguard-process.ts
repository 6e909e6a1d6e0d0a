// `virtguard serve` as a real process next to the e2e control plane: certificates from
// `virtguard certs`, RBAC and ServiceAccount from `virtguard manifests`, a kubeconfig with that
// ServiceAccount's token, and the webhook registered by URL (no kube-proxy to route a Service).
// Shared by the e2e tests and bench/apiserver.bench.ts.

import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { exchange, type HttpReply } from "../support/http-exchange.js";
import { CLI } from "../support/paths.js";
import { freePorts, type ControlPlane } from "./control-plane.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the virtguard CLI (dist build) to completion. */
export function virtguardCli(args: string[], input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
    child.stdin.end(input ?? "");
  });
}

async function must(what: string, p: Promise<CliResult>): Promise<CliResult> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r;
}

export interface Certs {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

/** `virtguard certs` for 127.0.0.1 and localhost (the API server calls the webhook by URL). */
export async function makeWebhookCerts(dir: string): Promise<Certs> {
  await must("virtguard certs", virtguardCli(["certs", "--out", dir, "--ip", "127.0.0.1", "--host", "localhost", "--key-type", "ecdsa-p256"]));
  return { dir, ca: path.join(dir, "ca.crt"), cert: path.join(dir, "tls.crt"), key: path.join(dir, "tls.key") };
}

/** A kubeconfig for a ServiceAccount, with a token from the TokenRequest API. */
export async function serviceAccountKubeconfig(cp: ControlPlane, namespace: string, name: string, file: string): Promise<string> {
  const r = await cp.kubectl(["create", "token", name, "-n", namespace, "--duration=10h"]);
  if (r.code !== 0) throw new Error(`kubectl create token ${namespace}/${name} failed: ${r.stderr}`);
  const token = r.stdout.trim();
  fs.writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "e2e", cluster: { server: cp.url, "certificate-authority": cp.caFile } }],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: "e2e", user: name, namespace } }],
      "current-context": name,
    }),
    { mode: 0o600 },
  );
  return file;
}

/**
 * Installs virtguard's Namespace, ServiceAccount and RBAC (and the rest of `virtguard manifests
 * --skip-webhook`; no controller runs, so the Deployment makes no pods) for real, and returns a
 * kubeconfig of its ServiceAccount: serve then runs with exactly the permissions the manifests grant.
 */
export async function installVirtguardRbac(cp: ControlPlane, dir: string): Promise<string> {
  const manifests = await must("virtguard manifests --skip-webhook", virtguardCli(["manifests", "--skip-webhook"]));
  // Roles in the platform's namespaces (d8-virtualization for the objects read by name): Deckhouse
  // creates those with its modules; this bare control plane has them created here.
  const namespaces = new Set([...manifests.stdout.matchAll(/^kind: Role\n(?:.*\n)*? {2}namespace: (\S+)$/gm)].map((m) => m[1] as string));
  for (const ns of namespaces) {
    if ((await cp.kubectl(["get", "namespace", ns])).code === 0) continue;
    const created = await cp.kubectl(["create", "namespace", ns]);
    if (created.code !== 0) throw new Error(`kubectl create namespace ${ns} failed: ${created.stderr}`);
  }
  const applied = await cp.kubectl(["apply", "-f", "-"], { input: manifests.stdout });
  if (applied.code !== 0) throw new Error(`kubectl apply of virtguard manifests --skip-webhook failed: ${applied.stderr}`);
  return serviceAccountKubeconfig(cp, "virtguard", "virtguard", path.join(dir, "virtguard.kubeconfig"));
}

/** Registers the webhook (`virtguard manifests --webhook-only --webhook-url`) for a server on 127.0.0.1:port. */
export async function registerWebhook(cp: ControlPlane, port: number, caFile: string): Promise<string> {
  const vwc = await must(
    "virtguard manifests --webhook-only",
    virtguardCli(["manifests", "--webhook-only", "--webhook-url", `https://127.0.0.1:${port}/validate`, "--ca-bundle", caFile]),
  );
  const r = await cp.kubectl(["apply", "-f", "-"], { input: vwc.stdout });
  if (r.code !== 0) throw new Error(`registering the webhook failed: ${r.stderr}`);
  return vwc.stdout;
}

/** GET over plain HTTP (the metrics port). */
function httpGet(url: string): Promise<HttpReply> {
  return exchange(http.request(url, { timeout: 5000 }));
}

export function httpsGet(url: string, ca: Buffer): Promise<HttpReply> {
  return exchange(https.request(url, { ca, timeout: 3000 }));
}

export interface VirtguardProcess {
  port: number;
  pid: number;
  /** ms from spawn to /readyz 200. */
  readyMs: number;
  /** Everything it printed so far (JSON log lines). */
  output(): string;
  metrics(): Promise<string>;
  /** Resident set size in bytes (from /proc). */
  rssBytes(): number;
  /** SIGTERM and wait for the exit (SIGKILL after 15 s); idempotent. */
  stop(): Promise<number | null>;
}

/** Starts `virtguard serve` on 127.0.0.1 with the given certificates and kubeconfig; resolves when /readyz answers 200. */
export async function startVirtguard(opts: {
  certs: Certs;
  kubeconfig: string;
  args?: string[];
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Node.js flags before the script, e.g. ["--cpu-prof"]. */
  nodeArgs?: string[];
}): Promise<VirtguardProcess> {
  const [port, metricsPort] = (await freePorts(2)) as [number, number];
  const args = [
    ...(opts.nodeArgs ?? []),
    CLI,
    "serve",
    "--port",
    String(port),
    "--address",
    "127.0.0.1",
    "--tls-cert",
    opts.certs.cert,
    "--tls-key",
    opts.certs.key,
    "--kubeconfig",
    opts.kubeconfig,
    "--metrics-port",
    String(metricsPort),
    "--shutdown-delay",
    "0",
    "--shutdown-grace-period",
    "5s",
    ...(opts.args ?? []),
  ];
  const started = Date.now();
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: opts.env ?? process.env });
  if (child.pid === undefined) throw new Error("virtguard serve: spawn failed");
  const pid = child.pid;
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString("utf8")));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const onExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.on("exit", onExit);
  const ca = fs.readFileSync(opts.certs.ca);
  const base = `https://127.0.0.1:${port}`;
  const stop = async (): Promise<number | null> => {
    process.removeListener("exit", onExit);
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  let last = "";
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`virtguard serve exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${out.slice(-4000)}`);
    try {
      const r = await httpsGet(`${base}/readyz`, ca);
      if (r.status === 200) break;
      last = r.body;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`virtguard serve not ready within ${opts.readyTimeoutMs ?? 60_000} ms (last: ${last}):\n${out.slice(-4000)}`);
    }
    await sleep(50);
  }
  const readyMs = Date.now() - started;
  return {
    port,
    pid,
    readyMs,
    output: () => out,
    metrics: async () => (await httpGet(`http://127.0.0.1:${metricsPort}/metrics`)).body,
    rssBytes: () => {
      const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      return m ? Number(m[1]) * 1024 : 0;
    },
    stop,
  };
}

/** Sum of a Prometheus counter's samples whose labels include every given label. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
