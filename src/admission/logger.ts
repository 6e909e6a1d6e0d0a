import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Structured JSON logs on stdout, one object per line: {"level":"info","time":"…","msg":"…",…}.
 * Request objects are never logged; the redaction below is a second line of defence should a
 * future log call pass one (a Secret's data must not reach the logs).
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "virtguard" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ["object", "oldObject", "request.object", "request.oldObject", "*.data", "*.stringData"],
        censor: "[redacted]",
      },
    },
    destination ?? pino.destination({ dest: 1, sync: false, minLength: 0 }),
  );
}
