import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Logger } from "./logger.js";
import type { ServerMetrics } from "./metrics.js";
import { TLS_OPTIONS, type CertPair } from "./tls.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * With a client CA the handshake asks every client for a certificate but admits those without
 * one (or with a bad one): the kubelet's probes present none, and a rejected client should get a
 * readable 401 rather than a TLS alert. /validate then checks `authorized`.
 */
export function clientAuth(ca: string | undefined): { ca?: string; requestCert?: boolean; rejectUnauthorized?: boolean } {
  return ca === undefined ? {} : { ca, requestCert: true, rejectUnauthorized: false };
}

/** The TLS options of the webhook listener for a certificate pair (also what a reload sets). */
export function secureContextOptions(pair: CertPair, clientCa: string | undefined): object {
  return { ...TLS_OPTIONS, ...clientAuth(clientCa), cert: pair.cert, key: pair.key };
}

/**
 * The request listener. The hot path, POST /validate (the API server appends ?timeout=10s),
 * never enters express; with a client CA it answers only clients the CA signed.
 */
export function routeRequests(routes: { validate: Handler; app: Handler; clientCa: string | undefined; metrics: ServerMetrics; logger: Logger }): Handler {
  const { validate, app, clientCa, metrics, logger } = routes;
  return (req, res) => {
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

export interface ListenerOptions {
  pair: CertPair;
  clientCa: string | undefined;
  handshakeTimeoutMs: number;
  maxConnections: number;
  maxBodyBytes: number;
  onRequest: Handler;
  metrics: ServerMetrics;
  logger: Logger;
}

/** The webhook's HTTPS server, not yet listening: TLS, timeouts, the connection cap, Expect: 100-continue. */
export function createWebhookListener(o: ListenerOptions): HttpsServer {
  const server = createHttpsServer(
    {
      ...secureContextOptions(o.pair, o.clientCa),
      handshakeTimeout: o.handshakeTimeoutMs,
      // Slow or stalled clients cannot hold a request open for long…
      requestTimeout: 30_000,
      headersTimeout: 10_000,
      // …while idle keep-alive connections outlive the Go client's 90 s idle timeout, so that it
      // is the client, not the server, that closes them (no race on a connection being reused).
      keepAliveTimeout: 120_000,
    },
    o.onRequest,
  );
  server.maxConnections = o.maxConnections;
  server.on("drop", () => o.metrics.droppedConnections.inc());
  server.on("tlsClientError", (err) => o.logger.debug({ err: err.message }, "TLS handshake failed"));
  // "Expect: 100-continue": only invite a body the server would accept (the 413 is sent instead).
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (Number(req.headers["content-length"] ?? 0) <= o.maxBodyBytes) res.writeContinue();
    o.onRequest(req, res);
  });
  return server;
}

/** Listens, resolving with the port bound (0 picks a free one). */
export function listen(server: HttpServer | HttpsServer, port: number, address: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
