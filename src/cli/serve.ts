import { X509Certificate, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { isAbsolute, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { fileContextProvider, type ContextProvider } from "../cluster/context-provider.js";
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from "../admission/logger.js";
import type { RunningServer, TlsSource } from "../admission/server.js";
import { DEFAULT_DEV_CA_FILE } from "../admission/tls.js";
import { isObject, parseParameterFlag, type JsonObject, type JsonValue, type KindKey } from "../engine/index.js";
import { runningInPod } from "../cluster/live/in-pod.js";
import { loadPlatform } from "../policy-files/platform.js";
import { SHIPPED_POLICIES } from "../policy-files/policy-dir.js";
import { UsageError, type Command } from "./command.js";
import { durationFlag } from "./duration.js";
import { readFlags, renderFlagHelp } from "./flag-table.js";
import { SERVE_FLAGS } from "./serve-flags.js";

const usage = `Usage: virtguard serve [flags]

Runs the validating admission webhook: POST /validate over HTTPS (AdmissionReview v1, every kind on
one path), GET /healthz and GET /readyz; GET /metrics (and the probes again) over plain HTTP on
--metrics-port. Policies and certificate files are reloaded when they change on disk. SIGTERM fails
/readyz, waits --shutdown-delay, stops accepting connections, finishes the requests in flight and
exits 0 within --shutdown-grace-period; SIGINT (Ctrl-C) skips the delay.

Cluster objects the policies look up come from a live cluster (--kubeconfig, or the pod's
ServiceAccount) or, without one, from --context files and the objects the platform creates at
install (policies/platform/objects).

Every flag has an environment variable; a flag given on the command line wins.

Flags:
${renderFlagHelp(SERVE_FLAGS)}

Durations: 500ms, 2s, 1m30s, 1h, 1d, or 0.

Examples:
  virtguard serve
  curl --cacert ${DEFAULT_DEV_CA_FILE} -H 'Content-Type: application/json' \\
    --data-binary @examples/review-vm-300-cores.json https://localhost:8443/validate
  virtguard serve --tls-cert /tls/tls.crt --tls-key /tls/tls.key --policies /policies \\
    --metrics-port 9090 --param edition=EE
`;

function positiveInteger(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1) throw new UsageError(`--${flag} "${text}": expected a whole number of at least 1`);
  return n;
}

/** --client-ca: read at start; a file without a PEM certificate is a usage error. */
function readClientCa(file: string | undefined): { file: string; pem: string } | undefined {
  if (file === undefined) return undefined;
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`--client-ca ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw new UsageError(`--client-ca ${file}: no PEM certificate in it`);
  }
  return { file, pem };
}

function parsePort(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n > 65535) throw new UsageError(`--${flag} "${text}": expected a port number (0-65535)`);
  return n;
}

export interface ServeConfig {
  port: number;
  address: string | undefined;
  tls: TlsSource;
  policies: string;
  context: string[];
  params: Record<string, JsonValue>;
  logLevel: LogLevel;
  metricsPort: number;
  /** --client-ca's file and its PEM text. */
  clientCa: { file: string; pem: string } | undefined;
  maxConnections: number;
  tlsHandshakeTimeoutMs: number;
  failureRule: "deny" | "allow";
  evalTimeoutMs: number;
  shutdownDelayMs: number;
  shutdownGracePeriodMs: number;
  reloadIntervalMs: number;
  /** A live cluster to look objects up in, or undefined for --context files. */
  cluster: { kubeconfig: string } | { inCluster: true } | undefined;
  /** Top-level fields set over the object of a fromSecret kind (--override), by "group/Kind". */
  overrides: Map<KindKey, JsonObject>;
  staleCache: { mode: "fail" | "serve"; afterMs: number };
  /** Background audit: every intervalMs (0: off), elected on the Lease namespace/name. */
  audit: { intervalMs: number; lease: { namespace: string; name: string } };
}

/** The namespace a pod's ServiceAccount is mounted for, else "default". */
function podNamespace(env: NodeJS.ProcessEnv): string {
  if (env["POD_NAMESPACE"]) return env["POD_NAMESPACE"];
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim() || "default";
  } catch {
    return "default";
  }
}

const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

function parseLease(text: string | undefined, env: NodeJS.ProcessEnv): { namespace: string; name: string } {
  if (text === undefined) return { namespace: podNamespace(env), name: "virtguard-audit" };
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(text.trim());
  if (!m) throw new UsageError(`--audit-lease "${text}": expected NAMESPACE/NAME, e.g. d8-virtguard/virtguard-audit`);
  return { namespace: m[1] as string, name: m[3] as string };
}

/** --override values: "group/Kind={...}" (core kinds "/Kind"); fields of one kind given twice merge. */
export function parseOverrides(values: readonly string[]): Map<KindKey, JsonObject> {
  const out = new Map<KindKey, JsonObject>();
  for (const text of values) {
    const eq = text.indexOf("=");
    const kind = eq < 0 ? "" : text.slice(0, eq).trim();
    if (!/^[a-z0-9.-]*\/[A-Za-z][A-Za-z0-9]*$/.test(kind)) throw new UsageError(`--override "${text}": expected group/Kind={JSON object}, e.g. deckhouse.io/ClusterConfiguration={"podSubnetCIDR":"10.111.0.0/16"}`);
    let fields: unknown;
    try {
      fields = JSON.parse(text.slice(eq + 1));
    } catch (err) {
      throw new UsageError(`--override ${kind}: the fields are not JSON: ${(err as Error).message}`);
    }
    if (!isObject(fields)) throw new UsageError(`--override ${kind}: expected a JSON object of top-level fields`);
    out.set(kind, { ...(out.get(kind) ?? {}), ...fields });
  }
  return out;
}

/** Flags over environment over defaults; every problem is a UsageError naming the flag. */
export function parseServeConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const flags = readFlags(SERVE_FLAGS, argv, env, "serve");
  const one = flags.one;
  const cert = one("tls-cert");
  const key = one("tls-key");
  if ((cert === undefined) !== (key === undefined)) throw new UsageError("--tls-cert and --tls-key go together: give both, or neither for a development certificate");
  const tls: TlsSource = cert !== undefined && key !== undefined ? { certFile: cert, keyFile: key } : { dev: true, caFile: one("dev-ca-file") };

  const logLevel = one("log-level");
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new UsageError(`--log-level "${logLevel}": expected one of ${LOG_LEVELS.join(", ")}`);
  const failureRule = one("failure-rule");
  if (failureRule !== "deny" && failureRule !== "allow") throw new UsageError(`--failure-rule "${failureRule}": expected deny or allow`);

  const params: Record<string, JsonValue> = {};
  for (const p of flags.many("param")) {
    try {
      const [name, value] = parseParameterFlag(p);
      params[name] = value;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const metricsPort = one("metrics-port");
  const evalTimeoutMs = durationFlag("eval-timeout", one("eval-timeout"));
  if (evalTimeoutMs <= 0) throw new UsageError("--eval-timeout must be more than 0");
  const context = flags.many("context");
  const kubeconfig = one("kubeconfig");
  const clusterMode = one("cluster");
  if (!["auto", "in-cluster", "off"].includes(clusterMode)) throw new UsageError(`--cluster "${clusterMode}": expected auto, in-cluster or off`);
  if (kubeconfig !== undefined && context.length > 0) throw new UsageError("--kubeconfig and --context exclude each other: objects come from a live cluster or from files");
  if (kubeconfig !== undefined && clusterMode !== "auto") throw new UsageError(`--kubeconfig and --cluster ${clusterMode} exclude each other`);
  if (clusterMode === "in-cluster" && context.length > 0) throw new UsageError("--cluster in-cluster and --context exclude each other");
  let cluster: ServeConfig["cluster"];
  if (kubeconfig !== undefined) cluster = { kubeconfig };
  else if (clusterMode === "in-cluster" || (clusterMode === "auto" && context.length === 0 && runningInPod(env))) cluster = { inCluster: true };
  const overrides = parseOverrides(flags.many("override"));
  if (overrides.size > 0 && cluster === undefined) {
    throw new UsageError("--override needs a live cluster (--kubeconfig, or in a pod); with --context files, put the fields in the object's file");
  }
  const staleMode = one("stale-cache");
  if (staleMode !== "fail" && staleMode !== "serve") throw new UsageError(`--stale-cache "${staleMode}": expected fail or serve`);
  const config: ServeConfig = {
    port: parsePort(one("port"), "port"),
    address: one("address"),
    tls,
    policies: one("policies") ?? SHIPPED_POLICIES,
    context,
    params,
    logLevel: logLevel as LogLevel,
    metricsPort: parsePort(metricsPort, "metrics-port"),
    clientCa: readClientCa(one("client-ca")),
    maxConnections: positiveInteger(one("max-connections"), "max-connections"),
    tlsHandshakeTimeoutMs: durationFlag("tls-handshake-timeout", one("tls-handshake-timeout")),
    failureRule,
    evalTimeoutMs,
    shutdownDelayMs: durationFlag("shutdown-delay", one("shutdown-delay")),
    shutdownGracePeriodMs: durationFlag("shutdown-grace-period", one("shutdown-grace-period")),
    reloadIntervalMs: durationFlag("reload-interval", one("reload-interval")),
    cluster,
    overrides,
    staleCache: { mode: staleMode, afterMs: durationFlag("stale-cache-after", one("stale-cache-after")) },
    audit: { intervalMs: durationFlag("audit-interval", one("audit-interval")), lease: parseLease(one("audit-lease"), env) },
  };
  if (config.audit.intervalMs > 0 && cluster === undefined) {
    throw new UsageError("--audit-interval needs a live cluster (--kubeconfig, or in a pod): the audit judges the objects in serve's cluster caches and writes PolicyReports there");
  }
  if (config.shutdownDelayMs >= config.shutdownGracePeriodMs) {
    throw new UsageError(`--shutdown-delay (${config.shutdownDelayMs} ms) must be shorter than --shutdown-grace-period (${config.shutdownGracePeriodMs} ms)`);
  }
  return config;
}

/**
 * The context source: a live cluster (informers; --kubeconfig or the pod's ServiceAccount), or the
 * --context files (or none). The live provider's modules (and @kubernetes/client-node) are loaded
 * only when a cluster is used.
 */
async function contextProvider(config: ServeConfig, logger: Logger): Promise<ContextProvider> {
  if (config.cluster) {
    const { loadKubeConfig } = await import("../cluster/live/kube-config.js");
    const { LiveContextProvider } = await import("../cluster/live/live-provider.js");
    let loaded: ReturnType<typeof loadKubeConfig>;
    try {
      loaded = loadKubeConfig(config.cluster);
    } catch (err) {
      throw new UsageError(`${"kubeconfig" in config.cluster ? "--kubeconfig" : "in-cluster config"}: ${(err as Error).message}`);
    }
    return new LiveContextProvider({ kc: loaded.kc, description: loaded.description, logger, staleness: config.staleCache, overrides: config.overrides });
  }
  // Without a cluster the files stand in for it, so what the platform creates at install
  // (<policies>/platform/objects, DVP's generic class) exists there too, as in review and check;
  // a --context file's object of the same name replaces it.
  let platformObjects: string[];
  try {
    platformObjects = loadPlatform(config.policies).objectFiles;
  } catch (err) {
    throw new UsageError(`--policies: ${(err as Error).message}`);
  }
  try {
    return fileContextProvider([...platformObjects, ...config.context]);
  } catch (err) {
    throw new UsageError(`--context: ${(err as Error).message}`);
  }
}

/**
 * `--audit-interval`: every replica campaigns for the audit Lease; the one holding it audits its
 * caches and writes the reports. All of them keep serving admission.
 */
async function startBackgroundAudit(config: ServeConfig, running: RunningServer, context: ContextProvider): Promise<{ stop(): Promise<void> }> {
  const [{ loadKubeConfig }, { LeaderElection }, { BackgroundAudit }, { ReportWriter }] = await Promise.all([
    import("../cluster/live/kube-config.js"),
    import("../cluster/live/lease-election.js"),
    import("../audit/background.js"),
    import("../audit/report-sync.js"),
  ]);
  const { kc } = loadKubeConfig(config.cluster as NonNullable<ServeConfig["cluster"]>);
  const logger = running.logger;
  const election = new LeaderElection({ kc, ...config.audit.lease, identity: `${hostname()}_${randomUUID().slice(0, 8)}`, logger });
  const audit = new BackgroundAudit({
    serving: () => running.policies.current,
    ready: () => context.notReady() === undefined,
    leading: () => election.leading(),
    intervalMs: config.audit.intervalMs,
    evalTimeoutMs: config.evalTimeoutMs,
    reports: new ReportWriter(kc, logger),
    registry: running.metrics.registry,
    logger,
  });
  election.start();
  audit.start();
  logger.info({ intervalMs: config.audit.intervalMs, lease: `${config.audit.lease.namespace}/${config.audit.lease.name}`, identity: election.identity }, "background audit on");
  return {
    async stop() {
      await audit.stop();
      await election.stop();
    },
  };
}

function devBanner(running: RunningServer): string {
  const dev = running.dev;
  if (!dev) return "";
  const samplePath = fileURLToPath(new URL("../../../examples/review-vm-300-cores.json", import.meta.url));
  const rel = relative(process.cwd(), samplePath);
  const sample = rel.startsWith("..") || isAbsolute(rel) ? samplePath : rel;
  return [
    "virtguard: no --tls-cert/--tls-key given: serving with an in-memory development CA (for local use only).",
    `virtguard: its CA certificate is in ${dev.caFile}; the serving certificate covers localhost, 127.0.0.1 and ::1.`,
    "virtguard: try it (a VM with 300 cores is denied):",
    `  curl --cacert ${dev.caFile} -H 'Content-Type: application/json' --data-binary @${sample} https://localhost:${running.port}/validate`,
    `  curl http://localhost:${running.metricsPort}/metrics`,
    "",
  ].join("\n");
}

export const command: Command = {
  summary: "Run the validating admission webhook server (TLS)",
  usage,
  async run(argv) {
    const config = parseServeConfig(argv);
    const logger = createLogger(config.logLevel);
    const context = await contextProvider(config, logger);
    // Loaded here so that --help and flag errors do not pay for express, pino and prom-client.
    const { startServer } = await import("../admission/server.js");
    let running: RunningServer;
    try {
      running = await startServer({
        port: config.port,
        address: config.address,
        tls: config.tls,
        policiesDir: config.policies,
        params: config.params,
        context,
        logger,
        metricsPort: config.metricsPort,
        clientCa: config.clientCa?.pem,
        maxConnections: config.maxConnections,
        tlsHandshakeTimeoutMs: config.tlsHandshakeTimeoutMs,
        failureRule: config.failureRule,
        evalTimeoutMs: config.evalTimeoutMs,
        shutdownDelayMs: config.shutdownDelayMs,
        shutdownGracePeriodMs: config.shutdownGracePeriodMs,
        reloadIntervalMs: config.reloadIntervalMs,
      });
    } catch (err) {
      // Bad policies, parameters, certificates or a busy port: one line, exit 2. Open watches
      // would keep the process alive: stop them first.
      await context.close().catch(() => undefined);
      throw new UsageError(`cannot start: ${(err as Error).message}`);
    }
    process.stderr.write(devBanner(running));
    const audit = config.audit.intervalMs > 0 ? await startBackgroundAudit(config, running, context) : undefined;

    return new Promise<number>((resolve) => {
      let signalled = false;
      const onSignal = (signal: NodeJS.Signals): void => {
        if (signalled) {
          logger.warn({ signal }, "second signal: exiting now");
          logger.flush();
          process.exit(1);
        }
        signalled = true;
        logger.info({ signal }, "signal received");
        // Whatever holds the event loop open, the process is gone by the end of the grace period.
        setTimeout(() => {
          logger.error("grace period exceeded; exiting");
          logger.flush();
          process.exit(0);
        }, config.shutdownGracePeriodMs + 1000).unref();
        // The audit stops first: its lease is released at once, so another replica takes over.
        (audit?.stop() ?? Promise.resolve())
          .then(() => running.shutdown({ delayMs: signal === "SIGINT" ? 0 : config.shutdownDelayMs }))
          .then(
          () => {
            logger.flush();
            resolve(0);
          },
          (err: unknown) => {
            logger.error({ err: (err as Error).message }, "shutdown failed");
            logger.flush();
            resolve(1);
          },
        );
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    });
  },
};
