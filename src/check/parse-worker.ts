import { parentPort, workerData } from "node:worker_threads";
import { ManifestError } from "../cluster/files.js";
import type { InputFile } from "./inputs.js";
import { parseInputFiles } from "./inputs.js";

/**
 * Parses manifest files off the main thread, which meanwhile compiles the policies and CRD
 * schemas. The objects travel back as one JSON string: JSON.parse on the main thread is cheaper
 * than structured-clone deserialisation of the same objects.
 */
const { groups } = workerData as { groups: InputFile[][] };
const started = performance.now();
try {
  const json = JSON.stringify(groups.map((files) => parseInputFiles(files)));
  parentPort?.postMessage({ json, ms: performance.now() - started });
} catch (err) {
  parentPort?.postMessage({ error: (err as Error).message, manifest: err instanceof ManifestError });
}
