import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { writeYaml } from "../yaml/write.js";
import {
  DEFAULT_CA_DAYS,
  DEFAULT_LEAF_DAYS,
  KEY_TYPES,
  caBundle,
  certMatchesKey,
  describeCertificate,
  generateCA,
  isIssuedBy,
  issueServingCert,
  keyTypeOf,
  serviceDnsNames,
  type KeyType,
  type PemPair,
} from "../pki/tls-certs.js";
import { durationFlag } from "./duration.js";
import { parseCommandArgs, UsageError, type Command } from "./command.js";

const usage = `Usage: virtguard certs [flags]

Generates a CA and a serving certificate for the webhook's Service, or renews the
serving certificate with the existing CA. The certificate's subjectAltNames are
NAME, NAME.NS, NAME.NS.svc and NAME.NS.svc.<cluster-domain>, plus --host and --ip.

Writes into --out (default certs/, which git ignores):
  ca.crt   the CA certificate (the webhook's caBundle)
  ca.key   the CA key, mode 0600: keep it to renew the serving certificate later
  tls.crt  the serving certificate
  tls.key  its key, mode 0600
and prints the base64 caBundle on stdout (for the ValidatingWebhookConfiguration).

Flags:
  --name NAME             Service name (default virtguard)
  --namespace NS          Service namespace (default virtguard)
  --cluster-domain DOMAIN cluster DNS domain (default cluster.local)
  --host DNS              extra DNS name in the certificate (repeatable)
  --ip ADDR               extra IP address in the certificate (repeatable)
  --key-type TYPE         ${KEY_TYPES.join(" | ")} (default rsa2048; with
                          --renew-before, the existing certificate's type)
  --days N                serving certificate validity in days (default ${DEFAULT_LEAF_DAYS})
  --ca-days N             CA validity in days (default ${DEFAULT_CA_DAYS})
  --out DIR               directory for the files (default certs)
  --renew-before DURATION re-issue tls.crt/tls.key with the existing CA only when
                          the certificate expires within DURATION (e.g. 30d, 720h),
                          is missing, does not match its key or the CA, or lacks a
                          requested name; otherwise do nothing (said on stderr).
                          Creates everything when --out holds no CA yet.
  --secret                print a kubernetes.io/tls Secret manifest (tls.crt, tls.key,
                          ca.crt) on stdout instead of writing files. Files are still
                          read and written when --out or --renew-before is given, so
                          that the CA survives for renewals.
  --secret-name NAME      the Secret's name (default virtguard-tls)
  --force                 replace an existing CA and certificate in --out

Without --renew-before or --force, an --out that already holds a CA is left alone
(exit 2): replacing the CA breaks the caBundle registered in the cluster.

Examples:
  # First install: files in certs/, caBundle into the manifests
  virtguard certs
  virtguard manifests --ca-bundle certs/ca.crt | kubectl apply -f -

  # The Secret the Deployment mounts, from the files in certs/
  virtguard certs --renew-before 30d --secret | kubectl apply -f -

  # ECDSA P-256 for another Service name and namespace, with an extra name
  virtguard certs --name guard --namespace security --key-type ecdsa-p256 --host guard.example.internal

  # Renewal job (cron): a no-op until the certificate is within 30 days of expiry
  virtguard certs --renew-before 30d --secret | kubectl apply -f -

  # Check the result
  openssl verify -CAfile certs/ca.crt certs/tls.crt
  openssl x509 -in certs/tls.crt -noout -text
`;

export const command: Command = {
  summary: "Generate or renew the webhook CA and serving certificate",
  usage,
  run,
};

interface Options {
  name: string;
  namespace: string;
  clusterDomain: string;
  hosts: string[];
  ips: string[];
  keyType: KeyType | undefined;
  days: number;
  caDays: number;
  out: string;
  outGiven: boolean;
  renewBeforeMs: number | undefined;
  renewBeforeText: string | undefined;
  secret: boolean;
  secretName: string;
  force: boolean;
}

async function run(argv: string[]): Promise<number> {
  const opts = parseOptions(argv);
  const now = new Date();
  const dnsNames = [...serviceDnsNames(opts.name, opts.namespace, opts.clusterDomain), ...opts.hosts];
  const writeFiles = !opts.secret || opts.outGiven || opts.renewBeforeMs !== undefined;
  const kept = keptCertificates(opts, writeFiles ? readState(opts.out) : {});
  const written: string[] = [];
  const ca = kept.ca ?? newCa(opts, now, writeFiles, written);
  if (kept.ca) warnIfCaExpires(kept.ca, opts, now);
  // A new CA signs a new serving certificate.
  const leaf = servingCertificate(opts, ca, kept.ca ? kept.leaf : undefined, dnsNames, now, writeFiles, written);
  if (written.length > 0) log(`wrote ${written.map((f) => join(opts.out, f)).join(", ")}`);
  if (opts.secret) {
    process.stdout.write(tlsSecretManifest({ name: opts.secretName, namespace: opts.namespace, serving: leaf, caCert: ca.cert }));
    log(`caBundle: the Secret's ca.crt, ${caBundle(ca.cert)}`);
  } else {
    process.stdout.write(caBundle(ca.cert) + "\n");
  }
  return 0;
}

/** What of the files in --out this run builds on: everything with --renew-before, nothing otherwise (refusing to overwrite without --force). */
function keptCertificates(opts: Options, existing: State): { ca?: PemPair; leaf?: PemPair } {
  if (opts.renewBeforeMs === undefined) {
    if ((existing.ca || existing.caCertOnly || existing.leaf) && !opts.force) {
      throw new UsageError(
        `${opts.out}/ already holds a certificate; use --renew-before 30d to renew the serving certificate with the same CA, ` +
          `or --force to replace the CA too (the cluster's caBundle must then be updated)`,
      );
    }
    return {};
  }
  if (existing.caCertOnly) throw new UsageError(`${opts.out}/ca.crt has no ca.key beside it: the CA cannot sign a new certificate (generate a new CA with --force)`);
  return { ca: existing.ca, leaf: existing.leaf };
}

function newCa(opts: Options, now: Date, writeFiles: boolean, written: string[]): PemPair {
  const keyType = opts.keyType ?? "rsa2048";
  const ca = generateCA({ keyType, days: opts.caDays, now });
  log(`generated a new CA (${keyType}, valid until ${day(describeCertificate(ca.cert).notAfter)})`);
  if (writeFiles) {
    writePem(opts.out, "ca.key", ca.key, true);
    writePem(opts.out, "ca.crt", ca.cert, false);
    written.push("ca.crt", "ca.key");
  }
  return ca;
}

function warnIfCaExpires(ca: PemPair, opts: Options, now: Date): void {
  const caInfo = describeCertificate(ca.cert);
  const left = caInfo.notAfter.getTime() - now.getTime();
  if (opts.renewBeforeMs !== undefined && left <= opts.renewBeforeMs) {
    log(
      `warning: the CA itself expires on ${day(caInfo.notAfter)}, within ${opts.renewBeforeText}; serving certificates cannot outlive it. ` +
        `Rotate it with overlap: see docs/certs.md ("Rotating the CA")`,
    );
  }
}

/** The current serving certificate when it needs no renewal, else a new one (written when files are). */
function servingCertificate(opts: Options, ca: PemPair, leaf: PemPair | undefined, dnsNames: string[], now: Date, writeFiles: boolean, written: string[]): PemPair {
  const reasons = leaf ? renewalReasons(leaf, ca, dnsNames, opts, now) : ["no serving certificate yet"];
  if (reasons.length === 0 && leaf) {
    const info = describeCertificate(leaf.cert);
    log(
      `${opts.out}/tls.crt is valid until ${day(info.notAfter)} (${Math.floor((info.notAfter.getTime() - now.getTime()) / 86_400_000)} days left, ` +
        `more than --renew-before ${opts.renewBeforeText}); nothing to do`,
    );
    return leaf;
  }
  if (leaf) log(`renewing ${opts.out}/tls.crt: ${reasons.join("; ")}`);
  const { names, ips, previousType } = leaf ? namesKeptFrom(leaf, dnsNames, opts.ips) : { names: dnsNames, ips: opts.ips, previousType: undefined };
  const keyType = opts.keyType ?? previousType ?? keyTypeOf(ca.cert) ?? "rsa2048";
  const issued = issueServingCert(ca, { dnsNames: names, ips, keyType, days: opts.days, commonName: dnsNames[2], now });
  const info = describeCertificate(issued.cert);
  log(`issued a serving certificate (${keyType}, serial ${info.serialNumber}, valid until ${day(info.notAfter)}) for ${[...info.dnsNames, ...info.ips].join(", ")}`);
  if (writeFiles) {
    // Key first, then certificate: a server that reloads in between sees a mismatched pair and keeps the old one.
    writePem(opts.out, "tls.key", issued.key, true);
    writePem(opts.out, "tls.crt", issued.cert, false);
    written.push("tls.crt", "tls.key");
  }
  return issued;
}

/** A renewal job that runs without the original --host/--ip flags must not drop those names: the current certificate's are kept. */
function namesKeptFrom(leaf: PemPair, dnsNames: string[], wantedIps: string[]): { names: string[]; ips: string[]; previousType: KeyType | undefined } {
  const previous = tryDescribe(leaf.cert);
  if (!previous) return { names: dnsNames, ips: wantedIps, previousType: undefined };
  const names = [...new Set([...dnsNames, ...previous.dnsNames])];
  const ips = [...wantedIps];
  for (const ip of previous.ips) if (!ips.some((have) => sameIp(have, ip))) ips.push(ip);
  const kept = [...previous.dnsNames.filter((n) => !dnsNames.includes(n)), ...previous.ips.filter((ip) => !wantedIps.some((have) => sameIp(have, ip)))];
  if (kept.length > 0) log(`keeping ${kept.join(", ")} from the current certificate (delete tls.crt to drop names)`);
  return { names, ips, previousType: previous.keyType };
}

/** A kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt, as YAML. */
export function tlsSecretManifest(args: { name: string; namespace: string; serving: PemPair; caCert: string }): string {
  const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
  const info = describeCertificate(args.serving.cert);
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: {
      name: args.name,
      namespace: args.namespace,
      labels: { "app.kubernetes.io/name": "virtguard", "app.kubernetes.io/component": "webhook-tls" },
      annotations: { "virtguard.io/not-after": info.notAfter.toISOString(), "virtguard.io/serial": info.serialNumber },
    },
    data: { "tls.crt": b64(args.serving.cert), "tls.key": b64(args.serving.key), "ca.crt": b64(args.caCert) },
  };
  return writeYaml(secret);
}

function renewalReasons(leaf: PemPair, ca: PemPair, dnsNames: string[], opts: Options, now: Date): string[] {
  const reasons: string[] = [];
  let info;
  try {
    info = describeCertificate(leaf.cert);
  } catch {
    return ["tls.crt does not parse"];
  }
  try {
    if (!certMatchesKey(leaf.cert, leaf.key)) reasons.push("tls.key does not belong to tls.crt");
  } catch {
    reasons.push("tls.key does not parse");
  }
  if (!isIssuedBy(leaf.cert, ca.cert)) reasons.push("tls.crt was not issued by ca.crt");
  const left = info.notAfter.getTime() - now.getTime();
  if (left <= (opts.renewBeforeMs ?? 0)) {
    reasons.push(left <= 0 ? `it expired on ${day(info.notAfter)}` : `it expires on ${day(info.notAfter)}, within ${opts.renewBeforeText}`);
  }
  const missing = [...dnsNames.filter((n) => !info.dnsNames.includes(n)), ...opts.ips.filter((ip) => !info.ips.some((have) => sameIp(have, ip)))];
  if (missing.length > 0) reasons.push(`it lacks ${missing.join(", ")}`);
  if (opts.keyType && info.keyType !== opts.keyType) reasons.push(`its key is ${info.keyType ?? "another type"}, not ${opts.keyType}`);
  return reasons;
}

function tryDescribe(pem: string): ReturnType<typeof describeCertificate> | undefined {
  try {
    return describeCertificate(pem);
  } catch {
    return undefined;
  }
}

interface State {
  ca?: PemPair;
  caCertOnly?: boolean;
  leaf?: PemPair;
}

function readState(dir: string): State {
  const read = (f: string): string | undefined => {
    const p = join(dir, f);
    return existsSync(p) ? readFileSync(p, "utf8") : undefined;
  };
  const state: State = {};
  const caCert = read("ca.crt");
  const caKey = read("ca.key");
  if (caCert && caKey) {
    try {
      if (!certMatchesKey(caCert, caKey)) throw new Error("mismatch");
    } catch {
      throw new UsageError(`${dir}/ca.key does not belong to ${dir}/ca.crt`);
    }
    state.ca = { cert: caCert, key: caKey };
  } else if (caCert) {
    state.caCertOnly = true;
  }
  const cert = read("tls.crt");
  const key = read("tls.key");
  if (cert !== undefined) state.leaf = { cert, key: key ?? "" };
  return state;
}

/** Writes atomically (temp file + rename) so that a watching server never reads half a file. */
function writePem(dir: string, file: string, content: string, secret: boolean): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, file);
  const tmp = join(dir, `.${file}.${process.pid}.tmp`);
  const mode = secret ? 0o600 : 0o644;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode); // the umask may have narrowed it; a key must not end up wider than 0600 either way
  renameSync(tmp, path);
}

function parseOptions(argv: string[]): Options {
  const { values } = parseCommandArgs("certs", {
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      name: { type: "string", default: "virtguard" },
      namespace: { type: "string", default: "virtguard" },
      "cluster-domain": { type: "string", default: "cluster.local" },
      host: { type: "string", multiple: true, default: [] },
      ip: { type: "string", multiple: true, default: [] },
      "key-type": { type: "string" },
      days: { type: "string", default: String(DEFAULT_LEAF_DAYS) },
      "ca-days": { type: "string", default: String(DEFAULT_CA_DAYS) },
      out: { type: "string" },
      "renew-before": { type: "string" },
      secret: { type: "boolean", default: false },
      "secret-name": { type: "string", default: "virtguard-tls" },
      force: { type: "boolean", default: false },
    },
  });
  const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
  for (const [flag, v] of [
    ["--name", values.name],
    ["--namespace", values.namespace],
  ] as const) {
    if (!dnsLabel.test(v)) throw new UsageError(`${flag} "${v}" is not a DNS-1123 label (lower case letters, digits and '-', at most 63)`);
  }
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(values["cluster-domain"])) throw new UsageError(`--cluster-domain "${values["cluster-domain"]}" is not a DNS name`);
  for (const h of values.host) {
    if (!/^(\*\.)?[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/.test(h) || h.includes("..")) throw new UsageError(`--host "${h}" is not a DNS name`);
  }
  const keyType = values["key-type"];
  if (keyType !== undefined && !(KEY_TYPES as readonly string[]).includes(keyType)) {
    throw new UsageError(`--key-type "${keyType}" is not one of ${KEY_TYPES.join(", ")}`);
  }
  const days = positive(values.days, "--days");
  const caDays = positive(values["ca-days"], "--ca-days");
  let renewBeforeMs: number | undefined;
  if (values["renew-before"] !== undefined) {
    renewBeforeMs = durationFlag("renew-before", values["renew-before"]);
  }
  if (renewBeforeMs !== undefined && values.force) throw new UsageError("--renew-before and --force contradict each other");
  const ips = values.ip.map((ip) => ip.replace(/^\[(.*)\]$/, "$1"));
  for (const ip of ips) {
    if (isIP(ip) === 0) throw new UsageError(`--ip "${ip}" is not an IP address`);
  }
  return {
    name: values.name,
    namespace: values.namespace,
    clusterDomain: values["cluster-domain"],
    hosts: values.host,
    ips,
    keyType: keyType as KeyType | undefined,
    days,
    caDays,
    out: values.out ?? "certs",
    outGiven: values.out !== undefined,
    renewBeforeMs,
    renewBeforeText: values["renew-before"],
    secret: values.secret,
    secretName: values["secret-name"],
    force: values.force,
  };
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0)) throw new UsageError(`${flag} "${text}" must be a positive number of days`);
  return n;
}

/** Compares IPs in any notation (node prints IPv6 SANs expanded, users type them compressed). */
function sameIp(a: string, b: string): boolean {
  const canon = (ip: string): string => (ip.includes(":") ? new URL(`http://[${ip}]/`).hostname : ip);
  return canon(a) === canon(b);
}

function day(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}

function log(line: string): void {
  process.stderr.write(`virtguard certs: ${line}\n`);
}
