// The HTTP contract of POST /validate and the probes, against the real TLS server (supertest
// verifies the server certificate against the in-memory dev CA).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { admissionReview } from "../support/review.js";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ContextProvider } from "../../src/cluster/context-provider.js";
import { limitsPolicy, startTestServer, tempDir, vmReview, writePolicyDir, type TestServer } from "./helpers.js";

interface ReviewBody {
  apiVersion: string;
  kind: string;
  response: { uid: string; allowed: boolean; status?: { code: number; reason: string; message: string }; warnings?: string[]; auditAnnotations?: Record<string, string> };
}

describe("POST /validate", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ logLevel: "debug" });
  });
  after(() => s.close());

  const post = (body: unknown, path = "/validate") => request(s.running.server).post(path).ca(s.ca).set("content-type", "application/json").send(JSON.stringify(body));

  test("an allowed review: 200, JSON, uid echoed, apiVersion and kind", async () => {
    const res = await post(vmReview({ uid: "uid-allowed", cores: 4 })).expect(200).expect("content-type", "application/json");
    const body = res.body as ReviewBody;
    assert.equal(body.apiVersion, "admission.k8s.io/v1");
    assert.equal(body.kind, "AdmissionReview");
    assert.equal(body.response.uid, "uid-allowed");
    assert.equal(body.response.allowed, true);
    assert.equal(body.response.status, undefined);
    assert.deepEqual(body.response.auditAnnotations, { "test-guidance": "memory 8Gi" });
  });

  test("a denial: 200 with allowed false, status 403 Forbidden and the policy's message", async () => {
    const res = await post(vmReview({ uid: "uid-denied", cores: 300 })).expect(200);
    const body = res.body as ReviewBody;
    assert.equal(body.response.uid, "uid-denied");
    assert.equal(body.response.allowed, false);
    assert.equal(body.response.status?.code, 403);
    assert.equal(body.response.status?.reason, "Forbidden");
    assert.match(body.response.status?.message ?? "", /^\[test-cores\] spec\.cpu\.cores is 300; at most 248$/);
  });

  test("warnings are single lines naming the policy", async () => {
    const res = await post(vmReview({ className: "generic" })).expect(200);
    const body = res.body as ReviewBody;
    assert.equal(body.response.allowed, true);
    assert.deepEqual(body.response.warnings, ["[test-guidance] class generic is for tests only; pick a sized class"]);
  });

  test("dryRun reviews are evaluated like any other", async () => {
    const res = await post(vmReview({ cores: 300, dryRun: true })).expect(200);
    assert.equal((res.body as ReviewBody).response.allowed, false);
  });

  test("the API server's ?timeout= query is accepted; an UPDATE is evaluated", async () => {
    const res = await post(vmReview({ cores: 300, operation: "UPDATE" }), "/validate?timeout=10s").expect(200);
    assert.equal((res.body as ReviewBody).response.allowed, false);
  });

  test("a kind no policy matches is allowed", async () => {
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "default" }, data: { a: "b" } };
    const res = await post(admissionReview({ object: cm })).expect(200);
    assert.equal((res.body as ReviewBody).response.allowed, true);
  });

  test("a denial is logged at info with uid, user, kind, namespace, name, policy and message", async () => {
    await post(vmReview({ uid: "uid-logged", cores: 300, username: "alice" })).expect(200);
    const line = s.logs.find("denied").find((l) => l.uid === "uid-logged");
    assert.ok(line, s.logs.text());
    assert.equal(line.level, "info");
    assert.equal(line.user, "alice");
    assert.equal(line.kind, "VirtualMachine.virtualization.deckhouse.io");
    assert.equal(line.namespace, "tenant-a");
    assert.equal(line.name, "linux-vm");
    assert.equal(line.policy, "test-cores");
    assert.equal(line.message, "spec.cpu.cores is 300; at most 248");
    const perRequest = s.logs.find("admission request").find((l) => l.uid === "uid-logged");
    assert.equal(perRequest?.level, "debug");
    assert.equal(perRequest?.decision, "denied");
  });

  test("warnings and audits are logged at info", async () => {
    await post(vmReview({ uid: "uid-warned", className: "generic" })).expect(200);
    assert.ok(s.logs.find("warning").some((l) => l.uid === "uid-warned" && l.policy === "test-guidance"));
    assert.ok(s.logs.find("audit").some((l) => l.uid === "uid-warned" && l.message === "memory 8Gi"));
  });

  test("a Secret's contents never reach the logs, though the denial reaches the user", async () => {
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "tenant-a" }, data: { password: "aHVudGVyMg==" } };
    const review = admissionReview({ object: { ...secret, kind: "ConfigMap" }, uid: "uid-secret" });
    const req = review.request as Record<string, unknown>;
    Object.assign(req, { object: secret, kind: { group: "", version: "v1", kind: "Secret" }, resource: { group: "", version: "v1", resource: "secrets" } });
    const res = await post(review).expect(200);
    assert.match((res.body as ReviewBody).response.status?.message ?? "", /aHVudGVyMg==/);
    assert.ok(s.logs.find("denied").some((l) => l.uid === "uid-secret"));
    assert.doesNotMatch(s.logs.text(), /aHVudGVyMg==/);
  });

  test("GET /validate is 405 with Allow: POST", async () => {
    const res = await request(s.running.server).get("/validate").ca(s.ca).expect(405);
    assert.equal(res.headers.allow, "POST");
  });

  test("unknown paths are JSON 404s", async () => {
    const res = await request(s.running.server).get("/nope").ca(s.ca).expect(404).expect("content-type", /json/);
    assert.match((res.body as { error: string }).error, /GET \/nope/);
  });
});

describe("probes and metrics", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  test("/healthz and /readyz answer 200", async () => {
    await request(s.running.server).get("/healthz").ca(s.ca).expect(200, { status: "ok" });
    await request(s.running.server).get("/readyz").ca(s.ca).expect(200, { status: "ready" });
  });

  test("/metrics has the request, evaluation, decision and reload metrics", async () => {
    await request(s.running.server).post("/validate").ca(s.ca).send(vmReview({ cores: 300 })).expect(200);
    await request(s.running.server).post("/validate").ca(s.ca).send("{").expect(400);
    const res = await request(s.running.server).get("/metrics").ca(s.ca).expect(200).expect("content-type", /text\/plain/);
    const text = res.text;
    assert.match(text, /virtguard_admission_request_duration_seconds_bucket\{le="0\.0001",decision="denied",kind="VirtualMachine",operation="CREATE"\}/);
    assert.match(text, /virtguard_admission_request_duration_seconds_bucket\{le="2",/);
    assert.match(text, /virtguard_policy_evaluation_duration_seconds_count\{kind="VirtualMachine",operation="CREATE"\} 1/);
    assert.match(text, /virtguard_decisions_total\{decision="denied",kind="VirtualMachine",operation="CREATE",policy="test-cores"\} 1/);
    assert.match(text, /virtguard_decisions_total\{decision="allowed",kind="VirtualMachine",operation="CREATE",policy="test-guidance"\} 1/);
    assert.match(text, /virtguard_bad_requests_total\{code="400"\} 1/);
    assert.match(text, /virtguard_policy_reload_errors_total 0/);
    assert.match(text, /virtguard_policy_set_generation 1/);
    assert.match(text, new RegExp(`virtguard_policy_set_info\\{hash="${s.running.policies.current.hash}"\\} 1`));
    assert.match(text, /virtguard_ready 1/);
    assert.match(text, /virtguard_tls_certificate_not_after_seconds \d+/);
  });
});

describe("a request that runs out of evaluation budget", () => {
  // A budget of a nanosecond runs out before the first policy: every policy answers through its
  // failurePolicy (Fail for the test policies), which is a denial, not an internal error.
  test("each policy's failurePolicy decides: 403 naming every policy, uid echoed, counted as denied", async () => {
    const s = await startTestServer({ evalTimeoutMs: 1e-6, failureRule: "allow" });
    try {
      const res = await request(s.running.server).post("/validate").ca(s.ca).send(vmReview({ uid: "uid-budget", cores: 2 })).expect(200);
      const body = res.body as ReviewBody;
      assert.equal(body.response.uid, "uid-budget");
      assert.equal(body.response.allowed, false, "--failure-rule allow does not open a budget trip: the policies' failurePolicy does");
      assert.equal(body.response.status?.code, 403);
      const message = body.response.status?.message ?? "";
      assert.match(message, /\[test-cores\] policy could not finish within the request's evaluation budget \(evaluation deadline exceeded/);
      // test-guidance only warns and audits: its trip warns, it cannot deny.
      assert.match(body.response.warnings?.join("\n") ?? "", /\[test-guidance\] policy not evaluated: the request's evaluation budget ran out in policy "test-cores".*a Warn rule lets it through unchecked/);
      const metrics = await request(s.running.server).get("/metrics").ca(s.ca).expect(200);
      assert.match(metrics.text, /virtguard_decisions_total\{decision="denied",kind="VirtualMachine",operation="CREATE",policy="test-cores"\} 1/);
    } finally {
      await s.close();
    }
  });
});

/** A cluster context that fails every lookup: what a broken cache would do. */
function brokenContext(): ContextProvider {
  const fail = (): never => {
    throw new Error("context store unavailable");
  };
  return { description: "broken", activate: () => ({ get: fail, list: fail, ipQuery: fail, indexQuery: fail }), notReady: () => undefined, close: async () => {} };
}

/** The test policies plus one selecting namespaces by label: matching it reads the Namespace outside any policy's own evaluation. */
function policiesWithNamespaceSelector(dir: string): string {
  writePolicyDir(dir);
  const selective = limitsPolicy(8);
  (selective.metadata as { name: string }).name = "test-selective";
  ((selective.spec as Record<string, unknown>).match as Record<string, unknown>).namespaceSelector = { matchLabels: { tier: "prod" } };
  writeFileSync(join(dir, "selective.json"), JSON.stringify(selective));
  return dir;
}

describe("internal errors follow the failure rule", () => {
  test("deny (the default): allowed false, 500 InternalError, a clear message; logged with the uid", async () => {
    const dir = tempDir();
    const s = await startTestServer({ context: brokenContext(), policiesDir: policiesWithNamespaceSelector(dir) });
    try {
      const res = await request(s.running.server).post("/validate").ca(s.ca).send(vmReview({ uid: "uid-err", cores: 2 })).expect(200);
      const body = res.body as ReviewBody;
      assert.equal(body.response.uid, "uid-err");
      assert.equal(body.response.allowed, false);
      assert.equal(body.response.status?.code, 500);
      assert.equal(body.response.status?.reason, "InternalError");
      assert.match(body.response.status?.message ?? "", /virtguard could not evaluate this request: context store unavailable/);
      const line = s.logs.find("evaluation failed")[0];
      assert.equal(line?.uid, "uid-err");
      assert.equal(line?.level, "error");
      const metrics = await request(s.running.server).get("/metrics").ca(s.ca).expect(200);
      assert.match(metrics.text, /virtguard_decisions_total\{decision="error",kind="VirtualMachine",operation="CREATE",policy=""\} 1/);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("allow: allowed true with a warning saying nothing was checked", async () => {
    const dir = tempDir();
    const s = await startTestServer({ context: brokenContext(), policiesDir: policiesWithNamespaceSelector(dir), failureRule: "allow" });
    try {
      const res = await request(s.running.server).post("/validate").ca(s.ca).send(vmReview({ cores: 300 })).expect(200);
      const body = res.body as ReviewBody;
      assert.equal(body.response.allowed, true);
      assert.match(body.response.warnings?.[0] ?? "", /could not evaluate this request: context store unavailable; allowed without checks/);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
