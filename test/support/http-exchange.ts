import type { ClientRequest, IncomingHttpHeaders } from "node:http";

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Ends `req` (with `body`, if any) and resolves with the reply, its body read whole as UTF-8. A
 * request past its `timeout` option is destroyed, so the promise rejects instead of hanging.
 */
export function exchange(req: ClientRequest, body?: string | Buffer): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body);
  });
}
