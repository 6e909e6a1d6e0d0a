// Hostile and malformed reviews against a real `virtguard serve` process over TLS, with the
// shipped policies: what a tenant can push through the API server (huge lists, deep nesting,
// long strings, prototype keys, invalid CIDRs) and what anyone reaching the port can send
// (broken JSON, wrong types, 10 MB bodies, slow clients). Bounded: ~400 requests, one process.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { after, before, test } from "node:test";
import { Worker } from "node:worker_threads";
import type { JsonObject, JsonValue } from "../../src/engine/index.js";
import { SHIPPED_POLICIES } from "../../src/policy-files/policy-dir.js";
import { fixture } from "../support/fixtures.js";
import { distinctCidrs, moduleConfigInterleaved, moduleConfigNested, moduleConfigWithCidrs, nestedJson, vmWithNetworks } from "../support/hostile.js";
import { quantile } from "../support/quantile.js";
import { admissionReview } from "../support/review.js";
import { send, spawnServe, type CliServer } from "./helpers.js";

const EVAL_TIMEOUT_MS = 500;
/**
 * How much longer than the deadline one review may hold the event loop: parsing a body of up to
 * 6 MiB, answering, and a loaded shared machine's scheduling (the event loop delay is wall time).
 */
const BLOCK_MARGIN_MS = 500;
const dir = mkdtempSync(join(tmpdir(), "virtguard-hostile-"));
let srv: CliServer;
let ca: string;
let agent: Agent;

interface Tally {
  requests: number;
  status: Map<number, number>;
  maxLatencyMs: number;
  uidsSent: number;
  uidsEchoed: number;
  healthzMaxMs: number;
  healthzProbes: number;
  /** The longest the server's event loop was held by one worst case, and by which. */
  blockMaxMs: number;
  blockBy: string;
}

const healthzTimes: number[] = [];
const tally: Tally = { requests: 0, status: new Map(), maxLatencyMs: 0, uidsSent: 0, uidsEchoed: 0, healthzMaxMs: 0, healthzProbes: 0, blockMaxMs: 0, blockBy: "" };

before(async () => {
  srv = await spawnServe([
    "--port=0",
    "--address=127.0.0.1",
    `--policies=${SHIPPED_POLICIES}`,
    `--dev-ca-file=${join(dir, "ca.crt")}`,
    // Tighter than the default so that the worst cases cost this suite seconds, not minutes.
    `--eval-timeout=${EVAL_TIMEOUT_MS}ms`,
    "--log-level=info",
    "--shutdown-delay=0",
  ]);
  ca = readFileSync(join(dir, "ca.crt"), "utf8");
  agent = new Agent({ keepAlive: true, ca, maxSockets: 8 });
});

after(async () => {
  agent?.destroy();
  const crashed = srv.child.exitCode !== null || srv.child.signalCode !== null;
  srv.child.kill("SIGTERM");
  await srv.exited;
  rmSync(dir, { recursive: true, force: true });
  const codes = [...tally.status.entries()].sort(([a], [b]) => a - b).map(([c, n]) => `${c}: ${n}`).join(", ");
  process.stdout.write(
    `# hostile suite: ${tally.requests} requests (${codes}); crashes ${crashed ? 1 : 0}; 5xx ${[...tally.status].filter(([c]) => c >= 500).reduce((n, [, k]) => n + k, 0)}; ` +
      `uid echoed ${tally.uidsEchoed}/${tally.uidsSent}; max latency ${tally.maxLatencyMs.toFixed(0)} ms; ` +
      `/healthz ${tally.healthzProbes} probes during the worst cases, p95 ${quantile(healthzTimes.toSorted((a, b) => a - b), 0.95).toFixed(1)} ms, max ${tally.healthzMaxMs.toFixed(1)} ms; ` +
      `event loop held at most ${tally.blockMaxMs.toFixed(0)} ms (${tally.blockBy}; deadline ${EVAL_TIMEOUT_MS} ms)\n`,
  );
});

/** Sends one body to /validate and checks what every answer must be: no 5xx, the uid back when one was sent. */
async function hostile(body: string | Buffer, uid?: string): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
  const started = performance.now();
  const r = await send(`https://localhost:${srv.port}/validate`, { ca, agent, body });
  const ms = performance.now() - started;
  tally.requests++;
  tally.status.set(r.status, (tally.status.get(r.status) ?? 0) + 1);
  tally.maxLatencyMs = Math.max(tally.maxLatencyMs, ms);
  assert.ok(r.status < 500, `HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  assert.ok([200, 400, 413].includes(r.status), `HTTP ${r.status}`);
  let json: Record<string, unknown> | undefined;
  try {
    json = r.json();
  } catch {
    assert.fail(`not JSON: ${r.text.slice(0, 200)}`);
  }
  if (uid !== undefined) {
    tally.uidsSent++;
    const echoed = r.status === 200 ? (json.response as { uid?: unknown } | undefined)?.uid : json.uid;
    assert.equal(echoed, uid, `uid not echoed (HTTP ${r.status}): ${r.text.slice(0, 300)}`);
    tally.uidsEchoed++;
  }
  if (r.status === 200) assert.equal(json.kind, "AdmissionReview");
  return { status: r.status, json };
}

function vm(): JsonObject {
  return fixture("vm/vm-basic.yaml");
}

/** Sets a value at a dotted path, creating objects on the way. */
function setPath(o: JsonObject, path: string, value: JsonValue): JsonObject {
  const keys = path.split(".");
  let at: JsonObject = o;
  for (const k of keys.slice(0, -1)) {
    if (typeof at[k] !== "object" || at[k] === null || Array.isArray(at[k])) at[k] = {};
    at = at[k] as JsonObject;
  }
  at[keys[keys.length - 1] as string] = value;
  return o;
}

const WEIRD: JsonValue[] = [null, true, -1, 0, 1.5, 1e308, -1e308, "", "x".repeat(10_000), [], [1, "a", null], {}, { a: { b: "c" } }, "-8Gi", "1e400Gi", "99999999999999999999999Ei", "NaN", "🙂"];

test("broken and truncated JSON: 400, never 5xx", async () => {
  const valid = JSON.stringify(admissionReview({ object: vm(), uid: "uid-trunc" }));
  for (let i = 0; i < 40; i++) await hostile(valid.slice(0, Math.floor((valid.length * i) / 40)));
  for (const junk of ["{", "}", "[", "null", "nul", '"str', "1e999999", "\u0000\u0001", "\ufeff{}", '{"a":1,}', "{'a':1}", "NaN", "[]", "true"]) await hostile(junk);
});

test("reviews of the wrong shape: 400 naming the problem, the uid back when there was one", async () => {
  const base = () => admissionReview({ object: vm(), uid: "uid-shape" }) as { request: Record<string, JsonValue> } & JsonObject;
  for (const v of WEIRD) {
    await hostile(JSON.stringify({ ...base(), apiVersion: v }), "uid-shape");
    await hostile(JSON.stringify({ ...base(), request: { ...base().request, kind: v } }), "uid-shape");
    await hostile(JSON.stringify({ ...base(), request: { ...base().request, operation: v } }), "uid-shape");
    await hostile(JSON.stringify({ ...base(), request: { ...base().request, object: v } }), typeof v === "object" && v !== null && !Array.isArray(v) ? "uid-shape" : "uid-shape");
    const r = await hostile(JSON.stringify({ ...base(), request: { ...base().request, uid: v } }));
    if (typeof v !== "string" || v === "") assert.equal(r.status, 400);
  }
});

test("wrong types inside the objects the policies read: answered with the uid, never an error", async () => {
  const fields = ["spec.cpu.cores", "spec.cpu.coreFraction", "spec.memory.size", "spec.networks", "spec.blockDeviceRefs", "spec.virtualMachineClassName", "metadata.labels", "metadata.name", "spec"];
  let n = 0;
  for (const field of fields) {
    for (const v of WEIRD) {
      const uid = `uid-type-${n++}`;
      const r = await hostile(JSON.stringify(admissionReview({ object: setPath(vm(), field, v), uid })), uid);
      assert.equal(r.status, 200);
    }
  }
  for (const v of WEIRD) {
    const uid = `uid-mc-${n++}`;
    const mc = fixture("moduleconfig/virtualization.yaml");
    setPath(mc, "spec.settings.virtualMachineCIDRs", v);
    assert.equal((await hostile(JSON.stringify(admissionReview({ object: mc, oldObject: fixture("moduleconfig/virtualization.yaml"), uid })), uid)).status, 200);
  }
});

test("invalid CIDRs and IPs in the ModuleConfig: denied with the uid, no error", async () => {
  const bad = ["10.0.0.0/33", "999.1.1.1/8", "10.0.0.1/8", "::1/200", "abc", "", "10.0.0.0/8/8", "1.2.3.4", "010.0.0.0/8", "10.0.0.0/-1", "10.0.0.0/08", " 10.0.0.0/8", "10.0.0.0/8 ", "١٠.0.0.0/8", "::ffff:10.0.0.0/104", "fe80::1%eth0/64", "10.0.0.0/", "/8", "10.0.0/8", "10.0.0.0.0/8", "0x0a.0.0.0/8", "2001:db8::/129", "2001:db8:::/64", "10.0.0.0\u0000/8", "x".repeat(70_000)];
  for (const [i, c] of bad.entries()) {
    const uid = `uid-cidr-${i}`;
    const r = await hostile(JSON.stringify(moduleConfigWithCidrs(["10.66.0.0/16", c], uid)), uid);
    assert.equal(r.status, 200);
    assert.equal((r.json?.response as { allowed: boolean }).allowed, false, `${JSON.stringify(c).slice(0, 40)} was allowed`);
  }
});

test("prototype keys (__proto__, constructor, prototype) are data: no pollution, the next review judged as before", async () => {
  const keys = ["__proto__", "constructor", "prototype"];
  const places = ["", "request.", "request.object.", "request.object.metadata.", "request.object.metadata.labels.", "request.object.spec.", "request.object.spec.cpu."];
  let n = 0;
  for (const key of keys) {
    for (const place of places) {
      const uid = `uid-proto-${n++}`;
      const review = admissionReview({ object: setPath(vm(), "metadata.labels", { app: "x" }), uid });
      const text = JSON.stringify(review);
      // Spliced as text: JSON.parse makes "__proto__" an own key, an object literal would not.
      const payload = `"${key}":{"allowed":true,"polluted":"yes","toString":"x","cores":1}`;
      const anchor = place === "" ? "{" : `"${place.split(".").filter(Boolean).pop()}":{`;
      assert.ok(text.includes(anchor), anchor);
      const at = text.indexOf(anchor) + anchor.length;
      const spliced = `${text.slice(0, at)}${payload},${text.slice(at)}`;
      await hostile(spliced, uid);
    }
  }
  // A VM with 300 cores is still denied, and nothing gained a "polluted" property.
  const vm300 = vm();
  (vm300.spec as { cpu: { cores: number } }).cpu.cores = 300;
  const r = await hostile(JSON.stringify(admissionReview({ object: vm300, uid: "uid-after-proto" })), "uid-after-proto");
  assert.equal((r.json?.response as { allowed: boolean }).allowed, false);
  assert.equal(({} as { polluted?: string }).polluted, undefined);
});

test("long strings: 1 MB names, labels and sizes are answered", async () => {
  const long = "a".repeat(1024 * 1024);
  for (const [i, field] of ["metadata.name", "metadata.namespace", "spec.virtualMachineClassName", "spec.memory.size", "spec.cpu.coreFraction", "metadata.annotations.x"].entries()) {
    const uid = `uid-long-${i}`;
    await hostile(JSON.stringify(admissionReview({ object: setPath(vm(), field, long), uid })), uid);
  }
  await hostile(JSON.stringify(admissionReview({ object: vm(), uid: "u".repeat(100_000) })), "u".repeat(100_000));
});

/**
 * GETs /readyz on the webhook port every 20 ms until `done`: it is answered by the main thread,
 * so its latency is how long the event loop was held (the probe thread answers /healthz).
 */
async function probeMainThread(done: () => boolean): Promise<number[]> {
  const times: number[] = [];
  while (!done()) {
    const started = performance.now();
    const r = await send(`https://localhost:${srv.port}/readyz`, { ca, agent });
    times.push(performance.now() - started);
    assert.equal(r.status, 200);
    await new Promise((r) => setTimeout(r, 20));
  }
  return times;
}

/**
 * GETs /healthz on the ops port (plain HTTP, its own connection) every 20 ms from a worker
 * thread (healthz-prober.ts) until stopped; then the probes made in a window of time.
 */
function healthzProber(): { stop(): Promise<void>; within(from: number, to: number): number[] } {
  const flag = new SharedArrayBuffer(4);
  const worker = new Worker(new URL("./healthz-prober.js", import.meta.url), { workerData: { port: srv.metricsPort, stop: flag } });
  const probes = new Promise<[number, number][]>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  let all: [number, number][] = [];
  return {
    async stop() {
      Atomics.store(new Int32Array(flag), 0, 1);
      all = await probes;
      await worker.terminate();
      for (const [, ms] of all) assert.ok(ms >= 0, "/healthz answered other than 200");
    },
    within: (from, to) => all.filter(([at]) => at >= from && at <= to).map(([, ms]) => ms),
  };
}

const now = (): number => performance.timeOrigin + performance.now();

test("the worst cases (huge lists, 7,000 and 9,999 levels of nesting) hold the event loop no longer than the deadline plus a margin, while /healthz answers in under 100 ms (p95)", async () => {
  const worst: [string, string][] = [
    ["uid-cidrs-1000", JSON.stringify(moduleConfigWithCidrs(distinctCidrs(1000), "uid-cidrs-1000"))],
    ["uid-cidrs-30000", JSON.stringify(moduleConfigWithCidrs(distinctCidrs(30_000), "uid-cidrs-30000"))],
    ["uid-cidrs-interleaved", JSON.stringify(moduleConfigInterleaved(20_000, "uid-cidrs-interleaved"))],
    ["uid-cidrs-same", JSON.stringify(moduleConfigWithCidrs(Array.from({ length: 5000 }, () => "10.0.0.0/8"), "uid-cidrs-same"))],
    ["uid-networks-20000", JSON.stringify(vmWithNetworks(20_000, "uid-networks-20000"))],
    ["uid-deep-7000", JSON.stringify(moduleConfigNested(1, "uid-deep-7000")).replace('{"a":"x"}', nestedJson(7000))],
    ["uid-deep-9999", JSON.stringify(moduleConfigNested(1, "uid-deep-9999")).replace('{"a":"x"}', nestedJson(9999))],
    ["uid-deep-vm", JSON.stringify(admissionReview({ object: vm(), uid: "uid-deep-vm" })).replace('"spec":{', `"spec":{"deep":${"[".repeat(9999)}${"]".repeat(9999)},`)],
    ["uid-many-disks", JSON.stringify(admissionReview({ object: setPath(vm(), "spec.blockDeviceRefs", Array.from({ length: 20_000 }, (_, i) => ({ kind: "VirtualDisk", name: `d${i % 100}`, bootOrder: i % 7 }))), uid: "uid-many-disks" }))],
  ];
  const allProbes: number[] = [];
  // One prober for every case; its first probes compile its code: let it warm up.
  const prober = healthzProber();
  await new Promise((r) => setTimeout(r, 300));
  const windows: [string, number, number][] = [];
  try {
  for (const [uid, body] of worst) {
    let done = false;
    const started = now();
    const mainProbes = probeMainThread(() => done);
    const r = await hostile(body, uid).finally(() => (done = true));
    const took = now() - started;
    windows.push([uid, started, now()]);
    assert.equal(r.status, 200, uid);
    const block = Math.max(...(await mainProbes));
    process.stdout.write(`# ${uid}: ${body.length} bytes, answered in ${took.toFixed(0)} ms, event loop held ${block.toFixed(0)} ms\n`);
    if (block > tally.blockMaxMs) [tally.blockMaxMs, tally.blockBy] = [block, uid];
    assert.ok(block < EVAL_TIMEOUT_MS + BLOCK_MARGIN_MS, `${uid} held the event loop for ${block.toFixed(0)} ms`);
    assert.ok(took < 5000, `${uid} took ${took.toFixed(0)} ms`);
  }
  } finally {
    await prober.stop();
  }
  for (const [uid, from, to] of windows) {
    const times = prober.within(from, to);
    tally.healthzProbes += times.length;
    tally.healthzMaxMs = Math.max(tally.healthzMaxMs, ...times);
    allProbes.push(...times);
    // Waiting behind the evaluation would take all of its 500 ms; a saturated shared machine
    // (the full suite at a load average of 8 on 2 cores) delays single probes, on either side,
    // by up to ~300 ms. The p95 below is the requirement.
    assert.ok(Math.max(...times) < 500, `${uid}: /healthz took ${Math.max(...times).toFixed(1)} ms`);
  }
  healthzTimes.push(...allProbes);
  const p95 = quantile(allProbes.toSorted((a, b) => a - b), 0.95);
  assert.ok(p95 < 100, `/healthz p95 ${p95.toFixed(1)} ms over ${allProbes.length} probes`);
});

test("10 MB bodies: 413 before buffering, declared or streamed", async () => {
  const ten = Buffer.alloc(10 * 1024 * 1024, 0x20);
  for (let i = 0; i < 3; i++) assert.equal((await hostile(ten)).status, 413);
  const review = JSON.stringify(admissionReview({ object: setPath(vm(), "metadata.annotations.blob", "b".repeat(10 * 1024 * 1024)), uid: "uid-10mb" }));
  assert.equal((await hostile(review)).status, 413);
});

/** A TLS connection to the webhook port. */
function connect(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ port: srv.port, host: "127.0.0.1", servername: "localhost", ca }, () => resolve(s));
    s.on("error", reject);
  });
}

test("slow clients: trickled headers and bodies hold no one else up; a slow but complete review is answered", async () => {
  // Slowloris: 20 connections sending a header byte every 100 ms.
  const loris = await Promise.all(Array.from({ length: 20 }, () => connect()));
  const head = "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nX-Slow: ";
  let byte = 0;
  const drip = setInterval(() => {
    for (const s of loris) if (!s.destroyed) s.write(head[byte % head.length] as string);
    byte++;
  }, 100);
  try {
    // Meanwhile 20 ordinary reviews are answered.
    for (let i = 0; i < 20; i++) {
      const uid = `uid-during-loris-${i}`;
      assert.equal((await hostile(JSON.stringify(admissionReview({ object: vm(), uid })), uid)).status, 200);
    }
    // A complete review trickled over ~1.5 s, 64 bytes at a time.
    const uid = "uid-trickled";
    const body = JSON.stringify(admissionReview({ object: vm(), uid }));
    const s = await connect();
    const answer = new Promise<string>((resolve) => {
      let text = "";
      s.on("data", (c: Buffer) => {
        text += c.toString("utf8");
        if (text.includes(uid)) resolve(text);
      });
      s.on("close", () => resolve(text));
    });
    s.write(`POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
    const step = Math.ceil(body.length / 24);
    for (let i = 0; i < body.length; i += step) {
      s.write(body.slice(i, i + step));
      await new Promise((r) => setTimeout(r, 60));
    }
    const text = await answer;
    s.destroy();
    tally.requests++;
    tally.uidsSent++;
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.match(text, new RegExp(`"uid":"${uid}"`));
    tally.uidsEchoed++;
    tally.status.set(200, (tally.status.get(200) ?? 0) + 1);
  } finally {
    clearInterval(drip);
    for (const s of loris) s.destroy();
    tally.requests += loris.length;
  }
});

test("after all of it the server is alive, ready, and judges as before", async () => {
  assert.equal(srv.child.exitCode, null, "the server process exited");
  assert.equal((await send(`https://localhost:${srv.port}/readyz`, { ca, agent })).status, 200);
  const vm300 = vm();
  (vm300.spec as { cpu: { cores: number } }).cpu.cores = 300;
  const r = await hostile(JSON.stringify(admissionReview({ object: vm300, uid: "uid-final" })), "uid-final");
  assert.match((r.json?.response as { status: { message: string } }).status.message, /spec\.cpu\.cores is 300/);
  assert.ok(tally.requests >= 300, `only ${tally.requests} requests`);
});
