// The server's posture against callers that are not the API server: client certificates
// (--client-ca), the connection cap, connections that never start TLS, metrics off the webhook
// port, and request strings cut in logs. Real TLS with real certificates throughout.
import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { request as httpRequest } from "node:http";
import { connect as tlsConnect } from "node:tls";
import { after, before, describe, test } from "node:test";
import { generateCA, issueClientCert, issueServingCert } from "../../src/pki/tls-certs.js";
import { send, startTestServer, vmReview, type TestServer } from "./helpers.js";

const body = JSON.stringify(vmReview({ uid: "uid-mtls", cores: 2 }));

function httpGet(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    })
      .on("error", reject)
      .end();
  });
}

describe("--client-ca: only clients with a certificate it signed may call /validate", () => {
  const clientCa = generateCA({ keyType: "ecdsa-p256", commonName: "apiserver client CA" });
  const apiserver = issueClientCert(clientCa, { commonName: "kube-apiserver" });
  const otherCa = generateCA({ keyType: "ecdsa-p256", commonName: "someone else" });
  const intruder = issueClientCert(otherCa, { commonName: "kube-apiserver" });
  // A serving certificate has no clientAuth usage: it must not pass as a client one.
  const servingFromTheSameCa = issueServingCert(clientCa, { dnsNames: ["virtguard"], keyType: "ecdsa-p256" });
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ clientCa: clientCa.cert });
  });
  after(() => s.close());
  const url = () => `https://localhost:${s.port}/validate`;

  test("a client certificate signed by the CA: the review is answered", async () => {
    const r = await send(url(), { ca: s.ca, body, cert: apiserver.cert, key: apiserver.key, agent: false });
    assert.equal(r.status, 200);
    assert.equal((r.json().response as { uid: string }).uid, "uid-mtls");
  });

  for (const [what, pair] of [
    ["no client certificate", undefined],
    ["a certificate from another CA", intruder],
    ["a serving (not client) certificate from the CA", servingFromTheSameCa],
  ] as const) {
    test(`${what}: 401 with a JSON reason, nothing evaluated`, async () => {
      const before = s.logs.find("/validate refused: the client certificate is not signed by --client-ca").length;
      const r = await send(url(), { ca: s.ca, body, agent: false, ...(pair ? { cert: pair.cert, key: pair.key } : {}) });
      assert.equal(r.status, 401);
      assert.match(String(r.json().error), /a client certificate signed by the configured client CA is required/);
      assert.equal(s.logs.find("/validate refused: the client certificate is not signed by --client-ca").length, before + 1);
    });
  }

  test("/healthz and /readyz stay open for the kubelet, which presents no certificate", async () => {
    assert.equal((await send(`https://localhost:${s.port}/healthz`, { ca: s.ca, agent: false })).status, 200);
    assert.equal((await send(`https://localhost:${s.port}/readyz`, { ca: s.ca, agent: false })).status, 200);
  });
});

describe("connections", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ maxConnections: 4, tlsHandshakeTimeoutMs: 500, metricsPort: 0 });
  });
  after(() => s.close());

  test("a connection that never starts TLS is closed after --tls-handshake-timeout", async () => {
    const started = performance.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const sock = netConnect(s.port, "127.0.0.1");
      sock.on("error", () => undefined);
      sock.on("close", () => resolve(performance.now() - started));
      setTimeout(() => reject(new Error("still open after 5 s")), 5000).unref();
    });
    assert.ok(closedAfter >= 400 && closedAfter < 4000, `closed after ${closedAfter.toFixed(0)} ms`);
  });

  test("past --max-connections new connections are closed at once and counted; the open ones keep working", async () => {
    const held = await Promise.all(
      Array.from({ length: 4 }, () => new Promise<ReturnType<typeof tlsConnect>>((resolve, reject) => {
        const t = tlsConnect({ port: s.port, host: "127.0.0.1", servername: "localhost", ca: s.ca }, () => resolve(t));
        t.on("error", reject);
      })),
    );
    try {
      const refused = await new Promise<string>((resolve) => {
        const t = tlsConnect({ port: s.port, host: "127.0.0.1", servername: "localhost", ca: s.ca }, () => resolve("connected"));
        t.on("error", (err) => resolve(`error: ${err.message}`));
        t.on("close", () => resolve("closed"));
      });
      assert.notEqual(refused, "connected");
      const metrics = await httpGet(`http://127.0.0.1:${s.running.metricsPort}/metrics`);
      assert.match(metrics.text, /virtguard_dropped_connections_total [1-9]/);
    } finally {
      for (const t of held) t.destroy();
    }
    // Below the cap again: served.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await send(`https://localhost:${s.port}/healthz`, { ca: s.ca, agent: false })).status, 200);
  });

  test("/metrics is on its own plain-HTTP port, not on the webhook port", async () => {
    const metrics = await httpGet(`http://127.0.0.1:${s.running.metricsPort}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /virtguard_admission_requests_in_flight/);
    assert.equal((await send(`https://localhost:${s.port}/metrics`, { ca: s.ca, agent: false })).status, 404);
  });
});

test("names, users and uids from a request are cut in the logs; the response still echoes the whole uid", async () => {
  const s = await startTestServer({ logLevel: "debug" });
  try {
    const long = "n".repeat(100_000);
    const review = vmReview({ uid: `u${"x".repeat(5000)}`, cores: 300, username: `user-${long}` });
    (review.request as { name: string }).name = long;
    const r = await send(`https://localhost:${s.port}/validate`, { ca: s.ca, body: JSON.stringify(review), agent: false });
    assert.equal(r.status, 200);
    assert.equal((r.json().response as { uid: string }).uid.length, 5001);
    const lines = s.logs.find("denied");
    assert.ok(lines.length > 0);
    for (const line of lines) {
      assert.match(String(line.name), /^n{256}…\[100000 characters\]$/);
      assert.match(String(line.user), /…\[100005 characters\]$/);
      assert.match(String(line.uid), /…\[5001 characters\]$/);
      assert.ok(JSON.stringify(line).length < 6000, "one log line stays small");
    }
  } finally {
    await s.close();
  }
});
