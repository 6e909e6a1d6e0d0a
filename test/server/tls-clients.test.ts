// Independent real clients against the real TLS server: node:https verifying the certificate by host
// name against the dev CA, and curl --cacert as the API server would (SAN checked by curl itself).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { generateCA } from "../../src/pki/tls-certs.js";
import { REPO_ROOT } from "../support/paths.js";
import { send, startTestServer, vmReview, type TestServer } from "./helpers.js";

const run = promisify(execFile);

async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run("curl", ["--silent", "--show-error", "--max-time", "10", ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

// curl is the independent client here: without it these tests would prove nothing, so they fail.
await run("curl", ["--version"]).catch(() => {
  throw new Error("curl is not installed: these tests check the server with it (install it, e.g. apt-get install curl)");
});

describe("TLS clients", () => {
  let s: TestServer;
  let caFile: string;
  before(async () => {
    s = await startTestServer();
    caFile = join(s.dir, "ca.crt");
  });
  after(() => s.close());

  test("the dev CA is written to the CA file, and it is the one that signed the serving certificate", () => {
    assert.equal(readFileSync(caFile, "utf8"), s.ca);
    assert.match(s.running.certificate().subjectAltName, /DNS:localhost/);
    assert.match(s.running.certificate().subjectAltName, /IP Address:127\.0\.0\.1/);
  });

  test("node:https verifies the server by host name against the CA", async () => {
    const res = await send(`https://localhost:${s.port}/validate`, { ca: s.ca, agent: false, body: JSON.stringify(vmReview({ cores: 300 })) });
    assert.equal(res.status, 200);
    assert.equal((res.json().response as { allowed: boolean }).allowed, false);
  });

  test("node:https refuses the server without the CA, and under a name the certificate lacks", async () => {
    await assert.rejects(send(`https://localhost:${s.port}/healthz`, { ca: "", agent: false }), /self-signed|unable to (get|verify)/i);
    await assert.rejects(
      send(`https://127.0.0.1:${s.port}/healthz`, { ca: s.ca, agent: false, servername: "virtguard.example.com" }),
      (err: Error & { code?: string }) => err.code === "ERR_TLS_CERT_ALTNAME_INVALID",
    );
  });

  test("curl --cacert: the documented sample review is denied, over the DNS and the IP SAN", async () => {
    const sample = join(REPO_ROOT, "examples", "review-vm-300-cores.json");
    // The sample relies on the shipped cores rule; these test policies carry the same limit.
    for (const host of ["localhost", "127.0.0.1"]) {
      const r = await curl(["--cacert", caFile, "-H", "Content-Type: application/json", "--data-binary", `@${sample}`, `https://${host}:${s.port}/validate`]);
      assert.equal(r.code, 0, r.stderr);
      const body = JSON.parse(r.stdout) as { response: { allowed: boolean; status: { code: number; message: string } } };
      assert.equal(body.response.allowed, false);
      assert.equal(body.response.status.code, 403);
      assert.match(body.response.status.message, /spec\.cpu\.cores is 300/);
    }
  });

  test("curl --cacert refuses a host name outside the SANs (exit 60)", async () => {
    const r = await curl(["--cacert", caFile, "--resolve", `virtguard.example.com:${s.port}:127.0.0.1`, `https://virtguard.example.com:${s.port}/healthz`]);
    assert.equal(r.code, 60, r.stderr);
    assert.match(r.stderr, /certificate|subject/i);
  });

  test("curl with TLS 1.2 only still connects (modern suite); against another CA it fails (exit 60)", async () => {
    const ok = await curl(["--cacert", caFile, "--tlsv1.2", "--tls-max", "1.2", "-w", "%{http_code}", "-o", "/dev/null", `https://localhost:${s.port}/healthz`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "200");
    const otherCa = join(s.dir, "other-ca.crt");
    writeFileSync(otherCa, generateCA({ keyType: "ecdsa-p256" }).cert);
    const bad = await curl(["--cacert", otherCa, `https://localhost:${s.port}/healthz`]);
    assert.equal(bad.code, 60, bad.stderr);
  });
});

describe("--metrics-port", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ metricsPort: 0 });
  });
  after(() => s.close());

  const get = (path: string, method = "GET"): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port: s.running.metricsPort, path, method }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      req.end(method === "POST" ? JSON.stringify(vmReview({})) : undefined);
    });

  test("metrics and probes over plain HTTP on their own port; /metrics leaves the main port", async () => {
    assert.match((await get("/metrics")).text, /virtguard_policy_set_generation 1/);
    assert.equal((await get("/readyz")).status, 200);
    const main = await send(`https://localhost:${s.port}/metrics`, { ca: s.ca, agent: false });
    assert.equal(main.status, 404);
  });

  test("no plaintext /validate", async () => {
    const r = await get("/validate", "POST");
    assert.equal(r.status, 405);
    assert.doesNotMatch(r.text, /"response"/);
  });
});
