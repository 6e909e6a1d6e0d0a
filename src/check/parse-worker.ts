import { parentPort, workerData } from "node:worker_threads";
import type { InputFile } from "./inputs.js";
import { parseUnit, takeFile, type ParseUnit, type UnitOutcome } from "./parse-parallel.js";

/**
 * Parses manifest files (and the items of large Lists) off the main thread, which meanwhile compiles the policies and CRD
 * schemas and then takes files off the same counter. The outcomes travel back as one JSON string:
 * JSON.parse on the main thread is cheaper than structured-clone deserialisation of the same objects.
 */
const { files, units, counter } = workerData as { files: InputFile[]; units: ParseUnit[]; counter: Int32Array };
const started = performance.now();
try {
  const done: [number, UnitOutcome][] = [];
  for (let i = takeFile(counter, units.length); i !== undefined; i = takeFile(counter, units.length)) done.push([i, parseUnit(files, units[i] as ParseUnit)]);
  const json = JSON.stringify(done);
  parentPort?.postMessage({ json, ms: performance.now() - started });
} catch (err) {
  parentPort?.postMessage({ error: (err as Error).message });
}
