/**
 * An open-loop load generator: requests are due at a steady rate (one every 1/rate seconds), sent over
 * a pool of keep-alive TLS connections, one in flight per connection, as an API server calls a webhook.
 *
 * Why not autocannon's `overallRate`: it gives each connection a quota per second and sends the quota
 * back to back as soon as the second starts, then waits. Its "fixed rate" is a burst at full
 * concurrency followed by idleness, so its p99 is the saturated p99, not the latency at that rate.
 *
 * A request's latency runs from the moment the generator found it due (or, when every connection was
 * busy, from then too: waiting for a free connection is the server's doing) to the last byte of the
 * response. The generator's own timer lateness is not charged to the server: it is reported apart.
 */
import { connect, type TLSSocket } from "node:tls";

export interface PacedLoadOptions {
  host: string;
  port: number;
  path: string;
  /** Request bodies, sent in turn. */
  bodies: string[];
  /** Requests per second. */
  rate: number;
  durationS: number;
  connections: number;
}

export interface PacedLoadResult {
  /** Requests answered with a 200, with their latencies in ms, sorted. */
  latenciesMs: Float64Array;
  sent: number;
  non2xx: number;
  errors: number;
  /** Achieved rate of answered requests. */
  rps: number;
  /** How late the generator's timer found requests due, p99 ms: the harness's own jitter. */
  timerLatenessP99Ms: number;
}

interface Pending {
  /** performance.now() when the request was due. */
  due: number;
  body: string;
}

/** One keep-alive connection that carries one request at a time and reads Content-Length responses. */
class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private current: Pending | undefined;

  constructor(
    private readonly socket: TLSSocket,
    private readonly head: (body: string) => string,
    private readonly done: (c: Connection, p: Pending, status: number | undefined) => void,
  ) {
    socket.on("data", (chunk: Buffer) => this.read(chunk));
    socket.on("error", () => this.fail());
    socket.on("close", () => this.fail());
  }

  get idle(): boolean {
    return this.current === undefined && !this.socket.destroyed;
  }

  send(p: Pending): void {
    this.current = p;
    this.socket.write(this.head(p.body) + p.body);
  }

  close(): void {
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = this.buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const headers = this.buffer.subarray(0, end).toString("latin1");
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(headers)?.[1] ?? 0);
    if (this.buffer.length < end + 4 + length) return;
    const status = Number(headers.slice(9, 12));
    this.buffer = this.buffer.subarray(end + 4 + length);
    const p = this.current;
    this.current = undefined;
    if (p) this.done(this, p, status);
  }

  private fail(): void {
    const p = this.current;
    this.current = undefined;
    if (p) this.done(this, p, undefined);
  }
}

function open(host: string, port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }, () => resolve(socket));
    // As Go's net package (the API server's client) does for every TCP connection. With Nagle on, a
    // request written while the last response's ACK is still delayed waits up to 200 ms.
    socket.setNoDelay(true);
    socket.once("error", reject);
  });
}

export async function pacedLoad(o: PacedLoadOptions): Promise<PacedLoadResult> {
  const head = (body: string) =>
    `POST ${o.path} HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  const latencies: number[] = [];
  const lateness: number[] = [];
  const queue: Pending[] = [];
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  const connections: Connection[] = [];
  const dispatch = () => {
    for (const c of connections) {
      if (queue.length === 0) return;
      if (c.idle) c.send(queue.shift() as Pending);
    }
  };
  const done = (_c: Connection, p: Pending, status: number | undefined) => {
    if (status === undefined) errors++;
    else if (status === 200) latencies.push(performance.now() - p.due);
    else non2xx++;
    dispatch();
  };
  for (let i = 0; i < o.connections; i++) connections.push(new Connection(await open(o.host, o.port), head, done));

  const interval = 1000 / o.rate;
  const start = performance.now();
  const end = start + o.durationS * 1000;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      // Every request whose time has come; each is charged from now, when the generator saw it.
      while (sent < o.rate * o.durationS && start + sent * interval <= now) {
        lateness.push(now - (start + sent * interval));
        queue.push({ due: now, body: o.bodies[sent % o.bodies.length] as string });
        sent++;
      }
      dispatch();
      if (now >= end) return resolve();
      setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    tick();
  });
  // Let what is in flight finish (bounded), then close.
  const drainBy = performance.now() + 10_000;
  while ((queue.length > 0 || connections.some((c) => !c.idle)) && performance.now() < drainBy) await new Promise((r) => setTimeout(r, 5));
  for (const c of connections) c.close();
  const sorted = Float64Array.from(latencies).sort();
  const lateSorted = Float64Array.from(lateness).sort();
  return {
    latenciesMs: sorted,
    sent,
    non2xx,
    errors: errors + queue.length,
    rps: latencies.length / o.durationS,
    timerLatenessP99Ms: lateSorted.length ? (lateSorted[Math.floor(0.99 * (lateSorted.length - 1))] as number) : NaN,
  };
}
