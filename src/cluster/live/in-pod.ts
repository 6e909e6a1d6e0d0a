import { existsSync } from "node:fs";

// Kept apart from kube-config.ts: serve asks this for every start, and must not load
// @kubernetes/client-node (a second of start-up and tens of MB) unless a cluster is used.

/** How serve reaches the API server. */
export type ClusterSource = { kubeconfig: string } | { inCluster: true };

/** The ServiceAccount token a pod gets mounted; its presence (with KUBERNETES_SERVICE_HOST) means "in a pod". */
export const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export function runningInPod(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env["KUBERNETES_SERVICE_HOST"] ?? "") !== "" && existsSync(SERVICE_ACCOUNT_TOKEN);
}
