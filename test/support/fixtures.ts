import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readObjectsFile } from "../../src/cluster/files.js";
import type { JsonObject } from "../../src/engine/index.js";
import { FIXTURES } from "./paths.js";

/** Every object of a fixture file, as a fresh copy a test may modify. */
export function fixtureObjects(name: string): JsonObject[] {
  return readObjectsFile(join(FIXTURES, name)).map((p) => structuredClone(p.object));
}

/** The one object of a fixture file (a fresh copy). */
export function fixture(name: string): JsonObject {
  const objects = fixtureObjects(name);
  if (objects.length !== 1) throw new Error(`fixture ${name} holds ${objects.length} objects; use fixtureObjects`);
  return objects[0] as JsonObject;
}

export function allFixtureFiles(dir = FIXTURES): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFixtureFiles(join(dir, e.name)) : /\.(ya?ml|json)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}
