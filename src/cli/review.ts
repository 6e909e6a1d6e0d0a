import { readFileSync } from "node:fs";
import { readYaml, YamlError } from "../yaml/read.js";
import { decodeReview, encodeResponse } from "../admission/review.js";
import { ManifestError } from "../cluster/files.js";
import { asSentToWebhook, withClusterScope } from "../check/apiserver.js";
import { withPlatformDefaults } from "../check/platform-defaults.js";
import { evaluate, isObject, ParameterError, PolicyLoadError, requestBudget, type JsonObject } from "../engine/index.js";
import { DEFAULT_CRD_DIR } from "../schema/crd-dir.js";
import { loadCrdsFor } from "../schema/crds-for.js";
import { parseCommandArgs, UsageError, type Command } from "./command.js";
import { dryRunFlags, prepareDryRun } from "./dry-run.js";
import { parseEvalTimeout } from "./duration.js";

const usage = `Usage: virtguard review [--policies DIR] [--context FILE]... [--param NAME=VALUE]... [--crds DIR] REVIEW|-

Evaluates one admission.k8s.io/v1 AdmissionReview (JSON or YAML, from a file or '-' for stdin)
against the policies and prints the AdmissionReview response as JSON on stdout, exactly as the
webhook would answer. Exits 0 whatever the verdict; 2 on bad input.

Flags:
  --policies DIR        policy directory (default: the shipped DVP policies)
  --context FILE        cluster objects policies look up (YAML/JSON, multi-document or kind: List); repeatable
  --param NAME=VALUE    a policy parameter; VALUE is JSON if it parses, else a string; repeatable
  --eval-timeout DUR    evaluation deadline, as in serve (default 2s); a policy that cannot finish
                        in time answers through its failurePolicy, and findings made before are kept
  --crds DIR            CRDs to shape the objects with (default: the vendored policies/crds/)

Before the policies, the request's objects get what the API server does before it calls a webhook:
the namespace of a cluster-scoped kind cleared, nulls the schema does not allow dropped, schema
defaults and the platform's defaults (policies/platform/) filled in. A review the API server really
sent already has all of that. An object its CRD schema rejects is noted on stderr: the API server
would refuse it before any webhook.

Examples:
  virtguard review request.json
  virtguard review --context cluster.yaml --param edition=EE \\
    --param 'featureGates=["SDN","VerticalVirtualMachineAutoscaler"]' request.yaml
  kubectl get vm my-vm -o json | jq '{apiVersion:"admission.k8s.io/v1",kind:"AdmissionReview",
    request:{uid:"1",operation:"CREATE",kind:{group:"virtualization.deckhouse.io",version:"v1alpha2",kind:"VirtualMachine"},
    resource:{group:"virtualization.deckhouse.io",version:"v1alpha2",resource:"virtualmachines"},object:.}}' | virtguard review -
`;

function readInput(path: string): { text: string; name: string } {
  try {
    return path === "-" ? { text: readFileSync(0, "utf8"), name: "<stdin>" } : { text: readFileSync(path, "utf8"), name: path };
  } catch (err) {
    throw new UsageError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function parseReview(text: string, name: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    try {
      return readYaml(text);
    } catch (err) {
      if (err instanceof YamlError) throw new UsageError(`${name}:${err.line}: neither JSON nor YAML: ${err.reason}`);
      throw err;
    }
  }
}

export const command: Command = {
  summary: "Evaluate one AdmissionReview and print the response",
  usage,
  async run(argv) {
    const parsed = parseCommandArgs("review", { args: argv, options: { ...dryRunFlags, "eval-timeout": { type: "string" }, crds: { type: "string" } }, allowPositionals: true, strict: true });
    const [path, ...extra] = parsed.positionals;
    if (path === undefined) throw new UsageError("missing REVIEW argument (a file, or - for stdin); see 'virtguard review --help'");
    if (extra.length > 0) throw new UsageError(`one REVIEW at a time, got ${parsed.positionals.length}`);
    const evalTimeoutMs = parseEvalTimeout(parsed.values["eval-timeout"]);
    const input = readInput(path);
    const body = parseReview(input.text, input.name);
    let request;
    try {
      request = decodeReview(body);
    } catch (err) {
      throw new UsageError(`${input.name}: not a valid AdmissionReview: ${(err as Error).message}`);
    }
    const { set, params, context, platform } = wrapErrors(() => prepareDryRun(parsed.values));
    const objects = [request.object, request.oldObject].filter((o): o is JsonObject => isObject(o));
    const crds = objects.length > 0 ? loadCrdsFor(parsed.values.crds ?? DEFAULT_CRD_DIR, objects) : undefined;
    // Context files as the cluster stores them: kustomize's namespace on a cluster-scoped object is gone.
    context.reshapeEach((o) => withClusterScope(o, crds?.schemas));
    const shaped = asSentToWebhook(request, crds?.schemas, (o) => withPlatformDefaults(o, platform.defaults, (kind) => context.list(kind)));
    request = shaped.request;
    for (const p of shaped.problems) process.stderr.write(`note: ${input.name}: the API server would reject the object before any webhook: ${p.path}: ${p.message}\n`);
    const verdict = evaluate(set, request, { context, params, budget: requestBudget(evalTimeoutMs) });
    for (const audit of verdict.audits) {
      const who = request.userInfo?.username ?? "unknown";
      process.stderr.write(
        `audit: uid=${request.uid} user=${who} ${request.kind.kind}/${request.namespace ?? ""}/${request.name ?? ""} [${audit.policy}] ${audit.message}\n`,
      );
    }
    process.stdout.write(JSON.stringify(encodeResponse(request.uid, verdict), null, 2) + "\n");
    return 0;
  },
};

/** Loading errors (bad policy, bad context file, bad parameter) are the user's: one line, exit 2. */
export function wrapErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PolicyLoadError || err instanceof ManifestError || err instanceof ParameterError) throw new UsageError(err.message);
    throw err;
  }
}
