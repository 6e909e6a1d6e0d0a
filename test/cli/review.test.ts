import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { writeYaml } from "../../src/yaml/write.js";
import { fixture } from "../support/fixtures.js";
import { admissionReview } from "../support/review.js";
import { runCli } from "../check/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "virtguard-review-"));
function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

function vmWithCores(cores: number) {
  const vm = fixture("vm/vm-basic.yaml");
  (vm.spec as { cpu: { cores: number } }).cpu.cores = cores;
  return vm;
}

interface ReviewOut {
  apiVersion: string;
  kind: string;
  response: { uid: string; allowed: boolean; status?: { code: number; reason: string; message: string }; warnings?: string[] };
}

test("a VM with 300 cores is denied: uid echoed, 403 Forbidden, the value and the limit in the message, exit 0", async () => {
  const review = file("deny.json", admissionReview({ object: vmWithCores(300), uid: "b7f3c5c2-1" }));
  const { code, stdout, stderr } = await runCli(["review", review]);
  assert.equal(code, 0, stderr);
  const out = JSON.parse(stdout) as ReviewOut;
  assert.equal(out.apiVersion, "admission.k8s.io/v1");
  assert.equal(out.kind, "AdmissionReview");
  assert.equal(out.response.uid, "b7f3c5c2-1");
  assert.equal(out.response.allowed, false);
  assert.equal(out.response.status?.code, 403);
  assert.equal(out.response.status?.reason, "Forbidden");
  assert.match(out.response.status?.message ?? "", /\[vm-resource-limits\] spec\.cpu\.cores is 300; a VirtualMachine may have at most 248 cores/);
});

test("a review read from stdin, as YAML, is judged the same way", async () => {
  const { code, stdout } = await runCli(["review", "-"], { input: writeYaml(admissionReview({ object: vmWithCores(300) })) });
  assert.equal(code, 0);
  assert.equal((JSON.parse(stdout) as ReviewOut).response.allowed, false);
});

test("context files and parameters are accepted (single object, multi-document, kind: List)", async () => {
  const review = file("ctx.json", admissionReview({ object: vmWithCores(2) }));
  const single = file("class.yaml", writeYaml(fixture("class/host-sized-v1alpha3.yaml")));
  const list = file("list.yaml", writeYaml({ apiVersion: "v1", kind: "List", items: [{ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } }] }));
  const multi = file("multi.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Node\nmetadata:\n  name: b\n");
  const { code, stdout, stderr } = await runCli(["review", "--context", single, "--context", list, "--context", multi, "--param", "edition=EE", review]);
  assert.equal(code, 0, stderr);
  assert.equal((JSON.parse(stdout) as ReviewOut).response.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
});

const badInputs: [string, () => string[], RegExp][] = [
  ["a missing file", () => ["review", join(dir, "nope.json")], /nope\.json: cannot read: ENOENT/],
  ["neither JSON nor YAML", () => ["review", file("garbage.txt", "{ this is: [not")], /garbage\.txt:\d+: neither JSON nor YAML/],
  ["not an AdmissionReview", () => ["review", file("pod.json", { apiVersion: "v1", kind: "Pod" })], /pod\.json: not a valid AdmissionReview: apiVersion must be "admission\.k8s\.io\/v1", got "v1"/],
  [
    "no request.uid",
    () => ["review", file("nouid.json", { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { kind: {}, resource: {} } })],
    /nouid\.json: not a valid AdmissionReview: request\.uid: missing or empty/,
  ],
  ["an invalid policy directory", () => ["review", "--policies", file("not-a-dir", "x"), file("ok.json", admissionReview({ object: vmWithCores(1) }))], /not-a-dir: is not a directory/],
  [
    "an invalid policy",
    () => {
      const policies = mkdtempSync(join(dir, "policies-"));
      writeFileSync(join(policies, "bad.json"), JSON.stringify({ apiVersion: "policies.virtguard.io/v1alpha1", kind: "ValidationPolicy", metadata: { name: "bad" }, spec: {} }));
      return ["review", "--policies", policies, file("ok2.json", admissionReview({ object: vmWithCores(1) }))];
    },
    /invalid policy: .*bad\.json: spec: missing required field "description"/,
  ],
  ["a bad context file", () => ["review", "--context", file("ctx-bad.yaml", "- just\n- a list\n"), file("ok3.json", admissionReview({ object: vmWithCores(1) }))], /ctx-bad\.yaml:1: expected a Kubernetes object, got a list/],
  ["an unknown parameter", () => ["review", "--param", "colour=blue", file("ok4.json", admissionReview({ object: vmWithCores(1) }))], /unknown parameter "colour"/],
  ["an unknown flag", () => ["review", "--polices", "x", "r.json"], /Unknown option '--polices'/],
  ["no REVIEW argument", () => ["review"], /missing REVIEW argument/],
];

for (const [what, args, message] of badInputs) {
  test(`bad input, ${what}: one line on stderr, exit 2, nothing on stdout`, async () => {
    const { code, stdout, stderr } = await runCli(args());
    assert.equal(code, 2, stderr);
    assert.equal(stdout, "");
    assert.match(stderr, message);
    assert.equal(stderr.trimEnd().split("\n").length, 1, `expected one line, got:\n${stderr}`);
    assert.match(stderr, /^virtguard: /);
  });
}

test("--help lists the commands; review --help shows usage with examples", async () => {
  const top = await runCli(["--help"]);
  assert.equal(top.code, 0);
  for (const name of ["review", "serve", "check", "test", "certs", "manifests"]) assert.match(top.stdout, new RegExp(`^  ${name} `, "m"));
  const review = await runCli(["review", "--help"]);
  assert.equal(review.code, 0);
  assert.match(review.stdout, /Usage: virtguard review/);
  assert.match(review.stdout, /Examples:/);
});

test("an unknown command exits 2 with a hint", async () => {
  const { code, stderr } = await runCli(["reveiw"]);
  assert.equal(code, 2);
  assert.match(stderr, /unknown command "reveiw"; run 'virtguard --help'/);
});
