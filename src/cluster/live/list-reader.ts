import type { JsonObject } from "../../engine/index.js";

const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const COMMA = 44;

/** A response that is not a JSON List. */
export class ListSyntaxError extends Error {}

/**
 * Reads a Kubernetes List response (`{"apiVersion":…,"items":[…],"kind":…,"metadata":{…}}`, keys in
 * any order) as it arrives: each element of the top-level `items` array is parsed on its own as soon
 * as its text is complete and handed to `onItem`; everything else is kept and parsed at `end()`
 * (with `items: []`). A list served from the API server's watch cache ignores `limit` and comes as
 * one response (65 MB for 50,000 VirtualMachines); read this way, the process holds one chunk and
 * one item's text at a time instead of the whole response, and its parsed form with everything the
 * cache then drops.
 */
export class ListReader {
  /** Nesting depth outside strings: 1 inside the top-level object, 2 inside its arrays' brackets. */
  private depth = 0;
  private inString = false;
  /** A backslash ended the last chunk inside a string: the first character of the next is escaped. */
  private escaped = false;
  /** Inside the top-level `items` array. */
  private inItems = false;
  private itemsDone = false;
  /** A depth-1 string just ended; its text, while it may still turn out to be the key "items". */
  private keyText: string | undefined;
  /** Where the depth-1 string being read started in this chunk (-1: not in one), and its text from earlier chunks. */
  private keyStart = -1;
  private keyHead = "";
  /** After `"items":`, until the value starts. */
  private itemsValueNext = false;
  /** The current item's text from earlier chunks. */
  private itemHead: string[] = [];
  private itemStart = -1;
  /** The top-level text outside the items array. */
  private readonly rest: string[] = [];
  private restStart = 0;
  items = 0;

  constructor(private readonly onItem: (item: JsonObject) => void) {}

  write(chunk: string): void {
    if (chunk === "") return;
    this.restStart = 0;
    const n = chunk.length;
    let i = 0;
    if (this.escaped) {
      this.escaped = false;
      i = 1;
    }
    while (i < n) {
      if (this.inString) {
        i = this.readString(chunk, i);
      } else {
        this.readStructure(chunk, i, chunk.charCodeAt(i));
        i++;
      }
    }
    this.carryOver(chunk);
  }

  /** Reads a string's text from `from` to its closing quote or the chunk's end; returns where reading goes on. */
  private readString(chunk: string, from: number): number {
    const n = chunk.length;
    let i = from;
    while (i < n) {
      const c = chunk.charCodeAt(i);
      if (c === BACKSLASH) {
        if (i + 1 >= n) this.escaped = true;
        i += 2;
        continue;
      }
      if (c === QUOTE) {
        this.inString = false;
        if (this.keyStart >= 0) this.keyText = this.keyHead + chunk.slice(this.keyStart, i);
        this.keyStart = -1;
        this.keyHead = "";
        return i + 1;
      }
      i++;
    }
    return i;
  }

  /** Takes the character `c` at `i`, outside strings: it may open a string, enter or leave the items array, or end an item. */
  private readStructure(chunk: string, i: number, c: number): void {
    switch (c) {
      case QUOTE:
        if (this.inItems && this.depth === 2) throw this.notAnObject(chunk, i);
        this.inString = true;
        this.itemsValueNext = false;
        // A string of the top-level object may be the key "items".
        this.keyStart = this.depth === 1 && !this.inItems ? i + 1 : -1;
        this.keyText = undefined;
        break;
      case COLON:
        if (this.depth === 1 && !this.inItems) this.itemsValueNext = this.keyText === "items" && !this.itemsDone;
        this.keyText = undefined;
        break;
      case OPEN_BRACKET:
      case OPEN_BRACE:
        if (this.depth === 1 && this.itemsValueNext && c === OPEN_BRACKET) {
          // The items array starts: the rest gets `[` now and `]` at its end, the items nothing.
          this.rest.push(chunk.slice(this.restStart, i + 1));
          this.inItems = true;
        } else if (this.inItems && this.depth === 2) {
          if (c !== OPEN_BRACE) throw this.notAnObject(chunk, i);
          this.itemStart = i;
        }
        this.itemsValueNext = false;
        this.depth++;
        break;
      case CLOSE_BRACKET:
      case CLOSE_BRACE:
        this.depth--;
        if (this.depth < 0) throw new ListSyntaxError("unbalanced brackets");
        if (this.inItems && this.depth === 2 && c === CLOSE_BRACE) this.emit(chunk, i + 1);
        else if (this.inItems && this.depth === 1) {
          this.inItems = false;
          this.itemsDone = true;
          this.restStart = i;
        }
        break;
      case COMMA:
        this.itemsValueNext = false;
        break;
      default:
        if (c > 32) {
          if (this.inItems && this.depth === 2) throw this.notAnObject(chunk, i);
          this.itemsValueNext = false;
        }
    }
  }

  /** Keeps what is unfinished at the chunk's end (the top-level text, an item, a key) to continue with the next chunk. */
  private carryOver(chunk: string): void {
    if (!this.inItems) this.rest.push(chunk.slice(this.restStart));
    if (this.itemStart >= 0) {
      this.itemHead.push(chunk.slice(this.itemStart));
      this.itemStart = 0;
    }
    if (this.keyStart >= 0) {
      this.keyHead += chunk.slice(this.keyStart);
      this.keyStart = 0;
    }
  }

  private notAnObject(chunk: string, at: number): ListSyntaxError {
    return new ListSyntaxError(`an element of items is not an object (at ${JSON.stringify(chunk.slice(at, at + 20))})`);
  }

  private emit(chunk: string, end: number): void {
    const text = this.itemHead.length > 0 ? this.itemHead.join("") + chunk.slice(0, end) : chunk.slice(this.itemStart, end);
    this.itemHead = [];
    this.itemStart = -1;
    let item: unknown;
    try {
      item = JSON.parse(text);
    } catch (err) {
      throw new ListSyntaxError(`item ${this.items + 1}: ${(err as Error).message}`);
    }
    this.items++;
    this.onItem(item as JsonObject);
  }

  /** The List without its items (`items: []`, or none when the response had no items array). */
  end(): JsonObject {
    if (this.inString || this.depth !== 0 || this.inItems) throw new ListSyntaxError("the response ended inside the list");
    const text = this.rest.join("");
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ListSyntaxError((err as Error).message);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new ListSyntaxError("the response is not a JSON object");
    return parsed as JsonObject;
  }
}
