import { Histogram, type LabelValues, type MetricType, type Registry } from "prom-client";

interface Cell {
  readonly labels: Record<string, string>;
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

type Tree = Map<string, Tree | Cell>;

interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName: string;
}

/**
 * A prom-client Histogram whose observations cost a map lookup per label value and a scan of the
 * bounds. prom-client's own observe() validates and hashes the label object and turns the bucket
 * bound into a property name on every call: several microseconds on every POST /validate. The
 * exposition text is built when the registry is read, in the format prom-client writes.
 */
export class FastHistogram<T extends string> extends Histogram<T> {
  private readonly root: Tree = new Map();
  private readonly bounds: readonly number[];
  private readonly names: readonly T[];
  private readonly metric: string;
  private readonly helpText: string;

  constructor(config: { name: string; help: string; labelNames: readonly T[]; buckets: readonly number[]; registers: Registry[] }) {
    super({ ...config, labelNames: [...config.labelNames], buckets: [...config.buckets] });
    this.bounds = [...config.buckets].sort((a, b) => a - b);
    this.names = [...config.labelNames];
    this.metric = config.name;
    this.helpText = config.help;
    // prom-client assigns observe in its constructor; anything that still calls it lands here too.
    this.observe = ((labels: LabelValues<T> | number, value?: number) =>
      typeof labels === "number"
        ? this.observeValues([], labels)
        : this.observeValues(
            this.names.map((n) => String(labels[n] ?? "")),
            value as number,
          )) as Histogram<T>["observe"];
  }

  /** One observation; `values` are the label values in labelNames order. */
  observeValues(values: readonly string[], v: number): void {
    let node: Tree = this.root;
    let cell: Cell | undefined;
    for (let i = 0; i < values.length; i++) {
      const key = values[i] as string;
      const next = node.get(key);
      if (i === values.length - 1) {
        cell = next as Cell | undefined;
        if (!cell) node.set(key, (cell = this.newCell(values)));
      } else {
        if (!next) node.set(key, (node = new Map()));
        else node = next as Tree;
      }
    }
    if (!cell) {
      // No labels: one cell under the empty key.
      cell = this.root.get("") as Cell | undefined;
      if (!cell) this.root.set("", (cell = this.newCell([])));
    }
    let b = 0;
    while (b < this.bounds.length && v > (this.bounds[b] as number)) b++;
    cell.counts[b] = (cell.counts[b] as number) + 1;
    cell.sum += v;
    cell.count++;
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before this class's fields exist.
    (this.root as Tree | undefined)?.clear();
  }

  /** What prom-client's registry prints (it prefers this to get()). */
  getForPromString(): { name: string; help: string; type: "histogram"; values: ExportedValue[]; aggregator: "sum" } {
    const values: ExportedValue[] = [];
    const bucket = `${this.metric}_bucket`;
    for (const cell of this.cells()) {
      let acc = 0;
      for (let b = 0; b < this.bounds.length; b++) {
        acc += cell.counts[b] as number;
        values.push({ labels: { le: this.bounds[b] as number }, sharedLabels: cell.labels, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: "+Inf" }, sharedLabels: cell.labels, value: cell.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: cell.labels, value: cell.sum, metricName: `${this.metric}_sum` });
      values.push({ labels: {}, sharedLabels: cell.labels, value: cell.count, metricName: `${this.metric}_count` });
    }
    return { name: this.metric, help: this.helpText, type: "histogram", values, aggregator: "sum" };
  }

  override async get(): ReturnType<Histogram<T>["get"]> {
    const data = this.getForPromString();
    return {
      ...data,
      // prom-client's typings declare a numeric enum and a collect function here; at run time its
      // own get() returns the string type and no collect.
      type: data.type as unknown as MetricType,
      collect: () => undefined,
      values: data.values.map((v) => ({ labels: { ...v.sharedLabels, ...v.labels } as LabelValues<T>, value: v.value, metricName: v.metricName })),
    };
  }

  private newCell(values: readonly string[]): Cell {
    const labels: Record<string, string> = {};
    this.names.forEach((n, i) => {
      if (i < values.length) labels[n] = values[i] as string;
    });
    return { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
  }

  private *cells(): Generator<Cell> {
    const walk = function* (node: Tree, depth: number, leaf: number): Generator<Cell> {
      for (const v of node.values()) {
        if (depth === leaf) yield v as Cell;
        else yield* walk(v as Tree, depth + 1, leaf);
      }
    };
    yield* walk(this.root, 1, Math.max(1, this.names.length));
  }
}
