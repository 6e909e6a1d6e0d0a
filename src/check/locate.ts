import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node as YamlNode } from "yaml";

/**
 * Finds the line of a field inside a manifest, so that a report points at `cores: 249` rather
 * than at the object's first line. Only files with findings are parsed again, once each.
 */
export class FieldLocator {
  private readonly files = new Map<string, { objects: Map<number, YamlNode>; lines: LineCounter }>();

  constructor(private readonly texts: ReadonlyMap<string, string>) {}

  /** Objects of a file by their first line, numbered as parseObjects numbers them. */
  private parsed(file: string): { objects: Map<number, YamlNode>; lines: LineCounter } {
    let entry = this.files.get(file);
    if (entry) return entry;
    entry = { objects: new Map(), lines: new LineCounter() };
    this.files.set(file, entry);
    const text = this.texts.get(file);
    if (text === undefined) return entry;
    const { objects, lines } = entry;
    for (const doc of parseAllDocuments(text, { lineCounter: lines })) {
      const root = doc.contents;
      if (!root?.range) continue;
      objects.set(lines.linePos(root.range[0]).line, root);
      const items = isMap(root) ? root.get("items", true) : undefined;
      if (!isSeq(items)) continue;
      for (const item of items.items as (YamlNode | null)[]) {
        if (item?.range) objects.set(lines.linePos(item.range[0]).line, item);
      }
    }
    return entry;
  }

  /**
   * The line of `path` (as `spec.networks[1].id`, keys may contain dots) in the object that starts
   * at `line` of `file`; the deepest existing parent's line when the field itself is missing;
   * undefined when the path does not even start inside the object.
   */
  line(file: string, line: number, path: string): number | undefined {
    const { objects, lines } = this.parsed(file);
    const root = objects.get(line);
    if (!root || !path) return undefined;
    const lineOf = (offset: number) => lines.linePos(offset).line;
    let node: YamlNode | null = root;
    let rest = path;
    let found: number | undefined;
    while (rest && node) {
      if (rest.startsWith("[")) {
        const m = /^\[(\d+)\]\.?/.exec(rest);
        if (!m || !isSeq(node)) break;
        const item = node.items[Number(m[1])] as YamlNode | undefined;
        if (!item?.range) break;
        found = lineOf(item.range[0]);
        node = item;
        rest = rest.slice(m[0].length);
        continue;
      }
      if (!isMap(node)) break;
      let best: { key: string; keyOffset: number; value: YamlNode | null } | undefined;
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (key === undefined || !(rest === key || rest.startsWith(`${key}.`) || rest.startsWith(`${key}[`))) continue;
        if (best && best.key.length >= key.length) continue;
        best = { key, keyOffset: (pair.key as YamlNode).range?.[0] ?? 0, value: (pair.value as YamlNode | null) ?? null };
      }
      if (!best) break;
      found = lineOf(best.keyOffset);
      node = best.value;
      rest = rest.slice(best.key.length).replace(/^\./, "");
    }
    return found;
  }
}

/**
 * The field path a policy message starts with, as the policy authoring guide asks messages to
 * ("spec.cpu.cores is 249; …", "spec.settings.virtualMachineCIDRs: …"); undefined when it does not.
 */
export function leadingFieldPath(message: string): string | undefined {
  const m = /^((?:spec|metadata|status|data)(?:\.[A-Za-z0-9_$/-][\w$./-]*?|\[\d+\])+)(?=$|[\s:;,])/.exec(message);
  return m?.[1]?.replace(/\.$/, "");
}
