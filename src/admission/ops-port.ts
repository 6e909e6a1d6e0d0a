import { Worker } from "node:worker_threads";
import type { Registry } from "prom-client";
import type { Health } from "./app.js";
import type { OpsInbound, OpsOutbound, OpsThreadData } from "./ops-thread.js";

export interface OpsPort {
  readonly port: number;
  close(): Promise<void>;
}

const HEARTBEAT_MS = 100;

/**
 * Starts the operations port's thread (see ops-thread.ts) and feeds it: the heartbeat, readiness
 * when it changes, and /metrics on request. Resolves once it listens; rejects if it cannot.
 */
export function startOpsPort(opts: { port: number; address: string | undefined; health: Health; registry: Registry; stallLimitMs: number }): Promise<OpsPort> {
  const heartbeat = new SharedArrayBuffer(8);
  const beat = new Float64Array(heartbeat);
  beat[0] = Date.now();
  const data: OpsThreadData = { port: opts.port, address: opts.address, heartbeat, stallLimitMs: opts.stallLimitMs };
  const worker = new Worker(new URL("./ops-thread.js", import.meta.url), { workerData: data });
  let last = "";
  const publish = (): void => {
    beat[0] = Date.now();
    const reasons = opts.health.notReady();
    const message: OpsInbound = { type: "ready", reasons, draining: opts.health.draining() };
    const key = JSON.stringify(message);
    if (key !== last) {
      last = key;
      worker.postMessage(message);
    }
  };
  publish();
  const timer = setInterval(publish, HEARTBEAT_MS);
  timer.unref();
  worker.unref();
  return new Promise((resolve, reject) => {
    worker.on("message", (m: OpsOutbound) => {
      if (m.type === "listening") {
        resolve({
          port: m.port,
          async close() {
            clearInterval(timer);
            await worker.terminate();
          },
        });
      } else if (m.type === "error") {
        clearInterval(timer);
        void worker.terminate();
        reject(new Error(`metrics port ${opts.port}: ${m.message}`));
      } else {
        opts.registry.metrics().then(
          (text) => worker.postMessage({ type: "metrics", id: m.id, text, contentType: opts.registry.contentType } satisfies OpsInbound),
          (err: unknown) => worker.postMessage({ type: "metrics", id: m.id, error: (err as Error).message } satisfies OpsInbound),
        );
      }
    });
    worker.on("error", (err) => {
      clearInterval(timer);
      reject(err);
    });
  });
}
