import { KubeConfig } from "@kubernetes/client-node";
import type { ClusterSource } from "./in-pod.js";

/**
 * A KubeConfig for the source: a kubeconfig file (its current context), or the pod's
 * ServiceAccount (token file re-read as the kubelet rotates it, CA, KUBERNETES_SERVICE_HOST/PORT).
 * Throws with a one-line reason when the file is unusable.
 */
export function loadKubeConfig(source: ClusterSource): { kc: KubeConfig; description: string } {
  const kc = new KubeConfig();
  if ("inCluster" in source) {
    kc.loadFromCluster();
    const cluster = kc.getCurrentCluster();
    return { kc, description: `cluster (in-cluster config, ${cluster?.server ?? "?"})` };
  }
  try {
    kc.loadFromFile(source.kubeconfig);
  } catch (err) {
    throw new Error(`${source.kubeconfig}: ${(err as Error).message.split("\n")[0]}`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${source.kubeconfig}: no current context with a cluster`);
  return { kc, description: `cluster (kubeconfig ${source.kubeconfig}, context ${kc.getCurrentContext()}, ${cluster.server})` };
}
