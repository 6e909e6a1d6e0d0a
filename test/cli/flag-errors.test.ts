import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "../check/helpers.js";

// A mistyped flag is one line naming it and the help to read, exit 2, for every command.
for (const command of ["check", "audit", "review", "test", "certs", "manifests", "serve"]) {
  test(`${command}: an unknown flag is one line naming it and pointing at --help (exit 2)`, async () => {
    const { code, stdout, stderr } = await runCli([command, "--frobnicate", "x"]);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(stderr, `virtguard: Unknown option '--frobnicate'; see 'virtguard ${command} --help'\n`);
  });
}

test("a flag without its value says which one (exit 2)", async () => {
  const { code, stderr } = await runCli(["check", "--output"]);
  assert.equal(code, 2);
  assert.equal(stderr, "virtguard: Option '-o, --output <value>' argument missing; see 'virtguard check --help'\n");
});
