import { parseArgs } from "node:util";
import type { CheckReport } from "../check/report.js";
import { asUsageErrors, flagError, UsageError, type Command } from "./command.js";
import { writeReport } from "./report-output.js";
import { parseEvalTimeout } from "./duration.js";

const FORMATS = ["text", "json", "sarif", "policyreport"] as const;
type Format = (typeof FORMATS)[number];

const usage = `Usage: virtguard audit [flags] PATH|-...
       virtguard audit --cluster [--kubeconfig FILE] [flags]

Judges objects that already exist against the current policies, as the cluster would judge them
now: after a policy update, after a VirtualMachineClass is tightened, or where virtguard was
installed late. Admission only ever sees changes; this finds what is already out of line.

- Each object a policy matches is judged as an UPDATE of itself (object and oldObject both the
  stored object): the request the API server sends the next time anything writes the object. Rules
  about what an object is (its size, its class's sizing policy, its networks) apply; rules about
  how it got there (a name length checked on CREATE, a field that may not change) do not, because
  the cluster no longer asks them. Every object read is the cluster's context for the lookups.
- Input: cluster dumps (kubectl get vm,vmclass,moduleconfig -A -o yaml, Lists, multi-document
  YAML, directories, '-' for stdin), or with --cluster the live cluster: the kinds the policies look
  up are listed as serve's informers list them (kubeconfig: --kubeconfig, else $KUBECONFIG, else
  ~/.kube/config; in a pod, its ServiceAccount).
- Objects no policy matches are not reported.

Flags:
  --cluster               audit the live cluster instead of files
  --kubeconfig FILE       the kubeconfig for --cluster
  --policies DIR          policy directory (default: the shipped DVP policies)
  --context PATH          more objects the policies look up, not judged themselves (files); repeatable
  --param NAME=VALUE      a policy parameter; VALUE is JSON if it parses, else a string; repeatable
  --crds DIR              CRDs to validate and default dumps with (default: the vendored DVP CRDs)
  -o, --output FORMAT     text (default), json, sarif, or policyreport (wgpolicyk8s.io/v1alpha2
                          PolicyReports per namespace and a ClusterPolicyReport, as a YAML List
                          for kubectl apply -f -)
  --output-file FILE      write the report to FILE instead of stdout
  --warnings-as-errors    exit 1 on warnings too
  --stdin-name NAME       the file name reports give to '-' (default: <stdin>)
  --eval-timeout DUR      evaluation deadline per object, as in serve (default 2s); a policy that
                          cannot finish in time answers through its failurePolicy
  -q, --quiet             no progress on stderr

text: one line per finding, "[FILE:LINE  ]Kind/namespace/name  DENY|WARN  [policy] message", then
a summary. Progress (every 5,000 objects on long runs) and notes go to stderr.

Exit codes: 0 nothing violates a Deny rule; 1 something does (or warns, with --warnings-as-errors);
2 usage or input error.

Examples:
  kubectl get vm,vmclass -A -o yaml > dump.yaml && virtguard audit dump.yaml
  kubectl get vm,vmclass,moduleconfig -A -o yaml | virtguard audit -
  virtguard audit --cluster -o policyreport | kubectl apply -f -
  virtguard audit --cluster --kubeconfig ~/.kube/prod -o sarif --output-file audit.sarif
`;

export const command: Command = {
  summary: "Judge existing objects (cluster dumps or a live cluster) against the policies",
  usage,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        strict: true,
        options: {
          cluster: { type: "boolean", default: false },
          kubeconfig: { type: "string" },
          policies: { type: "string" },
          context: { type: "string", multiple: true, default: [] },
          param: { type: "string", multiple: true, default: [] },
          crds: { type: "string" },
          output: { type: "string", short: "o", default: "text" },
          "output-file": { type: "string" },
          "warnings-as-errors": { type: "boolean", default: false },
          "stdin-name": { type: "string", default: "<stdin>" },
          "eval-timeout": { type: "string" },
          quiet: { type: "boolean", short: "q", default: false },
        },
      });
    } catch (err) {
      throw flagError("audit", err);
    }
    const v = parsed.values;
    const format = v.output as Format;
    if (!FORMATS.includes(format)) throw new UsageError(`--output must be one of ${FORMATS.join(", ")}, got "${v.output}"`);
    if (v.cluster && parsed.positionals.length > 0) throw new UsageError("--cluster and PATHs exclude each other: objects come from a live cluster or from dumps");
    if (!v.cluster && parsed.positionals.length === 0) throw new UsageError("missing PATH (a dump file, a directory, or - for stdin) or --cluster; see 'virtguard audit --help'");
    if (v.kubeconfig !== undefined && !v.cluster) throw new UsageError("--kubeconfig needs --cluster");
    if (v.cluster && v.context.length > 0) throw new UsageError("--context is for dumps; with --cluster every object comes from the cluster");
    if ([...parsed.positionals, ...v.context].filter((p) => p === "-").length > 1) throw new UsageError("'-' (stdin) can be given only once");

    const evalTimeoutMs = parseEvalTimeout(v["eval-timeout"]);
    const log = v.quiet ? () => undefined : (line: string) => process.stderr.write(`virtguard audit: ${line}\n`);
    const [{ SHIPPED_POLICIES }, { exitCodeOf, summaryLine }] = await Promise.all([import("../policy-files/policy-dir.js"), import("../check/report.js")]);
    const policies = v.policies ?? SHIPPED_POLICIES;
    const report = await asUsageErrors("audit", "nothing was audited", async () => {
      if (v.cluster) {
        const [{ auditCluster }, { clusterSource }, { pino }] = await Promise.all([import("../audit/live.js"), import("./audit-cluster.js"), import("pino")]);
        return auditCluster({
          cluster: clusterSource(v.kubeconfig),
          policies,
          params: v.param,
          evalTimeoutMs,
          log,
          logger: pino({ level: v.quiet ? "error" : "warn" }, pino.destination(2)),
        });
      }
      const [{ runAudit }, { DEFAULT_CRD_DIR }] = await Promise.all([import("../audit/run.js"), import("../schema/crd-dir.js")]);
      return runAudit({
        paths: parsed.positionals,
        policies,
        context: v.context,
        params: v.param,
        evalTimeoutMs,
        crds: { dir: v.crds ?? DEFAULT_CRD_DIR, required: v.crds !== undefined },
        stdinName: v["stdin-name"],
        log,
      });
    });
    const rendered = await render(format, report);
    writeReport(rendered, v["output-file"]);
    if (format !== "text" || v["output-file"]) log(summaryLine(report.summary));
    return exitCodeOf(report.summary, v["warnings-as-errors"]);
  },
};

async function render(format: Format, report: CheckReport): Promise<string> {
  const version = async () => (await import("./version.js")).version();
  switch (format) {
    case "text":
      return (await import("../check/render-text.js")).renderText(report);
    case "json":
      return (await import("../check/render-json.js")).renderJson(report, await version(), "AuditReport");
    case "sarif":
      return (await import("../check/render-sarif.js")).renderSarif(report, await version());
    case "policyreport": {
      const [{ policyReports }, { writeYaml }] = await Promise.all([import("../audit/policy-report.js"), import("../yaml/write.js")]);
      return writeYaml({ apiVersion: "v1", kind: "List", items: policyReports(report.objects, new Date()) });
    }
  }
}
