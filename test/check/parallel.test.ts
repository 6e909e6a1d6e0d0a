import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { test } from "node:test";
import { parseInputFiles, readInputFiles } from "../../src/check/inputs.js";
import { parseUnit, startParse, type ParseUnit, type UnitOutcome } from "../../src/check/parse-parallel.js";
import { runCheck } from "../../src/check/run.js";
import { scanTypes, covers } from "../../src/schema/crds-for.js";
import { ManifestError } from "../../src/cluster/files.js";
import { DVP_CRDS, REPO_ROOT } from "../support/paths.js";
import { CHECK, CHECK_POLICIES, LEASES, tempTree, vmYaml } from "./helpers.js";

test("parsing in a worker gives the objects and lines of parsing in place", async () => {
  const files = readInputFiles([join(CHECK, "repo"), join(CHECK, "legacy-vm.yaml")]);
  const job = startParse([files, files.slice(0, 1)], 0);
  assert.equal(job.parallel, true);
  const [all, first] = await job.result;
  assert.deepEqual(all, parseInputFiles(files));
  assert.deepEqual(first, parseInputFiles(files.slice(0, 1)));
  assert.ok(job.parseMs() > 0);
});

test("manifest errors and skipped documents from the worker are those of parsing in place", async () => {
  const dir = tempTree({ "bad.yaml": `${vmYaml("a", 2)}---\nkind: [broken\n`, "Chart.yaml": "apiVersion: v2\nname: chart\n", "vm.yaml": vmYaml("b", 2) });
  const files = readInputFiles([dir]);
  const inPlace = parseInputFiles(files);
  assert.equal(inPlace.errors.length, 1);
  assert.match(inPlace.errors[0] ?? "", /bad\.yaml:\d+: invalid YAML/);
  assert.equal(inPlace.skipped.length, 1);
  assert.equal(inPlace.objects.length, 1);
  assert.deepEqual((await startParse([files], 0).result)[0], inPlace);
});

test("a non-manifest error in the worker rejects the job", async () => {
  await assert.rejects(startParse([[{ file: "x.yaml", text: 42 as unknown as string }]], 0).result, (err: unknown) => err instanceof Error && !(err instanceof ManifestError));
});

test("a check with parsing in a worker reports exactly what a check in one thread does", async () => {
  const opts = { paths: [join(CHECK, "repo"), join(CHECK, "head")], policies: CHECK_POLICIES, context: [LEASES], against: [join(CHECK, "base")], crds: { dir: DVP_CRDS, required: true } };
  assert.deepEqual(await runCheck({ ...opts, parallelParseBytes: 0 }), await runCheck({ ...opts, parallelParseBytes: Infinity }));
});

test("the type scan finds apiVersion and kind in block, flow and JSON style, and knows when it missed one", () => {
  const scan = scanTypes(["apiVersion: v1\nkind: ConfigMap\n", '{"apiVersion": "deckhouse.io/v1alpha1", "kind": "ModuleConfig", "metadata": {"name": "virtualization"}}', "- {apiVersion: a/v1, kind: X}"]);
  assert.deepEqual([...scan.apiVersions].sort(), ["a/v1", "deckhouse.io/v1alpha1", "v1"]);
  assert.deepEqual([...scan.kinds].sort(), ["ConfigMap", "ModuleConfig", "X"]);
  assert.equal(covers(scan, [{ apiVersion: "v1", kind: "ConfigMap" }]), true);
  assert.equal(covers(scan, [{ apiVersion: "v2", kind: "ConfigMap" }]), false);
});

test("when the policies fail to load while a worker parses, the error is the policy's and the worker is stopped", async () => {
  await assert.rejects(
    runCheck({ paths: [join(CHECK, "repo")], policies: "/nonexistent/policies", parallelParseBytes: 0 }),
    /\/nonexistent\/policies: cannot read policy directory/,
  );
});

test("the bundled parse worker (what the CLI starts) parses exactly as the modules do, without loading the engine", async () => {
  const files = readInputFiles([join(CHECK, "repo"), join(CHECK, "legacy-vm.yaml")]);
  const bundled = join(REPO_ROOT, "dist", "src", "bundle", "parse-worker.js");
  assert.doesNotMatch(readFileSync(bundled, "utf8"), /@bufbuild|compileExpression/, "the worker bundle holds the YAML reader only");
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const units: ParseUnit[] = files.map((_, of) => ({ of }));
  const worker = new Worker(bundled, { workerData: { files, units, counter } });
  const answer = await new Promise<{ json?: string; error?: string }>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  assert.equal(answer.error, undefined);
  const outcomes = new Map(JSON.parse(answer.json ?? "[]") as [number, UnitOutcome][]);
  assert.equal(outcomes.size, files.length);
  for (const [i, unit] of units.entries()) assert.deepEqual(outcomes.get(i), JSON.parse(JSON.stringify(parseUnit(files, unit))), files[i]?.file);
});
