/** One problem in one policy file: the file, the JSON path inside it, and what is wrong. */
export interface PolicyProblem {
  file: string;
  path: string;
  message: string;
}

export function formatProblem(p: PolicyProblem): string {
  return p.path ? `${p.file}: ${p.path}: ${p.message}` : `${p.file}: ${p.message}`;
}

/** A policy set that failed to load. Nothing of it is used: the set loads whole or not at all. */
export class PolicyLoadError extends Error {
  constructor(readonly problems: PolicyProblem[]) {
    super(
      problems.length === 1
        ? `invalid policy: ${formatProblem(problems[0] as PolicyProblem)}`
        : `${problems.length} policy problems: ${problems.map(formatProblem).join("; ")}`,
    );
    this.name = "PolicyLoadError";
  }
}

/** ajv's "/spec/validations/0/expression" as a reader writes it: "spec.validations[0].expression". */
export function jsonPath(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((seg) => seg.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((path, seg) => (/^\d+$/.test(seg) ? `${path}[${seg}]` : path ? `${path}.${seg}` : seg), "");
}
