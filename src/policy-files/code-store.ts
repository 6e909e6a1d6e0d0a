import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { GeneratedCode, GeneratedCodeCache } from "../engine/index.js";
import { userCacheDir } from "./cache-dir.js";

/*
 * The code the CEL compiler generated for a policy set (or for CRD validation rules), kept so that
 * the next process loading the same set neither parses, nor type checks, nor compiles a single
 * expression. A stored set is keyed by the policy files (names and texts) and the CRD schemas
 * they were checked against, and used only by the build of virtguard that stored it: the same
 * version and engine module times (cheap: one stat), or else the same engine code (a digest of its
 * modules, for a package npm installed with reset times). It is written only after the set
 * loaded without a problem, so a hit also means "type checked clean".
 *
 * Two places: the build stores the shipped set's code beside the modules (dist/src/policy-files/
 * generated/); any other set is stored, on first load, in the user's cache directory.
 */

/** Where the build puts the shipped policies' and CRDs' generated code. */
export const BUILT_CODE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "policy-files", "generated");

/** At most this many sets are kept in the user cache (the oldest go first). */
const KEPT_SETS = 32;

interface StoredFile {
  stamp: string;
  /** engineDigest() of the build that stored it: what decides when the stamps differ. */
  digest?: string;
  entries: Record<string, GeneratedCode>;
}

let stamp: string | undefined;

/**
 * This build of virtguard: its version, and the time and size of its engine's entry module. Every
 * build rewrites the modules (and the bundle built from them), so code stored by another build,
 * even one of the same version under development, never matches. Without them (a layout this
 * does not know), a stamp of this process alone: nothing stored matches, nothing is kept.
 */
export function buildStamp(): string {
  if (stamp === undefined) {
    try {
      // Spelled from src/ down, so that it holds from the bundle (dist/src/bundle/) as well.
      const engine = statSync(new URL("../engine/index.js", import.meta.url));
      const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version?: string };
      stamp = `${pkg.version ?? "?"}:${engine.mtimeMs}:${engine.size}`;
    } catch {
      stamp = UNSTAMPED;
    }
  }
  return stamp;
}

const UNSTAMPED = `unstamped:${process.pid}:${Date.now()}`;

let digest: string | undefined;

/**
 * A hash of the engine's modules (every .js file under dist/src/engine/, by path and content) and the
 * version: what generated code really depends on. Read only when the stamps differ, as they do
 * for a package installed by npm (which resets file times) or a tree rebuilt without changes.
 */
export function engineDigest(): string {
  if (digest === undefined) {
    try {
      const root = fileURLToPath(new URL("../engine/", import.meta.url));
      const files = readdirSync(root, { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".js"))
        .sort();
      const hash = createHash("sha256").update(buildStamp().split(":")[0] ?? "");
      for (const f of files) hash.update("\0").update(f).update("\0").update(readFileSync(join(root, f)));
      digest = hash.digest("hex");
    } catch {
      digest = UNSTAMPED;
    }
  }
  return digest;
}

/** The key of a set: a hash of what its generated code and type checking depend on, but the build (checked on reading). */
export function setKey(parts: readonly string[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update("\0").update(part);
  return hash.digest("hex").slice(0, 32);
}

/** Generated code by expression key, as read from a stored set or recorded while loading one. */
export class CodeStore implements GeneratedCodeCache {
  private added = 0;
  constructor(
    readonly key: string,
    private readonly entries: Map<string, GeneratedCode> = new Map(),
    /** Whether it was read from a stored set (everything in it loaded clean before). */
    readonly stored = false,
  ) {}

  get(key: string): GeneratedCode | undefined {
    return this.entries.get(key);
  }

  set(key: string, code: GeneratedCode): void {
    if (this.entries.has(key)) return;
    this.entries.set(key, code);
    this.added++;
  }

  /** Whether loading added code that is not stored yet. */
  get changed(): boolean {
    return this.added > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  toJSON(): StoredFile {
    return { stamp: buildStamp(), digest: engineDigest(), entries: Object.fromEntries(this.entries) };
  }
}

function fileOf(dir: string, key: string): string {
  return join(dir, `${key}.json`);
}

function readStored(file: string, key: string): CodeStore | undefined {
  try {
    const data = JSON.parse(readFileSync(file, "utf8")) as StoredFile;
    if (data.stamp !== buildStamp() && (data.digest === undefined || data.digest !== engineDigest())) return undefined;
    return new CodeStore(key, new Map(Object.entries(data.entries)), true);
  } catch {
    return undefined; // none stored, or unreadable: compile
  }
}

/** The stored code of a set: from the build, else from the user cache; an empty store to record into when neither has it. */
export function openCodeStore(key: string, env: NodeJS.ProcessEnv = process.env): CodeStore {
  return readStored(fileOf(BUILT_CODE_DIR, key), key) ?? (userCacheOff(env) ? undefined : readStored(fileOf(userCodeDir(env), key), key)) ?? new CodeStore(key);
}

function userCacheOff(env: NodeJS.ProcessEnv): boolean {
  return env.VIRTGUARD_NO_CODE_CACHE === "1";
}

export function userCodeDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(userCacheDir(env), "generated-code");
}

/**
 * Keeps a store's new code in the user cache, written whole and renamed into place so that
 * concurrent runs never read half a file. A cache that cannot be written only costs speed.
 */
export function saveCodeStore(store: CodeStore, env: NodeJS.ProcessEnv = process.env): void {
  if (!store.changed || userCacheOff(env) || buildStamp() === UNSTAMPED) return;
  writeCodeStore(store, userCodeDir(env));
  prune(userCodeDir(env));
}

/** Writes a store into a directory (the build's, or the user cache). */
export function writeCodeStore(store: CodeStore, dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    const file = fileOf(dir, store.key);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(store));
    renameSync(tmp, file);
  } catch {
    // Read-only or full: the next run compiles again.
  }
}

function prune(dir: string): void {
  try {
    const files = readdirSync(dir).filter((n) => n.endsWith(".json"));
    if (files.length <= KEPT_SETS) return;
    const byAge = files.map((n) => ({ n, t: statSync(join(dir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
    for (const { n } of byAge.slice(0, files.length - KEPT_SETS)) unlinkSync(join(dir, n));
  } catch {
    // Another run pruned first.
  }
}

/** The generated code of CRD validation rules (`self` rules depend on nothing but their text and the build). */
export function selfRuleCodeStore(): CodeStore {
  return openCodeStore(setKey(["self-rules"]));
}
