// The real `virtguard serve` process: SIGTERM while requests are in flight loses none of them,
// /readyz fails first, new connections are refused once the listener closes, and the exit code is 0.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { createLogger } from "../../src/admission/logger.js";
import { startServer } from "../../src/admission/server.js";
import { generateCA, issueServingCert } from "../../src/pki/tls-certs.js";
import { UsageError } from "../../src/cli/command.js";
import { parseServeConfig } from "../../src/cli/serve.js";
import { CLI } from "../support/paths.js";
import { eventually, send, spawnServe, tempDir, vmReview, writePolicyDir, type Reply } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A request whose headers and first half of body are sent now, and the rest when asked. */
function partialRequest(port: number, ca: string, uid: string): { flushed: Promise<void>; finish(): void; reply: Promise<Reply> } {
  const body = Buffer.from(JSON.stringify(vmReview({ uid, cores: 300 })));
  const half = body.subarray(0, body.length >> 1);
  let finish!: () => void;
  let flushed!: Promise<void>;
  const reply = new Promise<Reply>((resolve, reject) => {
    const req = httpsRequest(
      `https://localhost:${port}/validate`,
      { method: "POST", ca, agent: false, headers: { "content-type": "application/json", "content-length": String(body.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
        });
      },
    );
    req.on("error", reject);
    flushed = new Promise((ok) => req.write(half, () => ok()));
    finish = () => req.end(body.subarray(half.length));
  });
  return { flushed, finish, reply };
}

const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

describe("SIGTERM", () => {

  test("in-flight requests all complete, /readyz fails first, then the listener closes, exit 0", async () => {
    const caFile = join(dir, "ca.crt");
    const srv = await spawnServe([
      "--port=0",
      "--address=127.0.0.1",
      `--policies=${writePolicyDir(join(dir, "policies"))}`,
      `--dev-ca-file=${caFile}`,
      "--shutdown-delay=2s",
      "--shutdown-grace-period=10s",
      "--log-level=debug",
    ]);
    try {
      const ca = readFileSync(caFile, "utf8");
      const url = `https://localhost:${srv.port}`;
      const agent = new Agent({ keepAlive: true, ca, maxSockets: 4 });
      // Warm up keep-alive connections that will sit idle when the signal comes.
      for (let i = 0; i < 4; i++) assert.equal((await send(`${url}/validate`, { ca, agent, body: JSON.stringify(vmReview({})) })).status, 200);

      // Requests in flight: headers and half a body each, on their own connections.
      const partial = Array.from({ length: 8 }, (_, i) => partialRequest(srv.port, ca, `partial-${i}`));
      await Promise.all(partial.map((p) => p.flushed));
      // And a burst of complete requests fired just before the signal.
      const burst = Array.from({ length: 32 }, (_, i) => send(`${url}/validate`, { ca, agent, body: JSON.stringify(vmReview({ uid: `burst-${i}`, cores: 300 })) }));
      await sleep(100);
      assert.ok(srv.child.kill("SIGTERM"));

      // /readyz fails at once, while the listener still accepts (the shutdown delay).
      await eventually("/readyz to fail", async () => (await send(`${url}/readyz`, { ca, agent: false })).status === 503, 1500);
      const readyz = await send(`${url}/readyz`, { ca, agent: false });
      assert.deepEqual(readyz.json(), { status: "not ready", reasons: ["shutting down"] });
      assert.equal(readyz.headers.connection, "close");

      for (const [i, r] of (await Promise.all(burst)).entries()) {
        assert.equal(r.status, 200);
        assert.equal((r.json().response as { uid: string }).uid, `burst-${i}`);
      }

      // After the delay the listener is closed: new connections are refused…
      await eventually(
        "the listener to close",
        () => send(`${url}/healthz`, { ca, agent: false }).then(() => false, (err: NodeJS.ErrnoException) => err.code === "ECONNREFUSED"),
        5000,
      );
      // …while the requests in flight still finish, and are answered in full.
      for (const p of partial) p.finish();
      const replies = await Promise.all(partial.map((p) => p.reply));
      for (const [i, r] of replies.entries()) {
        assert.equal(r.status, 200);
        const response = r.json().response as { uid: string; allowed: boolean };
        assert.equal(response.uid, `partial-${i}`);
        assert.equal(response.allowed, false);
        assert.equal(r.headers.connection, "close");
      }
      agent.destroy();

      const { code, signal } = await srv.exited;
      assert.equal(signal, null);
      assert.equal(code, 0, srv.stderr());
      const lines = srv.stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
      const done = lines.find((l) => l.msg === "shut down");
      assert.equal(done?.clean, true);
      assert.equal(done?.forced, 0);
      // One debug line per request, every one of them answered.
      const answered = new Set(lines.filter((l) => l.msg === "admission request").map((l) => l.uid));
      for (let i = 0; i < 8; i++) assert.ok(answered.has(`partial-${i}`));
      for (let i = 0; i < 32; i++) assert.ok(answered.has(`burst-${i}`));
    } finally {
      if (srv.child.exitCode === null) srv.child.kill("SIGKILL");
    }
  });
});

describe("virtguard serve flags", () => {
  const run = promisify(execFile);
  async function serveFails(args: string[]): Promise<{ code: number; stderr: string }> {
    try {
      await run(process.execPath, [CLI, "serve", ...args], { timeout: 15_000 });
      return { code: 0, stderr: "" };
    } catch (err) {
      const e = err as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
  }

  test("a usage error is one line on stderr and exit 2", async () => {
    const r = await serveFails(["--bogus"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^virtguard: Unknown option '--bogus'/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  });

  test("every bad flag value is a usage error naming the flag", () => {
    for (const [args, message] of [
      [["--tls-cert", "x.crt"], /--tls-cert and --tls-key go together/],
      [["--failure-rule", "maybe"], /--failure-rule "maybe": expected deny or allow/],
      [["--client-ca", "/nonexistent/ca.crt"], /--client-ca \/nonexistent\/ca.crt: cannot read: ENOENT/],
      [["--client-ca", "/etc/hostname"], /--client-ca \/etc\/hostname: no PEM certificate in it/],
      [["--max-connections", "0"], /--max-connections "0": expected a whole number of at least 1/],
      [["--tls-handshake-timeout", "fast"], /--tls-handshake-timeout: invalid duration "fast"/],
      [["--eval-timeout", "soon"], /--eval-timeout: invalid duration "soon"/],
      [["--eval-timeout", "0"], /--eval-timeout must be more than 0/],
      [["--port", "99999"], /--port "99999"/],
      [["--metrics-port", "x"], /--metrics-port "x"/],
      [["--log-level", "loud"], /--log-level "loud": expected one of/],
      [["--param", "novalue"], /expected NAME=VALUE/],
      [["--shutdown-delay", "30s"], /--shutdown-delay .* must be shorter than --shutdown-grace-period/],
    ] as const) {
      assert.throws(() => parseServeConfig([...args], {}), (err: Error) => err instanceof UsageError && message.test(err.message), args.join(" "));
    }
  });

  test("an invalid policy directory stops the start: one line, exit 2", async () => {
    const bad = await serveFails(["--port=0", `--policies=${join(dir, "does-not-exist")}`]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^virtguard: cannot start: .*cannot read policy directory/);
  });

  test("an unreadable or mismatched certificate stops the start", async () => {
    const policiesDir = writePolicyDir(join(dir, "p2"));
    const common = { port: 0, address: "127.0.0.1", policiesDir, logger: createLogger("silent"), defaultMetrics: false };
    await assert.rejects(startServer({ ...common, tls: { certFile: "/nonexistent.crt", keyFile: "/nonexistent.key" } }), /--tls-cert \/nonexistent\.crt: cannot read: ENOENT/);
    const ca = generateCA({ keyType: "ecdsa-p256" });
    const a = issueServingCert(ca, { dnsNames: ["localhost"], keyType: "ecdsa-p256" });
    const b = issueServingCert(ca, { dnsNames: ["localhost"], keyType: "ecdsa-p256" });
    writeFileSync(join(dir, "a.crt"), a.cert);
    writeFileSync(join(dir, "b.key"), b.key);
    await assert.rejects(startServer({ ...common, tls: { certFile: join(dir, "a.crt"), keyFile: join(dir, "b.key") } }), /do not form a usable pair/);
  });

  test("environment variables stand in for flags; flags win", () => {
    const env = {
      VIRTGUARD_PORT: "9443",
      VIRTGUARD_TLS_CERT: "/tls/tls.crt",
      VIRTGUARD_TLS_KEY: "/tls/tls.key",
      VIRTGUARD_POLICIES: "/policies",
      VIRTGUARD_CONTEXT: "/ctx/a.yaml, /ctx/b.yaml",
      VIRTGUARD_PARAM: 'edition=EE\nfeatureGates=["SDN"]',
      VIRTGUARD_LOG_LEVEL: "debug",
      VIRTGUARD_METRICS_PORT: "9090",
      VIRTGUARD_FAILURE_RULE: "allow",
      VIRTGUARD_EVAL_TIMEOUT: "1500ms",
      VIRTGUARD_SHUTDOWN_DELAY: "3s",
      VIRTGUARD_SHUTDOWN_GRACE_PERIOD: "1m",
      VIRTGUARD_RELOAD_INTERVAL: "0",
    };
    const c = parseServeConfig([], env);
    const expected = {
      port: 9443,
      address: undefined,
      tls: { certFile: "/tls/tls.crt", keyFile: "/tls/tls.key" },
      policies: "/policies",
      context: ["/ctx/a.yaml", "/ctx/b.yaml"],
      params: { edition: "EE", featureGates: ["SDN"] },
      logLevel: "debug",
      metricsPort: 9090,
      failureRule: "allow",
      evalTimeoutMs: 1500,
      shutdownDelayMs: 3000,
      shutdownGracePeriodMs: 60_000,
      reloadIntervalMs: 0,
    };
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(c[key as keyof typeof c], value, key);
    const flags = parseServeConfig(["--port", "8444", "--context", "/x.yaml", "--param", "edition=CE"], env);
    assert.equal(flags.port, 8444);
    assert.deepEqual(flags.context, ["/x.yaml"]);
    assert.deepEqual(flags.params, { edition: "CE" });
  });

  test("defaults: port 8443, metrics on 9090, dev certificates, deny on internal errors, 2 s deadline, no client CA, 1000 connections, 5 s handshakes", () => {
    const c = parseServeConfig([], {});
    assert.equal(c.port, 8443);
    assert.ok("dev" in c.tls);
    assert.equal(c.failureRule, "deny");
    assert.equal(c.evalTimeoutMs, 2000);
    assert.equal(c.metricsPort, 9090);
    assert.equal(c.clientCa, undefined);
    assert.equal(c.maxConnections, 1000);
    assert.equal(c.tlsHandshakeTimeoutMs, 5000);
    assert.equal(c.shutdownDelayMs, 5000);
    assert.equal(c.shutdownGracePeriodMs, 25_000);
  });
});
