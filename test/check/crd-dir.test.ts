import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readCrdDir } from "../../src/schema/crd-dir.js";
import { loadCrdsFor } from "../../src/schema/crds-for.js";
import type { JsonObject } from "../../src/engine/index.js";

/** A CRD directory of the given files. */
function crdDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "virtguard-crd-dir-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

// A CRD that keeps spec.config free-form, as an operator's does before it publishes a schema per object name.
const WIDGET_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget, plural: widgets}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                config: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;

const FIELD_SCHEMAS = JSON.stringify({ fieldSchemas: [{ group: "example.com", kind: "Widget", name: "gear", field: "spec.config", file: "gear-config.yaml" }] });
const GEAR_CONFIG = "type: object\nrequired: [teeth]\nproperties:\n  teeth: {type: integer, minimum: 3}\n  finish: {type: string, default: matte}\n";

const widget = (name: string, config: JsonObject): JsonObject => ({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name }, spec: { config } });

test("field-schemas.json attaches a schema to one field of the objects of one group, kind and name", () => {
  const dir = crdDir({ "widgets.yaml": WIDGET_CRD, "field-schemas.json": FIELD_SCHEMAS, "gear-config.yaml": GEAR_CONFIG });
  const contents = readCrdDir(dir);
  assert.deepEqual(contents.crds.map((c) => (c.metadata as { name: string }).name), ["widgets.example.com"], "the schema files are no CRD files");
  assert.deepEqual(contents.fields.map((f) => f.spec.file), ["gear-config.yaml"]);
  const { schemas } = loadCrdsFor(dir, [widget("gear", {})]);
  assert.deepEqual(schemas.validate(widget("gear", { teeth: 2 })), [{ path: "spec.config.teeth", message: "must be >= 3" }]);
  assert.deepEqual(schemas.validate(widget("gear", {})), [{ path: "spec.config.teeth", message: "Required value" }]);
  assert.deepEqual((schemas.withDefaults(widget("gear", { teeth: 12 })).spec as { config: unknown }).config, { teeth: 12, finish: "matte" });
  assert.deepEqual(schemas.validate(widget("lever", { teeth: 2 })), [], "another name's field stays free-form");
  // Objects of another name only: the field schema is not compiled at all.
  assert.deepEqual(loadCrdsFor(dir, [widget("lever", {})]).schemas.validate(widget("gear", {})), []);
});

test("a broken field-schemas.json or schema file is an error naming the file and the entry", () => {
  const entry = { group: "example.com", kind: "Widget", name: "gear", field: "spec.config", file: "gear-config.yaml" };
  const cases: [Record<string, string>, RegExp][] = [
    [{ "field-schemas.json": "{" }, /field-schemas\.json: .*JSON/],
    [{ "field-schemas.json": "{}" }, /field-schemas\.json: fieldSchemas: expected a list$/],
    [{ "field-schemas.json": JSON.stringify({ fieldSchemas: [{ ...entry, kind: "" }] }) }, /field-schemas\.json: fieldSchemas\[0\]\.kind: expected a non-empty string$/],
    [{ "field-schemas.json": JSON.stringify({ fieldSchemas: [{ ...entry, file: "../x.yaml" }] }) }, /fieldSchemas\[0\]\.file: expected a file of this directory$/],
    [{ "field-schemas.json": FIELD_SCHEMAS }, /field-schemas\.json: gear-config\.yaml: cannot read: ENOENT$/],
    [{ "field-schemas.json": FIELD_SCHEMAS, "gear-config.yaml": "- a list" }, /gear-config\.yaml: expected a schema \(a YAML mapping\)$/],
    [{ "widgets.yaml": "a: [" }, /widgets\.yaml:\d+: invalid YAML: /],
  ];
  for (const [files, message] of cases) assert.throws(() => readCrdDir(crdDir(files)), message, JSON.stringify(files));
});
