import { isObject } from "../engine/index.js";
import { readYaml } from "../yaml/read.js";

/** A List smaller than this is parsed whole: splitting pays only where a parse takes seconds. */
export const LIST_PIECE_BYTES = 1 << 20;

/** Where one item of a large `kind: List` lies in the file's text (see pieceText). */
export interface ListPiece {
  start: number;
  end: number;
  /** Columns before the item's `- `. */
  indent: number;
  /** Lines of the file before the piece: the item's line in the file is its line in the piece plus this. */
  lineOffset: number;
}

/** The item as text that parses on its own: `- ` becomes two spaces, leaving the item's mapping at the indentation its other keys have. */
export function pieceText(text: string, piece: ListPiece): string {
  return " ".repeat(piece.indent + 2) + text.slice(piece.start + piece.indent + 2, piece.end);
}

/** Leading spaces of the line starting at `at`. */
function indentAt(text: string, at: number): number {
  let i = at;
  while (text.charCodeAt(i) === 32) i++;
  return i - at;
}

/**
 * A large `kind: List` (what `kubectl get -o yaml` writes for a whole cluster) cut into its items,
 * each an indented mapping that parses on its own; or undefined when the text is not such a List
 * in a layout this can cut safely (one document, `items:` at column 0, every item starting with
 * `- ` at one indentation). Parsing items one by one keeps the parser's event list to one object's
 * size instead of the whole dump's (hundreds of MB for 50,000 VMs), and lets two threads share the
 * items of one file. A piece that does not parse to exactly one object means the cut was wrong:
 * the caller then parses the whole text, which stays the reference.
 */
export function listPieces(text: string, minBytes = LIST_PIECE_BYTES): ListPiece[] | undefined {
  if (typeof text !== "string" || text.length < minBytes || /^(---|\.\.\.)/m.test(text) || text.includes("\t")) return undefined;
  const items = /^items:[ ]*\r?\n/m.exec(text);
  if (!items || text.indexOf("\nitems:", items.index + 1) >= 0) return undefined;
  const pieces: ListPiece[] = [];
  let line = text.slice(0, items.index).split("\n").length + 1; // 1-based line of the line after `items:`
  let at = items.index + items[0].length;
  let indent = -1;
  let start = -1;
  let startLine = 0;
  const close = (end: number) => {
    if (start < 0) return;
    pieces.push({ start, end, indent, lineOffset: startLine - 1 });
    start = -1;
  };
  while (at < text.length) {
    const eol = text.indexOf("\n", at);
    const next = eol < 0 ? text.length : eol + 1;
    const spaces = indentAt(text, at);
    const c = text[at + spaces];
    const blank = c === "\n" || c === "\r" || c === undefined || c === "#";
    if (!blank) {
      if (indent < 0) {
        if (!text.startsWith("- ", at + spaces)) return undefined;
        indent = spaces;
      }
      if (spaces === indent && text.startsWith("- ", at + spaces)) {
        close(at);
        start = at;
        startLine = line;
      } else if (spaces <= indent) {
        break; // the List's next key (kind:, metadata:)
      }
    }
    at = next;
    line++;
  }
  close(at);
  if (pieces.length === 0) return undefined;
  // Everything but the items must make a List, or the items are not a List's.
  let frame: unknown;
  try {
    frame = readYaml(`${text.slice(0, items.index)}items: []\n${text.slice(at)}`);
  } catch {
    return undefined;
  }
  if (!isObject(frame) || typeof frame.kind !== "string" || !frame.kind.endsWith("List") || typeof frame.apiVersion !== "string") return undefined;
  return pieces;
}
