// The certificate library that `virtguard certs` and serve's in-memory dev CA share.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { request, createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import {
  KEY_TYPES,
  caBundle,
  certMatchesKey,
  describeCertificate,
  generateCA,
  generateDevCertificates,
  isIssuedBy,
  issueServingCert,
  keyTypeOf,
  serviceDnsNames,
} from "../../src/pki/tls-certs.js";

const DAY = 86_400_000;

/** GET https://127.0.0.1:port/ with `servername` and `ca`; resolves to the body or rejects with the TLS error. */
function get(port: number, ca: string, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", ca, servername, agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("tls-certs", () => {
  test("the dev certificates serve TLS that a Node client verifies by hostname", async () => {
    const { ca, serving } = generateDevCertificates();
    const server = createServer({ cert: serving.cert, key: serving.key, minVersion: "TLSv1.2" }, (_req, res) => res.end("ok"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as AddressInfo;
      assert.equal(await get(port, ca.cert, "localhost"), "ok");
      // The name must be in the SANs, and the CA must be the one that signed it.
      await assert.rejects(get(port, ca.cert, "virtguard.virtguard.svc"), /altnames|Hostname\/IP does not match/i);
      const other = generateCA({ keyType: "ecdsa-p256" });
      await assert.rejects(get(port, other.cert, "localhost"), /self.signed|unable to verify|certificate/i);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test("a Service certificate for each CA and leaf key type combination", () => {
    for (const caType of ["rsa2048", "ecdsa-p256"] as const) {
      const ca = generateCA({ keyType: caType });
      assert.equal(keyTypeOf(ca.cert), caType);
      assert.equal(describeCertificate(ca.cert).isCA, true);
      for (const leafType of KEY_TYPES) {
        if (leafType === "rsa3072" && caType === "ecdsa-p256") continue; // covered by the CLI tests; slow keygen
        const leaf = issueServingCert(ca, { dnsNames: serviceDnsNames("virtguard", "ns"), keyType: leafType });
        assert.ok(isIssuedBy(leaf.cert, ca.cert), `${caType} -> ${leafType}`);
        assert.ok(certMatchesKey(leaf.cert, leaf.key));
        assert.equal(keyTypeOf(leaf.cert), leafType);
        assert.equal(keyTypeOf(leaf.key), leafType);
        assert.match(leaf.key, /^-----BEGIN PRIVATE KEY-----/);
        const info = describeCertificate(leaf.cert);
        assert.deepEqual(info.dnsNames, ["virtguard", "virtguard.ns", "virtguard.ns.svc", "virtguard.ns.svc.cluster.local"]);
        assert.equal(info.isCA, false);
      }
    }
  });

  test("serial numbers are random and positive", () => {
    const ca = generateCA({ keyType: "ecdsa-p256" });
    const serials = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const s = describeCertificate(issueServingCert(ca, { dnsNames: ["a"], keyType: "ecdsa-p256" }).cert).serialNumber;
      assert.match(s, /^[4-7][0-9A-F]{31}$/);
      serials.add(s);
    }
    assert.equal(serials.size, 5);
  });

  test("a serving certificate never outlives its CA", () => {
    const ca = generateCA({ keyType: "ecdsa-p256", days: 20 });
    const leaf = issueServingCert(ca, { dnsNames: ["a"], keyType: "ecdsa-p256", days: 365 });
    assert.equal(describeCertificate(leaf.cert).notAfter.getTime(), describeCertificate(ca.cert).notAfter.getTime());
  });

  test("validity defaults: CA 10 years, leaf 1 year, backdated 5 minutes for clock skew", () => {
    const now = new Date("2030-01-01T00:00:00Z");
    const ca = generateCA({ keyType: "ecdsa-p256", now });
    const leaf = issueServingCert(ca, { dnsNames: ["a"], keyType: "ecdsa-p256", now });
    const c = describeCertificate(ca.cert);
    const l = describeCertificate(leaf.cert);
    assert.equal(c.notAfter.getTime() - now.getTime(), 3650 * DAY);
    assert.equal(l.notAfter.getTime() - now.getTime(), 365 * DAY);
    assert.equal(now.getTime() - l.notBefore.getTime(), 5 * 60_000);
  });

  test("the leaf names its issuer exactly as the CA names itself", () => {
    const ca = generateCA({ keyType: "ecdsa-p256", commonName: "Example CA" });
    const leaf = issueServingCert(ca, { dnsNames: ["a"], ips: ["192.0.2.1", "[2001:db8::1]"], keyType: "ecdsa-p256" });
    const x = new X509Certificate(leaf.cert);
    assert.equal(x.issuer, new X509Certificate(ca.cert).subject);
    assert.deepEqual(describeCertificate(leaf.cert).ips, ["192.0.2.1", "2001:DB8:0:0:0:0:0:1"]);
  });

  test("bad input is refused", () => {
    const ca = generateCA({ keyType: "ecdsa-p256" });
    assert.throws(() => issueServingCert(ca, { dnsNames: [] }), /at least one DNS name or IP/);
    assert.throws(() => issueServingCert(ca, { dnsNames: ["bad name"] }), /invalid DNS name/);
    assert.throws(() => issueServingCert(ca, { ips: ["10.0.0.256"] }), /invalid IP address/);
    assert.throws(() => issueServingCert(ca, { dnsNames: ["a"], days: 0 }), /positive number of days/);
    const leaf = issueServingCert(ca, { dnsNames: ["a"], keyType: "ecdsa-p256" });
    assert.throws(() => issueServingCert(leaf, { dnsNames: ["b"] }), /not a CA/);
    assert.throws(() => issueServingCert({ cert: ca.cert, key: leaf.key }, { dnsNames: ["b"] }), /CA key does not match/);
    assert.throws(() => generateCA({ keyType: "rsa1024" as never }), /unknown key type/);
  });


  test("caBundle concatenates PEM certificates and base64-encodes them", () => {
    const a = generateCA({ keyType: "ecdsa-p256" });
    const b = generateCA({ keyType: "ecdsa-p256" });
    const decoded = Buffer.from(caBundle(a.cert, b.cert), "base64").toString("utf8");
    assert.equal(decoded, a.cert + b.cert);
  });
});
