import { objectName } from "./render-text.js";
import { SCHEMA_POLICY, type CheckReport, type ObjectResult, type ReportFinding } from "./report.js";

/** Text as XML 1.0 allows it: escaped markup, no control characters besides tab and newline. */
export function xmlEscape(text: string): string {
  return text
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "\ufffd")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

function attrs(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join("");
}

interface TestCase {
  name: string;
  classname: string;
  file: string;
  line: number;
  failures: ReportFinding[];
  output: string[];
  skipped?: string;
}

function lineOf(f: ReportFinding, name: string): string {
  return `${f.file}:${f.line}  ${name}  ${f.action.toUpperCase()}  [${f.policy}] ${f.message}`;
}

/** One testcase per object and policy (and one for its CRD schema), one failure per denial. */
function testCases(o: ObjectResult, warningsAsErrors: boolean): TestCase[] {
  const name = objectName(o);
  const byPolicy = (policy: string): TestCase => {
    const own = o.findings.filter((f) => f.policy === policy);
    const fails = (f: ReportFinding) => f.action === "Deny" || (warningsAsErrors && f.action === "Warn");
    return {
      name: policy,
      classname: name,
      file: o.file,
      line: o.line,
      failures: own.filter(fails),
      output: own.filter((f) => !fails(f)).map((f) => lineOf(f, name)),
    };
  };
  const cases: TestCase[] = [];
  if (o.schema !== "unknown") cases.push(byPolicy(SCHEMA_POLICY));
  for (const policy of o.policies) cases.push(byPolicy(policy));
  if (o.policies.length === 0 && o.schema !== "invalid") {
    cases.push({ name: "no policy matches", classname: name, file: o.file, line: o.line, failures: [], output: [], skipped: "no policy matches this object" });
  }
  return cases;
}

/**
 * JUnit XML as CI systems read it (GitLab, Jenkins, Azure DevOps): a testsuite per manifest file,
 * a testcase per object and policy, a `<failure>` per denial (and per warning with
 * --warnings-as-errors), warnings otherwise in `<system-out>`, unmatched objects as skipped.
 */
export function renderJunit(report: CheckReport, warningsAsErrors: boolean): string {
  const suites = new Map<string, TestCase[]>();
  for (const file of report.files) suites.set(file, []);
  for (const o of report.objects) {
    let list = suites.get(o.file);
    if (!list) suites.set(o.file, (list = []));
    list.push(...testCases(o, warningsAsErrors));
  }
  const count = (cases: TestCase[]) => ({
    tests: cases.length,
    failures: cases.filter((c) => c.failures.length > 0).length,
    errors: 0,
    skipped: cases.filter((c) => c.skipped !== undefined).length,
  });
  const all = [...suites.values()].flat();
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites${attrs({ name: "virtguard check", ...count(all) })}>`];
  for (const [file, cases] of suites) {
    out.push(`  <testsuite${attrs({ name: file, ...count(cases) })}>`);
    for (const c of cases) {
      const head = `    <testcase${attrs({ name: c.name, classname: c.classname, file: c.file, line: c.line })}`;
      if (c.failures.length === 0 && c.output.length === 0 && c.skipped === undefined) {
        out.push(`${head}/>`);
        continue;
      }
      out.push(`${head}>`);
      if (c.skipped !== undefined) out.push(`      <skipped${attrs({ message: c.skipped })}/>`);
      for (const f of c.failures) {
        out.push(`      <failure${attrs({ message: `[${f.policy}] ${f.message}`, type: f.action })}>${xmlEscape(lineOf(f, c.classname))}</failure>`);
      }
      if (c.output.length > 0) out.push(`      <system-out>${xmlEscape(c.output.join("\n"))}</system-out>`);
      out.push("    </testcase>");
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return out.join("\n") + "\n";
}
