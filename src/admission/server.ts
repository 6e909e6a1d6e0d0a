import type { Server as HttpsServer } from "node:https";
import type { JsonValue } from "../engine/index.js";
import { createApp, type Health } from "./app.js";
import { SERVER_DEFAULTS } from "./defaults.js";
import { fileContextProvider, type ContextProvider } from "../cluster/context-provider.js";
import { createLogger, type Logger } from "./logger.js";
import { ServerMetrics } from "./metrics.js";
import { PolicyStore } from "./policy-store.js";
import { CertificateFiles, createDevCertificates, type CertPair, type DevCertificates } from "./tls.js";
import { startOpsPort, type OpsPort } from "./ops-port.js";
import { shutDown, type ShutdownResult } from "./shutdown.js";
import { createValidateHandler, MAX_BODY_BYTES, type FailureRule } from "./validate.js";
import { createWebhookListener, listen, routeRequests, secureContextOptions } from "./webhook-listener.js";

export type { ShutdownResult } from "./shutdown.js";

export type TlsSource = { certFile: string; keyFile: string } | { dev: true; caFile?: string };

export interface ServerOptions {
  /** 0 picks a free port (tests); RunningServer.port says which. */
  port: number;
  /** Interface to bind; default all (IPv6 and IPv4). */
  address?: string;
  tls: TlsSource;
  policiesDir: string;
  params?: Readonly<Record<string, JsonValue>>;
  /** Default: no cluster objects. */
  context?: ContextProvider;
  logger?: Logger;
  /** Serve /metrics (and the probes) over plain HTTP on this port instead of the main port. */
  metricsPort?: number;
  failureRule?: FailureRule;
  /** Evaluation budget per request; default SERVER_DEFAULTS (2 s). */
  evalTimeoutMs?: number;
  /** After SIGTERM, keep serving (with /readyz failing) this long before closing the listener; default SERVER_DEFAULTS (5 s), as `serve`. */
  shutdownDelayMs?: number;
  /** Everything from the shutdown signal to exit fits in this; default SERVER_DEFAULTS (25 s). */
  shutdownGracePeriodMs?: number;
  /** Quiet time after a file event before re-reading; default SERVER_DEFAULTS (250 ms). */
  reloadDebounceMs?: number;
  /** Re-check policies and certificates this often even without events (0: never); default SERVER_DEFAULTS (10 s). */
  reloadIntervalMs?: number;
  maxBodyBytes?: number;
  /**
   * PEM bundle of the CA(s) that sign the API server's client certificate. When set, POST /validate
   * answers only clients presenting a certificate it signed (401 otherwise); /healthz and /readyz
   * stay open for the kubelet, which presents none.
   */
  clientCa?: string;
  /** Open connections on the webhook port (default SERVER_DEFAULTS.maxConnections). */
  maxConnections?: number;
  /** Close connections whose TLS handshake is not done after this long (default 5 s). */
  tlsHandshakeTimeoutMs?: number;
  /** Node.js process metrics (default true; tests with many servers in one process turn them off). */
  defaultMetrics?: boolean;
}

export interface RunningServer {
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly server: HttpsServer;
  readonly metrics: ServerMetrics;
  readonly policies: PolicyStore;
  readonly logger: Logger;
  /** Development mode's CA (no --tls-cert/--tls-key). */
  readonly dev: DevCertificates | undefined;
  /** The pair serving new connections now. */
  certificate(): CertPair;
  /** Re-checks --tls-cert/--tls-key now rather than waiting for the watcher (tests). */
  checkCertificates(): "unchanged" | "reloaded" | "rejected" | "dev";
  ready(): boolean;
  /** Readiness off, wait the delay, stop listening, let in-flight requests finish, close. Idempotent. */
  shutdown(opts?: { delayMs?: number }): Promise<ShutdownResult>;
}

/** ServerOptions with every default filled in (SERVER_DEFAULTS, as `serve`). */
function settingsOf(opts: ServerOptions) {
  return {
    evalTimeoutMs: opts.evalTimeoutMs ?? SERVER_DEFAULTS.evalTimeoutMs,
    graceMs: opts.shutdownGracePeriodMs ?? SERVER_DEFAULTS.shutdownGracePeriodMs,
    shutdownDelayMs: opts.shutdownDelayMs ?? SERVER_DEFAULTS.shutdownDelayMs,
    debounceMs: opts.reloadDebounceMs ?? SERVER_DEFAULTS.reloadDebounceMs,
    intervalMs: opts.reloadIntervalMs ?? SERVER_DEFAULTS.reloadIntervalMs,
    failureRule: opts.failureRule ?? SERVER_DEFAULTS.failureRule,
    maxBodyBytes: opts.maxBodyBytes ?? MAX_BODY_BYTES,
    maxConnections: opts.maxConnections ?? SERVER_DEFAULTS.maxConnections,
    handshakeTimeoutMs: opts.tlsHandshakeTimeoutMs ?? SERVER_DEFAULTS.tlsHandshakeTimeoutMs,
    metricsOnMain: opts.metricsPort === undefined,
  };
}

/** Readiness: not while shutting down, nor while the context's caches are not in sync. */
function healthOf(context: ContextProvider, draining: () => boolean): Health {
  return {
    notReady() {
      const reasons: string[] = [];
      if (draining()) reasons.push("shutting down");
      const ctx = context.notReady();
      if (ctx) reasons.push(`context: ${ctx}`);
      return reasons.length > 0 ? reasons : undefined;
    },
    draining,
  };
}

/** The serving certificate: a development CA's, or --tls-cert/--tls-key, re-read when they change (`apply` sets a new pair). */
function loadCertificates(tls: TlsSource, apply: (pair: CertPair) => void, logger: Logger, metrics: ServerMetrics): { dev?: DevCertificates; files?: CertificateFiles; initial: CertPair } {
  if ("dev" in tls) {
    const dev = createDevCertificates(tls.caFile);
    metrics.certReloads.inc();
    metrics.certNotAfter.set(Math.floor(dev.pair.notAfter.getTime() / 1000));
    return { dev, initial: dev.pair };
  }
  const files = new CertificateFiles(tls.certFile, tls.keyFile, apply, logger, metrics);
  return { files, initial: files.pair };
}

/** /metrics and the probes on their own port, answered by their own thread. */
function startOpsPortFor(opts: ServerOptions, health: Health, metrics: ServerMetrics, evalTimeoutMs: number): Promise<OpsPort> {
  // Longer than any one evaluation may hold the loop, with room for a GC pause.
  const stallLimitMs = evalTimeoutMs + 3000;
  return startOpsPort({ port: opts.metricsPort ?? 0, address: opts.address, health, registry: metrics.registry, stallLimitMs });
}

/**
 * The webhook port opens last, once the probes' thread is up, so that "listening" is logged before the
 * first review can be answered; the probes' port is closed again if the webhook port cannot open.
 */
async function listenAfterOps(server: HttpsServer, opts: ServerOptions, opsPort: OpsPort | undefined): Promise<number> {
  try {
    return await listen(server, opts.port, opts.address);
  } catch (err) {
    await opsPort?.close();
    throw err;
  }
}

/** Starts `virtguard serve`: policies loaded, context activated, TLS listener up. Throws on any startup problem. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const settings = settingsOf(opts);
  const logger = opts.logger ?? createLogger("info");
  const context = opts.context ?? fileContextProvider([]);
  const metrics = new ServerMetrics({ timeoutSeconds: settings.evalTimeoutMs / 1000, defaultMetrics: opts.defaultMetrics });
  context.registerMetrics?.(metrics.registry);
  const policies = await PolicyStore.open({ dir: opts.policiesDir, params: opts.params ?? {}, context, logger, metrics });

  let shuttingDown = false;
  const draining = () => shuttingDown;
  const health = healthOf(context, draining);
  const validate = createValidateHandler({ policies, metrics, logger, failureRule: settings.failureRule, evalTimeoutMs: settings.evalTimeoutMs, maxBodyBytes: opts.maxBodyBytes, draining });
  const app = createApp({ health, metrics: settings.metricsOnMain ? metrics.registry : undefined, validate });
  const onRequest = routeRequests({ validate, app, clientCa: opts.clientCa, metrics, logger });

  // A reloaded pair is applied to the listener created just below.
  const certs = loadCertificates(opts.tls, (pair) => server.setSecureContext(secureContextOptions(pair, opts.clientCa)), logger, metrics);
  const server = createWebhookListener({ ...settings, pair: certs.initial, clientCa: opts.clientCa, onRequest, metrics, logger });
  const opsPort = settings.metricsOnMain ? undefined : await startOpsPortFor(opts, health, metrics, settings.evalTimeoutMs);
  const port = await listenAfterOps(server, opts, opsPort);

  certs.files?.watch(settings.debounceMs, settings.intervalMs);
  policies.watch(settings.debounceMs, settings.intervalMs);
  metrics.readyProbe = () => health.notReady() === undefined;
  logListening(logger, { opts, settings, port, metricsPort: opsPort?.port, server, certs, policies, context });

  let shutdownPromise: Promise<ShutdownResult> | undefined;
  const steps = {
    server,
    logger,
    graceMs: settings.graceMs,
    startDraining: () => (shuttingDown = true),
    stopWatching: () => {
      policies.close();
      certs.files?.close();
    },
    closeRest: async () => {
      await opsPort?.close();
      await context.close();
    },
  };
  return {
    port,
    metricsPort: opsPort?.port,
    server,
    metrics,
    policies,
    logger,
    dev: certs.dev,
    certificate: () => certs.files?.pair ?? certs.initial,
    checkCertificates: () => certs.files?.check() ?? "dev",
    ready: () => health.notReady() === undefined,
    shutdown(o = {}) {
      shutdownPromise ??= shutDown(steps, o.delayMs ?? settings.shutdownDelayMs);
      return shutdownPromise;
    },
  };
}

/** The one line that says what this process serves, and how. */
function logListening(
  logger: Logger,
  s: {
    opts: ServerOptions;
    settings: ReturnType<typeof settingsOf>;
    port: number;
    metricsPort: number | undefined;
    server: HttpsServer;
    certs: ReturnType<typeof loadCertificates>;
    policies: PolicyStore;
    context: ContextProvider;
  },
): void {
  const serving = s.policies.current;
  const { dev, files } = s.certs;
  logger.info(
    {
      port: s.port,
      address: s.opts.address ?? "(all)",
      metrics: s.settings.metricsOnMain ? `https://:${s.port}/metrics` : `http://:${s.metricsPort}/metrics`,
      metricsPort: s.metricsPort,
      clientCa: s.opts.clientCa !== undefined,
      maxConnections: s.server.maxConnections,
      tls: dev ? { mode: "dev", caFile: dev.caFile } : { mode: "files", cert: files?.certFile, key: files?.keyFile },
      policiesDir: s.opts.policiesDir,
      policies: serving.set.policies.map((p) => p.name),
      hash: serving.hash,
      generation: serving.generation,
      context: s.context.description,
      failureRule: s.settings.failureRule,
      evalTimeoutMs: s.settings.evalTimeoutMs,
    },
    "listening",
  );
}
