import assert from "node:assert/strict";
import { test } from "node:test";
import { ManifestError, parseObjects } from "../../src/cluster/files.js";
import { parseYaml, readYaml, readYamlDocuments, YamlError } from "../../src/yaml/read.js";
import { writeYaml } from "../../src/yaml/write.js";

const CM = (name: string, extra: Record<string, unknown> = {}) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, ...extra });

/** The objects and first lines parseObjects returns for a text, or its error. */
function parsed(text: string): [number, unknown][] | string {
  try {
    return parseObjects(text, "m.yaml").map((p) => [p.line, p.object]);
  } catch (err) {
    assert.ok(err instanceof ManifestError, `${(err as Error).name}: ${(err as Error).message}`);
    return err.message;
  }
}

// The values and lines below are the ones the `yaml` package gave before js-yaml became the only
// YAML library: the YAML 1.2 core schema, read as the API server reads manifests.
const cases: [string, string, [number, unknown][] | RegExp][] = [
  ["comments and blank lines before the object", "# a comment\n\n# another\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", [[4, CM("a")]]],
  ["empty documents and a trailing marker", "---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# nothing\n---\n", [[3, CM("a")]]],
  ["a List with flow and block items", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n-\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n", [[4, CM("a")], [6, CM("b")]]],
  [
    "YAML 1.2 core scalars",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  t: 2024-01-01T00:00:00Z\n  n: 1_000\n  o: 0o17\n  y: yes\n  f: .inf\n  z: ~\n  x: 0x1F\n  e: 1e3\n",
    [[1, CM("a", { data: { t: "2024-01-01T00:00:00Z", n: "1_000", o: 15, y: "yes", f: Infinity, z: null, x: 31, e: 1000 } })]],
  ],
  [
    "block scalars and quoting",
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "a"}\ndata:\n  s: |\n    line one\n    line two\n  f: >-\n    folded\n    text\n  q: \'it\'\'s\'\n  d: "tab\\tend"\n',
    [[1, CM("a", { data: { s: "line one\nline two\n", f: "folded text", q: "it's", d: "tab\tend" } })]],
  ],
  ["anchors and aliases", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: &l {x: y}, annotations: *l}\n", [[1, { ...CM("a"), metadata: { name: "a", labels: { x: "y" }, annotations: { x: "y" } } }]]],
  ["a tag on the root", "--- !!map\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", [[2, CM("a")]]],
  ["JSON", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}', [[1, CM("a", { data: { k: "v" } })]]],
  ["a BOM", "\ufeffapiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", [[1, CM("a")]]],
  ["CRLF line ends", "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: a\r\n---\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: b\r\n", [[1, CM("a")], [6, CM("b")]]],
  ["directives", "%YAML 1.2\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n...\n", [[3, CM("a")]]],
  ["invalid YAML", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [a\n", /^m\.yaml:4: invalid YAML: deficient indentation$/],
  ["an error in the second document", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n", /^m\.yaml:9: invalid YAML: /],
  ["duplicate keys", "apiVersion: v1\nkind: ConfigMap\nkind: Secret\n", /^m\.yaml:3: invalid YAML: duplicated mapping key$/],
  ["an unknown alias", "apiVersion: v1\nkind: ConfigMap\nmetadata: *nope\n", /^m\.yaml:3: invalid YAML: unidentified alias "nope"$/],
  ["an unknown tag", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: !foo a}\n", /^m\.yaml:3: invalid YAML: unknown scalar tag/],
  ["no kind", "apiVersion: v1\nmetadata: {name: a}\n", /^m\.yaml:1: kind: missing or not a string$/],
  ["a scalar document", "just text\n", /^m\.yaml:1: expected a Kubernetes object, got string$/],
  ["a list document", "- a\n- b\n", /^m\.yaml:1: expected a Kubernetes object, got a list$/],
  ["a List item that is not an object", "apiVersion: v1\nkind: List\nitems: [1]\n", /^m\.yaml:3: items\[0\] is not an object$/],
  ["metadata that is not an object", "apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n", /^m\.yaml:1: metadata: must be an object$/],
];

for (const [what, text, expected] of cases) {
  test(`manifests: ${what}`, () => {
    const got = parsed(text);
    if (expected instanceof RegExp) assert.match(String(got), expected);
    else assert.deepEqual(got, expected);
  });
}

test("an alias bomb is refused with the file and line, before it costs memory", () => {
  const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 13; i++) levels.push(`l${i}: &l${i} [${Array(10).fill(i === 1 ? "*a" : `*l${i - 1}`).join(", ")}]`);
  assert.match(String(parsed(`${levels.join("\n")}\n`)), /^m\.yaml:\d+: invalid YAML: aliases exceeded maxAliases \(100\)$/);
});

test("readYaml: one document, null when empty, an error with the line for a second one", () => {
  assert.deepEqual(readYaml("a: 1\n"), { a: 1 });
  assert.equal(readYaml(""), null);
  assert.equal(readYaml("# only a comment\n"), null);
  assert.throws(() => readYaml("a: 1\n---\nb: 2\n"), (err: unknown) => err instanceof YamlError && err.line === 3 && /expected one YAML document, found 2/.test(err.reason));
});

test("YAML 1.1 on request: kubectl's reading, where yes is true and 0440 is octal", () => {
  assert.deepEqual(readYaml("a: yes\nb: 0440\nc: on\n", { version: "1.1" }), { a: true, b: 288, c: true });
  assert.deepEqual(readYaml("a: yes\nb: 0440\nc: on\n"), { a: "yes", b: 440, c: "on" });
  assert.deepEqual(readYamlDocuments("a: 1\n---\n---\nb: 2\n"), [{ a: 1 }, null, { b: 2 }]);
});

test("an error never quotes the text: only the reason and the line", () => {
  assert.throws(
    () => readYaml("password: s3cr3t\nkey: *s3cr3t\n"),
    (err: unknown) => err instanceof YamlError && err.line === 2 && err.message === `line 2: ${err.reason}` && !err.reason.includes("password"),
  );
});

test("the event tree finds the line of a path: keys, list indexes, missing paths", () => {
  const text = "cases:\n  - name: a\n    expect: allowed\n  - name: b\n    object:\n      spec: {cores: 2}\n";
  const { tree } = parseYaml(text);
  const root = tree.roots()[0] as number;
  assert.equal(tree.lineAt(root, ["cases"]), 2);
  assert.equal(tree.lineAt(root, ["cases", 1, "name"]), 4);
  assert.equal(tree.lineAt(root, ["cases", 1, "object", "spec", "cores"]), 6);
  assert.equal(tree.lineAt(root, ["cases", 2]), undefined);
  assert.equal(tree.lineAt(root, ["nope"]), undefined);
});

test("writeYaml: strings another YAML version would read otherwise are quoted; the text reads back the same", () => {
  const value = { a: "yes", b: "0440", c: "on", d: "null", e: "12", f: "line one\nline two\n", g: [1, true, null], h: "x".repeat(200), i: { j: "k" } };
  const text = writeYaml(value);
  assert.deepEqual(readYaml(text), value);
  assert.deepEqual(readYaml(text, { version: "1.1" }), value);
  assert.ok(!text.includes("&") && !text.includes("*"), "no anchors");
  assert.ok(text.split("\n").some((l) => l.length > 200), "a long string is not folded");
});
