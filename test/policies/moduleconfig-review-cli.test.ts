import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { JsonObject, JsonValue } from "../../src/engine/index.js";
import { fixture, fixtureObjects } from "../support/fixtures.js";
import { settingsOf } from "../support/moduleconfig.js";
import { CLI, FIXTURES } from "../support/paths.js";
import { admissionReview, type RequestOptions } from "../support/review.js";

// `virtguard review` run as a process on ModuleConfig requests, with the cluster state from a context file.

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  response: { uid: string; allowed: boolean; status?: { code: number; reason: string; message: string }; warnings?: string[] };
}

let dir = "";
let contextFile = "";

function review(args: string[], input?: string): Run {
  const r = spawnSync(process.execPath, [CLI, "review", ...args], { encoding: "utf8", input, timeout: 30_000 });
  let response: Run["response"] = { uid: "", allowed: false };
  if (r.status === 0) {
    const body = JSON.parse(r.stdout) as { apiVersion: string; kind: string; response: Run["response"] };
    assert.equal(body.apiVersion, "admission.k8s.io/v1");
    assert.equal(body.kind, "AdmissionReview");
    response = body.response;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, response };
}

function writeReview(name: string, opts: RequestOptions): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(admissionReview(opts)));
  return file;
}

function withSettings(change: Record<string, JsonValue>): JsonObject {
  const mc = fixture("moduleconfig/virtualization.yaml");
  Object.assign(settingsOf(mc), change);
  (mc.metadata as JsonObject).generation = 4;
  return mc;
}

describe("virtguard review on ModuleConfig requests (process)", () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "virtguard-mc-"));
    contextFile = join(dir, "cluster.json");
    const items = [...fixtureObjects("cluster/leases.yaml"), ...fixtureObjects("cluster/nodes.yaml"), fixture("cluster/cluster-configuration.yaml")];
    writeFileSync(contextFile, JSON.stringify({ apiVersion: "v1", kind: "List", items }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("narrowing 10.66.20.0/23 to 10.66.20.0/24 under lease ip-10-66-21-7 is denied with a 403 naming lease and CIDR", () => {
    const file = writeReview("narrow-stranding.json", {
      uid: "mc-narrow-1",
      object: withSettings({ virtualMachineCIDRs: ["10.66.10.0/24", "10.66.20.0/24"] }),
      oldObject: fixture("moduleconfig/virtualization.yaml"),
    });
    const r = review(["--context", contextFile, "--param", "edition=EE", file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.response.uid, "mc-narrow-1");
    assert.equal(r.response.allowed, false);
    assert.equal(r.response.status?.code, 403);
    assert.equal(r.response.status?.reason, "Forbidden");
    assert.match(r.response.status?.message ?? "", /\[moduleconfig-leased-subnets\] .*would strand lease ip-10-66-21-7 \(10\.66\.21\.7, in removed 10\.66\.20\.0\/23\)/);
  });

  test("narrowing to 10.66.21.0/24, which keeps every leased address, is allowed", () => {
    const file = writeReview("narrow-covered.json", {
      uid: "mc-narrow-2",
      object: withSettings({ virtualMachineCIDRs: ["10.66.10.0/24", "10.66.21.0/24"] }),
      oldObject: fixture("moduleconfig/virtualization.yaml"),
    });
    const r = review(["--context", contextFile, file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.response.allowed, true);
    assert.equal(r.response.uid, "mc-narrow-2");
  });

  test("several context files and parameters: the PVC, the edition and the Kubernetes version all count", () => {
    const file = writeReview("gates-and-dvcr.json", {
      object: withSettings({
        featureGates: ["HotplugCPUAndMemoryWithInPlaceResize"],
        dvcr: { storage: { type: "PersistentVolumeClaim", persistentVolumeClaim: { size: "20G", storageClassName: "linstor-thin-r1" } } },
      }),
      oldObject: fixture("moduleconfig/virtualization.yaml"),
    });
    const pvc = join(FIXTURES, "cluster", "dvcr-pvc.yaml");
    const r = review(["--context", contextFile, "--context", pvc, "--param", "edition=EE", "--param", "kubernetesVersion=v1.32.5", file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.response.allowed, false);
    const message = r.response.status?.message ?? "";
    assert.match(message, /\[moduleconfig-dvcr\] spec\.settings\.dvcr\.storage\.persistentVolumeClaim\.size is 20G, was 50G/);
    assert.match(message, /\[moduleconfig-feature-gates\] .*HotplugCPUAndMemoryWithInPlaceResize needs Kubernetes 1\.33 or newer .* runs v1\.32\.5/);

    const upgraded = review(["--context", contextFile, "--param", "edition=EE", "--param", "kubernetesVersion=v1.33.1", file]);
    assert.equal(upgraded.response.allowed, true, upgraded.response.status?.message);
  });

  test("DELETE read from stdin is denied while a lease exists", () => {
    const body = JSON.stringify(admissionReview({ uid: "mc-delete", operation: "DELETE", oldObject: fixture("moduleconfig/virtualization.yaml") }));
    const r = review(["--context", contextFile, "-"], body);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.response.allowed, false);
    assert.match(r.response.status?.message ?? "", /ModuleConfig virtualization cannot be deleted while VirtualMachineIPAddressLeases exist, e\.g\. ip-10-66-10-23 \(10\.66\.10\.23\)/);
    const empty = review(["-"], body);
    assert.equal(empty.response.allowed, true);
  });

  test("a kubernetesVersion that is not a version is bad input: one line on stderr, exit 2", () => {
    const file = writeReview("plain.json", { object: fixture("moduleconfig/virtualization.yaml") });
    const r = review(["--param", "kubernetesVersion=latest", file]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /kubernetesVersion/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  });
});
