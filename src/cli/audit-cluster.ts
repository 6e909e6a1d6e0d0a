import { homedir } from "node:os";
import { join } from "node:path";
import { runningInPod, type ClusterSource } from "../cluster/live/in-pod.js";

/**
 * Which cluster `audit --cluster` reads, as kubectl would pick it: --kubeconfig, else the first
 * file of $KUBECONFIG, else the pod's ServiceAccount when running in one, else ~/.kube/config.
 */
export function clusterSource(kubeconfig: string | undefined, env: NodeJS.ProcessEnv = process.env): ClusterSource {
  if (kubeconfig) return { kubeconfig };
  const fromEnv = (env["KUBECONFIG"] ?? "").split(":").find((p) => p !== "");
  if (fromEnv) return { kubeconfig: fromEnv };
  if (runningInPod(env)) return { inCluster: true };
  return { kubeconfig: join(homedir(), ".kube", "config") };
}
