import { isIP } from "node:net";
import { isAbsolute, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fileContextProvider, type ContextProvider } from "../cluster/context-provider.js";
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from "../admission/logger.js";
import type { RunningServer, TlsSource } from "../admission/server.js";
import { DEFAULT_DEV_CA_FILE } from "../admission/tls.js";
import { parseParameterFlag, type JsonObject, type JsonValue, type KindKey } from "../engine/index.js";
import { runningInPod } from "../cluster/live/in-pod.js";
import { SHIPPED_POLICIES } from "../policy-files/policy-dir.js";
import { UsageError, type Command } from "./command.js";

const usage = `Usage: virtguard serve [flags]

Runs the validating admission webhook: POST /validate over HTTPS (AdmissionReview v1, every kind on
one path), GET /healthz, GET /readyz and GET /metrics. Policies and certificate files are reloaded
when they change on disk. SIGTERM fails /readyz, waits --shutdown-delay, stops accepting connections,
finishes the requests in flight and exits 0 within --shutdown-grace-period; SIGINT (Ctrl-C) skips
the delay.

Every flag has an environment variable; a flag given on the command line wins.

Flags:
  --port N                    HTTPS port (default 8443; 0 picks a free one)          VIRTGUARD_PORT
  --address ADDR              interface to bind (default all)                          VIRTGUARD_ADDRESS
  --tls-cert FILE             serving certificate (PEM); with --tls-key                VIRTGUARD_TLS_CERT
  --tls-key FILE              its private key (PEM)                                    VIRTGUARD_TLS_KEY
                              Without both: an in-memory development CA and a certificate for
                              localhost, 127.0.0.1 and ::1; the CA certificate is written to
  --dev-ca-file FILE          (default ${DEFAULT_DEV_CA_FILE})            VIRTGUARD_DEV_CA_FILE
  --policies DIR              policy directory, watched (default: the shipped policies) VIRTGUARD_POLICIES
  --context FILE              cluster objects policies look up; repeatable              VIRTGUARD_CONTEXT (comma-separated)
  --param NAME=VALUE          policy parameter (JSON or string); repeatable             VIRTGUARD_PARAM (one per line)
  --kubeconfig FILE           look cluster objects up live from this cluster (informers VIRTGUARD_KUBECONFIG
                              on every kind the policies look up) instead of --context
  --cluster MODE              auto (default): the pod's ServiceAccount when running in   VIRTGUARD_CLUSTER
                              a pod (KUBERNETES_SERVICE_HOST and a mounted token) and
                              neither --kubeconfig nor --context is given; in-cluster:
                              always the pod's ServiceAccount; off: never a live cluster
  --pod-subnet-cidr CIDR      the cluster's pod subnet, over the ClusterConfiguration   VIRTGUARD_POD_SUBNET_CIDR
  --service-subnet-cidr CIDR  the service subnet, likewise (live cluster only)           VIRTGUARD_SERVICE_SUBNET_CIDR
  --stale-cache fail|serve    lookups of a kind out of sync with the API server for     VIRTGUARD_STALE_CACHE
                              longer than --stale-cache-after: fail (the policy reports
                              it under its failurePolicy; default) or serve the stale
                              cache with a logged warning
  --stale-cache-after DUR     (default 2m)                                              VIRTGUARD_STALE_CACHE_AFTER
  --log-level LEVEL           trace|debug|info|warn|error|fatal|silent (default info)  VIRTGUARD_LOG_LEVEL
                              debug logs one line per request; info one per denial, warning, audit
  --metrics-port N            serve /metrics, /healthz, /readyz over plain HTTP on this  VIRTGUARD_METRICS_PORT
                              port instead of the main one
  --failure-rule deny|allow   answer to an internal evaluation error: deny with the     VIRTGUARD_FAILURE_RULE
                              error (fail closed, default) or allow with a warning
  --eval-timeout DUR          evaluation deadline per request (default 2s)             VIRTGUARD_EVAL_TIMEOUT
  --shutdown-delay DUR        after SIGTERM, keep serving with /readyz failing this     VIRTGUARD_SHUTDOWN_DELAY
                              long, so endpoints drop the pod first (default 5s)
  --shutdown-grace-period DUR everything from SIGTERM to exit (default 25s)            VIRTGUARD_SHUTDOWN_GRACE_PERIOD
  --reload-interval DUR       re-check policies and certs without a file event this     VIRTGUARD_RELOAD_INTERVAL
                              often; 0 disables (default 10s)

Durations: 500ms, 2s, 1m, 1m30s, or 0.

Examples:
  virtguard serve
  curl --cacert ${DEFAULT_DEV_CA_FILE} -H 'Content-Type: application/json' \\
    --data-binary @examples/review-vm-300-cores.json https://localhost:8443/validate
  virtguard serve --tls-cert /tls/tls.crt --tls-key /tls/tls.key --policies /policies \\
    --metrics-port 9090 --param edition=EE
`;

const flags = {
  port: { type: "string" },
  address: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "dev-ca-file": { type: "string" },
  policies: { type: "string" },
  context: { type: "string", multiple: true },
  param: { type: "string", multiple: true },
  "log-level": { type: "string" },
  "metrics-port": { type: "string" },
  "failure-rule": { type: "string" },
  "eval-timeout": { type: "string" },
  "shutdown-delay": { type: "string" },
  "shutdown-grace-period": { type: "string" },
  "reload-interval": { type: "string" },
  kubeconfig: { type: "string" },
  cluster: { type: "string" },
  "pod-subnet-cidr": { type: "string" },
  "service-subnet-cidr": { type: "string" },
  "stale-cache": { type: "string" },
  "stale-cache-after": { type: "string" },
} as const;

type FlagName = keyof typeof flags;

/** "2s", "500ms", "1m30s", "0" → milliseconds. */
export function parseDurationMs(text: string, flag: string): number {
  const t = text.trim();
  if (t === "0") return 0;
  if (!/^(\d+(\.\d+)?(ms|h|m|s))+$/.test(t)) throw new UsageError(`--${flag} "${text}": expected a duration such as 500ms, 2s, 1m30s or 0`);
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) total += Number(m[1]) * (unit[m[2] as string] ?? 0);
  return Math.round(total);
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
  metricsPort: number | undefined;
  failureRule: "deny" | "allow";
  evalTimeoutMs: number;
  shutdownDelayMs: number;
  shutdownGracePeriodMs: number;
  reloadIntervalMs: number;
  /** A live cluster to look objects up in, or undefined for --context files. */
  cluster: { kubeconfig: string } | { inCluster: true } | undefined;
  /** ClusterConfiguration fields set by --pod-subnet-cidr/--service-subnet-cidr. */
  subnetOverrides: JsonObject;
  staleCache: { mode: "fail" | "serve"; afterMs: number };
}

/**
 * The kind the subnet flags override: Deckhouse's ClusterConfiguration, which the policies read
 * from the Secret kube-system/d8-cluster-configuration (a fromSecret target).
 */
export const SUBNET_OVERRIDE_KIND: KindKey = "deckhouse.io/ClusterConfiguration";

function isCidr(text: string): boolean {
  const [addr, prefix, ...rest] = text.split("/");
  if (rest.length > 0 || addr === undefined || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  const family = isIP(addr);
  return family !== 0 && Number(prefix) <= (family === 4 ? 32 : 128);
}

const ENV: Record<FlagName, string> = {
  port: "VIRTGUARD_PORT",
  address: "VIRTGUARD_ADDRESS",
  "tls-cert": "VIRTGUARD_TLS_CERT",
  "tls-key": "VIRTGUARD_TLS_KEY",
  "dev-ca-file": "VIRTGUARD_DEV_CA_FILE",
  policies: "VIRTGUARD_POLICIES",
  context: "VIRTGUARD_CONTEXT",
  param: "VIRTGUARD_PARAM",
  "log-level": "VIRTGUARD_LOG_LEVEL",
  "metrics-port": "VIRTGUARD_METRICS_PORT",
  "failure-rule": "VIRTGUARD_FAILURE_RULE",
  "eval-timeout": "VIRTGUARD_EVAL_TIMEOUT",
  "shutdown-delay": "VIRTGUARD_SHUTDOWN_DELAY",
  "shutdown-grace-period": "VIRTGUARD_SHUTDOWN_GRACE_PERIOD",
  "reload-interval": "VIRTGUARD_RELOAD_INTERVAL",
  kubeconfig: "VIRTGUARD_KUBECONFIG",
  cluster: "VIRTGUARD_CLUSTER",
  "pod-subnet-cidr": "VIRTGUARD_POD_SUBNET_CIDR",
  "service-subnet-cidr": "VIRTGUARD_SERVICE_SUBNET_CIDR",
  "stale-cache": "VIRTGUARD_STALE_CACHE",
  "stale-cache-after": "VIRTGUARD_STALE_CACHE_AFTER",
};

/** Flags over environment over defaults; every problem is a UsageError naming the flag. */
export function parseServeConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeConfig {
  let values: Partial<Record<FlagName, string | string[]>>;
  try {
    const parsed = parseArgs({ args: argv, options: flags, allowPositionals: false, strict: true });
    values = parsed.values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}; see 'virtguard serve --help'`);
  }
  const one = (name: FlagName): string | undefined => {
    const v = values[name];
    if (typeof v === "string") return v;
    const e = env[ENV[name]];
    return e === undefined || e === "" ? undefined : e;
  };
  const many = (name: FlagName, separator: RegExp): string[] => {
    const v = values[name];
    if (Array.isArray(v)) return v;
    const e = env[ENV[name]];
    return e === undefined ? [] : e.split(separator).map((s) => s.trim()).filter((s) => s !== "");
  };

  const cert = one("tls-cert");
  const key = one("tls-key");
  if ((cert === undefined) !== (key === undefined)) throw new UsageError("--tls-cert and --tls-key go together: give both, or neither for a development certificate");
  const tls: TlsSource = cert !== undefined && key !== undefined ? { certFile: cert, keyFile: key } : { dev: true, caFile: one("dev-ca-file") ?? DEFAULT_DEV_CA_FILE };

  const logLevel = one("log-level") ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new UsageError(`--log-level "${logLevel}": expected one of ${LOG_LEVELS.join(", ")}`);
  const failureRule = one("failure-rule") ?? "deny";
  if (failureRule !== "deny" && failureRule !== "allow") throw new UsageError(`--failure-rule "${failureRule}": expected deny or allow`);

  const params: Record<string, JsonValue> = {};
  for (const p of many("param", /\n/)) {
    try {
      const [name, value] = parseParameterFlag(p);
      params[name] = value;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const metricsPort = one("metrics-port");
  const evalTimeoutMs = parseDurationMs(one("eval-timeout") ?? "2s", "eval-timeout");
  if (evalTimeoutMs <= 0) throw new UsageError("--eval-timeout must be more than 0");
  const context = many("context", /,/);
  const kubeconfig = one("kubeconfig");
  const clusterMode = one("cluster") ?? "auto";
  if (!["auto", "in-cluster", "off"].includes(clusterMode)) throw new UsageError(`--cluster "${clusterMode}": expected auto, in-cluster or off`);
  if (kubeconfig !== undefined && context.length > 0) throw new UsageError("--kubeconfig and --context exclude each other: objects come from a live cluster or from files");
  if (kubeconfig !== undefined && clusterMode !== "auto") throw new UsageError(`--kubeconfig and --cluster ${clusterMode} exclude each other`);
  if (clusterMode === "in-cluster" && context.length > 0) throw new UsageError("--cluster in-cluster and --context exclude each other");
  let cluster: ServeConfig["cluster"];
  if (kubeconfig !== undefined) cluster = { kubeconfig };
  else if (clusterMode === "in-cluster" || (clusterMode === "auto" && context.length === 0 && runningInPod(env))) cluster = { inCluster: true };
  const subnetOverrides: JsonObject = {};
  for (const [flag, field] of [["pod-subnet-cidr", "podSubnetCIDR"], ["service-subnet-cidr", "serviceSubnetCIDR"]] as const) {
    const v = one(flag);
    if (v === undefined) continue;
    if (!isCidr(v)) throw new UsageError(`--${flag} "${v}": expected a CIDR such as 10.111.0.0/16`);
    if (cluster === undefined) throw new UsageError(`--${flag} needs a live cluster (--kubeconfig, or in a pod); with --context files, put ${field} in the ClusterConfiguration file`);
    subnetOverrides[field] = v;
  }
  const staleMode = one("stale-cache") ?? "fail";
  if (staleMode !== "fail" && staleMode !== "serve") throw new UsageError(`--stale-cache "${staleMode}": expected fail or serve`);
  const config: ServeConfig = {
    port: parsePort(one("port") ?? "8443", "port"),
    address: one("address"),
    tls,
    policies: one("policies") ?? SHIPPED_POLICIES,
    context,
    params,
    logLevel: logLevel as LogLevel,
    metricsPort: metricsPort === undefined ? undefined : parsePort(metricsPort, "metrics-port"),
    failureRule,
    evalTimeoutMs,
    shutdownDelayMs: parseDurationMs(one("shutdown-delay") ?? "5s", "shutdown-delay"),
    shutdownGracePeriodMs: parseDurationMs(one("shutdown-grace-period") ?? "25s", "shutdown-grace-period"),
    reloadIntervalMs: parseDurationMs(one("reload-interval") ?? "10s", "reload-interval"),
    cluster,
    subnetOverrides,
    staleCache: { mode: staleMode, afterMs: parseDurationMs(one("stale-cache-after") ?? "2m", "stale-cache-after") },
  };
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
    const overrides = new Map<KindKey, JsonObject>();
    if (Object.keys(config.subnetOverrides).length > 0) overrides.set(SUBNET_OVERRIDE_KIND, config.subnetOverrides);
    return new LiveContextProvider({ kc: loaded.kc, description: loaded.description, logger, staleness: config.staleCache, overrides });
  }
  try {
    return fileContextProvider(config.context);
  } catch (err) {
    throw new UsageError(`--context: ${(err as Error).message}`);
  }
}

function devBanner(running: RunningServer, config: ServeConfig): string {
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
    config.metricsPort === undefined ? `  curl --cacert ${dev.caFile} https://localhost:${running.port}/readyz` : `  curl http://localhost:${running.metricsPort}/readyz`,
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
    process.stderr.write(devBanner(running, config));

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
        running.shutdown({ delayMs: signal === "SIGINT" ? 0 : config.shutdownDelayMs }).then(
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
