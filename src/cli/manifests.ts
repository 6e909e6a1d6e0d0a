import { parseArgs } from "node:util";
import {
  BASE_NAMESPACE,
  buildManifests,
  caBundleFromFiles,
  defaultImage,
  defaultManifestsDir,
  defaultPoliciesDir,
  toYaml,
  writePoliciesKustomization,
} from "../deploy/manifests.js";
import { UsageError, type Command } from "./command.js";

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
                        to trust an old and a new CA during a rotation. Without it the
                        caBundle is a placeholder and the webhook cannot be called.
  --image IMG           container image (default ${defaultImage()})
  --policies DIR        policies for the ConfigMap (default: the shipped policies/)
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

  # Another namespace and a registry image
  virtguard manifests --namespace security --image registry.example/virtguard:0.1.0 \\
    --ca-bundle certs/ca.crt > virtguard.yaml

  # CA rotation: trust both CAs while the serving certificate changes over
  virtguard manifests --webhook-only --ca-bundle certs/ca.crt --ca-bundle certs-new/ca.crt | kubectl apply -f -
`;

export const command: Command = {
  summary: "Print the deployment manifests, ready for kubectl apply -f -",
  usage,
  run,
};

async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
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
        "sync-kustomization": { type: "boolean", default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}; see 'virtguard manifests --help'`);
  }
  const policiesDir = values.policies ?? defaultPoliciesDir();

  if (values["sync-kustomization"]) {
    try {
      const files = writePoliciesKustomization(policiesDir);
      process.stderr.write(`virtguard manifests: wrote ${policiesDir}/kustomization.yaml listing ${files.length} policies\n`);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    return 0;
  }

  if (values["skip-webhook"] && values["webhook-only"]) throw new UsageError("--skip-webhook and --webhook-only exclude each other");
  if (values.image !== undefined && !/^[a-z0-9][a-z0-9._\-/:@]*$/i.test(values.image)) {
    throw new UsageError(`--image "${values.image}" is not an image reference`);
  }

  let bundle: string | undefined;
  if (values["ca-bundle"].length > 0) {
    try {
      const { bundle: b, certificates } = caBundleFromFiles(values["ca-bundle"]);
      bundle = b;
      const now = Date.now();
      for (const c of certificates) {
        if (!c.ca) process.stderr.write(`virtguard manifests: warning: ${c.subject.replace(/\n/g, ", ")} in the CA bundle is not a CA certificate\n`);
        if (new Date(c.validTo).getTime() < now) process.stderr.write(`virtguard manifests: warning: ${c.subject.replace(/\n/g, ", ")} in the CA bundle expired on ${c.validTo}\n`);
      }
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }

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
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (bundle === undefined && !values["skip-webhook"]) {
    process.stderr.write("virtguard manifests: warning: no --ca-bundle; the webhook's caBundle is a placeholder and the API server cannot call it\n");
  }
  process.stdout.write(toYaml(objects));
  return 0;
}
