import { SERVER_DEFAULTS } from "../admission/defaults.js";
import { DEFAULT_DEV_CA_FILE } from "../admission/tls.js";
import { formatDuration } from "./duration.js";
import type { FlagSpec } from "./flag-table.js";

/**
 * Every flag of `virtguard serve`, in --help order. parseArgs' options, the help text and the
 * VIRTGUARD_* environment variables are all generated from this table: a new flag is one row
 * here and its reading in parseServeConfig.
 */
export const SERVE_FLAGS = {
  port: { value: "N", help: "HTTPS port; 0 picks a free one", default: String(SERVER_DEFAULTS.port) },
  address: { value: "ADDR", help: "interface to bind (default all)" },
  "tls-cert": { value: "FILE", help: "serving certificate (PEM); with --tls-key" },
  "tls-key": { value: "FILE", help: "its private key (PEM)" },
  "dev-ca-file": {
    value: "FILE",
    help: "without --tls-cert and --tls-key: an in-memory development CA and a certificate for localhost, 127.0.0.1 and ::1; the CA certificate is written to this file",
    default: DEFAULT_DEV_CA_FILE,
  },
  policies: { value: "DIR", help: "policy directory, watched", defaultText: "the shipped policies" },
  context: { value: "FILE", help: "cluster objects policies look up, besides those the platform creates (policies/platform/objects); repeatable", repeat: { separator: "," } },
  param: { value: "NAME=VALUE", help: "policy parameter (JSON or string); repeatable", repeat: { separator: "\n" } },
  kubeconfig: { value: "FILE", help: "look cluster objects up live from this cluster (informers on every kind the policies look up) instead of --context" },
  cluster: {
    value: "MODE",
    help: "auto: the pod's ServiceAccount when running in a pod (KUBERNETES_SERVICE_HOST and a mounted token) and neither --kubeconfig nor --context is given; in-cluster: always the pod's ServiceAccount; off: never a live cluster",
    default: "auto",
  },
  override: {
    value: "KIND=JSON",
    help: 'top-level fields set over the object of a kind the policies read from a Secret (live cluster only), e.g. deckhouse.io/ClusterConfiguration={"podSubnetCIDR":"10.111.0.0/16"}; repeatable',
    repeat: { separator: "\n" },
  },
  "stale-cache": {
    value: "fail|serve",
    help: "lookups of a kind out of sync with the API server for longer than --stale-cache-after: fail (the policy reports it under its failurePolicy) or serve the stale cache with a logged warning",
    default: "fail",
  },
  "stale-cache-after": { value: "DUR", help: "how long a kind may be out of sync before --stale-cache applies", default: "2m" },
  "audit-interval": {
    value: "DUR",
    help: "background audit: this often, the replica holding the audit lease judges every object in its cluster caches and writes PolicyReports (wgpolicyk8s.io/v1alpha2) per namespace and virtguard_policy_violations; needs a live cluster; 0 disables",
    default: "0",
  },
  "audit-lease": {
    value: "NAMESPACE/NAME",
    help: "the coordination.k8s.io Lease the replicas elect the audit's writer on",
    defaultText: "the pod's namespace (else default)/virtguard-audit",
  },
  "log-level": { value: "LEVEL", help: "trace|debug|info|warn|error|fatal|silent; debug logs one line per request, info one per denial, warning, audit", default: "info" },
  "metrics-port": { value: "N", help: "serve /metrics (and /healthz, /readyz) over plain HTTP on this port, never on the webhook's; 0 picks a free one", default: String(SERVER_DEFAULTS.metricsPort) },
  "client-ca": {
    value: "FILE",
    help: "PEM CA bundle: POST /validate answers only clients presenting a certificate it signed (the API server, through an AdmissionConfiguration kubeconfig); /healthz and /readyz stay open",
  },
  "max-connections": { value: "N", help: "open connections on the webhook port; new ones past it are closed", default: String(SERVER_DEFAULTS.maxConnections) },
  "tls-handshake-timeout": { value: "DUR", help: "close a connection that has not completed its TLS handshake by then", default: formatDuration(SERVER_DEFAULTS.tlsHandshakeTimeoutMs) },
  "failure-rule": { value: "deny|allow", help: "answer to an internal evaluation error: deny with the error (fail closed) or allow with a warning", default: SERVER_DEFAULTS.failureRule },
  "eval-timeout": { value: "DUR", help: "evaluation deadline per request", default: formatDuration(SERVER_DEFAULTS.evalTimeoutMs) },
  "shutdown-delay": { value: "DUR", help: "after SIGTERM, keep serving with /readyz failing this long, so endpoints drop the pod first", default: formatDuration(SERVER_DEFAULTS.shutdownDelayMs) },
  "shutdown-grace-period": { value: "DUR", help: "everything from SIGTERM to exit", default: formatDuration(SERVER_DEFAULTS.shutdownGracePeriodMs) },
  "reload-interval": { value: "DUR", help: "re-check policies and certs without a file event this often; 0 disables", default: formatDuration(SERVER_DEFAULTS.reloadIntervalMs) },
} as const satisfies Record<string, FlagSpec>;

export type ServeFlag = keyof typeof SERVE_FLAGS;
