import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { ManifestError, type ParsedObject } from "../cluster/files.js";
import { parseManifests } from "./fast-yaml.js";

/** One manifest file (or stdin) that was read, with its text kept for locating fields later. */
export interface InputFile {
  /** The path as the user will read it in reports: as given, or joined under the directory given. */
  file: string;
  text: string;
}

export interface Inputs {
  files: InputFile[];
  objects: ParsedObject[];
}

export interface CollectOptions {
  /** The name stdin ("-") goes by in reports. */
  stdinName?: string;
  /** Reads stdin; replaceable in tests. */
  readStdin?: () => string;
}

const MANIFEST = /\.(ya?ml|json)$/i;

/**
 * Every Kubernetes object in the given paths: files (whatever their extension), directories
 * (recursively, `*.yaml`, `*.yml`, `*.json`, skipping hidden entries such as `.git`), and `-` for
 * stdin. Multi-document YAML and `kind: List` are flattened. Each file is read once even when two
 * arguments reach it. Any unreadable file or invalid document is a ManifestError naming file:line.
 */
export function collectInputs(paths: readonly string[], options: CollectOptions = {}): Inputs {
  const files = readInputFiles(paths, options);
  return { files, objects: parseInputFiles(files) };
}

/** The text of every manifest file the paths name (see collectInputs). */
export function readInputFiles(paths: readonly string[], options: CollectOptions = {}): InputFile[] {
  const files: InputFile[] = [];
  const seen = new Set<string>();
  let stdinUsed = false;
  for (const path of paths) {
    if (path === "-") {
      if (stdinUsed) throw new ManifestError("-: stdin can be read only once");
      stdinUsed = true;
      const read = options.readStdin ?? (() => readFileSync(0, "utf8"));
      let text: string;
      try {
        text = read();
      } catch (err) {
        throw new ManifestError(`-: cannot read stdin: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      files.push({ file: options.stdinName ?? "<stdin>", text });
      continue;
    }
    for (const file of expand(path, true)) {
      const real = realpath(file);
      if (seen.has(real)) continue;
      seen.add(real);
      files.push({ file, text: readText(file) });
    }
  }
  return files;
}

/** The objects in the files, in file order, each with its file and 1-based line. */
export function parseInputFiles(files: readonly InputFile[]): ParsedObject[] {
  const objects: ParsedObject[] = [];
  for (const f of files) for (const o of parseManifests(f.text, f.file)) objects.push(o);
  return objects;
}

/** The manifest files a path names: itself, or the manifests under it, in a stable order. */
function expand(path: string, explicit: boolean, visited = new Set<string>()): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    if (!explicit) return []; // a dangling symlink inside a tree is not the user's argument
    throw new ManifestError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!stat.isDirectory()) return explicit || MANIFEST.test(path) ? [path] : [];
  const real = realpath(path);
  if (visited.has(real)) return []; // a symlink loop
  visited.add(real);
  let entries: string[];
  try {
    entries = readdirSync(path);
  } catch (err) {
    throw new ManifestError(`${path}: cannot read directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return entries
    .filter((name) => !name.startsWith("."))
    .sort()
    .flatMap((name) => expand(join(path, name), false, visited));
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new ManifestError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function realpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
