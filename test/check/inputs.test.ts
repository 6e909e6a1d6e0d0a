import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { collectInputs } from "../../src/check/inputs.js";
import { runCheck, type CheckOptions } from "../../src/check/run.js";
import type { ObjectResult } from "../../src/check/report.js";
import { ManifestError } from "../../src/cluster/files.js";
import { DVP_CRDS } from "../support/paths.js";
import { CHECK, CHECK_POLICIES, ROOMY_CLASS, runCli, tempTree, vmYaml } from "./helpers.js";

const REPO = join(CHECK, "repo");

function check(paths: string[], more: Partial<CheckOptions> = {}) {
  return runCheck({ paths, policies: CHECK_POLICIES, crds: { dir: DVP_CRDS, required: true }, ...more });
}

function byName(objects: readonly ObjectResult[], name: string): ObjectResult {
  const o = objects.find((x) => x.name === name);
  assert.ok(o, `no object ${name} in ${objects.map((x) => x.name).join(", ")}`);
  return o;
}

test("a directory is read recursively: *.yaml, *.yml and *.json, in a stable order", async () => {
  const { files, objects } = collectInputs([REPO]);
  assert.deepEqual(
    files.map((f) => f.file),
    [join(REPO, "classes.yaml"), join(REPO, "moduleconfig.json"), join(REPO, "vms", "team-b", "db.yml"), join(REPO, "vms", "web.yaml")],
  );
  assert.deepEqual(
    objects.map((o) => `${String(o.object.kind)}/${String((o.object.metadata as { name: string }).name)}`),
    ["VirtualMachineClass/roomy", "ModuleConfig/virtualization", "VirtualMachine/db", "VirtualMachine/web", "VirtualMachine/big", "ConfigMap/web-settings"],
  );
});

test("multi-document YAML, kind: List and JSON keep each object's first line", async () => {
  const { objects } = collectInputs([REPO]);
  const lines = Object.fromEntries(objects.map((o) => [(o.object.metadata as { name: string }).name, `${o.file.slice(REPO.length + 1)}:${o.line}`]));
  assert.deepEqual(lines, {
    roomy: "classes.yaml:5",
    virtualization: "moduleconfig.json:1",
    db: "vms/team-b/db.yml:1",
    web: "vms/web.yaml:2",
    big: "vms/web.yaml:18",
    "web-settings": "vms/web.yaml:34",
  });
});

test("hidden directories and files of other extensions are skipped inside a tree; a file named explicitly is read whatever its name", async () => {
  const dir = tempTree({
    "a.yaml": vmYaml("a", 2),
    ".git/config.yaml": "not: [a, manifest",
    "notes.txt": "not yaml at all: [",
    "sub/b.YML": vmYaml("b", 2),
    "manifest.tpl": vmYaml("c", 2),
  });
  assert.deepEqual(
    collectInputs([dir]).files.map((f) => f.file.slice(dir.length + 1)),
    ["a.yaml", "sub/b.YML"],
  );
  assert.equal(collectInputs([join(dir, "manifest.tpl")]).objects.length, 1);
});

test("a file reached twice (directly and through its directory) is read once", async () => {
  const { files } = collectInputs([join(REPO, "classes.yaml"), REPO]);
  assert.equal(files.length, 4);
  assert.equal(files[0]?.file, join(REPO, "classes.yaml"));
});

test("stdin is read for '-', under the --stdin-name name", async () => {
  const { files, objects } = collectInputs(["-"], { readStdin: () => vmYaml("piped", 2), stdinName: "overlays/prod" });
  assert.deepEqual(files.map((f) => f.file), ["overlays/prod"]);
  assert.equal(objects[0]?.file, "overlays/prod");
  assert.equal(objects[0]?.line, 1);
  assert.throws(() => collectInputs(["-", "-"], { readStdin: () => "" }), /stdin can be read only once/);
});

test("a missing path and invalid YAML are errors naming file and line, every bad file at once", async () => {
  assert.throws(() => collectInputs(["/nonexistent/manifests"]), (err: unknown) => err instanceof ManifestError && /\/nonexistent\/manifests: cannot read: ENOENT/.test(err.message));
  const dir = tempTree({ "bad.yaml": `${vmYaml("ok", 2)}---\nkind: VirtualMachine\nmetadata: {name: [unclosed\n`, "worse.yaml": "a: [\n", "meta.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [1]\n" });
  assert.throws(() => collectInputs([join(dir, "bad.yaml")]), /bad\.yaml:1[89]: invalid YAML/);
  assert.throws(
    () => collectInputs([dir]),
    (err: unknown) => err instanceof ManifestError && err.message.split("\n").length === 3 && /bad\.yaml:.*\n.*meta\.yaml:1: metadata: must be an object\n.*worse\.yaml:2: invalid YAML/.test(err.message),
  );
});

test("documents that are no Kubernetes objects are skipped, each with where and why", () => {
  const dir = tempTree({
    "Chart.yaml": "apiVersion: v2\nname: vms\nversion: 0.1.0\n",
    "values.yaml": "replicas: 3\ncores: 4\n",
    "kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [vm.yaml]\n",
    "list.yaml": "- a\n- b\n",
    "docs.yaml": `spec:\n  cpu:\n    cores: 4\n---\n${vmYaml("vm", 2)}`,
    "nokind.yaml": "apiVersion: v1\nmetadata: {name: x}\n",
  });
  const { objects, skipped } = collectInputs([dir]);
  assert.deepEqual(objects.map((o) => `${o.file.slice(dir.length + 1)}:${o.line}`), ["docs.yaml:5"]);
  assert.deepEqual(
    skipped.map((s) => `${s.file.slice(dir.length + 1)}:${s.line} ${s.reason}`),
    [
      "Chart.yaml:1 not a Kubernetes object (no kind)",
      "docs.yaml:1 not a Kubernetes object (no apiVersion and no kind)",
      "kustomization.yaml:1 a kustomize Kustomization, not a cluster object",
      "list.yaml:1 not a Kubernetes object (a list)",
      "nokind.yaml:1 not a Kubernetes object (no kind)",
      "values.yaml:1 not a Kubernetes object (no apiVersion and no kind)",
    ],
  );
});

test("mixed kinds: objects no policy matches are counted and skipped", async () => {
  const report = await check([REPO]);
  assert.equal(byName(report.objects, "web-settings").status, "skipped");
  assert.equal(byName(report.objects, "virtualization").status, "skipped");
  assert.equal(byName(report.objects, "roomy").status, "skipped");
  assert.deepEqual(byName(report.objects, "web").policies, ["test-vm-class", "test-vm-cores", "test-vm-legacy-paravirt"]);
  assert.equal(report.summary.skipped, 3);
  assert.equal(report.summary.objects, 6);
  assert.equal(report.summary.files, 4);
});

test("the checked manifests are each other's context: a VirtualMachine finds its class in the same tree", async () => {
  const together = await check([REPO]);
  assert.equal(byName(together.objects, "web").status, "allowed");
  const alone = await check([join(REPO, "vms", "web.yaml")]);
  const web = byName(alone.objects, "web");
  assert.equal(web.status, "warned");
  assert.deepEqual(
    web.findings.map((f) => `${f.action} [${f.policy}] ${f.message}`),
    ["Warn [test-vm-class] spec.virtualMachineClassName: VirtualMachineClass roomy does not exist"],
  );
});

test("--context adds cluster objects the manifests do not hold", async () => {
  const dir = tempTree({ "cluster/classes.yaml": ROOMY_CLASS });
  const report = await check([join(REPO, "vms", "web.yaml")], { context: [join(dir, "cluster/classes.yaml")] });
  assert.equal(byName(report.objects, "web").status, "allowed");
});

test("--context may name a directory: every manifest under it is context", async () => {
  const dir = tempTree({ "cluster/classes/roomy.yaml": ROOMY_CLASS, "cluster/readme.txt": "not a manifest" });
  const report = await check([join(REPO, "vms", "web.yaml")], { context: [join(dir, "cluster")] });
  assert.equal(byName(report.objects, "web").status, "allowed");
});

test("--param binds policy parameters, as in review", async () => {
  assert.equal(byName((await check([REPO])).objects, "big").status, "denied");
  assert.equal(byName((await check([REPO], { params: ["maxCores=256"] })).objects, "big").status, "allowed");
  await assert.rejects(() => check([REPO], { params: ["maxCores=many"] }), /parameter "maxCores"/);
  await assert.rejects(() => check([REPO], { params: ["nosuch=1"] }), /unknown parameter "nosuch"/);
});

test("CLI: files, directories and stdin in one run; stdin objects are named by --stdin-name", async () => {
  const { code, stdout, stderr } = await runCli(
    ["check", "-q", "--policies", CHECK_POLICIES, "--stdin-name", "piped.yaml", join(REPO, "classes.yaml"), join(REPO, "vms"), "-"],
    { input: vmYaml("piped", 300) },
  );
  assert.equal(code, 1, stderr);
  assert.equal(stderr, "");
  const lines = stdout.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, -1), [
    `${join(REPO, "vms", "web.yaml")}:26  VirtualMachine/tenant-a/big  DENY  [test-vm-cores] spec.cpu.cores is 249; a VirtualMachine may have at most 248 cores`,
    "piped.yaml:9  VirtualMachine/tenant-a/piped  DENY  [test-vm-cores] spec.cpu.cores is 300; a VirtualMachine may have at most 248 cores",
  ]);
  assert.equal(lines.at(-1), "6 objects in 4 files: 2 denied, 0 warned, 2 allowed, 2 skipped (no policy matches); 2 denials, 0 warnings");
});
