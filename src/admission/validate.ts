import type { IncomingMessage, ServerResponse } from "node:http";
import { evaluate, requestBudget, type AdmissionRequest, type Finding, type Verdict } from "../engine/index.js";
import type { Logger } from "./logger.js";
import type { Decision, ServerMetrics } from "./metrics.js";
import type { PolicyStore } from "./policy-store.js";
import { decodeReview, encodeFailure, encodeResponse, ReviewError, type AdmissionReviewResponse } from "./review.js";

/** The API server sends objects up to ~3 MiB, and an UPDATE carries two. */
export const MAX_BODY_BYTES = 6 * 1024 * 1024;

/** " (6 MiB)" for a whole number of MiB or KiB, else nothing: the limit as an operator configured it. */
function binaryUnits(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return ` (${bytes / (1 << 20)} MiB)`;
  if (bytes >= 1 << 10 && bytes % (1 << 10) === 0) return ` (${bytes / (1 << 10)} KiB)`;
  return "";
}

/** How much of an oversized body is read and dropped after its 413 before the connection is cut. */
const DISCARD_LIMIT = 16 * 1024 * 1024;

export type FailureRule = "deny" | "allow";

export interface ValidateOptions {
  policies: PolicyStore;
  metrics: ServerMetrics;
  logger: Logger;
  /** What an internal error answers: deny (fail closed, the default) or allow with a warning. */
  failureRule: FailureRule;
  /** Budget for evaluating one request, in milliseconds. */
  evalTimeoutMs: number;
  /** Cost units one request may spend (default DEFAULT_COST_LIMIT). */
  evalCostLimit?: number;
  maxBodyBytes?: number;
  /** True once shutdown began: responses then close their connection, so clients re-dial elsewhere. */
  draining(): boolean;
}

/** Response headers are built once; only the length changes. */
function jsonHeaders(length: number, close: boolean): string[] {
  return close
    ? ["content-type", "application/json", "content-length", String(length), "connection", "close"]
    : ["content-type", "application/json", "content-length", String(length)];
}

/**
 * POST /validate, answered straight from the server's request listener, before and without
 * express: the body is read by hand (with the size limit enforced while it streams), parsed once,
 * evaluated, and answered with one write. Everything else goes to the express app.
 */
export function createValidateHandler(opts: ValidateOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const endpoint = new ValidateEndpoint(opts);
  return (req, res) => endpoint.handle(req, res);
}

/** What evaluating one request came to: the response sent, and what the metrics and logs say of it. */
interface Outcome {
  response: AdmissionReviewResponse;
  verdict: Verdict | undefined;
  decision: Decision;
  evalSeconds: number;
}

class ValidateEndpoint {
  private readonly maxBody: number;
  private readonly debug: boolean;
  private readonly info: boolean;

  constructor(private readonly opts: ValidateOptions) {
    this.maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
    this.debug = opts.logger.isLevelEnabled("debug");
    this.info = opts.logger.isLevelEnabled("info");
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now();
    const length = contentLength(req);
    if (length !== undefined && Number(length) > this.maxBody) return this.tooLarge(req, res, `${length} bytes (Content-Length)`, Number(length));
    const { metrics } = this.opts;
    metrics.requestsInFlight++;
    res.on("close", () => metrics.requestsInFlight--);
    readBody(req, this.maxBody, {
      body: (body) => this.answerSafely(res, start, body),
      overflow: () => this.tooLarge(req, res, `over ${this.maxBody} bytes`, undefined),
      error: (err) => {
        if (this.debug) this.opts.logger.debug({ err: err.message }, "request stream error");
      },
    });
  }

  /** Nothing in answer() should throw; if something does, the request still gets an answer. */
  private answerSafely(res: ServerResponse, start: number, body: Buffer): void {
    try {
      this.answer(res, start, body);
    } catch (err) {
      this.opts.logger.error({ err: (err as Error).message, stack: (err as Error).stack }, "internal error answering /validate");
      if (!res.headersSent) this.reply(res, 500, JSON.stringify({ error: "internal error", code: 500 }));
    }
  }

  private answer(res: ServerResponse, start: number, body: Buffer): void {
    const request = this.decode(res, body);
    if (request === undefined) return;
    const serving = this.opts.policies.current;
    const outcome = this.evaluate(request, serving);
    this.reply(res, 200, JSON.stringify(outcome.response));
    this.record(request, outcome, start);
    if (this.info && outcome.verdict !== undefined) this.logFindings(request, outcome.verdict, serving.generation);
    if (this.debug) {
      this.opts.logger.debug(
        { uid: forLog(request.uid), ...who(request), dryRun: request.dryRun === true, decision: outcome.decision, durationMs: round(performance.now() - start), generation: serving.generation },
        "admission request",
      );
    }
  }

  /** The AdmissionRequest in a body, or undefined once a 400 has answered it. */
  private decode(res: ServerResponse, body: Buffer): AdmissionRequest | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch (err) {
      this.refuse(res, 400, body.length === 0 ? "request body is empty; expected an AdmissionReview (JSON)" : `request body is not JSON: ${(err as Error).message}`);
      return undefined;
    }
    try {
      return decodeReview(parsed);
    } catch (err) {
      if (!(err instanceof ReviewError)) throw err;
      // The uid, when one was sent, goes back with the refusal so the caller can match it up.
      this.refuse(res, 400, `not an admission.k8s.io/v1 AdmissionReview: ${err.message}`, false, uidOf(parsed));
      return undefined;
    }
  }

  /** The verdict within the request's budget; an evaluation that fails answers by the failure rule. */
  private evaluate(request: AdmissionRequest, serving: PolicyStore["current"]): Outcome {
    const { logger, failureRule, evalTimeoutMs } = this.opts;
    const evalStart = performance.now();
    try {
      const budget = requestBudget(evalTimeoutMs, this.opts.evalCostLimit);
      const verdict = evaluate(serving.set, request, { context: serving.context, params: serving.params, budget });
      const decision: Decision = !verdict.allowed ? "denied" : verdict.warnings.length > 0 ? "warned" : "allowed";
      return { response: encodeResponse(request.uid, verdict), verdict, decision, evalSeconds: (performance.now() - evalStart) / 1000 };
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      logger.error({ uid: forLog(request.uid), ...who(request), err: message, stack: (err as Error).stack, failureRule, generation: serving.generation }, "evaluation failed");
      return { response: encodeFailure(request.uid, message, failureRule), verdict: undefined, decision: "error", evalSeconds: (performance.now() - evalStart) / 1000 };
    }
  }

  /** Durations, and a decision per matched policy (one without a policy when none matched or evaluation failed). */
  private record(request: AdmissionRequest, outcome: Outcome, start: number): void {
    const { metrics } = this.opts;
    const kind = metrics.kind(request.kind.kind);
    const operation = request.operation;
    const { verdict, decision } = outcome;
    metrics.evaluationDuration.observeValues([kind, operation], outcome.evalSeconds);
    metrics.requestDuration.observeValues([decision, kind, operation], (performance.now() - start) / 1000);
    if (verdict === undefined || verdict.matched.length === 0) {
      metrics.countDecision(decision, kind, operation, "");
      return;
    }
    for (const policy of verdict.matched) {
      const d: Decision = hasPolicy(verdict.denials, policy) ? "denied" : hasPolicy(verdict.warnings, policy) ? "warned" : "allowed";
      metrics.countDecision(d, kind, operation, policy);
    }
  }

  private logFindings(request: AdmissionRequest, verdict: Verdict, generation: number): void {
    if (verdict.denials.length + verdict.warnings.length + verdict.audits.length === 0) return;
    const { logger } = this.opts;
    const base = { uid: forLog(request.uid), ...who(request), dryRun: request.dryRun === true, generation };
    // A message is rendered from the object; for a Secret it could quote the data.
    const secret = request.kind.group === "" && request.kind.kind === "Secret";
    // Messages quote values from the object: long ones are cut like names.
    const text = (f: Finding): string => (secret ? "[message about a Secret not logged]" : (forLog(f.message, 4096) as string));
    for (const f of verdict.denials) logger.info({ ...base, policy: f.policy, action: "Deny", reason: f.reason, message: text(f) }, "denied");
    for (const f of verdict.warnings) logger.info({ ...base, policy: f.policy, action: "Warn", message: text(f) }, "warning");
    for (const f of verdict.audits) logger.info({ ...base, policy: f.policy, action: "Audit", message: text(f) }, "audit");
  }

  private reply(res: ServerResponse, status: number, body: string, close = false): void {
    res.writeHead(status, jsonHeaders(Buffer.byteLength(body), close || this.opts.draining()));
    res.end(body);
  }

  private refuse(res: ServerResponse, status: 400 | 413, message: string, close = false, uid?: string): void {
    this.opts.metrics.badRequests.inc({ code: String(status) });
    if (this.debug) this.opts.logger.debug({ status, err: forLog(message, 1024), uid: forLog(uid) }, "admission request refused");
    this.reply(res, status, JSON.stringify(uid === undefined ? { error: message, code: status } : { error: message, code: status, uid }), close);
  }

  /**
   * 413 at once, without buffering. The rest of a moderately oversized body is read and dropped, so
   * that a client still writing it gets the answer rather than a reset, and the connection stays usable;
   * past DISCARD_LIMIT bytes (or a declared length beyond it) the connection is closed instead.
   */
  private tooLarge(req: IncomingMessage, res: ServerResponse, size: string, declared: number | undefined): void {
    const close = declared !== undefined && declared > DISCARD_LIMIT;
    this.refuse(res, 413, `request body is ${size}; the limit is ${this.maxBody} bytes${binaryUnits(this.maxBody)}`, close);
    if (close) return;
    let dropped = 0;
    req.on("data", (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > DISCARD_LIMIT) req.socket.destroy();
    });
  }
}

/** Streams a request body into one Buffer; past `max` bytes it is dropped and `overflow` called once instead. */
function readBody(req: IncomingMessage, max: number, on: { body(body: Buffer): void; overflow(): void; error(err: Error): void }): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on("data", (chunk: Buffer) => {
    if (refused) return;
    size += chunk.length;
    if (size > max) {
      refused = true;
      chunks.length = 0;
      on.overflow();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (!refused) on.body(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
  });
  req.on("error", (err) => on.error(err));
}

/**
 * The Content-Length header as sent, read from the raw header list: `req.headers` is built on first
 * access (an object and a lowercased copy of every header), and /validate needs this one only.
 */
function contentLength(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 14 && name.toLowerCase() === "content-length") return raw[i + 1];
  }
  return undefined;
}

function uidOf(body: unknown): string | undefined {
  const request = typeof body === "object" && body !== null ? (body as { request?: unknown }).request : undefined;
  const uid = typeof request === "object" && request !== null ? (request as { uid?: unknown }).uid : undefined;
  return typeof uid === "string" && uid !== "" ? uid : undefined;
}

function hasPolicy(findings: readonly Finding[], policy: string): boolean {
  for (const f of findings) if (f.policy === policy) return true;
  return false;
}

/** Names are at most 253 characters in Kubernetes, but a review's fields are whatever was sent. */
const LOGGED_STRING_MAX = 256;

/** A string from a request as logs carry it: at most LOGGED_STRING_MAX characters, with the length when cut. */
export function forLog(value: unknown, max = LOGGED_STRING_MAX): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === "string" ? value : String(value);
  return text.length <= max ? text : `${text.slice(0, max)}…[${text.length} characters]`;
}

function who(request: AdmissionRequest): { user: string | undefined; kind: string; operation: string; namespace: string | undefined; name: string | undefined } {
  return {
    user: forLog(request.userInfo?.username),
    kind: forLog(request.kind.group ? `${request.kind.kind}.${request.kind.group}` : request.kind.kind) as string,
    operation: request.operation,
    namespace: forLog(request.namespace),
    name: forLog(request.name),
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
