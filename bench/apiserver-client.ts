// A Node client of the e2e control plane for benchmarks: keep-alive HTTPS with the admin token,
// and bounded parallel creates (shared by bench/apiserver.bench.ts and bench/serve-memory.bench.ts).
import * as fs from "node:fs";
import * as https from "node:https";
import type { ControlPlane } from "../test/e2e/control-plane.js";
import { exchange } from "../test/support/http-exchange.js";
import type { JsonObject } from "../src/engine/index.js";

export interface Client {
  request(method: string, path: string, body?: JsonObject): Promise<{ status: number; body: string }>;
  close(): void;
}

export function apiClient(cp: ControlPlane, maxSockets: number): Client {
  const agent = new https.Agent({ keepAlive: true, maxSockets, ca: fs.readFileSync(cp.caFile) });
  const base = new URL(cp.url);
  return {
    request(method, p, body) {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = https.request({
        host: base.hostname,
        port: base.port,
        path: p,
        method,
        agent,
        headers: {
          Authorization: `Bearer ${cp.token}`,
          Accept: "application/json",
          ...(data ? { "Content-Type": "application/json", "Content-Length": data.length } : {}),
        },
        timeout: 30_000,
      });
      return exchange(req, data);
    },
    close: () => agent.destroy(),
  };
}


/** Runs n tasks with `concurrency` in flight; returns each task's latency in ms. */
export async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number[]> {
  const latencies = new Array<number>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const t0 = performance.now();
      await task(i);
      latencies[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  return latencies;
}


/** Creates n objects with 32 requests in flight (409: already there, fine); then, if given, PUTs each one's patch (a status). Returns the wall ms. */
export async function createMany(client: Client, n: number, make: (i: number) => { path: string; body: JsonObject }, patch?: (i: number) => { path: string; body: JsonObject }): Promise<number> {
  const t0 = performance.now();
  let failures = 0;
  let first = "";
  await pool(n, 32, async (i) => {
    const { path: p, body } = make(i);
    const r = await client.request("POST", p, body);
    if (r.status !== 201 && r.status !== 409) {
      failures++;
      first ||= `${r.status} ${r.body.slice(0, 200)}`;
    }
    if (patch) {
      const q = patch(i);
      const s = await client.request("PUT", q.path, q.body);
      if (s.status !== 200) {
        failures++;
        first ||= `${s.status} ${s.body.slice(0, 200)}`;
      }
    }
  });
  if (failures > 0) throw new Error(`${failures} creates failed; first: ${first}`);
  return performance.now() - t0;
}
