// The import direction of src/: which folder may import which. One table, read by the eslint
// rule below and by test/unit/layers.test.ts; the README's "Architecture" section describes it.
import { dirname, relative, resolve, sep } from "node:path";

/**
 * Folder of src/ → the folders it may import: exactly those it does import (the test checks both
 * ways), so the table is also a map of the tree. Cycle-free by construction (checked in the test).
 */
export const LAYERS = {
  engine: [],
  pki: [],
  yaml: [],
  "policy-files": ["engine", "schema"],
  schema: ["engine", "yaml"],
  apiserver: ["engine"],
  cluster: ["engine", "yaml"],
  admission: ["engine", "cluster", "pki", "policy-files"],
  check: ["engine", "apiserver", "cluster", "schema", "policy-files", "yaml"],
  "policy-test": ["engine", "apiserver", "cluster", "schema", "policy-files", "yaml"],
  deploy: ["engine", "pki", "policy-files", "yaml"],
  audit: ["engine", "apiserver", "cluster", "schema", "policy-files", "check"],
  cli: ["engine", "pki", "yaml", "policy-files", "schema", "cluster", "admission", "check", "policy-test", "deploy", "audit"],
};

/** The engine's one door: other folders import `src/engine/index.ts` and nothing else in it. */
const ENGINE_ENTRY = "engine/index.js";

function folderOf(srcRoot, file) {
  const rel = relative(srcRoot, file);
  if (rel.startsWith("..")) return undefined;
  const parts = rel.split(sep);
  return { folder: parts.length > 1 ? parts[0] : "", rest: parts.slice(1).join("/") };
}

/** @type {import("eslint").Rule.RuleModule} */
export const layersRule = {
  meta: {
    type: "problem",
    docs: { description: "src/ folders import one way (LAYERS in eslint-rules/layers.js); the engine only through engine/index.ts" },
    schema: [],
  },
  create(context) {
    const file = context.filename;
    const srcRoot = resolve(context.cwd, "src");
    const here = folderOf(srcRoot, file);
    if (!here) return {};
    if (here.folder === "") {
      return {
        Program(node) {
          context.report({ node, message: "src/ has no loose files: put this module in the folder that owns its job (see LAYERS in eslint-rules/layers.js)" });
        },
      };
    }
    const allowed = LAYERS[here.folder];
    function check(node, source) {
      if (!source || typeof source.value !== "string" || !source.value.startsWith(".")) return;
      const target = folderOf(srcRoot, resolve(dirname(file), source.value));
      if (!target || target.folder === here.folder) return;
      if (allowed === undefined) {
        context.report({ node, message: `src/${here.folder}/ is not in LAYERS (eslint-rules/layers.js): add it with the folders it may import, and a line in the README's Architecture section` });
        return;
      }
      if (!allowed.includes(target.folder)) {
        context.report({ node, message: `src/${here.folder}/ may not import src/${target.folder || "(root)"}/ (allowed: ${allowed.join(", ") || "nothing"}); see LAYERS in eslint-rules/layers.js` });
        return;
      }
      if (target.folder === "engine" && `engine/${target.rest}` !== ENGINE_ENTRY) {
        context.report({ node, message: `import the engine through src/${ENGINE_ENTRY.replace(/\.js$/, ".ts")} only, not src/engine/${target.rest}` });
      }
    }
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source.type === "Literal" ? node.source : undefined),
    };
  },
};

export const layersPlugin = { rules: { layers: layersRule } };
