import type { IndexDefinition } from "../engine/index.js";
import { readObjectsFile } from "./files.js";
import { ObjectStore } from "./object-store.js";

/** Context for dry runs (`review`, `check`): the objects in the given files, indexed as the policies ask. */
export function loadFileContext(files: readonly string[], indexes: readonly IndexDefinition[]): ObjectStore {
  const store = new ObjectStore(indexes);
  for (const file of files) for (const { object } of readObjectsFile(file)) store.upsert(object);
  return store;
}
