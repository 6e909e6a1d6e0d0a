import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileContextProvider } from "../../src/cluster/context-provider.js";
import type { JsonObject } from "../../src/engine/index.js";
import { SHIPPED_POLICIES } from "../../src/policy-files/policy-dir.js";
import { runCli, tempTree } from "../check/helpers.js";
import { send, startTestServer, type TestServer } from "../server/helpers.js";
import { fixture } from "../support/fixtures.js";
import { FIXTURES } from "../support/paths.js";
import { admissionReview } from "../support/review.js";

// The memory sizes an attacker tries first, through every way virtguard is used: a size that does
// not convert to int64, or is negative, or is not a quantity, is a denial naming the value as
// written and the limit (the platform's 1024Gi, and the class's 1Gi-8Gi range for 1-4 cores).
const CLASS = join(FIXTURES, "vm", "class-tiered-v1alpha3.yaml");

const HOSTILE: { size: string; limits: RegExp; classRange: RegExp }[] = [
  { size: "-8Gi", limits: /spec\.memory\.size is -8Gi; a VirtualMachine needs a positive amount of memory, at most 1024Gi/, classRange: /"-8Gi", which is not a positive resource quantity; .* allows 1Gi to 8Gi of memory/ },
  { size: "1e30", limits: /spec\.memory\.size is 1e30; a VirtualMachine may have at most 1024Gi of memory/, classRange: /spec\.memory\.size is 1e30; .* allows 1Gi to 8Gi of memory\. Set spec\.memory\.size to 8Gi or less/ },
  {
    size: "99999999999999999999999Ei",
    limits: /spec\.memory\.size is 99999999999999999999999Ei; a VirtualMachine may have at most 1024Gi of memory/,
    classRange: /spec\.memory\.size is 99999999999999999999999Ei; .* allows 1Gi to 8Gi of memory\. Set spec\.memory\.size to 8Gi or less/,
  },
  { size: "1e400Gi", limits: /spec\.memory\.size is "1e400Gi", which is not a resource quantity; a VirtualMachine may have at most 1024Gi/, classRange: /"1e400Gi", which is not a positive resource quantity; .* allows 1Gi to 8Gi of memory/ },
];

function vm(size: string): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  const spec = object.spec as { virtualMachineClassName: string; cpu: JsonObject; memory: JsonObject };
  spec.virtualMachineClassName = "tiered";
  spec.cpu = { cores: 2, coreFraction: "50%" };
  spec.memory = { size };
  return object;
}

function assertDenied(message: string, c: (typeof HOSTILE)[number]): void {
  assert.match(message, new RegExp(`\\[vm-resource-limits\\] ${c.limits.source}`), message);
  assert.match(message, new RegExp(`\\[vm-class-sizing\\] .*${c.classRange.source}`), message);
}

describe("hostile memory sizes are denied, naming the value and the limit", () => {
  const dir = mkdtempSync(join(tmpdir(), "virtguard-memory-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const c of HOSTILE) {
    test(`virtguard review denies ${c.size}`, async () => {
      const file = join(dir, `review-${HOSTILE.indexOf(c)}.json`);
      writeFileSync(file, JSON.stringify(admissionReview({ object: vm(c.size) })));
      const run = await runCli(["review", "--context", CLASS, file]);
      assert.equal(run.code, 0, run.stderr);
      const response = (JSON.parse(run.stdout) as { response: { allowed: boolean; status: { message: string } } }).response;
      assert.equal(response.allowed, false);
      assertDenied(response.status.message, c);
    });
  }

  test("virtguard check denies each, by policy or, where the CRD pattern refuses the text, by schema", async () => {
    const files: Record<string, string> = { "class.yaml": JSON.stringify(fixture("vm/class-tiered-v1alpha3.yaml")) };
    for (const [i, c] of HOSTILE.entries()) files[`vm-${i}.yaml`] = JSON.stringify({ ...vm(c.size), metadata: { name: `vm-${i}`, namespace: "tenant-a" } });
    const tree = tempTree(files);
    try {
      const run = await runCli(["check", tree]);
      assert.equal(run.code, 1, run.stderr);
      const out = run.stdout;
      for (const [i, c] of HOSTILE.entries()) {
        const lines = out.split("\n").filter((l) => l.includes(`vm-${i}`) && l.includes("DENY"));
        if (c.size === "1e400Gi") {
          assert.match(lines.join("\n"), /\[schema\] spec\.memory\.size: must match pattern/);
        } else {
          assertDenied(lines.join("\n"), c);
        }
      }
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  });

  describe("virtguard serve over TLS", () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer({ policiesDir: SHIPPED_POLICIES, context: fileContextProvider([CLASS]) });
    });
    after(() => s.close());

    for (const c of HOSTILE) {
      test(`denies ${c.size}`, async () => {
        const reply = await send(`https://localhost:${s.port}/validate`, { ca: s.ca, body: JSON.stringify(admissionReview({ object: vm(c.size), uid: `uid-${c.size}` })) });
        assert.equal(reply.status, 200);
        const response = (reply.json() as { response: { uid: string; allowed: boolean; status: { code: number; message: string } } }).response;
        assert.equal(response.uid, `uid-${c.size}`);
        assert.equal(response.allowed, false);
        assert.equal(response.status.code, 403);
        assertDenied(response.status.message, c);
      });
    }
  });
});
