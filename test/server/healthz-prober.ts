// A worker thread that GETs /healthz every 20 ms until told to stop, and posts each probe as
// [when it started (ms since the epoch), latency in ms; -1 for an answer other than 200]. It runs apart from the test's own event loop, which is
// busy sending megabyte bodies over TLS: what it measures is the server, as a kubelet sees it.
import { request } from "node:http";
import { parentPort, workerData } from "node:worker_threads";

const { port, stop } = workerData as { port: number; stop: SharedArrayBuffer };
const stopped = new Int32Array(stop);

function probe(): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/healthz", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200 ? performance.now() - started : -1));
    });
    req.on("error", reject);
    req.end();
  });
}

const probes: [number, number][] = [];
while (Atomics.load(stopped, 0) === 0) {
  const at = performance.timeOrigin + performance.now();
  probes.push([at, await probe()]);
  await new Promise((r) => setTimeout(r, 20));
}
parentPort?.postMessage(probes);
