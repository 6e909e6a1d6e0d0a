// A real Kubernetes control plane (etcd + kube-apiserver) for end-to-end
// tests, started the way controller-runtime's envtest does it: local
// processes on 127.0.0.1, free ports, throw-away certificates and data dir.
//
// The binaries are built from Go modules by test/e2e/k8s/build.sh and cached
// outside the repository (see test/e2e/README.md).

import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as https from "node:https";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { readCrdDir } from "../../src/schema/crd-dir.js";
import { exchange, type HttpReply } from "../support/http-exchange.js";

export interface Binaries {
  apiserver: string;
  etcd: string;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: unknown }).code === "EPERM";
  }
}

/** Prints a command and what it gave (exit code, stdout, stderr): the transcript an e2e test leaves in its output. */
export function showCommand(what: string, r: { code: number | null; stdout: string; stderr: string }): void {
  console.log(`$ ${what}\n  exit ${r.code}${r.stdout.trim() ? `\n  stdout: ${r.stdout.trim().replaceAll("\n", "\n          ")}` : ""}${r.stderr.trim() ? `\n  stderr: ${r.stderr.trim().replaceAll("\n", "\n          ")}` : ""}`);
}

export interface ControlPlane {
  /** https://127.0.0.1:<port> of kube-apiserver. */
  url: string;
  /** Path of a kubeconfig (server, CA, admin token). */
  kubeconfig: string;
  /** Bearer token of the admin user (group system:masters). */
  token: string;
  /** CA certificate that signed the apiserver's serving certificate. */
  caFile: string;
  /** Temporary directory holding certs, etcd data and logs; removed by stop(). */
  dir: string;
  /** http://127.0.0.1:<port> of etcd. */
  etcdUrl: string;
  pids: { apiserver: number; etcd: number };
  logs: { apiserver: string; etcd: string };
  /** CRD names installed and Established during start-up. */
  crds: string[];
  /** ms from startControlPlane() to /readyz (incl. cert generation, excl. a build), and to CRDs Established. */
  timings: { readyMs: number; totalMs: number };
  /** Stops both processes (SIGTERM, then SIGKILL) and removes dir. Idempotent. */
  stop(): Promise<void>;
  /** Runs kubectl against this control plane (never throws on a non-zero exit). */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
}

export interface StartOptions {
  /** Directory whose *.yaml CustomResourceDefinitions are installed. Default: the vendored <repo>/policies/crds. Pass null to install none. */
  crdDir?: string | null;
  /** Namespaces to create after start-up ("default" always exists). */
  namespaces?: string[];
  /** Prebuilt binaries; default: ensureBinaries(). */
  binaries?: Binaries;
  /** Extra kube-apiserver flags, e.g. ["--v=4"]. */
  apiserverArgs?: string[];
  /** Timeout for /readyz, ms. Default 60000. */
  readyTimeoutMs?: number;
}

/** Why e2e cannot run without Go: it builds kube-apiserver and etcd. */
export const GO_NOT_FOUND = "go not found on PATH (needed to build kube-apiserver and etcd, see test/e2e/README.md)";

const VERBOSE = process.env["VIRTGUARD_E2E_VERBOSE"] === "1";
const KEEP = process.env["VIRTGUARD_E2E_KEEP"] === "1";

// ------------------------------------------------------------------ paths

let cachedRoot: string | undefined;

/** The repository root (the directory holding package.json and test/e2e/k8s/build.sh). */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "test", "e2e", "k8s", "build.sh"))) {
      cachedRoot = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`control-plane: cannot find the repository root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function defaultCrdDir(): string {
  return path.resolve(repoRoot(), "policies", "crds");
}

function kubectlBinary(): string {
  return process.env["VIRTGUARD_E2E_KUBECTL"] ?? "kubectl";
}

// ------------------------------------------------------------------ processes

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  cmd: string,
  args: string[],
  opts: { input?: string; cwd?: string; timeoutMs?: number; onStderrLine?: (line: string) => void } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let partial = "";
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    }
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => {
      err.push(b);
      if (opts.onStderrLine) {
        partial += b.toString("utf8");
        const lines = partial.split("\n");
        partial = lines.pop() ?? "";
        for (const l of lines) opts.onStderrLine(l);
      }
    });
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8") + (signal ? `\n(killed by ${signal})` : ""),
      });
    });
    child.stdin.on("error", () => undefined); // EPIPE if the child exits early
    child.stdin.end(opts.input ?? "");
  });
}

function isENOENT(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "ENOENT";
}

function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
}

function tailFile(file: string, lines = 40): string {
  try {
    return tail(fs.readFileSync(file, "utf8"), lines);
  } catch {
    return "(no log)";
  }
}

// ------------------------------------------------------------------ binaries

/**
 * Returns the kube-apiserver and etcd binaries, building them with
 * test/e2e/k8s/build.sh when they are not cached yet (the first build takes
 * many minutes). Throws when `go` is not on PATH: e2e runs against a real
 * API server or fails, it never passes without one.
 * VIRTGUARD_E2E_KUBE_APISERVER + VIRTGUARD_E2E_ETCD override the build.
 */
export async function ensureBinaries(): Promise<Binaries> {
  const envApi = process.env["VIRTGUARD_E2E_KUBE_APISERVER"];
  const envEtcd = process.env["VIRTGUARD_E2E_ETCD"];
  if (envApi && envEtcd) return { apiserver: envApi, etcd: envEtcd };

  try {
    const go = await run("go", ["version"]);
    if (go.code !== 0) throw new Error(`control-plane: ${GO_NOT_FOUND}`);
  } catch (e) {
    if (isENOENT(e)) throw new Error(`control-plane: ${GO_NOT_FOUND}`);
    throw e;
  }

  const script = path.join(repoRoot(), "test", "e2e", "k8s", "build.sh");
  const started = Date.now();
  const res = await run("bash", [script], {
    // Progress lines of build.sh (not the compiler's chatter) are shown, so a
    // long first build is not silent.
    onStderrLine: (line) => {
      if (VERBOSE || line.startsWith("build.sh:")) process.stderr.write(`e2e: ${line}\n`);
    },
  });
  if (res.code !== 0) {
    throw new Error(`control-plane: ${script} failed with exit code ${res.code} after ${Math.round((Date.now() - started) / 1000)}s:\n${tail(res.stderr, 60)}`);
  }
  const get = (key: string): string => {
    const m = new RegExp(`^${key}=(.+)$`, "m").exec(res.stdout);
    if (!m?.[1]) throw new Error(`control-plane: build.sh printed no ${key}= line:\n${res.stdout}`);
    return m[1].trim();
  };
  return { apiserver: get("KUBE_APISERVER"), etcd: get("ETCD") };
}

/**
 * The binaries for an e2e test file (built once, see ensureBinaries); a test file does:
 *
 *   const bins = await e2eBinaries();
 *   if (bins) { describe(...) }
 */
export async function e2eBinaries(): Promise<Binaries> {
  return ensureBinaries();
}

// ------------------------------------------------------------------ helpers

/** Picks n distinct free TCP ports on 127.0.0.1 (all held open together, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => resolve());
      });
    }
    return servers.map((s) => {
      const addr = s.address();
      if (addr === null || typeof addr === "string") throw new Error("control-plane: unexpected listen address");
      return addr.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

async function openssl(args: string[], cwd: string): Promise<void> {
  let res: RunResult;
  try {
    res = await run("openssl", args, { cwd });
  } catch (e) {
    if (isENOENT(e)) throw new Error("control-plane: openssl not found on PATH (needed to make the test certificates)");
    throw e;
  }
  if (res.code !== 0) throw new Error(`control-plane: openssl ${args.join(" ")} failed:\n${res.stderr}`);
}

interface Certs {
  caFile: string;
  certFile: string;
  keyFile: string;
  saKey: string;
  saPub: string;
}

async function makeCerts(dir: string): Promise<Certs> {
  const pki = path.join(dir, "pki");
  await fsp.mkdir(pki, { mode: 0o700 });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=virtguard-e2e-ca",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    pki,
  );
  await openssl(["req", ...ec, "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver"], pki);
  await fsp.writeFile(
    path.join(pki, "apiserver.ext"),
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes.default.svc",
      "",
    ].join("\n"),
  );
  await openssl(
    ["x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
      "-out", "apiserver.crt", "-days", "2", "-extfile", "apiserver.ext"],
    pki,
  );
  const sa = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  await fsp.writeFile(path.join(pki, "sa.key"), sa.privateKey, { mode: 0o600 });
  await fsp.writeFile(path.join(pki, "sa.pub"), sa.publicKey);
  return {
    caFile: path.join(pki, "ca.crt"),
    certFile: path.join(pki, "apiserver.crt"),
    keyFile: path.join(pki, "apiserver.key"),
    saKey: path.join(pki, "sa.key"),
    saPub: path.join(pki, "sa.pub"),
  };
}

function httpGet(url: string, opts: { ca?: Buffer; token?: string; timeoutMs?: number } = {}): Promise<HttpReply> {
  const u = new URL(url);
  const headers: Record<string, string> = {};
  if (opts.token) headers["Authorization"] = `Bearer ${opts.token}`;
  const options = { headers, ca: opts.ca, timeout: opts.timeoutMs ?? 2000 };
  return exchange(u.protocol === "https:" ? https.request(u, options) : http.request(u, options));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  exited = false;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  private readonly exitPromise: Promise<void>;

  constructor(
    readonly name: string,
    bin: string,
    args: string[],
    readonly logFile: string,
  ) {
    let stdio: StdioOptions;
    let fd: number | undefined;
    if (VERBOSE) {
      stdio = ["ignore", "inherit", "inherit"];
    } else {
      fd = fs.openSync(logFile, "a");
      stdio = ["ignore", fd, fd];
    }
    this.child = spawn(bin, args, { stdio });
    if (fd !== undefined) fs.closeSync(fd);
    this.exitPromise = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exited = true;
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      });
      this.child.once("error", (e) => {
        this.exited = true;
        fs.appendFileSync(logFile, `\n[control-plane] spawn ${bin} failed: ${String(e)}\n`);
        resolve();
      });
    });
    if (this.child.pid === undefined) {
      this.pid = -1;
    } else {
      this.pid = this.child.pid;
    }
  }

  describeExit(): string {
    return this.exitSignal ? `signal ${this.exitSignal}` : `exit code ${String(this.exitCode)}`;
  }

  logTail(lines = 40): string {
    return VERBOSE ? "(log went to the terminal: VIRTGUARD_E2E_VERBOSE=1)" : tailFile(this.logFile, lines);
  }

  /** SIGTERM, then SIGKILL after timeoutMs; resolves once the process is reaped. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.exited || this.pid < 0) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => {
      if (!this.exited) this.child.kill("SIGKILL");
    }, timeoutMs);
    await this.exitPromise;
    clearTimeout(timer);
  }

  killSync(): void {
    if (!this.exited && this.pid > 0) {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Deckhouse CRDs carry documentation-only schema keys (`x-doc-examples`,
 * `x-doc-deprecated`, ...) that are not part of apiextensions' JSONSchemaProps;
 * Deckhouse prunes them before applying, and so do we (a real apiserver
 * rejects them under server-side apply). Keys directly under `properties`
 * are field names and are left alone.
 */
export function stripDocKeys(value: unknown, parentKey = ""): unknown {
  if (Array.isArray(value)) return value.map((v) => stripDocKeys(v));
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  const namesHere = parentKey === "properties" || parentKey === "patternProperties";
  for (const [k, v] of Object.entries(value)) {
    if (!namesHere && k.startsWith("x-doc-")) continue;
    out[k] = stripDocKeys(v, namesHere ? "" : k);
  }
  return out;
}

/** The CustomResourceDefinitions of a CRD directory, read as virtguard reads it (doc-only keys stripped). */
export async function readCrds(dir: string): Promise<{ name: string; doc: unknown }[]> {
  const out: { name: string; doc: unknown }[] = [];
  for (const crd of readCrdDir(dir).crds) {
    const name = (crd.metadata as { name?: unknown } | undefined)?.name;
    if (typeof name !== "string") throw new Error(`control-plane: ${dir}: a CustomResourceDefinition without metadata.name`);
    out.push({ name, doc: stripDocKeys(crd) });
  }
  return out;
}

// ------------------------------------------------------------------ start

/**
 * Starts etcd and kube-apiserver on 127.0.0.1, installs the DVP CRDs and
 * waits until they are Established. On any failure everything started so far
 * is stopped and the temp dir removed before the error is thrown.
 */
export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  let binaries = opts.binaries;
  if (!binaries) {
    binaries = await ensureBinaries();
  }
  const t0 = Date.now();

  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "virtguard-e2e-"));
  const procs: Proc[] = [];
  let stopped = false;
  const onExit = (): void => {
    for (const p of procs) p.killSync();
    if (!KEEP) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  };
  process.on("exit", onExit);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // apiserver first (it talks to etcd), then etcd.
    for (const p of [...procs].reverse()) await p.stop();
    process.removeListener("exit", onExit);
    if (KEEP) {
      process.stderr.write(`e2e: VIRTGUARD_E2E_KEEP=1, kept ${dir}\n`);
    } else {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  };

  try {
    const [etcdClientPort, etcdPeerPort, apiPort] = (await freePorts(3)) as [number, number, number];
    const certs = await makeCerts(dir);
    const token = randomBytes(24).toString("hex");
    const tokenFile = path.join(dir, "pki", "tokens.csv");
    await fsp.writeFile(tokenFile, `${token},virtguard-e2e-admin,virtguard-e2e-admin,"system:masters"\n`, { mode: 0o600 });

    // ---- etcd
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = new Proc(
      "etcd",
      binaries.etcd,
      [
        "--name=e2e",
        `--data-dir=${path.join(dir, "etcd-data")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=e2e=${peerUrl}`,
        "--initial-cluster-state=new",
        "--unsafe-no-fsync=true",
        "--listen-metrics-urls=",
        "--log-level=warn",
      ],
      path.join(dir, "etcd.log"),
    );
    procs.push(etcd);
    await waitFor("etcd /health", 30_000, etcd, async () => {
      const r = await httpGet(`${etcdUrl}/health`);
      return r.status === 200 && r.body.includes('"health":"true"');
    });

    // ---- kube-apiserver
    const url = `https://127.0.0.1:${apiPort}`;
    const apiserver = new Proc(
      "kube-apiserver",
      binaries.apiserver,
      [
        "--advertise-address=127.0.0.1",
        "--bind-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--cert-dir=${path.join(dir, "pki")}`,
        `--tls-cert-file=${certs.certFile}`,
        `--tls-private-key-file=${certs.keyFile}`,
        `--client-ca-file=${certs.caFile}`,
        `--token-auth-file=${tokenFile}`,
        "--authorization-mode=RBAC",
        `--etcd-servers=${etcdUrl}`,
        `--service-account-issuer=${url}`,
        `--service-account-key-file=${certs.saPub}`,
        `--service-account-signing-key-file=${certs.saKey}`,
        "--service-cluster-ip-range=10.0.0.0/24",
        "--allow-privileged=true",
        // No controller-manager runs, so nothing creates the "default"
        // ServiceAccount that this plugin insists on (envtest does the same).
        "--disable-admission-plugins=ServiceAccount",
        ...(opts.apiserverArgs ?? []),
      ],
      path.join(dir, "kube-apiserver.log"),
    );
    procs.push(apiserver);
    const ca = await fsp.readFile(certs.caFile);
    const readyTimeout = opts.readyTimeoutMs ?? 60_000;
    await waitFor("kube-apiserver /readyz", readyTimeout, apiserver, async () => {
      const r = await httpGet(`${url}/readyz`, { ca, token });
      return r.status === 200;
    });
    // The bootstrap controller creates "default" right after start-up.
    await waitFor("namespace default", 30_000, apiserver, async () => {
      const r = await httpGet(`${url}/api/v1/namespaces/default`, { ca, token });
      return r.status === 200;
    });
    const readyMs = Date.now() - t0;

    // ---- kubeconfig (JSON is valid YAML)
    const kubeconfig = path.join(dir, "kubeconfig");
    await fsp.writeFile(
      kubeconfig,
      JSON.stringify(
        {
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "e2e", cluster: { server: url, "certificate-authority": certs.caFile } }],
          users: [{ name: "e2e-admin", user: { token } }],
          contexts: [{ name: "e2e", context: { cluster: "e2e", user: "e2e-admin", namespace: "default" } }],
          "current-context": "e2e",
        },
        null,
        2,
      ),
      { mode: 0o600 },
    );

    const kubectl = async (args: string[], kopts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> => {
      try {
        return await run(kubectlBinary(), ["--kubeconfig", kubeconfig, ...args], {
          input: kopts.input,
          timeoutMs: kopts.timeoutMs ?? 120_000,
        });
      } catch (e) {
        if (isENOENT(e)) throw new Error(`control-plane: ${kubectlBinary()} not found (set VIRTGUARD_E2E_KUBECTL)`);
        throw e;
      }
    };
    const mustKubectl = async (args: string[], input?: string): Promise<KubectlResult> => {
      const r = await kubectl(args, { input });
      if (r.code !== 0) throw new Error(`control-plane: kubectl ${args.join(" ")} failed (${r.code}):\n${r.stderr}${r.stdout}`);
      return r;
    };

    // ---- namespaces
    for (const ns of opts.namespaces ?? []) {
      if (ns === "default") continue;
      await mustKubectl(["create", "namespace", ns]);
    }

    // ---- CRDs
    const crdDir = opts.crdDir === undefined ? defaultCrdDir() : opts.crdDir;
    let crds: string[] = [];
    if (crdDir !== null) {
      const found = await readCrds(crdDir);
      if (found.length === 0) throw new Error(`control-plane: no CustomResourceDefinition found in ${crdDir}`);
      crds = found.map((c) => c.name);
      // Server-side apply: the DVP CRDs are too large for the client-side
      // last-applied-configuration annotation.
      const input = found.map((c) => JSON.stringify(c.doc)).join("\n---\n");
      await mustKubectl(["apply", "--server-side", "--force-conflicts", "--field-manager=virtguard-e2e", "-f", "-"], input);
      await mustKubectl(["wait", "--for=condition=Established", "--timeout=60s", ...crds.map((n) => `crd/${n}`)]);
    }

    if (VERBOSE) {
      process.stderr.write(`e2e: control plane ready at ${url} in ${readyMs} ms (with CRDs ${Date.now() - t0} ms), dir ${dir}\n`);
    }

    return {
      url,
      kubeconfig,
      token,
      caFile: certs.caFile,
      dir,
      etcdUrl,
      pids: { apiserver: apiserver.pid, etcd: etcd.pid },
      logs: { apiserver: apiserver.logFile, etcd: etcd.logFile },
      crds,
      timings: { readyMs, totalMs: Date.now() - t0 },
      stop,
      kubectl,
    };
  } catch (e) {
    let msg = e instanceof Error ? e.message : String(e);
    for (const p of procs) {
      if (!msg.includes(`--- ${p.name} log`)) msg += `\n--- ${p.name} log (tail) ---\n${p.logTail(20)}`;
    }
    await stop().catch(() => undefined);
    throw new Error(msg, { cause: e });
  }
}

async function waitFor(what: string, timeoutMs: number, proc: Proc, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    if (proc.exited) {
      throw new Error(
        `control-plane: ${proc.name} exited (${proc.describeExit()}) while waiting for ${what}\n--- ${proc.name} log (tail) ---\n${proc.logTail()}`,
      );
    }
    try {
      if (await check()) return;
      last = "not ready";
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `control-plane: timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})\n--- ${proc.name} log (tail) ---\n${proc.logTail()}`,
      );
    }
    await sleep(200);
  }
}
