import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { test } from "node:test";
import { parseManifests } from "../../src/check/fast-yaml.js";
import { FieldLocator } from "../../src/check/locate.js";
import { parseObjects } from "../../src/cluster/files.js";
import { allFixtureFiles } from "../support/fixtures.js";
import { FIXTURES } from "../support/paths.js";

/** parseManifests must agree with the yaml-package parser everywhere: same objects, same lines, same errors. */
function sameAsYamlPackage(text: string, name: string): void {
  let expected: unknown;
  let expectedError: string | undefined;
  try {
    expected = parseObjects(text, name);
  } catch (err) {
    expectedError = (err as Error).message;
  }
  if (expectedError !== undefined) {
    assert.throws(() => parseManifests(text, name), (err: unknown) => (err as Error).message === expectedError, name);
  } else {
    assert.deepEqual(parseManifests(text, name), expected, name);
  }
}

test("every fixture file parses exactly as with the yaml package", () => {
  const files = allFixtureFiles();
  assert.ok(files.length > 10);
  for (const file of files) sameAsYamlPackage(readFileSync(file, "utf8"), relative(FIXTURES, file));
});

const tricky: Record<string, string> = {
  "comments and blank lines before the object": "# a comment\n\n# another\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
  "empty documents and a trailing marker": "---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# nothing\n---\n",
  "a List with flow and block items": "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n-\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n",
  "a kind: VirtualMachineList": "apiVersion: v1\nkind: VirtualMachineList\nitems:\n  - apiVersion: virtualization.deckhouse.io/v1alpha2\n    kind: VirtualMachine\n    metadata: {name: a}\n",
  "YAML 1.2 core scalars": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  t: 2024-01-01T00:00:00Z\n  n: 1_000\n  o: 0o17\n  y: yes\n  f: .inf\n  z: ~\n  x: 0x1F\n  e: 1e3\n",
  "block scalars and quoting": 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "a"}\ndata:\n  s: |\n    line one\n    line two\n  f: >-\n    folded\n    text\n  q: \'it\'\'s\'\n  d: "tab\\tend"\n',
  "anchors and aliases": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: &l {x: y}, annotations: *l}\n",
  "a tag on the root": "--- !!map\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
  "JSON": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}',
  "a BOM": "\ufeffapiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
  "CRLF line ends": "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: a\r\n---\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: b\r\n",
  "invalid YAML": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [a\n",
  "duplicate keys": "apiVersion: v1\nkind: ConfigMap\nkind: Secret\n",
  "no kind": "apiVersion: v1\nmetadata: {name: a}\n",
  "a scalar document": "just text\n",
  "a list document": "- a\n- b\n",
  "a List item that is not an object": "apiVersion: v1\nkind: List\nitems: [1]\n",
  "metadata that is not an object": "apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n",
  "an unknown alias": "apiVersion: v1\nkind: ConfigMap\nmetadata: *nope\n",
  "directives": "%YAML 1.2\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n...\n",
};

for (const [what, text] of Object.entries(tricky)) {
  test(`parses ${what} exactly as the yaml package does`, () => sameAsYamlPackage(text, "m.yaml"));
}

test("field paths are located on the line of their key, in documents and List items; missing fields at their deepest parent", () => {
  const text = [
    "apiVersion: v1", // 1
    "kind: List",
    "items:",
    "  - apiVersion: virtualization.deckhouse.io/v1alpha2", // 4
    "    kind: VirtualMachine",
    "    metadata:",
    "      name: a",
    "      labels: {kubevirt.io/x: y}", // 8
    "    spec:",
    "      networks:",
    "        - type: Main", // 11
    "        - type: Network",
    "          id: 2", // 13
  ].join("\n");
  const locator = new FieldLocator(new Map([["m.yaml", text]]));
  assert.equal(locator.line("m.yaml", 4, "spec.networks[1].id"), 13);
  assert.equal(locator.line("m.yaml", 4, "spec.networks[0]"), 11);
  assert.equal(locator.line("m.yaml", 4, "metadata.labels.kubevirt.io/x"), 8);
  assert.equal(locator.line("m.yaml", 4, "spec.cpu.cores"), 9);
  assert.equal(locator.line("m.yaml", 4, "status.phase"), undefined);
  assert.equal(locator.line("m.yaml", 2, "spec"), undefined, "no object starts on line 2");
});
