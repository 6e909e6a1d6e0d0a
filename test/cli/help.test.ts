import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "../check/helpers.js";

test("virtguard help CMD prints CMD's --help (exit 0); an unknown CMD is a usage error", async () => {
  for (const command of ["check", "audit", "serve"]) {
    const viaHelp = await runCli(["help", command]);
    const viaFlag = await runCli([command, "--help"]);
    assert.equal(viaHelp.code, 0, viaHelp.stderr);
    assert.match(viaHelp.stdout, new RegExp(`^Usage: virtguard ${command} `));
    assert.equal(viaHelp.stdout, viaFlag.stdout);
  }
  const unknown = await runCli(["help", "frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, `virtguard: unknown command "frobnicate"; run 'virtguard --help' for the list\n`);
});

test("virtguard help alone is the command list (exit 0), as --help is", async () => {
  const { code, stdout } = await runCli(["help"]);
  assert.equal(code, 0);
  assert.equal(stdout, (await runCli(["--help"])).stdout);
  assert.match(stdout, /^ {2}check +Check manifests against the policies/m);
});

test("serve --help: every environment variable starts in one column, the longest flag included", async () => {
  const { stdout } = await runCli(["serve", "--help"]);
  const columns = new Set(stdout.split("\n").filter((l) => / {2}--[a-z-]+ /.test(l) && l.includes(" VIRTGUARD_")).map((l) => l.indexOf(" VIRTGUARD_")));
  assert.equal(columns.size, 1, `columns: ${[...columns].join(", ")}`);
  assert.match(stdout, /--audit-lease NAMESPACE\/NAME +the coordination\.k8s\.io Lease/);
});
