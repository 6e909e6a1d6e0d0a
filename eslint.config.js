import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { layersPlugin } from "./eslint-rules/layers.js";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "test/e2e/k8s/", "certs/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    files: ["src/**/*.ts"],
    plugins: { virtguard: layersPlugin },
    rules: {
      "virtguard/layers": "error",
      // One isObject, the engine's (src/engine/object.ts): copies kept appearing with every change.
      "no-restricted-syntax": ["error", { selector: "FunctionDeclaration[id.name='isObject']", message: "use isObject from the engine (src/engine/object.ts; engine/index.ts outside the engine)" }],
    },
  },
  { files: ["src/engine/object.ts"], rules: { "no-restricted-syntax": "off" } },
  {
    // A function longer than a screen does several things: name them. The CEL code generator is
    // left out while it is being optimised (codegen/calls.ts's native() is 71 lines).
    files: ["src/**/*.ts"],
    ignores: ["src/engine/cel/**"],
    rules: { "max-lines-per-function": ["error", { max: 70, skipBlankLines: true, skipComments: true }] },
  },
  {
    // One YAML library, behind one module: js-yaml is imported by src/yaml/ alone.
    files: ["src/**/*.ts", "scripts/**/*.ts", "bench/**/*.ts", "test/**/*.ts"],
    ignores: ["src/yaml/**"],
    rules: {
      "no-restricted-imports": ["error", { paths: [{ name: "js-yaml", message: "read and write YAML through src/yaml/ (read.ts, write.ts)" }, { name: "yaml", message: "virtguard's YAML library is js-yaml, behind src/yaml/" }] }],
    },
  },
);
