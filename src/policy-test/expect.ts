import type { Finding, Verdict } from "../engine/index.js";
import type { ExpectedFinding, Expectation, ExpectedResult } from "./suite.js";

/** The class of a verdict as suites name it: denied (a denial), warned (warnings only), allowed (neither). */
export function resultOf(verdict: Verdict): ExpectedResult {
  return verdict.denials.length > 0 ? "denied" : verdict.warnings.length > 0 ? "warned" : "allowed";
}

export function describeExpected(f: ExpectedFinding): string {
  const parts = [f.action === "Deny" ? "a denial" : "a warning"];
  if (f.policy) parts.push(`from ${f.policy}`);
  if (f.message !== undefined) parts.push(`containing ${JSON.stringify(f.message)}`);
  if (f.messageRegex) parts.push(`matching /${f.messageRegex.source}/`);
  return parts.join(" ");
}

function meets(found: Finding, f: ExpectedFinding): boolean {
  return (
    found.action === f.action &&
    (f.policy === undefined || found.policy === f.policy) &&
    (f.message === undefined || found.message.includes(f.message)) &&
    (f.messageRegex === undefined || f.messageRegex.test(found.message))
  );
}

/**
 * What is wrong with a verdict for this expectation; empty when it passes. Each expected finding
 * needs a finding of its own (two expectations are not met by one message).
 */
export function mismatches(verdict: Verdict, expect: Expectation): string[] {
  const problems: string[] = [];
  const got = resultOf(verdict);
  if (got !== expect.result) problems.push(`expected ${expect.result}, got ${got}`);
  const unused = [...verdict.denials, ...verdict.warnings];
  for (const f of expect.findings) {
    const i = unused.findIndex((found) => meets(found, f));
    if (i < 0) problems.push(`expected ${describeExpected(f)}; none found`);
    else unused.splice(i, 1);
  }
  return problems;
}
