import type { Suite } from "../policy-test/suite.js";
import { parseCommandArgs, UsageError, type Command } from "./command.js";

const usage = `Usage: virtguard test [DIR|FILE]...

Runs policy unit-test suites: every virtguard-test.yaml (or NAME.virtguard-test.yaml) found
recursively under each DIR (default: the current directory), or the suite FILEs given.
Prints a PASS/FAIL line per case, the reasons under each failure, and finally
"N passed, N failed". Exits 0 when every case passes, 1 when one fails, 2 on a suite that
cannot be run (invalid YAML or field, missing file, invalid policy, unknown parameter).
With crds set, a schema error denies a case (policy "schema") before any policy runs, as in
the cluster, and objects carry their schema defaults.

A suite (paths are relative to the suite file):

  apiVersion: virtguard.io/v1
  kind: PolicyTestSuite
  name: vm-resource-limits            # optional; default: the file's path
  policies: ..                        # the policy directory under test (or a list of directories and .json files)
  crds: ../crds                       # optional: validate and default objects with these CRDs first, as the API server does
  context:                            # optional: cluster objects every case sees
    - file: cluster/leases.yaml       #   every object of a file,
    - apiVersion: v1                  #   or an inline object
      kind: Node
      metadata: {name: node-1}
  params: {edition: EE}               # optional: policy parameters for every case
  cases:
    - name: 249 cores are denied
      resource:                       # inline object, or {file: PATH, name?: NAME, patch?: MERGE-PATCH}
        file: vm.yaml
        patch: {spec: {cpu: {cores: 249}}}
      # oldResource: {...}            # makes it an UPDATE (alone, with operation: DELETE, a DELETE)
      # context: [...]  params: {...} # per case, added to the suite's
      expect:
        result: denied                # allowed (no denial, no warning) | warned | denied
        policy: vm-resource-limits    # optional: the policy that must speak
        message: at most 248 cores    # optional: a substring of its message
        # messageRegex: '^spec\\.cpu\\.cores is 249;'
        # findings: [{action: Warn, policy: ..., message: ...}, ...]   # several, each met by its own finding
    - name: 248 cores are allowed
      resource: {file: vm.yaml, patch: {spec: {cpu: {cores: 248}}}}
      expect: allowed

Examples:
  virtguard test                        # every suite under the current directory
  virtguard test policies/tests
  virtguard test my-policies/tests/vm-limits.virtguard-test.yaml
`;

export const command: Command = {
  summary: "Run policy unit-test suites (virtguard-test.yaml)",
  usage,
  async run(argv) {
    const parsed = parseCommandArgs("test", { args: argv, allowPositionals: true, strict: true, options: {} });
    const [{ discoverSuites }, { loadSuite, SuiteError }, { PolicyCache, SchemaCache, runSuite }, { PolicyLoadError }] = await Promise.all([
      import("../policy-test/discover.js"),
      import("../policy-test/suite.js"),
      import("../policy-test/run.js"),
      import("../engine/index.js"),
    ]);
    const paths = parsed.positionals.length > 0 ? parsed.positionals : ["."];
    let files: string[];
    try {
      files = discoverSuites(paths);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (files.length === 0) throw new UsageError(`no virtguard-test.yaml suite found under ${paths.join(", ")}`);

    // Every suite is read first, so that CRD schemas are compiled once for all the suites using them.
    const suites: Suite[] = [];
    let broken = 0;
    const report = (err: unknown, file: string) => {
      if (!(err instanceof SuiteError) && !(err instanceof PolicyLoadError)) throw err;
      broken++;
      process.stdout.write(`ERROR ${file}\n`);
      const text = err.message.replace(/\s*\n\s*/g, " ");
      process.stderr.write(`virtguard test: ${text.startsWith(file) ? "" : `${file}: `}${text}\n`);
    };
    for (const file of files) {
      try {
        suites.push(loadSuite(file));
      } catch (err) {
        report(err, file);
      }
    }
    const policies = new PolicyCache();
    const schemas = new SchemaCache(suites);
    let passed = 0;
    let failed = 0;
    for (const suite of suites) {
      let results;
      try {
        results = runSuite(suite, policies, schemas);
      } catch (err) {
        report(err, suite.file);
        continue;
      }
      for (const r of results) {
        if (r.passed) {
          passed++;
          process.stdout.write(`PASS  ${r.suite} › ${r.name}\n`);
          continue;
        }
        failed++;
        process.stdout.write(`FAIL  ${r.suite} › ${r.name}\n`);
        for (const p of r.problems) process.stdout.write(`        ${p}\n`);
        if (r.findings.length === 0) process.stdout.write("        the policies said nothing\n");
        for (const f of r.findings) process.stdout.write(`        got ${f.action === "Deny" ? "denial" : "warning"}: [${f.policy}] ${f.message}\n`);
      }
    }
    if (broken > 0) process.stdout.write(`${broken} suite file${broken > 1 ? "s" : ""} could not be run (see stderr)\n`);
    process.stdout.write(`${passed} passed, ${failed} failed\n`);
    return broken > 0 ? 2 : failed > 0 ? 1 : 0;
  },
};
