// Stops the control plane's kube-apiserver (by its pid) and starts it again with the same
// command line and the same etcd, for tests of what watches do across an API server restart.
// The harness (control-plane.ts) started it in this process; the replacement is started here and
// stopped by the handle returned (before the harness stops etcd).

import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { processAlive as alive, type ControlPlane } from "./control-plane.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function readyz(cp: ControlPlane, ca: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(`${cp.url}/readyz`, { ca, headers: { Authorization: `Bearer ${cp.token}` }, timeout: 2000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(0));
  });
}

export interface RestartedApiserver {
  pid: number;
  /** SIGTERM (then SIGKILL after 10 s) the replacement; idempotent. */
  stop(): Promise<void>;
}

/** The running apiserver's binary and arguments, from /proc (Linux). */
function commandLine(pid: number): { bin: string; args: string[] } {
  const parts = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((s) => s !== "");
  const [bin, ...args] = parts;
  if (!bin) throw new Error(`apiserver-restart: cannot read the command line of pid ${pid}`);
  return { bin, args };
}

export class ApiserverRestarter {
  private pid: number;
  private current: ChildProcess | undefined;
  private readonly cmd: { bin: string; args: string[] };
  private generation = 0;

  constructor(private readonly cp: ControlPlane) {
    this.pid = cp.pids.apiserver;
    this.cmd = commandLine(this.pid);
    process.on("exit", () => {
      if (this.current?.pid !== undefined && alive(this.current.pid)) process.kill(this.current.pid, "SIGKILL");
    });
  }

  /** Stops the API server and waits until its process is gone. */
  async down(): Promise<void> {
    const pid = this.pid;
    if (!alive(pid)) return;
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 20_000;
    while (alive(pid) && Date.now() < deadline) await sleep(100);
    if (alive(pid)) process.kill(pid, "SIGKILL");
    while (alive(pid)) await sleep(50);
  }

  /** Starts it again (same flags, same etcd, same port) and waits for /readyz. */
  async up(extraArgs: string[] = []): Promise<void> {
    this.generation++;
    const log = path.join(this.cp.dir, `kube-apiserver.restart-${this.generation}.log`);
    const fd = fs.openSync(log, "a");
    const child = spawn(this.cmd.bin, [...this.cmd.args, ...extraArgs], { stdio: ["ignore", fd, fd] });
    fs.closeSync(fd);
    if (child.pid === undefined) throw new Error("apiserver-restart: spawn failed");
    this.current = child;
    this.pid = child.pid;
    const ca = fs.readFileSync(this.cp.caFile);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`apiserver-restart: kube-apiserver exited (${child.exitCode}); see ${log}`);
      if ((await readyz(this.cp, ca)) === 200) return;
      if (Date.now() > deadline) throw new Error(`apiserver-restart: no /readyz within 60 s; see ${log}`);
      await sleep(200);
    }
  }

  /** Stops the replacement, if any (call before cp.stop(), which stops etcd). */
  async stop(): Promise<void> {
    const child = this.current;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  }
}
