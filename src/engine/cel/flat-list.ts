import { celFunc, CelScalar, listType, type CelFunc, type CelList, type CelValue } from "@bufbuild/cel";

/**
 * CEL's list `+`, flat. The interpreter builds a `filter` or `map` result as `accu + [x]` at every
 * step; the library's own `+` nests one lazy concatenation in the next, so reading a result of n
 * items walks n levels of generators (n² for a list, n³ for a filter reading another one:
 * 600 CIDRs took seconds in `c in variables.cidrs`).
 *
 * Here a list is a view of the first `length` items of a shared array. `a + b` appends to a's
 * array when a is its last view (the accumulator case, amortised O(|b|)) and copies otherwise,
 * so every view keeps the items it had: lists stay immutable.
 */
/** The brand @bufbuild/cel recognises its lists by (isCelList). */
const CEL_LIST: unique symbol = Symbol.for("@bufbuild/cel/list") as typeof CEL_LIST;

class FlatList {
  readonly [CEL_LIST] = {};

  constructor(
    private readonly items: CelValue[],
    readonly size: number,
  ) {}

  get(index: number): CelValue | undefined {
    return index >= 0 && index < this.size ? this.items[index] : undefined;
  }

  *values(): IterableIterator<CelValue> {
    for (let i = 0; i < this.size; i++) yield this.items[i] as CelValue;
  }

  [Symbol.iterator](): IterableIterator<CelValue> {
    return this.values();
  }

  static concat(a: CelList, b: CelList): CelList {
    let items: CelValue[];
    if (a instanceof FlatList && a.size === a.items.length) items = a.items;
    else items = [...a];
    for (const v of b) items.push(v);
    return new FlatList(items, items.length) as unknown as CelList;
  }
}

const LIST = listType(CelScalar.DYN);

/** Replaces the standard `list + list` (registered after it, same signature). */
export const flatListFunctions: readonly CelFunc[] = [celFunc("_+_", [LIST, LIST], LIST, (a, b) => FlatList.concat(a, b))];
