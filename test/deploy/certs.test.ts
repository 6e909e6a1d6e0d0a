// `virtguard certs` as a process, checked with openssl as an independent verifier.
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readYaml } from "../../src/yaml/read.js";
import { requireTool, removeTempDirs, tempDir, tool, virtguard } from "./helpers.js";

requireTool("openssl", ["version"]);

const DAY = 86_400_000;

function read(dir: string, file: string): string {
  return readFileSync(join(dir, file), "utf8");
}

function mode(dir: string, file: string): number {
  return statSync(join(dir, file)).mode & 0o777;
}

function opensslVerify(dir: string): void {
  const r = tool("openssl", ["verify", "-CAfile", join(dir, "ca.crt"), join(dir, "tls.crt")]);
  assert.equal(r.code, 0, `openssl verify failed: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /tls\.crt: OK/);
}

function opensslText(file: string): string {
  const r = tool("openssl", ["x509", "-in", file, "-text", "-noout"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function serialAndFingerprint(dir: string): string {
  const x = new X509Certificate(read(dir, "tls.crt"));
  return `${x.serialNumber}/${x.fingerprint256}`;
}

describe("virtguard certs", () => {
  let dir: string; // the default run: rsa2048, extra --host and --ip
  let run: ReturnType<typeof virtguard>;

  after(removeTempDirs);
  before(() => {
    dir = tempDir();
    run = virtguard(["certs", "--host", "virtguard.example.internal", "--ip", "10.0.0.7", "--ip", "::1"], { cwd: dir });
  });

  test("writes ca.crt, ca.key, tls.crt and tls.key into certs/ and prints the caBundle", () => {
    assert.equal(run.code, 0, run.stderr);
    const out = join(dir, "certs");
    for (const f of ["ca.crt", "ca.key", "tls.crt", "tls.key"]) assert.ok(existsSync(join(out, f)), `${f} missing`);
    // stdout is exactly the base64 caBundle: the CA certificate.
    const lines = run.stdout.trim().split("\n");
    assert.equal(lines.length, 1);
    assert.equal(Buffer.from(lines[0] ?? "", "base64").toString("utf8"), read(out, "ca.crt"));
    assert.match(run.stderr, /generated a new CA/);
  });

  test("keys are mode 0600, certificates 0644", () => {
    const out = join(dir, "certs");
    assert.equal(mode(out, "tls.key"), 0o600);
    assert.equal(mode(out, "ca.key"), 0o600);
    assert.equal(mode(out, "tls.crt"), 0o644);
    assert.equal(mode(out, "ca.crt"), 0o644);
  });

  test("openssl verify -CAfile ca.crt tls.crt passes", () => {
    opensslVerify(join(dir, "certs"));
  });

  test("openssl x509 -text shows every SAN, serverAuth, CA:FALSE", () => {
    const text = opensslText(join(dir, "certs", "tls.crt"));
    for (const san of [
      "DNS:virtguard,",
      "DNS:virtguard.virtguard,",
      "DNS:virtguard.virtguard.svc,",
      "DNS:virtguard.virtguard.svc.cluster.local,",
      "DNS:virtguard.example.internal,",
      "IP Address:10.0.0.7",
      "IP Address:0:0:0:0:0:0:0:1",
    ]) {
      assert.ok(text.includes(san), `SAN ${san} missing:\n${text}`);
    }
    assert.match(text, /TLS Web Server Authentication/);
    assert.match(text, /CA:FALSE/);
    assert.match(text, /Public-Key: \(2048 bit\)/);
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    const ca = opensslText(join(dir, "certs", "ca.crt"));
    assert.match(ca, /CA:TRUE/);
    assert.match(ca, /Certificate Sign/);
  });

  test("validity: CA 10 years, serving certificate 1 year", () => {
    const ca = new X509Certificate(read(join(dir, "certs"), "ca.crt"));
    const leaf = new X509Certificate(read(join(dir, "certs"), "tls.crt"));
    const caDays = (Date.parse(ca.validTo) - Date.now()) / DAY;
    const leafDays = (Date.parse(leaf.validTo) - Date.now()) / DAY;
    assert.ok(caDays > 3649 && caDays <= 3650, `CA valid for ${caDays} days`);
    assert.ok(leafDays > 364 && leafDays <= 365, `leaf valid for ${leafDays} days`);
  });

  test("refuses to replace an existing CA without --renew-before or --force", () => {
    const out = join(dir, "certs");
    const before = read(out, "ca.crt") + read(out, "tls.crt");
    const r = virtguard(["certs"], { cwd: dir });
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(r.stderr, /already holds a certificate.*--renew-before/);
    assert.equal(read(out, "ca.crt") + read(out, "tls.crt"), before);
  });

  test("--renew-before: unchanged while the certificate is far from expiry", () => {
    const out = join(dir, "certs");
    const was = { id: serialAndFingerprint(out), ca: read(out, "ca.crt"), key: read(out, "tls.key"), mtime: statSync(join(out, "tls.crt")).mtimeMs };
    const r = virtguard(["certs", "--renew-before", "30d"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /nothing to do/);
    assert.equal(serialAndFingerprint(out), was.id, "the serving certificate changed");
    assert.equal(read(out, "tls.key"), was.key);
    assert.equal(read(out, "ca.crt"), was.ca);
    assert.equal(statSync(join(out, "tls.crt")).mtimeMs, was.mtime, "tls.crt was rewritten");
    // The caBundle is printed all the same, for scripts.
    assert.equal(Buffer.from(r.stdout.trim(), "base64").toString("utf8"), was.ca);
  });

  test("--renew-before: renewed with the same CA when it expires within the window", () => {
    const d = tempDir();
    const first = virtguard(["certs", "--key-type", "ecdsa-p256", "--days", "10", "--host", "extra.example"], { cwd: d });
    assert.equal(first.code, 0, first.stderr);
    const out = join(d, "certs");
    const was = { id: serialAndFingerprint(out), ca: read(out, "ca.crt"), caKey: read(out, "ca.key") };

    const r = virtguard(["certs", "--renew-before", "30d"], { cwd: d });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /renewing certs\/tls\.crt: it expires on .*, within 30d/);
    assert.notEqual(serialAndFingerprint(out), was.id, "the serving certificate was not renewed");
    assert.equal(read(out, "ca.crt"), was.ca, "the CA changed");
    assert.equal(read(out, "ca.key"), was.caKey, "the CA key changed");
    opensslVerify(out);
    const leaf = new X509Certificate(read(out, "tls.crt"));
    assert.ok((Date.parse(leaf.validTo) - Date.now()) / DAY > 364, "renewed for the default year");
    // The renewal keeps the key type and the extra name of the certificate it replaces.
    assert.equal(leaf.publicKey.asymmetricKeyType, "ec");
    assert.match(leaf.subjectAltName ?? "", /DNS:extra\.example/);
    assert.equal(mode(out, "tls.key"), 0o600);

    // And now it is a no-op again.
    const again = virtguard(["certs", "--renew-before", "30d"], { cwd: d });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /nothing to do/);
  });

  for (const [keyType, expect] of [
    ["rsa2048", /Public-Key: \(2048 bit\)/],
    ["rsa3072", /Public-Key: \(3072 bit\)/],
    ["ecdsa-p256", /ASN1 OID: prime256v1/],
  ] as const) {
    test(`--key-type ${keyType}: openssl verifies it and the key matches the certificate`, () => {
      const d = tempDir();
      const r = virtguard(["certs", "--key-type", keyType, "--out", "tls", "--name", "guard", "--namespace", "sec"], { cwd: d });
      assert.equal(r.code, 0, r.stderr);
      const out = join(d, "tls");
      opensslVerify(out);
      const text = opensslText(join(out, "tls.crt"));
      assert.match(text, expect);
      assert.match(text, /DNS:guard, DNS:guard\.sec, DNS:guard\.sec\.svc, DNS:guard\.sec\.svc\.cluster\.local/);
      assert.match(opensslText(join(out, "ca.crt")), expect, "the CA uses the same key type");
      // openssl's view of the public key from tls.key equals the certificate's.
      const fromKey = tool("openssl", ["pkey", "-in", join(out, "tls.key"), "-pubout"]);
      const fromCert = tool("openssl", ["x509", "-in", join(out, "tls.crt"), "-pubkey", "-noout"]);
      assert.equal(fromKey.code, 0, fromKey.stderr);
      assert.equal(fromKey.stdout, fromCert.stdout);
      assert.equal(mode(out, "tls.key"), 0o600);
      assert.equal(mode(out, "ca.key"), 0o600);
    });
  }

  test("--secret prints a kubernetes.io/tls Secret and writes no files", () => {
    const d = tempDir();
    const r = virtguard(["certs", "--secret", "--namespace", "sec", "--key-type", "ecdsa-p256"], { cwd: d });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(join(d, "certs")), "--secret alone wrote files");
    const secret = readYaml(r.stdout, { version: "1.1" }) as {
      apiVersion: string;
      kind: string;
      type: string;
      metadata: { name: string; namespace: string };
      data: Record<string, string>;
    };
    assert.equal(secret.apiVersion, "v1");
    assert.equal(secret.kind, "Secret");
    assert.equal(secret.type, "kubernetes.io/tls");
    assert.equal(secret.metadata.name, "virtguard-tls");
    assert.equal(secret.metadata.namespace, "sec");
    assert.deepEqual(Object.keys(secret.data).sort(), ["ca.crt", "tls.crt", "tls.key"]);
    const pem = (k: string): string => Buffer.from(secret.data[k] ?? "", "base64").toString("utf8");
    const leaf = new X509Certificate(pem("tls.crt"));
    const ca = new X509Certificate(pem("ca.crt"));
    assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey), "tls.crt is not signed by ca.crt");
    assert.ok(leaf.checkPrivateKey(createPrivateKey(pem("tls.key"))), "tls.key does not match tls.crt");
    assert.match(leaf.subjectAltName ?? "", /DNS:virtguard\.sec\.svc\.cluster\.local/);
    assert.match(r.stderr, /caBundle: /);
  });

  test("--secret --renew-before uses the files in --out: the Secret holds the same certificate", () => {
    const out = join(dir, "certs");
    const r = virtguard(["certs", "--secret", "--renew-before", "30d", "--secret-name", "webhook-tls"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /nothing to do/);
    const secret = readYaml(r.stdout, { version: "1.1" }) as { metadata: { name: string }; data: Record<string, string> };
    assert.equal(secret.metadata.name, "webhook-tls");
    assert.equal(Buffer.from(secret.data["tls.crt"] ?? "", "base64").toString("utf8"), read(out, "tls.crt"));
    assert.equal(Buffer.from(secret.data["tls.key"] ?? "", "base64").toString("utf8"), read(out, "tls.key"));
    assert.equal(Buffer.from(secret.data["ca.crt"] ?? "", "base64").toString("utf8"), read(out, "ca.crt"));
  });

  test("--force replaces the CA", () => {
    const d = tempDir();
    assert.equal(virtguard(["certs", "--key-type", "ecdsa-p256"], { cwd: d }).code, 0);
    const ca = read(join(d, "certs"), "ca.crt");
    const r = virtguard(["certs", "--key-type", "ecdsa-p256", "--force"], { cwd: d });
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(read(join(d, "certs"), "ca.crt"), ca);
  });

  test("a CA key that does not match ca.crt is refused", () => {
    const d = tempDir();
    assert.equal(virtguard(["certs", "--key-type", "ecdsa-p256", "--out", "a"], { cwd: d }).code, 0);
    assert.equal(virtguard(["certs", "--key-type", "ecdsa-p256", "--out", "b"], { cwd: d }).code, 0);
    // b's CA certificate with a's CA key.
    const r0 = tool("cp", [join(d, "a", "ca.key"), join(d, "b", "ca.key")]);
    assert.equal(r0.code, 0);
    const r = virtguard(["certs", "--renew-before", "30d", "--out", "b"], { cwd: d });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ca\.key does not belong to .*ca\.crt/);
  });

  for (const [args, message] of [
    [["--key-type", "dsa"], /--key-type "dsa" is not one of rsa2048, rsa3072, ecdsa-p256/],
    [["--renew-before", "30x"], /--renew-before: invalid duration "30x"/],
    [["--ip", "10.0.0.300"], /--ip "10.0.0.300" is not an IP address/],
    [["--days", "0"], /--days "0" must be a positive number of days/],
    [["--namespace", "Bad_NS"], /--namespace "Bad_NS" is not a DNS-1123 label/],
    [["--bogus"], /Unknown option '--bogus'/],
  ] as const) {
    test(`bad input ${args.join(" ")}: one line on stderr, exit 2`, () => {
      const d = tempDir();
      const r = virtguard(["certs", ...args], { cwd: d });
      assert.equal(r.code, 2);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.ok(!existsSync(join(d, "certs")));
    });
  }

  test("--help explains the flags with examples", () => {
    const r = virtguard(["certs", "--help"]);
    assert.equal(r.code, 0);
    for (const s of ["--renew-before", "--secret", "--key-type", "--host", "--ip", "Examples:", "openssl verify"]) assert.ok(r.stdout.includes(s), s);
  });

  test("the public key in tls.key is the certificate's (node:crypto view)", () => {
    const out = join(dir, "certs");
    const fromKey = createPublicKey(createPrivateKey(read(out, "tls.key"))).export({ type: "spki", format: "der" });
    const fromCert = new X509Certificate(read(out, "tls.crt")).publicKey.export({ type: "spki", format: "der" });
    assert.ok(fromKey.equals(fromCert));
  });
});
