import * as http from "node:http";
import * as https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { isObject, type JsonObject } from "../../engine/index.js";
import { ListReader } from "./list-reader.js";

/** A failed API request: the HTTP status (0 when no response came) and the API server's own message. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    /** metav1.Status reason, e.g. NotFound, Forbidden, Expired. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

/** The parts of a list response an informer uses. */
export interface ListResponse<T> {
  items: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

function statusMessage(body: string): { message?: string; reason?: string } {
  try {
    const status = JSON.parse(body) as { kind?: unknown; message?: unknown; reason?: unknown };
    if (status.kind === "Status") {
      return {
        message: typeof status.message === "string" ? status.message : undefined,
        reason: typeof status.reason === "string" ? status.reason : undefined,
      };
    }
  } catch {
    // not JSON: the status line says it
  }
  return {};
}

/**
 * GET path on the current cluster of kc, with its credentials (token, client certificate, token
 * file: KubeConfig applies them), parsed as JSON. Rejects with an ApiError on any non-2xx status
 * and on network errors (statusCode 0).
 */
export function getJson<T>(kc: KubeConfig, path: string, opts: RequestOptions = {}): Promise<T> {
  return sendJson<T>(kc, "GET", path, undefined, opts);
}

/** A request with a JSON body (or none), answered with JSON (or nothing): as getJson, for writes. */
export function sendJson<T>(
  kc: KubeConfig,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body: unknown,
  opts: RequestOptions = {},
): Promise<T> {
  return exchange(kc, method, path, body, opts, () => {
    const parts: string[] = [];
    return {
      write: (part) => parts.push(part),
      end: () => {
        const text = parts.join("");
        return (text === "" ? undefined : JSON.parse(text)) as T;
      },
    };
  });
}

/**
 * GET of a collection, its items handed to `onItem` one by one as the response arrives (see
 * ListReader); resolves with the List's metadata once the response is complete.
 */
export function listItems(kc: KubeConfig, path: string, onItem: (item: JsonObject) => void, opts: RequestOptions = {}): Promise<ListResponse<never>["metadata"]> {
  return exchange(kc, "GET", path, undefined, opts, () => {
    const reader = new ListReader(onItem);
    return {
      write: (part) => reader.write(part),
      end: () => {
        const metadata = reader.end().metadata;
        return isObject(metadata) ? (metadata as ListResponse<never>["metadata"]) : undefined;
      },
    };
  });
}

interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** How a 2xx response body is read: text as it arrives, then the result. */
interface BodyReader<T> {
  write(part: string): void;
  end(): T;
}

async function exchange<T>(kc: KubeConfig, method: string, path: string, body: unknown, opts: RequestOptions, reader: () => BodyReader<T>): Promise<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ApiError(0, "the kubeconfig has no current cluster");
  const url = new URL(cluster.server.replace(/\/+$/, "") + path);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string | number> = { Accept: "application/json" };
  if (payload) Object.assign(headers, { "Content-Type": "application/json", "Content-Length": payload.length });
  const options: https.RequestOptions = { method, headers };
  await kc.applyToHTTPSOptions(options);
  const mod = url.protocol === "http:" ? http : https;
  return new Promise<T>((resolve, reject) => {
    const req = mod.request(url, { ...options, signal: opts.signal, timeout: opts.timeoutMs ?? 60_000 }, (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status <= 299;
      // Decoded as it arrives, never held as Buffers: those sit outside the V8 heap until a full
      // GC and leave the C heap fragmented after a list of 50,000 objects.
      res.setEncoding("utf8");
      const failed: string[] = [];
      let read: BodyReader<T> | undefined = ok ? reader() : undefined;
      const fail = (err: unknown): void => {
        read = undefined;
        reject(err instanceof ApiError ? err : new ApiError(status, `${method} ${url.pathname}: response is not JSON: ${(err as Error).message}`));
        res.destroy();
      };
      res.on("data", (part: string) => {
        if (!ok) failed.push(part);
        else if (read) {
          try {
            read.write(part);
          } catch (err) {
            fail(err);
          }
        }
      });
      res.on("error", (err) => reject(new ApiError(0, `${method} ${url.pathname}: ${err.message}`)));
      res.on("end", () => {
        if (!ok) {
          const s = statusMessage(failed.join(""));
          reject(new ApiError(status, `${method} ${url.pathname}${url.search}: ${status} ${s.message ?? (res.statusMessage || "error")}`, s.reason));
          return;
        }
        if (!read) return;
        try {
          resolve(read.end());
        } catch (err) {
          fail(err);
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no response within ${opts.timeoutMs ?? 60_000} ms`)));
    req.on("error", (err) => reject(new ApiError(0, `${method} ${url.origin}${url.pathname}: ${err.message}`)));
    req.end(payload);
  });
}

/** The HTTP status of an error from getJson or from client-node's Watch (0 when there is none). */
export function statusOf(err: unknown): number {
  if (typeof err !== "object" || err === null) return 0;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === "number") return e.statusCode;
  if (typeof e.code === "number") return e.code;
  return 0;
}
