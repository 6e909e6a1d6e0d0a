// The Dockerfile and .dockerignore, parsed and checked: fast, and run by `npm test`. The image itself
// is built and run by `npm run test:image` (scripts/test-image.sh, test/image/).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseManifests } from "../../src/deploy/manifests.js";
import { repoRoot } from "./helpers.js";

interface Instruction {
  op: string; // upper case
  args: string;
  line: number;
}

interface Stage {
  image: string; // ARGs resolved
  name: string | undefined;
  instructions: Instruction[];
}

/** Dockerfile → instructions: comments and parser directives dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = "";
  let start = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (buf === "" && /^\s*(#|$)/.test(line)) return;
    if (buf !== "" && /^\s*#/.test(line)) return; // comments inside a continuation
    if (buf === "") start = i + 1;
    if (/\\\s*$/.test(line)) {
      buf += line.replace(/\\\s*$/, " ");
      return;
    }
    buf += line;
    const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(buf);
    if (m) out.push({ op: (m[1] ?? "").toUpperCase(), args: (m[2] ?? "").trim(), line: start });
    buf = "";
  });
  return out;
}

export function stagesOf(instructions: Instruction[]): Stage[] {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === "ARG" && stages.length === 0) {
      const [k, v = ""] = ins.args.split("=", 2);
      globalArgs.set((k ?? "").trim(), v.trim().replace(/^"(.*)"$/, "$1"));
      continue;
    }
    if (ins.op === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `line ${ins.line}: cannot parse FROM ${ins.args}`);
      const image = (m[1] ?? "").replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => globalArgs.get(a ?? b ?? "") ?? "");
      stages.push({ image, name: m[2], instructions: [] });
      continue;
    }
    const current = stages.at(-1);
    assert.ok(current, `line ${ins.line}: ${ins.op} before FROM`);
    current.instructions.push(ins);
  }
  return stages;
}

/** .dockerignore semantics: the last matching pattern wins, `!` re-includes; `**` spans directories. */
export function dockerIgnored(patterns: string[], path: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith("!");
    const pattern = (negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, "");
    const re = new RegExp(
      "^" +
        pattern
          .split("/")
          .map((seg) => (seg === "**" ? "(?:.*)" : seg.replace(/[.+^$()|{}[\]]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")))
          .join("/")
          .replace(/\(\?:\.\*\)\//g, "(?:.*/)?") +
        "(?:/.*)?$",
    );
    if (re.test(path)) ignored = !negate;
  }
  return ignored;
}

const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
const instructions = parseDockerfile(dockerfile);
const stages = stagesOf(instructions);
const final = stages.at(-1) as Stage;

describe("Dockerfile", () => {
  test("two stages: a build stage with dev dependencies, then a runtime stage", () => {
    assert.equal(stages.length, 2);
    const build = stages[0] as Stage;
    assert.equal(build.name, "build");
    const buildRuns = build.instructions.filter((i) => i.op === "RUN").map((i) => i.args);
    assert.ok(
      buildRuns.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev|--production|--only=prod/.test(r)),
      "the build stage installs the dev dependencies (TypeScript)",
    );
    assert.ok(buildRuns.some((r) => /\btsc\b|npm run build/.test(r)), "the build stage compiles");
    assert.ok(
      final.instructions.some((i) => i.op === "COPY" && /--from=build\b/.test(i.args) && /\/dist\b/.test(i.args)),
      "the runtime stage copies the compiled dist/ from the build stage",
    );
  });

  test("every base image is Node.js 24 LTS slim by default, pinned to a version, and one build argument replaces it; no latest tag anywhere", () => {
    for (const s of stages) {
      assert.match(s.image, /^node:24\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/, `stage ${s.name ?? "?"} uses ${s.image}`);
    }
    // The FROM lines name the argument, so `--build-arg NODE_IMAGE=...` (scripts/test-image.sh) swaps both stages.
    const froms = instructions.filter((i) => i.op === "FROM").map((i) => i.args.split(/\s+/)[0]);
    assert.deepEqual(froms, ["${NODE_IMAGE}", "${NODE_IMAGE}"]);
    // The same Node.js release as CI's (scripts/node-lts.sh).
    const lts = /version="\$\{VIRTGUARD_NODE_VERSION:-([\d.]+)\}"/.exec(readFileSync(join(repoRoot, "scripts", "node-lts.sh"), "utf8"))?.[1];
    assert.ok(lts);
    assert.ok((stages[0] as Stage).image.startsWith(`node:${lts}-`), `${(stages[0] as Stage).image} is not Node.js ${lts}`);
    assert.doesNotMatch(dockerfile, /:latest\b/);
  });

  test("the build stage runs the full npm run build (TypeScript and the CEL cache); the runtime stage carries the cache and the vendored CRDs", () => {
    const build = stages[0] as Stage;
    assert.ok(build.instructions.some((i) => i.op === "RUN" && /\bnpm run build\b/.test(i.args)), "npm run build");
    assert.ok(build.instructions.some((i) => i.op === "COPY" && /scripts\/precompile-cel\.ts/.test(i.args)), "the precompile script is in the build stage");
    assert.ok(final.instructions.some((i) => i.op === "COPY" && /^policies\s/.test(i.args)), "policies/ (with policies/crds/) is copied");
    assert.ok(final.instructions.some((i) => i.op === "RUN" && /cel-cache\.json/.test(i.args) && /policies\/crds\//.test(i.args)), "the build checks the cache and the CRDs are there");
  });

  test("the runtime stage installs production dependencies only: npm ci --omit=dev", () => {
    const runs = final.instructions.filter((i) => i.op === "RUN").map((i) => i.args);
    assert.ok(
      runs.some((r) => /\bnpm ci\b[^&;]*--omit=dev/.test(r)),
      "no npm ci --omit=dev in the final stage",
    );
    for (const r of runs) {
      if (/\bnpm (ci|install|i)\b/.test(r)) assert.match(r, /--omit=dev/, `a dev-dependency install in the final stage: ${r}`);
    }
    assert.ok(
      final.instructions.some((i) => i.op === "ENV" && /NODE_ENV[= ]production/.test(i.args)),
      "NODE_ENV=production",
    );
  });

  test("runs as a numeric non-root USER, the Deployment's runAsUser", () => {
    const users = final.instructions.filter((i) => i.op === "USER");
    assert.ok(users.length > 0, "no USER in the final stage");
    const last = users.at(-1) as Instruction;
    const [uid, gid] = last.args.split(":");
    assert.match(uid ?? "", /^\d+$/, "numeric, so that runAsNonRoot can verify it");
    assert.notEqual(Number(uid), 0);
    if (gid !== undefined) assert.notEqual(Number(gid), 0);
    // Nothing runs as root after the switch, and the process starts after it.
    const idx = final.instructions.indexOf(last);
    assert.ok(!final.instructions.slice(idx + 1).some((i) => i.op === "USER"));
    assert.ok(final.instructions.findIndex((i) => i.op === "ENTRYPOINT") > idx);
    const deployment = parseManifests(readFileSync(join(repoRoot, "manifests", "deployment.yaml"), "utf8"))[0] as unknown as {
      spec: { template: { spec: { securityContext: { runAsUser: number; runAsGroup: number } } } };
    };
    assert.equal(deployment.spec.template.spec.securityContext.runAsUser, Number(uid));
    if (gid !== undefined) assert.equal(deployment.spec.template.spec.securityContext.runAsGroup, Number(gid));
  });

  test('ENTRYPOINT ["virtguard", "serve"], with virtguard on PATH', () => {
    const entry = final.instructions.filter((i) => i.op === "ENTRYPOINT").at(-1);
    assert.ok(entry);
    assert.deepEqual(JSON.parse(entry.args), ["virtguard", "serve"]);
    assert.ok(
      final.instructions.some((i) => i.op === "RUN" && /ln -s\s+\S*dist\/src\/cli\/main\.js\s+\/usr\/(local\/)?bin\/virtguard\b/.test(i.args)),
      "virtguard is linked into /usr/local/bin",
    );
    // The bin the link points at is the package's bin.
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { bin: Record<string, string> };
    assert.equal(pkg.bin.virtguard, "dist/src/cli/main.js");
  });

  test("no secrets baked in", () => {
    for (const i of instructions) {
      if (i.op === "ENV" || i.op === "ARG") assert.doesNotMatch(i.args, /(PASSWORD|TOKEN|SECRET|PRIVATE|_KEY)\b/i, `line ${i.line}: ${i.op} ${i.args}`);
      if (i.op === "COPY" || i.op === "ADD") assert.doesNotMatch(i.args, /certs|\.key\b|\.pem\b|\.npmrc|\.env\b|kubeconfig/, `line ${i.line}: ${i.op} ${i.args}`);
      assert.notEqual(i.op, "ADD", "ADD fetches URLs and unpacks archives; COPY is enough");
    }
  });

  test("only files the .dockerignore lets in are copied from the context", () => {
    const patterns = readFileSync(join(repoRoot, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    for (const s of stages) {
      for (const i of s.instructions.filter((x) => x.op === "COPY" && !/--from=/.test(x.args))) {
        const sources = i.args.split(/\s+/).filter((a) => !a.startsWith("--")).slice(0, -1);
        for (const src of sources) assert.ok(!dockerIgnored(patterns, src.replace(/^\.\//, "")), `COPY ${src} is excluded by .dockerignore`);
      }
    }
  });
});

describe(".dockerignore", () => {
  const patterns = readFileSync(join(repoRoot, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));

  test("keeps node_modules, certificates, keys, tests, dist and .git out", () => {
    for (const p of [
      "node_modules/yaml/package.json",
      "certs/tls.key",
      "certs/ca.crt",
      "test/deploy/certs.test.ts",
      "test/e2e/k8s/bin/kube-apiserver",
      "dist/src/cli/main.js",
      ".git/HEAD",
      "bench/engine.bench.ts",
      "src/some/dev.key",
      "policies/leftover.pem",
      ".npmrc",
      "src/node_modules/x.js",
    ]) {
      assert.ok(dockerIgnored(patterns, p), `${p} is in the build context`);
    }
  });

  test("lets in what the image is built from", () => {
    for (const p of ["package.json", "package-lock.json", "tsconfig.json", "src/cli/main.ts", "src/pki/tls-certs.ts", "scripts/precompile-cel.ts", "scripts/prune-dist.ts", "policies/vm-resource-limits.json", "policies/crds/virtualmachines.yaml", "manifests/deployment.yaml"]) {
      assert.ok(!dockerIgnored(patterns, p), `${p} is excluded`);
    }
  });

  test("the matcher follows Docker's rules", () => {
    assert.ok(dockerIgnored(["*"], "a/b"));
    assert.ok(!dockerIgnored(["*", "!a/"], "a/b"));
    assert.ok(dockerIgnored(["**/x"], "a/b/x"));
    assert.ok(dockerIgnored(["**/x"], "x"));
    assert.ok(dockerIgnored(["**/*.key"], "a/b.key"));
    assert.ok(!dockerIgnored(["**/*.key"], "a/b.keys"));
  });
});
