import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { runCheck } from "../../src/check/run.js";
import { displayName } from "../../src/check/plan.js";
import type { ObjectResult } from "../../src/check/report.js";
import { SHIPPED_POLICIES } from "../../src/policy-files/policy-dir.js";
import { DVP_CRDS, FIXTURES, REPO_ROOT } from "../support/paths.js";

// Real manifests from DVP's public repository (test/fixtures/dvp-corpus/SOURCES says where each
// comes from), judged by the shipped policies with the vendored CRDs. VERDICTS holds the verdict
// of every object, reviewed one by one; docs/ci.md explains every denial and warning.

const CORPUS = join(FIXTURES, "dvp-corpus");

interface Unit {
  source: "docs" | "e2e" | "crds" | "charts";
  file: string;
  context: string[];
  params: string[];
}

/**
 * Each docs code block and each CRD example is checked alone, as a user who copies it would; each
 * e2e test's rendered tree (or loose test data file) is checked alone against the e2e cluster: its
 * default class, and the SDN gate (.github/scripts/bash/e2e/enable-sdn.sh,
 * patch-virtualization-feature-gates.sh); each hand-rendered chart with the SDN gate too (the nested
 * test cluster's VMs join a ClusterNetwork).
 */
function units(): Unit[] {
  const dir = (source: Unit["source"], context: string[], params: string[]): Unit[] =>
    readdirSync(join(CORPUS, source))
      .sort()
      .map((f): Unit => ({ source, file: join(CORPUS, source, f), context, params }));
  const sdn = ['featureGates=["SDN"]'];
  return [...dir("docs", [], []), ...dir("e2e", [join(CORPUS, "e2e-context")], sdn), ...dir("crds", [], []), ...dir("charts", [], sdn)];
}

function line(o: ObjectResult): string {
  const findings = o.findings.map((f) => `${f.action}:${f.policy}`);
  return `${relative(CORPUS, o.file)}:${o.line} ${displayName({ kind: o.kind, namespace: o.namespace ?? "", name: o.name })} ${o.status}${findings.length ? " " + [...new Set(findings)].join(",") : ""}`;
}

interface Counts {
  objects: number;
  allowed: number;
  warned: number;
  denied: number;
  skipped: number;
  notObjects: number;
}

async function judgeCorpus(): Promise<{ lines: string[]; counts: Record<string, Counts> }> {
  const lines: string[] = [];
  const counts: Record<string, Counts> = {};
  for (const unit of units()) {
    const notes: string[] = [];
    const report = await runCheck({ paths: [unit.file], context: unit.context, params: unit.params, policies: SHIPPED_POLICIES, crds: { dir: DVP_CRDS, required: true }, log: (l) => notes.push(l) });
    const c = (counts[unit.source] ??= { objects: 0, allowed: 0, warned: 0, denied: 0, skipped: 0, notObjects: 0 });
    for (const o of report.objects) {
      lines.push(line(o));
      c.objects++;
      c[o.status]++;
    }
    for (const note of notes) {
      for (const m of note.matchAll(/([^\s,:]+\.yaml):(\d+) \(not a Kubernetes object/g)) {
        lines.push(`${relative(CORPUS, m[1] as string)}:${m[2]} not-an-object`);
        c.notObjects++;
      }
    }
  }
  return { lines, counts };
}

const judged = judgeCorpus();

test("every object of the DVP corpus gets the verdict recorded in VERDICTS", async () => {
  const { lines } = await judged;
  const expected = readFileSync(join(CORPUS, "VERDICTS"), "utf8")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"));
  assert.deepEqual(lines, expected);
});

test("the corpus holds at least 100 objects, each file named in SOURCES with its repository, path and commit", async () => {
  const { counts } = await judged;
  const objects = Object.values(counts).reduce((n, c) => n + c.objects, 0);
  assert.ok(objects >= 100, `${objects} objects`);
  const sources = new Map(
    readFileSync(join(CORPUS, "SOURCES"), "utf8")
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => l.split("\t"))
      .map((f) => [f[0] as string, f]),
  );
  for (const unit of units()) {
    const entry = sources.get(relative(CORPUS, unit.file));
    assert.ok(entry, `${unit.file} is not in SOURCES`);
    assert.equal(entry[1], "deckhouse/virtualization");
    assert.match(entry[3] ?? "", /^[0-9a-f]{40}$/);
  }
});

test("docs/ci.md gives the corpus counts by source as they are", async () => {
  const { counts } = await judged;
  const doc = readFileSync(join(REPO_ROOT, "docs", "ci.md"), "utf8");
  for (const [source, c] of Object.entries(counts)) {
    const row = `| ${source} | ${c.objects} | ${c.allowed} | ${c.warned} | ${c.denied} | ${c.skipped} | ${c.notObjects} |`;
    assert.ok(doc.includes(row), `docs/ci.md lacks the row ${row}`);
  }
});
