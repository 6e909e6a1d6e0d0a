import type { Server as HttpsServer } from "node:https";
import type { Logger } from "./logger.js";

export interface ShutdownResult {
  /** True when every in-flight request finished within the grace period. */
  clean: boolean;
  /** Connections cut when the grace period ran out. */
  forced: number;
}

export interface ShutdownSteps {
  server: HttpsServer;
  logger: Logger;
  /** Everything from the signal to exit fits in this. */
  graceMs: number;
  /** Readiness off: /readyz fails and responses close their connections from now on. */
  startDraining(): void;
  /** Before the listener closes: stop watching files. */
  stopWatching(): void;
  /** After the listener closed: the ops port, the context's informers. */
  closeRest(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The shutdown sequence: readiness off, wait the delay (load balancers and the API server stop
 * sending), stop listening, let in-flight requests finish within the grace period, cut what is
 * left, close the rest.
 */
export async function shutDown(steps: ShutdownSteps, delayMs: number): Promise<ShutdownResult> {
  const { server, logger, graceMs } = steps;
  const started = Date.now();
  steps.startDraining();
  logger.info({ delayMs, gracePeriodMs: graceMs }, "shutting down: /readyz fails from now on");
  if (delayMs > 0) await sleep(Math.min(delayMs, graceMs));
  steps.stopWatching();
  const clean = await closeWithin(server, Math.max(0, graceMs - (Date.now() - started) - 250));
  let forced = 0;
  if (!clean) {
    forced = await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
    logger.error({ connections: forced }, "grace period over: closing the connections still open");
    server.closeAllConnections();
  }
  await steps.closeRest();
  logger.info({ clean, forced, tookMs: Date.now() - started }, "shut down");
  return { clean, forced };
}

/**
 * Stops listening and closes idle keep-alive connections; busy ones close after their response
 * (every response now carries Connection: close). True when all closed within `ms`.
 */
async function closeWithin(server: HttpsServer, ms: number): Promise<boolean> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const clean = await Promise.race([closed.then(() => true as const), timedOut]);
  clearTimeout(timer);
  return clean;
}
