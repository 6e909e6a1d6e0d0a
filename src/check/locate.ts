import { blockLine, lineStarts, UNSURE } from "./block-lines.js";
import { YamlTree } from "../yaml/tree.js";

/**
 * Finds the line of a field inside a manifest, so that a report points at `cores: 249` rather
 * than at the object's first line. Runs only for findings. Block-style YAML is answered from
 * indentation (block-lines.ts); only a file the scan is unsure of is parsed again, once.
 */
export class FieldLocator {
  private readonly files = new Map<string, { tree: YamlTree; objects: Map<number, number> } | null>();
  private readonly lines = new Map<string, { text: string; starts: number[] }>();

  constructor(private readonly texts: ReadonlyMap<string, string>) {}

  private scanned(file: string, line: number, path: string): number | typeof UNSURE | undefined {
    let lines = this.lines.get(file);
    if (!lines) {
      const text = this.texts.get(file);
      if (text === undefined) return UNSURE;
      this.lines.set(file, (lines = { text, starts: lineStarts(text) }));
    }
    if (line < 1 || line > lines.starts.length) return UNSURE;
    const found = blockLine(lines, line - 1, path);
    return found === UNSURE || found === undefined ? found : found + 1;
  }

  private parsed(file: string): { tree: YamlTree; objects: Map<number, number> } | null {
    let entry = this.files.get(file);
    if (entry !== undefined) return entry;
    entry = null;
    const text = this.texts.get(file);
    if (text !== undefined) {
      try {
        const tree = new YamlTree(text);
        entry = { tree, objects: tree.objectsByLine() };
      } catch {
        // Invalid YAML never gets here (it was reported when read): findings keep the object's line.
      }
    }
    this.files.set(file, entry);
    return entry;
  }

  /**
   * The line of `path` (as `spec.networks[1].id`; keys may contain dots) in the object that starts
   * at `line` of `file`; the deepest existing parent's line when the field itself is missing;
   * undefined when the path does not even start inside the object.
   */
  line(file: string, line: number, path: string): number | undefined {
    if (!path) return undefined;
    const scanned = this.scanned(file, line, path);
    if (scanned !== UNSURE) return scanned;
    return this.parsedLine(file, line, path);
  }

  /** The same answer as `line`, from a parse of the file: for any YAML. */
  parsedLine(file: string, line: number, path: string): number | undefined {
    const parsed = this.parsed(file);
    const root = parsed?.objects.get(line);
    if (!parsed || root === undefined || !path) return undefined;
    const { tree } = parsed;
    let node: number | undefined = root;
    let rest = path;
    let found: number | undefined;
    while (rest && node !== undefined) {
      if (rest.startsWith("[")) {
        const m = /^\[(\d+)\]\.?/.exec(rest);
        if (!m || !tree.isSequence(node)) break;
        const item: number | undefined = [...tree.items(node)][Number(m[1])];
        if (item === undefined || tree.start(item) < 0) break;
        found = tree.line(tree.start(item));
        node = item;
        rest = rest.slice(m[0].length);
        continue;
      }
      if (!tree.isMapping(node)) break;
      let best: { key: string; keyIndex: number; valueIndex: number } | undefined;
      for (const entry of tree.entries(node)) {
        const key = entry.key;
        if (key === undefined || !(rest === key || rest.startsWith(`${key}.`) || rest.startsWith(`${key}[`))) continue;
        if (!best || key.length > best.key.length) best = { key, keyIndex: entry.keyIndex, valueIndex: entry.valueIndex };
      }
      if (!best) break;
      found = tree.line(tree.start(best.keyIndex));
      node = best.valueIndex;
      rest = rest.slice(best.key.length).replace(/^\./, "");
    }
    return found;
  }
}

/**
 * The field path a policy message starts with, as the policy authoring guide asks messages to
 * ("spec.cpu.cores is 249; …", "spec.settings.virtualMachineCIDRs: …", after the object's name if the
 * message names it); undefined when it does not.
 */
export function leadingFieldPath(message: string): string | undefined {
  // Messages about a cluster-scoped object may name it first: `VirtualMachineClass "x": spec.…`.
  const m = /^(?:[A-Z][A-Za-z]+ "[^"]*": )?((?:spec|metadata|status|data)(?:\.[A-Za-z0-9_$/-][\w$./-]*?|\[\d+\])+)(?=$|[\s:;,])/.exec(message);
  return m?.[1]?.replace(/\.$/, "");
}
