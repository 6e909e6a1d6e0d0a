import assert from "node:assert/strict";
import { test } from "node:test";
import { parseInputFiles } from "../../src/check/inputs.js";
import { listPieces, pieceText } from "../../src/check/list-pieces.js";
import { startParse } from "../../src/check/parse-parallel.js";
import { parseObjects } from "../../src/cluster/files.js";

/** An item of a kubectl-style List (`- ` at `indent`), with a literal block, a flow map, a comment and a nested list. */
function item(i: number, indent = 0, padding = 0): string {
  const p = " ".repeat(indent);
  return `${p}- apiVersion: virtualization.deckhouse.io/v1alpha2
${p}  kind: VirtualMachine
${p}  metadata:
${p}    name: vm-${i}
${p}    namespace: tenant-${i % 7}
${p}    labels: {app: web, tier: "${i % 3}"}
${p}    annotations:
${p}      note: |
${p}        - not an item
${p}        line two${"x".repeat(padding)}
# a comment at column 0 between fields
${p}  spec:
${p}    cpu: {cores: ${1 + (i % 8)}, coreFraction: 100%}
${p}    blockDeviceRefs:
${p}    - kind: VirtualDisk
${p}      name: vm-${i}-root

`;
}

function list(count: number, indent = 0, padding = 0): string {
  const items = Array.from({ length: count }, (_, i) => item(i, indent, padding)).join("");
  return `apiVersion: v1\nitems:\n${items}kind: List\nmetadata:\n  resourceVersion: ""\n`;
}

test("a large List is cut into items that parse, one by one, to the objects and lines of the whole file", () => {
  for (const indent of [0, 2]) {
    const text = list(300, indent);
    const pieces = listPieces(text, 0);
    assert.ok(pieces, `indent ${indent}`);
    assert.equal(pieces.length, 300);
    const whole = parseObjects(text, "dump.yaml");
    const cut = pieces.map((p) => {
      const [o, ...more] = parseObjects(pieceText(text, p), "dump.yaml");
      assert.ok(o && more.length === 0);
      return { ...o, line: o.line + p.lineOffset };
    });
    assert.deepEqual(cut, whole);
  }
});

test("texts that are no List, or not in a layout that cuts safely, are not cut", () => {
  const small = list(3);
  assert.equal(listPieces(small), undefined, "below the size limit");
  assert.equal(listPieces(`${small}---\n${small}`, 0), undefined, "several documents");
  assert.equal(listPieces(small.replace("kind: List", "kind: ConfigMap"), 0), undefined, "not a List");
  assert.equal(listPieces(small.replace("items:\n", "items:\n\t\n"), 0), undefined, "tabs");
  assert.equal(listPieces("apiVersion: v1\nkind: List\nitems: []\n", 0), undefined, "no items");
  assert.equal(listPieces(small.replace(/^items:\n- /m, "items:\n  apiVersion: x\n- "), 0), undefined, "items is no sequence");
});

test("a List whose cut goes wrong is parsed whole: the same objects, lines and errors", async () => {
  // An item that is itself a List: alone, it would be flattened into its items.
  const nested = "- apiVersion: v1\n  kind: List\n  items:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n";
  const tricky = list(100, 0, 12_000).replace(/^items:\n/m, `items:\n${nested}`);
  const broken = list(100, 0, 12_000).replace("    name: vm-9\n", "    name: [vm-9\n");
  const files = [
    { file: "dump.yaml", text: list(100, 0, 12_000) },
    { file: "tricky.yaml", text: tricky },
    { file: "broken.yaml", text: broken },
  ];
  for (const f of files) assert.ok(f.text.length > 1 << 20 && listPieces(f.text), `${f.file} is cut`);
  const [parsed] = await startParse([files], 0).result;
  assert.deepEqual(parsed, parseInputFiles(files));
  assert.equal(parsed?.objects.length, 201);
  assert.equal(parsed?.errors.length, 1);
  assert.match(parsed?.errors[0] ?? "", /^broken\.yaml:\d+: invalid YAML/);
  const first = parsed?.objects.find((o) => o.file === "tricky.yaml");
  assert.deepEqual([first?.object.kind, first?.line], ["List", 3]);
});
