import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { runCli } from "../check/helpers.js";
import { send, spawnServe, tempDir, type CliServer } from "../server/helpers.js";
import { REPO_ROOT } from "../support/paths.js";

// The README's quick start: `npm start`, then curl the example review; "the same review, without
// a server": `virtguard review`. Without a cluster, serve's --context files stand in for it, so the
// objects the platform creates at install (DVP's generic class) exist there as they do for review.
const EXAMPLE = resolve(REPO_ROOT, "examples", "review-vm-300-cores.json");

async function serveAnswer(extra: string[]): Promise<{ allowed: boolean; status?: { message: string }; warnings?: string[] }> {
  const dir = tempDir();
  const caFile = join(dir, "ca.crt");
  let srv: CliServer | undefined;
  try {
    srv = await spawnServe(["--port=0", "--address=127.0.0.1", `--dev-ca-file=${caFile}`, ...extra]);
    const reply = await send(`https://localhost:${srv.port}/validate`, { ca: readFileSync(caFile, "utf8"), body: readFileSync(EXAMPLE) });
    assert.equal(reply.status, 200, reply.text);
    return (reply.json() as { response: { allowed: boolean; status?: { message: string }; warnings?: string[] } }).response;
  } finally {
    srv?.child.kill("SIGINT");
    await srv?.exited;
  }
}

test("serve without a cluster answers the example review as review does: the generic class exists", async () => {
  const served = await serveAnswer([]);
  const { code, stdout, stderr } = await runCli(["review", EXAMPLE]);
  assert.equal(code, 0, stderr);
  const reviewed = (JSON.parse(stdout) as { response: unknown }).response;
  assert.deepEqual(served, reviewed);
  assert.equal(served.allowed, false);
  assert.match(served.status?.message ?? "", /^\[vm-resource-limits\] spec\.cpu\.cores is 300;/);
  assert.ok(!(served.warnings ?? []).some((w) => w.includes("does not exist yet")), `no "does not exist yet": ${JSON.stringify(served.warnings)}`);
});

test("serve: a --context class of the platform's name replaces the platform's object", async () => {
  const dir = tempDir();
  const small = join(dir, "generic.yaml");
  writeFileSync(
    small,
    [
      "apiVersion: virtualization.deckhouse.io/v1alpha3",
      "kind: VirtualMachineClass",
      "metadata: {name: generic}",
      "spec:",
      "  cpu: {type: Host}",
      "  sizingPolicies:",
      "    - cores: {min: 1, max: 4}",
      "",
    ].join("\n"),
  );
  const served = await serveAnswer([`--context=${small}`]);
  assert.equal(served.allowed, false);
  assert.match(served.status?.message ?? "", /\[vm-class-sizing\] spec\.cpu\.cores is 300; VirtualMachineClass "generic" has no sizing policy for that many cores \(allowed core ranges: 1-4\)/);
});
