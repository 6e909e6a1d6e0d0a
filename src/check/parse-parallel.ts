import { Worker } from "node:worker_threads";
import { parseInputFiles, type InputFile, type ParsedFiles } from "./inputs.js";
import { listPieces, pieceText, type ListPiece } from "./list-pieces.js";

/** Below this much YAML a worker costs more (start-up, transfer) than it saves. */
export const PARALLEL_PARSE_BYTES = 1 << 20;

export interface ParseJob {
  /** What each group of files holds, in order. */
  result: Promise<ParsedFiles[]>;
  /** Milliseconds the parsing itself took (in the worker plus here). */
  parseMs: () => number;
  /** Whether parsing runs in a worker, overlapping with what the caller does meanwhile. */
  parallel: boolean;
  /**
   * Parses, on the calling thread, the files the worker has not taken yet: the caller calls it
   * once its own preparation is done, so both cores parse until the files run out.
   */
  help: () => void;
  /** Stops the worker when the caller fails before awaiting the result. */
  cancel: () => void;
}

/** What one file gave, or the unexpected error parsing it raised (manifest errors are in ParsedFiles). */
export type FileOutcome = ParsedFiles | { fatal: string };

/**
 * What the threads parse: a whole file, or one item of a large List (see listPieces), which must
 * give exactly one object, or its file is parsed whole (`{ retry: true }`).
 */
export interface ParseUnit {
  /** Index of the file. */
  of: number;
  piece?: ListPiece;
}

export type UnitOutcome = FileOutcome | { retry: true };

export function parseUnit(files: readonly InputFile[], unit: ParseUnit): UnitOutcome {
  const file = files[unit.of] as InputFile;
  if (!unit.piece) return parseOne(file);
  const outcome = parseOne({ file: file.file, text: pieceText(file.text, unit.piece) });
  if ("fatal" in outcome) return outcome;
  if (outcome.objects.length !== 1 || outcome.skipped.length > 0 || outcome.errors.length > 0) return { retry: true };
  for (const o of outcome.objects) o.line += unit.piece.lineOffset;
  return outcome;
}

/** Takes the next file index off a counter shared by the threads; undefined when none is left. */
export function takeFile(counter: Int32Array, count: number): number | undefined {
  const i = Atomics.add(counter, 0, 1);
  return i < count ? i : undefined;
}

export function parseOne(file: InputFile): FileOutcome {
  try {
    return parseInputFiles([file]);
  } catch (err) {
    return { fatal: (err as Error).message };
  }
}

/**
 * Parses groups of manifest files: with a worker thread when there is enough text for it to pay
 * (the caller compiles policies and schemas meanwhile, then helps: files are taken off a shared
 * counter by whichever thread is free), else right here, synchronously. The result is the same
 * either way: objects, skipped documents and errors in file order.
 */
export function startParse(groups: InputFile[][], threshold = PARALLEL_PARSE_BYTES): ParseJob {
  const bytes = groups.flat().reduce((n, f) => n + f.text.length, 0);
  if (bytes < threshold) return parseHere(groups);
  const files = groups.flat();
  const { units, spans } = cutIntoUnits(files);
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const outcomes: (UnitOutcome | undefined)[] = new Array(units.length);
  let workerMs = 0;
  let ownMs = 0;
  // Beside this module: dist/src/check/parse-worker.js, or from the bundle the worker's own bundle
  // (dist/src/bundle/parse-worker.js, which loads only the YAML reader: no engine, no CEL).
  const worker = new Worker(new URL("./parse-worker.js", import.meta.url), { workerData: { files, units, counter } });
  const result = workerAnswer(worker, outcomes).then((ms) => {
    workerMs = ms;
    return groupOutcomes(groups, (f) => fileOutcome(files, f, spans[f] as [number, number], outcomes));
  });
  // The worker keeps the event loop alive until it answers (the caller awaits nothing else), and
  // exits by itself once it has; a settled promise ignores that later exit.
  guard(result);
  const help = () => {
    const t = performance.now();
    for (let i = takeFile(counter, units.length); i !== undefined; i = takeFile(counter, units.length)) outcomes[i] = parseUnit(files, units[i] as ParseUnit);
    ownMs += performance.now() - t;
  };
  return { result, parseMs: () => workerMs + ownMs, parallel: true, help, cancel: () => void worker.terminate() };
}

/** Too little text for a worker: every group parsed now, on this thread. */
function parseHere(groups: InputFile[][]): ParseJob {
  const t = performance.now();
  let result: Promise<ParsedFiles[]>;
  try {
    result = Promise.resolve(groups.map((files) => parseInputFiles(files)));
  } catch (err) {
    result = Promise.reject(err as Error);
  }
  const ms = performance.now() - t;
  guard(result);
  return { result, parseMs: () => ms, parallel: false, help: () => undefined, cancel: () => undefined };
}

/** The units the threads share: a large List's items one by one, any other file whole; `spans[f]` is file f's units, [first, end). */
function cutIntoUnits(files: readonly InputFile[]): { units: ParseUnit[]; spans: [number, number][] } {
  const units: ParseUnit[] = [];
  const spans = files.map((f, of): [number, number] => {
    const first = units.length;
    const pieces = listPieces(f.text);
    if (pieces) for (const piece of pieces) units.push({ of, piece });
    else units.push({ of });
    return [first, units.length];
  });
  return { units, spans };
}

/** Resolves, with the worker's parsing time, once the worker has put its outcomes in `outcomes`. */
function workerAnswer(worker: Worker, outcomes: (UnitOutcome | undefined)[]): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    worker.once("message", (m: { json?: string; ms?: number; error?: string }) => {
      if (m.json === undefined) return reject(new Error(m.error));
      for (const [i, outcome] of JSON.parse(m.json) as [number, UnitOutcome][]) outcomes[i] = outcome;
      resolve(m.ms ?? 0);
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the parse worker exited with code ${code} before answering`)));
  });
}

/** File f's outcome from its units; a List whose cut went wrong somewhere is parsed whole, here. */
function fileOutcome(files: readonly InputFile[], f: number, [first, end]: [number, number], outcomes: readonly (UnitOutcome | undefined)[]): FileOutcome {
  const parts: FileOutcome[] = [];
  for (let u = first; u < end; u++) {
    const outcome = outcomes[u];
    if (!outcome) throw new Error(`the parse worker did not parse ${files[f]?.file}`);
    if ("retry" in outcome) return parseOne(files[f] as InputFile);
    parts.push(outcome);
  }
  if (parts.length === 1) return parts[0] as FileOutcome;
  const merged: ParsedFiles = { objects: [], skipped: [], errors: [] };
  for (const part of parts) {
    if ("fatal" in part) return part;
    for (const o of part.objects) merged.objects.push(o);
  }
  return merged;
}

/** What each group of files holds, in file order, from the outcome of every file (numbered across the groups). */
function groupOutcomes(groups: readonly InputFile[][], outcomeOf: (f: number) => FileOutcome): ParsedFiles[] {
  const out: ParsedFiles[] = [];
  let i = 0;
  for (const group of groups) {
    const parsed: ParsedFiles = { objects: [], skipped: [], errors: [] };
    for (let end = i + group.length; i < end; i++) {
      const outcome = outcomeOf(i);
      if ("fatal" in outcome) throw new Error(outcome.fatal);
      for (const o of outcome.objects) parsed.objects.push(o);
      parsed.skipped.push(...outcome.skipped);
      parsed.errors.push(...outcome.errors);
    }
    out.push(parsed);
  }
  return out;
}

/** The caller may fail (an invalid policy) before awaiting the parse: that must not be an unhandled rejection. */
function guard(p: Promise<unknown>): void {
  p.catch(() => undefined);
}
