import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { Linter, type Rule } from "eslint";
import tseslint from "typescript-eslint";
import { REPO_ROOT } from "../support/paths.js";

const { LAYERS, layersRule } = (await import(pathToFileURL(join(REPO_ROOT, "eslint-rules", "layers.js")).href)) as {
  LAYERS: Record<string, string[]>;
  layersRule: Rule.RuleModule;
};

function lint(file: string, code: string): string[] {
  const linter = new Linter({ cwd: REPO_ROOT });
  const messages = linter.verify(
    code,
    [{ files: ["**/*.ts"], languageOptions: { parser: tseslint.parser as Linter.Parser }, plugins: { virtguard: { rules: { layers: layersRule } } }, rules: { "virtguard/layers": "error" } }],
    join(REPO_ROOT, file),
  );
  return messages.map((m) => m.message);
}

describe("layers: src/ folders import one way", () => {
  it("lists every folder of src/, and only those", () => {
    const folders = readdirSync(join(REPO_ROOT, "src"), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    assert.deepEqual(Object.keys(LAYERS).sort(), folders.sort());
    for (const [folder, deps] of Object.entries(LAYERS)) for (const dep of deps) assert.ok(dep in LAYERS, `${folder} allows unknown folder ${dep}`);
  });

  it("has no cycle: no two folders may import each other, directly or through others", () => {
    const done = new Set<string>();
    const visit = (folder: string, path: string[]): void => {
      assert.ok(!path.includes(folder), `cycle: ${[...path, folder].join(" → ")}`);
      if (done.has(folder)) return;
      for (const dep of LAYERS[folder] ?? []) visit(dep, [...path, folder]);
      done.add(folder);
    };
    for (const folder of Object.keys(LAYERS)) visit(folder, []);
  });

  it("lets the engine import no other folder", () => {
    assert.deepEqual(LAYERS.engine, []);
    assert.match(lint("src/engine/x.ts", 'import { ObjectStore } from "../cluster/object-store.js";\n')[0] ?? "", /src\/engine\/ may not import src\/cluster\//);
  });

  it("reports an import against the direction, static, re-exported or dynamic", () => {
    assert.match(lint("src/cluster/live/x.ts", 'import type { X } from "../../admission/server.js";\n')[0] ?? "", /src\/cluster\/ may not import src\/admission\//);
    assert.equal(lint("src/schema/x.ts", 'export { runCheck } from "../check/run.js";\n').length, 1);
    assert.equal(lint("src/policy-test/x.ts", 'const m = await import("../check/run.js");\nexport { m };\n').length, 1);
  });

  it("allows the listed directions, within a folder and outside src/", () => {
    assert.deepEqual(lint("src/check/x.ts", 'import { evaluate } from "../engine/index.js";\nimport { ObjectStore } from "../cluster/object-store.js";\nimport { y } from "./y.js";\n'), []);
    assert.deepEqual(lint("src/engine/x.ts", 'import schema from "../../policies/policy.schema.json" with { type: "json" };\nimport { y } from "./cel/y.js";\n'), []);
  });

  it("lets other folders reach the engine through engine/index.ts only", () => {
    assert.match(lint("src/schema/x.ts", 'import { compileExpression } from "../engine/cel/compile.js";\n')[0] ?? "", /through src\/engine\/index\.ts only/);
  });

  it("names a folder missing from the table, and a loose file in src/", () => {
    assert.match(lint("src/newthing/x.ts", 'import { evaluate } from "../engine/index.js";\n')[0] ?? "", /src\/newthing\/ is not in LAYERS/);
    assert.match(lint("src/loose.ts", "export const x = 1;\n")[0] ?? "", /no loose files/);
  });

  it("lists for each folder exactly the folders it imports: no import outside the table, no entry nothing uses", () => {
    const src = join(REPO_ROOT, "src");
    const imports = new Map<string, Set<string>>(Object.keys(LAYERS).map((f) => [f, new Set<string>()]));
    const visit = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) visit(path);
        else if (entry.name.endsWith(".ts")) {
          const folder = relative(src, path).split(sep)[0] as string;
          for (const m of readFileSync(path, "utf8").matchAll(/(?:from|import)\s*\(?\s*["'](\.[^"']+)["']/g)) {
            const target = relative(src, resolve(dirname(path), m[1] as string)).split(sep)[0] as string;
            if (target !== folder && !target.startsWith("..")) imports.get(folder)?.add(target);
          }
        }
      }
    };
    visit(src);
    for (const [folder, deps] of Object.entries(LAYERS)) assert.deepEqual([...(imports.get(folder) ?? [])].sort(), [...deps].sort(), `src/${folder}/ imports`);
  });

  it("is described by the README's Architecture section, one row per folder", () => {
    const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Architecture"), readme.indexOf("\n## ", readme.indexOf("## Architecture") + 1));
    for (const [folder, deps] of Object.entries(LAYERS)) {
      const row = section.split("\n").find((l) => l.startsWith(`| \`src/${folder}/\``));
      assert.ok(row, `README Architecture has no row for src/${folder}/`);
      const mayImport = row.split("|").at(-2)?.trim() ?? "";
      const listed = mayImport === "nothing" ? [] : mayImport.split(/,\s*/);
      assert.deepEqual([...listed].sort(), [...deps].sort(), `README row for src/${folder}/ says "${mayImport}"`);
    }
    const rows = section.split("\n").flatMap((l) => /^\| `src\/([^/`]+)\/`/.exec(l)?.[1] ?? []);
    assert.deepEqual([...rows].sort(), Object.keys(LAYERS).sort(), "one row per folder of src/, no row for a folder that is gone");
  });
});
