/**
 * Field lines of block-style YAML found by indentation alone, without parsing the file: the
 * common shape of Kubernetes manifests (`key: value`, nested by indentation, `- ` items). Anything
 * the scan is not sure of (flow collections, quoted or complex keys, anchors, aliases, tags, tabs)
 * answers UNSURE, and the caller parses the file instead. Where it answers, it answers exactly
 * what FieldLocator's parse-based walk does (test/check/block-lines.test.ts compares them).
 */
export const UNSURE = -1;

const PLAIN_KEY = /^([A-Za-z0-9_$./-][A-Za-z0-9_$./-]*):(?: +|$)/;

/** Line start offsets of a text, computed once per file. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

interface Lines {
  text: string;
  starts: number[];
}

function lineText(l: Lines, i: number): string {
  const end = i + 1 < l.starts.length ? (l.starts[i + 1] as number) - 1 : l.text.length;
  const s = l.text.slice(l.starts[i] as number, end);
  return s.endsWith("\r") ? s.slice(0, -1) : s;
}

function indentOf(s: string): number {
  let n = 0;
  while (s.charCodeAt(n) === 32) n++;
  return n;
}

/** Blank, comment-only or tab-indented (the last makes the scan unsure). */
function skippable(s: string, n: number): boolean {
  return n === s.length || s.charCodeAt(n) === 35; // '#'
}

/** The value text after a key (comments stripped), "" when the value is on the following lines. */
function inlineValue(rest: string): string {
  if (rest === "" || rest.startsWith("#")) return "";
  return rest;
}

/** Whether an inline value may hide structure the scan cannot follow. */
function structured(value: string): boolean {
  const c = value.charAt(0);
  return c === "{" || c === "[" || c === "&" || c === "*" || c === "!" || c === "|" || c === ">" || c === "?" || c === "%" || c === "@" || c === "`";
}

/** A mapping or a sequence whose entries sit at column `indent`, starting with line `first` (whose entry may start at `firstCol`). */
interface Block {
  first: number;
  firstCol: number;
  indent: number;
}

/**
 * The 0-based line of `path` within the block-style object whose first key is on 0-based line
 * `start`; the deepest existing parent's line when the field is missing; undefined when not even
 * the first segment exists; UNSURE when the text is not plain enough to answer from indentation.
 */
export function blockLine(l: Lines, start: number, path: string): number | typeof UNSURE | undefined {
  const head = lineText(l, start);
  if (head.charCodeAt(0) === 32 || head.startsWith("-") || !PLAIN_KEY.test(head)) return UNSURE;
  let block: Block = { first: start, firstCol: 0, indent: 0 };
  let kind: "map" | "seq" = "map";
  let rest = path;
  let found: number | undefined;
  while (rest) {
    if (rest.startsWith("[")) {
      const m = /^\[(\d+)\]\.?/.exec(rest);
      if (!m || kind !== "seq") return found;
      const item = seqItem(l, block, Number(m[1]));
      if (item === UNSURE) return UNSURE;
      if (item === undefined) return found;
      found = item.line;
      rest = rest.slice(m[0].length);
      if (!rest) return found;
      const next = itemValue(l, item.line, item.col, block.indent);
      if (next === UNSURE) return UNSURE;
      if (next === undefined) return found;
      ({ block, kind } = next);
      continue;
    }
    if (kind !== "map") return found;
    const entry = mapEntry(l, block, rest);
    if (entry === UNSURE) return UNSURE;
    if (entry === undefined) return found;
    found = entry.line;
    rest = rest.slice(entry.key.length).replace(/^\./, "");
    if (!rest) return found;
    const value = inlineValue(entry.value);
    if (value !== "") {
      if (structured(value)) return UNSURE;
      return found; // a scalar: the path goes no deeper
    }
    const next = childBlock(l, entry.line, block.indent);
    if (next === UNSURE) return UNSURE;
    if (next === undefined) return found;
    ({ block, kind } = next);
  }
  return found;
}

/** The lines of a block: from its first, while lines are blank, comments, or indented at least `indent`. */
function* blockLines(l: Lines, b: Block): Generator<{ i: number; s: string; col: number } | typeof UNSURE> {
  for (let i = b.first; i < l.starts.length; i++) {
    const s = lineText(l, i);
    if (i === b.first) {
      yield { i, s, col: b.firstCol };
      continue;
    }
    if (s.charCodeAt(0) === 9 || /^ *\t/.test(s)) return yield UNSURE;
    const n = indentOf(s);
    if (skippable(s, n)) continue;
    if (n === 0 && (s.startsWith("---") || s.startsWith("..."))) return;
    if (n < b.indent) return;
    yield { i, s, col: n };
  }
}

/** The entry of a mapping whose key is the longest (first, on ties) prefix of `rest` ending at a segment boundary. */
function mapEntry(l: Lines, b: Block, rest: string): { key: string; line: number; value: string } | typeof UNSURE | undefined {
  let best: { key: string; line: number; value: string } | undefined;
  for (const line of blockLines(l, b)) {
    if (line === UNSURE) return UNSURE;
    if (line.col !== b.indent) continue;
    const content = line.s.slice(line.col);
    if (content === "-" || content.startsWith("- ")) continue; // an item of a key's sequence at the key's indentation
    const m = PLAIN_KEY.exec(content);
    if (!m) return UNSURE; // a quoted or complex key
    const key = m[1] as string;
    if (!(rest === key || rest.startsWith(`${key}.`) || rest.startsWith(`${key}[`))) continue;
    if (!best || key.length > best.key.length) best = { key, line: line.i, value: content.slice(m[0].length) };
  }
  return best;
}

/** Item n of a sequence: its line and the column its content starts at. */
function seqItem(l: Lines, b: Block, n: number): { line: number; col: number } | typeof UNSURE | undefined {
  let index = 0;
  for (const line of blockLines(l, b)) {
    if (line === UNSURE) return UNSURE;
    if (line.col !== b.indent) continue;
    const content = line.s.slice(line.col);
    if (!(content === "-" || content.startsWith("- "))) return undefined; // the sequence ended (it sat at its key's indentation)
    if (index++ === n) return { line: line.i, col: line.col };
  }
  return undefined;
}

/** The block a sequence item holds (from its "- " line), when it is a mapping or a sequence. */
function itemValue(l: Lines, line: number, col: number, parentIndent: number): { block: Block; kind: "map" | "seq" } | typeof UNSURE | undefined {
  const s = lineText(l, line);
  const after = s.slice(col + 1);
  const pad = indentOf(after);
  const content = after.slice(pad);
  if (content === "" || content.startsWith("#")) return childBlock(l, line, parentIndent);
  if (content.startsWith("- ") || content === "-" || structured(content)) return UNSURE;
  if (PLAIN_KEY.test(content)) return { block: { first: line, firstCol: col + 1 + pad, indent: col + 1 + pad }, kind: "map" };
  return content.startsWith("'") || content.startsWith('"') ? UNSURE : undefined;
}

/** The block value of the key on line `keyLine` (of a mapping at `indent`): a mapping or a sequence, or undefined for an empty value. */
function childBlock(l: Lines, keyLine: number, indent: number): { block: Block; kind: "map" | "seq" } | typeof UNSURE | undefined {
  for (let i = keyLine + 1; i < l.starts.length; i++) {
    const s = lineText(l, i);
    if (/^ *\t/.test(s)) return UNSURE;
    const n = indentOf(s);
    if (skippable(s, n)) continue;
    const content = s.slice(n);
    const isItem = content === "-" || content.startsWith("- ");
    // Items of a sequence may sit at their key's own indentation; anything else must be deeper.
    if (n < indent || (n === indent && !isItem)) return undefined;
    if (isItem) return { block: { first: i, firstCol: n, indent: n }, kind: "seq" };
    if (!PLAIN_KEY.test(content)) return UNSURE;
    return { block: { first: i, firstCol: n, indent: n }, kind: "map" };
  }
  return undefined;
}
