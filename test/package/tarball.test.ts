// The package as a user gets it: `npm pack`, a global install into an empty prefix, and every
// command run from an empty directory with nothing of this checkout in reach. Catches a `files`
// list that leaves out something a command reads at run time (the policy schema, the CEL cache,
// the vendored CRDs) and any path that only resolves inside the repository.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { runCli, type CliResult } from "../check/helpers.js";
import { send, spawnServe, writePolicyDir } from "../server/helpers.js";
import { REPO_ROOT } from "../support/paths.js";
import { admissionReview } from "../support/review.js";
import { VM_300 } from "../support/manifests.js";

const run = promisify(execFile);

/** The environment of a process the user starts: this Node.js first on PATH, no npm_* of the outer `npm test`. */
function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^npm_/i.test(k)) env[k] = v;
  env.PATH = `${dirname(process.execPath)}:${env.PATH ?? ""}`;
  return { ...env, ...extra };
}

describe("the npm tarball, installed globally into an empty prefix", () => {
  const root = mkdtempSync(join(tmpdir(), "virtguard-package-"));
  const prefix = join(root, "prefix");
  const work = join(root, "work"); // the user's empty directory
  const bin = join(prefix, "bin", "virtguard");
  const installed = join(prefix, "lib", "node_modules", "virtguard");
  let tarball = "";
  const virtguard = (args: string[], input?: string): Promise<CliResult> =>
    runCli(args, { bin, cwd: work, env: userEnv(), ...(input === undefined ? {} : { input }) });

  before(async () => {
    mkdirSync(work);
    const npm = (args: string[], cwd: string) => run("npm", args, { cwd, env: userEnv(), maxBuffer: 16 << 20 });
    // --ignore-scripts: `prepare` would rebuild dist/ under the other tests; `npm test` built it.
    const packed = await npm(["pack", "--ignore-scripts", "--json", "--pack-destination", root], REPO_ROOT);
    const [info] = JSON.parse(packed.stdout) as { filename: string; size: number; unpackedSize: number; entryCount: number }[];
    assert.ok(info);
    tarball = join(root, info.filename);
    process.stderr.write(`package: ${info.filename} ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${info.entryCount} files\n`);
    await npm(["install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", tarball], root);
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  test("holds what the commands read at run time, and nothing of the checkout's tests or sources", () => {
    for (const f of ["dist/src/cli/main.js", "dist/policies/policy.schema.json", "dist/src/policy-files/cel-cache.json", "dist/src/policy-files/generated", "policies/vm-resource-limits.json", "policies/crds/virtualmachines.yaml", "policies/crds/config-values.yaml", "policies/crds/SOURCES.md", "manifests/kustomization.yaml"]) {
      assert.ok(existsSync(join(installed, f)), `${f} is missing from the installed package`);
    }
    for (const f of ["dist/test", "dist/bench", "src", "test", "node_modules/typescript"]) assert.ok(!existsSync(join(installed, f)), `${f} is in the package`);
    // ~1 MB: the bundle, the precompiled validators and the shipped set's generated CEL code (~70 KB packed).
    assert.ok(statSync(tarball).size < 1_200_000, `the tarball is ${statSync(tarball).size} bytes`);
  });

  test("--version prints the package version", async () => {
    const r = await virtguard(["--version"]);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(pkg.version.replace(/\./g, "\\.")));
  });

  test("check vm.yaml denies a 300-core VM naming 248, with the vendored CRDs' defaults applied", async () => {
    writeFileSync(join(work, "vm.yaml"), VM_300);
    const r = await virtguard(["check", "vm.yaml"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^vm\.yaml:9 +VirtualMachine\/tenant-a\/big +DENY +\[vm-resource-limits\] spec\.cpu\.cores is 300; .*at most 248 cores/m);
    // Without osType's default the guidance policy could not be evaluated, and would deny.
    assert.doesNotMatch(r.stdout + r.stderr, /could not be evaluated|schemas were not checked/);
    assert.match(r.stdout, /1 denied.*; 1 denial,/);
  });

  test("review of an AdmissionReview file answers as the webhook would", async () => {
    const vm = { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachine", metadata: { name: "big", namespace: "tenant-a" }, spec: { cpu: { cores: 300 } } };
    writeFileSync(join(work, "review.json"), JSON.stringify(admissionReview({ object: vm, uid: "pkg-1" })));
    const r = await virtguard(["review", "review.json"]);
    assert.equal(r.code, 0, r.stderr);
    const response = (JSON.parse(r.stdout) as { response: { uid: string; allowed: boolean; status?: { message?: string } } }).response;
    assert.equal(response.uid, "pkg-1");
    assert.equal(response.allowed, false);
    assert.match(response.status?.message ?? "", /at most 248 cores/);
  });

  test("test runs a user's suite against the package's vendored CRDs", async () => {
    writePolicyDir(join(work, "policies"), 8);
    writeFileSync(join(work, "vm.yaml"), VM_300);
    writeFileSync(
      join(work, "cores.virtguard-test.yaml"),
      `apiVersion: virtguard.io/v1
kind: PolicyTestSuite
policies: policies
crds: ${join(installed, "policies", "crds")}
cases:
  - name: 300 cores are denied
    resource: {file: vm.yaml}
    expect: {result: denied, policy: test-cores, message: at most 8}
  - name: 8 cores pass; the generic class only draws a warning
    resource: {file: vm.yaml, patch: {spec: {cpu: {cores: 8}}}}
    expect: {result: warned, findings: [{action: Warn, policy: test-guidance}]}
  - name: a core count the CRD rejects is a schema denial
    resource: {file: vm.yaml, patch: {spec: {cpu: {cores: "many"}}}}
    expect: {result: denied, policy: schema}
`,
    );
    const r = await virtguard(["test", "cores.virtguard-test.yaml"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /3 passed, 0 failed/);
  });

  test("certs, then serve answers /healthz and denies a 300-core VM over TLS", async () => {
    const certs = await virtguard(["certs", "--host", "localhost", "--ip", "127.0.0.1"]);
    assert.equal(certs.code, 0, certs.stderr);
    const ca = readFileSync(join(work, "certs", "ca.crt"), "utf8");
    const srv = await spawnServe(["--port=0", "--address=127.0.0.1", "--tls-cert=certs/tls.crt", "--tls-key=certs/tls.key"], {}, { bin, cwd: work, env: userEnv() });
    try {
      const url = `https://127.0.0.1:${srv.port}`;
      const health = await send(`${url}/healthz`, { ca, agent: false });
      assert.equal(health.status, 200);
      const vm = { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachine", metadata: { name: "big", namespace: "tenant-a" }, spec: { cpu: { cores: 300 } } };
      const reply = await send(`${url}/validate`, { ca, agent: false, body: JSON.stringify(admissionReview({ object: vm, uid: "pkg-serve" })) });
      assert.equal(reply.status, 200);
      const response = reply.json().response as { uid: string; allowed: boolean; status?: { message?: string } };
      assert.equal(response.uid, "pkg-serve");
      assert.equal(response.allowed, false);
      assert.match(response.status?.message ?? "", /at most 248 cores/);
    } finally {
      srv.child.kill("SIGINT");
      await srv.exited;
    }
  });
});
