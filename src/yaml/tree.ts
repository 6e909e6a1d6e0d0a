import { parseEvents, getScalarValue, type Event, type ScalarEvent } from "js-yaml";

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

  /** Throws js-yaml's YAMLException on invalid YAML (see read.ts for the error every caller gets). */
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

  isMapping(i: number): boolean {
    return this.events[i]?.type === MAPPING;
  }

  isSequence(i: number): boolean {
    return this.events[i]?.type === SEQUENCE;
  }

  /** Whether the node at i carries a tag or an anchor (`!!map`, `&a`). */
  isDecorated(i: number): boolean {
    const e = this.events[i];
    return (e?.type === MAPPING || e?.type === SEQUENCE || e?.type === SCALAR) && (e.tagStart >= 0 || e.anchorStart >= 0);
  }

  /**
   * The 1-based line of the node at `path` below the node at i (mapping keys and sequence
   * indexes), or undefined when the path is not there.
   */
  lineAt(i: number, path: readonly (string | number)[]): number | undefined {
    let node = i;
    let keyIndex = -1;
    for (const step of path) {
      keyIndex = -1;
      let next: number | undefined;
      if (typeof step === "number") {
        if (this.isSequence(node)) next = [...this.items(node)][step];
      } else if (this.isMapping(node)) {
        for (const entry of this.entries(node)) if (entry.key === step) ({ keyIndex, valueIndex: next } = entry);
      }
      if (next === undefined) return undefined;
      node = next;
    }
    const start = this.start(node) >= 0 ? this.start(node) : keyIndex >= 0 ? this.start(keyIndex) : -1;
    return start >= 0 ? this.line(start) : undefined;
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

/** 1-based line of an offset, by binary search over the line starts. */
export function lineCounter(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}
