import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest, type Agent, type RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, type LogLevel } from "../../src/admission/logger.js";
import { startServer, type RunningServer, type ServerOptions } from "../../src/admission/server.js";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { exchange } from "../support/http-exchange.js";
import { CLI } from "../support/paths.js";
import { policyDoc } from "../support/policy-doc.js";
import { admissionReview, type RequestOptions as ReviewOptions } from "../support/review.js";

export function tempDir(prefix = "virtguard-server-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A cores limit policy whose limit a test can change, to see a reload take effect. */
export function limitsPolicy(maxCores: number): JsonObject {
  return policyDoc("test-cores", {
    description: `At most ${maxCores} cores.`,
    variables: [{ name: "cores", expression: "has(object.spec.cpu) && has(object.spec.cpu.cores) ? int(object.spec.cpu.cores) : 0" }],
    validations: [
      {
        expression: `variables.cores <= ${maxCores}`,
        messageExpression: `'spec.cpu.cores is ' + string(variables.cores) + '; at most ${maxCores}'`,
        action: "Deny",
        reason: "Invalid",
      },
    ],
  });
}

/** Warns on class "generic"; audits every VM's memory. */
const guidancePolicy = policyDoc("test-guidance", {
  description: "Warnings and audits.",
  validations: [
    {
      expression: "object.spec.virtualMachineClassName != 'generic'",
      message: "class generic is for tests only; pick a sized class",
      action: "Warn",
    },
    { expression: "false", messageExpression: "'memory ' + string(object.spec.memory.size)", action: "Audit" },
  ],
});

/** Denies a Secret that has a password, quoting it in the message: what logs must never repeat. */
const secretPolicy = policyDoc("test-secret", {
  description: "Secrets have no password key.",
  match: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["secrets"], operations: ["CREATE"] }] },
  validations: [
    {
      expression: "!has(object.data) || !('password' in object.data)",
      messageExpression: "'password ' + string(object.data.password) + ' is not allowed here'",
      action: "Deny",
    },
  ],
});

/** A policy directory with the test policies (cores limit, warnings, audits, Secrets). */
export function writePolicyDir(dir: string, maxCores = 248): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cores.json"), JSON.stringify(limitsPolicy(maxCores), null, 2));
  writeFileSync(join(dir, "guidance.json"), JSON.stringify(guidancePolicy, null, 2));
  writeFileSync(join(dir, "secret.json"), JSON.stringify(secretPolicy, null, 2));
  return dir;
}

/** Log lines a test can read back. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }
  find(msg: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.msg === msg);
  }
  text(): string {
    return this.lines.map((l) => JSON.stringify(l)).join("\n");
  }
}

export interface TestServer {
  running: RunningServer;
  port: number;
  ca: string;
  logs: LogCapture;
  dir: string;
  close(): Promise<void>;
}

/** The real server on 127.0.0.1, a free port, the dev CA, test policies in a temp dir, logs captured. */
export async function startTestServer(opts: Partial<ServerOptions> & { logLevel?: LogLevel; maxCores?: number } = {}): Promise<TestServer> {
  const dir = tempDir();
  const logs = new LogCapture();
  const running = await startServer({
    port: 0,
    address: "127.0.0.1",
    tls: { dev: true, caFile: join(dir, "ca.crt") },
    policiesDir: opts.policiesDir ?? writePolicyDir(join(dir, "policies"), opts.maxCores),
    logger: createLogger(opts.logLevel ?? "info", logs),
    defaultMetrics: false,
    reloadIntervalMs: 0,
    reloadDebounceMs: 50,
    ...opts,
  });
  return {
    running,
    port: running.port,
    ca: running.dev?.caPem ?? "",
    logs,
    dir,
    async close() {
      await running.shutdown({ delayMs: 0 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An AdmissionReview for the fixture VM, with the given cores and class. */
export function vmReview(opts: { cores?: number; uid?: string; className?: string; dryRun?: boolean; operation?: "CREATE" | "UPDATE" } & ReviewOptions = {}): JsonObject {
  const vm = fixture("vm/vm-basic.yaml");
  const spec = vm.spec as { cpu: { cores: number }; virtualMachineClassName: string };
  if (opts.cores !== undefined) spec.cpu.cores = opts.cores;
  if (opts.className !== undefined) spec.virtualMachineClassName = opts.className;
  const old = opts.operation === "UPDATE" ? fixture("vm/vm-basic.yaml") : undefined;
  return admissionReview({ object: vm, oldObject: old, uid: opts.uid, dryRun: opts.dryRun, username: opts.username });
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): Record<string, unknown>;
}

/** One HTTPS request with node:https, verifying the server against `ca` (by the URL's host name). */
export function send(
  url: string,
  opts: { ca: string; method?: string; body?: string | Buffer; headers?: Record<string, string>; agent?: Agent | false; servername?: string } & Partial<RequestOptions>,
): Promise<Reply> {
  const { body, ...rest } = opts;
  const req = httpsRequest(url, { method: body === undefined ? "GET" : "POST", ...rest, headers: { "content-type": "application/json", ...opts.headers } });
  return exchange(req, body).then(({ status, headers, body: text }) => ({ status, headers, text, json: () => JSON.parse(text) as Record<string, unknown> }));
}

/** Polls `fn` until it returns true; bounded, so a test fails instead of hanging. */
export async function eventually(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      if (await fn()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
}

export interface CliServer {
  child: ChildProcess;
  port: number;
  /** --metrics-port as it was bound (the `listening` line). */
  metricsPort: number | undefined;
  stdout: string[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Spawns `virtguard serve` (the built CLI, or `how.bin` such as an installed package's) and resolves
 * once it logs "listening". `how.env` replaces the inherited environment; `env` adds to it.
 */
export function spawnServe(args: string[], env: Record<string, string> = {}, how: { bin?: string; cwd?: string; env?: Record<string, string> } = {}): Promise<CliServer> {
  const [command, ...pre] = how.bin ? [how.bin] : [process.execPath, CLI];
  // Never the default metrics port: other servers (and other test runs) may hold it.
  const metrics = args.some((a) => a.startsWith("--metrics-port")) ? [] : ["--metrics-port=0"];
  const child = spawn(command as string, [...pre, "serve", ...metrics, ...args], { cwd: how.cwd, env: { ...(how.env ?? process.env), ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const stdout: string[] = [];
  let stderr = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`virtguard serve did not start within 15 s; stderr: ${stderr}`));
    }, 15_000);
    child.stdout?.on("data", (c: Buffer) => {
      buffered += c.toString("utf8");
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        stdout.push(line);
        const parsed = JSON.parse(line) as { msg?: string; port?: number; metricsPort?: number };
        if (parsed.msg === "listening" && typeof parsed.port === "number") {
          clearTimeout(timer);
          resolve({ child, port: parsed.port, metricsPort: parsed.metricsPort, stdout, stderr: () => stderr, exited });
        }
      }
    });
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`virtguard serve exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
}
