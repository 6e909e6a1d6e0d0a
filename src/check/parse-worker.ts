import { parentPort, workerData } from "node:worker_threads";
import type { InputFile } from "./inputs.js";
import { parseOne, takeFile, type FileOutcome } from "./parse-parallel.js";

/**
 * Parses manifest files off the main thread, which meanwhile compiles the policies and CRD
 * schemas and then takes files off the same counter. The outcomes travel back as one JSON string:
 * JSON.parse on the main thread is cheaper than structured-clone deserialisation of the same objects.
 */
const { files, counter } = workerData as { files: InputFile[]; counter: Int32Array };
const started = performance.now();
try {
  const done: [number, FileOutcome][] = [];
  for (let i = takeFile(counter, files.length); i !== undefined; i = takeFile(counter, files.length)) done.push([i, parseOne(files[i] as InputFile)]);
  const json = JSON.stringify(done);
  parentPort?.postMessage({ json, ms: performance.now() - started });
} catch (err) {
  parentPort?.postMessage({ error: (err as Error).message });
}
