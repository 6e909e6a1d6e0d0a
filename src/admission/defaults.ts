/**
 * The server's defaults, shared by `startServer` and `serve`'s flags so that a server started
 * from code behaves like one started from the command line. Kept apart from server.ts so that
 * `serve --help` does not load express.
 */
export const SERVER_DEFAULTS = {
  port: 8443,
  failureRule: "deny",
  /** Evaluation deadline per request. */
  evalTimeoutMs: 2000,
  /** After SIGTERM, keep serving with /readyz failing this long, so endpoints drop the pod first. */
  shutdownDelayMs: 5000,
  /** Everything from the shutdown signal to exit fits in this. */
  shutdownGracePeriodMs: 25_000,
  /** Quiet time after a file event before re-reading. */
  reloadDebounceMs: 250,
  /** Re-check policies and certificates this often without events (0: never). */
  reloadIntervalMs: 10_000,
  /** /metrics (and the probes) over plain HTTP on their own port, never on the webhook's. */
  metricsPort: 9090,
  /**
   * Open connections on the webhook port; past it new ones are closed at once. Each API server
   * keeps a pool of a few dozen; 3 API servers and the kubelet's probes fit many times over.
   */
  maxConnections: 1000,
  /** A connection that has not completed its TLS handshake by then is closed (slowloris, port scans). */
  tlsHandshakeTimeoutMs: 5000,
} as const;
