/**
 * Certificates for the webhook's TLS: a CA and a serving certificate for a Service, as PEM strings.
 *
 * Used by `virtguard certs` (files or a Secret for a cluster) and by `virtguard serve` (an in-memory
 * dev CA and certificate when no --tls-cert/--tls-key are given).
 *
 * node-forge builds every certificate (names, validity, extensions, the TBSCertificate in ASN.1).
 * node-forge has no ECDSA, so:
 *   - RSA keys are generated with node-forge (which uses node:crypto's native generator when present)
 *     and RSA signatures (sha256WithRSAEncryption) are made by node-forge;
 *   - ECDSA P-256 keys are generated with node:crypto, and an ECDSA issuer signs (ecdsa-with-SHA256)
 *     with node:crypto. The subject's public key is always embedded from its DER SubjectPublicKeyInfo.
 * Private keys are returned as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"), which Node, Go and
 * Kubernetes Secrets of type kubernetes.io/tls all accept.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign as cryptoSign, X509Certificate, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import forge from "node-forge";

export type KeyType = "rsa2048" | "rsa3072" | "ecdsa-p256";
export const KEY_TYPES: readonly KeyType[] = ["rsa2048", "rsa3072", "ecdsa-p256"];

/** A certificate and its private key, both PEM. */
export interface PemPair {
  /** The certificate, PEM ("BEGIN CERTIFICATE"). */
  cert: string;
  /** The private key, unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
  key: string;
}

export interface CAOptions {
  /** Subject CN; default "virtguard CA <ISO date>" so that overlapping CAs during a rotation are told apart. */
  commonName?: string;
  /** Default "rsa2048". */
  keyType?: KeyType;
  /** Validity in days; default 3650 (10 years). */
  days?: number;
  /** Issue time (tests); default now. */
  now?: Date;
}

export interface ServingCertOptions {
  /** DNS subjectAltNames. At least one DNS name or IP is required. */
  dnsNames?: string[];
  /** IP subjectAltNames (IPv4 or IPv6). */
  ips?: string[];
  /** Default "rsa2048". */
  keyType?: KeyType;
  /** Validity in days; default 365. Clamped to the CA's own expiry. */
  days?: number;
  /** Subject CN; default the first DNS name (or IP). Clients check the SANs, not the CN. */
  commonName?: string;
  /** Issue time (tests); default now. */
  now?: Date;
}

export const DEFAULT_CA_DAYS = 3650;
export const DEFAULT_LEAF_DAYS = 365;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Backdate notBefore a little so that a peer whose clock lags slightly accepts a fresh certificate. */
const BACKDATE_MS = 5 * 60 * 1000;

const OID_SHA256_WITH_RSA = "1.2.840.113549.1.1.11";
const OID_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";

/** The Service's DNS names as the API server dials them: NAME, NAME.NS, NAME.NS.svc, NAME.NS.svc.<domain>. */
export function serviceDnsNames(service: string, namespace: string, clusterDomain = "cluster.local"): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.${clusterDomain}`];
}

/** A new self-signed CA (basicConstraints CA:true, pathlen 0; keyCertSign, cRLSign). */
export function generateCA(opts: CAOptions = {}): PemPair {
  const now = opts.now ?? new Date();
  const keyType = opts.keyType ?? "rsa2048";
  const days = positiveDays(opts.days ?? DEFAULT_CA_DAYS, "CA validity");
  const key = generateKey(keyType);
  const commonName = opts.commonName ?? `virtguard CA ${now.toISOString().slice(0, 16)}Z`;
  const subject = [
    { name: "commonName", value: commonName },
    { name: "organizationName", value: "virtguard" },
  ];
  const spki = spkiDer(key);
  const ski = subjectKeyIdentifier(spki);
  const cert = buildCertificate({
    subject,
    issuer: subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    spki,
    extensions: [
      { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      skiExtension(ski),
      akiExtension(ski),
    ],
    issuerKey: key,
  });
  return { cert, key: pkcs8Pem(key) };
}

/** A serving certificate (serverAuth) for the given names, signed by `ca`. */
export function issueServingCert(ca: PemPair, opts: ServingCertOptions): PemPair {
  const dnsNames = unique(opts.dnsNames ?? []);
  const ips = unique((opts.ips ?? []).map(normalizeIp));
  for (const name of dnsNames) {
    if (!isDnsName(name)) throw new Error(`invalid DNS name "${name}"`);
  }
  if (dnsNames.length === 0 && ips.length === 0) throw new Error("a serving certificate needs at least one DNS name or IP address");
  const keyType = opts.keyType ?? "rsa2048";
  const altNames = [...dnsNames.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))];
  return issueLeaf(ca, {
    commonName: opts.commonName ?? dnsNames[0] ?? ips[0] ?? "virtguard",
    keyType,
    days: opts.days,
    now: opts.now,
    usage: [
      // keyEncipherment only matters for RSA key exchange (TLS 1.2 without ECDHE); harmless otherwise.
      { name: "keyUsage", digitalSignature: true, keyEncipherment: keyType !== "ecdsa-p256", critical: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames },
    ],
  });
}

export interface ClientCertOptions {
  /** Subject CN: the user name the server sees, e.g. "kube-apiserver". */
  commonName: string;
  /** Default "ecdsa-p256". */
  keyType?: KeyType;
  /** Validity in days; default 365. Clamped to the CA's own expiry. */
  days?: number;
  now?: Date;
}

/**
 * A client certificate (clientAuth), signed by `ca`: what the API server presents to a webhook
 * served with --client-ca, through the kubeconfig of its AdmissionConfiguration.
 */
export function issueClientCert(ca: PemPair, opts: ClientCertOptions): PemPair {
  const keyType = opts.keyType ?? "ecdsa-p256";
  return issueLeaf(ca, {
    commonName: opts.commonName,
    keyType,
    days: opts.days,
    now: opts.now,
    usage: [
      { name: "keyUsage", digitalSignature: true, keyEncipherment: keyType !== "ecdsa-p256", critical: true },
      { name: "extKeyUsage", clientAuth: true },
    ],
  });
}

/**
 * A leaf certificate signed by `ca` with a new key: valid from just before `now` for `days`
 * (clamped to the CA's own expiry), not a CA, with the key usage, extended key usage and names of
 * its use.
 */
function issueLeaf(ca: PemPair, leaf: { commonName: string; keyType: KeyType; days: number | undefined; now: Date | undefined; usage: object[] }): PemPair {
  const now = leaf.now ?? new Date();
  const days = positiveDays(leaf.days ?? DEFAULT_LEAF_DAYS, "certificate validity");
  const caCert = new X509Certificate(ca.cert);
  const caKey = createPrivateKey(ca.key);
  if (!caCert.ca) throw new Error("the CA certificate is not a CA (basicConstraints CA:false)");
  if (!caCert.checkPrivateKey(caKey)) throw new Error("the CA key does not match the CA certificate");
  const key = generateKey(leaf.keyType);
  const spki = spkiDer(key);
  const caNotAfter = new Date(caCert.validTo);
  const wanted = new Date(now.getTime() + days * DAY_MS);
  const notAfter = wanted.getTime() > caNotAfter.getTime() ? caNotAfter : wanted;
  if (notAfter.getTime() <= now.getTime()) throw new Error(`the CA expired on ${caNotAfter.toISOString()}`);
  const cert = buildCertificate({
    subject: [{ name: "commonName", value: leaf.commonName }],
    issuer: subjectNameOf(caCert),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    spki,
    extensions: [
      { name: "basicConstraints", cA: false, critical: true },
      ...leaf.usage,
      skiExtension(subjectKeyIdentifier(spki)),
      akiExtension(subjectKeyIdentifier(spkiDer(caKey))),
    ],
    issuerKey: caKey,
  });
  return { cert, key: pkcs8Pem(key) };
}

/**
 * An in-memory CA and a serving certificate for local use (the server's dev mode):
 * localhost, 127.0.0.1 and ::1, plus any extra names.
 */
export function generateDevCertificates(opts: { dnsNames?: string[]; ips?: string[]; keyType?: KeyType; days?: number } = {}): {
  ca: PemPair;
  serving: PemPair;
} {
  const keyType = opts.keyType ?? "ecdsa-p256";
  const ca = generateCA({ keyType, commonName: "virtguard dev CA (in-memory)", days: opts.days ?? 30 });
  const serving = issueServingCert(ca, {
    dnsNames: ["localhost", ...(opts.dnsNames ?? [])],
    ips: ["127.0.0.1", "::1", ...(opts.ips ?? [])],
    keyType,
    days: opts.days ?? 30,
  });
  return { ca, serving };
}

/** What a certificate says, for renewal decisions and messages. */
export interface CertInfo {
  subject: string;
  issuer: string;
  /** Hex, upper case, as node:crypto and openssl print it. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 fingerprint, colon-separated hex. */
  fingerprint256: string;
  dnsNames: string[];
  ips: string[];
  isCA: boolean;
  keyType: KeyType | undefined;
}

export function describeCertificate(pem: string): CertInfo {
  const x = new X509Certificate(pem);
  const sans = parseSubjectAltName(x.subjectAltName ?? "");
  return {
    subject: x.subject,
    issuer: x.issuer,
    serialNumber: x.serialNumber.toUpperCase(),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    fingerprint256: x.fingerprint256,
    dnsNames: sans.dnsNames,
    ips: sans.ips,
    isCA: x.ca,
    keyType: keyTypeOf(x.publicKey),
  };
}

/** The key type of a key or certificate (PEM or KeyObject); undefined for other kinds of key. */
export function keyTypeOf(keyOrCert: string | KeyObject): KeyType | undefined {
  let key: KeyObject;
  if (typeof keyOrCert === "string") {
    key = keyOrCert.includes("CERTIFICATE") ? new X509Certificate(keyOrCert).publicKey : createPublicKey(keyOrCert);
  } else {
    key = keyOrCert;
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") {
    if (details.modulusLength === 2048) return "rsa2048";
    if (details.modulusLength === 3072) return "rsa3072";
    return undefined;
  }
  if (key.asymmetricKeyType === "ec" && details.namedCurve === "prime256v1") return "ecdsa-p256";
  return undefined;
}

/** True when `certPem` carries a signature that `caPem`'s key verifies and names it as issuer. */
export function isIssuedBy(certPem: string, caPem: string): boolean {
  const cert = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/** True when the private key belongs to the certificate. */
export function certMatchesKey(certPem: string, keyPem: string): boolean {
  return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
}

/** The webhook's `caBundle`: base64 of the concatenated CA certificates (PEM). */
export function caBundle(...caPems: string[]): string {
  const pem = caPems.map((p) => p.trim() + "\n").join("");
  return Buffer.from(pem, "utf8").toString("base64");
}

// ---------------------------------------------------------------------------------------------

interface BuildInput {
  subject: forge.pki.CertificateField[];
  /** The issuer as attributes (self-signed), or the CA's encoded subject Name, copied byte for byte. */
  issuer: forge.pki.CertificateField[] | forge.asn1.Asn1;
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo of the subject's key. */
  spki: Buffer;
  extensions: object[];
  issuerKey: KeyObject;
}

/** Builds and signs an X.509 v3 certificate; returns PEM. */
function buildCertificate(input: BuildInput): string {
  const { asn1 } = forge;
  const cert = forge.pki.createCertificate();
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = input.notBefore;
  cert.validity.notAfter = input.notAfter;
  cert.setSubject(input.subject);
  if (Array.isArray(input.issuer)) cert.setIssuer(input.issuer);
  else cert.setIssuer(input.subject);
  cert.setExtensions(input.extensions);
  // forge serializes only RSA public keys: give it a placeholder and put the real SubjectPublicKeyInfo in below.
  cert.publicKey = placeholderRsaKey();
  cert.siginfo.algorithmOid = OID_SHA256_WITH_RSA;

  const issuerIsRsa = input.issuerKey.asymmetricKeyType === "rsa";
  if (!issuerIsRsa && input.issuerKey.asymmetricKeyType !== "ec") {
    throw new Error(`unsupported issuer key type ${String(input.issuerKey.asymmetricKeyType)}`);
  }
  const sigAlg = issuerIsRsa
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(OID_SHA256_WITH_RSA).getBytes()),
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ""),
      ])
    : // RFC 5758: ecdsa-with-SHA256 has no parameters field at all.
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(OID_ECDSA_WITH_SHA256).getBytes()),
      ]);

  // Present in node-forge, missing from @types/node-forge.
  const { getTBSCertificate } = forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 };
  const tbs = getTBSCertificate(cert);
  const fields = tbs.value as forge.asn1.Asn1[];
  // TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ... }
  fields[2] = sigAlg;
  if (!Array.isArray(input.issuer)) fields[3] = input.issuer;
  fields[6] = derToAsn1(input.spki);
  const tbsDer = asn1.toDer(tbs).getBytes();

  let signature: string;
  if (issuerIsRsa) {
    const forgeKey = forge.pki.privateKeyFromPem(input.issuerKey.export({ type: "pkcs1", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey;
    const md = forge.md.sha256.create();
    md.update(tbsDer, "raw");
    signature = forgeKey.sign(md);
  } else {
    // DER-encoded ECDSA-Sig-Value, as X.509 wants it.
    signature = cryptoSign("sha256", Buffer.from(tbsDer, "binary"), { key: input.issuerKey, dsaEncoding: "der" }).toString("binary");
  }

  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    sigAlg,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(0x00) + signature),
  ]);
  const der = asn1.toDer(certificate).getBytes();
  const pem = toPem("CERTIFICATE", Buffer.from(der, "binary"));

  // Self-check: the result parses and the issuer's key verifies it.
  const parsed = new X509Certificate(pem);
  if (!parsed.verify(createPublicKey(input.issuerKey))) throw new Error("internal error: the new certificate does not verify");
  return pem;
}

function generateKey(keyType: KeyType): KeyObject {
  switch (keyType) {
    case "rsa2048":
    case "rsa3072": {
      const bits = keyType === "rsa2048" ? 2048 : 3072;
      const pair = forge.pki.rsa.generateKeyPair({ bits, e: 0x10001 });
      return createPrivateKey(forge.pki.privateKeyToPem(pair.privateKey));
    }
    case "ecdsa-p256":
      return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    default:
      throw new Error(`unknown key type "${String(keyType)}"; use one of ${KEY_TYPES.join(", ")}`);
  }
}

/** Parses DER, leaving BIT STRING contents undecoded so that they re-encode byte for byte. */
function derToAsn1(der: Buffer): forge.asn1.Asn1 {
  // node-forge takes an options object here; @types/node-forge only knows the older boolean form.
  const fromDer = forge.asn1.fromDer as unknown as (bytes: forge.util.ByteStringBuffer, options: { decodeBitStrings: boolean }) => forge.asn1.Asn1;
  return fromDer(forge.util.createBuffer(der.toString("binary")), { decodeBitStrings: false });
}

/**
 * The CA's subject Name exactly as encoded in its certificate (forge cannot parse certificates with
 * EC keys, so this walks the ASN.1 rather than using forge.pki.certificateFromPem).
 */
function subjectNameOf(ca: X509Certificate): forge.asn1.Asn1 {
  const parsed = derToAsn1(ca.raw);
  const tbs = (parsed.value as forge.asn1.Asn1[])[0];
  const subject = tbs && Array.isArray(tbs.value) ? tbs.value[5] : undefined;
  if (!subject) throw new Error("internal error: malformed CA certificate");
  return subject;
}

function spkiDer(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: "spki", format: "der" });
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's bits. */
function subjectKeyIdentifier(spki: Buffer): string {
  const parsed = derToAsn1(spki);
  const bitString = (parsed.value as forge.asn1.Asn1[])[1];
  if (!bitString || typeof bitString.value !== "string") throw new Error("internal error: malformed SubjectPublicKeyInfo");
  // The first byte of a BIT STRING's content is the count of unused bits.
  const keyBits = Buffer.from(bitString.value.slice(1), "binary");
  return createHash("sha1").update(keyBits).digest().toString("binary");
}

function skiExtension(ski: string): object {
  return {
    name: "subjectKeyIdentifier",
    value: forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.OCTETSTRING, false, ski),
  };
}

function akiExtension(keyId: string): object {
  return {
    name: "authorityKeyIdentifier",
    value: forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SEQUENCE, true, [
      forge.asn1.create(forge.asn1.Class.CONTEXT_SPECIFIC, 0, false, keyId),
    ]),
  };
}

let placeholder: forge.pki.rsa.PublicKey | undefined;
function placeholderRsaKey(): forge.pki.rsa.PublicKey {
  placeholder ??= forge.pki.setRsaPublicKey(new forge.jsbn.BigInteger("3", 10), new forge.jsbn.BigInteger("3", 10));
  return placeholder;
}

/** 128 random bits, positive, no leading zero byte (RFC 5280: at most 20 octets, positive). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString("hex");
}

function pkcs8Pem(key: KeyObject): string {
  return key.export({ type: "pkcs8", format: "pem" }).toString();
}

function toPem(label: string, der: Buffer): string {
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function positiveDays(days: number, what: string): number {
  if (!Number.isFinite(days) || days <= 0) throw new Error(`${what} must be a positive number of days, not ${days}`);
  return days;
}

function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((label, i) => (i === 0 && label === "*") || /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label));
}

function normalizeIp(ip: string): string {
  const bare = ip.startsWith("[") && ip.endsWith("]") ? ip.slice(1, -1) : ip;
  if (isIP(bare) === 0) throw new Error(`invalid IP address "${ip}"`);
  return bare;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

/** Parses node:crypto's subjectAltName string: `DNS:a, DNS:b, IP Address:10.0.0.1`. */
function parseSubjectAltName(text: string): { dnsNames: string[]; ips: string[] } {
  const dnsNames: string[] = [];
  const ips: string[] = [];
  for (const part of text.split(/,\s*/)) {
    if (part.startsWith("DNS:")) dnsNames.push(part.slice(4));
    else if (part.startsWith("IP Address:")) ips.push(part.slice(11));
  }
  return { dnsNames, ips };
}
