/**
 * Build step: bundle the CLI (dist/src/cli/cli.js and every module it loads, commands split into
 * chunks loaded on demand) into dist/src/bundle/. Loading a few files instead of ~200 modules
 * halves the CPU time of a `check` start-up (docs/ci.md has the measurement); the bin entry
 * (cli/main.ts) uses the bundle only when it is newer than the modules it was built from.
 * Packages only a server or a rarely used path needs stay outside, loaded from node_modules.
 */
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const BUNDLE_DIR = fileURLToPath(new URL("../src/bundle/", import.meta.url));

// Bundled: what `check` and `review` run on. Everything else is resolved from node_modules at run time.
const BUNDLED = new Set(["@bufbuild/cel", "@bufbuild/cel-spec", "@bufbuild/protobuf", "@bufbuild/re2", "ip-address", "js-yaml"]);

/** What both bundles share: ES modules for this Node.js, beside each other in BUNDLE_DIR. */
const ESM_FOR_NODE = { outdir: BUNDLE_DIR, bundle: true, format: "esm", platform: "node", target: "node24", metafile: true, logLevel: "warning" } as const;

rmSync(BUNDLE_DIR, { recursive: true, force: true });
const result = await build({
  entryPoints: {
    cli: fileURLToPath(new URL("../src/cli/cli.js", import.meta.url)),
    // serve's probe thread, started from a file next to the module that starts it (ops-port.ts).
    "ops-thread": fileURLToPath(new URL("../src/admission/ops-thread.js", import.meta.url)),
  },
  ...ESM_FOR_NODE,
  splitting: true,
  plugins: [
    {
      name: "external-packages",
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          const name = args.path.startsWith("@") ? args.path.split("/").slice(0, 2).join("/") : (args.path.split("/")[0] as string);
          return BUNDLED.has(name) || args.path.startsWith("node:") ? undefined : { path: args.path, external: true };
        });
      },
    },
  ],
});
const sizeOf = (r: { metafile: { outputs: Record<string, { bytes: number }> } }) => Object.values(r.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
const bytes = sizeOf(result);
console.log(`bundled the CLI into ${BUNDLE_DIR} (${Object.keys(result.metafile.outputs).length} files, ${Math.round(bytes / 1024)} KiB)`);

// check's parse worker on its own, beside the chunks (src/check/parse-parallel.ts starts it from
// there): the YAML reader needs only the engine's isObject, so it gets engine/object.js instead of
// the engine's index (and with it the whole CEL stack, ~0.3 s of module loading per worker).
// Should the reader ever need more of the engine, this build fails on the missing export.
const worker = await build({
  entryPoints: { "parse-worker": fileURLToPath(new URL("../src/check/parse-worker.js", import.meta.url)) },
  ...ESM_FOR_NODE,
  plugins: [
    {
      name: "engine-object-only",
      setup(b) {
        b.onResolve({ filter: /\/engine\/index\.js$/ }, (args) => ({ path: fileURLToPath(new URL("object.js", new URL(args.path, `file://${args.resolveDir}/`))) }));
      },
    },
  ],
});
const workerBytes = sizeOf(worker);
console.log(`bundled check's parse worker (${Math.round(workerBytes / 1024)} KiB)`);
