import { constructFromEvents, CORE_SCHEMA, loadAll, YAML11_SCHEMA, YAMLException } from "js-yaml";
import { YamlTree } from "./tree.js";

/** Invalid YAML: what is wrong, and the 1-based line where the parser found it. */
export class YamlError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

export interface YamlReadOptions {
  /**
   * The YAML version scalars are resolved by: 1.2 (core schema, the default: what the API server
   * reads manifests with), or 1.1 (kubectl's and kustomize's reading, where `yes` is a boolean).
   */
  version?: "1.1" | "1.2";
}

// An alias bomb (billion laughs) is refused long before it costs memory.
const MAX_ALIASES = 100;

function schemaOf(opts: YamlReadOptions) {
  return opts.version === "1.1" ? YAML11_SCHEMA : CORE_SCHEMA;
}

/** js-yaml's exception as a YamlError (its message quotes the text: only the reason is kept). */
function yamlError(err: unknown): unknown {
  if (err instanceof YAMLException) return new YamlError(err.reason, (err.mark?.line ?? 0) + 1);
  // The parser recurses per nesting level: a hostile depth ends its stack, not the process.
  if (err instanceof RangeError) return new YamlError("nested too deeply", 1);
  return err;
}

/**
 * The documents of a YAML (or JSON) text with the event tree their lines are found in: the one
 * way virtguard reads YAML where it reports lines. Throws YamlError.
 */
export function parseYaml(text: string, opts: YamlReadOptions = {}): { tree: YamlTree; documents: unknown[] } {
  try {
    const tree = new YamlTree(text);
    return { tree, documents: constructFromEvents(tree.events, { source: text, schema: schemaOf(opts), maxAliases: MAX_ALIASES }) };
  } catch (err) {
    throw yamlError(err);
  }
}

/** Every document of a YAML text (an empty one is null). Throws YamlError. */
export function readYamlDocuments(text: string, opts: YamlReadOptions = {}): unknown[] {
  try {
    return loadAll(text, { schema: schemaOf(opts), maxAliases: MAX_ALIASES });
  } catch (err) {
    throw yamlError(err);
  }
}

/** The one document of a YAML text (null when empty); more than one is an error. Throws YamlError. */
export function readYaml(text: string, opts: YamlReadOptions = {}): unknown {
  const { tree, documents } = parseYaml(text, opts);
  if (documents.length > 1) {
    const second = tree.roots()[1];
    throw new YamlError(`expected one YAML document, found ${documents.length}`, second === undefined ? 1 : tree.line(Math.max(0, tree.start(second))));
  }
  return documents[0] ?? null;
}
