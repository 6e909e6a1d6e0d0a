import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { blockLine, lineStarts, UNSURE } from "../../src/check/block-lines.js";
import { parseObjects } from "../../src/cluster/files.js";
import { FieldLocator } from "../../src/check/locate.js";
import type { JsonValue } from "../../src/engine/index.js";
import { FIXTURES, REPO_ROOT } from "../support/paths.js";

/** Every path inside a value as findings name them (spec.cpu.cores, spec.networks[1].id), plus paths that do not exist. */
function paths(value: JsonValue, prefix: string, out: string[]): string[] {
  if (prefix) out.push(prefix, `${prefix}.missing`, `${prefix}[7]`);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, `${prefix}[${i}]`, out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) paths(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(name) ? [p] : [];
  });
}

/** Compares the indentation scan with the parse-based walk on every path of every object; returns how many the scan answered. */
function compare(file: string, text: string): { answered: number; total: number } {
  const locator = new FieldLocator(new Map([[file, text]]));
  const lines = { text, starts: lineStarts(text) };
  let answered = 0;
  let total = 0;
  let objects;
  try {
    objects = parseObjects(text, file);
  } catch {
    return { answered: 0, total: 0 }; // a fragment, not a manifest (the DVP corpus holds some on purpose)
  }
  for (const { object, line } of objects) {
    for (const path of paths(object, "", [])) {
      const expected = locator.parsedLine(file, line, path);
      assert.equal(locator.line(file, line, path), expected, `${file}:${line} ${path}`);
      const scanned = blockLine(lines, line - 1, path);
      if (scanned !== UNSURE) {
        assert.equal(scanned === undefined ? undefined : scanned + 1, expected, `${file}:${line} ${path} (scan)`);
        answered++;
      }
      total++;
    }
  }
  return { answered, total };
}

test("the indentation scan finds every field's line exactly where the YAML parse does, in every fixture", () => {
  let answered = 0;
  let total = 0;
  for (const file of [...yamlFiles(FIXTURES), ...yamlFiles(join(REPO_ROOT, "policies", "tests"))]) {
    const r = compare(file, readFileSync(file, "utf8"));
    answered += r.answered;
    total += r.total;
  }
  assert.ok(total > 2000, `${total} paths compared`);
  assert.ok(answered / total > 0.5, `the scan answers most lookups itself (flow style and Lists go to the parse) (${answered} of ${total})`);
});

test("the scan agrees with the parse on tricky block YAML, or leaves it to the parse", () => {
  const texts = {
    compact: "apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n  refs:\n  - kind: X\n    name: x\n  -   kind: Y\n      name: y\n  after: 1\n",
    blockScalar: "apiVersion: v1\nkind: A\nmetadata:\n  name: a\ndata:\n  script: |\n    cpu: 1\n    spec:\n  cpu: 2\n",
    comments: "# head\napiVersion: v1 # trailing\nkind: A\nmetadata:\n  # inner\n  name: a\n\nspec:\n  # before\n  cpu:\n    # deep\n    cores: 4\n",
    dotted: "apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  labels:\n    app.kubernetes.io/name: x\n    app: y\n",
    quoted: "apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n  \"quoted\": 1\n  cpu: {cores: 2}\n  list: [1, 2]\n",
    anchors: "apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n  base: &b\n    cores: 1\n  other: *b\n",
    list: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: A\n  metadata:\n    name: a\n  spec:\n    cores: 3\n",
    crlf: "apiVersion: v1\r\nkind: A\r\nmetadata:\r\n  name: a\r\nspec:\r\n  cpu:\r\n    cores: 4\r\n",
    nested: "apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n  m:\n  - - 1\n    - 2\n  - a: 1\n    b:\n    - c: 2\n  empty:\n  last: x\n",
    documents: "apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n  cores: 1\n---\napiVersion: v1\nkind: A\nmetadata:\n  name: b\nspec:\n  cores: 2\n...\n",
  };
  for (const [name, text] of Object.entries(texts)) compare(`${name}.yaml`, text);
  // And the scan answers the plain shapes itself.
  const plain = { text: texts.compact, starts: lineStarts(texts.compact) };
  assert.equal(blockLine(plain, 0, "spec.refs[1].name"), 9);
  assert.equal(blockLine(plain, 0, "spec.after"), 10);
  assert.equal(blockLine({ text: texts.quoted, starts: lineStarts(texts.quoted) }, 0, "spec.cpu.cores"), UNSURE);
});
