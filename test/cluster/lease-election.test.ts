import assert from "node:assert/strict";
import { test } from "node:test";
import { electionStep, microTime, observe, stillLeading, type ElectionTiming, type LeaseRecord, type Observation } from "../../src/cluster/live/lease-election.js";

const TIMING: ElectionTiming = { leaseMs: 15_000, renewDeadlineMs: 10_000, retryMs: 2_000 };
const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);

/**
 * Two candidates and the Lease as the API server would keep it (a resourceVersion bumped on every
 * write, a write with a stale one refused), driven by one injected clock.
 */
class Cluster {
  lease: LeaseRecord | undefined;
  private version = 0;
  now = T0;

  write(record: LeaseRecord, create: boolean): boolean {
    if (create ? this.lease !== undefined : this.lease?.resourceVersion !== record.resourceVersion) return false; // 409
    this.lease = { ...record, resourceVersion: String(++this.version) };
    return true;
  }
}

class Candidate {
  observed: Observation | undefined;
  renewedAt: number | undefined;
  constructor(
    readonly me: string,
    private readonly cluster: Cluster,
  ) {}

  attempt(): void {
    const now = this.cluster.now;
    this.observed = observe(this.observed, this.cluster.lease, now);
    const step = electionStep(this.observed, this.me, now, TIMING, microTime(now));
    if (step.action === "wait") return;
    if (this.cluster.write(step.record, step.action === "create")) {
      this.observed = { record: this.cluster.lease as LeaseRecord, since: now };
      this.renewedAt = now;
    }
  }

  leading(): boolean {
    return stillLeading(this.renewedAt, this.cluster.now, TIMING);
  }
}

test("the first candidate creates the lease and leads; the second waits while it renews", () => {
  const cluster = new Cluster();
  const a = new Candidate("a", cluster);
  const b = new Candidate("b", cluster);
  a.attempt();
  b.attempt();
  assert.equal(cluster.lease?.holder, "a");
  assert.equal(cluster.lease?.transitions, 0);
  assert.deepEqual([a.leading(), b.leading()], [true, false]);
  // A minute of retries every 2 s: a renews each time, so b never sees the lease unchanged for 15 s.
  for (let t = 0; t < 30; t++) {
    cluster.now += TIMING.retryMs;
    b.attempt();
    a.attempt();
    assert.deepEqual([a.leading(), b.leading()], [true, false], `at ${t * 2} s`);
  }
  assert.equal(cluster.lease?.holder, "a");
});

test("when the leader stops renewing, the other takes over only once the lease is unchanged for its whole duration, by its own clock", () => {
  const cluster = new Cluster();
  const a = new Candidate("a", cluster);
  const b = new Candidate("b", cluster);
  a.attempt();
  b.attempt(); // b first sees a's record now
  const seenAt = cluster.now;
  // a is gone (crashed, partitioned). b retries.
  while (cluster.now < seenAt + TIMING.leaseMs - TIMING.retryMs) {
    cluster.now += TIMING.retryMs;
    b.attempt();
    assert.equal(cluster.lease?.holder, "a", `${(cluster.now - seenAt) / 1000} s after b saw the record`);
  }
  // a stopped leading by its renew deadline, before b could take over: never two leaders.
  assert.equal(a.leading(), false);
  cluster.now = seenAt + TIMING.leaseMs;
  b.attempt();
  assert.equal(cluster.lease?.holder, "b");
  assert.equal(cluster.lease?.transitions, 1);
  assert.equal(b.leading(), true);
});

test("a lease whose renewTime lies far in the past is still honoured until this observer has seen it unchanged for its duration", () => {
  // The leader's clock may be behind: the election never reads the times written in the lease.
  const observed = observe(undefined, { holder: "a", durationSeconds: 15, transitions: 3, resourceVersion: "7" }, T0);
  const step = electionStep(observed, "b", T0 + 14_000, TIMING, microTime(T0 + 14_000));
  assert.deepEqual(step, { action: "wait", holder: "a", expiresAt: T0 + 15_000 });
  // A renewal (a new resourceVersion) restarts the observer's clock.
  const renewed = observe(observed, { holder: "a", durationSeconds: 15, transitions: 3, resourceVersion: "8" }, T0 + 14_000);
  assert.equal(renewed?.since, T0 + 14_000);
  assert.equal(electionStep(renewed, "b", T0 + 20_000, TIMING, "").action, "wait");
  assert.equal(observe(renewed, renewed?.record, T0 + 30_000), renewed, "the same record keeps its first sighting");
});

test("a released lease (no holder) is taken at once", () => {
  const observed = observe(undefined, { holder: "", durationSeconds: 1, transitions: 2, resourceVersion: "9" }, T0);
  const step = electionStep(observed, "b", T0, TIMING, microTime(T0));
  assert.equal(step.action, "update");
  assert.deepEqual(step.action === "update" && [step.takeover, step.record.holder, step.record.transitions, step.record.durationSeconds, step.record.resourceVersion], [true, "b", 3, 15, "9"]);
});

test("two candidates racing for an expired lease: the API server's resourceVersion lets exactly one win", () => {
  const cluster = new Cluster();
  cluster.write({ holder: "gone", durationSeconds: 15, transitions: 0 }, true);
  const a = new Candidate("a", cluster);
  const b = new Candidate("b", cluster);
  a.attempt();
  b.attempt();
  cluster.now += TIMING.leaseMs;
  // Both read the expired lease before either writes.
  a.observed = observe(a.observed, cluster.lease, cluster.now);
  b.observed = observe(b.observed, cluster.lease, cluster.now);
  const stepA = electionStep(a.observed, "a", cluster.now, TIMING, "");
  const stepB = electionStep(b.observed, "b", cluster.now, TIMING, "");
  assert.ok(stepA.action === "update" && stepB.action === "update");
  assert.equal(cluster.write(stepA.record, false), true);
  assert.equal(cluster.write(stepB.record, false), false);
  assert.equal(cluster.lease?.holder, "a");
});

test("a leader that cannot renew stops leading at its renew deadline, before the lease expires for others", () => {
  assert.equal(stillLeading(T0, T0 + TIMING.renewDeadlineMs - 1, TIMING), true);
  assert.equal(stillLeading(T0, T0 + TIMING.renewDeadlineMs, TIMING), false);
  assert.equal(stillLeading(undefined, T0, TIMING), false);
  assert.ok(TIMING.renewDeadlineMs < TIMING.leaseMs);
});

test("lease times are written as metav1.MicroTime", () => {
  assert.equal(microTime(Date.UTC(2026, 11, 3, 12, 0, 1, 250)), "2026-12-03T12:00:01.250000Z");
});
