import { Worker } from "node:worker_threads";
import { ManifestError } from "../cluster/files.js";
import { parseInputFiles, type InputFile, type ParsedFiles } from "./inputs.js";

/** Below this much YAML a worker costs more (start-up, transfer) than it saves. */
export const PARALLEL_PARSE_BYTES = 1 << 20;

export interface ParseJob {
  /** What each group of files holds, in order. */
  result: Promise<ParsedFiles[]>;
  /** Milliseconds the parsing itself took (in the worker, or here). */
  parseMs: () => number;
  /** Whether parsing runs in a worker, overlapping with what the caller does meanwhile. */
  parallel: boolean;
  /** Stops the worker when the caller fails before awaiting the result. */
  cancel: () => void;
}

/**
 * Parses groups of manifest files: in a worker thread when there is enough text for it to pay
 * (the caller compiles policies and schemas meanwhile), else right here, synchronously.
 * Errors are the same ManifestErrors either way.
 */
export function startParse(groups: InputFile[][], threshold = PARALLEL_PARSE_BYTES): ParseJob {
  const bytes = groups.flat().reduce((n, f) => n + f.text.length, 0);
  if (bytes < threshold) {
    const t = performance.now();
    let result: Promise<ParsedFiles[]>;
    try {
      result = Promise.resolve(groups.map((files) => parseInputFiles(files)));
    } catch (err) {
      result = Promise.reject(err as Error);
    }
    const ms = performance.now() - t;
    guard(result);
    return { result, parseMs: () => ms, parallel: false, cancel: () => undefined };
  }
  let ms = 0;
  const worker = new Worker(new URL("./parse-worker.js", import.meta.url), { workerData: { groups } });
  const result = new Promise<ParsedFiles[]>((resolve, reject) => {
    worker.once("message", (m: { json?: string; ms?: number; error?: string; manifest?: boolean }) => {
      ms = m.ms ?? 0;
      if (m.json !== undefined) resolve(JSON.parse(m.json) as ParsedFiles[]);
      else reject(m.manifest ? new ManifestError(m.error) : new Error(m.error));
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the parse worker exited with code ${code} before answering`)));
  });
  // The worker keeps the event loop alive until it answers (the caller awaits nothing else), and
  // exits by itself once it has; a settled promise ignores that later exit.
  guard(result);
  return { result, parseMs: () => ms, parallel: true, cancel: () => void worker.terminate() };
}

/** The caller may fail (an invalid policy) before awaiting the parse: that must not be an unhandled rejection. */
function guard(p: Promise<unknown>): void {
  p.catch(() => undefined);
}
