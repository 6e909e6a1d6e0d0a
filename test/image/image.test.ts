// The container image, built by scripts/test-image.sh (`npm run test:image`) and named in
// VIRTGUARD_IMAGE: it serves reviews over TLS, runs `check` on a mounted manifest, runs as
// non-root and carries the CEL cache and the vendored CRDs but no dev dependencies.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../check/helpers.js";
import { eventually, send } from "../server/helpers.js";
import { admissionReview } from "../support/review.js";
import { VM_300 } from "../support/manifests.js";

const IMAGE = process.env["VIRTGUARD_IMAGE"];
if (!IMAGE) throw new Error("VIRTGUARD_IMAGE is not set: run `npm run test:image`, which builds the image and names it");
const PODMAN = ["--runtime", "runc"];

function podman(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("podman", [...PODMAN, ...args], { maxBuffer: 16 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe(`the image ${IMAGE}`, () => {
  const dir = mkdtempSync(join(tmpdir(), "virtguard-image-"));
  const name = `virtguard-image-test-${process.pid}`;
  let port = 0;
  let metricsPort = 0;
  let ca = "";

  before(async () => {
    const certs = await runCli(["certs", "--out", join(dir, "certs"), "--host", "localhost", "--ip", "127.0.0.1"]);
    assert.equal(certs.code, 0, certs.stderr);
    // The container's user (65532) reads the mounted key, as from a Secret volume (defaultMode 0644 there too).
    chmodSync(join(dir, "certs"), 0o755);
    for (const f of readdirSync(join(dir, "certs"))) chmodSync(join(dir, "certs", f), 0o644);
    ca = readFileSync(join(dir, "certs", "ca.crt"), "utf8");
    port = await freePort();
    // Host networking: the default metrics port (9090) may be taken by anything on this machine.
    metricsPort = await freePort();
    const started = await podman([
      // No --rm: should serve exit early, its logs stay readable for the failure message.
      "run", "--detach", "--name", name, "--network", "host",
      "--volume", `${join(dir, "certs")}:/etc/virtguard/tls:ro`,
      IMAGE,
      "--address", "127.0.0.1", "--port", String(port), "--metrics-port", String(metricsPort),
      "--tls-cert", "/etc/virtguard/tls/tls.crt", "--tls-key", "/etc/virtguard/tls/tls.key",
    ]);
    assert.equal(started.code, 0, started.stderr);
  });

  after(async () => {
    await podman(["rm", "--force", "--time", "2", name]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("serve answers /healthz over TLS on 127.0.0.1, and denies a 300-core VM in a review", async () => {
    const url = `https://127.0.0.1:${port}`;
    await eventually("/healthz", async () => (await send(`${url}/healthz`, { ca, agent: false })).status === 200, 30_000).catch(async (err: Error) => {
      const logs = await podman(["logs", name]);
      throw new Error(`${err.message}\n${logs.stdout}${logs.stderr}`);
    });
    const vm = { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachine", metadata: { name: "big", namespace: "tenant-a" }, spec: { cpu: { cores: 300 } } };
    const reply = await send(`${url}/validate`, { ca, agent: false, body: JSON.stringify(admissionReview({ object: vm, uid: "image-1" })) });
    assert.equal(reply.status, 200, reply.text);
    const response = reply.json().response as { uid: string; allowed: boolean; status?: { code?: number; message?: string } };
    assert.equal(response.uid, "image-1");
    assert.equal(response.allowed, false);
    assert.match(response.status?.message ?? "", /spec\.cpu\.cores is 300; .*at most 248 cores/);
    process.stderr.write(`image: serve denied: ${response.status?.code} ${response.status?.message}\n`);
    const logs = await podman(["logs", name]);
    assert.match(logs.stdout, /"msg":"listening"/);
    // The probes' own port, as the Deployment's probes use it.
    const probe = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    assert.equal(probe.status, 200);
  });

  test("check runs inside the image on a mounted manifest: exit 1 with the denial, CRD defaults applied", async () => {
    writeFileSync(join(dir, "vm.yaml"), VM_300);
    chmodSync(join(dir, "vm.yaml"), 0o644);
    const r = await podman(["run", "--rm", "--network", "none", "--volume", `${dir}/vm.yaml:/work/vm.yaml:ro`, "--workdir", "/work", "--entrypoint", "virtguard", IMAGE, "check", "vm.yaml"]);
    assert.equal(r.code, 1, r.stderr);
    const denial = r.stdout.split("\n").find((l) => / DENY /.test(l));
    assert.match(denial ?? "", /^vm\.yaml:9 +VirtualMachine\/tenant-a\/big +DENY +\[vm-resource-limits\] spec\.cpu\.cores is 300; .*at most 248 cores/);
    assert.doesNotMatch(r.stdout + r.stderr, /could not be evaluated|schemas were not checked/);
    process.stderr.write(`image: check: ${denial}\n`);
  });

  test("runs as 65532, holds production dependencies only, the CEL cache and the vendored CRDs", async () => {
    const r = await podman([
      "run", "--rm", "--network", "none", "--entrypoint", "sh", IMAGE, "-c",
      "id -u; id -g; ls /app/node_modules/typescript /app/node_modules/eslint 2>/dev/null | wc -l; test -s /app/dist/src/policy-files/cel-cache.json && echo cache; ls /app/policies/crds; find /app/dist -name '*.map' | wc -l; node --version",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [uid, gid, devFiles, cache, ...rest] = r.stdout.trim().split("\n");
    assert.equal(uid, "65532");
    assert.equal(gid, "65532");
    assert.equal(devFiles, "0", "no dev dependency (typescript, eslint) in node_modules");
    assert.equal(cache, "cache");
    const nodeVersion = rest.pop();
    const maps = rest.pop();
    assert.equal(maps, "0", "no source maps");
    assert.deepEqual(rest, ["SOURCES.md", "config-values.yaml", "field-schemas.json", "module-config.yaml", "virtualmachineclasses.yaml", "virtualmachineipaddresses.yaml", "virtualmachineipaddressleases.yaml", "virtualmachinepools.yaml", "virtualmachines.yaml"]);
    assert.match(nodeVersion ?? "", /^v24\./);
  });
});
