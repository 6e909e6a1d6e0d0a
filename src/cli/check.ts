import type { CheckReport } from "../check/report.js";
import { asUsageErrors, parseCommandArgs, UsageError, type Command } from "./command.js";
import { writeReport } from "./report-output.js";
import { parseEvalTimeout } from "./duration.js";

const FORMATS = ["text", "json", "junit", "sarif"] as const;
type Format = (typeof FORMATS)[number];

const usage = `Usage: virtguard check [flags] PATH|-...

Checks Kubernetes manifests against the policies as the cluster would admit them, without a cluster.
PATH is a file or a directory (read recursively: *.yaml, *.yml, *.json; hidden entries skipped);
'-' reads stdin. Files may hold several YAML documents, kind: List, and any mix of kinds.
Documents that are no Kubernetes objects (Helm's Chart.yaml and values, kustomization.yaml,
fragments without apiVersion or kind) are skipped with a note listing them.

- The manifests are each other's context: a VirtualMachine and its VirtualMachineClass in the same
  tree just work. --context adds cluster objects the tree does not hold (leases, nodes, ...).
- Each object is a CREATE. With --against, an object also found in the previous manifests is an
  UPDATE of that version, and (with --deletions) one found only there is a DELETE.
- As the API server does, objects of kinds with a CRD are first validated against its
  openAPIV3Schema (a schema error is a denial, and the policies do not run on that object), and
  the schema's defaults are applied before the policies see the object.
- Objects no policy matches are counted and skipped.

Flags:
  --policies DIR          policy directory (default: the shipped DVP policies)
  --context PATH          more cluster objects policies look up: a file or directory (YAML/JSON,
                          multi-document or List, e.g. a kubectl get -o yaml dump); repeatable
  --param NAME=VALUE      a policy parameter; VALUE is JSON if it parses, else a string; repeatable
  --against PATH          the previous versions of the manifests (file, directory or -); repeatable
  --deletions             judge objects present only in --against as DELETEs
  --crds DIR              CRDs (and field-schemas.json) to validate and default with (default: the vendored policies/crds/)
  -o, --output FORMAT     text (default), json, junit or sarif
  --output-file FILE      write the report to FILE instead of stdout
  --warnings-as-errors    exit 1 on warnings too
  --stdin-name NAME       the file name reports give to '-' (default: <stdin>)
  --eval-timeout DUR      evaluation deadline per object, as in serve (default 2s); a policy that
                          cannot finish in time answers through its failurePolicy
  -q, --quiet             no progress on stderr (errors are still printed)

Output goes to stdout (or --output-file); progress and diagnostics only ever go to stderr.
text: one line per finding, "FILE:LINE  Kind/namespace/name  DENY|WARN  [policy] message", then a summary.
Set VIRTGUARD_PROFILE=1 to print phase timings (read, parse, schema, evaluate, ...) on stderr.
A --policies DIR loaded once without a problem keeps its compiled CEL in ~/.cache/virtguard
(VIRTGUARD_CACHE_DIR moves it, VIRTGUARD_NO_CODE_CACHE=1 turns it off): later runs skip parsing,
type checking and compiling it. Deleting the directory is always safe.

Exit codes: 0 nothing denied; 1 something denied (or warned, with --warnings-as-errors);
2 usage or input error (unreadable file, invalid YAML, invalid policy, bad --param); every
unreadable file is named, one per line.

Examples:
  virtguard check manifests/
  virtguard check --context cluster/leases.yaml --param edition=EE vms/ classes.yaml
  kustomize build overlays/prod | virtguard check --stdin-name overlays/prod -
  virtguard check -o sarif --output-file virtguard.sarif manifests/

  # A pull request: judge changes against the merge base, deletions included
  base=$(git merge-base origin/main HEAD)
  git worktree add --detach /tmp/base "$base"
  virtguard check --against /tmp/base/manifests --deletions manifests/
  git worktree remove --force /tmp/base
`;

export const command: Command = {
  summary: "Check manifests against the policies, as the cluster would admit them",
  usage,
  async run(argv) {
    const parsed = parseCommandArgs("check", {
        args: argv,
        allowPositionals: true,
        strict: true,
        options: {
          policies: { type: "string" },
          context: { type: "string", multiple: true, default: [] },
          param: { type: "string", multiple: true, default: [] },
          against: { type: "string", multiple: true },
          deletions: { type: "boolean", default: false },
          crds: { type: "string" },
          output: { type: "string", short: "o", default: "text" },
          "output-file": { type: "string" },
          "warnings-as-errors": { type: "boolean", default: false },
          "stdin-name": { type: "string", default: "<stdin>" },
          quiet: { type: "boolean", short: "q", default: false },
          "eval-timeout": { type: "string" },
        },
      });
    const v = parsed.values;
    const format = v.output as Format;
    if (!FORMATS.includes(format)) throw new UsageError(`--output must be one of ${FORMATS.join(", ")}, got "${v.output}"`);
    if (parsed.positionals.length === 0) throw new UsageError("missing PATH (a file, a directory, or - for stdin); see 'virtguard check --help'");
    if (v.deletions && !v.against) throw new UsageError("--deletions needs --against PATH (the previous manifests)");
    const stdinUses = [...parsed.positionals, ...(v.against ?? []), ...v.context].filter((p) => p === "-").length;
    if (stdinUses > 1) throw new UsageError("'-' (stdin) can be given only once, among PATHs, --against and --context");

    const evalTimeoutMs = parseEvalTimeout(v["eval-timeout"]);
    const log = v.quiet ? () => undefined : (line: string) => process.stderr.write(`virtguard check: ${line}\n`);
    const [{ runCheck }, { Profile }, { SHIPPED_POLICIES }, { DEFAULT_CRD_DIR }, { exitCodeOf, summaryLine }] = await Promise.all([
      import("../check/run.js"),
      import("../check/profile.js"),
      import("../policy-files/policy-dir.js"),
      import("../schema/crd-dir.js"),
      import("../check/report.js"),
    ]);
    const profile = Profile.fromEnv();
    const report = await asUsageErrors("check", "nothing was checked", () =>
      runCheck({
        paths: parsed.positionals,
        policies: v.policies ?? SHIPPED_POLICIES,
        context: v.context,
        params: v.param,
        against: v.against,
        deletions: v.deletions,
        crds: { dir: v.crds ?? DEFAULT_CRD_DIR, required: v.crds !== undefined },
        stdinName: v["stdin-name"],
        log,
        profile,
        evalTimeoutMs,
      }),
    );
    const renderer = await rendererFor(format, v["warnings-as-errors"]);
    const rendered = profile.phase("render", () => renderer(report));
    writeReport(rendered, v["output-file"]);
    if (format !== "text" || v["output-file"]) log(summaryLine(report.summary));
    if (profile.enabled) process.stderr.write(profile.line() + "\n");
    return exitCodeOf(report.summary, v["warnings-as-errors"]);
  },
};

type Renderer = (report: CheckReport) => string;

/** Only the renderer asked for is loaded. */
async function rendererFor(format: Format, warningsAsErrors: boolean): Promise<Renderer> {
  const version = async () => (await import("./version.js")).version();
  switch (format) {
    case "text": {
      const { renderText } = await import("../check/render-text.js");
      return renderText;
    }
    case "json": {
      const [{ renderJson }, v] = await Promise.all([import("../check/render-json.js"), version()]);
      return (report) => renderJson(report, v);
    }
    case "junit": {
      const { renderJunit } = await import("../check/render-junit.js");
      return (report) => renderJunit(report, warningsAsErrors);
    }
    case "sarif": {
      const [{ renderSarif }, v] = await Promise.all([import("../check/render-sarif.js"), version()]);
      return (report) => renderSarif(report, v);
    }
  }
}
