/**
 * The plain-HTTP operations port (--metrics-port), served from its own thread.
 *
 * Evaluation is synchronous: a review that runs to its --eval-timeout holds the main thread for
 * that long, and a probe waiting behind it would time out and restart a healthy replica. Here the
 * probes are answered by a worker thread from what the main thread last published: a heartbeat
 * it writes every 100 ms into shared memory, and its readiness. /healthz fails only when the
 * heartbeat is older than the stall limit (longer than any single evaluation may take), which
 * is a wedged process, the one thing liveness should restart. /metrics asks the main thread,
 * which answers between requests.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parentPort, workerData } from "node:worker_threads";

export interface OpsThreadData {
  port: number;
  address: string | undefined;
  /** Float64Array over it: [0] the main thread's last heartbeat (Date.now()). */
  heartbeat: SharedArrayBuffer;
  stallLimitMs: number;
}

/** main → thread */
export type OpsInbound = { type: "ready"; reasons: string[] | undefined; draining: boolean } | { type: "metrics"; id: number; text?: string; contentType?: string; error?: string };
/** thread → main */
export type OpsOutbound = { type: "listening"; port: number } | { type: "error"; message: string } | { type: "metrics"; id: number };

const METRICS_TIMEOUT_MS = 10_000;

function run(data: OpsThreadData): void {
  const port = parentPort;
  if (!port) return;
  const beat = new Float64Array(data.heartbeat);
  let readiness: { reasons: string[] | undefined; draining: boolean } = { reasons: ["starting"], draining: false };
  let nextId = 1;
  const pending = new Map<number, (m: Extract<OpsInbound, { type: "metrics" }>) => void>();

  port.on("message", (m: OpsInbound) => {
    if (m.type === "ready") readiness = { reasons: m.reasons, draining: m.draining };
    else pending.get(m.id)?.(m);
  });

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...(readiness.draining ? { connection: "close" } : {}) });
    res.end(text);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0];
    const stalledMs = Date.now() - (beat[0] as number);
    const stalled = stalledMs > data.stallLimitMs;
    if (req.method !== "GET" && req.method !== "HEAD") return json(res, 405, { error: "use GET", code: 405 });
    if (path === "/healthz") {
      return stalled ? json(res, 503, { status: "stalled", reason: `the event loop has not run for ${stalledMs} ms` }) : json(res, 200, { status: "ok" });
    }
    if (path === "/readyz") {
      const reasons = [...(readiness.reasons ?? []), ...(stalled ? [`the event loop has not run for ${stalledMs} ms`] : [])];
      return reasons.length > 0 ? json(res, 503, { status: "not ready", reasons }) : json(res, 200, { status: "ready" });
    }
    if (path === "/metrics") {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        json(res, 503, { error: "metrics not collected in time: the main thread is busy", code: 503 });
      }, METRICS_TIMEOUT_MS);
      pending.set(id, (m) => {
        clearTimeout(timer);
        pending.delete(id);
        if (m.error !== undefined || m.text === undefined) return json(res, 500, { error: m.error ?? "no metrics", code: 500 });
        res.writeHead(200, { "content-type": m.contentType ?? "text/plain", "content-length": Buffer.byteLength(m.text) });
        res.end(m.text);
      });
      port.postMessage({ type: "metrics", id } satisfies OpsOutbound);
      return;
    }
    json(res, 404, { error: `no route for ${req.method} ${path}`, code: 404 });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.on("error", (err) => port.postMessage({ type: "error", message: err.message } satisfies OpsOutbound));
  server.listen(data.port, data.address, () => port.postMessage({ type: "listening", port: (server.address() as AddressInfo).port } satisfies OpsOutbound));
}

if (parentPort && workerData) run(workerData as OpsThreadData);
