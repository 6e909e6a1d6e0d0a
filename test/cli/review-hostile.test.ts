// `virtguard review` on requests the API server accepts but that used to crash or stall it.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runCli } from "../check/helpers.js";
import { moduleConfigNested, moduleConfigWithCidrs, nestedJson, vmWithNetworks } from "../support/hostile.js";

const dir = mkdtempSync(join(tmpdir(), "virtguard-review-hostile-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface ReviewOut {
  kind: string;
  response: { uid: string; allowed: boolean; status?: { code: number; message: string }; warnings?: string[] };
}

async function review(name: string, text: string, flags: string[] = []): Promise<ReviewOut> {
  const path = join(dir, name);
  writeFileSync(path, text);
  const { code, stdout, stderr } = await runCli(["review", ...flags, path]);
  assert.equal(code, 0, `exit ${code}: ${stderr}`);
  const out = JSON.parse(stdout) as ReviewOut;
  assert.equal(out.kind, "AdmissionReview");
  return out;
}

test("a ModuleConfig with an object nested 7,000 levels in spec.settings is answered, not a stack overflow", async () => {
  // JSON.stringify itself overflows on such an object: the text is built by hand.
  const text = JSON.stringify(moduleConfigNested(1, "uid-deep")).replace('{"a":"x"}', nestedJson(7000));
  const out = await review("deep.json", text);
  assert.equal(out.response.uid, "uid-deep");
  assert.equal(out.response.allowed, true, JSON.stringify(out.response.status));
});

test("1,000 overlapping CIDRs: answered within the budget, the CIDR rule denies (by its verdict or by its failurePolicy)", async () => {
  const cidrs = Array.from({ length: 1000 }, (_, i) => `10.0.${i % 256}.0/${16 + (i % 8)}`);
  const out = await review("cidrs.json", JSON.stringify(moduleConfigWithCidrs(cidrs, "uid-cidrs")), ["--eval-timeout", "1s"]);
  assert.equal(out.response.uid, "uid-cidrs");
  assert.equal(out.response.allowed, false);
  assert.match(out.response.status?.message ?? "", /\[moduleconfig-cidrs\] (policy could not finish within the request's evaluation budget|.*overlap)/);
});

test("a VirtualMachine with 5,000 networks (spec.networks has no maxItems) is answered with its uid", async () => {
  const out = await review("networks.json", JSON.stringify(vmWithNetworks(5000, "uid-networks")), ["--eval-timeout", "1s"]);
  assert.equal(out.response.uid, "uid-networks");
});

test("--eval-timeout takes a duration; anything else is a usage error naming the flag", async () => {
  const { code, stderr } = await runCli(["review", "--eval-timeout", "soon", join(dir, "none.json")]);
  assert.equal(code, 2);
  assert.match(stderr, /--eval-timeout: invalid duration "soon"/);
});
