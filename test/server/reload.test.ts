// Hot reload with nothing lost: policy changes (plain files and a ConfigMap-style ..data symlink
// swap), invalid changes rejected whole while the last good set serves, and certificate rotation.
import assert from "node:assert/strict";
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { after, before, describe, test } from "node:test";
import { generateCA, issueServingCert } from "../../src/pki/tls-certs.js";
import { eventually, limitsPolicy, send, startTestServer, vmReview, writePolicyDir, tempDir, type TestServer } from "./helpers.js";

async function verdictFor(s: TestServer, cores: number): Promise<{ allowed: boolean; message: string }> {
  const res = await send(`https://localhost:${s.port}/validate`, { ca: s.ca, agent: false, body: JSON.stringify(vmReview({ cores })) });
  assert.equal(res.status, 200);
  const r = res.json().response as { allowed: boolean; status?: { message: string } };
  return { allowed: r.allowed, message: r.status?.message ?? "" };
}

async function metricsText(s: TestServer): Promise<string> {
  return (await send(`https://localhost:${s.port}/metrics`, { ca: s.ca, agent: false })).text;
}

describe("policy reload", () => {
  let s: TestServer;
  let dir: string;
  before(async () => {
    s = await startTestServer();
    dir = join(s.dir, "policies");
  });
  after(() => s.close());

  test("a changed policy file is picked up by the watcher, with no restart", async () => {
    assert.equal((await verdictFor(s, 100)).allowed, true);
    writeFileSync(join(dir, "cores.json"), JSON.stringify(limitsPolicy(64)));
    await eventually("the new limit to serve", async () => !(await verdictFor(s, 100)).allowed);
    assert.equal((await verdictFor(s, 100)).message, "[test-cores] spec.cpu.cores is 100; at most 64");
    assert.equal(s.running.policies.current.generation, 2);
    assert.ok(s.logs.find("policy set reloaded").some((l) => l.generation === 2));
    assert.match(await metricsText(s), /virtguard_policy_set_generation 2/);
  });

  test("an invalid change is rejected whole: the last good set keeps serving, the error is logged and counted", async () => {
    const good = s.running.policies.current;
    // One valid edit (limit 32) and one broken file in the same change: neither applies.
    writeFileSync(join(dir, "cores.json"), JSON.stringify(limitsPolicy(32)));
    writeFileSync(join(dir, "broken.json"), JSON.stringify({ ...limitsPolicy(1), metadata: { name: "broken" }, spec: { ...(limitsPolicy(1).spec as object), validations: [{ expression: "object.spec.(", action: "Deny", message: "x" }] } }));
    const outcome = await s.running.policies.reload();
    assert.equal(outcome.result === "rejected" || outcome.result === "unchanged", true, JSON.stringify(outcome));
    assert.equal(s.running.policies.current, good);
    assert.equal((await verdictFor(s, 48)).allowed, true, "limit 64 still serves, not 32");
    assert.equal((await verdictFor(s, 100)).message, "[test-cores] spec.cpu.cores is 100; at most 64");
    await eventually("the rejection to be logged", () => s.logs.find("policy reload rejected; the last good set keeps serving").length === 1);
    const line = s.logs.find("policy reload rejected; the last good set keeps serving")[0];
    assert.match(String(line?.err), /broken\.json/);
    assert.equal(line?.level, "error");
    const m = await metricsText(s);
    assert.match(m, /virtguard_policy_reload_errors_total 1/);
    assert.match(m, /virtguard_policy_last_reload_success 0/);
    assert.match(m, /virtguard_policy_set_generation 2/);

    // Not JSON at all: rejected too.
    writeFileSync(join(dir, "broken.json"), "{ not json");
    assert.equal((await s.running.policies.reload()).result, "rejected");
    assert.equal(s.running.policies.current, good);
  });

  test("fixing the directory loads the next generation", async () => {
    writeFileSync(join(dir, "broken.json"), JSON.stringify({ ...limitsPolicy(16), metadata: { name: "fixed" } }));
    await eventually("generation 3", async () => (await s.running.policies.reload(), s.running.policies.current.generation === 3));
    assert.match((await verdictFor(s, 20)).message, /at most 16/);
    assert.match(await metricsText(s), /virtguard_policy_last_reload_success 1/);
  });
});

describe("policy reload from a ConfigMap mount", () => {
  // The kubelet's layout: dir/name -> ..data/name, ..data -> ..<timestamp>; an update renames a new
  // ..data_tmp symlink over ..data, so no policy file's own inode ever changes.
  let s: TestServer;
  let mount: string;
  before(async () => {
    mount = tempDir("virtguard-configmap-");
    writePolicyDir(join(mount, "..2026_01_01_00_00_00.000000001"), 248);
    symlinkSync("..2026_01_01_00_00_00.000000001", join(mount, "..data"));
    for (const f of ["cores.json", "guidance.json", "secret.json"]) symlinkSync(join("..data", f), join(mount, f));
    s = await startTestServer({ policiesDir: mount });
  });
  after(async () => {
    await s.close();
    rmSync(mount, { recursive: true, force: true });
  });

  test("the ..data symlink swap is seen and the new set serves", async () => {
    assert.equal((await verdictFor(s, 100)).allowed, true);
    const next = "..2026_01_01_00_01_00.000000002";
    mkdirSync(join(mount, next));
    writePolicyDir(join(mount, next), 8);
    symlinkSync(next, join(mount, "..data_tmp"));
    renameSync(join(mount, "..data_tmp"), join(mount, "..data"));
    await eventually("the swapped set to serve", async () => !(await verdictFor(s, 100)).allowed);
    assert.match((await verdictFor(s, 10)).message, /at most 8/);
  });
});

function peerFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
      const fp = sock.getPeerCertificate().fingerprint256;
      sock.end();
      resolve(fp);
    });
    sock.on("error", reject);
  });
}

describe("certificate reload", () => {
  const ca = generateCA({ keyType: "ecdsa-p256" });
  const leaf = () => issueServingCert(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"], keyType: "ecdsa-p256" });
  let s: TestServer;
  let tlsDir: string;
  before(async () => {
    tlsDir = tempDir("virtguard-tls-");
    const first = leaf();
    writeFileSync(join(tlsDir, "tls.crt"), first.cert);
    writeFileSync(join(tlsDir, "tls.key"), first.key, { mode: 0o600 });
    s = await startTestServer({ tls: { certFile: join(tlsDir, "tls.crt"), keyFile: join(tlsDir, "tls.key") } });
    s.ca = ca.cert;
  });
  after(async () => {
    await s.close();
    rmSync(tlsDir, { recursive: true, force: true });
  });

  test("a rotated pair is served to new connections without a restart", async () => {
    const old = await peerFingerprint(s.port, ca.cert);
    assert.equal(old, s.running.certificate().fingerprint256);
    const next = leaf();
    writeFileSync(join(tlsDir, "tls.key"), next.key);
    writeFileSync(join(tlsDir, "tls.crt"), next.cert);
    await eventually("a new connection to see the new certificate", async () => (await peerFingerprint(s.port, ca.cert)) !== old);
    assert.equal(await peerFingerprint(s.port, ca.cert), s.running.certificate().fingerprint256);
    assert.equal((await verdictFor(s, 300)).allowed, false);
    assert.ok(s.logs.find("serving certificate reloaded").length >= 1);
  });

  test("a broken pair (certificate and key that do not match) keeps the old one", async () => {
    const serving = await peerFingerprint(s.port, ca.cert);
    writeFileSync(join(tlsDir, "tls.crt"), leaf().cert);
    assert.equal(s.running.checkCertificates(), "rejected");
    assert.equal(await peerFingerprint(s.port, ca.cert), serving);
    assert.equal((await verdictFor(s, 300)).allowed, false);
    assert.match(await metricsText(s), /virtguard_tls_certificate_reload_errors_total [1-9]/);
    assert.ok(s.logs.find("certificate reload rejected; the previous certificate keeps serving").length >= 1);
  });
});
