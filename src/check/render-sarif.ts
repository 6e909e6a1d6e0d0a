import { isAbsolute, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { objectName } from "./render-text.js";
import { SCHEMA_POLICY, type CheckReport } from "./report.js";

const LEVEL = { Deny: "error", Warn: "warning", Audit: "note" } as const;

/** A report path as a SARIF artifact URI: relative to the working directory (the repository root in CI) when it lies inside it. */
export function artifactUri(file: string, cwd: string = process.cwd()): { uri: string; uriBaseId?: string } {
  const rel = isAbsolute(file) ? relative(cwd, file) : file;
  if (isAbsolute(rel) || rel.startsWith("..")) return { uri: pathToFileURL(file).href };
  return { uri: rel.split(sep).map(encodeURIComponent).join("/"), uriBaseId: "%SRCROOT%" };
}

function firstSentence(text: string): string {
  const m = /^(.+?[.!?])(\s|$)/.exec(text);
  return m?.[1] ?? text;
}

/**
 * SARIF 2.1.0, as GitHub code scanning and other SARIF viewers read it: one rule per policy (plus
 * `schema`), one result per finding with the file and line of the field it is about, so that the
 * pull request is annotated where the problem is.
 */
export function renderSarif(report: CheckReport, version: string, cwd: string = process.cwd()): string {
  const rules = [
    {
      id: SCHEMA_POLICY,
      shortDescription: { text: "The object matches its CustomResourceDefinition's openAPIV3Schema." },
      fullDescription: {
        text: "As the API server does before any admission webhook, every object of a kind a CRD describes is validated against the CRD's openAPIV3Schema (types, enums, patterns, unknown fields, x-kubernetes-validations).",
      },
      defaultConfiguration: { level: "error" },
    },
    ...report.policies.map((p) => ({
      id: p.name,
      shortDescription: { text: firstSentence(p.description) },
      fullDescription: { text: p.description },
      defaultConfiguration: { level: "error" },
      properties: { file: p.file },
    })),
  ];
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const results = report.objects.flatMap((o) =>
    o.findings.map((f) => {
      const result: Record<string, unknown> = {
        ruleId: f.policy,
        level: LEVEL[f.action],
        message: { text: `${objectName(o)}: ${f.message}` },
        locations: [
          {
            physicalLocation: { artifactLocation: artifactUri(f.file, cwd), region: { startLine: Math.max(1, f.line) } },
            logicalLocations: [{ name: o.name || objectName(o), fullyQualifiedName: objectName(o), kind: "resource" }],
          },
        ],
        properties: { operation: o.operation, apiVersion: o.apiVersion, kind: o.kind, ...(f.path ? { path: f.path } : {}) },
      };
      const ruleIndex = index.get(f.policy);
      if (ruleIndex !== undefined) result.ruleIndex = ruleIndex;
      return result;
    }),
  );
  const log = {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: { driver: { name: "virtguard", version, semanticVersion: version, rules } },
        originalUriBaseIds: { "%SRCROOT%": { uri: pathToFileURL(cwd.endsWith(sep) ? cwd : cwd + sep).href } },
        invocations: [{ executionSuccessful: true }],
        results,
      },
    ],
  };
  return JSON.stringify(log, null, 2) + "\n";
}
