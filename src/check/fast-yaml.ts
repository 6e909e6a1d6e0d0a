import { constructFromEvents, CORE_SCHEMA, getScalarValue, parseEvents, type Event, type ScalarEvent } from "js-yaml";
import { lineCounter, notAnObject, parseObjects, type ParsedObject, type SkippedDocument } from "../cluster/files.js";
import { isObject, type JsonObject } from "../engine/index.js";

// js-yaml's event ids (EVENT_ID), inlined so that hot loops compare small integers.
const DOCUMENT = 1;
const SEQUENCE = 2;
const MAPPING = 3;
const SCALAR = 4;
const POP = 6;

/**
 * The event stream of a YAML text (js-yaml), with the navigation reports need: where each
 * document's root and each item of a `kind: List` starts, and where a field path lies.
 */
export class YamlTree {
  readonly events: Event[];
  readonly line: (offset: number) => number;

  /** Throws js-yaml's YAMLException on invalid YAML. */
  constructor(readonly text: string) {
    this.events = parseEvents(text, {});
    this.line = lineCounter(text);
  }

  /** The index just past the node at i (its whole subtree). */
  end(i: number): number {
    const type = this.events[i]?.type;
    if (type !== MAPPING && type !== SEQUENCE && type !== DOCUMENT) return i + 1;
    let depth = 0;
    for (let j = i; j < this.events.length; j++) {
      const t = (this.events[j] as Event).type;
      if (t === MAPPING || t === SEQUENCE || t === DOCUMENT) depth++;
      else if (t === POP && --depth === 0) return j + 1;
    }
    return this.events.length;
  }

  /** Where the node at i starts, or -1 (an empty scalar). */
  start(i: number): number {
    const e = this.events[i];
    if (!e) return -1;
    if (e.type === MAPPING || e.type === SEQUENCE) return e.start;
    if (e.type === SCALAR) return e.valueStart;
    return -1;
  }

  /** A mapping's entries: key text (scalar keys only) and the indexes of key and value. */
  *entries(i: number): Generator<{ key: string | undefined; keyIndex: number; valueIndex: number }> {
    let j = i + 1;
    while (j < this.events.length && (this.events[j] as Event).type !== POP) {
      const keyEvent = this.events[j] as Event;
      const key = keyEvent.type === SCALAR ? getScalarValue(this.text, keyEvent as ScalarEvent) : undefined;
      const valueIndex = this.end(j);
      yield { key, keyIndex: j, valueIndex };
      j = this.end(valueIndex);
    }
  }

  /** A sequence's item indexes. */
  *items(i: number): Generator<number> {
    let j = i + 1;
    while (j < this.events.length && (this.events[j] as Event).type !== POP) {
      yield j;
      j = this.end(j);
    }
  }

  /** Root node index of every document, in order (undefined for an empty document). */
  roots(): (number | undefined)[] {
    const out: (number | undefined)[] = [];
    for (let i = 0; i < this.events.length; i = this.end(i)) {
      if ((this.events[i] as Event).type !== DOCUMENT) break;
      const root = i + 1;
      out.push(this.start(root) >= 0 ? root : undefined);
    }
    return out;
  }

  /** The items of a mapping's `items` sequence (a List), or undefined. */
  listItems(i: number): number[] | undefined {
    if (this.events[i]?.type !== MAPPING) return undefined;
    for (const { key, valueIndex } of this.entries(i)) {
      if (key === "items" && this.events[valueIndex]?.type === SEQUENCE) return [...this.items(valueIndex)];
    }
    return undefined;
  }

  /** Every object node (document roots, and List items) by its first line. */
  objectsByLine(): Map<number, number> {
    const out = new Map<number, number>();
    for (const root of this.roots()) {
      if (root === undefined) continue;
      out.set(this.line(this.start(root)), root);
      for (const item of this.listItems(root) ?? []) if (this.start(item) >= 0) out.set(this.line(this.start(item)), item);
    }
    return out;
  }
}


/** The conditions parseObjects checks; a manifest failing them goes to parseObjects for its message. */
function wellFormed(o: unknown): o is JsonObject {
  return (
    isObject(o) &&
    typeof o.apiVersion === "string" &&
    o.apiVersion !== "" &&
    typeof o.kind === "string" &&
    o.kind !== "" &&
    (o.metadata === undefined || isObject(o.metadata))
  );
}

/**
 * The Kubernetes objects in a manifest file, exactly as `parseObjects` (cluster/files.ts) returns
 * them (same documents, Lists, values and first lines) but about ten times faster: js-yaml's event
 * parser with the YAML 1.2 core schema, the one the `yaml` package applies. Any text this path is
 * not sure of (invalid YAML, a document that is not a well-formed object, tags or anchors on a
 * root, more than 100 aliases) is handed to `parseObjects`, which gives the canonical result or
 * error message with its file:line.
 */
export function parseManifests(text: string, file: string, skipped?: SkippedDocument[]): ParsedObject[] {
  const fast = fastParse(text, file);
  if (!fast) return parseObjects(text, file, skipped);
  if (!skipped) return fast;
  // The fast path only returns well-formed objects; tool configurations among them are skipped too.
  return fast.filter((p) => {
    const reason = notAnObject(p.object);
    if (reason) skipped.push({ file: p.file, line: p.line, reason });
    return !reason;
  });
}

function fastParse(text: string, file: string): ParsedObject[] | undefined {
  let tree: YamlTree;
  let docs: unknown[];
  try {
    tree = new YamlTree(text);
    docs = constructFromEvents(tree.events, { source: text, schema: CORE_SCHEMA, maxAliases: 100 });
  } catch {
    return undefined;
  }
  const roots = tree.roots();
  if (roots.length !== docs.length) return undefined;
  const out: ParsedObject[] = [];
  for (const [d, value] of docs.entries()) {
    if (value === null || value === undefined) continue;
    const root = roots[d];
    if (root === undefined) return undefined;
    const event = tree.events[root] as Event;
    if ((event.type === MAPPING || event.type === SEQUENCE || event.type === SCALAR) && (event.tagStart >= 0 || event.anchorStart >= 0)) return undefined;
    if (!isObject(value)) return undefined;
    if (typeof value.kind === "string" && value.kind.endsWith("List") && Array.isArray(value.items)) {
      const items = tree.listItems(root);
      if (!items || items.length !== value.items.length) return undefined;
      for (const [j, item] of (value.items as unknown[]).entries()) {
        const start = tree.start(items[j] as number);
        if (!wellFormed(item) || start < 0) return undefined;
        out.push({ object: item, file, line: tree.line(start) });
      }
      continue;
    }
    if (!wellFormed(value)) return undefined;
    out.push({ object: value, file, line: tree.line(tree.start(root)) });
  }
  return out;
}
