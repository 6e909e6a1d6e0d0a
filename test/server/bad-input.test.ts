// No input crashes the server: every malformed request gets its 4xx with a JSON error naming the
// problem, and the next good request (on the same keep-alive connection where HTTP allows) is answered.
import assert from "node:assert/strict";
import { Agent, request as httpsRequest } from "node:https";
import { connect as tlsConnect } from "node:tls";
import { connect as netConnect } from "node:net";
import { after, before, describe, test } from "node:test";
import { send, startTestServer, vmReview, type TestServer } from "./helpers.js";

describe("bad input", () => {
  let s: TestServer;
  let agent: Agent;
  let url: string;
  before(async () => {
    s = await startTestServer();
    agent = new Agent({ keepAlive: true, maxSockets: 1, ca: s.ca });
    url = `https://localhost:${s.port}/validate`;
  });
  after(async () => {
    agent.destroy();
    await s.close();
  });

  async function goodRequestStillAnswered(): Promise<void> {
    const res = await send(url, { ca: s.ca, agent, body: JSON.stringify(vmReview({ uid: "next-good", cores: 300 })) });
    assert.equal(res.status, 200);
    const body = res.json() as { response: { uid: string; allowed: boolean } };
    assert.equal(body.response.uid, "next-good");
    assert.equal(body.response.allowed, false);
  }

  const base = vmReview({ uid: "u1" });
  const baseRequest = base.request as Record<string, unknown>;
  const cases: { name: string; body: string; error: RegExp }[] = [
    { name: "not JSON", body: "{not json", error: /request body is not JSON/ },
    { name: "an empty body", body: "", error: /request body is empty/ },
    { name: "a JSON array", body: "[]", error: /expected an AdmissionReview object, got an array/ },
    { name: "JSON null", body: "null", error: /got null/ },
    { name: "the wrong apiVersion", body: JSON.stringify({ ...base, apiVersion: "admission.k8s.io/v1beta1" }), error: /apiVersion must be "admission\.k8s\.io\/v1", got "admission\.k8s\.io\/v1beta1"/ },
    { name: "the wrong kind", body: JSON.stringify({ ...base, kind: "ConversionReview" }), error: /kind must be "AdmissionReview", got "ConversionReview"/ },
    { name: "no request", body: JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }), error: /request: missing or not an object/ },
    { name: "no uid", body: JSON.stringify({ ...base, request: { ...baseRequest, uid: undefined } }), error: /request\.uid: missing or empty/ },
    { name: "an object that is not an object", body: JSON.stringify({ ...base, request: { ...baseRequest, object: "a string" } }), error: /request\.object: must be an object or null/ },
    { name: "an object that is an array", body: JSON.stringify({ ...base, request: { ...baseRequest, object: [1, 2] } }), error: /request\.object: must be an object or null/ },
    { name: "a bad operation", body: JSON.stringify({ ...base, request: { ...baseRequest, operation: "PATCH" } }), error: /request\.operation: must be one of/ },
    { name: "an UPDATE without oldObject", body: JSON.stringify({ ...base, request: { ...baseRequest, operation: "UPDATE", oldObject: null } }), error: /an UPDATE must carry both/ },
  ];

  for (const c of cases) {
    test(`${c.name}: 400 with a JSON error, then the next request is answered`, async () => {
      const res = await send(url, { ca: s.ca, agent, body: c.body });
      assert.equal(res.status, 400);
      assert.match(String(res.headers["content-type"]), /application\/json/);
      const body = res.json() as { error: string; code: number };
      assert.equal(body.code, 400);
      assert.match(body.error, c.error);
      await goodRequestStillAnswered();
    });
  }

  for (const declared of [7 * 1024 * 1024, 64 * 1024 * 1024]) {
    test(`a Content-Length of ${declared >> 20} MiB: 413 before the body is read`, async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest(url, { method: "POST", ca: s.ca, agent: false, headers: { "content-type": "application/json", "content-length": String(declared) } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on("error", reject);
        // Send only the headers and a little: the server must answer without waiting for 7 MiB.
        req.write("{");
      });
      assert.equal(status, 413);
      await goodRequestStillAnswered();
    });
  }

  test("Expect: 100-continue with an oversized body: 413 instead of 100 Continue", async () => {
    const { status, continued } = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = httpsRequest(
        url,
        { method: "POST", ca: s.ca, agent: false, headers: { "content-type": "application/json", "content-length": String(7 * 1024 * 1024), expect: "100-continue" } },
        (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, continued });
          req.destroy();
        },
      );
      req.on("continue", () => (continued = true));
      req.on("error", reject);
      req.flushHeaders();
    });
    assert.equal(status, 413);
    assert.equal(continued, false);
    const ok = await send(url, { ca: s.ca, agent: false, body: JSON.stringify(vmReview({ uid: "with-expect" })), headers: { expect: "100-continue" } });
    assert.equal(ok.status, 200);
    await goodRequestStillAnswered();
  });

  test("a streamed (chunked) body over 6 MiB: 413 once the limit is passed", async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(url, { method: "POST", ca: s.ca, agent: false, headers: { "content-type": "application/json", "transfer-encoding": "chunked" } }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: text });
          req.destroy();
        });
      });
      req.on("error", reject);
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      let sent = 0;
      // Bounded: 8 MiB at most, stopping as soon as the answer arrives.
      const pump = (): void => {
        while (sent < 8 * 1024 * 1024 && !req.destroyed) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        if (!req.destroyed) req.end();
      };
      pump();
    });
    assert.equal(status, 413);
    assert.match(body, /limit is 6291456 bytes/);
    await goodRequestStillAnswered();
  });

  test("garbage instead of HTTP over TLS: the connection is refused, the server goes on", async () => {
    await new Promise<void>((resolve) => {
      const sock = tlsConnect({ host: "127.0.0.1", port: s.port, ca: s.ca, servername: "localhost" }, () => sock.end("\x00\x01garbage\r\n\r\n"));
      sock.on("data", () => undefined);
      sock.on("close", () => resolve());
      sock.on("error", () => resolve());
    });
    await goodRequestStillAnswered();
  });

  test("plain HTTP to the TLS port: no answer in clear text, the server goes on", async () => {
    const reply = await new Promise<string>((resolve) => {
      let got = "";
      const sock = netConnect({ host: "127.0.0.1", port: s.port }, () => sock.write("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"));
      sock.on("data", (c: Buffer) => (got += c.toString("latin1")));
      sock.on("close", () => resolve(got));
      sock.on("error", () => resolve(got));
    });
    assert.doesNotMatch(reply, /HTTP\/1\.1 200/);
    await goodRequestStillAnswered();
  });

  test("a TLS 1.1 client is refused", async () => {
    const err = await new Promise<Error | undefined>((resolve) => {
      const sock = tlsConnect({ host: "127.0.0.1", port: s.port, ca: s.ca, servername: "localhost", minVersion: "TLSv1", maxVersion: "TLSv1.1" }, () => {
        sock.end();
        resolve(undefined);
      });
      sock.on("error", resolve);
    });
    assert.ok(err, "a TLS 1.1 handshake must fail");
    await goodRequestStillAnswered();
  });
});

describe("a configured body limit", () => {
  test("the 413 names the limit the server runs with, not the default", async () => {
    const s = await startTestServer({ maxBodyBytes: 64 * 1024 });
    try {
      const res = await send(`https://localhost:${s.port}/validate`, { ca: s.ca, agent: false, body: JSON.stringify({ pad: "x".repeat(100 * 1024) }) });
      assert.equal(res.status, 413);
      const body = res.json() as { error: string };
      assert.match(body.error, /the limit is 65536 bytes \(64 KiB\)$/);
    } finally {
      await s.close();
    }
  });
});
