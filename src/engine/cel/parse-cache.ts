/**
 * Parsed forms of canonical strings. Evaluations see the same handful of values (policy limits,
 * the object's own fields) again and again; the bound keeps a hostile stream of distinct values
 * from growing memory.
 */
export class ParseCache<T> {
  private readonly entries = new Map<string, T>();
  constructor(
    private readonly parse: (s: string) => T,
    private readonly limit = 4096,
  ) {}
  get(text: string): T {
    let v = this.entries.get(text);
    if (v === undefined) {
      v = this.parse(text);
      if (this.entries.size >= this.limit) this.entries.clear();
      this.entries.set(text, v);
    }
    return v;
  }
}

