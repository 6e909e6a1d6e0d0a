import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import type { Logger } from "./logger.js";
import type { ServerMetrics } from "./metrics.js";
import { generateDevCertificates } from "../pki/tls-certs.js";
import { DirectoryWatcher } from "./watch.js";

/**
 * TLS 1.2 at least. For TLS 1.2 only AEAD suites with forward secrecy (Mozilla's "intermediate"
 * list, which is what the Go TLS client in the API server prefers anyway); TLS 1.3 suites are
 * OpenSSL's defaults, all of them modern.
 */
export const TLS_OPTIONS: SecureContextOptions = {
  minVersion: "TLSv1.2",
  ciphers: [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
  ].join(":"),
  ecdhCurve: "X25519:prime256v1:secp384r1",
  honorCipherOrder: true,
};

/** A serving certificate and its key, checked to be a usable pair. */
export interface CertPair {
  cert: string;
  key: string;
  notAfter: Date;
  /** SHA-256, colon-separated hex, as openssl prints it. */
  fingerprint256: string;
  subjectAltName: string;
}

/** Throws unless `cert` is a certificate and `key` its private key (the same check the TLS stack makes). */
export function checkPair(cert: string, key: string): CertPair {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`not a PEM certificate: ${(err as Error).message}`);
  }
  try {
    createSecureContext({ ...TLS_OPTIONS, cert, key });
  } catch (err) {
    throw new Error(`certificate and key do not form a usable pair: ${(err as Error).message}`);
  }
  return { cert, key, notAfter: new Date(x509.validTo), fingerprint256: x509.fingerprint256, subjectAltName: x509.subjectAltName ?? "" };
}

export function readPair(certFile: string, keyFile: string): CertPair {
  const read = (file: string, what: string): string => {
    try {
      return readFileSync(file, "utf8");
    } catch (err) {
      throw new Error(`${what} ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const cert = read(certFile, "--tls-cert");
  const key = read(keyFile, "--tls-key");
  try {
    return checkPair(cert, key);
  } catch (err) {
    throw new Error(`${certFile} + ${keyFile}: ${(err as Error).message}`);
  }
}

/** Where the dev CA goes unless --dev-ca-file says otherwise: outside the repository, readable by curl. */
export const DEFAULT_DEV_CA_FILE = join(tmpdir(), "virtguard-dev", "ca.crt");

export interface DevCertificates {
  pair: CertPair;
  caPem: string;
  caFile: string;
}

/**
 * Development mode: a fresh in-memory CA and a serving certificate for localhost, 127.0.0.1 and ::1.
 * Only the CA certificate is written (atomically, so a concurrent reader never sees half a file);
 * no private key touches the disk.
 */
export function createDevCertificates(caFile: string = DEFAULT_DEV_CA_FILE, extra: { dnsNames?: string[]; ips?: string[] } = {}): DevCertificates {
  const { ca, serving } = generateDevCertificates({ dnsNames: extra.dnsNames, ips: extra.ips, keyType: "ecdsa-p256", days: 30 });
  mkdirSync(dirname(caFile), { recursive: true });
  const tmp = `${caFile}.${process.pid}.tmp`;
  writeFileSync(tmp, ca.cert, { mode: 0o644 });
  renameSync(tmp, caFile);
  return { pair: checkPair(serving.cert, serving.key), caPem: ca.cert, caFile };
}

/**
 * --tls-cert/--tls-key, reloaded when they change on disk (cert-manager, a rotation job, a Secret
 * update). A new pair is only applied when it loads and matches; otherwise the error is logged, counted,
 * and the old pair keeps serving. New connections get the new pair; open ones keep theirs.
 */
export class CertificateFiles {
  private current: CertPair;
  private lastRejected: string | undefined;
  private watcher: DirectoryWatcher | undefined;

  constructor(
    readonly certFile: string,
    readonly keyFile: string,
    private readonly apply: (pair: CertPair) => void,
    private readonly logger: Logger,
    private readonly metrics: ServerMetrics,
  ) {
    this.current = readPair(certFile, keyFile);
    this.loaded(this.current, "loaded");
  }

  get pair(): CertPair {
    return this.current;
  }

  private loaded(pair: CertPair, msg: string): void {
    this.metrics.certReloads.inc();
    this.metrics.certNotAfter.set(Math.floor(pair.notAfter.getTime() / 1000));
    this.logger.info({ certFile: this.certFile, notAfter: pair.notAfter.toISOString(), fingerprint256: pair.fingerprint256, san: pair.subjectAltName }, `serving certificate ${msg}`);
  }

  /** Re-reads both files; applies a changed, valid pair. */
  check(): "unchanged" | "reloaded" | "rejected" {
    let cert: string;
    let key: string;
    try {
      cert = readFileSync(this.certFile, "utf8");
      key = readFileSync(this.keyFile, "utf8");
    } catch (err) {
      return this.reject(`read:${(err as Error).message}`, err as Error);
    }
    if (cert === this.current.cert && key === this.current.key) {
      this.lastRejected = undefined;
      return "unchanged";
    }
    const attempt = `${cert}\0${key}`;
    if (attempt === this.lastRejected) return "rejected";
    let pair: CertPair;
    try {
      pair = checkPair(cert, key);
      this.apply(pair);
    } catch (err) {
      return this.reject(attempt, err as Error);
    }
    this.current = pair;
    this.lastRejected = undefined;
    this.loaded(pair, "reloaded");
    return "reloaded";
  }

  private reject(key: string, err: Error): "rejected" {
    if (key !== this.lastRejected) {
      this.lastRejected = key;
      this.metrics.certReloadErrors.inc();
      this.logger.error(
        { err: err.message, certFile: this.certFile, keyFile: this.keyFile, servingFingerprint256: this.current.fingerprint256 },
        "certificate reload rejected; the previous certificate keeps serving",
      );
    }
    return "rejected";
  }

  watch(debounceMs: number, pollMs: number): void {
    this.watcher?.close();
    this.watcher = new DirectoryWatcher({
      dirs: [dirname(this.certFile), dirname(this.keyFile)],
      debounceMs,
      pollMs,
      onChange: () => void this.check(),
      onError: (err, dir) => this.logger.warn({ err: err.message, dir }, "certificate directory watch failed; polling continues"),
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
