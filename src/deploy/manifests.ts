/**
 * The deployment manifests as objects and as YAML: the kustomize base in manifests/ with the
 * namespace, image, caBundle and the policies ConfigMap filled in. Used by `virtguard manifests`
 * and by tests (the e2e suite pipes `renderManifests()` into `kubectl apply --dry-run=server`).
 */
import { X509Certificate } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readYaml, readYamlDocuments } from "../yaml/read.js";
import { writeYaml } from "../yaml/write.js";
import { caBundle } from "../pki/tls-certs.js";
import type { PolicySet } from "../engine/index.js";
import { loadPolicyDir } from "../policy-files/policy-dir.js";
import { lookupRbac } from "./rbac.js";

export const BASE_NAMESPACE = "virtguard";
/** base64 of "REPLACE-WITH-CA-BUNDLE": valid base64, so the base applies, and obviously not a CA. */
export const CA_BUNDLE_PLACEHOLDER = "UkVQTEFDRS1XSVRILUNBLUJVTkRMRQ==";
export const POLICIES_CONFIGMAP = "virtguard-policies";
export const TLS_SECRET = "virtguard-tls";
export const SERVICE_NAME = "virtguard";
export const WEBHOOK_CONFIGURATION = "virtguard";
export const CONTAINER_NAME = "virtguard";
/**
 * Where `manifests` points the Deployment unless --image says otherwise: the project's public
 * image repository, tagged with the package version. Clusters that pull through a private
 * registry or mirror must pass --image.
 */
export const DEFAULT_IMAGE_REPOSITORY = "ghcr.io/virtguard/virtguard";
/** The webhooks' failurePolicy values the API server accepts. */
export const FAILURE_POLICIES = ["Fail", "Ignore"] as const;
export type FailurePolicy = (typeof FAILURE_POLICIES)[number];
/** The ClusterRole (and binding) granting the policies' cluster-wide lookups. */
export const LOOKUPS_ROLE = "virtguard-lookups";
/** kubectl, kustomize and the API server read YAML 1.1 ("y", "on" and "0440" are not strings there). */
const YAML_VERSION = "1.1" as const;
/** The API server refuses ConfigMaps over 1 MiB (the whole object); leave room for metadata. */
const CONFIGMAP_DATA_LIMIT = 1_000_000;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export interface RenderOptions {
  /** Namespace for virtguard's own objects (default "virtguard"). */
  namespace?: string;
  /** The webhook's caBundle as base64 (e.g. from caBundleFromFiles); default the placeholder. */
  caBundle?: string;
  /** Container image (default DEFAULT_IMAGE_REPOSITORY:<package version>). */
  image?: string;
  /** Policy directory for the ConfigMap (default the shipped policies/). */
  policiesDir?: string;
  /** The kustomize base to read (default the package's manifests/). */
  manifestsDir?: string;
  /** Which objects: everything (default), everything but the webhook configuration, or only it. */
  include?: "all" | "app" | "webhook";
  /**
   * Call the webhook at this https URL instead of through the Service (clientConfig.url): for a
   * virtguard that runs outside the cluster, e.g. a test API server calling a local `serve`.
   */
  webhookUrl?: string;
  /**
   * failurePolicy by resource (the plural the webhook's rules name, e.g. "virtualmachines");
   * resources left out keep the base's choice.
   */
  failurePolicies?: Record<string, FailurePolicy>;
}

const packageRoot = fileURLToPath(new URL("../../../", import.meta.url));

export function defaultManifestsDir(): string {
  return join(packageRoot, "manifests");
}

export function defaultPoliciesDir(): string {
  return join(packageRoot, "policies");
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string };
  return pkg.version;
}

export function defaultImage(): string {
  return `${DEFAULT_IMAGE_REPOSITORY}:${packageVersion()}`;
}

/** The resources each webhook of the base covers, in order: the keys `failurePolicies` accepts. */
export function webhookResources(manifestsDir: string = defaultManifestsDir()): string[] {
  const hook = parseManifests(readFileSync(join(manifestsDir, "webhook.yaml"), "utf8")).find((o) => o.kind === "ValidatingWebhookConfiguration");
  return asArray<{ rules?: { resources?: string[] }[] }>(hook?.webhooks).flatMap((w) => (w.rules ?? []).flatMap((r) => r.resources ?? []));
}

/** The full set of objects, in apply order (the webhook configuration last). */
export function buildManifests(opts: RenderOptions = {}): K8sObject[] {
  const namespace = opts.namespace ?? BASE_NAMESPACE;
  assertDnsLabel(namespace, "namespace");
  const policiesDir = opts.policiesDir ?? defaultPoliciesDir();
  const base = withLookupRbac(readBase(opts.manifestsDir ?? defaultManifestsDir(), policiesDir), loadPolicyDir(policiesDir));
  const image = opts.image ?? defaultImage();
  const bundle = opts.caBundle ?? CA_BUNDLE_PLACEHOLDER;
  if (opts.webhookUrl !== undefined) assertWebhookUrl(opts.webhookUrl);
  if (opts.failurePolicies) {
    const known = webhookResources(opts.manifestsDir ?? defaultManifestsDir());
    for (const [resource, policy] of Object.entries(opts.failurePolicies)) {
      if (!known.includes(resource)) throw new Error(`failure policy for "${resource}": no webhook covers it (known: ${known.join(", ")})`);
      if (!(FAILURE_POLICIES as readonly string[]).includes(policy)) throw new Error(`failure policy "${policy}" for ${resource}: must be Fail or Ignore`);
    }
  }
  const out: K8sObject[] = [];
  for (const obj of base) {
    const o = structuredClone(obj);
    if (o.metadata.namespace === BASE_NAMESPACE) o.metadata.namespace = namespace;
    switch (o.kind) {
      case "Namespace":
        if (o.metadata.name === BASE_NAMESPACE) o.metadata.name = namespace;
        break;
      case "RoleBinding":
      case "ClusterRoleBinding":
        for (const s of asArray<Record<string, unknown>>(o.subjects)) {
          if (s.kind === "ServiceAccount" && s.namespace === BASE_NAMESPACE) s.namespace = namespace;
        }
        break;
      case "Deployment":
        for (const c of podContainers(o)) if (c.name === CONTAINER_NAME) c.image = image;
        break;
      case "ValidatingWebhookConfiguration":
        for (const w of asArray<Record<string, unknown>>(o.webhooks)) {
          const cc = (w.clientConfig ?? {}) as Record<string, unknown>;
          const svc = cc.service as Record<string, unknown> | undefined;
          if (svc && svc.namespace === BASE_NAMESPACE) svc.namespace = namespace;
          if (opts.webhookUrl !== undefined) {
            delete cc.service;
            cc.url = opts.webhookUrl;
          }
          cc.caBundle = bundle;
          const resources = asArray<{ resources?: string[] }>(w.rules).flatMap((r) => r.resources ?? []);
          const policy = resources.map((r) => opts.failurePolicies?.[r]).find((p) => p !== undefined);
          if (policy !== undefined) w.failurePolicy = policy;
          const sel = (w.namespaceSelector ?? {}) as { matchExpressions?: { key: string; values?: string[] }[] };
          for (const e of sel.matchExpressions ?? []) {
            if (e.key === "kubernetes.io/metadata.name" && e.values) {
              e.values = [...new Set(e.values.map((v) => (v === BASE_NAMESPACE ? namespace : v)))];
            }
          }
        }
        break;
    }
    out.push(o);
  }
  const include = opts.include ?? "all";
  if (include === "app") return out.filter((o) => o.kind !== "ValidatingWebhookConfiguration");
  if (include === "webhook") return out.filter((o) => o.kind === "ValidatingWebhookConfiguration");
  return out;
}

/** Multi-document YAML, ready for `kubectl apply -f -`. */
export function toYaml(objects: K8sObject[]): string {
  return objects.map((o) => writeYaml(o)).join("---\n");
}

export function renderManifests(opts: RenderOptions = {}): string {
  return toYaml(buildManifests(opts));
}

/** Parses multi-document YAML the way kubectl does (YAML 1.1), dropping empty documents. */
export function parseManifests(text: string): K8sObject[] {
  const docs: K8sObject[] = [];
  let values: unknown[];
  try {
    values = readYamlDocuments(text, { version: YAML_VERSION });
  } catch (err) {
    throw new Error(`invalid YAML: ${(err as Error).message}`);
  }
  for (const value of values) {
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value)) throw new Error("a YAML document is not an object");
    docs.push(value as K8sObject);
  }
  return docs;
}

/**
 * The policies ConfigMap: one key per policy file of the directory, content verbatim.
 * The set must load (schema, CEL) the way serve loads it: a ConfigMap that new pods cannot
 * load would leave them unready. The total must fit in a ConfigMap.
 */
export function policiesConfigMap(dir: string, namespace = BASE_NAMESPACE): K8sObject {
  const files = policyFiles(dir);
  loadPolicyDir(dir);
  const data: Record<string, string> = {};
  let size = 0;
  for (const file of files) {
    const text = readFileSync(join(dir, file), "utf8");
    data[file] = text;
    size += Buffer.byteLength(text) + file.length;
  }
  if (size > CONFIGMAP_DATA_LIMIT) {
    throw new Error(`the policies in ${dir} take ${size} bytes; a ConfigMap holds at most about 1 MiB`);
  }
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: POLICIES_CONFIGMAP, namespace, labels: { "app.kubernetes.io/name": "virtguard", "app.kubernetes.io/part-of": "virtguard" } },
    data,
  };
}

/** The policy files of a directory as serve reads them: `*.json`, not hidden, not `*.schema.json`; sorted. */
export function policyFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`policy directory ${dir} does not exist`);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json") && !f.startsWith(".") && !f.endsWith(".schema.json") && statSync(join(dir, f)).isFile())
    .sort();
}

/** The kustomization in the policy directory that makes the ConfigMap: generated, it lists the policy files. */
export function policiesKustomization(files: string[]): string {
  const k = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    // No hash suffix: the Deployment mounts this name, and serve reloads an updated ConfigMap in place.
    generatorOptions: { disableNameSuffixHash: true },
    configMapGenerator: [
      {
        name: POLICIES_CONFIGMAP,
        namespace: BASE_NAMESPACE,
        options: { labels: { "app.kubernetes.io/name": "virtguard", "app.kubernetes.io/part-of": "virtguard" } },
        files,
      },
    ],
  };
  return (
    "# GENERATED by `npm run manifests:sync` (virtguard manifests --sync-kustomization): do not edit.\n" +
    "# The policies ConfigMap of the kustomize base in manifests/ (which includes this directory as\n" +
    "# a resource). kustomize has no globs, so this lists every policy file; a test fails when a\n" +
    "# policy is added or removed without regenerating it.\n" +
    writeYaml(k)
  );
}

/** Regenerates DIR/kustomization.yaml from the policy files in DIR; returns the files listed. */
export function writePoliciesKustomization(policiesDir: string): string[] {
  const files = policyFiles(policiesDir);
  policiesConfigMap(policiesDir); // validates the set and its size first
  writeFileSync(join(policiesDir, "kustomization.yaml"), policiesKustomization(files));
  return files;
}

/** How DIR/kustomization.yaml differs from what writePoliciesKustomization would write; empty when in sync. */
export function policiesKustomizationDrift(policiesDir: string): string[] {
  const files = policyFiles(policiesDir);
  const path = join(policiesDir, "kustomization.yaml");
  if (!existsSync(path)) return ["kustomization.yaml is missing"];
  const text = readFileSync(path, "utf8");
  if (text === policiesKustomization(files)) return [];
  const doc = readYaml(text, { version: YAML_VERSION }) as { configMapGenerator?: { files?: string[] }[] } | null;
  const listed = doc?.configMapGenerator?.[0]?.files ?? [];
  const problems = [...files.filter((f) => !listed.includes(f)).map((f) => `${f} is not listed`), ...listed.filter((f) => !files.includes(f)).map((f) => `${f} is listed but absent`)];
  return problems.length > 0 ? problems : ["kustomization.yaml differs from the generated text"];
}

/**
 * The webhook caBundle from CA files: PEM certificates (several files or several certificates
 * per file make an overlapping bundle for a rotation), or a file that already holds the base64.
 */
export function caBundleFromFiles(paths: string[]): { bundle: string; certificates: X509Certificate[] } {
  const pems: string[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      throw new Error(`cannot read CA bundle file ${path}`);
    }
    if (!text.includes("-----BEGIN")) {
      const decoded = Buffer.from(text.trim(), "base64").toString("utf8");
      if (!decoded.includes("-----BEGIN CERTIFICATE-----")) throw new Error(`${path} holds neither PEM certificates nor a base64 caBundle`);
      text = decoded;
    }
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new Error(`${path} holds no PEM certificate`);
    pems.push(...blocks);
  }
  const certificates = pems.map((pem, i) => {
    try {
      return new X509Certificate(pem);
    } catch {
      throw new Error(`certificate ${i + 1} of the CA bundle does not parse`);
    }
  });
  return { bundle: caBundle(...pems), certificates };
}

// ---------------------------------------------------------------------------------------------

/**
 * The base with its lookup RBAC replaced by what the policies need: the ClusterRole's rules, and
 * one Role (with its RoleBinding) per namespace whose Secrets the policies read. The base's Roles
 * outside virtguard's own namespace are the templates (labels, subjects, names); a namespace the
 * base has no Role for gets one named LOOKUPS_ROLE.
 */
function withLookupRbac(base: K8sObject[], set: PolicySet): K8sObject[] {
  const rbac = lookupRbac(set);
  const isLookupRole = (o: K8sObject): boolean => o.kind === "Role" && o.metadata.namespace !== BASE_NAMESPACE;
  const lookupRoles = base.filter(isLookupRole);
  const roleNames = new Set(lookupRoles.map((r) => `${r.metadata.namespace}/${r.metadata.name}`));
  const isLookupBinding = (o: K8sObject): boolean => {
    const ref = o.roleRef as { kind?: string; name?: string } | undefined;
    return o.kind === "RoleBinding" && ref?.kind === "Role" && roleNames.has(`${o.metadata.namespace}/${ref.name}`);
  };
  const roleTemplate = lookupRoles[0];
  const bindingTemplate = base.find(isLookupBinding);
  const generated: K8sObject[] = [];
  for (const [namespace, rules] of rbac.namespaceRules) {
    if (!roleTemplate || !bindingTemplate) throw new Error(`the policies read Secrets in ${namespace}, but the kustomize base has no Role and RoleBinding outside ${BASE_NAMESPACE} to model them on`);
    const name = lookupRoles.find((r) => r.metadata.namespace === namespace)?.metadata.name ?? LOOKUPS_ROLE;
    const role = structuredClone(roleTemplate);
    role.metadata = { ...role.metadata, name, namespace };
    role.rules = rules;
    const binding = structuredClone(bindingTemplate);
    binding.metadata = { ...binding.metadata, name, namespace };
    binding.roleRef = { ...(binding.roleRef as object), name };
    generated.push(role, binding);
  }
  const out: K8sObject[] = [];
  let placed = false;
  for (const o of base) {
    if (isLookupRole(o) || isLookupBinding(o)) {
      if (!placed) out.push(...generated);
      placed = true;
      continue;
    }
    if (o.kind === "ClusterRole" && o.metadata.name === LOOKUPS_ROLE) {
      out.push({ ...o, rules: rbac.clusterRules });
      continue;
    }
    out.push(o);
  }
  if (!placed) out.push(...generated);
  return out;
}

/** Reads the kustomize base: each resource file in order; the `../policies` directory becomes the ConfigMap from policiesDir. */
function readBase(dir: string, policiesDir: string): K8sObject[] {
  const kustomization = readYaml(readFileSync(join(dir, "kustomization.yaml"), "utf8"), { version: YAML_VERSION }) as { resources?: string[] };
  const objects: K8sObject[] = [];
  for (const resource of kustomization.resources ?? []) {
    const path = join(dir, resource);
    if (basename(resource) === "policies") {
      objects.push(policiesConfigMap(policiesDir, BASE_NAMESPACE));
      continue;
    }
    objects.push(...parseManifests(readFileSync(path, "utf8")));
  }
  return objects;
}

function podContainers(deployment: K8sObject): Record<string, unknown>[] {
  const spec = deployment.spec as { template?: { spec?: { containers?: Record<string, unknown>[] } } } | undefined;
  return spec?.template?.spec?.containers ?? [];
}

function asArray<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

/** The API server's rules for clientConfig.url: https, a host, no user info, fragment or query. */
function assertWebhookUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`webhook URL "${url}" does not parse`);
  }
  if (u.protocol !== "https:") throw new Error(`webhook URL "${url}" must use https`);
  if (u.username || u.password || u.hash || u.search) throw new Error(`webhook URL "${url}" may have no user, query or fragment`);
}

function assertDnsLabel(value: string, what: string): void {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value)) {
    throw new Error(`${what} "${value}" is not a DNS-1123 label (lower case letters, digits and '-', at most 63)`);
  }
}
