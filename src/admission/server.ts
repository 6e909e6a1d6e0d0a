import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { JsonValue } from "../engine/index.js";
import { createApp, type Health } from "./app.js";
import { SERVER_DEFAULTS } from "./defaults.js";
import { fileContextProvider, type ContextProvider } from "../cluster/context-provider.js";
import { createLogger, type Logger } from "./logger.js";
import { ServerMetrics } from "./metrics.js";
import { PolicyStore } from "./policy-store.js";
import { CertificateFiles, createDevCertificates, TLS_OPTIONS, type CertPair, type DevCertificates } from "./tls.js";
import { startOpsPort, type OpsPort } from "./ops-port.js";
import { createValidateHandler, MAX_BODY_BYTES, type FailureRule } from "./validate.js";

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

export interface ShutdownResult {
  /** True when every in-flight request finished within the grace period. */
  clean: boolean;
  /** Connections cut when the grace period ran out. */
  forced: number;
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

function listen(server: HttpServer | HttpsServer, port: number, address: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts `virtguard serve`: policies loaded, context activated, TLS listener up. Throws on any startup problem. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger("info");
  const evalTimeoutMs = opts.evalTimeoutMs ?? SERVER_DEFAULTS.evalTimeoutMs;
  const grace = opts.shutdownGracePeriodMs ?? SERVER_DEFAULTS.shutdownGracePeriodMs;
  const debounce = opts.reloadDebounceMs ?? SERVER_DEFAULTS.reloadDebounceMs;
  const interval = opts.reloadIntervalMs ?? SERVER_DEFAULTS.reloadIntervalMs;
  const context = opts.context ?? fileContextProvider([]);
  const metrics = new ServerMetrics({ timeoutSeconds: evalTimeoutMs / 1000, defaultMetrics: opts.defaultMetrics });
  context.registerMetrics?.(metrics.registry);

  const policies = await PolicyStore.open({ dir: opts.policiesDir, params: opts.params ?? {}, context, logger, metrics });

  let shuttingDown = false;
  const health: Health = {
    notReady() {
      const reasons: string[] = [];
      if (shuttingDown) reasons.push("shutting down");
      const ctx = context.notReady();
      if (ctx) reasons.push(`context: ${ctx}`);
      return reasons.length > 0 ? reasons : undefined;
    },
    draining: () => shuttingDown,
  };

  const validate = createValidateHandler({
    policies,
    metrics,
    logger,
    failureRule: opts.failureRule ?? SERVER_DEFAULTS.failureRule,
    evalTimeoutMs,
    maxBodyBytes: opts.maxBodyBytes,
    draining: () => shuttingDown,
  });
  const metricsOnMain = opts.metricsPort === undefined;
  const app = createApp({ health, metrics: metricsOnMain ? metrics.registry : undefined, validate });

  const clientCa = opts.clientCa;
  // The hot path: POST /validate (the API server appends ?timeout=10s) never enters express.
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? "";
    if (clientCa !== undefined && url.startsWith("/validate") && !(req.socket as TLSSocket).authorized) {
      refuseClient(req, res, metrics, logger);
      return;
    }
    if (req.method === "POST" && url.startsWith("/validate") && (url.length === 9 || url.charCodeAt(9) === 63 /* ? */)) {
      validate(req, res);
      return;
    }
    app(req, res);
  };

  let dev: DevCertificates | undefined;
  let certificates: CertificateFiles | undefined;
  let initial: CertPair;
  if ("dev" in opts.tls) {
    dev = createDevCertificates(opts.tls.caFile);
    initial = dev.pair;
    metrics.certReloads.inc();
    metrics.certNotAfter.set(Math.floor(initial.notAfter.getTime() / 1000));
  } else {
    certificates = new CertificateFiles(
      opts.tls.certFile,
      opts.tls.keyFile,
      (pair) => server.setSecureContext({ ...TLS_OPTIONS, ...clientAuth(clientCa), cert: pair.cert, key: pair.key }),
      logger,
      metrics,
    );
    initial = certificates.pair;
  }

  const server: HttpsServer = createHttpsServer(
    {
      ...TLS_OPTIONS,
      ...clientAuth(clientCa),
      cert: initial.cert,
      key: initial.key,
      handshakeTimeout: opts.tlsHandshakeTimeoutMs ?? SERVER_DEFAULTS.tlsHandshakeTimeoutMs,
      // Slow or stalled clients cannot hold a request open for long…
      requestTimeout: 30_000,
      headersTimeout: 10_000,
      // …while idle keep-alive connections outlive the Go client's 90 s idle timeout, so that it
      // is the client, not the server, that closes them (no race on a connection being reused).
      keepAliveTimeout: 120_000,
    },
    onRequest,
  );
  server.maxConnections = opts.maxConnections ?? SERVER_DEFAULTS.maxConnections;
  server.on("drop", () => metrics.droppedConnections.inc());
  server.on("tlsClientError", (err) => logger.debug({ err: err.message }, "TLS handshake failed"));
  // "Expect: 100-continue": only invite a body the server would accept (the 413 is sent instead).
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (Number(req.headers["content-length"] ?? 0) <= (opts.maxBodyBytes ?? MAX_BODY_BYTES)) res.writeContinue();
    onRequest(req, res);
  });

  let opsPort: OpsPort | undefined;
  const port = await listen(server, opts.port, opts.address);
  try {
    if (!metricsOnMain) {
      // Longer than any one evaluation may hold the loop, with room for a GC pause.
      const stallLimitMs = evalTimeoutMs + 3000;
      opsPort = await startOpsPort({ port: opts.metricsPort ?? 0, address: opts.address, health, registry: metrics.registry, stallLimitMs });
    }
  } catch (err) {
    server.close();
    throw err;
  }
  const metricsPort = opsPort?.port;

  certificates?.watch(debounce, interval);
  policies.watch(debounce, interval);
  metrics.readyProbe = () => health.notReady() === undefined;

  const serving = policies.current;
  logger.info(
    {
      port,
      address: opts.address ?? "(all)",
      metrics: metricsOnMain ? `https://:${port}/metrics` : `http://:${metricsPort}/metrics`,
      metricsPort,
      clientCa: opts.clientCa !== undefined,
      maxConnections: server.maxConnections,
      tls: dev ? { mode: "dev", caFile: dev.caFile } : { mode: "files", cert: certificates?.certFile, key: certificates?.keyFile },
      policiesDir: opts.policiesDir,
      policies: serving.set.policies.map((p) => p.name),
      hash: serving.hash,
      generation: serving.generation,
      context: context.description,
      failureRule: opts.failureRule ?? SERVER_DEFAULTS.failureRule,
      evalTimeoutMs,
    },
    "listening",
  );

  let shutdownPromise: Promise<ShutdownResult> | undefined;
  const httpsServer = server;
  async function doShutdown(delayMs: number): Promise<ShutdownResult> {
    const started = Date.now();
    shuttingDown = true;
    logger.info({ delayMs, gracePeriodMs: grace }, "shutting down: /readyz fails from now on");
    if (delayMs > 0) await sleep(Math.min(delayMs, grace));
    policies.close();
    certificates?.close();
    // Stop listening and close idle keep-alive connections; busy ones close after their response
    // (every response now carries Connection: close).
    const closed = new Promise<void>((resolve) => httpsServer.close(() => resolve()));
    httpsServer.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const left = Math.max(0, grace - (Date.now() - started) - 250);
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), left)));
    const clean = await Promise.race([closed.then(() => true as const), timedOut]);
    clearTimeout(timer);
    let forced = 0;
    if (!clean) {
      forced = await new Promise<number>((resolve) => httpsServer.getConnections((_e, n) => resolve(n)));
      logger.error({ connections: forced }, "grace period over: closing the connections still open");
      httpsServer.closeAllConnections();
    }
    await opsPort?.close();
    await context.close();
    logger.info({ clean, forced, tookMs: Date.now() - started }, "shut down");
    return { clean, forced };
  }

  return {
    port,
    metricsPort,
    server: httpsServer,
    metrics,
    policies,
    logger,
    dev,
    certificate: () => certificates?.pair ?? initial,
    checkCertificates: () => certificates?.check() ?? "dev",
    ready: () => health.notReady() === undefined,
    shutdown(o = {}) {
      shutdownPromise ??= doShutdown(o.delayMs ?? opts.shutdownDelayMs ?? SERVER_DEFAULTS.shutdownDelayMs);
      return shutdownPromise;
    },
  };
}

/**
 * With a client CA the handshake asks every client for a certificate but admits those without
 * one (or with a bad one): the kubelet's probes present none, and a rejected client should get a
 * readable 401 rather than a TLS alert. /validate then checks `authorized`.
 */
function clientAuth(ca: string | undefined): { ca?: string; requestCert?: boolean; rejectUnauthorized?: boolean } {
  return ca === undefined ? {} : { ca, requestCert: true, rejectUnauthorized: false };
}

function refuseClient(req: IncomingMessage, res: ServerResponse, metrics: ServerMetrics, logger: Logger): void {
  const socket = req.socket as TLSSocket;
  const why = socket.authorizationError ? String(socket.authorizationError) : "no client certificate";
  metrics.badRequests.inc({ code: "401" });
  logger.warn({ remote: socket.remoteAddress, reason: why }, "/validate refused: the client certificate is not signed by --client-ca");
  const body = JSON.stringify({ error: `a client certificate signed by the configured client CA is required (${why})`, code: 401 });
  // The body is not read: the connection is closed after the answer.
  res.writeHead(401, { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" });
  res.end(body);
}
