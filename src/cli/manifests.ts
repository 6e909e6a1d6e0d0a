import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  BASE_NAMESPACE,
  buildManifests,
  caBundleFromFiles,
  defaultImage,
  defaultManifestsDir,
  defaultPoliciesDir,
  FAILURE_POLICIES,
  toYaml,
  webhookResources,
  writePoliciesKustomization,
  type FailurePolicy,
} from "../deploy/manifests.js";
import { parseCommandArgs, UsageError, type Command } from "./command.js";

const usage = `Usage: virtguard manifests [flags]

Prints virtguard's deployment as multi-document YAML, ready for 'kubectl apply -f -':
Namespace, PriorityClass, ServiceAccount and RBAC (read-only, least privilege), the
policies ConfigMap, Service, Deployment (3 replicas), PodDisruptionBudget and, last, the
ValidatingWebhookConfiguration. The TLS Secret is not included: 'virtguard certs --secret'
makes it. The objects come from the kustomize base in manifests/.

Flags:
  --namespace NS        namespace for virtguard (default ${BASE_NAMESPACE}); also set in the
                        webhook's service reference, the RBAC subjects and the webhook's
                        namespaceSelector (which never sends virtguard's namespace or kube-system)
  --ca-bundle FILE      CA certificate(s) the API server trusts for the webhook: PEM, or a
                        base64 caBundle. Repeat it (or put several certificates in one file)
                        to trust an old and a new CA during a rotation. Default: certs/ca.crt
                        when it exists (where 'virtguard certs' writes it); without either,
                        manifests refuses to print a webhook configuration (exit 2), since one
                        the API server cannot call would fail every VM create and update.
  --image IMG           container image; default the public image of this version,
                        ${defaultImage()}. Pass your registry's path when the
                        cluster pulls through a private registry or mirror.
  --failure-policy SPEC what the API server does when virtguard cannot be reached, per
                        webhook: RESOURCE=Fail|Ignore, comma-separated or repeated, for
                        RESOURCE in ${webhookResources().join(", ")};
                        or Fail|Ignore alone for all of them. Default: Fail for
                        virtualmachines and moduleconfigs, Ignore for virtualmachineclasses,
                        virtualmachinepools and virtualmachineipaddresses (docs/operations.md
                        weighs lock-out against unchecked changes)
  --policies DIR        policies for the ConfigMap; RBAC grants exactly the kinds and Secrets
                        they look up (default: the shipped policies/)
  --webhook-url URL     have the API server call this https URL instead of the Service (for a
                        virtguard running outside the cluster, e.g. during development)
  --skip-webhook        everything except the ValidatingWebhookConfiguration (install step 1)
  --webhook-only        only the ValidatingWebhookConfiguration (install step 2, once the
                        Deployment is ready)
  --sync-kustomization  instead of printing, regenerate kustomization.yaml in the --policies
                        directory: the list of policy files that the kustomize base's
                        ConfigMap is made from ('npm run manifests:sync' does this)

Examples:
  # Install in order: certificates, Secret, Deployment, then the webhook (docs/operations.md)
  virtguard certs
  virtguard manifests --skip-webhook | kubectl apply -f -
  virtguard certs --renew-before 30d --secret | kubectl apply -f -
  kubectl -n virtguard rollout status deployment/virtguard
  virtguard manifests --webhook-only --ca-bundle certs/ca.crt | kubectl apply -f -

  # Another namespace and a private registry's image
  virtguard manifests --namespace security --image registry.example/virtguard:0.1.0 \\
    --ca-bundle certs/ca.crt > virtguard.yaml

  # Fail open for VMs while you gain confidence (an outage then lets unchecked VMs in)
  virtguard manifests --webhook-only --failure-policy virtualmachines=Ignore | kubectl apply -f -

  # CA rotation: trust both CAs while the serving certificate changes over
  virtguard manifests --webhook-only --ca-bundle certs/ca.crt --ca-bundle certs-new/ca.crt | kubectl apply -f -
`;

export const command: Command = {
  summary: "Print the deployment manifests, ready for kubectl apply -f -",
  usage,
  run,
};

async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs("manifests", {
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      namespace: { type: "string", default: BASE_NAMESPACE },
      "ca-bundle": { type: "string", multiple: true, default: [] },
      image: { type: "string" },
      policies: { type: "string" },
      "skip-webhook": { type: "boolean", default: false },
      "webhook-url": { type: "string" },
      "webhook-only": { type: "boolean", default: false },
      "failure-policy": { type: "string", multiple: true, default: [] },
      "sync-kustomization": { type: "boolean", default: false },
    },
  });
  const policiesDir = values.policies ?? defaultPoliciesDir();
  if (values["sync-kustomization"]) return syncKustomization(policiesDir);

  if (values["skip-webhook"] && values["webhook-only"]) throw new UsageError("--skip-webhook and --webhook-only exclude each other");
  if (values.image !== undefined && !/^[a-z0-9][a-z0-9._\-/:@]*$/i.test(values.image)) {
    throw new UsageError(`--image "${values.image}" is not an image reference`);
  }

  const failurePolicies = parseFailurePolicies(values["failure-policy"]);

  // undefined: a webhook configuration is wanted and there is no CA for it (refused below, once
  // every other flag has been checked).
  const caFiles = values["ca-bundle"].length > 0 ? values["ca-bundle"] : values["skip-webhook"] ? [] : defaultCaFile();
  const bundle = caFiles !== undefined && caFiles.length > 0 ? readCaBundle(caFiles) : undefined;

  let objects;
  try {
    objects = buildManifests({
      namespace: values.namespace,
      caBundle: bundle,
      image: values.image,
      policiesDir,
      manifestsDir: defaultManifestsDir(),
      include: values["skip-webhook"] ? "app" : values["webhook-only"] ? "webhook" : "all",
      webhookUrl: values["webhook-url"],
      failurePolicies,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (caFiles === undefined) {
    throw new UsageError(
      "no CA for the webhook's caBundle: pass --ca-bundle FILE (the CA of virtguard's serving certificate), or run 'virtguard certs' first (it writes certs/ca.crt)",
    );
  }
  if (caFiles.length > 0 && values["ca-bundle"].length === 0) process.stderr.write(`virtguard manifests: caBundle from ${caFiles.join(", ")}\n`);
  process.stdout.write(toYaml(objects));
  return 0;
}

function syncKustomization(policiesDir: string): number {
  try {
    const files = writePoliciesKustomization(policiesDir);
    process.stderr.write(`virtguard manifests: wrote ${policiesDir}/kustomization.yaml listing ${files.length} policies\n`);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return 0;
}

/** The webhook's caBundle from CA files, with a warning for a certificate that is no CA or has expired. */
function readCaBundle(caFiles: string[]): string {
  try {
    const { bundle, certificates } = caBundleFromFiles(caFiles);
    const now = Date.now();
    for (const c of certificates) {
      if (!c.ca) process.stderr.write(`virtguard manifests: warning: ${c.subject.replace(/\n/g, ", ")} in the CA bundle is not a CA certificate\n`);
      if (new Date(c.validTo).getTime() < now) process.stderr.write(`virtguard manifests: warning: ${c.subject.replace(/\n/g, ", ")} in the CA bundle expired on ${c.validTo}\n`);
    }
    return bundle;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** certs/ca.crt in the working directory, where `virtguard certs` writes it, when it is there. */
function defaultCaFile(): string[] | undefined {
  const file = join("certs", "ca.crt");
  return existsSync(file) ? [file] : undefined;
}

/** `--failure-policy` values: "RESOURCE=POLICY[,RESOURCE=POLICY]..." or a bare POLICY for every webhook. */
function parseFailurePolicies(specs: string[]): Record<string, FailurePolicy> | undefined {
  if (specs.length === 0) return undefined;
  const out: Record<string, FailurePolicy> = {};
  const policy = (value: string, what: string): FailurePolicy => {
    const p = FAILURE_POLICIES.find((f) => f.toLowerCase() === value.trim().toLowerCase());
    if (!p) throw new UsageError(`--failure-policy ${what}: "${value}" is not Fail or Ignore`);
    return p;
  };
  for (const spec of specs) {
    for (const item of spec.split(",").filter((i) => i.trim() !== "")) {
      const eq = item.indexOf("=");
      if (eq < 0) {
        const p = policy(item, item);
        for (const r of webhookResources()) out[r] = p;
        continue;
      }
      out[item.slice(0, eq).trim()] = policy(item.slice(eq + 1), item);
    }
  }
  return out;
}
