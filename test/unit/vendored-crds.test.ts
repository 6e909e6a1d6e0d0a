import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { loadCrdsFor } from "../../src/schema/crds-for.js";
import { CrdSchemas } from "../../src/schema/crd-schema.js";
import { DEFAULT_CRD_DIR } from "../../src/schema/crd-dir.js";
import { DVP_CRDS } from "../support/paths.js";

test("the default CRD directory is the vendored policies/crds/, with every file SOURCES.md names", () => {
  assert.equal(DEFAULT_CRD_DIR, DVP_CRDS);
  assert.deepEqual(readdirSync(DVP_CRDS).sort(), [
    "SOURCES.md",
    "config-values.yaml",
    "field-schemas.json",
    "module-config.yaml",
    "virtualmachineclasses.yaml",
    "virtualmachineipaddresses.yaml",
    "virtualmachineipaddressleases.yaml",
    "virtualmachinepools.yaml",
    "virtualmachines.yaml",
  ]);
});

test("a VirtualMachinePool is validated with its RE2 image pattern (named groups spelled (?P<name>...))", () => {
  const pool = (image: string) => ({
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachinePool",
    metadata: { name: "web", namespace: "ns" },
    spec: { virtualDiskTemplates: [{ name: "root", spec: { dataSource: { type: "ContainerImage", containerImage: { image } } } }] },
  });
  const { schemas } = loadCrdsFor(DVP_CRDS, [pool("x")]);
  assert.ok(schemas.knows(pool("x")));
  const problems = (image: string) => (schemas.validate(pool(image)) ?? []).filter((p) => p.path.endsWith("containerImage.image"));
  assert.deepEqual(problems("registry.example.com/images/slackware:15"), []);
  assert.equal(problems("Not An Image!").length, 1);
});

test("a Go named group in a pattern compiles and matches as the API server's RE2 would", () => {
  const crd = {
    kind: "CustomResourceDefinition",
    spec: {
      group: "example.io",
      names: { kind: "Tagged" },
      versions: [{ name: "v1", schema: { openAPIV3Schema: { type: "object", properties: { tag: { type: "string", pattern: "^(?P<major>\\d+)\\.(?P<minor>\\d+)$" } } } } }],
    },
  };
  const schemas = new CrdSchemas([crd]);
  const tagged = (tag: string) => ({ apiVersion: "example.io/v1", kind: "Tagged", metadata: { name: "t" }, tag });
  assert.deepEqual(schemas.validate(tagged("1.33")), []);
  assert.deepEqual(schemas.validate(tagged("v1.33"))?.map((p) => p.path), ["tag"]);
});
