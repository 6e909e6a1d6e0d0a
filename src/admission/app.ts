import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Registry } from "prom-client";

export interface Health {
  /** Undefined when ready; otherwise every reason it is not (for the /readyz body). */
  notReady(): string[] | undefined;
  draining(): boolean;
}

export interface AppOptions {
  health: Health;
  /** Serve GET /metrics from this app (false when --metrics-port moves it to its own listener). */
  metrics?: Registry;
  /** The /validate handler; mounted so that the app alone (e.g. under supertest) speaks the whole contract. */
  validate?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** Everything but the hot path: probes, metrics, and JSON 404/405 for the rest. */
export function createApp(opts: AppOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.use((_req: Request, res: Response, next: NextFunction) => {
    if (opts.health.draining()) res.setHeader("connection", "close");
    next();
  });

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.get("/readyz", (_req, res) => {
    const problems = opts.health.notReady();
    if (problems) res.status(503).json({ status: "not ready", reasons: problems });
    else res.json({ status: "ready" });
  });

  const registry = opts.metrics;
  if (registry) {
    app.get("/metrics", (_req, res, next) => {
      registry.metrics().then((text) => {
        res.setHeader("content-type", registry.contentType);
        res.end(text);
      }, next);
    });
  }

  const validate = opts.validate;
  if (validate) app.post("/validate", (req, res) => validate(req, res));
  app.all("/validate", (_req, res) => {
    res.setHeader("allow", "POST");
    res.status(405).json({ error: "use POST with an admission.k8s.io/v1 AdmissionReview", code: 405 });
  });

  app.use((req, res) => {
    res.status(404).json({ error: `no route for ${req.method} ${req.path}`, code: 404 });
  });

  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    if (!res.headersSent) res.status(500).json({ error: err.message, code: 500 });
    else res.end();
  });
  return app;
}
