import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { ManifestError, parseObjects, type ParsedObject, type SkippedDocument } from "../cluster/files.js";

/** One manifest file (or stdin) that was read, with its text kept for locating fields later. */
export interface InputFile {
  /** The path as the user will read it in reports: as given, or joined under the directory given. */
  file: string;
  text: string;
}

export interface Inputs {
  files: InputFile[];
  objects: ParsedObject[];
  skipped: SkippedDocument[];
}

/** What a group of files holds: the objects, the documents that are no objects, and one error per unreadable file. */
export interface ParsedFiles {
  objects: ParsedObject[];
  skipped: SkippedDocument[];
  /** One line per file that is not valid YAML (or holds a malformed object), naming file:line. */
  errors: string[];
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
 * arguments reach it. Documents that are no Kubernetes objects are skipped; unreadable files and
 * invalid documents are one ManifestError naming each file:line, one per line.
 */
export function collectInputs(paths: readonly string[], options: CollectOptions = {}): Inputs {
  const files = readInputFiles(paths, options);
  const parsed = parseInputFiles(files);
  throwIfAny(parsed.errors);
  return { files, objects: parsed.objects, skipped: parsed.skipped };
}

/** Every file's problem at once (one per line), so that a user fixes them in one go. */
export function throwIfAny(errors: readonly string[]): void {
  if (errors.length > 0) throw new ManifestError(errors.join("\n"));
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

/**
 * The objects in the files, in file order, each with its file and 1-based line; the documents that
 * are no objects (Chart.yaml, values, kustomization.yaml, fragments); and every file's error.
 */
export function parseInputFiles(files: readonly InputFile[]): ParsedFiles {
  const out: ParsedFiles = { objects: [], skipped: [], errors: [] };
  for (const f of files) {
    const skipped: SkippedDocument[] = [];
    try {
      for (const o of parseObjects(f.text, f.file, skipped)) out.objects.push(o);
      out.skipped.push(...skipped);
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      out.errors.push(err.message);
    }
  }
  return out;
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
